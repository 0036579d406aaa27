"""Many nodes' answers grouped: a Report of one fan-out, identical answers on one line
(as `clubak -b` groups them, through ClusterShell's MsgTree), its lines, exit status and JSON.

Fleet report (`Report.as_dict()`, `Rollout.as_dict()`), also format 1:

    {"format": 1, "command": "status" | "sync" | "dry-run", "exit": 0 | 100 | 1,
     "nodes": {"node001": {"state", "summary", "exit", "answer", "stderr", "wave"?}},
     "groups": [{"nodes": "node[001-480]", "count": 480, "state", "summary"}],
     "waves": [{"name": "canary" | "wave 1" ..., "nodes", "count",            (rollout)
                "state": "done" | "stopped" | "not-reached"                   (sync)
                         | "planned" | "in-sync" | "would-refuse",            (dry-run)
                "failed": "node007", "sync": [groups], "check": [groups]}]}

Exit (a report's, and the command's): 1 when any node could not be asked or answered
wrongly (FAILED), else 100 when any differs (DIFFERS), else 0.

Pure logic: no dnf import. Python 3.6 (EL8).
"""
from ClusterShell.MsgTree import MsgTree
from ClusterShell.NodeSet import NodeSet, RESOLVER_NOGROUP

from .answers import DIFFERS, FAILED, FORMAT


class Report(object):
    """Per-node results of one fan-out, grouped by identical answer."""

    def __init__(self, command, results):
        self.command = command
        self.results = results          # {node: NodeResult}

    @property
    def nodes(self):
        return NodeSet.fromlist(self.results, resolver=RESOLVER_NOGROUP)

    def failed(self):
        return NodeSet.fromlist([n for n, r in self.results.items() if not r.ok],
                                resolver=RESOLVER_NOGROUP)

    def unanswered(self):
        """The nodes that could not be asked or answered with an error."""
        return NodeSet.fromlist([n for n, r in self.results.items() if r.state in FAILED],
                                resolver=RESOLVER_NOGROUP)

    def groups(self):
        """[(NodeSet, state, summary)] of identical answers, in node order (clubak -b)."""
        tree = MsgTree()
        for node, res in self.results.items():
            tree.add(node, res.state.encode("utf-8"))
            tree.add(node, res.summary.encode("utf-8"))
        order = dict((node, i) for i, node in enumerate(self.nodes))
        out = []
        for elem, keys in tree.walk():
            state, summary = [line.decode("utf-8") for line in elem.lines()]
            out.append((NodeSet.fromlist(keys, resolver=RESOLVER_NOGROUP), state, summary))
        return sorted(out, key=lambda g: order[next(iter(g[0]))])

    @property
    def exit_code(self):
        states = set(r.state for r in self.results.values())
        if states & set(FAILED):
            return 1
        return 100 if states & set(DIFFERS) else 0

    def lines(self, indent=""):
        return format_groups(self.groups(), indent)

    def groups_dict(self):
        return [{"nodes": str(ns), "count": len(ns), "state": state, "summary": summary}
                for ns, state, summary in self.groups()]

    def as_dict(self):
        return {"format": FORMAT, "command": self.command, "exit": self.exit_code,
                "nodes": dict((n, r.as_dict()) for n, r in self.results.items()),
                "groups": self.groups_dict()}


def format_groups(groups, indent=""):
    """`node[001-480] (480)  in sync, generation 12`, labels padded to one column."""
    labels = ["{} ({})".format(ns, len(ns)) for ns, _, _ in groups]
    width = max([len(l) for l in labels] or [0])
    return ["{}{:<{}}  {}".format(indent, label, width, summary)
            for label, (_, _, summary) in zip(labels, groups)]

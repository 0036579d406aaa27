"""The Plan of `dnf cluster-master services` (issue 26): every change on the head node and
on the nodes (Change: `file PATH: what`, `service UNIT: what`), grouped by identical
changes, as the command shows it (lines(), or as_dict() for --json).

Pure logic, Python 3.6 (EL8): no dnf import.
"""
from ClusterShell.NodeSet import RESOLVER_NOGROUP, NodeSet


class Change(object):
    """One change on the head node or on a node: `file PATH: what` or `service UNIT: what`."""
    __slots__ = ("kind", "name", "what")

    def __init__(self, kind, name, what):
        self.kind, self.name, self.what = kind, name, what

    def line(self):
        return "{} {}: {}".format(self.kind, self.name, self.what)

    def as_dict(self):
        return {"kind": self.kind, "name": self.name, "what": self.what}


class Plan(object):
    """What services would change. head: [Change] (with the bytes to write); nodes:
    {node: (role kind, [action word], [Change])}."""

    def __init__(self, controller):
        self.controller = controller
        self.head = []
        self.head_files = {}        # path -> (data, mode, owner, exclusive)
        self.head_units = []        # [(unit, [actions])]
        self.nodes = {}
        self.key = None
        self.dropin = None
        self.notes = []
        self.canaries = NodeSet()   # rotate: re-keyed first; must authenticate before the rest

    @property
    def empty(self):
        return not self.head and not any(changes for _, _, changes in self.nodes.values())

    def node_groups(self):
        """[(NodeSet, [Change], [action word])] of nodes with identical changes, in node order."""
        by = {}
        for node, (_, actions, changes) in self.nodes.items():
            if changes:
                key = (node in self.canaries, tuple(c.line() for c in changes), tuple(actions))
                by.setdefault(key, ([], changes, actions))[0].append(node)
        out = [(NodeSet.fromlist(nodes, resolver=RESOLVER_NOGROUP), changes, actions)
               for nodes, changes, actions in by.values()]
        order = dict((node, i) for i, node in enumerate(
            NodeSet.fromlist(list(self.nodes), resolver=RESOLVER_NOGROUP)))
        # the canaries' groups first (a rotation re-keys them first), then in node order
        return sorted(out, key=lambda g: (next(iter(g[0])) not in self.canaries, order[next(iter(g[0]))]))

    def lines(self):
        out = []
        if self.head:
            out.append("{} (head node):".format(self.controller))
            out.extend("  " + c.line() for c in self.head)
        for nodes, changes, _ in self.node_groups():
            canary = next(iter(nodes)) in self.canaries
            out.append("{} ({}){}:".format(nodes, len(nodes), ", canary: re-keyed first; the other nodes follow "
                                           "once its munge authenticates against the head node" if canary else ""))
            out.extend("  " + c.line() for c in changes)
        return out

    def as_dict(self):
        return {"format": 1, "controller": self.controller, "changes": not self.empty,
                "head": [c.as_dict() for c in self.head],
                "groups": [{"nodes": str(ns), "count": len(ns), "changes": [c.as_dict() for c in ch],
                            "canary": next(iter(ns)) in self.canaries}
                           for ns, ch, _ in self.node_groups()],
                "canary": str(self.canaries),
                "notes": list(self.notes)}

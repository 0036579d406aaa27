"""Staged rollouts: the waves (canaries first, then the other nodes a wave at a time),
the admin's view of them before anything is touched, the sync wave by wave (stopping at
a canary that fails or still drifts, or at a wave with too many failed nodes), and the
dry run (one fan-out, plans grouped). Its report is grouping.py's, with "waves".

Pure logic: no dnf import. Python 3.6 (EL8).
"""
from ClusterShell.NodeSet import NodeSet, NodeSetError, RESOLVER_NOGROUP
from ClusterShell.NodeUtils import GroupResolverError

from .. import progress
from ..errors import ClusterError
from .answers import FAILED, FORMAT
from .fanout import nodeset
from .gather import ask, node_commands
from .grouping import Report


class Wave(object):
    __slots__ = ("name", "nodes", "canary", "state", "sync", "check", "failed")

    def __init__(self, name, nodes, canary=False):
        self.name, self.nodes, self.canary = name, nodes, canary
        self.state, self.sync, self.check, self.failed = "not-reached", None, None, NodeSet()

    def as_dict(self):
        return {"name": self.name, "nodes": str(self.nodes), "count": len(self.nodes),
                "state": self.state, "failed": str(self.failed),
                "sync": self.sync.groups_dict() if self.sync else [],
                "check": self.check.groups_dict() if self.check else []}


def plan_waves(nodes, canary=None, wave_size=64, resolver=None, canary_group="canary"):
    """[Wave]: the canaries, then the other nodes in sorted order, wave_size at a time.
    canary: N (the first N nodes; 0 for none), a node set (`@racka`, `node[1-2]`;
    only its nodes in `nodes` count) or None: the `@canary` group's nodes among
    `nodes` when it has any, otherwise the first node."""
    nodes = nodeset(nodes, resolver)
    if int(wave_size) < 1:
        raise ClusterError("the wave size must be at least 1")
    ordered = list(nodes)
    if isinstance(canary, str) and canary.isdigit():
        canary = int(canary)
    if canary is None:
        try:
            found = NodeSet("@" + canary_group, resolver=resolver) & nodes
        except (NodeSetError, GroupResolverError):
            found = NodeSet()
        canaries = found or NodeSet(ordered[0])
    elif isinstance(canary, int):
        if canary < 0:
            raise ClusterError("--canary must be 0 or more")
        canaries = NodeSet.fromlist(ordered[:canary], resolver=RESOLVER_NOGROUP)
    else:
        canaries = nodeset(canary, resolver) & nodes
        if not canaries:
            raise ClusterError("no canary of '{}' is among the nodes".format(canary))
    rest = [n for n in ordered if n not in canaries]
    waves = [Wave("canary", canaries, True)] if canaries else []
    size = int(wave_size)
    for i in range(0, len(rest), size):
        waves.append(Wave("wave {}".format(i // size + 1),
                          NodeSet.fromlist(rest[i:i + size], resolver=RESOLVER_NOGROUP)))
    return waves


def plan_lines(waves, max_failures=0):
    """What a rollout will do, for the admin to confirm before any node is touched."""
    count = sum(len(w.nodes) for w in waves)
    out = ["Rollout to {} node{}, wave by wave; it stops at a canary that fails or still drifts after its "
           "sync, or at a wave with more than {} failed node{}:".format(
               count, "" if count == 1 else "s", max_failures, "" if max_failures == 1 else "s")]
    out += [l.rstrip() for l in wave_heads(waves)]
    return out


def wave_heads(waves, states=None):
    """`canary   node01 (1)       done`: each wave's name and nodes, padded to one column
    for all of them, then its state (states: the text after each, if any)."""
    labels = ["{} ({})".format(w.nodes, len(w.nodes)) for w in waves]
    name_width = max([8] + [len(w.name) for w in waves])
    width = max([len(l) for l in labels] or [0])
    return ["{:<{}} {:<{}}  {}".format(w.name, name_width, label, width, text)
            for w, label, text in zip(waves, labels, states or [""] * len(waves))]


#: how a wave's state reads in the text (the JSON keeps the words with hyphens)
STATE_WORDS = {"in-sync": "in sync", "would-refuse": "would refuse"}


def dry_run_state(report, nodes):
    """(state, nodes not asked) of a wave in a dry run, from its nodes' answers:
    "in-sync" when none has anything to do, "would-refuse" when a real sync of one
    would refuse, else "planned"."""
    results = [report.results[n] for n in nodes if n in report.results]
    failed = NodeSet.fromlist([r.node for r in results if r.state in FAILED], resolver=RESOLVER_NOGROUP)
    if any(r.state == "would-refuse" for r in results):
        return "would-refuse", failed
    answered = [r for r in results if r.state not in FAILED]
    if answered and all(r.state == "in-sync" for r in answered):
        return "in-sync", failed
    return "planned", failed


class Rollout(object):
    """The waves of one rollout (or dry run) and every node's last result."""

    def __init__(self, waves, dry_run, report=None):
        self.waves, self.dry_run, self.report = waves, dry_run, report

    def results(self):
        if self.report is not None:
            return dict(self.report.results)
        out = {}
        for wave in self.waves:
            for rep in (wave.sync, wave.check):
                if rep is not None:
                    for node, res in rep.results.items():
                        res.wave = wave.name
                        out[node] = res
        return out

    def failed(self):
        """The nodes that failed or could not be asked (the waves' lines show those not
        reached); in a dry run, those that could not be asked or answered with an error
        (a node with a plan, or whose real sync would refuse, answered)."""
        if self.dry_run:
            return self.report.unanswered()
        nodes = [n for n, r in self.results().items() if not r.ok]
        return NodeSet.fromlist(nodes, resolver=RESOLVER_NOGROUP) if nodes else NodeSet()

    def refusing(self):
        """A dry run's nodes whose real sync would refuse (the removal limit, the floor)."""
        if not self.dry_run:
            return NodeSet()
        return NodeSet.fromlist([n for n, r in self.report.results.items() if r.state == "would-refuse"],
                                resolver=RESOLVER_NOGROUP)

    @property
    def exit_code(self):
        if self.dry_run:
            return self.report.exit_code
        done = all(w.state == "done" for w in self.waves)
        return 0 if done and all(r.ok for r in self.results().values()) else 1

    def lines(self):
        out = []
        states = []
        for wave in self.waves:
            text = STATE_WORDS.get(wave.state, wave.state)
            if wave.state == "stopped":
                text += ": {} failed ({})".format(len(wave.failed), wave.failed)
            elif self.dry_run and wave.failed:
                text += ": {} could not be asked ({})".format(len(wave.failed), wave.failed)
            states.append(text)
        for wave, head in zip(self.waves, wave_heads(self.waves, states)):
            out.append(head)
            if wave.sync is not None:
                out.extend(wave.sync.lines("  "))
            if wave.check is not None:
                out.extend("  check " + l for l in wave.check.lines())
        if self.dry_run:
            out.append("dry run: nothing was changed; plans per group of identical plans:")
            out.extend(self.report.lines("  "))
        return out

    def as_dict(self):
        results = self.results()
        groups = Report("sync", results).groups_dict() if results else []
        return {"format": FORMAT, "command": "dry-run" if self.dry_run else "sync",
                "exit": self.exit_code, "nodes": dict((n, r.as_dict()) for n, r in results.items()),
                "groups": groups, "waves": [w.as_dict() for w in self.waves]}


def _answered(bar, text):
    """ask()'s `answered` for a wave: the wave's progress line, then how many of its nodes
    answered (`wave 2 of 8: wave 1, syncing node[003-066] (64 nodes): 12 answered`)."""
    def answered(done, total):
        if done:
            bar.show("wave {} of {}: {}: {} answered".format(bar.count, bar.total, text, done))
    return answered


def rollout(nodes, commands=None, canary=None, wave_size=None, max_failures=0, dry_run=False,
            fanout=64, canary_group="canary", resolver=None, **transport):
    """Staged sync: the canaries are synced, then asked for status (any failure, or one
    not in sync, stops the rollout); then each wave is synced, and the rollout stops
    after the first wave with more than max_failures failed nodes. Waves not reached
    are never touched. dry_run: the node-side dry run on every node instead, one
    fan-out, plans grouped; nothing changes. commands: node_commands(...)."""
    commands = commands or node_commands()
    waves = plan_waves(nodes, canary, wave_size or fanout, resolver, canary_group)
    transport = dict(transport, fanout=fanout, resolver=resolver)
    if dry_run:
        everyone = NodeSet.fromlist([n for w in waves for n in w.nodes], resolver=RESOLVER_NOGROUP)
        report = ask(everyone, commands["dry-run"], "dry-run", **transport)
        for wave in waves:
            wave.state, wave.failed = dry_run_state(report, wave.nodes)
        return Rollout(waves, True, report)
    with progress.Counter("wave", len(waves)) as bar:       # on a terminal only
        for wave in waves:
            text = "{}, syncing {} ({} node{})".format(wave.name, wave.nodes, len(wave.nodes),
                                                      "" if len(wave.nodes) == 1 else "s")
            bar.step(text)
            wave.sync = ask(wave.nodes, commands["sync"], "sync", answered=_answered(bar, text), **transport)
            failed = wave.sync.failed()
            if wave.canary and len(failed) < len(wave.nodes):
                text = "{}, checking {}".format(wave.name, wave.nodes - failed)
                bar.show("wave {} of {}: {}".format(bar.count, bar.total, text))
                wave.check = ask(wave.nodes - failed, commands["status"], "status", answered=_answered(bar, text),
                                 **transport)
                failed = failed | wave.check.failed()     # drift after a sync fails the canary
            wave.failed = failed
            if len(failed) > (0 if wave.canary else max_failures):
                wave.state = "stopped"
                break
            wave.state = "done"
    return Rollout(waves, False)

"""Asking the fleet: the node-side commands, and one fan-out of one of them read back
as a Report of the nodes' answers (fleet status is the node-side `status --json`
everywhere), with how many answered on a terminal's progress line meanwhile.

Pure logic: no dnf import. Python 3.6 (EL8).
"""
from .. import progress
from .answers import classify
from .fanout import run
from .grouping import Report


def node_commands(prefix="dnf-cluster -q node", allow_mass_removal=False, full=False):
    """The node-side commands, from the prefix that names `cluster-node` on a node.
    The default, dnf-cluster (python3-dnf-plugin-cluster, on every node: the sync
    timer's command), is the same on dnf 4 and dnf5 nodes and answers a no-op node
    before dnf or libdnf5 is imported; "dnf -q cluster-node" starts dnf first. For
    image roots through the exec worker: "dnf --installroot=/images/%h -q
    cluster-node". (dnf and dnf-cluster take their options anywhere on the line.)
    allow_mass_removal: the nodes' sync and dry run get --allow-mass-removal
    (max_remove does not stop them).
    full: every command gets --full (each node computes its answer in full, never from
    its no-op fast path)."""
    extra = " --allow-mass-removal" if allow_mass_removal else ""
    path = " --full" if full else ""
    return {"status": "{} status --json{}".format(prefix, path),
            "sync": "{} sync -y --json{}{}".format(prefix, extra, path),
            "dry-run": "{} sync --dry-run --json{}{}".format(prefix, extra, path)}


def ask(nodes, command, label, answered=None, **transport):
    """Run `command` on every node (see run() for the transport) and return a Report of
    their JSON answers. While the nodes are asked, a progress line on a terminal's
    stderr says how many answered (`status: 12 of 64 nodes answered`), unless
    `answered` (run()'s) shows it otherwise. Without a terminal nothing counts, not even a
    given `answered` (it shows progress): ClusterShell then has no event handler to call
    (with one, it inspects the handler's signature on every line a node prints: about
    20 us a line, 2,000 lines for 64 JSON answers)."""
    with progress.Line() as line:       # on a terminal only
        if not line.enabled:
            answered = None
        elif answered is None:
            def answered(done, total):
                line.show("{}: {} of {} node{} answered".format(label, done, total, "" if total == 1 else "s"))
        results, timed_out, timeout = run(nodes, command, answered=answered, **transport)
    return Report(label, dict((node, classify(node, rc, out, err, node in timed_out, timeout))
                              for node, (rc, out, err) in results.items()))


def status(nodes, command=None, **transport):
    """Fleet status: the node-side `status --json` everywhere. Report.lines() are the
    grouped lines, Report.exit_code 0/100/1. transport: fanout, timeout, worker,
    connect_timeout, resolver (see ask)."""
    return ask(nodes, command or node_commands()["status"], "status", **transport)

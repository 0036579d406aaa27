"""The whole cluster at a glance: fleet status and staged rollouts (issue 14).

The head node runs the node-side command (`dnf -q cluster-node status --json`, or
`sync`) on many nodes and reads back one JSON answer per node. The fan-out is
ClusterShell's, not a home-made ssh loop: it is the HPC fan-out library admins already
use for clush, shipped as python3-clustershell by EPEL, Fedora and Debian, and it
brings what we would otherwise rewrite: node sets with folding (`node[001-480]`), node
groups from the site's own /etc/clustershell/groups.conf and groups.d (`@compute`,
`@gpu!node007`), ssh with a fan-out width and connect/command timeouts, the `exec`
worker (`%h` in a local command, so image roots and tests can be addressed as nodes),
and MsgTree, which groups identical answers as `clubak -b` does.

Pure logic: no dnf import, so both `dnf cluster-master status|sync -w NODESET` and
`dnf-cluster master ...` can call it. Python 3.6 (EL8).

Node answer, schema format 1 (one JSON object on stdout, `status --json` and
`sync --json` alike; nothing else on stdout; exit 0 in sync or synced, 100 drift, 1 error):

    {"format": 1,                       required, an integer; other values are refused
     "command": "status" | "sync",
     "result": "in-sync" | "drift" | "synced" | "planned" | "error",    required
     "role": "compute", "arch": "x86_64", "channel": "stable",
     "generation": 11 | null,           profile generation this node last synced to
     "published_generation": 12 | null, profile generation the node sees published now
     "profile_origin": "site" | "default",  the site's profile, or the packager's default one
                                        (no site repository; its lines say so)
     "warnings": ["one line", ...],     optional
     "lock_digest": "sha256 hex",       (status, pinned roles) digest of the locked set as
                                        installed; in-sync nodes group by it
     "lock_packages": n, "admin_installed": [{"name", "evr"}],   (status, pinned roles)
     "packages": [{"name", "evr", "arch"}],  (status --packages) the role's set as installed:
                                        what publish --lock-from makes the role's lock
     "in_sync": true | false,
     "counts": {"missing": n, "wrong_version": n, "remove": n,          (status; "extra" = "remove")
                "install": n, "upgrade": n, "downgrade": n, "remove": n},  (sync)
     "drift": {"missing": [name], "remove": [name],                     (status; "extra": the same
               "wrong_version": [{"name", "installed", "locked"}],       list, "pinned" = "locked",
               "outdated": [{"name", "installed", "latest"}]},          for older readers; update: latest)
     "plan": {"install": [{"name", "evr"}], "remove": [name],           (sync)
              "upgrade": [{"name", "from", "to"}], "downgrade": [...],
              "kept": [{"name", "reason"}]},
     "refusal": "one line",             (sync --dry-run/--check) why a real sync would refuse
                                        this plan: the removal limit or the node floor
     "error": "one-line message"}       only with result "error" (and exit 1)

`drift` and `plan` lists are what the fleet view shows and groups by, so two nodes
share a line only when they differ from the profile in exactly the same way. Nodes in
sync say so only when their last sync was to the published generation ("in sync,
generation 12"); a node last synced at 11 whose role 12 did not change "matches
generation 12, synced to generation 11" (in_sync_words, the node's own words too).
Every line starts with the node's role, arch and channel, and nodes in sync end with the
lock digest of their locked set as installed.

Whatever a node does (prints no JSON, a JSON error, exits non-zero silently, ssh fails
with exit 255, or hangs past the command timeout) it gets a NodeResult; nothing a node
does raises here. ClusterError is raised only for the caller's own mistakes (an empty
or malformed node set, a bad command template).

Fleet report (`Report.as_dict()`, `Rollout.as_dict()`), also format 1:

    {"format": 1, "command": "status" | "sync" | "dry-run", "exit": 0 | 100 | 1,
     "nodes": {"node001": {"state", "summary", "exit", "answer", "stderr", "wave"?}},
     "groups": [{"nodes": "node[001-480]", "count": 480, "state", "summary"}],
     "waves": [{"name": "canary" | "wave 1" ..., "nodes", "count",            (rollout)
                "state": "done" | "stopped" | "not-reached"                   (sync)
                         | "planned" | "in-sync" | "would-refuse",            (dry-run)
                "failed": "node007", "sync": [groups], "check": [groups]}]}

Node states: in-sync, synced (fine); drift, planned, would-refuse (differs; the last: a
dry run or check whose real sync the node refuses, its answer's `refusal`); error,
unreachable, timeout, bad-answer (could not be asked or answered wrongly). Exit: 1 when
any node is in the last group, else 100 when any differs, else 0.
"""
import json
import re
from string import Template

from ClusterShell.MsgTree import MsgTree
from ClusterShell.NodeSet import (ILLEGAL_GROUP_CHARS, NodeSet, NodeSetError,
                                  RESOLVER_NOGROUP, std_group_resolver)
from ClusterShell.NodeUtils import GroupResolverConfig, GroupResolverError
from ClusterShell.Task import task_self
from ClusterShell.Worker.Exec import ExecWorker
from ClusterShell.Worker.Ssh import WorkerSsh

from .. import progress
from ..errors import ClusterError
from ..report import DEFAULT_ORIGIN, in_sync_words

FORMAT = 1
#: the nodes of the groups ClusterShell ships as an example (groups.d/local.cfg:
#: `compute: example[32-159]`): an unconfigured head node's @groups name these
EXAMPLE_NODE = re.compile(r"^example\d+$")
OK, DIFFERS = ("in-sync", "synced"), ("drift", "planned", "would-refuse")
FAILED = ("error", "unreachable", "timeout", "bad-answer")
ANSWERS = OK + ("drift", "planned", "error")
WORKERS = {"ssh": WorkerSsh, "exec": ExecWorker}
SSH_MESSAGES = (("timed out", "ssh: connect timeout"),
                ("Connection refused", "ssh: connection refused"),
                ("No route to host", "ssh: no route to host"),
                ("Could not resolve hostname", "ssh: unknown host"),
                ("Permission denied", "ssh: permission denied"),
                ("Host key verification failed", "ssh: host key verification failed"))


def node_commands(prefix="dnf -q cluster-node", allow_mass_removal=False, full=False):
    """The node-side commands, from the prefix that names `cluster-node` on a node:
    over ssh the default; on dnf5 hosts "dnf-cluster -q node"; for image roots through
    the exec worker "dnf --installroot=/images/%h -q cluster-node". (dnf and
    dnf-cluster take their options anywhere on the line.) allow_mass_removal: the
    nodes' sync and dry run get --allow-mass-removal (max_remove does not stop them).
    full: every command gets --full (each node computes its answer in full, never from
    its no-op fast path)."""
    extra = " --allow-mass-removal" if allow_mass_removal else ""
    path = " --full" if full else ""
    return {"status": "{} status --json{}".format(prefix, path),
            "sync": "{} sync -y --json{}{}".format(prefix, extra, path),
            "dry-run": "{} sync --dry-run --json{}{}".format(prefix, extra, path)}


#: clush.conf's [Main] keys for the ssh worker, which clush hands to its task as they are
SSH_KEYS = ("ssh_user", "ssh_path", "ssh_options")


def clush_defaults(path=None):
    """fanout, connect_timeout and command_timeout, and the ssh worker's ssh_user,
    ssh_path and ssh_options, from ClusterShell's own clush.conf ($CLUSTERSHELL_CFGDIR,
    else /etc/clustershell), as clush reads them."""
    import configparser
    import os
    path = path or os.path.join(os.environ.get("CLUSTERSHELL_CFGDIR", "/etc/clustershell"), "clush.conf")
    parser = configparser.RawConfigParser()
    out = {}
    try:
        parser.read(path)
        for key, kind in (("fanout", int), ("connect_timeout", float), ("command_timeout", float)):
            if parser.has_option("Main", key):
                out[key] = kind(parser.get("Main", key))
        ssh = dict((key, parser.get("Main", key)) for key in SSH_KEYS
                   if parser.has_option("Main", key) and parser.get("Main", key).strip())
        if ssh:
            out["ssh"] = ssh
    except (configparser.Error, ValueError) as err:
        raise ClusterError("cannot read ClusterShell's configuration: {}".format(" ".join(str(err).split())), path)
    return out


def group_resolver(groups_conf=None):
    """ClusterShell's group resolver: the standard one (/etc/clustershell/groups.conf
    and its groups.d, ~/.local/etc/clustershell, $CLUSTERSHELL_CFGDIR), or the one a
    given groups.conf describes (its `autodir: $CFGDIR/groups.d` is relative to it)."""
    if groups_conf is None:
        return std_group_resolver()
    try:
        with open(groups_conf):
            pass
    except (IOError, OSError) as err:
        raise ClusterError("cannot read the ClusterShell groups configuration (--groups-conf): {}".format(
            err.strerror), groups_conf)
    return GroupResolverConfig([groups_conf], ILLEGAL_GROUP_CHARS)


def nodeset(nodes, resolver=None):
    """A non-empty NodeSet from `node[001-512]`, `@compute`, `@gpu!node007`, ..."""
    try:
        found = NodeSet(nodes, resolver=resolver)
    except (NodeSetError, GroupResolverError) as err:
        raise ClusterError("bad node set '{}': {}".format(nodes, err))
    if not found:
        raise ClusterError("node set '{}' names no node (unknown group?)".format(nodes))
    if "@" in nodes and all(EXAMPLE_NODE.match(node) for node in found):
        raise ClusterError("node set '{}' comes from ClusterShell's shipped example groups ({}): define the "
                           "site's groups (/etc/clustershell/groups.d/local.cfg, see groups.conf(5)) or pass "
                           "--groups-conf FILE".format(nodes, found))
    return found


# --- one node's answer ---------------------------------------------------------------

class NodeResult(object):
    """What one node answered, or why it did not."""
    __slots__ = ("node", "state", "summary", "exit", "answer", "stderr", "wave")

    def __init__(self, node, state, summary, exit=None, answer=None, stderr=""):
        self.node, self.state, self.summary = node, state, summary
        self.exit, self.answer, self.stderr, self.wave = exit, answer, stderr, None

    @property
    def ok(self):
        return self.state in OK

    def as_dict(self):
        out = {"state": self.state, "summary": self.summary, "exit": self.exit,
               "answer": self.answer, "stderr": self.stderr}
        if self.wave is not None:
            out["wave"] = self.wave
        return out


def _clean(text, node=None, limit=200):
    """One printable line (remote text never drives the admin's terminal), with the
    node's own name as %h so that identical failures group."""
    text = " ".join(str(text).split())
    if node:
        text = text.replace(node, "%h")
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _json_answer(out):
    """The JSON object in stdout: all of it, or from the first line that opens one
    (a warning printed before it is tolerated)."""
    lines = out.splitlines()
    for start in range(len(lines)):
        if lines[start].lstrip().startswith("{"):
            try:
                data = json.loads("\n".join(lines[start:]))
            except ValueError:
                continue
            return data if isinstance(data, dict) else None
    return None


def _names(items):
    if not isinstance(items, list):
        raise TypeError("a list of names expected")
    return ", ".join(_clean(i, limit=100) for i in items)


DIGEST_RE = re.compile(r"\A[0-9a-f]{64}\Z")


def _lock_part(answer):
    """", lock digest DIGEST" (short) of an answer that carries the digest of its locked
    set as installed: nodes in sync group by it, so one line shows which run the exact
    same set (the node's own status says it with the same words)."""
    digest = answer.get("lock_digest")
    if digest is None:
        return ""
    if not isinstance(digest, str) or not DIGEST_RE.match(digest):
        raise ValueError("lock_digest is not a sha256 hex digest")      # a malformed answer
    return ", lock digest " + digest[:12]


def _role_part(answer):
    """"role compute on x86_64, channel stable: " (the node header's words) of an answer
    that names its role, so each group line says whose lock it is about."""
    role = answer.get("role")
    if role is None:
        return ""
    out = "role " + _clean(role, limit=60)
    if answer.get("arch") is not None:
        out += " on " + _clean(answer["arch"], limit=20)
    if answer.get("channel") is not None:
        out += ", channel " + _clean(answer["channel"], limit=20)
        if answer.get("channel_from") == "cluster.conf":   # a test node: it groups apart from the others
            out += " (cluster.conf)"
    return out + ": "


def refusal_reason(text):
    """The short reason of a node's `refusal` (its `role 'R': ` and its advice left
    out): "the sync would remove 30 packages, more than max_remove allows (3)"."""
    if not isinstance(text, str):
        raise TypeError("refusal is not a string")
    text = text.split(": ", 1)[1] if text.startswith("role '") and ": " in text else text
    return _clean(text.split("; ", 1)[0], limit=160)


def _describe(answer):
    """The summary line of a well-formed answer: the role, then what the node said."""
    result = answer["result"]
    gen = answer.get("published_generation", answer.get("generation"))
    default = answer.get("profile_origin") == "default"
    at = ", " + DEFAULT_ORIGIN if default else "" if gen is None else ", generation {}".format(int(gen))
    if result == "error":
        return "error: " + _clean(answer.get("error") or "no message")
    role = _role_part(answer)
    if result == "in-sync":
        return role + in_sync_words(gen, answer.get("generation", gen), default) + _lock_part(answer)
    parts = []
    if result == "drift" and "drift" in answer:
        drift = answer["drift"]
        if drift.get("missing"):
            parts.append("missing: " + _names(drift["missing"]))
        if drift.get("wrong_version"):
            parts.append("wrong version: " + ", ".join("{} {} (locked {})".format(
                _clean(i["name"]), _clean(i["installed"]), _clean(i["locked"] if "locked" in i else i["pinned"]))
                for i in drift["wrong_version"]))
        if drift.get("outdated"):
            parts.append("outdated: " + ", ".join("{} {} (latest {})".format(
                _clean(i["name"]), _clean(i["installed"]), _clean(i["latest"])) for i in drift["outdated"]))
        remove = drift["remove"] if "remove" in drift else drift.get("extra")
        if remove:
            parts.append("remove: " + _names(remove))
    else:
        plan = answer.get("plan") or {}
        if plan.get("install"):
            parts.append("install " + ", ".join(_clean(" ".join([i["name"], i.get("evr") or ""]))
                                                for i in plan["install"]))
        for label in ("upgrade", "downgrade"):
            if plan.get(label):
                parts.append(label + " " + ", ".join("{} {} -> {}".format(
                    _clean(i["name"]), _clean(i["from"]), _clean(i["to"])) for i in plan[label]))
        if plan.get("remove"):
            parts.append("remove " + _names(plan["remove"]))
        if plan.get("kept"):
            parts.append("keep " + ", ".join("{} ({})".format(_clean(i["name"]), _clean(i["reason"]))
                                             for i in plan["kept"]))
    if answer.get("refusal") is not None:
        parts.append("a real sync refuses: " + refusal_reason(answer["refusal"]))
    head = {"drift": "drift" + at, "synced": "synced" + at, "planned": "plan" + at}[result]
    if result == "drift" and parts:
        return role + (DEFAULT_ORIGIN + ": " if default else "") + "; ".join(parts)
    return role + head + (": " + "; ".join(parts) if parts else "")


def classify(node, rc, out, err, timed_out=False, timeout=None):
    """One node's NodeResult from its exit status, stdout and stderr (text)."""
    err_lines = [l for l in err.splitlines() if l.strip()]
    tail = "\n".join(err_lines[-20:])
    last = _clean(err_lines[-1], node) if err_lines else ""
    if timed_out:
        within = " within {:g} s".format(timeout) if timeout else ""
        return NodeResult(node, "timeout", "timeout: no answer" + within, None, None, tail)
    answer = _json_answer(out)
    if answer is None:
        if rc == 255:
            text = next((short for key, short in SSH_MESSAGES if key in last), last or "exit 255")
            return NodeResult(node, "unreachable", "unreachable: " + text, rc, None, tail)
        first = next((l for l in out.splitlines() if l.strip()), "")
        if first:
            why = "bad answer: no JSON (exit {}): {}".format(rc, _clean(first, node, 80))
            return NodeResult(node, "bad-answer", why, rc, None, tail)
        why = "error: exit {}, no answer{}".format(rc, ": " + last if last else "")
        return NodeResult(node, "error", why, rc, None, tail)
    if answer.get("format") != FORMAT or answer.get("result") not in ANSWERS:
        why = "bad answer: format {!r}, result {!r} (format {} expected)".format(
            answer.get("format"), answer.get("result"), FORMAT)
        return NodeResult(node, "bad-answer", _clean(why), rc, answer, tail)
    try:
        summary = _describe(answer)
    except (AttributeError, KeyError, TypeError, ValueError):
        return NodeResult(node, "bad-answer", "bad answer: malformed format 1 answer", rc, answer, tail)
    state = answer["result"]
    expected = {"drift": (100,), "error": (1,)}.get(state, (0,))
    if state != "error" and rc not in expected:
        return NodeResult(node, "error", "error: exit {} with answer '{}'".format(rc, summary), rc, answer, tail)
    if state in ("drift", "planned") and answer.get("refusal") is not None:
        state = "would-refuse"          # a dry run or check whose real sync the node refuses
    return NodeResult(node, state, summary, rc, answer, tail)


# --- many nodes ----------------------------------------------------------------------

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


def _check_template(command, worker):
    if worker not in WORKERS:
        raise ClusterError("unknown worker '{}' (ssh or exec)".format(worker))
    if worker == "exec":
        if "%h" not in command and "%{h}" not in command:
            raise ClusterError("the exec worker needs %h (the node) in its command: " + command)

        class _Pattern(Template):
            delimiter = "%"
        try:
            _Pattern(command).substitute(h="n", host="n", n=0, rank=0)
        except (KeyError, ValueError) as err:
            raise ClusterError("bad command template (write %% for %): {}: {}".format(command, err))


def run(nodes, command, fanout=64, timeout=None, worker="ssh", connect_timeout=None, resolver=None,
        stdin=None, ssh=None):
    """Run `command` on every node at once (at most `fanout` at a time); stdin: bytes
    every node reads on its standard input (a file copied over the fleet transport
    itself, never through a repository), else none. Returns ({node: (rc or None, stdout
    text, stderr text)}, the set of nodes that timed out, the timeout used). timeout:
    seconds each node may take (None: ClusterShell's command_timeout, 0 = unlimited);
    connect_timeout: ssh's (None: ClusterShell's, 10 s by default); ssh: clush.conf's
    ssh_user, ssh_path, ssh_options (clush_defaults), set on the task as clush sets them."""
    nodes = nodeset(nodes, resolver)
    _check_template(command, worker)
    task = task_self()
    if timeout is None:
        timeout = task.info("command_timeout", 0)
    timeout = timeout or None
    ssh = dict((k, v) for k, v in (ssh or {}).items() if k in SSH_KEYS)
    saved = dict((k, task.info(k)) for k in ("fanout", "connect_timeout") + tuple(ssh))
    task.set_info("fanout", int(fanout))
    if connect_timeout is not None:
        task.set_info("connect_timeout", connect_timeout)
    for key, value in ssh.items():
        task.set_info(key, value)
    try:
        work = WORKERS[worker](nodes, handler=None, timeout=timeout, command=command, stderr=True)
        if stdin:
            work.write(stdin)
        work.set_write_eof()            # no (more) stdin: ssh must not wait for one
        task.schedule(work)
        try:
            task.resume()
        except OSError as err:          # e.g. no ssh binary: no node could be asked
            raise ClusterError("cannot run {}: {}".format(worker, err))
        timed_out = set(work.iter_keys_timeout())
        results = {}
        for node in nodes:
            try:
                rc = work.node_retcode(node)
            except KeyError:
                rc = None
            out, err = [(data or b"").decode("utf-8", "replace")
                        for data in (work.node_buffer(node), work.node_error(node))]
            results[node] = (rc, out, err)
        return results, timed_out, timeout
    finally:
        for key, value in saved.items():
            task.set_info(key, value)


def ask(nodes, command, label, **transport):
    """Run `command` on every node (see run() for the transport) and return a Report of
    their JSON answers."""
    results, timed_out, timeout = run(nodes, command, **transport)
    return Report(label, dict((node, classify(node, rc, out, err, node in timed_out, timeout))
                              for node, (rc, out, err) in results.items()))


def status(nodes, command=None, **transport):
    """Fleet status: the node-side `status --json` everywhere. Report.lines() are the
    grouped lines, Report.exit_code 0/100/1. transport: fanout, timeout, worker,
    connect_timeout, resolver (see ask)."""
    return ask(nodes, command or node_commands()["status"], "status", **transport)


# --- rollout -------------------------------------------------------------------------

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
            bar.step("{}, syncing {} ({} node{})".format(wave.name, wave.nodes, len(wave.nodes),
                                                        "" if len(wave.nodes) == 1 else "s"))
            wave.sync = ask(wave.nodes, commands["sync"], "sync", **transport)
            failed = wave.sync.failed()
            if wave.canary and len(failed) < len(wave.nodes):
                bar.show("wave {} of {}: {}, checking {}".format(bar.count, bar.total, wave.name,
                                                                  wave.nodes - failed))
                wave.check = ask(wave.nodes - failed, commands["status"], "status", **transport)
                failed = failed | wave.check.failed()     # drift after a sync fails the canary
            wave.failed = failed
            if len(failed) > (0 if wave.canary else max_failures):
                wave.state = "stopped"
                break
            wave.state = "done"
    return Rollout(waves, False)

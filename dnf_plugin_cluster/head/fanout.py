"""The fleet's transport: ClusterShell's fan-out, one command on many nodes at once.

The fan-out is ClusterShell's, not a home-made ssh loop: it is the HPC fan-out library
admins already use for clush, shipped as python3-clustershell by EPEL, Fedora and
Debian, and it brings what we would otherwise rewrite: node sets with folding
(`node[001-480]`), node groups from the site's own /etc/clustershell/groups.conf and
groups.d (`@compute`, `@gpu!node007`), ssh with a fan-out width and connect/command
timeouts (clush.conf's defaults), and the `exec` worker (`%h` in a local command, so
image roots and tests can be addressed as nodes).

Nothing a node does raises here (run() returns every node's exit status and output, and
which nodes timed out); ClusterError is raised only for the caller's own mistakes (an
empty or malformed node set, a bad command template, no ssh to run).

Pure logic: no dnf import. Python 3.6 (EL8).
"""
import re
from string import Template

from ClusterShell.Event import EventHandler
from ClusterShell.NodeSet import ILLEGAL_GROUP_CHARS, NodeSet, NodeSetError, std_group_resolver
from ClusterShell.NodeUtils import GroupResolverConfig, GroupResolverError
from ClusterShell.Task import task_self
from ClusterShell.Worker.Exec import ExecWorker
from ClusterShell.Worker.Ssh import WorkerSsh

from ..errors import ClusterError

#: the nodes of the groups ClusterShell ships as an example (groups.d/local.cfg:
#: `compute: example[32-159]`): an unconfigured head node's @groups name these
EXAMPLE_NODE = re.compile(r"^example\d+$")
WORKERS = {"ssh": WorkerSsh, "exec": ExecWorker}


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


class _Ended(EventHandler):
    """Counts the nodes whose command ended, for run()'s `answered`."""

    def __init__(self, answered, total):
        EventHandler.__init__(self)
        self.answered, self.total, self.done = answered, total, 0

    def ev_hup(self, worker, node=None, rc=None):
        self.done += 1
        self.answered(self.done, self.total)


def run(nodes, command, fanout=64, timeout=None, worker="ssh", connect_timeout=None, resolver=None,
        stdin=None, ssh=None, answered=None):
    """Run `command` on every node at once (at most `fanout` at a time); stdin: bytes
    every node reads on its standard input (a file copied over the fleet transport
    itself, never through a repository), else none. Returns ({node: (rc or None, stdout
    text, stderr text)}, the set of nodes that timed out, the timeout used). timeout:
    seconds each node may take (None: ClusterShell's command_timeout, 0 = unlimited);
    connect_timeout: ssh's (None: ClusterShell's, 10 s by default); ssh: clush.conf's
    ssh_user, ssh_path, ssh_options (clush_defaults), set on the task as clush sets them.
    answered: called as answered(done, total) before the first node is asked (done 0)
    and each time a node's command ends (a progress line; a node that times out never
    ends)."""
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
        handler = _Ended(answered, len(nodes)) if answered is not None else None
        work = WORKERS[worker](nodes, handler=handler, timeout=timeout, command=command, stderr=True)
        if stdin:
            work.write(stdin)
        work.set_write_eof()            # no (more) stdin: ssh must not wait for one
        task.schedule(work)
        if answered is not None:
            answered(0, len(nodes))
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

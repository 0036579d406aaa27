"""A Slurm cluster on this one machine, for the services tests (issue 26): a head node
and compute nodes, each a set of Linux namespaces of its own (network, host name,
mounts), running Debian's real munged, slurmctld and slurmd.

- Each node is a `sleep` holding `unshare --net --uts --mount`: its own host name, its
  own /etc/munge, /etc/slurm, /etc/systemd/system, /var/{lib,log}/{munge,slurm}, /var/spool,
  /tmp (PMIx wants its own per node) and /run, bound from <top>/<node>/ inside its
  mount namespace only, and /etc/hosts naming every node.
- The network: a bridge in a namespace of its own ("switch"), one veth pair per node
  made inside it with the node's end moved into the node; addresses from the
  documentation range 198.51.100.0/24, no default route: nothing leaves the machine.
- Commands enter a node with `nsenter -t PID --net --uts --mount` (not `ip netns exec`,
  which remounts /sys, and slurmd then fails on cgroups). <top>/node-shell NODE CMD...
  is the fleet's exec-worker prefix (`--node-shell '<top>/node-shell %h'`).
- There is no systemd in the namespaces: <top>/bin/systemctl (first in PATH there)
  stands in for it for munge, slurmctld and slurmd: it starts the daemons as their
  units would (munged as user munge; slurmd from the drop-in's ExecStart= when there is
  one), with state under /run/fake-systemd and logs under /var/spool/fake-systemd.

- cluster() makes the usual world (head, node1, node2, @compute, slurm-site.conf), for
  tests/test_services.py and `make demo`, which bring it up with running() (a context
  manager: the world ended and its directory removed on leaving); start_sshd() runs an sshd in nodes on their
  addresses (a host key each, root by the world's key only) and writes the clush.conf
  (CLUSTERSHELL_CFGDIR) whose ssh_options use that key with StrictHostKeyChecking=yes.

Everything started is ended by close(): the daemons by the pids the stand-in recorded,
then every process still in a node's network namespace, then the holders (the mounts
go with their namespaces). usable() says why this machine cannot, when it cannot.
"""
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

NET = "198.51.100."
SWITCH = "switch"
#: bound over directories the packages made on the host (a mount point must exist)
PRIVATE = ("etc/munge", "etc/slurm", "etc/systemd/system", "var/lib/munge", "var/log/munge",
           "var/lib/slurm", "var/log/slurm", "var/spool", "tmp")
OWNERS = {"etc/munge": "munge", "var/lib/munge": "munge", "var/log/munge": "munge",
          "var/lib/slurm": "slurm", "var/log/slurm": "slurm"}
#: the admin's own slurm.conf lines (slurm-site.conf) the world needs
SITE_LINES = """# the admin's own lines: the test world has no cgroups and no systemd
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerParameters=batch_sched_delay=0
"""
#: the admin's own cgroup.conf beside it, where slurmd takes it (Slurm >= 24.05: see
#: cgroup_conf()); configless slurmd fetches it from the head node with slurm.conf
CGROUP_LINES = """# the admin's own cgroup.conf: the test world's nodes use no cgroups (linuxproc, no task
# plugin), so slurmd leaves the machine's alone, whatever hierarchy it has
CgroupPlugin=disabled
"""
#: the first Slurm whose cgroup.conf takes CgroupPlugin=disabled (22.05 fails on it: no
#: such plugin); from 23.02 on, slurmd initialises its cgroup plugin whatever the proctrack
CGROUP_DISABLED_SINCE = (24, 5)
#: a two-rank MPI job: each rank's host and an allreduce across them
MPI_HELLO = r"""
#include <mpi.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int rank, size, mine, sum = 0;
    char host[256];
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    gethostname(host, sizeof host);
    mine = rank + 1;
    MPI_Allreduce(&mine, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("rank %d of %d on %s: allreduce sum %d\n", rank, size, host, sum);
    MPI_Finalize();
    return 0;
}
"""
#: srun's environment for MPI_HELLO in the world: Open MPI over TCP on the nodes' eth0
MPI_ENV = ("OMPI_MCA_btl=self,tcp", "OMPI_MCA_btl_tcp_if_include=eth0", "PMIX_MCA_gds=hash")
TOOLS = ("unshare", "nsenter", "ip", "setpriv", "munged", "munge", "unmunge", "slurmctld", "slurmd",
         "srun", "sinfo", "scontrol", "mpicc")

SYSTEMCTL = r"""#!/bin/sh
# systemctl stand-in for the test world's nodes (no systemd in the namespaces): munge,
# slurmctld and slurmd, started as their units start them.
state=/run/fake-systemd; logs=/var/spool/fake-systemd
mkdir -p $state $logs
case $1 in -q|--quiet) shift ;; esac
verb=$1; unit=${2%.service}
pidof_unit() {
  [ -f $state/$unit.pid ] || return 1
  pid=$(cat $state/$unit.pid); kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}
start() {
  pidof_unit >/dev/null && return 0
  case $unit in
    munge)
      mkdir -p /run/munge; chown munge:munge /run/munge; chmod 0755 /run/munge
      setpriv --reuid=munge --regid=munge --clear-groups /usr/sbin/munged >>$logs/munge.log 2>&1 || return 1
      cp /run/munge/munged.pid $state/munge.pid ;;
    slurmctld)
      setsid /usr/sbin/slurmctld -D -s >>$logs/slurmctld.log 2>&1 < /dev/null &
      echo $! > $state/slurmctld.pid ;;
    slurmd)
      cmd="/usr/sbin/slurmd -D -s"
      dropin=$(ls /etc/systemd/system/slurmd.service.d/*.conf 2>/dev/null | tail -n1)
      if [ -n "$dropin" ]; then
        line=$(grep '^ExecStart=.' "$dropin" | tail -n1)
        [ -n "$line" ] && cmd=${line#ExecStart=}
      fi
      cmd=$(echo "$cmd" | sed 's/\$SLURMD_OPTIONS//')
      echo "$cmd" > $state/slurmd.cmd
      setsid $cmd >>$logs/slurmd.log 2>&1 < /dev/null &
      echo $! > $state/slurmd.pid ;;
    *) echo "Unit $unit.service not found." >&2; return 5 ;;
  esac
}
stop() {
  pid=$(pidof_unit) || return 0
  kill "$pid"
  n=0; while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.05; n=$((n+1)); done
  kill -9 "$pid" 2>/dev/null
  rm -f $state/$unit.pid
}
case $verb in
  is-active) if pidof_unit >/dev/null; then echo active; else echo inactive; exit 3; fi ;;
  is-enabled) if [ -f $state/$unit.enabled ]; then echo enabled; else echo disabled; exit 1; fi ;;
  enable) touch $state/$unit.enabled ;;
  disable) rm -f $state/$unit.enabled ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  daemon-reload) : ;;
  *) echo "systemctl stand-in: $verb is not known here" >&2; exit 1 ;;
esac
"""

NODE_SHELL = r"""#!/bin/sh
# node-shell NODE COMMAND...: run COMMAND in the test world's node NODE
node=$1; shift
pid=$(cat "{top}/pids/$node" 2>/dev/null) || {{ echo "no node $node" >&2; exit 255; }}
# --root --wd: the node's own root and directory (inside a chroot, the chroot; entering
# the mount namespace alone would put the command at the namespace's real /)
exec nsenter -t "$pid" --net --uts --mount --root --wd -- env PATH={top}/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
"""

SETUP = r"""
set -e
hostname "$1"
top=$2; shift 2
for dir in "$@"; do mount --bind "$top/$dir" "/$dir"; done
mount -t tmpfs -o mode=0755 tmpfs /run
mount --bind "$HOSTS" /etc/hosts
ip link set lo up
echo ready > "$top/ready"
exec sleep 100000
"""


def write_groups(world, name, text):
    """A ClusterShell groups.conf at <top>/NAME.conf whose default source is the YAML
    `text` (groups.d of its own); returns its path."""
    groups_d = os.path.join(world.top, name + ".d")
    os.makedirs(groups_d, exist_ok=True)
    with open(os.path.join(groups_d, "cluster.yaml"), "w") as handle:
        handle.write(text)
    path = os.path.join(world.top, name + ".conf")
    with open(path, "w") as handle:
        handle.write("[Main]\ndefault: cluster\nautodir: $CFGDIR/{}.d\n".format(name))
    return path


def slurm_version():
    """The installed Slurm's (major, minor) from `slurmd -V` ("slurm-wlm 24.11.5"), or
    None when it says no version."""
    try:
        out = subprocess.run(["slurmd", "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True).stdout
    except OSError:
        return None
    match = re.search(r"\b([0-9]+)\.([0-9]+)\.[0-9]+", out)
    return (int(match.group(1)), int(match.group(2))) if match else None


def cgroup_conf(version):
    """The head node's cgroup.conf for Slurm `version` ((major, minor)), or None for none:
    CgroupPlugin=disabled where that Slurm takes it. Older ones (Debian 12's 22.05)
    autodetect the machine's cgroups and, with linuxproc and no task plugin, only look."""
    if version is not None and version >= CGROUP_DISABLED_SINCE:
        return CGROUP_LINES
    return None


def cluster(top, computes=("node1", "node2")):
    """A World at `top` with a node "head" and the compute nodes `computes`, the
    ClusterShell groups @master and @compute (world.groups_conf) and the head node's
    slurm-site.conf (SITE_LINES) and, by the Slurm installed, cgroup.conf
    (cgroup_conf()). Nothing runs there yet but the namespaces."""
    world = World(top)
    try:
        for name in ("head",) + tuple(computes):
            world.add(name)
        from ClusterShell.NodeSet import NodeSet
        world.groups_conf = write_groups(world, "groups", "cluster:\n  master: head\n  compute: '{}'\n".format(
            NodeSet.fromlist(computes)))
        with open(world.path("head", "/etc/slurm/slurm-site.conf"), "w") as handle:
            handle.write(SITE_LINES)
        cgroups = cgroup_conf(slurm_version())
        if cgroups is not None:
            with open(world.path("head", "/etc/slurm/cgroup.conf"), "w") as handle:
                handle.write(cgroups)
    except BaseException:
        world.close()
        raise
    return world


@contextlib.contextmanager
def running(top=None, prefix="slurmworld-", computes=("node1", "node2")):
    """cluster() in `top` (default: a new directory under /var/tmp, not under /tmp: every
    node has a /tmp of its own, which would hide the world's files); on leaving, also
    after a failure, the world is ended (World.close) and `top` removed with the munge
    keys in it."""
    if top is None:
        top = tempfile.mkdtemp(prefix=prefix, dir="/var/tmp")
    world = None
    try:
        world = cluster(top, computes)
        yield world
    finally:
        if world is not None:
            world.close()
        shutil.rmtree(top, ignore_errors=True)


def services_argv(world, roles, *args):
    """`dnf-cluster master services` as the admin runs it on the head node, reaching the
    nodes through the exec worker and <top>/node-shell."""
    from .dnfroot import DNF_CLUSTER
    return list(DNF_CLUSTER) + [
        "--backend", "dnf4", "-q", "--releasever=9", "master", "services", "--roles", roles, "--groups-conf",
        world.groups_conf, "--worker", "exec", "--node-shell", world.node_shell + " %h"] + list(args)


def wait_idle(world, nodes, limit=60):
    """sinfo's node states, once every node in `nodes` is idle (bounded wait)."""
    deadline = time.monotonic() + limit
    states = {}
    while time.monotonic() < deadline:
        out = world.enter("head", "sinfo", "-h", "-N", "-o", "%N %t", check=False).stdout
        states = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
        if all(states.get(n) == "idle" for n in nodes):
            return states
        time.sleep(0.2)
    raise AssertionError("nodes not idle: {}\nslurmctld: {}\n{}: {}".format(
        states, world.log("head", "slurmctld")[-2000:], nodes[0], world.log(nodes[0], "slurmd")[-2000:]))


SSHD_CONFIG = """# sshd of the test world's node {node}: its address only, root by key only
ListenAddress {address}
HostKey {host_key}
PidFile /run/sshd-world.pid
AuthorizedKeysFile {authorized}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# the world's files are under /var/tmp (mode 1777), which StrictModes refuses for keys
StrictModes no
# the node's commands (the systemctl stand-in) first, as node-shell has them
SetEnv PATH={top}/bin:/usr/sbin:/usr/bin:/sbin:/bin
"""


def ssh_usable():
    """None when the world's nodes can run sshd (openssh-server), else why not."""
    missing = [t for t in ("/usr/sbin/sshd", "ssh", "ssh-keygen") if shutil.which(t) is None]
    if missing:
        return "services over ssh needs {} (Debian: openssh-server, openssh-client)".format(", ".join(missing))
    return None


def start_sshd(world, nodes):
    """An sshd in each of `nodes` on its address, with a host key of its own, letting in
    root with the world's key only; returns the clush.conf directory (for
    CLUSTERSHELL_CFGDIR) whose ssh_options use that key and the nodes' host keys
    (StrictHostKeyChecking=yes: an unknown host is refused)."""
    ssh = os.path.join(world.top, "ssh")
    os.makedirs(ssh, mode=0o700, exist_ok=True)
    identity = os.path.join(ssh, "id_ed25519")
    if not os.path.exists(identity):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "slurmworld", "-f", identity],
                       check=True)
        shutil.copy(identity + ".pub", os.path.join(ssh, "authorized_keys"))
    known = []
    for node in nodes:
        host_key = os.path.join(ssh, node + "_host_ed25519_key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", node, "-f", host_key], check=True)
        with open(host_key + ".pub") as handle:
            known.append("{},{} {}".format(node, world.addresses[node], " ".join(handle.read().split()[:2])))
        config = os.path.join(ssh, node + "_sshd_config")
        with open(config, "w") as handle:
            handle.write(SSHD_CONFIG.format(node=node, address=world.addresses[node], host_key=host_key,
                                            authorized=os.path.join(ssh, "authorized_keys"), top=world.top))
        world.enter(node, "mkdir", "-p", "-m", "0755", "/run/sshd")
        world.enter(node, "/usr/sbin/sshd", "-f", config, "-E", os.path.join(ssh, node + "_sshd.log"))
    with open(os.path.join(ssh, "known_hosts"), "a") as handle:
        handle.write("\n".join(known) + "\n")
    cfgdir = os.path.join(world.top, "clustershell")
    os.makedirs(cfgdir, exist_ok=True)
    with open(os.path.join(cfgdir, "clush.conf"), "w") as handle:
        handle.write("[Main]\nfanout: 64\nconnect_timeout: 10\nssh_options: -F /dev/null -oBatchMode=yes "
                     "-oIdentitiesOnly=yes -oIdentityFile={id} -oStrictHostKeyChecking=yes "
                     "-oUserKnownHostsFile={known} -oGlobalKnownHostsFile=/dev/null\n".format(
                         id=identity, known=os.path.join(ssh, "known_hosts")))
    return cfgdir


def usable():
    """None when this machine can hold the world, else why not (one line)."""
    if os.geteuid() != 0:
        return "the Slurm test world needs root (namespaces, mounts)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return ("the Slurm test world needs {} (Debian: munge slurmctld slurmd slurm-client openmpi-bin "
                "libopenmpi-dev)".format(", ".join(missing)))
    probe = subprocess.run(["unshare", "--net", "--uts", "--mount", "--propagation", "private", "sh", "-c",
                            "hostname probe && ip link add probe0 type bridge && mount -t tmpfs t /mnt"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if probe.returncode != 0:
        return "this machine does not allow network namespaces, bridges and mounts: " + " ".join(
            probe.stdout.split())[:200]
    return None


class World(object):
    def __init__(self, top):
        self.top = top
        self.holders = {}           # node -> Popen of its namespace holder
        self.addresses = {}
        self.index = 0
        os.makedirs(os.path.join(top, "bin"))
        os.makedirs(os.path.join(top, "pids"))
        with open(os.path.join(top, "bin", "systemctl"), "w") as handle:
            handle.write(SYSTEMCTL)
        os.chmod(os.path.join(top, "bin", "systemctl"), 0o755)
        self.node_shell = os.path.join(top, "node-shell")
        with open(self.node_shell, "w") as handle:
            handle.write(NODE_SHELL.format(top=top))
        os.chmod(self.node_shell, 0o755)
        self.hosts = os.path.join(top, "hosts")
        with open(self.hosts, "w") as handle:
            handle.write("127.0.0.1 localhost\n")
        self._switch()

    def _holder(self, name, *setup):
        """A process holding fresh namespaces; returns its pid once set up."""
        root = os.path.join(self.top, name)
        os.makedirs(root, exist_ok=True)
        proc = subprocess.Popen(["unshare", "--net", "--uts", "--mount", "--propagation", "private",
                                 "sh", "-c", SETUP, "sh", name, root] + list(setup),
                                env=dict(os.environ, HOSTS=self.hosts), stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(root, "holder.err"), "w"))
        self.holders[name] = proc
        for _ in range(200):
            if os.path.exists(os.path.join(root, "ready")):
                break
            if proc.poll() is not None:
                raise RuntimeError("namespace holder for {} failed: {}".format(
                    name, open(os.path.join(root, "holder.err")).read().strip()))
            time.sleep(0.02)
        else:
            raise RuntimeError("namespace holder for {} did not come up".format(name))
        with open(os.path.join(self.top, "pids", name), "w") as handle:
            handle.write(str(proc.pid))
        return proc.pid

    def _switch(self):
        pid = self._holder(SWITCH)
        self.enter(SWITCH, "ip", "link", "add", "br0", "type", "bridge")
        self.enter(SWITCH, "ip", "link", "set", "br0", "up")
        self.switch_pid = pid

    def enter(self, node, *argv, **kwargs):
        """Run argv in `node`; returns the CompletedProcess (check=True unless told)."""
        kwargs.setdefault("check", True)
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("universal_newlines", True)
        kwargs.setdefault("timeout", 120)
        return subprocess.run([self.node_shell, node] + list(argv), **kwargs)

    def add(self, name):
        """A node named `name`, on the bridge, its private directories made."""
        self.index += 1
        address = NET + str(self.index)
        root = os.path.join(self.top, name)
        for sub in PRIVATE:
            path = os.path.join(root, sub)
            os.makedirs(path)
            owner = OWNERS.get(sub)
            if owner:
                shutil.chown(path, owner, owner)
        os.chmod(os.path.join(root, "tmp"), 0o1777)
        os.chmod(os.path.join(root, "etc/munge"), 0o700)
        with open(self.hosts, "a") as handle:
            handle.write("{} {}\n".format(address, name))
        pid = self._holder(name, *PRIVATE)
        port = "v{}".format(self.index)
        self.enter(SWITCH, "ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", str(pid))
        self.enter(SWITCH, "ip", "link", "set", port, "master", "br0", "up")
        self.enter(name, "ip", "addr", "add", address + "/24", "dev", "eth0")
        self.enter(name, "ip", "link", "set", "eth0", "up")
        self.addresses[name] = address
        return address

    def path(self, node, inside):
        """The host's path of a file in a node's private directories (/etc/munge/x ...)."""
        return os.path.join(self.top, node, inside.lstrip("/"))

    def log(self, node, unit):
        path = self.path(node, "/var/spool/fake-systemd/{}.log".format(unit))
        return open(path, errors="replace").read() if os.path.exists(path) else ""

    def stop(self, node, unit):
        self.enter(node, "systemctl", "stop", unit)

    def _netns_pids(self, pid):
        """Every process in the network namespace of `pid` (the daemons the world started)."""
        try:
            target = os.readlink("/proc/{}/ns/net".format(pid))
        except OSError:
            return []
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != pid:
                try:
                    if os.readlink("/proc/{}/ns/net".format(entry)) == target:
                        out.append(int(entry))
                except OSError:
                    pass
        return out

    def close(self):
        """End every daemon and namespace the world started (also after a failure): every
        process in a node's network namespace (TERM, then KILL what is left after 2 s),
        then the holders; their mounts go with their mount namespaces."""
        inside = {}
        for name, proc in self.holders.items():
            if proc.poll() is None:
                inside[name] = self._netns_pids(proc.pid)
        for pids in inside.values():
            for pid in pids:
                _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and any(_alive(p) for pids in inside.values() for p in pids):
            time.sleep(0.05)
        for pids in inside.values():
            for pid in pids:
                _signal(pid, signal.SIGKILL)
        for proc in self.holders.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.holders.clear()


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True

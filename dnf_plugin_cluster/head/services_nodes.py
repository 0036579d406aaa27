"""What `dnf cluster-master services` runs on the nodes (issue 26), and how: the
read-only probe (PROBE), the changes on one group of nodes (APPLY), and the Transport
that runs such a script on nodes through the fleet (fleet.run: ClusterShell's ssh
worker, or the exec worker's local command).

Pure logic, Python 3.6 (EL8): no dnf import; ClusterShell through fleet.py.
"""
import shlex

from ClusterShell.NodeSet import RESOLVER_NOGROUP, NodeSet

from ..errors import ClusterError
from . import fleet
from .services_conf import DROPIN
from .services_roles import COMPUTE, LOGIN

#: the read-only probe run on every node: KEY=VALUE lines
PROBE = r"""
key=none; keymode=none
if [ -L /etc/munge/munge.key ]; then key=symlink
elif [ -f /etc/munge/munge.key ]; then
  key=$(sha256sum < /etc/munge/munge.key | cut -d' ' -f1)
  keymode=$(stat -c '%U:%a' /etc/munge/munge.key)
fi
echo "key=$key"; echo "keymode=$keymode"
if [ -L "$1" ]; then echo "dropin=symlink"
elif [ -f "$1" ]; then echo "dropin=$(sha256sum < "$1" | cut -d' ' -f1)"
else echo "dropin=none"; fi
for unit in munge slurmd; do
  echo "$unit.enabled=$(systemctl is-enabled $unit 2>/dev/null | head -n1)"
  echo "$unit.active=$(systemctl is-active $unit 2>/dev/null | head -n1)"
done
if [ "$2" = slurmd ]; then
  if command -v slurmd >/dev/null 2>&1; then echo "hardware=$(slurmd -C 2>/dev/null | head -n1)"
  else echo "hardware=none"; fi
fi
"""

#: the changes on one group of nodes; $1: what to do (words), $2: the drop-in path,
#: $3: the drop-in's text; the key, when copied, is the standard input
APPLY = r"""
set -e
umask 077
todo=" $1 "
case "$todo" in *" key "*)
  mkdir -p /etc/munge
  tmp=$(mktemp /etc/munge/.munge.key.XXXXXX)
  cat > "$tmp"
  chown munge:munge "$tmp"; chmod 0400 "$tmp"
  mv -f "$tmp" /etc/munge/munge.key
  echo "copied the munge key" ;;
esac
case "$todo" in *" dropin "*)
  mkdir -p "$(dirname "$2")"
  tmp=$(mktemp "$2.XXXXXX")
  printf '%s' "$3" > "$tmp"; chmod 0644 "$tmp"
  mv -f "$tmp" "$2"
  systemctl daemon-reload
  echo "wrote $2" ;;
esac
for unit in munge slurmd; do
  case "$todo" in *" $unit.enable "*) systemctl -q enable "$unit"; echo "enabled $unit" ;; esac
  case "$todo" in *" $unit.restart "*) systemctl restart "$unit"; echo "restarted $unit" ;; esac
  case "$todo" in *" $unit.start "*) systemctl start "$unit"; echo "started $unit" ;; esac
done
"""


class Transport(object):
    """How the head node runs a shell script on nodes: fleet.run() with ssh (the script
    is the remote command) or the exec worker, whose `shell` prefix names the node with
    %h (e.g. "nsenter-node %h", "chroot /images/%h")."""

    def __init__(self, worker="ssh", shell="", **options):
        if worker == "exec" and "%h" not in shell:
            raise ClusterError("the exec worker needs --node-shell with %h (the node): how to run a command there")
        self.worker, self.shell, self.options = worker, shell, options

    def command(self, script, args):
        line = " ".join(shlex.quote(a) for a in ["sh", "-c", script, "sh"] + list(args))
        if self.worker == "exec":
            line = line.replace("%", "%%")        # the exec worker's %h templates; ssh sends it as it is
        return (self.shell + " " + line).strip()

    def run(self, nodes, script, args=(), stdin=None):
        results, timed_out, _ = fleet.run(nodes, self.command(script, args), worker=self.worker,
                                          stdin=stdin, **self.options)
        return results, timed_out


def fail_line(node, rc, err, timed_out):
    if timed_out:
        return "{}: timeout".format(node)
    lines = [l for l in err.splitlines() if l.strip()]
    why = fleet._clean(lines[-1]) if lines else "exit {}".format(rc)
    if rc == 255 and lines:
        why = next((short for key, short in fleet.SSH_MESSAGES if key in lines[-1]), why)
    return "{}: {}".format(node, why)


def probe(transport, roles):
    """{node: {KEY: VALUE}} of every node's read-only probe; a node that cannot be asked
    is an error naming it (nothing has changed yet)."""
    answers, failed = {}, []
    for kind in (COMPUTE, LOGIN):
        nodes = NodeSet.fromlist([n for r in roles if r.kind == kind for n in r.nodes],
                                 resolver=RESOLVER_NOGROUP)
        if not nodes:
            continue
        results, timed_out = transport.run(nodes, PROBE, [DROPIN, "slurmd" if kind == COMPUTE else "-"])
        for node, (rc, out, err) in sorted(results.items()):
            if rc != 0 or node in timed_out:
                failed.append(fail_line(node, rc, err, node in timed_out))
                continue
            answers[node] = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    if failed:
        raise ClusterError("cannot ask {} node{}: {}".format(
            len(failed), "" if len(failed) == 1 else "s", "; ".join(failed[:5])))
    return answers

"""Health of the Slurm services in the fleet view (issue 26, item 3), for
`dnf cluster-master status -w NODESET --health`.

Per node, two questions, answered in one fan-out over the services' transport
(services_nodes.Transport: ssh, or the exec worker's --node-shell):

- does munge authenticate across? The head node makes a credential (`munge -n`) that
  every node decodes (`unmunge`, the credential on its standard input), and every node
  makes one that the head node decodes: a node whose key differs from the head node's
  fails both ways and reads "munge: key differs from the head node's";
- what does the controller think of the node? One `scontrol -o show node` on the head
  node: its state (idle, allocated, down*, drained ...), or that slurmctld does not
  know the node (no NodeName line).

The answers are grouped as the fleet groups status answers (fleet.Report): one line per
group of nodes with the same health. States: healthy, unhealthy (exit 100, like drift),
and fleet's unreachable, timeout, error (exit 1).

Pure logic, Python 3.6 (EL8): no dnf import; ClusterShell through fleet.py. Remote
text is data: a node's credential reaches the head node's unmunge only on its standard
input and only when it has the credential's form.
"""
import re
import subprocess

from . import fleet

HEALTHY, UNHEALTHY = "healthy", "unhealthy"
CRED_RE = re.compile(r"\AMUNGE:[A-Za-z0-9+/=]{16,8192}:\Z")

#: on the node: the head node's credential on stdin; KEY=VALUE lines back
PROBE = r"""
head=$(cat)
if ! command -v munge >/dev/null 2>&1 || ! command -v unmunge >/dev/null 2>&1; then
  echo "munge=127 munge is not installed"; exit 0
fi
out=$(munge -n 2>&1); rc=$?
if [ $rc -eq 0 ]; then echo "cred=$out"; else echo "munge=$rc $(printf '%s\n' "$out" | tail -n1)"; fi
if [ -n "$head" ]; then
  out=$(printf '%s\n' "$head" | unmunge -m /dev/null -o /dev/null 2>&1); rc=$?
  echo "decode=$rc $(printf '%s\n' "$out" | tail -n1)"
fi
exit 0
"""

#: munge's exit codes (munge.h, munge_err_t) and what they mean across two hosts
MUNGE_ERRORS = {6: "munged not running", 14: "key differs from the head node's",
                15: "credential expired: clocks differ", 16: "credential rewound: clocks differ",
                17: "credential replayed", 127: "munge is not installed"}
#: scontrol's base states and flags that mean the node cannot take work
BAD_STATES = ("DOWN", "UNKNOWN", "FUTURE", "ERROR", "FAIL")
BAD_FLAGS = ("DRAIN", "FAIL", "NOT_RESPONDING", "INVALID_REG", "MAINTENANCE")


def _reason(rc, text):
    """One phrase for munge's (or unmunge's) failure `rc` with its last line `text`."""
    if rc in MUNGE_ERRORS:
        return MUNGE_ERRORS[rc]
    text = re.sub(r"^(un)?munge: (Error: )?", "", text.strip())
    return fleet._clean(text or "exit {}".format(rc), limit=100)


def _split(value):
    rc, _, text = (value or "").partition(" ")
    try:
        return int(rc), text
    except ValueError:
        return 1, value or ""


def head_credential():
    """(credential or None, why not) made by the head node's munged."""
    try:
        proc = subprocess.run(["munge", "-n"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True)
    except OSError:
        return None, "munge is not installed on the head node"
    cred = proc.stdout.strip()
    if proc.returncode == 0 and CRED_RE.match(cred):
        return cred, None
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    return None, "on the head node: " + _reason(proc.returncode, last)


def head_decodes(cred):
    """None when the head node's munged decodes `cred`, else why not."""
    if not CRED_RE.match(cred or ""):
        return "the node gave no credential"
    proc = subprocess.run(["unmunge", "-m", "/dev/null", "-o", "/dev/null"], input=cred + "\n",
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if proc.returncode == 0:
        return None
    return _reason(proc.returncode, (proc.stderr.strip().splitlines() or [""])[-1])


def munge_problem(answer, head_cred, head_why):
    """None when munge authenticates both ways between the node and the head node,
    else the one phrase that says why not."""
    if head_cred is None:
        return head_why
    if "munge" in answer:
        rc, text = _split(answer["munge"])
        return _reason(rc, text) + ("" if rc == 127 else " (munge -n on the node)")
    theirs = head_decodes(answer.get("cred", ""))
    rc, text = _split(answer.get("decode", "1 no answer"))
    ours = None if rc == 0 else _reason(rc, text)
    if theirs is None and ours is None:
        return None
    if theirs == ours:
        return theirs
    if ours is None:
        return theirs + " (the node's credential on the head node)"
    if theirs is None:
        return ours + " (the head node's credential on the node)"
    return "{} (on the head node); {} (on the node)".format(theirs, ours)


def slurm_states():
    """({node: (state, reason)} as slurmctld knows them, None) or (None, why it cannot
    be asked), from one `scontrol -o show node` on the head node."""
    try:
        proc = subprocess.run(["scontrol", "-o", "show", "node"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    except OSError:
        return None, "scontrol is not installed on the head node"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["exit {}".format(proc.returncode)])[-1]
        return None, "cannot ask slurmctld: " + fleet._clean(re.sub(r"^slurm_load_node error: ", "", last),
                                                             limit=100)
    states = {}
    for line in proc.stdout.splitlines():
        name = re.match(r"NodeName=(\S+)", line)
        state = re.search(r"\bState=(\S+)", line)
        if name and state:
            reason = re.search(r"\bReason=(.*?)(?: \[[^\]]*\])?(?: \w+=|$)", line)
            states[name.group(1)] = (state.group(1), reason.group(1).strip() if reason else "")
    return states, None


def slurm_phrase(node, states, why):
    """(ok, "slurm idle" | "slurm: down* (Not responding)" | "slurm: not a node of slurm.conf")."""
    if states is None:
        return False, "slurm: " + why
    if node not in states:
        return False, "slurm: unknown to slurmctld (no NodeName line in slurm.conf)"
    state, reason = states[node]
    parts = state.split("+")
    base, flags = parts[0], parts[1:]
    if base.endswith("*"):
        flags.append("NOT_RESPONDING")
    base = base.rstrip("*~#!%$@^-")
    shown = state.lower()
    if base in BAD_STATES or any(f in BAD_FLAGS for f in flags):
        return False, "slurm: {}{}".format(shown, " ({})".format(fleet._clean(reason, limit=80)) if reason else "")
    return True, "slurm " + shown


def munge_across(nodes, transport):
    """{node: NodeResult-like (state, summary)} for munge alone: what the rotation's
    canary must pass. nodes: a NodeSet; transport: services_nodes.Transport."""
    head_cred, head_why = head_credential()
    results, timed_out = _ask(nodes, transport, head_cred)
    out = {}
    for node, (rc, text, err) in results.items():
        failed = _failed(node, rc, text, err, node in timed_out, transport)
        if failed is not None:
            out[node] = failed.summary
            continue
        problem = munge_problem(_answer(text), head_cred, head_why)
        out[node] = None if problem is None else "munge: " + problem
    return out


def _ask(nodes, transport, head_cred):
    stdin = (head_cred + "\n").encode("ascii") if head_cred else None
    return transport.run(nodes, PROBE, (), stdin=stdin)


def _answer(text):
    return dict(l.split("=", 1) for l in text.splitlines() if "=" in l)


def _failed(node, rc, out, err, timed_out, transport):
    """The fleet's NodeResult for a node that could not be asked, else None."""
    if rc == 0 and not timed_out:
        return None
    return fleet.classify(node, rc, "", err, timed_out, transport.options.get("timeout"))


class HealthReport(fleet.Report):
    """fleet.Report of health answers: exit 1 when a node could not be asked, 100 when
    one is unhealthy, else 0."""

    @property
    def exit_code(self):
        states = set(r.state for r in self.results.values())
        if states & set(fleet.FAILED):
            return 1
        return 100 if UNHEALTHY in states else 0


def check(nodes, transport):
    """The HealthReport of `nodes` (a NodeSet): munge across and Slurm's state, per node."""
    head_cred, head_why = head_credential()
    results, timed_out = _ask(nodes, transport, head_cred)
    states, slurm_why = slurm_states()
    out = {}
    for node, (rc, text, err) in results.items():
        failed = _failed(node, rc, text, err, node in timed_out, transport)
        if failed is not None:
            out[node] = failed
            continue
        answer = _answer(text)
        problem = munge_problem(answer, head_cred, head_why)
        slurm_ok, slurm = slurm_phrase(node, states, slurm_why)
        munge = "munge ok" if problem is None else "munge: " + problem
        state = HEALTHY if problem is None and slurm_ok else UNHEALTHY
        details = {"munge": problem or "ok", "slurm": slurm,
                   "slurm_state": states[node][0] if states and node in states else None}
        out[node] = fleet.NodeResult(node, state, "{}; {}".format(munge, slurm), rc, details, err.strip())
    return HealthReport("health", out)

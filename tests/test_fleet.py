"""Fleet status and staged rollouts (dnf_plugin_cluster.head.fleet) through real ClusterShell
tasks: the exec worker runs a fake node-side command once per node name (`%h`), which
answers what the test put in <tmp>/nodes/<node>/ and records every call it gets."""
import json
import time

import pytest
from ClusterShell.NodeSet import NodeSet

from dnf_plugin_cluster.head import fleet
from dnf_plugin_cluster.errors import ClusterError

NODES = "node[01-24]"        # compute node[01-16], gpu node[17-20], aarch64 login node[21-24]

FAKE_NODE = r"""#!/bin/sh
# fake node: $1 = node name, then the node-side command line
node=$1; shift
top=$(dirname "$0"); d=$top/nodes/$node
case "$*" in
  *--dry-run*) cmd=dry-run ;;
  *sync*) cmd=sync ;;
  *status*) cmd=status ;;
  *) cmd=unknown ;;
esac
echo "$cmd" >> "$d/calls"
echo "$*" >> "$d/args"
echo "$node $cmd" >> "$top/log"
[ -f "$d/$cmd.hang" ] && exec sleep 60
if [ "$cmd" = sync ] && [ -f "$d/after-sync.out" ]; then
  cp "$d/after-sync.out" "$d/status.out"; echo 0 > "$d/status.rc"
fi
[ -f "$d/$cmd.err" ] && cat "$d/$cmd.err" >&2
[ -f "$d/$cmd.out" ] && cat "$d/$cmd.out"
exit "$(cat "$d/$cmd.rc" 2>/dev/null || echo 0)"
"""

GROUPS_YAML = """cluster:
  compute: 'node[01-16]'
  gpu: 'node[17-20]'
  login: 'node[21-24]'
  canary: 'node[05,18]'
"""


def role_of(node):
    """(role, arch) of a fake node."""
    number = int(node[4:])
    if number <= 16:
        return "compute", "x86_64"
    return ("gpu", "x86_64") if number <= 20 else ("login", "aarch64")


def status_answer(node, missing=(), wrong=(), extra=(), gen=12):
    role, arch = role_of(node)
    drift = {"missing": list(missing), "extra": list(extra),
             "wrong_version": [{"name": n, "installed": i, "pinned": p} for n, i, p in wrong]}
    in_sync = not (missing or wrong or extra)
    return {"format": 1, "command": "status", "role": role, "arch": arch, "channel": "stable", "generation": gen,
            "published_generation": gen, "in_sync": in_sync, "result": "in-sync" if in_sync else "drift",
            "counts": {"missing": len(missing), "wrong_version": len(wrong), "extra": len(extra)},
            "drift": drift}


def sync_answer(node, result, install=(), upgrade=(), gen=12):
    role, arch = role_of(node)
    plan = {"install": [{"name": n, "evr": None} for n in install],
            "upgrade": [{"name": n, "from": a, "to": b} for n, a, b in upgrade],
            "downgrade": [], "remove": [], "kept": []}
    return {"format": 1, "command": "sync", "role": role, "arch": arch, "channel": "stable", "generation": gen,
            "published_generation": gen, "in_sync": result in ("in-sync", "synced"), "result": result,
            "counts": {"install": len(install), "upgrade": len(upgrade), "downgrade": 0, "remove": 0},
            "plan": plan}


#: how each fake role's group lines start (the node header's words)
COMPUTE, GPU, LOGIN = ("role compute on x86_64, channel stable: ", "role gpu on x86_64, channel stable: ",
                       "role login on aarch64, channel stable: ")


def error_answer(command, message):
    return {"format": 1, "command": command, "result": "error", "error": message,
            "generation": None, "published_generation": None}


class Fleet(object):
    def __init__(self, top):
        self.top = top
        top.mkdir(exist_ok=True)
        (top / "fake-node").write_text(FAKE_NODE)
        (top / "groups.d").mkdir()
        (top / "groups.d" / "cluster.yaml").write_text(GROUPS_YAML)
        (top / "groups.conf").write_text("[Main]\ndefault: cluster\nautodir: $CFGDIR/groups.d\n")
        self.resolver = fleet.group_resolver(str(top / "groups.conf"))
        self.commands = fleet.node_commands("exec sh {} %h".format(top / "fake-node"))
        self.nodes = list(fleet.nodeset(NODES))
        for node in self.nodes:
            (top / "nodes" / node).mkdir(parents=True)
            self.answer(node, "status", status_answer(node))

    def answer(self, node, command, out=None, rc=None, err=None, hang=False):
        d = self.top / "nodes" / node
        for old in (".out", ".err", ".hang"):
            if (d / (command + old)).exists():
                (d / (command + old)).unlink()
        if out is not None:
            (d / (command + ".out")).write_text(out if isinstance(out, str) else json.dumps(out))
            if rc is None and not isinstance(out, str):
                rc = {"drift": 100, "error": 1}.get(out["result"], 0)
        (d / (command + ".rc")).write_text(str(rc or 0))
        if err is not None:
            (d / (command + ".err")).write_text(err)
        if hang:
            (d / (command + ".hang")).write_text("")

    def after_sync(self, node, out):
        (self.top / "nodes" / node / "after-sync.out").write_text(json.dumps(out))

    def args(self, node):
        """The node-side command lines this node was called with."""
        path = self.top / "nodes" / node / "args"
        return path.read_text().splitlines() if path.exists() else []

    def calls(self, node):
        path = self.top / "nodes" / node / "calls"
        return path.read_text().split() if path.exists() else []

    def log(self):
        path = self.top / "log"
        return [l.split() for l in path.read_text().splitlines()] if path.exists() else []

    def status(self, nodes=NODES, **kw):
        kw.setdefault("worker", "exec")
        return fleet.status(nodes, self.commands["status"], resolver=self.resolver, **kw)

    def rollout(self, nodes=NODES, **kw):
        kw.setdefault("worker", "exec")
        return fleet.rollout(nodes, self.commands, resolver=self.resolver, **kw)


@pytest.fixture
def farm(tmp_path):
    return Fleet(tmp_path)


def drifted_everywhere(farm):
    """Every node lacks cluster-apps-md; a sync installs it and the node is in sync."""
    for node in farm.nodes:
        farm.answer(node, "status", status_answer(node, missing=["cluster-apps-md"]))
        farm.answer(node, "sync", sync_answer(node, "synced", install=["cluster-apps-md"]))
        farm.after_sync(node, status_answer(node))


# --- status --------------------------------------------------------------------------

def test_all_in_sync(farm):
    report = farm.status(fanout=8)
    assert report.lines() == ["node[01-16] (16)  " + COMPUTE + "in sync, generation 12",
                              "node[17-20] (4)   " + GPU + "in sync, generation 12",
                              "node[21-24] (4)   " + LOGIN + "in sync, generation 12"]
    assert report.exit_code == 0
    assert all(farm.calls(n) == ["status"] for n in farm.nodes)
    data = json.loads(json.dumps(report.as_dict()))
    assert data["format"] == 1 and data["exit"] == 0 and len(data["nodes"]) == 24
    assert data["groups"][0] == {"nodes": "node[01-16]", "count": 16, "state": "in-sync",
                                 "summary": COMPUTE + "in sync, generation 12"}
    assert [g["count"] for g in data["groups"]] == [16, 4, 4]
    assert data["nodes"]["node21"]["answer"]["arch"] == "aarch64"


def test_groups_name_roles(farm):
    assert str(fleet.nodeset("@compute,@gpu,@login", farm.resolver)) == NODES
    report = farm.status("@gpu!node18")
    assert report.lines() == ["node[17,19-20] (3)  " + GPU + "in sync, generation 12"]
    with pytest.raises(ClusterError, match="names no node"):
        farm.status("@nosuchgroup")
    with pytest.raises(ClusterError, match="needs %h"):
        fleet.status(NODES, "true", worker="exec", resolver=farm.resolver)


def test_drift_grouped_exactly(farm):
    for node in ("node05", "node06", "node07", "node22"):
        farm.answer(node, "status", status_answer(node, missing=["cluster-apps-md"],
                                                  wrong=[("slurm", "23.11.10", "23.11.9")]))
    farm.answer("node20", "status", status_answer("node20", extra=["old-tool"]))
    farm.answer("node11", "status", status_answer("node11", gen=11))
    report = farm.status(fanout=5)
    assert report.lines() == [
        "node[01-04,08-10,12-16] (12)  " + COMPUTE + "in sync, generation 12",
        "node[05-07] (3)               " + COMPUTE +
        "missing: cluster-apps-md; wrong version: slurm 23.11.10 (locked 23.11.9)",
        "node11 (1)                    " + COMPUTE + "in sync, generation 11",
        "node[17-19] (3)               " + GPU + "in sync, generation 12",
        "node20 (1)                    " + GPU + "remove: old-tool",
        "node[21,23-24] (3)            " + LOGIN + "in sync, generation 12",
        "node22 (1)                    " + LOGIN +
        "missing: cluster-apps-md; wrong version: slurm 23.11.10 (locked 23.11.9)",
    ]
    assert report.exit_code == 100
    groups = report.as_dict()["groups"]
    assert [(g["nodes"], g["count"], g["state"]) for g in groups] == [
        ("node[01-04,08-10,12-16]", 12, "in-sync"), ("node[05-07]", 3, "drift"), ("node11", 1, "in-sync"),
        ("node[17-19]", 3, "in-sync"), ("node20", 1, "drift"), ("node[21,23-24]", 3, "in-sync"),
        ("node22", 1, "drift")]
    assert report.results["node22"].answer["counts"] == {"missing": 1, "wrong_version": 1, "extra": 0}


def test_nodes_in_sync_group_by_the_digest_of_their_locked_set(farm):
    """One line per locked set as installed: the nodes that run exactly the tested set
    share a digest; a node in sync with another set stands apart."""
    tested, other = "a" * 64, "b" * 64
    for node in farm.nodes:
        farm.answer(node, "status", dict(status_answer(node), lock_digest=tested, lock_packages=41))
    farm.answer("node07", "status", dict(status_answer("node07"), lock_digest=other, lock_packages=41))
    farm.answer("node08", "status", dict(status_answer("node08"), lock_digest="\x1b[31m" + "c" * 60))
    report = farm.status()
    assert report.lines() == [
        "node[01-06,09-16] (14)  " + COMPUTE + "in sync, generation 12, lock digest aaaaaaaaaaaa",
        "node07 (1)              " + COMPUTE + "in sync, generation 12, lock digest bbbbbbbbbbbb",
        "node08 (1)              bad answer: malformed format 1 answer",
        "node[17-20] (4)         " + GPU + "in sync, generation 12, lock digest aaaaaaaaaaaa",
        "node[21-24] (4)         " + LOGIN + "in sync, generation 12, lock digest aaaaaaaaaaaa",
    ]
    assert report.exit_code == 1
    assert report.as_dict()["nodes"]["node07"]["answer"]["lock_digest"] == other


def test_failures_are_reported_never_fatal(farm):
    farm.answer("node09", "status", rc=255,
                err="ssh: connect to host node09 port 22: Connection timed out\n")
    farm.answer("node10", "status", hang=True)
    farm.answer("node12", "status", error_answer("status", "Failed to download metadata for repo 'cluster'"))
    farm.answer("node13", "status", rc=3, err="Segmentation fault\n")
    farm.answer("node14", "status", "Traceback (most recent call last):\n  File x\n", rc=1)
    farm.answer("node15", "status", dict(status_answer("node15"), format=2))
    farm.answer("node16", "status", "Last metadata expiration check: 0:01:02 ago.\n"
                + json.dumps(status_answer("node16")))
    farm.answer("node17", "status", status_answer("node17", missing=["cuda"]))
    started = time.monotonic()
    report = farm.status(timeout=3)   # healthy nodes answer in ms; the hung one sleeps 60 s
    assert time.monotonic() - started < 30
    assert report.lines() == [
        "node[01-08,11,16] (10)  " + COMPUTE + "in sync, generation 12",
        "node09 (1)              unreachable: ssh: connect timeout",
        "node10 (1)              timeout: no answer within 3 s",
        "node12 (1)              error: Failed to download metadata for repo 'cluster'",
        "node13 (1)              error: exit 3, no answer: Segmentation fault",
        "node14 (1)              bad answer: no JSON (exit 1): Traceback (most recent call last):",
        "node15 (1)              bad answer: format 2, result 'in-sync' (format 1 expected)",
        "node17 (1)              " + GPU + "missing: cuda",
        "node[18-20] (3)         " + GPU + "in sync, generation 12",
        "node[21-24] (4)         " + LOGIN + "in sync, generation 12",
    ]
    assert report.exit_code == 1                  # 1 wins over 100
    states = dict((n, r.state) for n, r in report.results.items())
    assert (states["node09"], states["node10"], states["node14"]) == ("unreachable", "timeout", "bad-answer")
    assert report.results["node10"].exit is None and report.results["node09"].exit == 255
    assert "Connection timed out" in report.as_dict()["nodes"]["node09"]["stderr"]


def test_exit_codes(farm):
    assert farm.status().exit_code == 0
    farm.answer("node03", "status", status_answer("node03", extra=["x"]))
    assert farm.status().exit_code == 100
    farm.answer("node04", "status", rc=255, err="ssh: Could not resolve hostname node04: Name unknown\n")
    report = farm.status()
    assert report.exit_code == 1
    assert report.lines() == ["node[01-02,05-16] (14)  " + COMPUTE + "in sync, generation 12",
                              "node03 (1)              " + COMPUTE + "remove: x",
                              "node04 (1)              unreachable: ssh: unknown host",
                              "node[17-20] (4)         " + GPU + "in sync, generation 12",
                              "node[21-24] (4)         " + LOGIN + "in sync, generation 12"]
    assert farm.status("node[01-02]").exit_code == 0


def test_classify_is_careful_with_remote_text():
    answer = status_answer("node01", missing=["evil\x1b[2Jname"])
    res = fleet.classify("node01", 100, json.dumps(answer), "")
    assert res.summary == COMPUTE + "missing: evil?[2Jname" and res.state == "drift"
    res = fleet.classify("node01", 0, json.dumps(dict(answer, drift={"missing": 5})), "")
    assert res.state == "bad-answer"
    res = fleet.classify("node01", 0, json.dumps(status_answer("node01", missing=["a"])), "")
    assert res.state == "error" and res.summary == "error: exit 0 with answer '" + COMPUTE + "missing: a'"
    res = fleet.classify("node01", 255, "", "ssh: connect to host node01 port 22: Weird thing\n")
    assert res.summary == "unreachable: ssh: connect to host %h port 22: Weird thing"
    res = fleet.classify("node01", 0, "[1, 2]", "")
    assert res.state == "bad-answer"


def test_outdated_packages_of_a_latest_role_are_drift():
    answer = status_answer("node01")
    answer.update(result="drift", in_sync=False, drift=dict(answer["drift"], outdated=[
        {"name": "openmpi", "installed": "4.1.5-1.el9", "latest": "4.1.6-1.el9"}]))
    res = fleet.classify("node01", 100, json.dumps(answer), "")
    assert res.state == "drift" and res.summary == COMPUTE + "outdated: openmpi 4.1.5-1.el9 (latest 4.1.6-1.el9)"
    answer["drift"]["outdated"] = [{"name": "openmpi"}]
    assert fleet.classify("node01", 100, json.dumps(answer), "").state == "bad-answer"


# --- rollout -------------------------------------------------------------------------

def test_plan_waves(farm):
    def shape(waves):
        return [(w.name, str(w.nodes)) for w in waves]
    assert shape(fleet.plan_waves(NODES, canary=3, wave_size=10, resolver=farm.resolver)) == [
        ("canary", "node[01-03]"), ("wave 1", "node[04-13]"), ("wave 2", "node[14-23]"), ("wave 3", "node24")]
    assert shape(fleet.plan_waves(NODES, wave_size=10, resolver=farm.resolver)) == [
        ("canary", "node[05,18]"), ("wave 1", "node[01-04,06-11]"), ("wave 2", "node[12-17,19-22]"),
        ("wave 3", "node[23-24]")]
    assert shape(fleet.plan_waves("@login", resolver=farm.resolver)) == [
        ("canary", "node21"), ("wave 1", "node[22-24]")]          # no @canary among them: first node
    assert shape(fleet.plan_waves("@gpu", canary=0, wave_size=3, resolver=farm.resolver)) == [
        ("wave 1", "node[17-19]"), ("wave 2", "node20")]
    assert shape(fleet.plan_waves(NODES, canary="@login", wave_size=20, resolver=farm.resolver))[0] == (
        "canary", "node[21-24]")
    # the default wave size is the fan-out width
    waves = fleet.rollout(NODES, farm.commands, canary=1, fanout=8, dry_run=True, worker="exec",
                          resolver=farm.resolver).waves
    assert [len(w.nodes) for w in waves] == [1, 8, 8, 7]


def test_rollout_stops_after_failing_wave(farm):
    drifted_everywhere(farm)
    farm.answer("node10", "sync", error_answer("sync", "Error: Transaction test error: file conflicts"))
    roll = farm.rollout(canary=2, wave_size=5, fanout=4)
    assert [(w.name, str(w.nodes), w.state) for w in roll.waves] == [
        ("canary", "node[01-02]", "done"), ("wave 1", "node[03-07]", "done"),
        ("wave 2", "node[08-12]", "stopped"), ("wave 3", "node[13-17]", "not-reached"),
        ("wave 4", "node[18-22]", "not-reached"), ("wave 5", "node[23-24]", "not-reached")]
    assert roll.exit_code == 1
    # the canaries were synced then checked, the waves synced, and the rest never touched
    assert [farm.calls(n) for n in ("node01", "node02")] == [["sync", "status"]] * 2
    assert all(farm.calls("node%02d" % i) == ["sync"] for i in range(3, 13))
    assert all(farm.calls("node%02d" % i) == [] for i in range(13, 25))
    assert roll.lines() == [
        "canary   node[01-02] (2)  done",
        "  node[01-02] (2)  " + COMPUTE + "synced, generation 12: install cluster-apps-md",
        "  check node[01-02] (2)  " + COMPUTE + "in sync, generation 12",
        "wave 1   node[03-07] (5)  done",
        "  node[03-07] (5)  " + COMPUTE + "synced, generation 12: install cluster-apps-md",
        "wave 2   node[08-12] (5)  stopped: 1 failed (node10)",
        "  node[08-09,11-12] (4)  " + COMPUTE + "synced, generation 12: install cluster-apps-md",
        "  node10 (1)             error: Error: Transaction test error: file conflicts",
        "wave 3   node[13-17] (5)  not-reached",
        "wave 4   node[18-22] (5)  not-reached",
        "wave 5   node[23-24] (2)  not-reached",
    ]
    data = json.loads(json.dumps(roll.as_dict()))
    assert data["exit"] == 1 and data["command"] == "sync" and sorted(data["nodes"]) == [
        "node%02d" % i for i in range(1, 13)]
    assert data["nodes"]["node10"]["wave"] == "wave 2" and data["nodes"]["node01"]["wave"] == "canary"
    assert [w["state"] for w in data["waves"]] == ["done", "done", "stopped"] + ["not-reached"] * 3
    assert data["waves"][2]["failed"] == "node10"
    assert data["groups"][0] == {"nodes": "node[01-02]", "count": 2, "state": "in-sync",
                                 "summary": COMPUTE + "in sync, generation 12"}


def test_rollout_tolerates_max_failures(farm):
    drifted_everywhere(farm)
    farm.answer("node10", "sync", rc=255, err="ssh: connect to host node10 port 22: Connection refused\n")
    roll = farm.rollout(canary=2, wave_size=5, max_failures=1)
    assert [w.state for w in roll.waves] == ["done"] * 6
    assert all(farm.calls(n) for n in farm.nodes)
    assert roll.exit_code == 1                    # finished, but one node was not synced
    assert roll.results()["node10"].summary == "unreachable: ssh: connection refused"


def test_canary_from_group_goes_first_and_must_end_in_sync(farm):
    drifted_everywhere(farm)
    roll = farm.rollout(wave_size=11)
    assert [(w.name, str(w.nodes), w.state) for w in roll.waves] == [
        ("canary", "node[05,18]", "done"), ("wave 1", "node[01-04,06-12]", "done"),
        ("wave 2", "node[13-17,19-24]", "done")]
    assert roll.exit_code == 0
    log = farm.log()
    assert sorted(map(tuple, log[:4])) == [("node05", "status"), ("node05", "sync"),
                                             ("node18", "status"), ("node18", "sync")]
    assert len(log) == 26

    # a canary that syncs but still drifts stops the rollout before any wave
    farm2 = Fleet(farm.top / "again")
    drifted_everywhere(farm2)
    (farm2.top / "nodes" / "node18" / "after-sync.out").unlink()
    roll = farm2.rollout(wave_size=11)
    assert [w.state for w in roll.waves] == ["stopped", "not-reached", "not-reached"]
    assert str(roll.waves[0].failed) == "node18"
    assert "  check node18 (1)  " + GPU + "missing: cluster-apps-md" in roll.lines()
    assert [n for n in farm2.nodes if farm2.calls(n)] == ["node05", "node18"]


def test_dry_run_groups_identical_plans(farm):
    for node in farm.nodes:
        number = int(node[4:])
        if number <= 12:
            out = sync_answer(node, "planned", install=["cluster-apps-md"])
        elif number <= 20:
            out = sync_answer(node, "in-sync")
        else:
            out = sync_answer(node, "planned", upgrade=[("slurm", "23.11.9", "23.11.10")])
        farm.answer(node, "dry-run", out)
    roll = farm.rollout(canary=1, wave_size=8, dry_run=True)
    assert [w.state for w in roll.waves] == ["planned"] * 4
    assert roll.lines()[-5:] == [
        "dry run: nothing was changed; plans per group of identical plans:",
        "  node[01-12] (12)  " + COMPUTE + "plan, generation 12: install cluster-apps-md",
        "  node[13-16] (4)   " + COMPUTE + "in sync, generation 12",
        "  node[17-20] (4)   " + GPU + "in sync, generation 12",
        "  node[21-24] (4)   " + LOGIN + "plan, generation 12: upgrade slurm 23.11.9 -> 23.11.10",
    ]
    assert roll.exit_code == 100
    assert all(farm.calls(n) == ["dry-run"] for n in farm.nodes)
    data = roll.as_dict()
    assert data["command"] == "dry-run" and [g["count"] for g in data["groups"]] == [12, 4, 4, 4]


MASS = ("role 'compute': the sync would remove 30 packages, more than max_remove allows (3); check the plan with "
        "--dry-run, then rerun with --allow-mass-removal (or raise max_remove in cluster.conf)")
FLOOR = ("role 'compute': the sync would remove systemd-252-1.el9.x86_64 (node floor), which a profile never "
         "removes; refusing")


def planned_everywhere(farm, refusing=()):
    """Every node's dry run plans to install cluster-apps-md; `refusing`: {node: the
    node's refusal} for nodes whose real sync would refuse that plan."""
    for node in farm.nodes:
        answer = sync_answer(node, "planned", install=["cluster-apps-md"])
        if node in dict(refusing):
            answer["refusal"] = dict(refusing)[node]
        farm.answer(node, "dry-run", answer)


def test_dry_run_marks_nodes_whose_real_sync_would_refuse(farm):
    """Issue 20 item 10: a dry run marks the nodes whose real sync refuses (the removal
    limit, the node floor), and only the nodes that could not be asked fail it."""
    planned_everywhere(farm, {"node03": MASS, "node04": FLOOR})
    farm.answer("node09", "dry-run", rc=255, err="ssh: connect to host node09 port 22: Connection refused\n")
    roll = farm.rollout(canary=2, wave_size=8, dry_run=True)
    assert [(w.name, w.state, str(w.failed)) for w in roll.waves] == [
        ("canary", "planned", ""), ("wave 1", "would-refuse", "node09"), ("wave 2", "planned", ""),
        ("wave 3", "planned", "")]
    lines = roll.lines()
    assert lines[:4] == ["canary   node[01-02] (2)  planned",
                         "wave 1   node[03-10] (8)  would refuse: 1 could not be asked (node09)",
                         "wave 2   node[11-18] (8)  planned",
                         "wave 3   node[19-24] (6)  planned"]
    plan = "plan, generation 12: install cluster-apps-md"
    assert "  node03 (1)                    " + COMPUTE + plan + "; a real sync refuses: the sync would remove 30 " \
        "packages, more than max_remove allows (3)" in lines, lines
    assert "  node04 (1)                    " + COMPUTE + plan + "; a real sync refuses: the sync would remove " \
        "systemd-252-1.el9.x86_64 (node floor), which a profile never removes" in lines, lines
    assert (roll.results()["node03"].state, roll.results()["node01"].state) == ("would-refuse", "planned")
    assert str(roll.failed()) == "node09"                       # not the 23 nodes that answered
    assert str(roll.refusing()) == "node[03-04]"
    assert roll.exit_code == 1
    data = json.loads(json.dumps(roll.as_dict()))
    assert data["nodes"]["node04"]["state"] == "would-refuse" and data["waves"][1]["state"] == "would-refuse"

    farm.answer("node09", "dry-run", sync_answer("node09", "planned", install=["cluster-apps-md"]))
    roll = farm.rollout(canary=2, wave_size=8, dry_run=True)
    assert roll.exit_code == 100 and not roll.failed()          # plans and refusals differ; nothing failed


def test_dry_run_labels_waves_by_their_nodes_and_lines_up_their_columns(farm):
    """Issue 25 item 9: a canary already in sync is no `planned` wave, and the waves'
    states start in one column."""
    planned_everywhere(farm)
    for node in ("node05", "node18"):                             # the @canary group
        farm.answer(node, "dry-run", sync_answer(node, "in-sync"))
    roll = farm.rollout(wave_size=11, dry_run=True)
    assert [w.state for w in roll.waves] == ["in-sync", "planned", "planned"]
    heads = roll.lines()[:3]
    assert heads == ["canary   node[05,18] (2)         in sync",
                     "wave 1   node[01-04,06-12] (11)  planned",
                     "wave 2   node[13-17,19-24] (11)  planned"]
    assert roll.as_dict()["waves"][0]["state"] == "in-sync"
    for node in farm.nodes:
        farm.answer(node, "dry-run", sync_answer(node, "in-sync"))
    roll = farm.rollout(wave_size=11, dry_run=True)
    assert [w.state for w in roll.waves] == ["in-sync"] * 3 and roll.exit_code == 0
    # the rollout's own lines too: the state after the longest node set
    drifted_everywhere(farm)
    roll = farm.rollout(wave_size=11)
    assert [l for l in roll.lines() if not l.startswith(" ")] == [
        "canary   node[05,18] (2)         done", "wave 1   node[01-04,06-12] (11)  done",
        "wave 2   node[13-17,19-24] (11)  done"]


def test_in_sync_only_at_the_published_generation(farm):
    """Issue 25 item 9: a node whose last sync was to an earlier generation (the later
    one changed nothing for its role) matches the published generation; only a node
    synced to it is `in sync`, in the node's words (report.in_sync_words)."""
    from dnf_plugin_cluster import report
    farm.answer("node02", "status", dict(status_answer("node02"), generation=11))
    farm.answer("node03", "status", dict(status_answer("node03"), generation=None))
    lines = farm.status("node[01-03]").lines()
    assert lines == ["node01 (1)  " + COMPUTE + "in sync, generation 12",
                     "node02 (1)  " + COMPUTE + "matches generation 12, synced to generation 11",
                     "node03 (1)  " + COMPUTE + "matches generation 12, never synced"]
    assert report.in_sync_words(12, 11) == "matches generation 12, synced to generation 11"
    assert farm.status("node[01-03]").exit_code == 0          # no drift: nothing to converge


def test_without_clustershell_the_fleet_commands_say_what_to_install(monkeypatch):
    """A head node without python3-clustershell (the plugin package only suggests it):
    `cluster-master status|sync -w` ends with one line naming the package."""
    import sys
    import dnf_plugin_cluster.head
    from dnf_plugin_cluster.commands import master
    for name in [n for n in sys.modules if n.split(".")[0] == "ClusterShell"] + ["ClusterShell"]:
        monkeypatch.setitem(sys.modules, name, None)                 # import ClusterShell... fails
    for name in ("fleet", "fanout", "answers", "grouping", "gather", "rollout"):   # fleet.py and its parts
        monkeypatch.delitem(sys.modules, "dnf_plugin_cluster.head." + name, raising=False)
        monkeypatch.delattr(dnf_plugin_cluster.head, name, raising=False)
    with pytest.raises(ClusterError) as err:
        master._fleet()
    assert str(err.value) == "the fleet commands (-w) need ClusterShell: dnf install python3-clustershell"


def test_run_hands_the_same_stdin_to_every_node(tmp_path):
    """fleet.run(stdin=...): what services copies over the transport itself (the munge key)."""
    results, timed_out, _ = fleet.run("n[1-3]", "sh -c 'cat > {}/%h; echo got'".format(tmp_path), worker="exec",
                                      stdin=b"key bytes\x00\xff\n")
    assert not timed_out
    assert sorted(results) == ["n1", "n2", "n3"]
    for node, (rc, out, err) in results.items():
        assert (rc, out.strip(), err) == (0, "got", ""), node
        assert (tmp_path / node).read_bytes() == b"key bytes\x00\xff\n"
    # without stdin a node reads an empty one at once (ssh must not wait for input)
    results, _, _ = fleet.run("n1", "sh -c 'wc -c; : %h'", worker="exec", timeout=20)
    assert results["n1"][0] == 0 and results["n1"][1].strip() == "0"


# --- the rollout asks first (dnf's rule), through the real dnf -------------------------

def master_sync(farm, head, *args, **kwargs):
    """`dnf cluster-master sync -w ...` on a head node root (no repositories: the fleet
    commands need none) against the fake nodes."""
    return head.dnf("cluster-master", "sync", "-w", "node[01-06]", "--worker", "exec", "--node-command",
                    "sh {} %h".format(farm.top / "fake-node"), "--groups-conf", str(farm.top / "groups.conf"),
                    "--canary", "1", "--wave-size", "3", *args, check=False, **kwargs)


def on_a_terminal(argv, env, answer):
    """Run argv with a pseudo-terminal as its stdin, `answer` typed into it."""
    import os
    import pty
    import subprocess
    from cluster_testkit.dnfroot import Result
    master, slave = pty.openpty()
    try:
        os.write(master, answer.encode())
        proc = subprocess.run(argv, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, env=env, timeout=120)
    finally:
        os.close(slave)
        os.close(master)
    return Result(argv, proc.returncode, proc.stdout, proc.stderr)


WAVES = ["Rollout to 6 nodes, wave by wave; it stops at a canary that fails or still drifts after its sync, "
         "or at a wave with more than 0 failed nodes:",
         "canary   node01 (1)", "wave 1   node[02-04] (3)", "wave 2   node[05-06] (2)"]


def test_a_rollout_shows_its_waves_and_asks_unless_assumeyes(farm, make_root):
    drifted_everywhere(farm)
    head = make_root("head")
    six = ["node%02d" % i for i in range(1, 7)]

    unattended = master_sync(farm, head, input="")              # a script: stdin is no terminal
    assert unattended.rc == 1 and unattended.out == "", unattended
    assert unattended.err.strip() == ("Error: cluster-master sync: refusing to roll out unattended (no terminal "
                                      "to ask): pass -y to roll out, or --dry-run to see each node's plan")
    refused = master_sync(farm, head, "--json", input="")
    assert refused.rc == 1 and refused.err.strip() == "Error: cluster-master sync --json needs -y (or --dry-run)"
    assumeno = master_sync(farm, head, "--assumeno", input="")
    assert assumeno.rc == 1 and assumeno.out.splitlines() == WAVES, assumeno
    assert assumeno.err.strip() == "Error: Operation aborted: no node was synced."
    argv = head.dnf_args("cluster-master", "sync", "-w", "node[01-06]", "--worker", "exec", "--node-command",
                         "sh {} %h".format(farm.top / "fake-node"), "--groups-conf", str(farm.top / "groups.conf"),
                         "--canary", "1", "--wave-size", "3")
    for answer in ("n\n", "\x04"):                              # no, or the end of the input (Ctrl-D)
        declined = on_a_terminal(argv, head.env, answer)
        assert declined.rc == 1 and declined.out.splitlines()[:4] == WAVES, declined
        assert declined.out.splitlines()[4].startswith("Is this ok [y/N]:")
        assert "Error: Operation aborted: no node was synced." in declined.err
    assert farm.log() == []                                     # no node was even asked

    confirmed = on_a_terminal(argv, head.env, "y\n")
    assert confirmed.rc == 0, confirmed
    assert confirmed.out.splitlines()[:4] == WAVES and "canary   node01 (1)       done" in confirmed.out
    assert [farm.calls(n) for n in six] == [["sync", "status"]] + [["sync"]] * 5

    for node in six:
        farm.answer(node, "sync", sync_answer(node, "in-sync"))
        farm.answer(node, "dry-run", sync_answer(node, "in-sync"))
    again = master_sync(farm, head, "-y", input="")
    assert again.rc == 0 and "Is this ok" not in again.out and again.out.startswith("canary   node01 (1)       done")
    assert [farm.calls(n) for n in six] == [["sync", "status", "sync", "status"]] + [["sync", "sync"]] * 5
    planned = master_sync(farm, head, "--dry-run", input="")    # a dry run asks nothing and changes nothing
    assert planned.rc == 0 and "dry run: nothing was changed" in planned.out and "Is this ok" not in planned.out


def test_master_sync_passes_allow_mass_removal_and_counts_only_unasked_nodes(farm, make_root):
    """Issue 20 item 10, through the real dnf: `cluster-master sync -w ... --allow-mass-
    removal` reaches every node's sync and dry run; a dry run names the nodes whose real
    sync would refuse, and fails only for the nodes that could not be asked."""
    head = make_root("head")
    planned_everywhere(farm, {"node03": MASS})
    farm.answer("node05", "dry-run", rc=255, err="ssh: connect to host node05 port 22: Connection refused\n")
    dry = master_sync(farm, head, "--dry-run", input="")
    assert dry.rc == 1, dry
    errors = [l for l in dry.err.splitlines() if l.startswith(("Error", "Warning"))]
    assert errors == ["Warning: 1 node would refuse a real sync (the removal limit or the node floor; see their "
                      "lines): node03", "Error: 1 node could not be asked: node05"], dry
    assert "wave 1   node[02-04] (3)  would refuse" in dry.out, dry
    assert all("--allow-mass-removal" not in a for n in farm.nodes[:6] for a in farm.args(n))

    farm.answer("node05", "dry-run", sync_answer("node05", "planned", install=["cluster-apps-md"]))
    farm.answer("node03", "dry-run", sync_answer("node03", "planned", install=["cluster-apps-md"]))
    allowed = master_sync(farm, head, "--dry-run", "--allow-mass-removal", input="")
    assert allowed.rc == 100 and "Error" not in allowed.err and "would refuse" not in allowed.out, allowed
    assert [farm.args(n)[-1].endswith("sync --dry-run --json --allow-mass-removal") for n in farm.nodes[:6]] == \
        [True] * 6
    drifted_everywhere(farm)
    synced = master_sync(farm, head, "-y", "--allow-mass-removal", input="")
    assert synced.rc == 0, synced
    assert all(any(a.endswith("sync -y --json --allow-mass-removal") for a in farm.args(n)) for n in farm.nodes[:6])
    refused = head.dnf("cluster-master", "status", "-w", "node01", "--allow-mass-removal", check=False)
    assert refused.rc == 1 and refused.err.strip() == "Error: --allow-mass-removal is an option of cluster-master sync"



def test_master_status_and_sync_pass_full_to_every_node(farm, make_root):
    """Issue 24: `cluster-master status|sync -w ... --full` reaches every node's status,
    sync and dry run (each node then answers by its full path, never its no-op fast
    path); without it no node gets --full. Any other use is one error line."""
    head = make_root("head")
    six = farm.nodes[:6]

    def master_status(*args):
        return head.dnf("cluster-master", "status", "-w", "node[01-06]", "--worker", "exec", "--node-command",
                        "sh {} %h".format(farm.top / "fake-node"), "--groups-conf", str(farm.top / "groups.conf"),
                        *args, check=False)
    fast = master_status()
    assert fast.rc == 0 and [farm.args(n) for n in six] == [["status --json"]] * 6, fast
    full = master_status("--full")
    assert full.rc == 0 and full.out == fast.out, full
    assert [farm.args(n)[-1] for n in six] == ["status --json --full"] * 6

    planned_everywhere(farm)
    dry = master_sync(farm, head, "--dry-run", "--full", input="")
    assert dry.rc == 100, dry
    assert [farm.args(n)[-1] for n in six] == ["sync --dry-run --json --full"] * 6
    drifted_everywhere(farm)
    synced = master_sync(farm, head, "-y", "--full", input="")
    assert synced.rc == 0, synced
    assert farm.args("node01")[-2:] == ["sync -y --json --full", "status --json --full"]     # the canary's check
    assert [farm.args(n)[-1] for n in six[1:]] == ["sync -y --json --full"] * 5

    for args in (("status", "-w", "node01", "--health", "--full"), ("history", "--full")):
        refused = head.dnf("cluster-master", *args, check=False)
        assert refused.rc == 1, refused
        assert refused.err.strip() == "Error: --full is an option of cluster-master status (not with --health) and sync"


# --- node sets that would mislead ------------------------------------------------------

SHIPPED_GROUPS_CONF = """[Main]
default: local
confdir: $CFGDIR/groups.conf.d
autodir: $CFGDIR/groups.d

[local]
map: [ -f $CFGDIR/groups ] && f=$CFGDIR/groups || f=$CFGDIR/groups.d/local.cfg; sed -n 's/^$GROUP:\\(.*\\)/\\1/p' $f
all: [ -f $CFGDIR/groups ] && f=$CFGDIR/groups || f=$CFGDIR/groups.d/local.cfg; sed -n 's/^all:\\(.*\\)/\\1/p' $f
list: [ -f $CFGDIR/groups ] && f=$CFGDIR/groups || f=$CFGDIR/groups.d/local.cfg; sed -n 's/^\\([0-9A-Za-z_-]*\\):.*/\\1/p' $f
"""
#: ClusterShell 1.9's groups.d/local.cfg, as the package installs it
SHIPPED_LOCAL_CFG = """# ClusterShell groups config local.cfg
adm: example0
oss: example4 example5
mds: example6
io: example[4-6]
compute: example[32-159]
gpu: example[156-159]
all: example[4-6,32-159]
"""


def test_node_sets_that_would_mislead_are_refused_naming_why(farm, make_root, tmp_path):
    """A --groups-conf that is not there is named; ClusterShell's shipped example groups
    (an unconfigured head node: @compute is example[32-159]) are refused, not tried."""
    shipped = tmp_path / "clustershell"
    (shipped / "groups.d").mkdir(parents=True)
    (shipped / "groups.conf").write_text(SHIPPED_GROUPS_CONF)
    (shipped / "groups.d" / "local.cfg").write_text(SHIPPED_LOCAL_CFG)
    example = fleet.group_resolver(str(shipped / "groups.conf"))
    assert str(NodeSet("@compute", resolver=example)) == "example[32-159]"       # what ClusterShell makes of it
    with pytest.raises(ClusterError, match=r"^node set '@compute' comes from ClusterShell's shipped example "
                                           r"groups \(example\[32-159\]\)"):
        fleet.nodeset("@compute", example)
    assert str(fleet.nodeset("example[1-2]", example)) == "example[1-2]"         # named by hand: the admin's

    head = make_root("head")
    for conf, message in (
            (str(tmp_path / "nonexistent"), "Error: {}: cannot read the ClusterShell groups configuration "
                                             "(--groups-conf): No such file or directory".format(tmp_path / "nonexistent")),
            (str(shipped / "groups.conf"), "Error: node set '@compute' comes from ClusterShell's shipped example "
                                           "groups (example[32-159]): define the site's groups")):
        for sub in ("status", "sync"):
            result = head.dnf("cluster-master", sub, "-w", "@compute", "--groups-conf", conf, "--worker", "exec",
                              "--node-command", "sh {} %h".format(farm.top / "fake-node"), "-y", check=False)
            errors = [l for l in result.err.splitlines() if l.strip()]
            assert result.rc == 1 and len(errors) == 1 and errors[0].startswith(message), result
    assert farm.log() == []


# --- clush.conf's ssh settings --------------------------------------------------------

FAKE_SSH = r"""#!/bin/sh
# fake ssh: logs its arguments, then runs the fake node for HOST COMMAND (the last two)
top=$(dirname "$0")
echo "$*" >> "$top/ssh-calls"
for last; do :; done
host=$(eval echo \${$(($# - 1))})
exec sh "$top/fake-node" "$host" $last
"""


def test_clush_conf_ssh_user_path_and_options_are_applied_as_clush_applies_them(farm, make_root):
    """clush.conf's ssh_user, ssh_path and ssh_options reach the ssh worker (only fanout
    and the timeouts were read), through the library and through the real dnf."""
    (farm.top / "fake-ssh").write_text(FAKE_SSH)
    cfgdir = farm.top / "clustershell"
    cfgdir.mkdir()
    (cfgdir / "clush.conf").write_text(
        "[Main]\nfanout: 16\nconnect_timeout: 7\nssh_user: admin\nssh_path: sh {}\n"
        "ssh_options: -oStrictHostKeyChecking=no -p 2222\n".format(farm.top / "fake-ssh"))
    defaults = fleet.clush_defaults(str(cfgdir / "clush.conf"))
    assert defaults["ssh"] == {"ssh_user": "admin", "ssh_path": "sh {}".format(farm.top / "fake-ssh"),
                               "ssh_options": "-oStrictHostKeyChecking=no -p 2222"}
    report = fleet.status("node[01-02]", worker="ssh",
                          resolver=farm.resolver, ssh=defaults["ssh"], connect_timeout=7)
    assert report.lines() == ["node[01-02] (2)  " + COMPUTE + "in sync, generation 12"], report.lines()
    calls = sorted((farm.top / "ssh-calls").read_text().splitlines())
    assert len(calls) == 2 and all(c.startswith("-oStrictHostKeyChecking=no -p 2222 ") for c in calls), calls
    assert all(" -l admin " in c and " -oConnectTimeout=7 " in c for c in calls), calls
    assert calls[0].endswith(" node01 dnf-cluster -q node status --json"), calls   # the default
    from ClusterShell.Task import task_self
    assert task_self().info("ssh_user") is None                  # put back for the next ask
    (farm.top / "ssh-calls").unlink()

    head = make_root("head")
    head.env = dict(head.env, CLUSTERSHELL_CFGDIR=str(cfgdir))
    result = head.dnf("cluster-master", "status", "-w", "@login", "--groups-conf", str(farm.top / "groups.conf"))
    assert result.out.splitlines() == ["node[21-24] (4)  " + LOGIN + "in sync, generation 12"], result
    calls = (farm.top / "ssh-calls").read_text().splitlines()
    assert len(calls) == 4 and all(c.startswith("-oStrictHostKeyChecking=no -p 2222 ") and " -l admin " in c
                                   for c in calls), calls


def test_a_rollout_shows_its_waves_on_a_terminal_only(farm, monkeypatch):
    """Wave N of M on stderr's progress line while the rollout runs, and how many of the
    wave's nodes answered, when stderr is a terminal; not one byte otherwise (logs,
    cron, a pipe)."""
    import io
    import sys
    from dnf_plugin_cluster import progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    drifted_everywhere(farm)
    for stream, shown in ((io.StringIO(), False), (Terminal(), True)):
        monkeypatch.setattr(sys, "stderr", stream)
        roll = farm.rollout("node[01-12]", canary=2, wave_size=5)
        assert [w.state for w in roll.waves] == ["done"] * 3
        if not shown:
            assert stream.getvalue() == ""
            continue
        def wave(text, count):
            return [text] + ["{}: {} answered".format(text, done) for done in range(1, count + 1)]
        assert [part for part in stream.getvalue().split(progress.CLEAR) if part] == (
            wave("wave 1 of 3: canary, syncing node[01-02] (2 nodes)", 2) +
            wave("wave 1 of 3: canary, checking node[01-02]", 2) +
            wave("wave 2 of 3: wave 1, syncing node[03-07] (5 nodes)", 5) +
            wave("wave 3 of 3: wave 2, syncing node[08-12] (5 nodes)", 5))
        assert stream.getvalue().endswith(progress.CLEAR)
        stream.truncate(0)
        stream.seek(0)
        farm.rollout("node[01-03]", dry_run=True)         # a dry run is one fan-out
        assert [part for part in stream.getvalue().split(progress.CLEAR) if part] == [
            "dry-run: {} of 3 nodes answered".format(done) for done in range(4)]


def test_fleet_status_counts_the_nodes_that_answered_on_a_terminal_only(farm, monkeypatch):
    """Fleet status asks many nodes at once: on a terminal's stderr, how many answered so
    far (from 0, before the first answer); the line is gone before the report, and not one
    byte is written to anything else (logs, cron, a pipe). A node that never answers
    (timeout) leaves the count short, and the report says it."""
    import io
    import sys
    from dnf_plugin_cluster import progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    for stream, shown in ((io.StringIO(), False), (Terminal(), True)):
        monkeypatch.setattr(sys, "stderr", stream)
        report = farm.status("node[01-06]")
        assert report.exit_code == 0
        if not shown:
            assert stream.getvalue() == ""
            continue
        assert [part for part in stream.getvalue().split(progress.CLEAR) if part] == [
            "status: {} of 6 nodes answered".format(done) for done in range(7)]
        assert stream.getvalue().endswith(progress.CLEAR)
    farm.answer("node02", "status", status_answer("node02"), hang=True)
    stream.truncate(0)
    stream.seek(0)
    report = farm.status("node[01-03]", timeout=3)
    assert report.results["node02"].state == "timeout"
    assert [part for part in stream.getvalue().split(progress.CLEAR) if part] == [
        "status: {} of 3 nodes answered".format(done) for done in range(3)]
    assert stream.getvalue().endswith(progress.CLEAR)


def test_fleet_status_through_dnf_shows_its_progress_on_a_terminal_only(farm, make_root):
    """`dnf cluster-master status -w` on a terminal: the count of answers on the progress
    line, cleared before the grouped lines; through a pipe, nothing on stderr."""
    import conftest
    head = make_root("head")
    argv = head.dnf_args("cluster-master", "status", "-w", "node[01-04]", "--worker", "exec", "--node-command",
                         "sh {} %h".format(farm.top / "fake-node"), "--groups-conf", str(farm.top / "groups.conf"))
    piped = head.run(argv)
    assert piped.err == "" and piped.out == "node[01-04] (4)  " + COMPUTE + "in sync, generation 12\n", piped
    rc, output = conftest.on_a_terminal(argv, timeout=120, env=head.env)
    assert rc == 0, output
    steps = "".join("\r\x1b[Kstatus: {} of 4 nodes answered".format(done) for done in range(5))
    assert output.decode() == steps + "\r\x1b[K" + "node[01-04] (4)  " + COMPUTE + "in sync, generation 12\r\n", output

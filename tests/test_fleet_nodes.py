"""`dnf cluster-master status|sync -w NODESET` over 24 real installroot nodes (three
roles, x86_64 and aarch64) through ClusterShell's exec worker: each node answers with
the real dnf and the plugin, as image roots under /images/%h would."""

import pytest

from cluster_testkit.extra import Pkg, build_repo
from cluster_testkit.farm import Farm
from conftest import publish_site

ROLES = (("compute", "x86_64"), ("compute", "aarch64"), ("gpu", "x86_64"),
         ("gpu", "aarch64"), ("login", "x86_64"), ("login", "aarch64"))


@pytest.fixture
def farm(site, tmp_path):
    """node[01-24]: node01-04 compute x86_64, 05-08 compute aarch64, 09-12 gpu x86_64,
    13-16 gpu aarch64, 17-20 login x86_64, 21-24 login aarch64; each group cloned from
    one node synced for real."""
    farm = Farm(str(tmp_path / "farm"))
    number = 0
    for role, arch in ROLES:
        template = site.node("tpl-{}-{}".format(role, arch), arch, role)
        template.dnf("-y", "cluster-node", "sync")
        for _ in range(4):
            number += 1
            farm.clone("node{:02d}".format(number), template, str(tmp_path / "nodes" / "node{:02d}".format(number)))
    return farm


def fleet(site, farm, *args, **kwargs):
    return site.master.dnf(*farm.fleet_args(*args), check=False, **kwargs)


def in_sync(generation=1):
    """The six (node set, line) of node[01-24] in sync: one per role and arch."""
    return [("node[{:02d}-{:02d}] (4)".format(4 * i + 1, 4 * i + 4),
             "role {} on {}, channel stable: in sync, generation {}".format(role, arch, generation))
            for i, (role, arch) in enumerate(ROLES)]


def lines_of(result):
    return [l for l in result.out.splitlines() if l.strip()]


def groups_of(result):
    """[(node set label, summary)] of grouped lines; the summaries start in one column."""
    lines = lines_of(result)
    starts = set(len(l) - len(l.split("  ", 1)[1].lstrip()) for l in lines)
    assert len(starts) == 1, lines
    return [(l.split("  ", 1)[0].rstrip(), l.split("  ", 1)[1].strip()) for l in lines]


def test_fleet_status_groups_identical_answers(site, farm):
    everyone = fleet(site, farm, "status", "node[01-24]", "--fanout", "8")
    assert everyone.rc == 0, everyone
    assert groups_of(everyone) == in_sync()

    # two compute nodes lost a role package; one node cannot reach its cluster repository
    for name in ("node03", "node04"):
        farm.nodes[name].dnf("-y", "remove", "cluster-apps-bio")
    farm.nodes["node17"].add_repo("cluster", "http://127.0.0.1:9/cluster/$releasever/$basearch/")
    mixed = fleet(site, farm, "status", "node[01-24]", "--fanout", "8")
    assert mixed.rc == 1, mixed
    out = groups_of(mixed)
    assert out[:2] == [("node[01-02] (2)", "role compute on x86_64, channel stable: in sync, generation 1"),
                       ("node[03-04] (2)", "role compute on x86_64, channel stable: missing: cluster-apps-bio")], mixed
    assert out[2:5] == in_sync()[1:4]
    assert out[5][0] == "node17 (1)" and out[5][1].startswith("error: Failed to download metadata for repo 'cluster'")
    assert out[6:] == [("node[18-20] (3)", "role login on x86_64, channel stable: in sync, generation 1"),
                       in_sync()[5]]
    assert "Error: 1 node could not be asked: node17" in mixed.err

    data = fleet(site, farm, "status", "node[01-24]", "--json").json
    assert data["format"] == 1 and data["exit"] == 1
    assert data["nodes"]["node03"]["answer"]["drift"]["missing"] == ["cluster-apps-bio"]
    assert data["nodes"]["node17"]["answer"]["result"] == "error"
    assert [g["count"] for g in data["groups"]] == [2, 2, 4, 4, 4, 1, 3, 4]

    drifted = fleet(site, farm, "status", "node[01-16]")         # without the unreachable node: 100
    assert drifted.rc == 100, drifted


def test_rollout_canary_then_waves_stops_at_the_failing_wave(site, farm):
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, tmux]")
    site.publish()
    compute = ["node{:02d}".format(n) for n in range(1, 9)]
    # node06 (wave 2) cannot reach its cluster repository
    farm.nodes["node06"].add_repo("cluster", "http://127.0.0.1:9/cluster/$releasever/$basearch/")
    plan = fleet(site, farm, "sync", "node[01-08]", "--dry-run", "--canary", "1", "--wave-size", "3")
    assert plan.rc == 1 and "dry run: nothing was changed" in plan.out, plan
    assert not any("tmux" in farm.nodes[n].installed() for n in compute)

    rollout = fleet(site, farm, "sync", "node[01-08]", "--canary", "1", "--wave-size", "3", "-y")
    assert rollout.rc == 1, rollout
    out = lines_of(rollout)
    assert out[0] == "canary   node01 (1)       done"
    assert "wave 1   node[02-04] (3)  done" in out
    assert [l for l in out if l.startswith("wave 2")][0].startswith("wave 2   node[05-07] (3)  stopped: 1 failed (node06)")
    assert "wave 3   node08 (1)       not-reached" in out
    assert "Error: 1 node failed; the rollout stopped: node06" in rollout.err
    installed = dict((n, "tmux" in farm.nodes[n].installed()) for n in compute)
    assert installed == {"node01": True, "node02": True, "node03": True, "node04": True,
                         "node05": True, "node06": False, "node07": True, "node08": False}

    farm.nodes["node06"].add_repo("cluster", "{}/cluster/$releasever/$basearch/".format(site.url))
    again = fleet(site, farm, "sync", "node[01-08]", "--canary", "0", "--wave-size", "8", "-y")
    assert again.rc == 0, again
    assert fleet(site, farm, "status", "node[01-08]").rc == 0


def test_a_dry_run_marks_the_nodes_a_real_sync_refuses_and_allow_mass_removal_reaches_them(site, tmp_path):
    """Issue 20 item 10 with real nodes: a site package obsoletes a dependency of the
    compute role. node01 may remove it; node02's max_remove is 0 (the removal limit);
    node03 protects it in cluster.conf (the node floor). The dry run plans for all three,
    marks the two whose real sync refuses, and fails for none; --allow-mass-removal
    reaches the nodes (node02 then syncs; the floor still holds on node03)."""
    small = Farm(str(tmp_path / "small"))
    template = site.node("tpl", "x86_64", "compute")
    template.dnf("-y", "cluster-node", "sync")
    for name in ("node01", "node02", "node03"):
        small.clone(name, template, str(tmp_path / "nodes" / name))
    small.nodes["node02"].set_role("compute", max_remove="0")
    small.nodes["node03"].set_role("compute", protected="ncbi-blast+")
    extra = build_repo(str(tmp_path / "extra"), [Pkg("bio-suite", "3.0", provides=["ncbi-blast+ = 3.0"],
                                                     obsoletes=["ncbi-blast+ < 3.0"])])
    for root in small.nodes.values():
        root.add_repo("extra", "file://" + extra)
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, bio-suite]")
    publish_site(site.tree, site.upstream, site.roles, baseurl=site.url + "/site", message="bio-suite")

    floor = small.nodes["node03"].dnf("cluster-node", "sync", "--dry-run", "--json", check=False)
    assert floor.rc == 0 and floor.json["result"] == "planned", floor
    assert floor.json["refusal"].startswith("role 'compute': the sync would remove ncbi-blast+-2.14.1-1.el9.x86_64 "
                                            "(protected in cluster.conf), which a profile never removes"), floor
    assert small.nodes["node03"].dnf("cluster-node", "sync", "--check", check=False).rc == 100

    role = "role compute on x86_64, channel stable: "
    plan = role + "plan, generation 2: install bio-suite"
    dry = fleet(site, small, "sync", "node[01-03]", "--dry-run", "--canary", "0")
    assert dry.rc == 100, dry
    assert lines_of(dry)[0] == "wave 1   node[01-03] (3)  would refuse", dry
    assert lines_of(dry)[1:] == [
        "dry run: nothing was changed; plans per group of identical plans:",
        "  node01 (1)  " + plan,
        "  node02 (1)  " + plan + "; a real sync refuses: the sync would remove 1 packages (1 of them obsoleted), "
                                  "more than max_remove allows (0)",
        "  node03 (1)  " + plan + "; a real sync refuses: the sync would remove ncbi-blast+-2.14.1-1.el9.x86_64 "
                                  "(protected in cluster.conf), which a profile never removes"], dry
    assert "Warning: 2 nodes would refuse a real sync (the removal limit or the node floor; see their lines): " \
        "node[02-03]" in dry.err and "Error" not in dry.err, dry
    assert all("bio-suite" not in n.installed() for n in small.nodes.values())

    allowed = fleet(site, small, "sync", "node[01-03]", "--dry-run", "--canary", "0", "--allow-mass-removal")
    assert allowed.rc == 100 and "node[02-03]" not in allowed.err and "node03" in allowed.err, allowed

    rollout = fleet(site, small, "sync", "node[01-03]", "--canary", "0", "--allow-mass-removal", "--max-failures", "1",
                    "-y")
    assert rollout.rc == 1 and "Error: 1 node failed" in rollout.err and "node03" in rollout.err, rollout
    assert [("bio-suite" in small.nodes[n].installed()) for n in ("node01", "node02", "node03")] == [True, True, False]

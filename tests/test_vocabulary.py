"""One word per concept (issue 25 item 9), with the real commands: the generation, the
lock and its digest, and what a sync removes read the same in node status, sync, the
fleet view, publish, history and cluster-group, and `in sync` is said only of a node
whose last sync was to the published generation."""
import re

from cluster_testkit.farm import Farm

COMPUTE = "role compute on x86_64, channel stable: "


def last_line(result):
    return result.out.rstrip().splitlines()[-1]


def header(result):
    """The profile header of a node command (dnf's download lines come before it)."""
    return [l for l in result.out.splitlines() if l.startswith("Cluster profile from ")][0]


def fleet_line(site, farm, node):
    """The summary of `node`'s line in `cluster-master status -w node`."""
    result = site.master.dnf(*farm.fleet_args("status", node), check=False)
    lines = result.out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(node + " (1)  "), result
    return lines[0].split("  ", 1)[1]


def test_node_status_and_fleet_status_say_the_same_of_one_node(site, tmp_path):
    """In sync, generation N and the lock digest, in both; after a generation that changes
    another role only, both say the node matches it, synced to the earlier one (no drift,
    exit 0), and its dry run says what a real sync does; the sync makes it in sync."""
    locked = site.publish("--lock", "--json").json
    farm = Farm(str(tmp_path / "farm"))
    node = farm.add("node01", site.node("node01"))
    node.dnf("-y", "cluster-node", "sync")
    digest = node.dnf("cluster-node", "status", "--json").json["lock_digest"][:12]

    status = node.dnf("cluster-node", "status")
    assert status.rc == 0 and header(status).endswith(
        "role compute on x86_64, channel stable, 4 packages, 29 locked, update pinned"), status
    assert "  generation     published {0}, this node synced to {0}".format(locked["generation"]) in status.out
    words = "in sync, generation {}, lock digest {}".format(locked["generation"], digest)
    assert last_line(status) == "I" + words[1:] + "."
    assert fleet_line(site, farm, "node01") == COMPUTE + words

    # a generation that changes the gpu role only
    site.edit_role("gpu", "description:", "description: GPU node, new")
    later = site.publish("--json").json["generation"]
    assert later == locked["generation"] + 1
    status = node.dnf("cluster-node", "status")
    assert status.rc == 0, status
    assert "  generation     published {}, this node synced to {}".format(later, locked["generation"]) in status.out
    words = "matches generation {}, synced to generation {}, lock digest {}".format(later, locked["generation"],
                                                                                 digest)
    assert last_line(status) == "M{}. `dnf cluster-node sync` records generation {}.".format(words[1:], later)
    assert fleet_line(site, farm, "node01") == COMPUTE + words
    assert "in sync" not in status.out.lower()
    dry = node.dnf("cluster-node", "sync", "--dry-run")
    assert last_line(dry) == "Matches generation {}, synced to generation {}: nothing to do but record " \
                             "generation {} (a real sync does).".format(later, locked["generation"], later), dry
    data = node.dnf("cluster-node", "status", "--json").json
    assert (data["result"], data["generation"], data["published_generation"]) == ("in-sync", locked["generation"],
                                                                                  later)

    assert last_line(node.dnf("-y", "cluster-node", "sync")) == "In sync: nothing to do."
    words = "in sync, generation {}, lock digest {}".format(later, digest)
    assert last_line(node.dnf("cluster-node", "status")) == "I" + words[1:] + "."
    assert fleet_line(site, farm, "node01") == COMPUTE + words


def test_what_a_sync_removes_is_remove_in_status_sync_and_the_fleet(site, tmp_path):
    farm = Farm(str(tmp_path / "farm"))
    node = farm.add("node01", site.node("node01"))
    node.dnf("-y", "cluster-node", "sync")
    status = node.dnf("cluster-node", "status")
    assert header(status).endswith(", 0 locked, update present"), status   # said when not pinned too
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: []")
    site.publish()
    status = node.dnf("cluster-node", "status", check=False)
    assert status.rc == 100 and "  remove         cluster-apps-bio (installed by the profile, no longer listed)" \
        in status.out.splitlines(), status
    assert "extra" not in status.out
    dry = node.dnf("cluster-node", "sync", "--dry-run")
    assert "  remove     cluster-apps-bio (installed by the profile, no longer listed)" in dry.out.splitlines(), dry
    assert fleet_line(site, farm, "node01") == COMPUTE + "remove: cluster-apps-bio"
    data = node.dnf("cluster-node", "status", "--json", check=False).json
    assert data["drift"]["remove"] == data["drift"]["extra"] == ["cluster-apps-bio"]
    assert data["counts"]["remove"] == 1


def test_publish_and_history_label_the_digest(site):
    result = site.publish("--republish", "--message", "again")
    digest = site.master.dnf("cluster-master", "history", "--repo-dir", site.tree, "--json").json[
        "generations"][-1]["digest"]
    assert re.search(r"^Published generation 2, digest {}: roles compute, gpu, login, master; 0 locked -> ".format(
        digest[:12]), result.out, re.M), result
    history = site.master.dnf("cluster-master", "history", "--repo-dir", site.tree).out.splitlines()
    assert history[0].split() == ["GEN", "TIME", "(UTC)", "USER", "ACTION", "LOCKED", "DIGEST", "MESSAGE"]
    row = [l for l in history if l.startswith("2*")][0]
    assert row.split()[5] == digest[:12], history
    detail = site.master.dnf("cluster-master", "history", "2", "--repo-dir", site.tree).out.splitlines()
    assert "  digest      " + digest in detail and "  locked      nothing" in detail, detail


def test_a_group_a_sync_installed_is_not_called_not_installed(site):
    node = site.node("node01")
    node.dnf("-y", "cluster-node", "sync")
    info = node.dnf("cluster-group", "info", "cluster-node").out
    assert " Status: packages installed" in info.splitlines(), info
    listed = node.dnf("cluster-group", "list", "--json").json
    by_id = dict((g["id"], g) for g in listed["groups"])
    assert by_id["cluster-node"]["status"] == "packages installed" and by_id["cluster-node"]["installed"] is False
    assert by_id["cluster-apps-md"]["status"] == "not installed"
    table = node.dnf("cluster-group", "list").out.splitlines()
    assert [l.split()[-2:] for l in table if l.split()[:1] == ["cluster-node"]] == [["packages", "installed"]]
    fresh = site.node("fresh")
    assert " Status: not installed" in fresh.dnf("cluster-group", "info", "cluster-node").out.splitlines()


def test_a_dry_run_rollout_calls_an_in_sync_canary_in_sync_and_lines_up_its_waves(site, tmp_path):
    farm = Farm(str(tmp_path / "farm"))
    synced = farm.add("node01", site.node("node01"))
    synced.dnf("-y", "cluster-node", "sync")
    farm.add("node02", site.node("node02"))
    farm.add("node03", site.node("node03"))
    dry = site.master.dnf(*farm.fleet_args("sync", "node[01-03]", "--dry-run", "--canary", "1", "--wave-size", "1"),
                          check=False)
    assert dry.rc == 100, dry
    assert dry.out.splitlines()[:3] == ["canary   node01 (1)  in sync",
                                        "wave 1   node02 (1)  planned",
                                        "wave 2   node03 (1)  planned"], dry
    dry = site.master.dnf(*farm.fleet_args("sync", "node[01-03]", "--dry-run", "--canary", "1"), check=False)
    assert dry.out.splitlines()[:2] == ["canary   node01 (1)       in sync",
                                        "wave 1   node[02-03] (2)  planned"], dry
    assert "  node01 (1)       " + COMPUTE + "in sync, generation 1" in dry.out.splitlines(), dry

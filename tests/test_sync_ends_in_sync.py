"""A sync ends where status says in sync, or exits 1 naming what is off, with the real
dnf 4: what the role lists is never cleaned up as an unused dependency, every pin holds
for every package a transaction installs, the node is checked again after the
transaction, a node never silently falls back from its site profile, an unreadable rpm
database is an error, what the floor needs is kept, obsoleted packages count as
removals, and a virtual provide in a role is there when its provider is."""
import json
import os

from cluster_testkit.dnfroot import TEST_PLUGIN_DIR
from cluster_testkit.extra import Pkg, build_repo

from conftest import publish_site


def state_of(node):
    with open(node.path("var/lib/dnf/cluster/state.json")) as handle:
        return json.load(handle)


def republish(site, **changes):
    """The site's roles as the next generation, with `changes` to the profile (pins=...)."""
    publish_site(site.tree, site.upstream, site.roles, baseurl=site.url + "/site", **changes)


def error_lines(result):
    return [l for l in result.err.splitlines() if l.startswith("Error:")]


def test_a_package_the_role_lists_is_never_removed_as_an_unused_dependency(site):
    node = site.node("compute")
    node.dnf("-y", "cluster-node", "sync")
    assert {"cluster-apps-bio", "ncbi-blast+"} <= set(node.installed())
    # the role now lists what its old package only pulled in
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [ncbi-blast+]")
    republish(site)
    status = node.dnf("cluster-node", "status", "--json", check=False)
    assert status.rc == 100 and status.json["drift"]["extra"] == ["cluster-apps-bio"]
    assert status.json["drift"]["missing"] == []
    result = node.dnf("-y", "cluster-node", "sync", check=False)
    assert result.rc == 0, result
    installed = node.installed()
    assert "ncbi-blast+" in installed and "cluster-apps-bio" not in installed
    assert node.dnf("cluster-node", "status").rc == 0


def test_a_pin_missing_from_the_mirror_fails_before_anything_is_installed(site):
    # ncbi-blast+ is no listed package: only cluster-apps-bio's dependency, on a fresh node
    republish(site, pins={"ncbi-blast+": "2.14.0-1.el9"})
    node = site.node("compute")
    result = node.dnf("-y", "cluster-node", "sync", check=False)
    assert result.rc == 1, result
    assert error_lines(result) == ["Error: role 'compute': pinned ncbi-blast+-2.14.0-1.el9 is not available from "
                                   "any enabled repository (the sync would install ncbi-blast+-2.14.1-1.el9.x86_64); "
                                   "refusing"], result
    assert node.installed() == {}
    status = node.dnf("cluster-node", "status", check=False)
    assert status.rc == 1 and "pinned ncbi-blast+-2.14.0-1.el9 is not available" in status.err
    # the build appears: the same node syncs to it
    republish(site, pins={"ncbi-blast+": "2.14.1-1.el9"})
    node.dnf("-y", "cluster-node", "sync")
    assert node.installed()["ncbi-blast+"] == "0:2.14.1-1.el9.x86_64"


def test_a_node_off_its_profile_after_the_transaction_is_an_error_naming_it(site):
    node = site.node("compute")
    node.dnf("-y", "cluster-node", "sync")
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, fftw-openmpi]")
    republish(site)
    # something after rpm's transaction takes the new package away again
    node.plugin_dirs.append(TEST_PLUGIN_DIR)
    node.env["CLUSTER_TEST_ERASE"] = "fftw-openmpi"
    try:
        result = node.dnf("-y", "cluster-node", "sync", check=False)
        assert result.rc == 1, result
        assert error_lines(result) == ["Error: role 'compute': the transaction ran, but the node is still off its "
                                       "profile: missing fftw-openmpi"], result
        answer = node.dnf("-y", "cluster-node", "sync", "--json", check=False)
        assert answer.rc == 1 and answer.json["result"] == "error"
        assert answer.json["error"].endswith("still off its profile: missing fftw-openmpi")
    finally:
        node.plugin_dirs.remove(TEST_PLUGIN_DIR)
        del node.env["CLUSTER_TEST_ERASE"]
    assert state_of(node)["pending"] is None
    node.dnf("-y", "cluster-node", "sync")
    assert node.dnf("cluster-node", "status").rc == 0


def test_a_node_that_loses_its_site_repository_never_falls_back(site):
    republish(site, pins={"ncbi-blast+": "2.14.1-1.el9"})
    node = site.node("compute")
    node.dnf("-y", "cluster-node", "sync")
    locks = node.version_locks()
    assert any(l.startswith("ncbi-blast+-0:2.14.1-1.el9") for l in locks)
    assert state_of(node)["profile_repo"] == "cluster-site"
    repo_file = node.path("etc/yum.repos.d/cluster-site.repo")
    with open(repo_file) as handle:
        repo_text = handle.read()

    os.unlink(repo_file)                                             # the repo file is gone
    for args in (("cluster-node", "status"), ("cluster-node", "sync", "--check"), ("-y", "cluster-node", "sync")):
        result = node.dnf(*args, check=False)
        assert result.rc == 1, result
        assert error_lines(result) == [
            "Error: this node synced from the site repository 'cluster-site', which is not configured on this "
            "node: refusing to fall back to another profile (restore that repository, or name the profile "
            "repository with profile_repo in cluster.conf)"], result
    answer = node.dnf("cluster-node", "status", "--json", check=False)
    assert answer.rc == 1 and answer.json["result"] == "error" and "'cluster-site'" in answer.json["error"]
    assert node.version_locks() == locks                             # never unpinned

    with open(repo_file, "w") as handle:                             # disabled
        handle.write(repo_text + "enabled=0\n")
    result = node.dnf("cluster-node", "status", check=False)
    assert result.rc == 1 and "'cluster-site', which is disabled" in result.err, result
    assert node.version_locks() == locks

    # the admin's own choice of profile repository wins
    node.set_role("compute", profile_repo="cluster")
    assert node.dnf("cluster-node", "status", check=False).rc in (0, 100)
    node.set_role("compute")
    with open(repo_file, "w") as handle:                             # back
        handle.write(repo_text)
    assert node.dnf("cluster-node", "status").rc == 0


def test_an_unreadable_rpm_database_is_one_error_line_not_drift(site):
    node = site.node("compute")
    node.dnf("-y", "cluster-node", "sync")
    dbdir = node.path("var/lib/rpm")
    saved = {}
    for name in os.listdir(dbdir):
        with open(os.path.join(dbdir, name), "rb") as handle:
            saved[name] = handle.read()
    size = len(saved["rpmdb.sqlite"])
    with open(os.path.join(dbdir, "rpmdb.sqlite"), "wb") as handle:
        handle.write(os.urandom(size))
    for args in (("cluster-node", "status"), ("cluster-node", "sync", "--check"), ("-y", "cluster-node", "sync")):
        result = node.dnf(*args, check=False)
        assert result.rc == 1, result
        lines = error_lines(result)
        assert len(lines) == 1 and lines[0].startswith(
            "Error: cannot read the rpm database of {}: ".format(node.root)), result
        assert [l for l in result.err.splitlines() if l.strip()] == lines, result     # nothing else from rpm
        assert "missing" not in result.out + result.err
    answer = node.dnf("cluster-node", "status", "--json", check=False)
    assert answer.rc == 1 and answer.json["result"] == "error", answer

    # a database that rpm opens but that lists nothing, on a node that synced before
    for name in os.listdir(dbdir):
        os.unlink(os.path.join(dbdir, name))
    result = node.dnf("cluster-node", "status", check=False)
    assert result.rc == 1 and error_lines(result) == [
        "Error: cannot read the rpm database of {}: it lists no installed package, but this node synced "
        "before".format(node.root)], result


def test_what_the_floor_needs_is_kept_so_the_node_converges(site):
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, dnf, python3-rpm]")
    republish(site)
    node = site.node("compute")
    node.dnf("-y", "cluster-node", "sync")
    assert {"dnf", "python3-rpm"} <= set(state_of(node)["managed"])

    site.edit_role("compute", "packages: [cluster-apps-bio, dnf, python3-rpm]", "packages: [cluster-apps-bio, dnf]")
    republish(site)
    status = node.dnf("cluster-node", "status", "--json", check=False)
    assert status.rc == 0, status
    assert {"name": "python3-rpm", "reason": "still needed by dnf"} in status.json["kept"]
    check = node.dnf("cluster-node", "sync", "--check", check=False)
    assert check.rc == 0 and "keep       python3-rpm (still needed by dnf)" in check.out, check
    sync = node.dnf("-y", "cluster-node", "sync", check=False)
    assert sync.rc == 0 and "python3-rpm" in node.installed(), sync

    # an emptied role whose floor packages were managed
    site.edit_role("compute", "packages: [cluster-apps-bio, dnf]", "packages: []")
    republish(site)
    sync = node.dnf("-y", "cluster-node", "sync", check=False)
    assert sync.rc == 0, sync
    installed = node.installed()
    assert "cluster-apps-bio" not in installed and {"dnf", "python3-rpm"} <= set(installed)
    assert node.dnf("cluster-node", "status").rc == 0


def test_obsoleted_packages_count_as_removals(site, tmp_path):
    extra = build_repo(str(tmp_path / "extra"), [Pkg("bio-suite", "3.0", provides=["ncbi-blast+ = 3.0"],
                                                     obsoletes=["ncbi-blast+ < 3.0"])])
    node = site.node("compute")
    node.set_role("compute", max_remove=0)
    node.dnf("-y", "cluster-node", "sync")
    assert "ncbi-blast+" in node.installed()
    node.add_repo("extra", "file://" + extra)          # a site package that replaces it
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, bio-suite]")
    republish(site)
    refusal = ("role 'compute': the sync would remove 1 packages (1 of them obsoleted), more than max_remove "
               "allows (0)")
    check = node.dnf("cluster-node", "sync", "--check", check=False)
    assert check.rc == 100 and "Note: a real sync refuses this: the sync would remove 1 packages" in check.out, check
    dry = node.dnf("cluster-node", "sync", "--dry-run", "--json", check=False)
    assert dry.rc == 0 and dry.json["refusal"].startswith(refusal), dry
    result = node.dnf("-y", "cluster-node", "sync", check=False)
    assert result.rc == 1 and error_lines(result)[0].startswith("Error: " + refusal), result
    assert "ncbi-blast+" in node.installed() and "bio-suite" not in node.installed()
    result = node.dnf("-y", "cluster-node", "sync", "--allow-mass-removal", check=False)
    assert result.rc == 0, result
    assert "ncbi-blast+" not in node.installed() and "bio-suite" in node.installed()


def test_a_virtual_provide_in_a_role_is_there_when_its_provider_is(site):
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, systemd-sysusers]")
    republish(site)
    node = site.node("compute")
    first = node.dnf("-y", "cluster-node", "sync", check=False)
    assert first.rc == 0, first
    assert "systemd" in node.installed()
    again = node.dnf("-y", "cluster-node", "sync")
    assert "In sync: nothing to do." in again.out
    status = node.dnf("cluster-node", "status", "--json", check=False)
    assert status.rc == 0 and status.json["drift"]["missing"] == [], status
    assert node.dnf("cluster-node", "sync", "--check").rc == 0


def test_the_fleet_shows_a_lost_site_repository_and_an_unreadable_rpm_database_as_errors(site, tmp_path):
    from cluster_testkit.farm import Farm
    farm = Farm(str(tmp_path / "farm"))
    template = site.node("tpl")
    template.dnf("-y", "cluster-node", "sync")
    for number in (1, 2, 3):
        farm.clone("node{}".format(number), template, str(tmp_path / "nodes" / "node{}".format(number)))
    os.unlink(farm.nodes["node2"].path("etc/yum.repos.d/cluster-site.repo"))
    with open(farm.nodes["node3"].path("var/lib/rpm/rpmdb.sqlite"), "r+b") as handle:
        handle.write(os.urandom(os.path.getsize(handle.name)))
    result = site.master.dnf(*farm.fleet_args("status", "node[1-3]"), check=False)
    assert result.rc == 1, result
    lines = [l.split(None, 2) for l in result.out.splitlines() if l.strip()]
    by_node = dict((l[0], l[2]) for l in lines)
    assert by_node["node1"] == "role compute on x86_64, channel stable: in sync, generation 1", result
    assert by_node["node2"].startswith("error: this node synced from the site repository 'cluster-site'"), result
    assert by_node["node3"].startswith("error: cannot read the rpm database of "), result
    assert "Error: 2 nodes could not be asked: node[2-3]" in result.err, result

"""test_sync_ends_in_sync.py on dnf5 hosts (the sid chroot, libdnf5 backend, through
`dnf5 cluster-node` and `dnf-cluster node`): what the role lists is never cleaned up as
an unused dependency, a pin that cannot be met fails before anything is installed, the
node is checked again after the transaction, a node never falls back from its site
profile, an unreadable rpm database is an error, what the floor needs is kept, obsoleted
packages count as removals, and a virtual provide in a role agrees with status."""
import json
import os

import pytest

from cluster_testkit.dnf5root import SRC
from cluster_testkit.extra import Pkg, build_repo

from conftest import publish_site
from test_dnf5 import locks, make_node, plugin, standalone, state_of, world  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


def republish(site, **changes):
    """The site's roles as the next generation, with `changes` to the profile (pins=...)."""
    publish_site(site.tree, site.upstream, site.roles, baseurl=site.url + "/site", **changes)


def error_lines(result):
    return [l for l in result.err.splitlines() if l.startswith("Error:")]


def test_dnf5_a_package_the_role_lists_is_never_removed_as_an_unused_dependency(site, make_node):
    node = make_node("compute")
    plugin(node, "-y", "sync")
    assert {"cluster-apps-bio", "ncbi-blast+"} <= set(node.installed())
    assert node.reasons()["ncbi-blast+"] == "Dependency"
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [ncbi-blast+]")
    republish(site)
    status = standalone(node, "status", "--json", check=False)
    assert status.rc == 100 and status.json["drift"]["extra"] == ["cluster-apps-bio"], status
    assert status.json["drift"]["missing"] == []
    result = plugin(node, "-y", "sync", check=False)
    assert result.rc == 0, result
    installed = node.installed()
    assert "ncbi-blast+" in installed and "cluster-apps-bio" not in installed
    assert standalone(node, "status").rc == 0


def test_dnf5_a_pin_missing_from_the_mirror_fails_before_anything_is_installed(site, make_node):
    republish(site, pins={"ncbi-blast+": "2.14.0-1.el9"})       # a dependency only, on a fresh node
    node = make_node("fresh")
    for door in (plugin, standalone):
        result = door(node, "-y", "sync", check=False)
        assert result.rc == 1, result
        assert error_lines(result) == ["Error: role 'compute': pinned ncbi-blast+-2.14.0-1.el9 is not available "
                                       "from any enabled repository (the sync would install "
                                       "ncbi-blast+-2.14.1-1.el9.x86_64); refusing"], result
        assert node.installed() == {}
    republish(site, pins={"ncbi-blast+": "2.14.1-1.el9"})
    plugin(node, "-y", "sync")
    assert node.installed()["ncbi-blast+"] == "0:2.14.1-1.el9.x86_64"


def test_dnf5_a_node_off_its_profile_after_the_transaction_is_an_error_naming_it(site, make_node):
    node = make_node("compute")
    standalone(node, "-y", "sync")
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, fftw-openmpi]")
    republish(site)
    # something after rpm's transaction takes the new package away again
    erase = [SRC + "/cluster_testkit/dnf5_erase.py"] + node.globals()
    result = node.world.run(["python3"] + erase + ["node", "sync", "-y"], check=False,
                            env={"CLUSTER_TEST_ERASE": "fftw-openmpi"})
    assert result.rc == 1, result
    assert error_lines(result) == ["Error: role 'compute': the transaction ran, but the node is still off its "
                                   "profile: missing fftw-openmpi"], result
    assert state_of(node)["pending"] is None
    plugin(node, "-y", "sync")
    assert standalone(node, "status").rc == 0


def test_dnf5_a_node_that_loses_its_site_repository_never_falls_back(site, make_node):
    republish(site, pins={"ncbi-blast+": "2.14.1-1.el9"})
    node = make_node("compute")
    plugin(node, "-y", "sync")
    pinned = locks(node)
    assert pinned[1]["ncbi-blast+"] == "2.14.1-1.el9"
    assert state_of(node)["profile_repo"] == "cluster-site"
    repo_file = node.path("etc/yum.repos.d/cluster-site.repo")
    with open(repo_file) as handle:
        repo_text = handle.read()
    os.unlink(repo_file)
    for door, args in ((standalone, ("status",)), (plugin, ("sync", "--check")), (plugin, ("-y", "sync"))):
        result = door(node, *args, check=False)
        assert result.rc == 1, result
        assert error_lines(result) == [
            "Error: this node synced from the site repository 'cluster-site', which is not configured on this "
            "node: refusing to fall back to another profile (restore that repository, or name the profile "
            "repository with profile_repo in cluster.conf)"], result
    assert locks(node) == pinned
    with open(repo_file, "w") as handle:
        handle.write(repo_text + "enabled=0\n")
    result = standalone(node, "status", check=False)
    assert result.rc == 1 and "'cluster-site', which is disabled" in result.err, result
    with open(repo_file, "w") as handle:
        handle.write(repo_text)
    assert plugin(node, "status").rc == 0 and locks(node) == pinned


def test_dnf5_an_unreadable_rpm_database_is_one_error_line_not_drift(site, make_node):
    node = make_node("compute")
    plugin(node, "-y", "sync")
    dbdir = node.path("var/lib/rpm")
    assert "rpmdb.sqlite" in os.listdir(dbdir)
    path = os.path.join(dbdir, "rpmdb.sqlite")
    size = os.path.getsize(path)
    with open(path, "wb") as handle:
        handle.write(os.urandom(size))
    for door, args in ((standalone, ("status",)), (plugin, ("status",)), (plugin, ("sync", "--check")),
                       (standalone, ("-y", "sync"))):
        result = door(node, *args, check=False)
        assert result.rc == 1, result
        lines = error_lines(result)
        assert len(lines) == 1 and lines[0].startswith(
            "Error: cannot read the rpm database of {}: ".format(node.root)), result
        assert not [l for l in result.err.splitlines() if l.lower().startswith("error") and l not in lines], result
        assert "missing" not in result.out + result.err
    answer = standalone(node, "status", "--json", check=False)
    assert answer.rc == 1 and json.loads(answer.out)["result"] == "error", answer


def test_dnf5_what_the_floor_needs_is_kept_so_the_node_converges(site, make_node):
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, dnf, python3-rpm]")
    republish(site)
    node = make_node("compute")
    plugin(node, "-y", "sync")
    assert {"dnf", "python3-rpm"} <= set(state_of(node)["managed"])
    site.edit_role("compute", "packages: [cluster-apps-bio, dnf, python3-rpm]", "packages: [cluster-apps-bio, dnf]")
    republish(site)
    status = standalone(node, "status", "--json", check=False)
    assert status.rc == 0, status
    assert {"name": "python3-rpm", "reason": "still needed by dnf"} in status.json["kept"]
    check = plugin(node, "sync", "--check", check=False)
    assert check.rc == 0 and "keep       python3-rpm (still needed by dnf)" in check.out, check
    sync = plugin(node, "-y", "sync", check=False)
    assert sync.rc == 0 and "python3-rpm" in node.installed(), sync

    site.edit_role("compute", "packages: [cluster-apps-bio, dnf]", "packages: []")       # emptied
    republish(site)
    sync = standalone(node, "-y", "sync", "--allow-mass-removal", check=False)
    assert sync.rc == 0, sync
    installed = node.installed()
    assert "cluster-apps-bio" not in installed and {"dnf", "python3-rpm"} <= set(installed)
    assert plugin(node, "status").rc == 0


def test_dnf5_obsoleted_packages_count_as_removals(site, make_node):
    build_repo(os.path.join(site.www, "extra"), [Pkg("bio-suite", "3.0", provides=["ncbi-blast+ = 3.0"],
                                                     obsoletes=["ncbi-blast+ < 3.0"])])
    node = make_node("compute")
    node.set_role("compute", max_remove=0)
    plugin(node, "-y", "sync")
    assert "ncbi-blast+" in node.installed()
    node.add_repo("extra", site.url + "/extra/")
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, bio-suite]")
    republish(site)
    refusal = ("role 'compute': the sync would remove 1 packages (1 of them obsoleted), more than max_remove "
               "allows (0)")
    check = plugin(node, "sync", "--check", check=False)
    assert check.rc == 100 and "Note: a real sync refuses this: the sync would remove 1 packages" in check.out, check
    dry = standalone(node, "sync", "--dry-run", "--json", check=False)
    assert dry.rc == 0 and dry.json["refusal"].startswith(refusal), dry
    result = plugin(node, "-y", "sync", check=False)
    assert result.rc == 1 and error_lines(result)[0].startswith("Error: " + refusal), result
    assert "ncbi-blast+" in node.installed() and "bio-suite" not in node.installed()
    result = standalone(node, "-y", "sync", "--allow-mass-removal", check=False)
    assert result.rc == 0, result
    assert "ncbi-blast+" not in node.installed() and "bio-suite" in node.installed()


def test_dnf5_a_virtual_provide_in_a_role_is_there_when_its_provider_is(site, make_node):
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, systemd-sysusers]")
    republish(site)
    node = make_node("compute")
    first = plugin(node, "-y", "sync", check=False)
    assert first.rc == 0, first
    assert "systemd" in node.installed()
    assert "In sync: nothing to do." in standalone(node, "-y", "sync").out
    status = plugin(node, "status", "--json", check=False)
    assert status.rc == 0 and status.json["drift"]["missing"] == [], status
    assert standalone(node, "sync", "--check").rc == 0

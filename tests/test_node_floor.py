"""The node floor and the removal limit, with the real dnf: whatever a profile says,
kernel*, glibc, systemd, bash, rpm, dnf, openssh-server, the plugin, what cluster.conf
protects and what dnf protects are never removed or downgraded by a sync, and a sync
that would remove more than max_remove packages refuses unless --allow-mass-removal."""
import json
import os

from cluster_testkit.extra import Pkg, build_repo
from dnf_plugin_cluster.head import publish, repodata

FLOOR_HELD = ("bash", "glibc", "systemd", "rpm", "filesystem", "python3-dnf-plugin-cluster", "python3-dnf")


def one_error(result):
    assert result.rc == 1, result
    errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.err, result
    return errors[0]


def test_a_profile_that_empties_a_role_never_strips_the_node(site):
    """The issue's repro: an image root synced to compute (bash, glibc, systemd, rpm came
    in as dependencies), then a profile with the role emptied. It used to remove all 36
    packages. Now the removal limit stops it first; allowed, it removes the role's
    packages and what only they needed, and keeps the floor and what the floor needs."""
    node = site.node("image")
    node.dnf("-y", "cluster-node", "sync")
    before = node.installed()
    site.edit_role("compute", "groups: [cluster-node]", "groups: []")
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: []")
    site.publish()

    error = one_error(node.dnf("-y", "cluster-node", "sync", check=False))
    assert "role 'compute': the sync would remove" in error and "more than max_remove allows (4)" in error
    assert "--allow-mass-removal" in error
    assert node.installed() == before

    dry = node.dnf("cluster-node", "sync", "--dry-run").out
    assert "keep       python3-dnf-plugin-cluster (node floor)" in dry
    assert "Note: a real sync refuses this" in dry

    out = node.dnf("-y", "cluster-node", "sync", "--allow-mass-removal").out
    assert "keep       python3-dnf-plugin-cluster (node floor)" in out
    after = node.installed()
    for name in FLOOR_HELD:
        assert name in after, name
    for name in ("cluster-node", "cluster-apps-bio", "slurm-slurmd", "ncbi-blast+"):
        assert name not in after, name
    assert node.dnf("cluster-node", "status").rc == 0
    assert node.dnf("-y", "cluster-node", "sync").out.count("In sync: nothing to do.") == 1


def test_older_pins_for_the_floor_are_not_applied(site):
    """Pins from a head node running older dnf, rpm and glibc: the node keeps its own
    (reported, not drift); a pin below the floor's names still moves other packages."""
    build_repo(os.path.join(site.www, "older"), [
        Pkg("glibc", "2.34", "99", requires=["filesystem"], noarch=False),
        Pkg("rpm", "4.16.1.3", "33", requires=["glibc"], noarch=False),
        Pkg("dnf", "4.14.0", "16", requires=["python3-dnf"])])
    node = site.node("compute")
    node.add_repo("older", "{}/older/".format(site.url))
    node.dnf("-y", "cluster-node", "sync")
    node.dnf("-y", "install", "dnf")
    before = node.installed()
    good = publish.current(site.tree)
    pins = {"glibc": "2.34-99.el9", "rpm": "4.16.1.3-33.el9", "dnf": "4.14.0-16.el9", "openmpi": "4.1.5-1.el9"}
    for md in publish.arch_repos(site.tree).values():
        repodata.replace(md, "cluster", publish.PROFILE_FILE, json.dumps(dict(good, pins=pins)).encode())

    out = node.dnf("-y", "cluster-node", "sync").out
    for name, have in (("glibc", "2.34-100.el9"), ("rpm", "4.16.1.3-34.el9"), ("dnf", "4.14.0-17.el9")):
        assert "keep       {} (".format(name) in out, out
        assert "locked {} is older than the installed {}; not applied)".format(pins[name], have) in out, out
    after = node.installed()
    for name in ("glibc", "rpm", "dnf"):
        assert after[name] == before[name], name
    assert after["openmpi"].startswith("0:4.1.5-1.el9.")          # not the floor: the pin applies
    status = node.dnf("cluster-node", "status", "--json")
    assert status.rc == 0 and status.json["drift"]["wrong_version"] == []
    assert sorted(k["name"] for k in status.json["kept"]) == ["dnf", "glibc", "rpm"]


def test_cluster_conf_protects_and_limits_removal(site):
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, tmux, filesystem]")
    site.publish()
    node = site.node("compute")
    node.set_role("compute", protected="tmux, cluster-apps-*", max_remove="1")
    node.dnf("-y", "cluster-node", "sync")
    site.edit_role("compute", "packages: [cluster-apps-bio, tmux, filesystem]", "packages: []")
    site.edit_role("compute", "groups: [cluster-node]", "groups: [cluster-scheduler-slurm]")
    site.publish()

    plan = node.dnf("cluster-node", "sync", "--dry-run").out
    assert "keep       tmux (protected in cluster.conf)" in plan
    assert "keep       cluster-apps-bio (protected in cluster.conf)" in plan
    assert "keep       filesystem (still needed by bash)" in plan        # the floor needs it
    before = node.installed()
    error = one_error(node.dnf("-y", "cluster-node", "sync", check=False))
    assert "more than max_remove allows (1)" in error, error
    assert node.installed() == before
    node.dnf("-y", "cluster-node", "sync", "--allow-mass-removal")
    after = node.installed()
    assert "cluster-node" not in after and "opa-basic-tools" not in after
    for name in ("tmux", "cluster-apps-bio", "filesystem", "bash", "python3-dnf-plugin-cluster"):
        assert name in after, name


def test_bad_floor_settings_in_cluster_conf_are_one_line(site):
    node = site.node("compute")
    for key, value, message in (("max_remove", "-1", "max_remove must be a whole number"),
                                ("max_remove", "lots", "max_remove must be a whole number"),
                                ("protected", "../etc/*", "invalid protected pattern '../etc/*'")):
        node.set_role("compute", **{key: value})
        error = one_error(node.dnf("cluster-node", "status", check=False))
        assert "cluster.conf: " + message in error, error

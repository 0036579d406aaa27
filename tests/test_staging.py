"""Staging, as the seed's test node did it, in at most three commands after the build
(issue 20): the packager builds into `testing`; a canary node with `channel = testing`
in its cluster.conf follows it; `publish --lock-from @canary` makes what the canary runs
the compute lock; the fleet rollout brings the other compute nodes to exactly it. And
`cluster-repo promote`, which copies the tested RPMs (never rebuilt) into stable.
Real rpmbuild, createrepo_c and dnf 4 in --installroot roots; the fleet through
ClusterShell's exec worker over an image-root farm."""
import gzip
import hashlib
import json
import os
import re
import shutil

import pytest

from cluster_testkit import copy_project
from dnf_plugin_cluster.head import publish

from conftest import cluster_repo, tree_snapshot
from test_dnf5 import make_node, plugin, world  # noqa: F401 (the dnf5 world's fixtures)

BIO_TESTED = "1.0-2.el9"


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def indexed(repo):
    """{file name: sha256} of the packages a repository's primary metadata lists."""
    with open(os.path.join(repo, "repodata", "repomd.xml")) as handle:
        repomd = handle.read()
    href = re.search(r'<data type="primary">.*?<location href="([^"]+)"', repomd, re.S).group(1)
    with gzip.open(os.path.join(repo, href), "rt") as handle:
        primary = handle.read()
    out = {}
    for block in primary.split("<package ")[1:]:
        checksum = re.search(r'<checksum type="sha256" pkgid="YES">([0-9a-f]+)<', block).group(1)
        location = re.search(r'<location href="([^"]+)"', block).group(1)
        out[os.path.basename(location)] = checksum
    return out


@pytest.fixture(scope="module")
def tested(tmp_path_factory, cluster_repo_el9):
    """(project, OUTDIR): the session's stable tree, plus a testing channel built from a
    project where cluster-apps-bio (a metapackage) and dnf-plugin-cluster (a spec with
    subpackages) have new Releases; x86_64 only."""
    work = tmp_path_factory.mktemp("staging")
    project = copy_project(str(work / "project"))
    for rel, old, new in (("metapackages/cluster-apps-bio.yaml", 'release: "1"', 'release: "2"'),
                          ("specs/dnf-plugin-cluster.spec", "Release:        1%{?dist}",
                           "Release:        2%{?dist}")):
        path = os.path.join(project, rel)
        with open(path) as handle:
            text = handle.read()
        assert old in text, rel
        with open(path, "w") as handle:
            handle.write(text.replace(old, new))
    out = str(work / "repo")
    shutil.copytree(cluster_repo_el9, out, symlinks=True)
    cluster_repo("-C", project, "build", out, "--channel", "testing", "--arch", "x86_64")
    return project, out


def test_staging_takes_three_commands_after_the_build(site, tested, tmp_path):
    from cluster_testkit.farm import Farm
    _, built = tested
    testing_url = "{}/cluster/testing/$releasever/$basearch/".format(site.url)
    # the fleet's default node command, `dnf-cluster -q node`: the nodes' syncs change
    # packages through it here (test_lock's --lock-from asks through `dnf -q cluster-node`)
    farm = Farm(str(tmp_path / "farm"), door="dnf-cluster")
    (tmp_path / "groups.d").mkdir()
    (tmp_path / "groups.d" / "cluster.yaml").write_text(
        "cluster:\n  compute: 'canary01,compute[01-02]'\n  canary: 'canary01'\n")
    (tmp_path / "groups.conf").write_text("[Main]\ndefault: cluster\nautodir: $CFGDIR/groups.d\n")
    fleet = ("--worker", "exec", "--node-command", farm.node_command, "--groups-conf", str(tmp_path / "groups.conf"))
    site.master.write("etc/dnf/plugins/cluster.conf", "[main]\nrole = master\n[master]\nsite = {}\nroles = {}\n"
                      .format(os.path.dirname(site.tree), site.roles))

    # the site before: compute locked, every node synced and in sync; cluster-release's
    # .repo file configures cluster-testing, disabled
    site.publish("--lock")
    nodes = {}
    for name in ("canary01", "compute01", "compute02"):
        node = site.node(name)
        node.add_repo("cluster-testing", testing_url, enabled=0)
        node.dnf("-y", "cluster-node", "sync")
        nodes[name] = farm.add(name, node)
    canary, others = nodes["canary01"], [nodes["compute01"], nodes["compute02"]]
    before = others[0].dnf("cluster-node", "status", "--json").json
    assert before["in_sync"] and before["lock_digest"]
    assert canary.installed()["cluster-apps-bio"] == "0:1.0-1.el9.noarch"
    # the test node follows testing: one line in its cluster.conf (set up once)
    canary.set_role("compute", channel="testing")

    # (a) the packager builds into testing (the fixture did: cluster-apps-bio 1.0-2)
    shutil.copytree(os.path.join(built, "testing"), os.path.join(site.www, "cluster", "testing"))

    commands = []

    def admin(*args):
        commands.append(args)
        return site.master.dnf(*args)

    # (b) the canary takes the tested build; the admin checks it there
    admin("cluster-master", "sync", "-w", "@canary", "-y", *fleet)
    assert canary.installed()["cluster-apps-bio"] == "0:{}.noarch".format(BIO_TESTED)
    seen = canary.dnf("cluster-node", "status", "--json", "--packages").json
    assert seen["in_sync"] and (seen["channel"], seen["channel_from"], seen["update"]) == (
        "testing", "cluster.conf", "latest"), seen
    assert "channel testing (cluster.conf)" in canary.dnf("cluster-node", "status").out
    for node in others:                        # stable nodes never saw it, and stay in sync
        assert node.installed()["cluster-apps-bio"] == "0:1.0-1.el9.noarch"
        assert node.dnf("cluster-node", "status", "--json").json["lock_digest"] == before["lock_digest"]

    # (c) what the canary runs becomes the compute lock, and the fleet rolls it out
    admin("cluster-master", "publish", "--lock-from", "@canary", "--message", "cluster-apps-bio 1.0-2 tested", *fleet)
    prof = publish.current(site.tree)
    lock = dict((e["name"], e["evr"]) for e in prof["roles"]["compute"]["arches"]["x86_64"]["lock"])
    ran = dict((p["name"], p["evr"]) for p in seen["packages"])
    assert lock["cluster-apps-bio"] == BIO_TESTED
    assert all(ran[name] == evr for name, evr in lock.items()), "the lock is what the canary ran"
    admin("cluster-master", "sync", "-w", "@compute", "-y", *fleet)

    assert len(commands) <= 3, commands
    digests = set()
    for node in others:
        status = node.dnf("cluster-node", "status", "--json").json
        assert status["in_sync"] and status["channel"] == "stable" and status["channel_from"] == "role", status
        digests.add(status["lock_digest"])
        installed = node.installed()
        assert installed["cluster-apps-bio"] == "0:{}.noarch".format(BIO_TESTED)
        for name, evr in lock.items():             # exactly the tested builds
            assert installed[name].rsplit(".", 1)[0] == (evr if ":" in evr else "0:" + evr), name
    assert len(digests) == 1 and digests != {before["lock_digest"]}
    # the fleet view: the compute nodes on the tested lock, the test node apart
    fleet_status = site.master.dnf("cluster-master", "status", "-w", "@compute", *fleet)
    assert re.search(r"^compute\[01-02\] \(2\) +role compute on x86_64, channel stable: in sync, generation 3, "
                     r"lock digest {}$".format(digests.pop()[:12]), fleet_status.out, re.M), fleet_status
    assert re.search(r"^canary01 \(1\) +role compute on x86_64, channel testing \(cluster.conf\): in sync, "
                     r"generation 3$", fleet_status.out, re.M), fleet_status


def test_dnf5_nodes_stage_the_same_way(site, tested, make_node, tmp_path):
    """On libdnf5: the test node follows testing by its cluster.conf; a stable node takes
    exactly the locked testing-only build and nothing else from testing."""
    from cluster_testkit.farm import Farm
    _, built = tested
    testing_url = "{}/cluster/testing/$releasever/$basearch/".format(site.url)
    site.publish("--lock")
    shutil.copytree(os.path.join(built, "testing"), os.path.join(site.www, "cluster", "testing"))
    test_node = make_node("canary")
    stable = make_node("stable")
    for node in (test_node, stable):
        node.add_repo("cluster-testing", testing_url, enabled=0)
    test_node.set_role("compute", channel="testing")
    plugin(test_node, "-y", "sync")
    assert test_node.installed()["cluster-apps-bio"] == "0:{}.noarch".format(BIO_TESTED)
    seen = plugin(test_node, "status", "--json").json
    assert seen["in_sync"] and (seen["channel"], seen["channel_from"]) == ("testing", "cluster.conf"), seen
    plugin(stable, "-y", "sync")
    assert stable.installed()["cluster-apps-bio"] == "0:1.0-1.el9.noarch"

    # the lock from a dnf 4 node that ran the tested build, then the dnf5 stable node
    canary = site.node("canary01")
    canary.add_repo("cluster-testing", testing_url, enabled=0)
    canary.set_role("compute", channel="testing")
    canary.dnf("-y", "cluster-node", "sync")
    farm = Farm(str(tmp_path / "farm"))
    farm.add("canary01", canary)
    site.master.dnf("cluster-master", "publish", "--repo-dir", site.tree, "--lock-from", "canary01",
                    "--worker", "exec", "--node-command", farm.node_command)
    lock = dict((e["name"], e["evr"]) for e in
                publish.current(site.tree)["roles"]["compute"]["arches"]["x86_64"]["lock"])
    assert lock["cluster-apps-bio"] == BIO_TESTED
    plugin(stable, "-y", "sync")
    status = plugin(stable, "status", "--json").json
    assert status["in_sync"] and status["lock_digest"] and status["channel_from"] == "role", status
    installed = stable.installed()
    for name, evr in lock.items():
        assert installed[name].rsplit(".", 1)[0] == (evr if ":" in evr else "0:" + evr), name


def test_promote_copies_the_tested_rpms_into_stable(tested, tmp_path):
    project, built = tested
    out = str(tmp_path / "repo")
    shutil.copytree(built, out, symlinks=True)
    stable, testing = os.path.join(out, "9"), os.path.join(out, "testing", "9")
    before = tree_snapshot(out)

    def promote(*args, **kwargs):
        return cluster_repo("-C", project, "promote", *args, **kwargs)

    # refusals: one line each, nothing changed
    nothing = str(tmp_path / "stable-only")
    shutil.copytree(built, nothing, symlinks=True, copy_function=os.link,
                    ignore=lambda d, n: ["testing"] if d == built else [])
    # a stable build of the tested NEVRA made some other way (builds here are
    # reproducible: the same inputs give the same bytes in both channels)
    clash = str(tmp_path / "clash")
    shutil.copytree(built, clash, symlinks=True, copy_function=os.link)
    clashing = os.path.join(clash, "9", "x86_64", "Packages", "cluster-apps-bio-{}.noarch.rpm".format(BIO_TESTED))
    with open(clashing, "wb") as handle:
        handle.write(b"another build")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "file").write_text("x")
    for args, where, error in (
            (("no-such-package", out), out, "cluster-repo: error: unknown package 'no-such-package': no spec of this "
                                            "project has that name (promote takes source package names)"),
            (("cluster-apps-bio", clash), clash, "cluster-repo: error: {}: stable has cluster-apps-bio-{}.noarch.rpm "
                                                 "with other content than the tested build: published files are "
                                                 "never replaced (bump the Release and build again)".format(
                                                     clashing, BIO_TESTED)),
            (("cluster-apps-bio", nothing), nothing, "cluster-repo: error: {}: nothing in testing: build into it "
                                                     "first (`cluster-repo build OUTDIR --channel testing`)".format(
                                                         os.path.join(nothing, "testing", "9"))),
            (("cluster-apps-bio", str(plain)), str(plain), "cluster-repo: error: {}: not a repository tree "
                                                           "`cluster-repo build` made (no .cluster-repo stamp): "
                                                           "promote works on a build's OUTDIR".format(plain))):
        snapshot = tree_snapshot(where)
        refused = promote(*args, check=False)
        assert refused.returncode == 1 and refused.stderr.strip() == error, refused
        assert "Traceback" not in refused.stderr
        assert tree_snapshot(where) == snapshot
    assert tree_snapshot(out) == before

    done = promote("cluster-apps-bio", "dnf-plugin-cluster", out, "--arch", "x86_64")
    assert "cluster-repo: 2 promoted" in done.stdout, done
    with open(os.path.join(testing, ".cluster-build.json")) as handle:
        tested_files = dict((n, e["files"]) for n, e in json.load(handle)["packages"].items())
    copied = tested_files["cluster-apps-bio"] + tested_files["dnf-plugin-cluster"]
    names = set(os.path.basename(f) for f in copied)
    assert {"cluster-apps-bio-1.0-2.el9.noarch.rpm", "cluster-apps-bio-1.0-2.el9.src.rpm",
            "python3-dnf-plugin-cluster-0.1.0-2.el9.noarch.rpm", "python3-dnf-plugin-cluster-dnf4-0.1.0-2.el9.noarch.rpm",
            "cluster-repo-0.1.0-2.el9.noarch.rpm",
            "dnf-plugin-cluster-0.1.0-2.el9.src.rpm"} <= names, sorted(names)
    for rel in copied:                         # the very files tested: same bytes
        assert sha256(os.path.join(stable, rel)) == sha256(os.path.join(testing, rel)), rel
    for sub in ("x86_64", "SRPMS"):           # both channels list them, with those checksums
        here = [f for f in copied if f.startswith(sub + "/")]
        for tree in (stable, testing):
            listed = indexed(os.path.join(tree, sub))
            for rel in here:
                assert listed[os.path.basename(rel)] == sha256(os.path.join(testing, rel)), (tree, rel)
    # the older stable builds stay; the testing tree is as it was
    assert os.path.exists(os.path.join(stable, "x86_64", "Packages", "cluster-apps-bio-1.0-1.el9.noarch.rpm"))
    after = tree_snapshot(out, "testing")
    assert after == dict((k[len("testing/"):], v) for k, v in before.items() if k.startswith("testing/"))
    # the stable build manifest takes the tested builds over: build --update keeps them
    with open(os.path.join(stable, ".cluster-build.json")) as handle:
        assert json.load(handle)["packages"]["cluster-apps-bio"]["evr"] == BIO_TESTED
    # promoting again copies nothing and changes no file
    again = tree_snapshot(out)
    assert "0 files added" in promote("cluster-apps-bio", out, "--arch", "x86_64").stdout
    assert set(tree_snapshot(out, "9", "x86_64", "Packages")) == set(
        k[len("9/x86_64/Packages/"):] for k in again if k.startswith("9/x86_64/Packages/"))


def test_the_channel_key_of_cluster_conf(tmp_path):
    from dnf_plugin_cluster import nodeconf
    from dnf_plugin_cluster.errors import ClusterError
    conf = tmp_path / "cluster.conf"
    conf.write_text("[main]\nrole = compute\nchannel = testing\n")
    assert nodeconf.read(None, [str(tmp_path)]).channel == "testing"
    conf.write_text("[main]\nrole = compute\n")
    assert nodeconf.read(None, [str(tmp_path)]).channel is None
    for bad in ("unstable", "Testing", "testing stable"):
        conf.write_text("[main]\nrole = compute\n\nchannel = {}\n".format(bad))
        with pytest.raises(ClusterError) as err:
            nodeconf.read(None, [str(tmp_path)])
        assert str(err.value) == "{}:4: channel = '{}' is not a channel (want stable or testing)".format(conf, bad)


def test_a_bad_channel_stops_the_node_commands_in_one_line(node_factory):
    node = node_factory("badchannel")
    node.set_role("compute", channel="beta")
    for command in (("cluster-node", "status"), ("cluster-node", "sync", "--dry-run")):
        result = node.dnf(*command, check=False)
        errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
        assert result.rc == 1 and "Traceback" not in result.err, result
        assert errors == ["Error: {}:4: channel = 'beta' is not a channel (want stable or testing)".format(
            node.path("etc/dnf/plugins/cluster.conf"))], result

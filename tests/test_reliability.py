"""Faults and hostile input, with the real dnf: a sync killed mid-transaction, two syncs
at once, an unreachable repository, tampered or unsigned metadata, hostile comps and
role files, and the packages dnf protects."""
import json
import os
import subprocess

import pytest

from cluster_testkit.gpgkey import make_key
from conftest import (SLOW, kill_during_the_slow_transaction, make_comps_repo, state_of, tree_snapshot,
                      wait_for)

def slow_node(site, name):
    node = site.node(name)
    node.add_repo("slow", "{}/slow/".format(site.url))
    return node


def test_killed_sync_is_finished_by_the_next_one(slow_site):
    node = slow_node(slow_site, "killed")
    kill_during_the_slow_transaction(node, node.dnf_args("-y", "cluster-node", "sync"))
    assert state_of(node)["pending"]            # the intent was recorded before the transaction

    rerun = node.dnf("-y", "cluster-node", "sync")
    assert "Complete!" in rerun.out
    installed = node.installed()
    for name in SLOW + ["cluster-node", "cluster-apps-bio", "slurm-slurmd"]:
        assert name in installed, name
    assert node.dnf("cluster-node", "status").rc == 0
    state = state_of(node)
    assert state["pending"] is None
    # nothing lost: what the killed run installed is known as the profile's, so it can go later
    assert set(SLOW) | {"cluster-node", "cluster-apps-bio"} <= set(state["managed"])
    slow_site.edit_role("compute", "packages: [cluster-apps-bio, {}]".format(", ".join(SLOW)),
                        "packages: [cluster-apps-bio]")
    slow_site.publish()
    node.dnf("-y", "cluster-node", "sync")
    assert not set(SLOW) & set(node.installed())


def test_two_syncs_at_once_serialize(slow_site):
    node = slow_node(slow_site, "twice")
    first = node.start(node.dnf_args("-y", "cluster-node", "sync"))
    assert wait_for(lambda: any(os.path.exists(node.path("opt/slow/" + n)) for n in SLOW))
    second = node.start(node.dnf_args("-y", "cluster-node", "sync"))
    by_hand = node.start(node.dnf_args("-y", "install", "htop"))  # plain dnf meets dnf's own rpmdb lock
    results = [p.communicate() + (p.returncode,) for p in (first, second, by_hand)]
    assert [r[2] for r in results] == [0, 0, 0], results
    assert "Complete!" in results[0][0]
    assert "In sync: nothing to do." in results[1][0]           # it planned after the first one finished
    assert "Waiting for another cluster-node sync" in results[1][1]
    installed = node.installed()
    assert set(SLOW) | {"cluster-node", "htop"} <= set(installed)
    assert node.dnf("cluster-node", "status").rc == 0


def test_unreachable_repository_changes_nothing(site):
    node = site.node("offline")
    node.dnf("-y", "cluster-node", "sync")
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-md]")
    site.publish()
    before, state = node.installed(), state_of(node)
    site.server.stop()
    for args in (("-y", "cluster-node", "sync"), ("cluster-node", "status")):
        result = node.dnf(*args, check=False)
        assert result.rc == 1
        errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
        assert len(errors) == 1 and "Failed to download metadata for repo" in errors[0], result
    assert node.installed() == before and state_of(node) == state


def test_tampered_profile_is_refused(site):
    from dnf_plugin_cluster.head import publish, repodata
    md = publish.arch_repos(site.tree)["x86_64"]
    path = repodata.location(md, "cluster")
    good = publish.current(site.tree)
    evil = dict(good, roles=dict(good["roles"], compute=dict(good["roles"]["compute"], groups=[])))
    import gzip
    with gzip.open(path, "wb") as handle:               # same name, listed checksum no longer matches
        handle.write(json.dumps(evil).encode())
    node = site.node("fresh")
    result = node.dnf("-y", "cluster-node", "sync", check=False)
    assert result.rc == 1 and node.installed() == {}
    assert "checksum" in result.err.lower() or "checksum" in result.out.lower(), result


def signed_site_node(site, name, home_url=None):
    """A node that checks the site repository's repomd.xml signature (repo_gpgcheck)."""
    root = site.make_root(name)
    root.add_repo("base", "{}/base/$basearch/".format(site.url))
    root.add_repo("cluster", "{}/cluster/$releasever/$basearch/".format(site.url))
    root.add_repo("cluster-site", "{}/site/$releasever/$basearch/".format(site.url), repo_gpgcheck=1,
                  gpgkey="{}/site/RPM-GPG-KEY-cluster-site".format(site.url))
    root.set_role("compute")
    return root


def test_profile_outside_the_signature_is_refused(tmp_path, site):
    """Every step changes the profile for real (a package added, or the next generation),
    so repomd.xml always differs from the one the old signature covers: no step depends
    on timing."""
    from dnf_plugin_cluster import profile
    from dnf_plugin_cluster.head import publish, repodata
    home = str(tmp_path / "gnupg")
    key_id, _ = make_key(home)
    signed = site.publish("--sign-key", key_id, "--gnupghome", home, "--json").json
    assert signed["generation"] == 2
    for md in publish.arch_repos(site.tree).values():
        assert os.path.exists(os.path.join(md, "repomd.xml.asc"))

    first = signed_site_node(site, "signed-ok")
    first.dnf("-y", "cluster-node", "sync")
    assert "cluster-node" in first.installed()
    assert first.dnf("cluster-node", "status", "--json").json["published_generation"] == 2

    # a tampered profile: a real change, put in place without the key (the old .asc stays)
    good = publish.current(site.tree)
    evil = json.loads(json.dumps(good))
    evil["roles"]["compute"]["arches"]["x86_64"]["packages"].append("tmux")
    assert profile.digest(evil) != profile.digest(good)
    for md in publish.arch_repos(site.tree).values():
        repodata.replace(md, "cluster", publish.PROFILE_FILE, profile.dumps(evil).encode())
    refused = signed_site_node(site, "signed-refused")
    result = refused.dnf("-y", "cluster-node", "sync", check=False)
    assert result.rc == 1 and refused.installed() == {}
    assert "signature" in result.err.lower() or "gpg" in result.err.lower(), result
    status = first.dnf("cluster-node", "status", check=False)
    assert status.rc == 1                                    # the synced node refuses it as well
    assert "tmux" not in first.installed()

    # publishing without the key into the signed tree is refused: it would leave a stale signature
    before = tree_snapshot(site.www, "site")
    unsigned = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                               check=False)
    errors = [l for l in unsigned.err.splitlines() if l.startswith("Error:")]
    assert unsigned.rc == 1 and len(errors) == 1 and "pass --sign-key" in errors[0], unsigned
    assert tree_snapshot(site.www, "site") == before

    # re-signed (the next generation, a new profile by construction): accepted again
    assert site.publish("--sign-key", key_id, "--gnupghome", home, "--json").json["generation"] == 3
    again = signed_site_node(site, "signed-again")
    again.dnf("-y", "cluster-node", "sync")
    assert "tmux" not in again.installed()
    status = first.dnf("cluster-node", "status", "--json").json
    assert status["in_sync"] and status["published_generation"] == 3


def test_a_key_that_cannot_sign_changes_nothing(tmp_path, site):
    """--sign-key names a key whose secret part this keyring lacks: publish refuses before
    writing anything, on every arch (signed and unsigned trees alike)."""
    home, public_only = str(tmp_path / "gnupg"), str(tmp_path / "public-only")
    key_id, public = make_key(home)
    os.makedirs(public_only, mode=0o700)
    subprocess.run(["gpg", "--homedir", public_only, "--batch", "--import"], input=public, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for stage in ("unsigned", "signed"):
        before = tree_snapshot(site.www, "site")
        result = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                                 "--sign-key", key_id, "--gnupghome", public_only, check=False)
        errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
        assert result.rc == 1 and len(errors) == 1, result
        assert "cannot sign with key '{}'".format(key_id) in errors[0]
        assert "Traceback" not in result.err
        assert tree_snapshot(site.www, "site") == before, stage
        if stage == "unsigned":
            site.publish("--sign-key", key_id, "--gnupghome", home)


LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE comps [\n <!ENTITY a "aaaaaaaaaaaaaaaaaaaa">\n'
          + "".join(' <!ENTITY {} "{}">\n'.format(chr(98 + i), ("&" + chr(97 + i) + ";") * 10) for i in range(8))
          + ']>\n<comps><group><id>&i;</id><name>x</name></group></comps>\n')


@pytest.mark.parametrize("comps_text,message", [
    (LAUGHS, "entity declarations are not allowed"),
    ("<comps><group><id>cluster-x</id>", "malformed XML"),
    ("<html><body/></html>", "not a comps document (root element <html>)"),
], ids=["billion laughs", "truncated", "not comps"])
def test_hostile_comps_from_a_repository(standin_el9, make_root, tmp_path, comps_text, message):
    make_comps_repo(os.path.join(standin_el9, "x86_64"), str(tmp_path / "evil"), comps_text)
    node = make_root("node")
    node.add_repo("evil", "file://{}/evil".format(tmp_path))
    for args in (("cluster-group", "list"), ("-y", "cluster-group", "install", "cluster-x")):
        result = node.dnf(*args, check=False, timeout=120)
        assert result.rc == 1
        errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
        assert len(errors) == 1 and message in errors[0] and "repository 'evil'" in errors[0], result
    assert node.installed() == {}


@pytest.mark.parametrize("text,pattern", [
    ("groups: [cluster-node\n", r"compute\.yaml:\d+: invalid YAML"),
    ("groups: [cluster-node]\nrequires: [x]\n", r"compute\.yaml:2: unknown key 'requires'"),
    ("groups: [cluster-node]\npackages: [../../etc/shadow]\n", r"compute\.yaml:2: packages: invalid package name"),
    ("groups: [cluster-node]\nchannel: nightly\n", r"compute\.yaml:2: channel must be one of stable, testing"),
    ("!!python/object/apply:os.system [touch /tmp/pwned]\n",
     r"compute\.yaml:1: invalid YAML: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"),
    ("a: &a [x, x, x, x, x, x, x, x]\n" + "".join("{0}: &{0} [{1}]\n".format(chr(98 + i), ", ".join(
        ["*" + chr(97 + i)] * 8)) for i in range(9)), r"compute\.yaml:\d+: invalid YAML: aliases"),
], ids=["malformed", "unknown key", "path-like name", "bad channel", "yaml object tag", "yaml alias bomb"])
def test_bad_role_files_change_nothing(site, text, pattern):
    import re
    from dnf_plugin_cluster.head import publish
    with open(os.path.join(site.roles, "compute.yaml"), "w") as handle:
        handle.write(text)
    repomd = os.path.join(publish.arch_repos(site.tree)["x86_64"], "repomd.xml")
    with open(repomd, "rb") as handle:
        before = handle.read()
    result = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                             check=False)
    assert result.rc == 1
    errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
    assert len(errors) == 1 and re.search(pattern, errors[0]), result
    with open(repomd, "rb") as handle:
        assert handle.read() == before
    assert not os.path.exists("/tmp/pwned")


def test_protected_packages_are_never_removed(site):
    """dnf itself, and what protected.d names (Fedora ships such files; here the kernel).
    The running kernel is protected on live nodes by dnf and by the plan alike; libdnf
    detects no running kernel inside an installroot (dnf_sack_set_rootdir), so an image
    root relies on protected.d, as tested here."""
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, dnf, kernel-core]")
    site.publish()
    node = site.node("protected")
    node.write("etc/dnf/protected.d/kernel.conf", "kernel-core\n")
    with open(node.path("etc/dnf/dnf.conf"), "a") as handle:
        handle.write("protected_packages=dnf,glob:{}/*.conf\n".format(node.path("etc/dnf/protected.d")))
    node.dnf("-y", "cluster-node", "sync")
    assert {"dnf", "kernel-core"} <= set(state_of(node)["managed"])

    site.edit_role("compute", "packages: [cluster-apps-bio, dnf, kernel-core]", "packages: []")
    site.publish()
    out = node.dnf("-y", "cluster-node", "sync").out
    assert "keep       dnf (protected by dnf)" in out
    assert "keep       kernel-core (protected by dnf)" in out
    installed = node.installed()
    assert "dnf" in installed and "python3-dnf" in installed and "kernel-core" in installed
    assert "cluster-apps-bio" not in installed
    assert node.dnf("cluster-node", "status").rc == 0

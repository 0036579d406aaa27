"""The site repository with the real dnf: the head node publishes the site's profile into a
repository of its own (never the packager's tree), as numbered generations that can be
listed and rolled back, atomically and one publish at a time, with a generated
cluster-site-release package; builds and rsyncs of the packager's tree never change
what the site published, and a profile change costs nodes the site repository only."""
import json
import os
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET

from cluster_testkit import REPO_ROOT, copy_project
from conftest import cluster_repo, tree_snapshot

NS = "{http://linux.duke.edu/metadata/repo}"


def test_publish_writes_the_site_repository_and_never_the_packagers_tree(site):
    upstream = tree_snapshot(site.www, "cluster")
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, tmux]")
    out = site.publish("--message", "tmux for everyone").out
    assert "Published generation 2" in out
    assert tree_snapshot(site.www, "cluster") == upstream            # the packager's tree is untouched

    top = os.path.dirname(site.tree)
    for arch in ("x86_64", "aarch64"):
        assert os.path.isfile(os.path.join(site.tree, arch, "repodata", "repomd.xml"))
        assert os.path.isfile(os.path.join(site.tree, arch, "Packages", "cluster-site-release-1-1.noarch.rpm"))
    for name in ("0001.json", "0002.json", "index.json"):
        assert os.path.isfile(os.path.join(site.tree, "generations", name)), name
    latest = os.path.join(top, "cluster-site-release-latest-9.noarch.rpm")
    info = subprocess.run(["rpm", "-qp", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n", latest],
                          stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    assert info.strip() == "cluster-site-release-1-1.noarch"        # unchanged inputs: not rebuilt

    # a node installs cluster-site-release from the stable address; its .repo file names the site
    node = site.make_root("fresh")
    node.add_repo("base", "{}/base/$basearch/".format(site.url))
    node.add_repo("cluster", "{}/cluster/$releasever/$basearch/".format(site.url))
    node.dnf("-y", "install", "{}/site/cluster-site-release-latest-9.noarch.rpm".format(site.url))
    with open(node.path("etc/yum.repos.d/cluster-site.repo")) as handle:
        repo = handle.read()
    assert "[cluster-site]" in repo and "baseurl={}/site/$releasever/$basearch/".format(site.url) in repo
    assert "repo_gpgcheck=0" in repo and "gpgkey" not in repo
    node.set_role("compute")
    synced = node.dnf("-y", "cluster-node", "sync").out
    assert "Cluster profile from repository 'cluster-site' (generation 2)" in synced
    assert "tmux" in node.installed()

    # the packager's tree is refused as a site repository, with one line and nothing written
    refused = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.upstream,
                              check=False)
    errors = [l for l in refused.err.splitlines() if l.startswith("Error:")]
    assert refused.rc == 1 and len(errors) == 1 and "tree `cluster-repo build` made" in errors[0], refused
    assert tree_snapshot(site.www, "cluster") == upstream


def test_a_new_base_url_or_key_rebuilds_cluster_site_release(site):
    site.publish("--baseurl", "https://head.example.org/site/")
    packages = os.path.join(site.tree, "x86_64", "Packages")
    assert sorted(os.listdir(packages)) == ["cluster-site-release-1-1.noarch.rpm",
                                            "cluster-site-release-1-2.noarch.rpm"]
    files = subprocess.run(["rpm2cpio", os.path.join(packages, "cluster-site-release-1-2.noarch.rpm")],
                           stdout=subprocess.PIPE, check=True).stdout
    assert b"baseurl=https://head.example.org/site/$releasever/$basearch/" in files
    site.publish()                                      # the base URL is remembered: nothing to rebuild
    assert len(os.listdir(packages)) == 2
    node = site.node("node")
    assert "cluster-site-release" in node.dnf("-q", "repoquery", "--repo", "cluster-site").out

    bad = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                          "--baseurl", "head.example.org site", check=False)
    errors = [l for l in bad.err.splitlines() if l.startswith("Error:")]
    assert bad.rc == 1 and len(errors) == 1 and "invalid --baseurl" in errors[0], bad


def test_generations_history_and_rollback_restore_the_package_set(site):
    node = site.node("compute")
    node.dnf("-y", "cluster-node", "sync")
    assert "cluster-apps-bio" in node.installed()

    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-md]")
    site.publish("--message", "molecular dynamics instead of bio")
    status = node.dnf("cluster-node", "status", "--json", check=False)
    assert status.rc == 100
    assert (status.json["generation"], status.json["published_generation"]) == (1, 2)
    assert "generation     published 2, this node synced to 1" in node.dnf("cluster-node", "status",
                                                                            check=False).out
    node.dnf("-y", "cluster-node", "sync")
    installed = node.installed()
    assert "gromacs-openmpi" in installed and "cluster-apps-bio" not in installed

    history = site.master.dnf("cluster-master", "history", "--repo-dir", site.tree, "--json").json
    assert history["published"] == 2
    assert [g["generation"] for g in history["generations"]] == [1, 2]
    second = history["generations"][1]
    assert second["message"] == "molecular dynamics instead of bio" and second["user"] == "root"
    assert second["time"].endswith("Z") and len(second["digest"]) == 64 and second["action"] == "publish"
    text = site.master.dnf("cluster-master", "history", "--repo-dir", site.tree).out
    assert "molecular dynamics instead of bio" in text and "2*" in text

    rolled = site.master.dnf("cluster-master", "rollback", "1", "--repo-dir", site.tree, "--json").json
    assert rolled["generation"] == 3 and rolled["action"] == "rollback of 1"
    assert rolled["message"] == "rollback to generation 1"
    first, third = (site.master.dnf("cluster-master", "history", "--repo-dir", site.tree, "--json")
                    .json["generations"][i] for i in (0, 2))
    with open(os.path.join(site.tree, "generations", "0001.json")) as a, \
            open(os.path.join(site.tree, "generations", "0003.json")) as c:
        one, three = json.load(a)["profile"], json.load(c)["profile"]
    assert dict(one, generation=3) == three                  # generation 1's roles and pins, as generation 3
    # going back removes what generation 2 brought: more than this small node's max_remove
    node.dnf("-y", "cluster-node", "sync", "--allow-mass-removal")
    installed = node.installed()
    assert "cluster-apps-bio" in installed and "ncbi-blast+" in installed
    assert "cluster-apps-md" not in installed and "gromacs-openmpi" not in installed
    status = node.dnf("cluster-node", "status", "--json").json
    assert status["in_sync"] and (status["generation"], status["published_generation"]) == (3, 3)

    for args, message in ((("rollback", "9"), "no generation 9 in this site repository (generations 1-3)"),
                          (("rollback", "two"), "the generation is a number of 1 or more, not 'two'"),
                          (("history", "3"), "unexpected argument '3'")):
        result = site.master.dnf("cluster-master", *(args + ("--repo-dir", site.tree)), check=False)
        errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
        assert result.rc != 0 and len(errors) == 1 and message in errors[0], result
    assert len(os.listdir(os.path.join(site.tree, "generations"))) == 4


def test_an_invalid_published_profile_is_replaced_with_a_warning(site):
    from dnf_plugin_cluster.head import publish, repodata
    for md in publish.arch_repos(site.tree).values():
        repodata.replace(md, "cluster", publish.PROFILE_FILE, b'{"format":1,"roles":[]}')
    result = site.publish()
    assert "Warning: the published profile is invalid and will be replaced" in result.err
    assert "Published generation 2" in result.out
    assert publish.current(site.tree)["generation"] == 2
    node = site.node("node")
    assert "(generation 2)" in node.dnf("cluster-node", "status", check=False).out


def test_builds_and_rsyncs_of_the_packagers_tree_never_change_the_site_profile(site, tmp_path, cluster_repo_el9):
    """Pins the head node published survive any number of builds of the cluster
    repository and an rsync of it onto the served tree."""
    master = site.master
    master.dnf("-y", "cluster-node", "sync")
    master.dnf("-y", "downgrade", "openmpi-4.1.5-1.el9", "openmpi-devel-4.1.5-1.el9")
    pins = site.publish("--lock", "--json").json["pins"]
    assert pins["openmpi"] == "4.1.5-1.el9" and len(pins) > 10
    site_before = tree_snapshot(site.www, "site")

    # the packager rebuilds into the served tree, twice, and publishes another build by rsync
    project = copy_project(str(tmp_path / "project"))
    served = os.path.join(site.www, "cluster")
    same = ["--baseurl", "file://" + cluster_repo_el9]            # cluster-release as first built
    for _ in range(2):
        cluster_repo("-C", project, "build", served, "--update", *same)
    other = str(tmp_path / "other-build")
    subprocess.run(["cp", "-a", served, other], check=True)
    site_roles = os.path.join(project, "roles", "compute.yaml")
    with open(site_roles) as handle:
        text = handle.read()
    with open(site_roles, "w") as handle:                  # the packager's default profile changes too
        handle.write(text.replace("packages: [cluster-apps-bio]", "packages: []"))
    cluster_repo("-C", project, "build", other, "--update", *same)
    for extra in (["--exclude", "repodata/"], ["--delay-updates"]):
        subprocess.run(["rsync", "-a"] + extra + [other + "/", served + "/"], check=True)
    assert tree_snapshot(site.www, "site") == site_before

    node = site.node("compute")
    node.dnf("-y", "cluster-node", "sync")
    node.dnf("-y", "upgrade")                              # plain dnf keeps the pins (versionlock)
    installed = node.installed()
    assert installed["openmpi"].startswith("0:4.1.5-1.el9.")
    assert "cluster-apps-bio" in installed                 # the site's roles, not the packager's
    status = node.dnf("cluster-node", "status", "--json").json
    assert status["in_sync"] and status["published_generation"] == 2


def test_a_profile_change_costs_nodes_the_site_repository_only(site):
    node = site.node("compute")
    node.dnf("-y", "cluster-node", "sync")
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, tmux]")
    site.publish()
    del site.server.requests[:]
    node.dnf("-y", "cluster-node", "sync")
    assert "tmux" in node.installed()
    fetched = [r for r in site.server.requests if not r.endswith(".rpm")]
    elsewhere = [r for r in fetched if not r.startswith("/site/") and not r.endswith("/repodata/repomd.xml")]
    assert elsewhere == []                                  # nothing from the package repositories' metadata
    assert any(r.endswith("-cluster-profile.json.gz") for r in fetched)
    size = sum(os.path.getsize(os.path.join(site.www, r.lstrip("/"))) for r in fetched
               if r.startswith("/site/") and os.path.exists(os.path.join(site.www, r.lstrip("/"))))
    assert size <= 10 * 1024, (size, fetched)


PUBLISHER = r"""
import sys
sys.path[:0] = [{root!r}, {tests!r}]
from conftest import publish_site
publish_site({tree!r}, {upstream!r}, {roles!r}, message=sys.argv[1])
"""


def check_repomd(path, current_generation=None, keep=3):
    """Problems of one repomd.xml read at one moment (a reader's view): it parses, each
    record is complete, and every file it names exists, unless more than `keep`
    generations were published since (the publisher keeps that many behind)."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        return ["{}: not XML: {}".format(path, err)]
    problems = []
    revision = int(root.find(NS + "revision").text)
    records = root.findall(NS + "data")
    if sorted(r.get("type") for r in records) != ["cluster", "filelists", "other", "primary"]:
        problems.append("{}: records {}".format(path, [r.get("type") for r in records]))
    for record in records:
        checksum = record.find(NS + "checksum")
        if checksum is None or checksum.get("type") != "sha256" or len(checksum.text or "") != 64:
            problems.append("{}: {} has no checksum".format(path, record.get("type")))
        if int(record.find(NS + "timestamp").text) <= 0:
            problems.append("{}: {} has no timestamp".format(path, record.get("type")))
        href = record.find(NS + "location").get("href")
        target = os.path.join(os.path.dirname(os.path.dirname(path)), href)
        if not os.path.exists(target) and (current_generation is None or current_generation() - revision <= keep):
            problems.append("{}: {} names {}, which does not exist".format(path, record.get("type"), href))
    return problems


def test_concurrent_publishes_serialize_and_readers_never_see_a_broken_repomd(site):
    """20 pairs of publishes at once (each a real change: the next generation), with a
    reader polling every repomd.xml meanwhile."""
    from dnf_plugin_cluster.head import publish
    tree = publish.SiteTree(site.tree)
    repomds = [os.path.join(site.tree, arch, "repodata", "repomd.xml") for arch in ("x86_64", "aarch64")]
    script = PUBLISHER.format(root=REPO_ROOT, tests=os.path.dirname(__file__), tree=site.tree,
                              upstream=site.upstream, roles=site.roles)
    seen, problems, done = [0], [], threading.Event()

    def published_now():
        return max(e["generation"] for e in tree.history())

    def reader():
        while not done.is_set():
            for path in repomds:
                problems.extend(check_repomd(path, published_now))
                seen[0] += 1
            done.wait(0.005)          # a poll, not a timer: only to leave the publishers some CPU

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for pair in range(20):
            procs = [subprocess.Popen([sys.executable, "-c", script, "pair {} {}".format(pair, side)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
                     for side in "ab"]
            results = [p.communicate() + (p.returncode,) for p in procs]
            assert [r[2] for r in results] == [0, 0], results
    finally:
        done.set()
        thread.join()
    assert problems == [] and seen[0] > 0
    for path in repomds:
        assert check_repomd(path) == []
    entries = tree.history()
    assert [e["generation"] for e in entries] == list(range(1, 42))
    assert sorted(e["message"] for e in entries[1:]) == sorted(
        "pair {} {}".format(p, s) for p in range(20) for s in "ab")
    assert publish.current(site.tree)["generation"] == 41
    for arch in ("x86_64", "aarch64"):                      # the last few versions' files, no more
        profiles = [f for f in os.listdir(os.path.join(site.tree, arch, "repodata")) if "cluster-profile" in f]
        assert len(profiles) == 1 + publish.KEEP_REPOMD

    # and through the real command: two publishes at once both land, one after the other
    procs = [subprocess.Popen(site.master.dnf_args("cluster-master", "publish", "--roles", site.roles,
                                                   "--repo-dir", site.tree, "--message", side),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              env=site.master.env) for side in ("left", "right")]
    results = [p.communicate() + (p.returncode,) for p in procs]
    assert [r[2] for r in results] == [0, 0], results
    assert sorted(e["message"] for e in tree.history()[-2:]) == ["left", "right"]
    for path in repomds:
        assert check_repomd(path) == []
    node = site.node("node")
    assert "(generation 43)" in node.dnf("-y", "cluster-node", "sync").out


def test_urls_and_texts_that_reach_a_file_are_whole_lines_without_control_characters(site):
    """A trailing line break slipped through `$` (a broken .repo file in
    cluster-site-release, exit 0); a control character, an empty --sign-key (which
    published unsigned) and a kickstart --baseurl that would add lines of its own are
    refused too: one line each, nothing written."""
    before = tree_snapshot(site.tree)

    def refused(*args, **kwargs):
        result = site.master.dnf("cluster-master", *args, check=False)
        errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
        assert result.rc == 1 and len(errors) == 1 and kwargs["says"] in errors[0], result
        assert "Traceback" not in result.err
        assert tree_snapshot(site.tree) == before
        return errors[0]

    publish = ("publish", "--roles", site.roles, "--repo-dir", site.tree)
    refused(*(publish + ("--baseurl", "http://head.example.org/site\n")), says="invalid --baseurl")
    refused(*(publish + ("--baseurl", "http://head.example.org/si\x1bte")), says="invalid --baseurl")
    refused(*(publish + ("--message", "first line\nsecond line")), says="invalid --message")
    refused(*(publish + ("--sign-key", "")), says="--sign-key needs a key id")
    refused(*(publish + ("--sign-key", "ABCD\n")), says="invalid --sign-key")
    line = refused("kickstart", "--role", "compute", "--baseurl", "https://head/site/9/x86_64/\n%post\nreboot",
                   says="invalid --baseurl")
    assert "%post" in line and "\n" not in line
    refused("kickstart", "--role", "compute", "--baseurl", "cluster=https://mirror/cluster 9/", says="invalid --baseurl")
    site.publish("--baseurl", "http://head.example.org/site")        # the plain form still works

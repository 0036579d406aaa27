"""The site repository with the real dnf: the head node publishes the site's profile into a
repository of its own (never the packager's tree), as numbered generations that can be
listed and rolled back, atomically and one publish at a time, with a generated
cluster-site-release package; builds and rsyncs of the packager's tree never change
what the site published, and a profile change costs nodes the site repository only."""
import json
import os
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET

from cluster_testkit import REPO_ROOT, copy_project
from conftest import HOLD_BACK_OPENMPI, cluster_repo, tree_snapshot

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
                          (("history", "9"), "no generation 9 in this site repository"),
                          (("kickstart", "3"), "unexpected argument '3'")):
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
    pins = site.publish("--lock", *HOLD_BACK_OPENMPI, "--json").json["locked"]["compute"]["x86_64"]
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
    # and so do the roles the plugin ships in /etc/cluster/roles: a new release of it
    plugin_spec = os.path.join(project, "specs", "dnf-plugin-cluster.spec")
    with open(plugin_spec) as handle:
        text = handle.read()
    with open(plugin_spec, "w") as handle:
        handle.write(text.replace("Release:        1%{?dist}", "Release:        2%{?dist}", 1))
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

    # and through the real command: two publishes at once both land, one after the other (the same
    # profile: --republish makes each a generation)
    procs = [subprocess.Popen(site.master.dnf_args("cluster-master", "publish", "--roles", site.roles,
                                                   "--repo-dir", site.tree, "--message", side, "--republish"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              env=site.master.env) for side in ("left", "right")]
    results = [p.communicate() + (p.returncode,) for p in procs]
    assert [r[2] for r in results] == [0, 0], results
    assert sorted(e["message"] for e in tree.history()[-2:]) == ["left", "right"]
    for path in repomds:
        assert check_repomd(path) == []
    node = site.node("node")
    assert "(generation 43)" in node.dnf("-y", "cluster-node", "sync").out


def test_dry_run_and_assumeno_preview_publish_and_rollback_and_write_nothing(site, tmp_path):
    """publish and rollback honour --dry-run and dnf's --assumeno: what the next
    generation changes per role and arch (packages, pins with versions), and not one
    byte written: no generation, no lock file, no directory for a first publish."""
    master = site.master
    assert "Published generation 2" in site.publish("--lock", *HOLD_BACK_OPENMPI).out   # locks 4.1.5
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-md, tmux]")
    before = tree_snapshot(site.www, "site")

    dry = site.publish("--lock", "--dry-run")
    assumeno = master.dnf("--assumeno", "cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                          "--lock")
    for result in (dry, assumeno):
        out = result.out.splitlines()
        out = out[out.index("What generation 3 would change, against generation 2 (published now):"):]
        assert result.rc == 0
        compute = out[out.index("  compute aarch64, x86_64:") + 1:]
        compute = compute[:next(i for i, l in enumerate(compute) if not l.startswith("    "))]
        added = [l.split()[1] for l in compute if l.startswith("    add      ")]
        assert "tmux" in added and "cluster-apps-md" in added, out             # with the locked versions
        assert "    remove   cluster-apps-bio 1.0-1.el9" in compute, out
        assert "    lock     openmpi 4.1.5-1.el9 -> 4.1.6-1.el9" in compute, out
        assert "  login aarch64, x86_64:" in out and "    lock     openmpi-devel 4.1.5-1.el9 -> 4.1.6-1.el9" in out
        assert out[-1].startswith("Dry run: nothing was written")
    data = site.publish("--lock", "--dry-run", "--json").json
    assert data["dry_run"] and data["changed"] and (data["published"], data["next_generation"]) == (2, 3)
    compute = [r for r in data["roles"] if (r["role"], r["arch"]) == ("compute", "x86_64")][0]
    assert "tmux" in [a["name"] for a in compute["add"]] and compute["remove"][0]["name"] == "cluster-apps-bio"
    assert {"name": "openmpi", "from": "4.1.5-1.el9", "to": "4.1.6-1.el9"} in compute["pins"]

    rollback = master.dnf("cluster-master", "rollback", "1", "--repo-dir", site.tree, "--dry-run").out.splitlines()
    assert rollback[0] == "What generation 3 would change, against generation 2 (published now):"
    assert "    unlock   openmpi 4.1.5-1.el9" in rollback and not [l for l in rollback if "add " in l], rollback
    assert master.dnf("--assumeno", "cluster-master", "rollback", "1", "--repo-dir", site.tree).out.splitlines() \
        == rollback[:-1] + ["Dry run: nothing was written (--assumeno)."]
    assert tree_snapshot(site.www, "site") == before                       # not one byte written

    fresh = os.path.join(str(tmp_path), "newsite", "9")                    # nothing published there yet
    first = master.dnf("-q", "cluster-master", "publish", "--roles", site.roles, "--repo-dir", fresh, "--dry-run").out
    assert first.startswith("What generation 1 would change, against nothing published yet:")
    assert "  compute aarch64:\n    role added\n" in first and "    add      cluster-apps-bio\n" in first and "cluster-site-release-1-1 is built" in first
    assert not os.path.exists(os.path.dirname(fresh))                       # not even a directory, nor a lock


def test_an_identical_publish_makes_no_new_generation_unless_forced(site):
    before = tree_snapshot(site.www, "site")
    again = site.publish("-q", "--message", "same again")
    assert again.out.strip() == ("Nothing changed: generation 1 (published now) has this profile already; "
                                 "no new generation (--republish publishes it again as generation 2).")
    assert tree_snapshot(site.www, "site") == before
    assert site.publish("--json").json["changed"] is False
    assert site.master.dnf("cluster-master", "rollback", "1", "--repo-dir", site.tree).out.startswith(
        "Nothing changed: generation 1")
    assert "Nothing changed" in site.publish("--dry-run").out

    # what a node does not see in the profile still counts: a new base URL, a site-local package
    assert "Nothing changed" in site.publish("--baseurl", site.url + "/site/", "--dry-run").out    # the same URL
    elsewhere = site.publish("--baseurl", "https://head.example.org/site", "--dry-run").out
    assert "  the profile is unchanged\n  also: cluster-site-release-1-2 is built (the base URL becomes " \
           "https://head.example.org/site)" in elsewhere
    local = os.path.join(site.tree, "x86_64", "Packages")
    release = [f for f in os.listdir(local) if f.startswith("cluster-site-release")][0]
    with open(os.path.join(local, release), "rb") as src, open(os.path.join(local, "site-tool.rpm"), "wb") as dst:
        dst.write(src.read())
    assert "also: the site-local packages in x86_64 are indexed again (they changed)" in site.publish("--dry-run").out
    os.unlink(os.path.join(local, "site-tool.rpm"))

    forced = site.publish("--republish", "--message", "republished on purpose")
    assert "Published generation 2" in forced.out
    assert [e["generation"] for e in site.master.dnf("cluster-master", "history", "--repo-dir", site.tree,
                                                     "--json").json["generations"]] == [1, 2]


def test_publish_refuses_another_release_and_warns_when_nodes_get_a_file_url(site, tmp_path):
    """An EL9 head node's profile (its repositories, its installed packages) into site/8
    is refused before anything is written; a site repository whose cluster-site-release
    would point nodes at file:// (no --baseurl, none before) is published with a warning
    that says how to fix it later."""
    master = site.master
    top = os.path.join(str(tmp_path), "newsite")
    for extra in ((), ("--lock",), ("--dry-run",)):
        refused = master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir",
                             os.path.join(top, "8"), *extra, check=False)
        errors = [l for l in refused.err.splitlines() if l.strip()]
        assert refused.rc == 1 and errors == [
            "Error: {}: cluster-master publish: this head node resolves the profile for release 9 ($releasever) "
            "but --repo-dir is the site repository of release 8: publish release 8's profile from a head node "
            "of that release".format(os.path.join(top, "8"))], refused
    assert not os.path.exists(top)

    warning = ("Warning: cluster-site-release points nodes at file://{0} (no --baseurl): only nodes that mount "
               "{0} there reach it; publish again with --baseurl URL".format(top))
    local = master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", os.path.join(top, "9"))
    assert "Published generation 1" in local.out
    assert [l for l in local.err.splitlines() if l.startswith("Warning: cluster-site-release")][0].startswith(
        warning), local
    fixed = master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", os.path.join(top, "9"),
                       "--baseurl", "https://head.example.org/site")
    assert "Published generation 2" in fixed.out and "Warning: cluster-site-release" not in fixed.err, fixed
    again = master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", os.path.join(top, "9"))
    assert "Nothing changed" in again.out and "Warning" not in again.err, again      # the URL it has stays
    served = site.publish("--dry-run")                                               # the site's: http, no warning
    assert "Warning" not in served.err, served


def _repomds(site):
    out = {}
    for arch in ("x86_64", "aarch64"):
        with open(os.path.join(site.tree, arch, "repodata", "repomd.xml"), "rb") as handle:
            out[arch] = handle.read()
    return out


def test_damaged_bookkeeping_stops_a_publish_before_nodes_see_anything(site):
    """retained.json of the wrong type made publish commit the new generation, then say
    `Error: unexpected TypeError` and exit 1 (every later publish too). Every bookkeeping
    file is checked before anything is written: one line naming it, nothing published."""
    from dnf_plugin_cluster.head import publish
    cases = [
        (".cluster-publish/retained.json", '{"x86_64": 5}', "corrupt retained metadata list"),
        (".cluster-publish/retained.json", '[["a"]]', "corrupt retained metadata list"),
        (".cluster-publish/retained.json", '{"x86_64": [["a", 5]]}', "corrupt retained metadata list"),
        (".cluster-publish/retained.json", '[' * 100000 + ']' * 100000, "corrupt retained metadata list: nested"),
        (".cluster-publish/release.json", '{"release": "7"}', "corrupt release state"),
        (".cluster-publish/release.json", '["x"]', "corrupt release state"),
        (".cluster-publish/release.json", '{"baseurl": 5}', "corrupt release state"),
        ("generations/index.json", '{"generations": [{"generation": "2"}]}', "corrupt generation index"),
        ("generations/index.json", '{"generations": [5]}', "corrupt generation index"),
        ("generations/index.json", '{"generations": {}}', "corrupt generation index"),
    ]
    before = _repomds(site)
    generations = sorted(os.listdir(os.path.join(site.tree, "generations")))
    for rel, text, message in cases:
        path = os.path.join(site.tree, rel)
        with open(path) as handle:
            good = handle.read()
        with open(path, "w") as handle:
            handle.write(text)
        result = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                                 "--republish", check=False)        # the same roles: a publish on purpose
        errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
        assert result.rc == 1 and len(errors) == 1 and "Traceback" not in result.err, (rel, text[:40], result)
        assert "{}: {}".format(path, message) in errors[0], (rel, text[:40], result)
        assert _repomds(site) == before and publish.current(site.tree)["generation"] == 1, (rel, text[:40])
        assert sorted(os.listdir(os.path.join(site.tree, "generations"))) == generations, (rel, text[:40])
        with open(path, "w") as handle:
            handle.write(good)
    result = site.publish("--republish")
    assert "Published generation 2" in result.out and "Warning" not in result.err, result


def test_a_publish_nodes_can_see_never_exits_1(site):
    """What fails after the first repomd.xml is renamed (here: the release package's
    `-latest` link cannot be replaced) is a warning: the generation is published, the
    command says so and exits 0, and the next publish completes it."""
    from dnf_plugin_cluster.head import publish, siterelease
    latest = siterelease.latest_path(publish.SiteTree(site.tree))
    os.remove(latest)
    os.mkdir(latest)
    result = site.publish("--republish", "--message", "second")
    assert result.rc == 0 and "Published generation 2" in result.out, result
    warnings = [l for l in result.err.splitlines() if l.startswith("Warning:")]
    assert len(warnings) == 1 and "Traceback" not in result.err, result
    assert warnings[0].startswith("Warning: generation 2 is published, but finishing the publish failed: ")
    assert publish.current(site.tree)["generation"] == 2
    history = site.master.dnf("cluster-master", "history", "--repo-dir", site.tree, "--json").json
    assert [g["generation"] for g in history["generations"]] == [1, 2] and history["published"] == 2
    os.rmdir(latest)
    result = site.publish("--republish", "--message", "third")
    assert "Published generation 3" in result.out and "Warning" not in result.err, result
    assert os.path.isfile(latest)


def test_a_killed_publish_leaves_no_temporaries_and_no_phantom_generation(site):
    """A kill left generations/NNNN.json.tmpPID behind forever, and a generation file
    written before the renames showed in `history` although nodes never saw it. The
    next publish (under the lock) removes both and uses that number; history lists
    only generations nodes could see."""
    gen = os.path.join(site.tree, "generations")
    with open(os.path.join(gen, "0001.json")) as handle:
        record = json.load(handle)
    record.update(generation=2, message="never published")
    record["profile"]["generation"] = 2
    with open(os.path.join(gen, "0002.json"), "w") as handle:
        json.dump(record, handle)
    stale = [os.path.join(gen, "0002.json.tmp99999"), os.path.join(gen, "index.json.tmp4242"),
             os.path.join(site.tree, ".cluster-publish", "retained.json.tmp777")]
    for path in stale:
        with open(path, "w") as handle:
            handle.write("{")
    history = site.master.dnf("cluster-master", "history", "--repo-dir", site.tree, "--json").json
    assert [g["generation"] for g in history["generations"]] == [1] and history["published"] == 1
    assert "never published" not in site.master.dnf("cluster-master", "history", "--repo-dir", site.tree).out

    assert "Published generation 2" in site.publish("--republish", "--message", "the real second").out
    assert not any(os.path.exists(p) for p in stale)
    assert sorted(os.listdir(gen)) == ["0001.json", "0002.json", "index.json"]
    history = site.master.dnf("cluster-master", "history", "--repo-dir", site.tree, "--json").json
    assert [(g["generation"], g["message"]) for g in history["generations"]][1:] == [(2, "the real second")]


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


def test_write_atomic_never_writes_through_a_planted_link(tmp_path):
    """A link planted at write_atomic()'s temporary name (or at the file itself) is
    replaced, never written through."""
    from dnf_plugin_cluster.files import write_atomic
    outside = tmp_path / "outside"
    outside.write_text("theirs\n")
    target = tmp_path / "tree" / "index.json"
    target.parent.mkdir()
    os.symlink(str(outside), "{}.tmp{}".format(target, os.getpid()))
    write_atomic(str(target), "ours\n")
    assert outside.read_text() == "theirs\n" and target.read_text() == "ours\n"
    assert not os.path.islink(str(target))
    os.unlink(str(target))
    os.symlink(str(outside), str(target))
    write_atomic(str(target), "ours again\n")
    assert outside.read_text() == "theirs\n" and not os.path.islink(str(target))
    assert not [p for p in os.listdir(str(target.parent)) if ".tmp" in p]


def test_publish_never_writes_through_a_link_in_the_site_tree(site, tmp_path):
    """A dangling repodata/.repomd.xml.new made a file outside the tree and left
    repomd.xml a link; generations/, .cluster-publish/, repodata/ pointing elsewhere were
    written through. Now the pending file is made new, and a directory of the tree that
    is a link is refused in one line before anything is written."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    repodata = os.path.join(site.tree, "x86_64", "repodata")
    os.symlink(str(elsewhere / "planted.xml"), os.path.join(repodata, ".repomd.xml.new"))
    result = site.publish("--republish", "--message", "through a dangling link?")
    assert result.rc == 0 and "Published generation 2" in result.out, result
    assert os.listdir(str(elsewhere)) == []
    assert not os.path.islink(os.path.join(repodata, "repomd.xml"))
    assert not os.path.lexists(os.path.join(repodata, ".repomd.xml.new"))

    before = tree_snapshot(site.www, "site")
    for rel in ("generations", ".cluster-publish", os.path.join("x86_64", "repodata"),
                os.path.join("aarch64", "Packages")):
        path = os.path.join(site.tree, rel)
        moved = str(elsewhere / rel.replace(os.sep, "-"))
        os.rename(path, moved)
        os.symlink(moved, path)
        inside = sorted(os.listdir(moved))
        try:
            result = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                                     "--republish", check=False)
            errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
            assert result.rc == 1 and len(errors) == 1 and "Traceback" not in result.err, (rel, result)
            assert errors[0] == "Error: {}: is a symbolic link: publish never writes through a link; make it a " \
                                "directory of the site repository".format(path), errors
            assert sorted(os.listdir(moved)) == inside, rel
        finally:
            os.unlink(path)
            os.rename(moved, path)
    assert tree_snapshot(site.www, "site") == before
    lock = os.path.join(site.tree, ".cluster-publish", "lock")
    os.unlink(lock)
    os.symlink(str(elsewhere / "lockfile"), lock)
    result = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                             "--republish", check=False)
    assert result.rc == 1 and "refusing to follow a symbolic link" in result.err, result
    assert not os.path.lexists(str(elsewhere / "lockfile"))


def test_the_head_node_configuration_makes_publish_work_bare(site):
    """[master] of cluster.conf gives cluster-master its site (SITE, as --baseurl's; SITE/9
    derived, and SITE/9 itself still taken), base URL and roles (default /etc/cluster/roles),
    so `dnf cluster-master publish` works bare; without them publish says, in one line,
    which one is missing; `history N` shows generation N's detail."""
    master = site.master
    top = os.path.dirname(site.tree)

    def error(*args):
        result = master.dnf("cluster-master", *args, check=False)
        errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
        assert result.rc == 1 and len(errors) == 1 and "Traceback" not in result.err, result
        return errors[0]

    assert "no site repository: pass --repo-dir SITE" in error("publish")
    assert "site = SITE in [master]" in error("history")
    conf = master.path("etc/dnf/plugins/cluster.conf")
    with open(conf, "a") as handle:
        handle.write("[master]\nsite = {}\nbaseurl = {}/site\nnode = typo\n".format(top, site.url))
    assert "no roles: pass --roles DIR" in error("publish")
    assert "-w NODESET (or nodes = NODESET in [master]" in error("status")

    shutil.copytree(site.roles, master.path("etc/cluster/roles"))
    roles_file = master.path("etc/cluster/roles/compute.yaml")
    with open(roles_file) as handle:
        text = handle.read()
    with open(roles_file, "w") as handle:
        handle.write(text.replace("packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, tmux]"))
    published = master.dnf("cluster-master", "publish", "--message", "tmux from the config")
    assert "Published generation 2" in published.out, published
    assert "unknown key 'node' in [master]" in published.err
    assert "Roles from {} (the default roles directory)".format(master.path("etc/cluster/roles")) in published.out
    assert "file://" not in published.err                      # baseurl= reached cluster-site-release
    with open(os.path.join(site.tree, "generations", "0002.json")) as handle:
        assert "tmux" in json.load(handle)["profile"]["roles"]["compute"]["arches"]["x86_64"]["packages"]
    assert not os.path.exists(os.path.join(top, "generations"))  # SITE/9, not SITE

    # --repo-dir takes SITE, and SITE/9 as before; both name the same generations
    for where in (top, site.tree):
        data = master.dnf("cluster-master", "history", "--repo-dir", where, "--json").json
        assert [g["generation"] for g in data["generations"]] == [1, 2], where
    detail = master.dnf("cluster-master", "history", "2").out
    assert detail.startswith("Generation 2 (published now)")
    assert "tmux from the config" in detail and "compute" in detail and "x86_64" in detail
    assert "changes against generation 1:" in detail and "add      tmux" in detail, detail
    data = master.dnf("cluster-master", "history", "1", "--json").json
    assert data["generation"]["generation"] == 1 and data["generation"]["message"] == "first generation"
    assert "tmux" not in data["profile"]["roles"]["compute"]["arches"]["x86_64"]["packages"]
    assert data["against"] is None and data["changes"]            # the first: every role is new
    assert "no generation 7" in error("history", "7")
    # --lock alone relocks the published roles: the example roles in /etc/cluster/roles
    # never replace them (here: without tmux there, the published compute keeps it)
    with open(roles_file, "w") as handle:
        handle.write(text)
    relocked = master.dnf("cluster-master", "publish", "--lock", "--message", "relock")
    assert "Published generation 3" in relocked.out and "Roles from" not in relocked.out, relocked
    with open(os.path.join(site.tree, "generations", "0003.json")) as handle:
        assert "tmux" in json.load(handle)["profile"]["roles"]["compute"]["arches"]["x86_64"]["packages"]


def _drop(site, tmp_path, arch, packages, build_arch=None):
    """Build `packages` (cluster_testkit.extra.Pkg) for `build_arch` (default `arch`)
    and drop the RPMs into the site repository's <arch>/Packages/, as an admin does."""
    from cluster_testkit.extra import build_repo
    out = build_repo(str(tmp_path / "built-{}-{}".format(arch, len(os.listdir(str(tmp_path))))), packages,
                     arch=build_arch or arch)
    names = []
    for name in sorted(os.listdir(out)):
        if name.endswith(".rpm"):
            shutil.copy2(os.path.join(out, name), os.path.join(site.tree, arch, "Packages", name))
            names.append(name)
    return names


def _indexed(site, arch):
    """File names of the packages an arch repository of the site indexes (primary.xml)."""
    from dnf_plugin_cluster.head import repodata
    from dnf_plugin_cluster import mdfile
    location = repodata.location(os.path.join(site.tree, arch, "repodata"), "primary")
    root = ET.fromstring(mdfile.read_bounded(location, 1 << 24, "primary"))
    common = "{http://linux.duke.edu/metadata/common}"
    return set(os.path.basename(p.find(common + "location").get("href")) for p in root.findall(common + "package"))


def test_site_local_rpms_are_indexed_locked_and_installed_from_one_publish(site, tmp_path):
    """RPMs dropped into the site repository's <arch>/Packages/ are what one `publish
    --lock` resolves with, locks and indexes (a noarch one in every arch): a role listing
    them publishes in one go and nodes of both arches install them at once."""
    from cluster_testkit.extra import Pkg
    tool = _drop(site, tmp_path, "x86_64", [Pkg("site-tool", files=["/opt/site/tool"])])       # noarch
    _drop(site, tmp_path, "x86_64", [Pkg("site-lib", files=["/opt/site/lib"], noarch=False)])
    _drop(site, tmp_path, "aarch64", [Pkg("site-lib", files=["/opt/site/lib"], noarch=False)])
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, site-tool, site-lib]")
    locked = site.publish("--lock", "--json").json
    assert locked["generation"] == 2
    for arch in ("x86_64", "aarch64"):
        pins = locked["locked"]["compute"][arch]
        assert pins["site-tool"] == "1.0-1.el9" and pins["site-lib"] == "1.0-1.el9", (arch, pins)
        assert tool[0] in _indexed(site, arch), arch                 # the noarch RPM: in every arch
    assert os.path.isfile(os.path.join(site.tree, "aarch64", "Packages", tool[0]))
    for arch in ("x86_64", "aarch64"):
        node = site.node("node-" + arch, arch=arch)
        node.dnf("-y", "cluster-node", "sync")
        installed = node.installed()
        assert installed["site-tool"] == "0:1.0-1.el9.noarch", arch
        assert installed["site-lib"] == "0:1.0-1.el9.{}".format(arch), arch
        assert node.dnf("cluster-node", "status").rc == 0
    assert "Nothing changed" in site.publish("--lock").out          # all indexed: nothing left to do
    cache = site.master.path("var/cache/dnf")
    assert not [n for n in os.listdir(cache) if n.startswith("cluster-site-local")]      # nothing left behind


def test_a_site_local_package_missing_for_an_arch_is_refused_naming_that_arch(site, tmp_path):
    """A package whose only build lies in aarch64/Packages is refused for x86_64 (not for
    the arch that has it); a file rpm cannot read is one line naming it; nothing is
    published either time."""
    from cluster_testkit.extra import Pkg
    _drop(site, tmp_path, "aarch64", [Pkg("arm-only", files=["/opt/site/arm"], noarch=False)])
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, arm-only]")
    before = tree_snapshot(site.www, "site")
    for extra in ((), ("--lock",)):
        result = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                                 *extra, check=False)
        errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
        assert result.rc == 1 and len(errors) == 1 and "Traceback" not in result.err, result
        assert errors[0].endswith("compute.yaml:4: role 'compute': package 'arm-only' is not available for "
                                  "x86_64"), errors
    assert tree_snapshot(site.www, "site") == before

    bad = os.path.join(site.tree, "x86_64", "Packages", "broken-1.0-1.noarch.rpm")
    with open(bad, "w") as handle:
        handle.write("not an rpm\n")
    result = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                             check=False)
    errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
    assert result.rc == 1 and len(errors) == 1 and "Traceback" not in result.err, result
    assert errors[0].startswith("Error: {}: not an RPM package rpm can read".format(bad)), errors
    os.unlink(bad)
    assert tree_snapshot(site.www, "site") == before

"""`make srpm`: the project's own SRPMs made reproducibly from the tree (issue 22 item 8).
Upstream hosts no tarball, so the specs' Source0 is the plain name of the tarball
`cluster-repo build` makes, with the comment Fedora's SourceURL guideline asks for (how
to regenerate it), and the project's URL lives in one place (dnf_plugin_cluster.__url__)
that setup.py, the man pages, the metapackages and `cluster-repo lint` follow."""
import os
import re
import subprocess
import sys

import dnf_plugin_cluster
from cluster_testkit import REPO_ROOT, copy_project
from conftest import cluster_repo

VERSION = dnf_plugin_cluster.__version__


def make_srpm(outdir, *extra):
    # -o setup: `make test` has set up already; PYTHON: the interpreter running the tests
    return subprocess.run(["make", "-s", "-o", "setup", "srpm", "PYTHON=" + sys.executable,
                           "SRPM_DIR=" + str(outdir)] + list(extra), cwd=REPO_ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)


def payload(srpm):
    """The SRPM's cpio payload (tarball and spec, their modes and times)."""
    return subprocess.run("rpm2cpio '{}'".format(srpm), shell=True, stdout=subprocess.PIPE, check=True).stdout


def spec_in(srpm, name):
    # rpm 4.20's rpm2cpio (Debian 13) names a source package's files ./NAME, older ones NAME
    return subprocess.run("rpm2cpio '{0}' | cpio -i --quiet --to-stdout {1}.spec ./{1}.spec".format(srpm, name),
                          shell=True,
                          stdout=subprocess.PIPE, check=True, universal_newlines=True).stdout


def test_make_srpm_twice_gives_the_same_tarballs_and_the_srpm_rebuilds(tmp_path):
    from cluster_repo.rpmbuild import rpmbuild
    from cluster_repo.targets import get_target
    runs = []
    for run in ("first", "second"):
        out = tmp_path / run
        proc = make_srpm(out)
        assert proc.returncode == 0, proc.stdout
        runs.append(str(out))
    tarballs = ["dnf-plugin-cluster-{}.tar.gz".format(VERSION), "dnf5-plugin-cluster-{}.tar.gz".format(VERSION)]
    srpms = ["dnf-plugin-cluster-{}-1.el9.src.rpm".format(VERSION), "dnf5-plugin-cluster-{}-1.el9.src.rpm".format(VERSION)]
    assert sorted(os.listdir(runs[0])) == sorted(os.listdir(runs[1])) == sorted(tarballs + srpms)
    for name in tarballs:
        with open(os.path.join(runs[0], name), "rb") as one, open(os.path.join(runs[1], name), "rb") as two:
            assert one.read() == two.read(), name
    for name, tarball, srpm in zip(("dnf-plugin-cluster", "dnf5-plugin-cluster"), tarballs, srpms):
        first, second = os.path.join(runs[0], srpm), os.path.join(runs[1], srpm)
        assert payload(first) == payload(second), srpm
        listed = subprocess.run(["rpm", "-qpl", first], stdout=subprocess.PIPE, check=True,
                                universal_newlines=True).stdout.split()
        assert sorted(listed) == sorted([tarball, name + ".spec"])
        url = subprocess.run(["rpm", "-qp", "--qf", "%{url}", first], stdout=subprocess.PIPE, check=True,
                             universal_newlines=True).stdout
        assert url == dnf_plugin_cluster.__url__
        spec = spec_in(first, name)
        source0 = re.search(r"^Source0:\s*(\S+)$", spec, re.M).group(1)
        assert "/" not in source0 and source0.endswith("-%{version}.tar.gz"), source0
        comment = spec[:spec.index("\nSource0:")].rsplit("\nURL:", 1)[1]
        assert "Upstream publishes no release tarball" in comment and "make srpm" in comment, comment
    # what a reviewer runs on them: rpmlint with Fedora's configuration (and ours)
    for srpm in srpms:
        proc = subprocess.run([os.path.join(REPO_ROOT, "rpmlint", "rpmlint-all"), os.path.join(runs[0], srpm)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        assert proc.returncode == 0 and " 0 errors, 0 warnings" in proc.stdout, proc.stdout
    # the SRPM builds again from nothing but itself, with the target's macros
    rpms = tmp_path / "rpms"
    written = rpmbuild(os.path.join(runs[1], srpms[0]), "--rebuild", rpmdir=str(rpms),
                       defines=get_target("el9").macros)
    built = sorted(os.path.basename(p) for p in written)
    for name in ("python3-dnf-plugin-cluster", "python3-dnf-plugin-cluster-dnf4", "cluster-repo"):
        assert "{}-{}-1.el9.noarch.rpm".format(name, VERSION) in built, built


def test_make_srpm_for_another_target_uses_its_macros(tmp_path):
    proc = make_srpm(tmp_path, "TARGET=fc42")
    assert proc.returncode == 0, proc.stdout
    assert "dnf-plugin-cluster-{}-1.fc42.src.rpm".format(VERSION) in os.listdir(str(tmp_path))


def test_srpm_of_an_unknown_name_is_one_line_and_writes_nothing(tmp_path):
    out = str(tmp_path / "out")
    proc = cluster_repo("srpm", "--outdir", out, "dnf-plugin-cluster", "nope", check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == ("cluster-repo: error: no SRPM of 'nope' is made from the tree: choose from "
                           "dnf-plugin-cluster, dnf5-plugin-cluster\n")
    assert not os.path.exists(out)


def test_the_project_url_lives_in_one_place():
    """setup.py, the man pages' generator and the metapackages read dnf_plugin_cluster.__url__;
    every hand-written spec of the project (not the tools', whose URL is upstream's) says it."""
    from cluster_repo import metapkg
    sys.path.insert(0, os.path.join(REPO_ROOT, "tools"))
    try:
        import gen_docs
    finally:
        sys.path.pop(0)
    url = dnf_plugin_cluster.__url__
    assert metapkg.DEFAULT_URL == url and gen_docs.URL == url
    setup_url = subprocess.run([sys.executable, "setup.py", "--url"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, check=True, universal_newlines=True).stdout.split()[-1]
    assert setup_url == url
    specs = [os.path.join(REPO_ROOT, "specs", f) for f in os.listdir(os.path.join(REPO_ROOT, "specs"))
             if f.endswith(".spec")]
    specs.append(os.path.join(REPO_ROOT, "dnf_plugin_cluster", "head", "templates", "cluster-site-release.spec"))
    for spec in specs:
        with open(spec) as handle:
            assert re.search(r"^URL:\s+(\S+)$", handle.read(), re.M).group(1) == url, spec


def test_lint_names_a_hand_written_spec_with_another_url(tmp_path):
    """A site that changes __url__ and forgets a hand-written spec (or a spec that drifts)
    is told in one line naming file and line; `cluster-repo lint` exits 1."""
    project = copy_project(str(tmp_path / "project"))
    spec = os.path.join(project, "specs", "dnf5-plugin-cluster.spec")
    with open(spec) as handle:
        text = handle.read()
    number = text[:text.index("\nURL:")].count("\n") + 2
    with open(spec, "w") as handle:
        handle.write(text.replace("\nURL:            ", "\nURL:            https://elsewhere.example.net/#", 1))
    proc = cluster_repo("-C", project, "lint", check=False)
    assert proc.returncode == 1
    problems = [line for line in proc.stderr.splitlines() if "URL:" in line]
    assert problems == ["{}:{}: URL: is 'https://elsewhere.example.net/#{}', not the project's URL '{}' "
                        "(dnf_plugin_cluster.__url__): write that".format(spec, number, dnf_plugin_cluster.__url__,
                                                                          dnf_plugin_cluster.__url__)], proc.stderr

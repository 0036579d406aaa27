"""What a packager reviews: the metapackage spec and cluster-release's .repo file come
from cluster_repo/templates/; the specs carry an SPDX License:, a URL: and a %changelog
from the YAML (or one generated, reproducibly); the templates ship with the plugin."""
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

from cluster_testkit import REPO_ROOT
from conftest import cluster_repo
from test_definitions import read, write
from cluster_repo import build, metapkg, template
from dnf_plugin_cluster.errors import ClusterError

TEMPLATES = ("cluster.repo.in", "metapackage.spec.in", "sysusers.in")


def rpm_query(path, *args):
    return subprocess.run(["rpm", "-qp", "--nosignature"] + list(args) + [path], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, universal_newlines=True, check=True).stdout


@pytest.fixture
def own_templates(tmp_path, monkeypatch):
    """A copy of templates/ that the test may edit, used by template.fill."""
    copy = str(tmp_path / "templates")
    shutil.copytree(template.TEMPLATE_DIR, copy)
    monkeypatch.setattr(template, "TEMPLATE_DIR", copy)
    return copy


def test_the_spec_is_the_template_filled(own_templates):
    pkg = metapkg.load(os.path.join(REPO_ROOT, "metapackages", "cluster-users.yaml"))
    committed = read(os.path.join(REPO_ROOT, "specs", "cluster-users.spec"))
    assert metapkg.render(pkg, "metapackages/cluster-users.yaml") == committed
    # every line of the template that is not a note or a placeholder is in the spec, in order
    fixed = [l for l in read(os.path.join(own_templates, "metapackage.spec.in")).splitlines()
             if not l.startswith("@#") and "@" not in l]
    rest = iter(committed.splitlines())
    assert all(any(line == spec_line for spec_line in rest) for line in fixed)
    # a reviewer's edit to the template is what the next render writes
    path = os.path.join(own_templates, "metapackage.spec.in")
    write(path, read(path).replace("%global debug_package %{nil}\n",
                                   "%global debug_package %{nil}\n# reviewed by the packagers\n"))
    assert "%{nil}\n# reviewed by the packagers\n%{!?_sysusersdir" in metapkg.render(
        pkg, "metapackages/cluster-users.yaml")


def test_template_placeholders(own_templates):
    path = os.path.join(own_templates, "probe.in")
    write(path, "@# a note for reviewers, left out\na=@a@ mail@@example.org $releasever %{dist}\n@b@\nend\n")
    assert template.fill("probe.in", {"a": "1", "b": ""}) == "a=1 mail@example.org $releasever %{dist}\nend\n"
    assert template.fill("probe.in", {"a": "1", "b": "two\nlines"}) == \
        "a=1 mail@example.org $releasever %{dist}\ntwo\nlines\nend\n"
    with pytest.raises(ClusterError) as err:
        template.fill("probe.in", {"a": "1"})
    assert str(err.value) == "{}: template placeholder @b@ has no value".format(path)
    write(path, "stray @ sign\n")
    with pytest.raises(ClusterError) as err:
        template.fill("probe.in", {})
    assert str(err.value).startswith(path + ": bad template:")


def test_repo_file_comes_from_its_template(own_templates):
    text = build.repo_file_text("https://mirror.example.org/cluster/el/", signed=True)
    sections = re.findall(r"^\[([a-z-]+)\]$", text, flags=re.M)
    assert sections == ["cluster", "cluster-testing", "cluster-source"]
    assert "baseurl=https://mirror.example.org/cluster/el/$releasever/$basearch/\n" in text
    assert "baseurl=https://mirror.example.org/cluster/el/testing/$releasever/$basearch/\n" in text
    assert text.count("gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-cluster\n") == 3
    assert text.count("gpgcheck=1\n") == 6 and "@" not in text
    unsigned = build.repo_file_text("file:///srv/a%20b", signed=False)
    assert "gpgkey" not in unsigned and unsigned.count("gpgcheck=0\n") == 6
    assert "baseurl=file:///srv/a%20b/$releasever/SRPMS/\n" in unsigned
    assert "\n\n\n" not in unsigned
    path = os.path.join(own_templates, "cluster.repo.in")
    write(path, read(path).replace("metadata_expire=6h", "metadata_expire=1h"))
    assert "metadata_expire=1h" in build.repo_file_text("https://x.example.org", signed=False)


@pytest.mark.parametrize("url", ["https://x.example.org/a b", "https://x.example.org/\ngpgcheck=0",
                                 "https://a.example.org,https://b.example.org", "x.example.org", "",
                                 "https://x.example.org/#frag", "https://x.example.org/'"])
def test_a_baseurl_dnf_would_misread_is_refused(project, tmp_path, url):
    out = str(tmp_path / "out")
    proc = cluster_repo("-C", project, "build", out, "--baseurl", url, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cluster-repo: error: --baseurl "), proc.stderr
    assert not os.path.exists(out)


def test_the_templates_ship_with_the_plugin(cluster_repo_el9, tmp_path):
    srpm = os.path.join(cluster_repo_el9, "9", "SRPMS", "dnf-plugin-cluster-0.1.0-1.el9.src.rpm")
    subprocess.run("rpm2cpio '{}' | cpio -i --quiet -D '{}'".format(srpm, tmp_path), shell=True, check=True)
    with tarfile.open(str(tmp_path / "dnf-plugin-cluster-0.1.0.tar.gz")) as tar:
        names = set(tar.getnames())
    for name in TEMPLATES:
        assert "dnf-plugin-cluster-0.1.0/cluster_repo/templates/" + name in names
    # setup.py installs them as package data beside the module that reads them
    lib = str(tmp_path / "lib")
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", lib], cwd=REPO_ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    for name in TEMPLATES:
        assert os.path.isfile(os.path.join(lib, "cluster_repo", "templates", name)), name


def test_built_metapackages_have_license_url_and_changelog(cluster_repo_el9):
    rpm = os.path.join(cluster_repo_el9, "9", "x86_64", "Packages", "cluster-node-1.0-1.el9.x86_64.rpm")
    assert rpm_query(rpm, "--qf", "%{LICENSE}|%{URL}") == "MIT|https://cluster.example.org/"
    assert rpm_query(rpm, "--changelog") == (
        "* Wed Nov 25 2026 Cluster Packagers <cluster-packagers@example.org> - 1.0-1\n"
        "- Pulls in: cluster-slurm-client, cluster-mpi, libpsm2 (x86_64 only), Lmod\n"
        "  (EL only), environment-modules (Fedora only), nfs-utils, chrony,\n"
        "  python3-dnf-plugin-cluster\n"
        "- Suggests: cluster-mpi-openmpi\n"
        "- Provides: cluster-role(compute)\n"
        "- Generated from metapackages/cluster-node.yaml (it has no changelog: list)\n\n")
    spec = read(os.path.join(REPO_ROOT, "specs", "cluster-node.spec"))
    assert spec.splitlines()[1] == "# Owners: Cluster Packagers <cluster-packagers@example.org>"


def test_the_generated_changelog_does_not_depend_on_when_or_where_it_renders(project):
    spec = os.path.join(project, "specs", "cluster-apps-bio.spec")
    first = read(spec)
    os.remove(spec)
    env = dict(os.environ, TZ="Pacific/Kiritimati", LC_ALL="C", LANG="C", SOURCE_DATE_EPOCH="0")
    cluster_repo("-C", project, "render", env=env)
    assert read(spec) == first


def _with_changelog(project, entries, url="", release='"2"'):
    path = os.path.join(project, "metapackages", "cluster-apps-bio.yaml")
    text = read(path).replace('release: "1"', "release: " + release) + url + "changelog:\n" + entries
    write(path, text)
    return path


CHANGES = """  - date: 2026-12-01
    author: Jane Doe <jane@example.org>
    version: 1.0-2
    text:
      - Require hdf5 for 100% of the new databases
      - Second line
  - date: 2026-11-25
    author: jdoe
    version: "1.0-1"
    text: First packaged
"""


def test_changelog_and_url_from_the_definition(project, tmp_path):
    _with_changelog(project, CHANGES, url="url: https://example.org/bio\nlicense: MIT OR Apache-2.0\n")
    cluster_repo("-C", project, "render")
    spec = read(os.path.join(project, "specs", "cluster-apps-bio.spec"))
    assert "URL:            https://example.org/bio\n" in spec
    assert "License:        MIT OR Apache-2.0\n" in spec
    assert spec.endswith("%changelog\n"
                         "* Tue Dec 01 2026 Jane Doe <jane@example.org> - 1.0-2\n"
                         "- Require hdf5 for 100%% of the new databases\n- Second line\n\n"
                         "* Wed Nov 25 2026 jdoe - 1.0-1\n- First packaged\n")
    out = str(tmp_path / "out")
    cluster_repo("-C", project, "build", out, "--arch", "x86_64")
    rpm = os.path.join(out, "9", "x86_64", "Packages", "cluster-apps-bio-1.0-2.el9.noarch.rpm")
    assert rpm_query(rpm, "--changelog") == (
        "* Tue Dec 01 2026 Jane Doe <jane@example.org> - 1.0-2\n"
        "- Require hdf5 for 100% of the new databases\n- Second line\n\n"
        "* Wed Nov 25 2026 jdoe - 1.0-1\n- First packaged\n\n")
    assert rpm_query(rpm, "--qf", "%{URL}|%{LICENSE}") == "https://example.org/bio|MIT OR Apache-2.0"


BAD_CHANGELOGS = [
    ("out of order", CHANGES.replace("2026-11-25", "2026-12-02"), 18,
     r"changelog entries go newest first: 2026-12-02 comes after 2026-12-01"),
    ("newest entry not the package's", CHANGES.replace("version: 1.0-2", "version: 1.0-3"), 12,
     r"the newest changelog entry is for 1.0-3 but the package is 1.0-2: add an entry"),
    ("impossible date", CHANGES.replace("2026-12-01", "2026-02-30"), 12,
     r"invalid YAML value: day is out of range for month"),
    ("impossible quoted date", CHANGES.replace("2026-12-01", '"2026-02-30"'), 12,
     r"'date' must be a day written YYYY-MM-DD"),
    ("date not a date", CHANGES.replace("2026-12-01", "yesterday"), 12, r"'date' must be a day written YYYY-MM-DD"),
    ("date too early", CHANGES.replace("2026-11-25", "1969-12-31"), 18, r"'date' must be between 1990 and 2099"),
    ("date with a time", CHANGES.replace("2026-12-01", "2026-12-01 10:00:00"), 12, r"'date' is a day"),
    ("missing text", CHANGES.replace("    text: First packaged\n", ""), 18, r"missing key 'text' in changelog"),
    ("unknown key", CHANGES.replace("    text: First packaged\n", "    txt: First packaged\n"), 21,
     r"unknown key 'txt' in changelog entry"),
    ("version without release", CHANGES.replace('"1.0-1"', '"1.0"'), 20, r"'version' is the version-release"),
    ("empty text", CHANGES.replace("text: First packaged", "text: []"), 21, r"'text' must say what changed"),
    ("empty list", "  []\n", 11, r"'changelog' must not be empty"),
]


@pytest.mark.parametrize("what,entries,line,pattern", BAD_CHANGELOGS, ids=[b[0] for b in BAD_CHANGELOGS])
def test_a_bad_changelog_is_refused(project, what, entries, line, pattern):
    path = _with_changelog(project, entries)
    text = read(path)
    if what == "empty list":
        write(path, text.replace("changelog:\n  []\n", "changelog: []\n"))
    before = read(os.path.join(project, "specs", "cluster-apps-bio.spec"))
    for command in (["render"], ["lint"]):
        proc = cluster_repo("-C", project, *command, check=False)
        first = proc.stderr.splitlines()[0]
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert "{}:{}: ".format(path, line) in first and re.search(pattern, first), (command, first)
    assert read(os.path.join(project, "specs", "cluster-apps-bio.spec")) == before

"""What a packager reviews: the metapackage spec and cluster-release's .repo file come
from cluster_repo/templates/, which ship with the plugin."""
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

from cluster_testkit import REPO_ROOT
from test_definitions import read, write
from cluster_repo import build, metapkg, template
from dnf_plugin_cluster.errors import ClusterError

TEMPLATES = ("cluster.repo.in", "metapackage.spec.in", "sysusers.in")


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


def test_the_templates_ship_with_the_plugin(cluster_repo_el9, tmp_path):
    srpm = os.path.join(cluster_repo_el9, "9", "SRPMS", "python3-dnf-plugin-cluster-0.1.0-1.el9.src.rpm")
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

"""Fixtures of real tools: RPMs built with rpmbuild, repositories made with
createrepo_c, throwaway systems driven by the real /usr/bin/dnf."""
import os
import shutil
import subprocess

import pytest

from cluster_testkit import REPO_ROOT, standin
from cluster_testkit.dnfroot import DnfRoot
from dnf_plugin_cluster import comps


def pytest_configure(config):
    if os.geteuid() != 0:
        raise pytest.UsageError("the suite installs into dnf installroots and must run as root "
                                "(run `make test` as root, or through sudo)")


@pytest.fixture(scope="session")
def standin_el9(tmp_path_factory):
    """The stand-in EL9 base: OUT/<arch>/ repositories of empty RPMs with real names."""
    return standin.build(str(tmp_path_factory.mktemp("standin-el9")), "el9")


@pytest.fixture
def make_root(tmp_path):
    """make_root(name, arch="x86_64") -> a fresh DnfRoot under this test's tmp dir."""
    def make(name="node", arch="x86_64", releasever="9"):
        return DnfRoot(str(tmp_path / name), arch=arch, releasever=releasever)
    return make


def make_comps_repo(src, dest, comps_xml):
    """Copy repository `src` to `dest` and re-index it with `comps_xml` as group data."""
    shutil.copytree(src, dest)
    shutil.rmtree(os.path.join(dest, "repodata"))
    comps_file = os.path.join(dest, "comps.xml")
    with open(comps_file, "w") as handle:
        handle.write(comps_xml)
    subprocess.run(["createrepo_c", "--quiet", "--no-database", "-g", comps_file, dest], check=True)
    return dest


@pytest.fixture(scope="session")
def project_comps_xml():
    return comps.to_xml(comps.merge(comps.load_dir(os.path.join(REPO_ROOT, "comps"))))

"""cluster_repo.rpmbuild: a failed build is one line that names the spec, the section
and the line where the cause is, not the shell trace or rpmbuild's generic summary."""
import pytest

from cluster_repo.rpmbuild import rpmbuild
from cluster_repo.targets import get_target
from dnf_plugin_cluster.errors import ClusterError

SPEC = ("Name: broken\nVersion: 1\nRelease: 1\nSummary: Broken\nLicense: MIT\nBuildArch: noarch\n"
        "%description\nBroken.\n%prep\n%build\n%install\n"
        "echo 'install: cannot stat mbw.1: No such file or directory' >&2\nfalse\n"
        "%files\n")


def test_a_failed_section_names_the_section_and_its_last_words(tmp_path):
    spec = tmp_path / "broken.spec"
    spec.write_text(SPEC)
    with pytest.raises(ClusterError) as caught:
        rpmbuild(str(spec), "-bb", rpmdir=str(tmp_path / "rpms"), defines=get_target("el9").macros)
    text = str(caught.value)
    assert "broken.spec" in text and "\n" not in text, text
    assert "rpmbuild failed: %install failed: install: cannot stat mbw.1: No such file or directory" in text, text

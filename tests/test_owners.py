"""Every package names its owners: `owners:` in each metapackage definition, an
`# Owners:` header in each hand-written spec; lint refuses one without, naming
file:line, and `cluster-repo owners [NAME]` lists who owns what."""
import os
import re

import pytest

from cluster_testkit import REPO_ROOT
from cluster_repo.project import Project
from conftest import cluster_repo
from test_definitions import read, write

TEAM = "Cluster Packagers <cluster-packagers@example.org>"


def test_owners_lists_every_package_once():
    proc = cluster_repo("-C", REPO_ROOT, "owners")
    rows = [re.split(r"\s{2,}", line, 1) for line in proc.stdout.splitlines()]
    names = [row[0] for row in rows]
    specs = sorted(os.path.basename(s)[:-5] for s in Project(REPO_ROOT).spec_files())
    assert "mbw" in specs                       # a tool's specs/NAME/NAME.spec too
    assert names == specs                       # every metapackage, hand-written spec and tool, sorted
    assert all(len(row) == 2 and row[1] for row in rows)
    assert dict(rows)["cluster-release"] == TEAM
    assert dict(rows)["cluster-node"] == TEAM


def test_owners_filters_by_name_and_refuses_an_unknown_one(project):
    path = os.path.join(project, "metapackages", "cluster-gpu.yaml")
    write(path, read(path).replace("  - " + TEAM, "  - Jane Doe <jane@example.org>\n  - jdoe"))
    proc = cluster_repo("-C", project, "owners", "cluster-gpu", "dnf-plugin-cluster")
    assert proc.stdout.splitlines() == [
        "cluster-gpu         Jane Doe <jane@example.org>, jdoe",
        "dnf-plugin-cluster  " + TEAM]
    proc = cluster_repo("-C", project, "owners", "cluster-gpu", "no-such-package", check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == ["cluster-repo: error: no metapackage or spec named 'no-such-package' "
                                        "(see `cluster-repo owners`)"]


BAD_OWNERS = [
    ("no owners key", lambda t: t.replace("owners:\n  - " + TEAM + "\n", ""),
     r"cluster-apps-bio\.yaml:1: missing key 'owners' in metapackage definition"),
    ("empty owners", lambda t: t.replace("owners:\n  - " + TEAM + "\n", "owners: []\n"),
     r"cluster-apps-bio\.yaml:5: 'owners' must name at least one owner"),
    ("owner not a string", lambda t: t.replace("  - " + TEAM, "  - {name: x}"),
     r"cluster-apps-bio\.yaml:6: owners are strings"),
    ("owner without an address", lambda t: t.replace("  - " + TEAM, "  - Cluster Packagers"),
     r"cluster-apps-bio\.yaml:6: invalid owner 'Cluster Packagers'"),
    ("owner with a bad address", lambda t: t.replace("  - " + TEAM, "  - Jane <jane at example>"),
     r"cluster-apps-bio\.yaml:6: invalid owner"),
    ("owner listed twice", lambda t: t.replace("  - " + TEAM, "  - jdoe\n  - jdoe"),
     r"cluster-apps-bio\.yaml:5: owner 'jdoe' is listed twice"),
]


@pytest.mark.parametrize("what,edit,pattern", BAD_OWNERS, ids=[b[0] for b in BAD_OWNERS])
def test_a_definition_without_valid_owners_is_refused(project, what, edit, pattern):
    path = os.path.join(project, "metapackages", "cluster-apps-bio.yaml")
    write(path, edit(read(path)))
    before = read(os.path.join(project, "specs", "cluster-apps-bio.spec"))
    for command in (["lint"], ["render"], ["owners"]):
        proc = cluster_repo("-C", project, *command, check=False)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 1 and re.search(pattern, lines[0]), (command, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert read(os.path.join(project, "specs", "cluster-apps-bio.spec")) == before


def test_a_hand_written_spec_without_an_owners_header_is_refused(project):
    path = os.path.join(project, "specs", "cluster-release.spec")
    text = read(path)
    write(path, re.sub(r"^# Owners:.*\n", "", text, flags=re.M))
    for command in (["lint"], ["owners"], ["build", os.path.join(project, "out")]):
        proc = cluster_repo("-C", project, *command, check=False)
        assert proc.returncode == 1, command
        assert re.search(r"specs/cluster-release\.spec:1: hand-written spec without an owners header",
                         proc.stderr.splitlines()[0]), (command, proc.stderr)
    assert not os.path.exists(os.path.join(project, "out", "9", "x86_64", "Packages")) or \
        not os.listdir(os.path.join(project, "out", "9", "x86_64", "Packages"))
    # a header that is there but names nobody valid is refused at its line
    write(path, "# Owners: Jane <jane@example.org>, jane!\n" + text.split("\n", 1)[1])
    proc = cluster_repo("-C", project, "lint", check=False)
    assert proc.returncode == 1
    assert re.search(r"specs/cluster-release\.spec:1: invalid owner 'jane!'", proc.stderr)


def test_contributing_states_the_common_rules():
    text = read(os.path.join(REPO_ROOT, "CONTRIBUTING.md"))
    for topic in ("cluster-repo lint", "owners:", "# Owners:", "cluster-repo owners", "changelog:",
                  "release:", "Fedora", "EPEL", "metapackages/", "comps/"):
        assert topic in text, topic


def test_a_spec_that_is_not_utf8_is_an_error_line_not_a_traceback(project):
    path = os.path.join(project, "specs", "broken.spec")
    with open(path, "wb") as handle:
        handle.write(b"\xff\xfe# Owners: jdoe\nName: broken\n")
    for command in (["lint"], ["owners"]):
        proc = cluster_repo("-C", project, *command, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, (command, proc.stderr)
        assert proc.stderr.splitlines()[0].endswith("specs/broken.spec: cannot read: 'utf-8' codec can't decode "
                                                    "byte 0xff in position 0: invalid start byte"), proc.stderr

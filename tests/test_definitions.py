"""Packager inputs: metapackage YAML -> specs, comps lint and canonical form, and
clear one-line errors (file:line) for bad input that leave the tree unchanged."""
import os
import re
import subprocess

import pytest

from cluster_testkit import REPO_ROOT
from conftest import cluster_repo, read, tree_snapshot, write


def test_committed_sources_are_clean():
    """What is committed lints clean, and the generated specs match their YAML."""
    assert "lint clean" in cluster_repo("-C", REPO_ROOT, "lint").stdout
    cluster_repo("-C", REPO_ROOT, "render", "--check")
    cluster_repo("-C", REPO_ROOT, "fmt", "--check")


def test_render_check_fails_when_a_definition_changes(project):
    path = os.path.join(project, "metapackages", "cluster-apps-bio.yaml")
    write(path, read(path).replace("  - ncbi-blast+\n", "  - ncbi-blast+\n  - hdf5\n"))
    proc = cluster_repo("-C", project, "render", "--check", check=False)
    assert proc.returncode == 1
    assert "out of date: specs/cluster-apps-bio.spec" in proc.stdout
    assert cluster_repo("-C", project, "lint", check=False).returncode == 1
    cluster_repo("-C", project, "render")
    assert "Requires:       hdf5" in read(os.path.join(project, "specs", "cluster-apps-bio.spec"))
    cluster_repo("-C", project, "render", "--check")


def test_rendered_spec_shape():
    spec = read(os.path.join(REPO_ROOT, "specs", "cluster-node.spec"))
    assert spec.startswith("# Generated from metapackages/cluster-node.yaml")
    # arch-conditional dependency -> arch-specific package with %ifarch
    assert "BuildArch" not in spec
    assert "%ifarch x86_64\nRequires:       libpsm2\n%endif" in spec
    # distro-conditional names
    assert "%if 0%{?rhel}\nRequires:       Lmod\n%endif" in spec
    assert "%if 0%{?fedora}\nRequires:       environment-modules\n%endif" in spec
    master = read(os.path.join(REPO_ROOT, "specs", "cluster-master.spec"))
    assert "BuildArch:      noarch" in master
    assert "Requires:       (openmpi-devel if cluster-mpi-openmpi)" in master
    openmpi = read(os.path.join(REPO_ROOT, "specs", "cluster-mpi-openmpi.spec"))
    assert "Provides:       cluster-mpi" in openmpi
    users = read(os.path.join(REPO_ROOT, "specs", "cluster-users.spec"))
    assert 'u slurm 450 "Slurm workload manager" /var/lib/slurm /sbin/nologin' in users


# (what, file, edit, error pattern). Structural errors stop every command; the two marked
# semantic ones (valid YAML naming packages that do not exist) stop lint and build.
SEMANTIC = ("unknown package", "x86_64-only package on every arch")
BAD_DEFINITIONS = [
    ("invalid YAML", "cluster-apps-bio.yaml", lambda t: t.replace("requires:\n", "requires: [\n"),
     r"cluster-apps-bio\.yaml:\d+: invalid YAML"),
    ("unknown key", "cluster-apps-bio.yaml", lambda t: t + "requirez:\n  - foo\n",
     r"cluster-apps-bio\.yaml:\d+: unknown key 'requirez' in metapackage definition"),
    ("duplicate key", "cluster-apps-bio.yaml", lambda t: t + "summary: again\n",
     r"cluster-apps-bio\.yaml:\d+: duplicate key 'summary' \(first at line 4\)"),
    ("dependency listed twice", "cluster-apps-bio.yaml", lambda t: t + "  - ncbi-blast+\n",
     r"cluster-apps-bio\.yaml:\d+: requires 'ncbi-blast\+' is listed twice"),
    ("name not matching file", "cluster-apps-bio.yaml",
     lambda t: t.replace("name: cluster-apps-bio", "name: cluster-apps-chem"),
     r"cluster-apps-bio\.yaml:1: name 'cluster-apps-chem' must match the file name"),
    ("path-like dependency", "cluster-apps-bio.yaml", lambda t: t.replace("ncbi-blast+", "../../etc/passwd"),
     r"cluster-apps-bio\.yaml:\d+: requires: invalid dependency name '../../etc/passwd'"),
    ("name with a trailing newline", "cluster-apps-bio.yaml",
     lambda t: t.replace("name: cluster-apps-bio", 'name: "cluster-apps-bio\\n"'),
     r"cluster-apps-bio\.yaml:1: invalid metapackage name 'cluster-apps-bio\\n'"),
    ("dependency with a trailing newline", "cluster-apps-bio.yaml",
     lambda t: t.replace("  - ncbi-blast+", '  - {name: "ncbi-blast+\\n"}'),
     r"cluster-apps-bio\.yaml:\d+: requires: invalid dependency name 'ncbi-blast\+\\n'"),
    ("version past its line", "cluster-apps-bio.yaml",
     lambda t: t.replace("  - ncbi-blast+", '  - {name: ncbi-blast+, version: ">=\\nRequires:evil"}'),
     r"cluster-apps-bio\.yaml:\d+: requires: version '>=\s+Requires:evil' must look like"),
    ("unknown arch", "cluster-node.yaml", lambda t: t.replace("arch: x86_64", "arch: x86-64"),
     r"cluster-node\.yaml:\d+: unknown arch 'x86-64'"),
    ("unknown package", "cluster-apps-bio.yaml", lambda t: t.replace("ncbi-blast+", "ncbi-blast-plus"),
     r"cluster-apps-bio\.yaml:\d+: requires 'ncbi-blast-plus' is not provided on rhel/x86_64"),
    ("x86_64-only package on every arch", "cluster-node.yaml",
     lambda t: t.replace("{name: libpsm2, arch: x86_64}", "libpsm2"),
     r"cluster-node\.yaml:\d+: requires 'libpsm2' is not provided on rhel/aarch64 \(limit it with arch"),
    ("dependency cycle", "cluster-apps-bio.yaml", lambda t: t + "  - cluster-node\n",
     None),
    ("nested 600 deep", "cluster-apps-bio.yaml",
     lambda t: t.replace("summary: ", "summary: " + "[" * 600 + "]" * 600 + " # ", 1),
     r"cluster-apps-bio\.yaml:4: invalid YAML: nested more than 64 deep"),
]


@pytest.mark.parametrize("what,fname,edit,pattern", BAD_DEFINITIONS, ids=[b[0] for b in BAD_DEFINITIONS])
def test_bad_definitions_get_one_clear_line_and_change_nothing(project, what, fname, edit, pattern):
    path = os.path.join(project, "metapackages", fname)
    write(path, edit(read(path)))
    if what == "dependency cycle":
        # close the loop: cluster-node -> ... -> cluster-apps-bio -> cluster-node
        node = os.path.join(project, "metapackages", "cluster-node.yaml")
        write(node, read(node).replace("  - chrony\n", "  - chrony\n  - cluster-apps-bio\n"))
        pattern = (r"cluster-(apps-bio|node)\.yaml:\d+: requires 'cluster-(node|apps-bio)': dependency cycle "
                   r"cluster-\S+ -> cluster-\S+ -> cluster-\S+")
    before = tree_snapshot(project, "specs")
    commands = [["lint"], ["build", os.path.join(project, "out")]]
    if what not in SEMANTIC:
        commands.insert(0, ["render"])
    for command in commands:
        proc = cluster_repo("-C", project, *command, check=False)
        assert proc.returncode == 1, (command, proc.stdout, proc.stderr)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert re.search(pattern, lines[0]), (command, proc.stderr)
        assert all("Traceback" not in line for line in lines)
    assert tree_snapshot(project, "specs") == before
    assert not os.path.exists(os.path.join(project, "out", "9", "x86_64", "Packages")) or \
        not os.listdir(os.path.join(project, "out", "9", "x86_64", "Packages"))


# --- comps ---------------------------------------------------------------------------------

GROUP = """  <group>
    <id>cluster-extra</id>
    <name>Extra</name>
    <description>Extra tools.</description>
    <default>false</default>
    <uservisible>true</uservisible>
    <packagelist>
{reqs}
    </packagelist>
  </group>
"""


def add_group(project, reqs, category=True):
    path = os.path.join(project, "comps", "tools.xml")
    text = read(path).replace("</comps>\n", GROUP.format(reqs=reqs) + "</comps>\n")
    write(path, text)
    if category:
        cat = os.path.join(project, "comps", "categories.xml")
        write(cat, read(cat).replace("      <groupid>cluster-gpu</groupid>\n",
                                     "      <groupid>cluster-extra</groupid>\n      <groupid>cluster-gpu</groupid>\n"))
    return path


BAD_COMPS = [
    ("unknown package", '      <packagereq type="mandatory">no-such-tool</packagereq>',
     r"tools\.xml:\d+: group 'cluster-extra', package 'no-such-tool': not provided on rhel/x86_64"),
    ("arch-limited package everywhere", '      <packagereq type="mandatory">cpuid</packagereq>',
     r"tools\.xml:\d+: group 'cluster-extra', package 'cpuid': not provided on rhel/aarch64 .*arch="),
    ("unknown arch", '      <packagereq type="mandatory" arch="amd64">cpuid</packagereq>',
     r"tools\.xml:\d+: group 'cluster-extra', package 'cpuid': unknown arch 'amd64'"),
    ("unknown type", '      <packagereq type="required">pdsh</packagereq>',
     r"tools\.xml:\d+: group 'cluster-extra', package 'pdsh': unknown type 'required'"),
    ("path-like name", '      <packagereq type="mandatory">../pdsh</packagereq>',
     r"tools\.xml:\d+: group 'cluster-extra', package '../pdsh': invalid package name"),
]


@pytest.mark.parametrize("what,reqs,pattern", BAD_COMPS, ids=[b[0] for b in BAD_COMPS])
def test_comps_lint_names_file_line_and_package(project, what, reqs, pattern):
    add_group(project, reqs)
    proc = cluster_repo("-C", project, "lint", check=False)
    assert proc.returncode == 1
    assert re.search(pattern, proc.stderr), proc.stderr


def test_comps_lint_structure_problems(project):
    add_group(project, '      <packagereq type="mandatory">pdsh</packagereq>', category=False)
    proc = cluster_repo("-C", project, "lint", check=False)
    assert re.search(r"tools\.xml:\d+: group 'cluster-extra' is not in the 'cluster' category", proc.stderr)
    apps = os.path.join(project, "comps", "apps.xml")
    write(apps, read(apps).replace("<id>cluster-apps-md</id>", "<id>cluster-apps-bio</id>"))
    proc = cluster_repo("-C", project, "lint", check=False)
    assert re.search(r"apps\.xml:\d+: duplicate group id 'cluster-apps-bio' \(also .*apps\.xml:\d+\)", proc.stderr)


def test_comps_hostile_and_malformed_xml_is_refused(project):
    path = os.path.join(project, "comps", "tools.xml")
    original = read(path)
    laughs = ('<?xml version="1.0"?>\n<!DOCTYPE comps [\n <!ENTITY a "aaaaaaaaaa">\n'
              ' <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">\n]>\n'
              '<comps><group><id>&c;</id></group></comps>\n')
    for text, pattern in ((laughs, r"tools\.xml:3: entity declarations are not allowed"),
                          (original.replace("</packagelist>", "</packagelis>", 1),
                           r"tools\.xml:\d+: malformed XML: mismatched tag"),
                          (original.replace("<uservisible>", "<uservisibel>", 1),
                           r"tools\.xml:\d+: malformed XML|unknown element <uservisibel>")):
        write(path, text)
        for command in (["lint"], ["fmt"]):
            proc = cluster_repo("-C", project, *command, check=False)
            assert proc.returncode == 1 and re.search(pattern, proc.stderr), (command, proc.stderr)
            assert read(path) == text       # the formatter refuses rather than rewriting


def test_fmt_makes_comps_canonical_and_is_idempotent(project):
    path = os.path.join(project, "comps", "tools.xml")
    canonical = read(path)
    # shuffle: packagereqs out of order, different indentation, attribute order
    shuffled = canonical.replace(
        '      <packagereq type="mandatory">clustershell</packagereq>\n'
        '      <packagereq type="mandatory">pdsh</packagereq>\n',
        '      <packagereq type="mandatory">pdsh</packagereq>\n'
        '        <packagereq type="mandatory">clustershell</packagereq>\n')
    shuffled = shuffled.replace('<packagereq type="optional" arch="x86_64">', '<packagereq arch="x86_64" type="optional">')
    write(path, shuffled)
    proc = cluster_repo("-C", project, "lint", check=False)
    assert "tools.xml: not in canonical form: run `cluster-repo fmt`" in proc.stderr
    assert cluster_repo("-C", project, "fmt", "--check", check=False).returncode == 1
    cluster_repo("-C", project, "fmt")
    assert read(path) == canonical
    cluster_repo("-C", project, "fmt", "--check")
    subprocess.run(["xmllint", "--noout", path], check=True)


def test_specs_are_queried_in_one_rpmspec_run_and_a_broken_one_is_named(project):
    from dnf_plugin_cluster.errors import ClusterError
    from cluster_repo.project import Project, rpmspec_query
    from cluster_repo.targets import get_target
    specs = Project(project).spec_files()
    names = rpmspec_query(specs, get_target("el9"), "%{name}\\n", arch="x86_64")
    assert {"cluster-master", "cluster-node", "cluster-release", "python3-dnf-plugin-cluster",
            "cluster-repo"} <= set(names)
    assert "dnf-plugin-cluster" not in names            # a source name: no such binary package is built
    broken = os.path.join(project, "specs", "cluster-node.spec")
    write(broken, read(broken).replace("Requires:", "Requires(bogus):", 1))
    with pytest.raises(ClusterError) as err:
        rpmspec_query(specs, get_target("el9"), "%{name}\\n", arch="x86_64")
    assert str(err.value).startswith(broken + ": cannot parse spec:"), str(err.value)
    assert "\n" not in str(err.value)

"""The site's MPI family picks the tools' builds: cluster-apps-bench requires NetPIPE with
`- {mpi: netpipe}`, one rich conditional per family, so a node that chose MPICH
(cluster-mpi-mpich) gets netpipe-mpich and never netpipe-openmpi, and the reverse, by
real dnf in installroots from the repository built from the tree. A target that does
not ship a family (a target definition without MPICH, as the test makes it) builds no
subpackage of it, lint says so in one note line, and the closure check does not miss it."""
import os
import re
import subprocess

import pytest

from cluster_testkit import copy_project
from cluster_repo import cli, metapkg
from cluster_repo.targets import get_target


def installed(root):
    out = subprocess.run(["rpm", "--root", root.path("/"), "--dbpath", "/var/lib/rpm", "-qa", "--qf", "%{name}\\n"],
                         stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    return set(out.split())


@pytest.fixture
def bench_node(tools_build, standin_el9, make_root):
    _, out = tools_build

    def make(name):
        root = make_root(name)
        root.add_repo("base", "file://{}/$basearch".format(standin_el9))
        root.add_repo("cluster", "file://{}/$releasever/$basearch".format(out))
        return root
    return make


@pytest.mark.parametrize("family,other", [("mpich", "openmpi"), ("openmpi", "mpich")])
def test_the_bench_metapackage_pulls_netpipe_in_the_family_the_node_chose(bench_node, family, other):
    node = bench_node("node-" + family)
    node.dnf("-y", "install", "cluster-mpi-" + family)
    node.dnf("-y", "install", "cluster-apps-bench")
    names = installed(node)
    assert {"cluster-apps-bench", "netpipe", "netpipe-" + family, "mbw", family} <= names
    assert not {"netpipe-" + other, "cluster-mpi-" + other} & names
    assert os.access(node.path("usr/lib64/{0}/bin/NPmpi_{0}".format(family)), os.X_OK)
    assert not os.path.exists(node.path("usr/lib64/{0}/bin/NPmpi_{0}".format(other)))


def test_the_group_installs_the_chosen_familys_build_with_the_choice_in_one_transaction(bench_node):
    """`dnf cluster-group install cluster-apps-bench` on a node that chose nothing: one
    family (cluster-mpi pulls one in) and NetPIPE built with that family, only; and the
    choice made in the same transaction as the install holds within it."""
    node = bench_node("node-group")
    node.dnf("-y", "cluster-group", "install", "cluster-apps-bench")
    names = installed(node)
    chosen = [fam for fam in ("openmpi", "mpich") if "cluster-mpi-" + fam in names]
    assert "cluster-apps-bench" in names and len(chosen) == 1, sorted(names)
    assert [fam for fam in ("openmpi", "mpich") if "netpipe-" + fam in names] == chosen
    fresh = bench_node("node-both")
    fresh.dnf("-y", "install", "cluster-mpi-mpich", "cluster-apps-bench")
    names = installed(fresh)
    assert "netpipe-mpich" in names and "netpipe-openmpi" not in names


def test_mpi_entries_render_one_conditional_per_family(tmp_path):
    path = tmp_path / "cluster-apps-x.yaml"
    path.write_text('name: cluster-apps-x\nversion: "1"\nrelease: "1"\nsummary: x\nowners: [a@example.org]\n'
                    'description: x\nrequires:\n  - cluster-mpi\n  - {mpi: netpipe, version: ">= 3.7"}\n'
                    '  - {mpi: imb, arch: x86_64}\n')
    spec = metapkg.render(metapkg.load(str(path)), "metapackages/cluster-apps-x.yaml")
    assert "Requires:       (netpipe-openmpi >= 3.7 if cluster-mpi-openmpi)\n" \
           "Requires:       (netpipe-mpich >= 3.7 if cluster-mpi-mpich)\n" in spec
    assert "%ifarch x86_64\nRequires:       (imb-openmpi if cluster-mpi-openmpi)\n%endif\n" \
           "%ifarch x86_64\nRequires:       (imb-mpich if cluster-mpi-mpich)\n%endif\n" in spec


@pytest.mark.parametrize("entry,message", [
    ("{mpi: netpipe, if: cluster-mpi-openmpi}", r"'if' cannot be combined with 'mpi'"),
    ("{mpi: netpipe, name: netpipe}", r"needs exactly one of 'name', 'any_of' or 'mpi'"),
    ("{mpi: ../netpipe}", r"requires: invalid dependency name '\.\./netpipe'"),
])
def test_a_bad_mpi_entry_is_one_line_naming_the_file_and_line(tmp_path, entry, message):
    path = tmp_path / "cluster-apps-x.yaml"
    path.write_text('name: cluster-apps-x\nversion: "1"\nrelease: "1"\nsummary: x\nowners: [a@example.org]\n'
                    'description: x\nrequires:\n  - ' + entry + '\n')
    with pytest.raises(Exception) as err:
        metapkg.load(str(path))
    assert re.search(r"cluster-apps-x\.yaml:8: .*" + message, str(err.value)), str(err.value)


def test_mpi_in_provides_is_refused(tmp_path):
    path = tmp_path / "cluster-apps-x.yaml"
    path.write_text('name: cluster-apps-x\nversion: "1"\nrelease: "1"\nsummary: x\nowners: [a@example.org]\n'
                    'description: x\nprovides:\n  - {mpi: netpipe}\n')
    with pytest.raises(Exception) as err:
        metapkg.load(str(path))
    assert "'mpi' pulls in a tool's MPI build: requires, recommends, suggests, supplements only" in str(err.value)


def run_cli(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_target_without_mpich_builds_no_mpich_subpackage_lint_notes_it_closure_passes(
        tmp_path, monkeypatch, capsys, standin_el9):
    """el9 as a target definition that ships MPICH on aarch64 only: the x86_64 build
    leaves netpipe-mpich out (with a line), lint prints one note for it, the closure
    check (in the build and alone) passes, and cluster-apps-bench still installs."""
    el9 = get_target("el9")
    monkeypatch.setattr(el9, "mpi", {"openmpi": ("x86_64", "aarch64"), "mpich": ("aarch64",)})
    project = copy_project(str(tmp_path / "project"))
    code, out, err = run_cli(capsys, "-C", project, "lint")
    notes = [line for line in out.splitlines() if "note:" in line]
    assert code == 0 and "lint clean" in out, out + err
    assert notes == ["cluster-repo: note: specs/netpipe/netpipe.spec: netpipe-mpich is not built for el9 (x86_64): "
                     "el9 ships no mpich there (cluster_repo/targets.py); nodes of that target choose another MPI "
                     "family"], out
    repo = str(tmp_path / "repo")
    base = "file://{}/$basearch".format(standin_el9)
    code, out, err = run_cli(capsys, "-C", project, "build", repo, "--arch", "x86_64", "--base-repo", base)
    assert code == 0, out + err
    assert "cluster-repo: not built for el9: netpipe-mpich (el9 ships no mpich on x86_64)" in out.splitlines()
    assert "closure: every package and every role installs on every arch" in out
    packages = sorted(os.listdir(os.path.join(repo, "9", "x86_64", "Packages")))
    assert "netpipe-openmpi-3.7.2-1.el9.x86_64.rpm" in packages
    assert not [p for p in packages if p.startswith("netpipe-mpich")]
    code, out, err = run_cli(capsys, "-C", project, "closure", repo, "--arch", "x86_64", "--base-repo", base)
    assert code == 0 and not err, out + err
    # the SRPM leaves mpich-devel out too: the target has nothing to build it with
    srpm = os.path.join(repo, "9", "SRPMS", "netpipe-3.7.2-1.el9.src.rpm")
    requires = subprocess.run(["rpm", "-qp", "--requires", srpm], stdout=subprocess.PIPE, universal_newlines=True,
                              check=True).stdout.split()
    assert "openmpi-devel" in requires and "mpich-devel" not in requires
    # nothing left to do: --update keeps the tool
    code, out, err = run_cli(capsys, "-C", project, "build", repo, "--arch", "x86_64", "--update")
    assert code == 0 and re.search(r"\b0 built, \d+ unchanged", out), out + err


def test_lint_has_no_note_on_the_real_targets(capsys):
    from cluster_testkit import REPO_ROOT
    code, out, err = run_cli(capsys, "-C", REPO_ROOT, "lint")
    assert code == 0 and "note:" not in out, out + err


def test_closure_leaves_out_a_metapackage_requiring_a_tool_this_host_did_not_build(cluster_repo_el9, standin_el9):
    """The tools compile code, so an x86_64 host builds them for x86_64 only; on aarch64
    cluster-apps-bench (noarch) requires what is not there: not checked, not a problem."""
    from conftest import cluster_repo
    proc = cluster_repo("closure", cluster_repo_el9, "--base-repo", "file://{}/$basearch".format(standin_el9))
    assert "every package and every role installs on every arch" in proc.stdout
    if os.uname().machine == "x86_64":
        line = [l for l in proc.stdout.splitlines() if "not checked" in l][0]
        assert "cluster-apps-bench (aarch64)" in line and "netpipe (aarch64)" in line, line
        assert "cluster-apps-bench (x86_64" not in line

"""The Python distribution builds offline from pyproject.toml with the system's
setuptools: an sdist holding everything the plugin's source tarball holds, and a wheel
built from that sdist (python3 -m build, pip wheel) with both packages, their data files,
the dnf 4 plugin in dnf-plugins/ and the entry points."""
import os
import re
import subprocess
import sys
import tarfile
import zipfile

from cluster_testkit import copy_project
from cluster_repo.build import PLUGIN_PACKAGES, PLUGIN_TREE, package_files


def run(*cmd, cwd=None):
    proc = subprocess.run(list(cmd), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    assert proc.returncode == 0, proc.stdout
    return proc.stdout


def wheel_names(path):
    with zipfile.ZipFile(path) as wheel:
        return set(wheel.namelist())


def check_wheel(path, src):
    names = wheel_names(path)
    assert "dnf-plugins/cluster.py" in names
    missing = [f for f in package_files(src, PLUGIN_PACKAGES) if f not in names]
    assert missing == []            # every module and data file (templates) of both packages
    assert {"dnf_plugin_cluster-0.1.0.data/scripts/dnf-cluster",
            "dnf_plugin_cluster-0.1.0.data/scripts/cluster-repo"} <= names
    with zipfile.ZipFile(path) as wheel:
        metadata = wheel.read("dnf_plugin_cluster-0.1.0.dist-info/METADATA").decode()
    # what pip can install is declared; the system bindings are not (pip cannot get them)
    assert re.findall(r"^Requires-Dist: (.*)$", metadata, re.M) == ["PyYAML"]


def test_sdist_and_wheel_from_it_build_offline(tmp_path):
    src = copy_project(str(tmp_path / "src"))
    dist = tmp_path / "dist"
    # sdist, then the wheel from the unpacked sdist (what `python3 -m build` does)
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), src)
    # setuptools >= 69.3 names it after the normalised project name (PEP 625)
    sdist = [p for p in dist.iterdir() if re.match(r"dnf[-_]plugin[-_]cluster-0\.1\.0\.tar\.gz$", p.name)][0]
    with tarfile.open(str(sdist)) as tar:
        in_sdist = set(n.split("/", 1)[1] for n in tar.getnames() if "/" in n)
    expected = list(PLUGIN_TREE) + package_files(src, PLUGIN_PACKAGES)
    assert [f for f in expected if f not in in_sdist] == []     # all the plugin spec's Source0 has
    check_wheel(str(dist / "dnf_plugin_cluster-0.1.0-py3-none-any.whl"), src)
    # pip, from the sdist alone, without network or build isolation
    wheels = tmp_path / "pip"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-build-isolation",
        "--no-deps", "--wheel-dir", str(wheels), str(sdist), cwd=str(tmp_path))
    check_wheel(str(wheels / "dnf_plugin_cluster-0.1.0-py3-none-any.whl"), src)


def test_pyproject_declares_the_setuptools_build():
    from cluster_testkit import REPO_ROOT
    with open(os.path.join(REPO_ROOT, "pyproject.toml")) as handle:
        text = handle.read()
    assert 'build-backend = "setuptools.build_meta"' in text and 'requires = ["setuptools' in text


def test_a_missing_binding_is_one_line_naming_its_package(tmp_path):
    """Without site-packages (a plain venv has none of the distribution's bindings) the
    entry points name the package to install in one line, never a traceback."""
    from cluster_testkit import REPO_ROOT
    import yaml
    only_yaml = tmp_path / "only-yaml"
    only_yaml.mkdir()
    os.symlink(os.path.dirname(yaml.__file__), str(only_yaml / "yaml"))
    cases = [({}, ["cluster-repo", "--help"],
              "cluster-repo: error: the Python module 'yaml' is missing: dnf install python3-pyyaml "
              "(Debian: apt-get install python3-yaml; pip install PyYAML)"),
             ({"PYTHONPATH": str(only_yaml)}, ["cluster-repo", "lint"],
              "cluster-repo: error: the Python module 'libcomps' is missing: dnf install python3-libcomps "
              "(Debian: apt-get install python3-libcomps)")]
    for env, (prog, *args), line in cases:
        proc = subprocess.run(["/usr/bin/python3", "-S", os.path.join(REPO_ROOT, "bin", prog)] + args,
                              cwd=REPO_ROOT, env=dict(os.environ, **env), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True)
        assert proc.returncode == 1 and proc.stderr.splitlines() == [line], proc.stderr

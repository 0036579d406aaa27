"""Packages built on any host carry their target distribution's paths, Python and
scriptlets: every file of every RPM built for el8, el9 and fc42 is a path that target
uses (no Debian /usr/com, no /usr/local, no dist-packages, the target's python3.X),
scriptlets hold the expanded %systemd_* bodies, and the SRPMs rebuild the same way."""
import os
import re
import subprocess

import pytest

from cluster_repo.rpmbuild import rpmbuild
from cluster_repo.targets import TARGETS, get_target

#: What a real builder of each target has (RHEL/Fedora Python macro tables, systemd versions).
PYTHON = {"el8": "3.6", "el9": "3.9", "fc42": "3.13"}
SHEBANG = {"el8": "#!/usr/libexec/platform-python -s", "el9": "#!/usr/bin/python3 -s",
           "fc42": "#!/usr/bin/python3 -sP"}
POST = {"el8": "systemctl --no-reload preset cluster-node-sync.service cluster-node-sync.timer &>/dev/null || :",
        "el9": "/usr/lib/systemd/systemd-update-helper install-system-units cluster-node-sync.service "
               "cluster-node-sync.timer || :",
        "fc42": "/usr/lib/systemd/systemd-update-helper install-system-units cluster-node-sync.service "
                "cluster-node-sync.timer || :"}
FORBIDDEN = re.compile(r"/usr/com\b|/usr/local\b|dist-packages|/etc/init\.d|/usr/lib/python3/")


def allowed_prefixes(target):
    """The Fedora/EL directories our packages may put files in, written out for the target."""
    python = "/usr/lib/python{}/site-packages/".format(PYTHON[target])
    return ("/etc/dnf/plugins/", "/etc/yum.repos.d/", "/etc/pki/rpm-gpg/", "/usr/bin/", python,
            "/usr/lib/systemd/system/", "/usr/lib/sysusers.d/", "/usr/share/man/man1/", "/usr/share/man/man5/",
            "/usr/share/man/man8/", "/usr/share/bash-completion/", "/usr/share/doc/",
            "/usr/share/licenses/", "/var/lib/dnf/cluster",
            # the head node's example roles, %config(noreplace), where publish reads them
            "/etc/cluster/",
            # the tools' binaries (specs/NAME/): build-id links as every arched Fedora package
            # has, MPI binaries where Fedora's MPI guidelines put them (%{_libdir}/%{mpi}/bin)
            "/usr/lib/.build-id/", "/usr/lib64/openmpi/bin/", "/usr/lib64/mpich/bin/")


def rpm_q(path, *args):
    return subprocess.run(["rpm", "-qp", "--nosignature"] + list(args) + [path], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, universal_newlines=True, check=True).stdout


def built_rpms(out, target):
    tree = os.path.join(out, get_target(target).releasever)
    rpms = set()
    for sub in ("x86_64", "aarch64", "SRPMS"):
        pkgdir = os.path.join(tree, sub, "Packages") if sub != "SRPMS" else os.path.join(tree, sub)
        rpms.update(os.path.join(pkgdir, f) for f in os.listdir(pkgdir) if f.endswith(".rpm"))
    return sorted(rpms)


def plugin_rpm(out, target, name="python3-dnf-plugin-cluster"):
    return os.path.join(out, get_target(target).releasever, "x86_64", "Packages",
                        "{}-0.1.0-1.{}.noarch.rpm".format(name, target))


DNF4_PLUGIN = "python3-dnf-plugin-cluster-dnf4"


@pytest.mark.parametrize("target", ["el9", "fc42", "el8"])
def test_every_file_of_every_rpm_is_a_target_path(cluster_repo_for, target):
    out = cluster_repo_for(target)
    binaries = [r for r in built_rpms(out, target) if not r.endswith(".src.rpm")]
    assert len(binaries) >= 15          # 12 noarch/arched metapackages, release, plugin, cluster-repo
    wrong = []
    python_files = 0
    for rpm in binaries:
        for path in rpm_q(rpm, "-l").splitlines():
            if path == "(contains no files)":
                continue
            python_files += "/site-packages/" in path
            if FORBIDDEN.search(path) or not (path + "/").startswith(allowed_prefixes(target)):
                wrong.append((os.path.basename(rpm), path))
    assert wrong == []
    assert python_files > 50
    # the plugin and its state directory are where the target's dnf looks
    files = rpm_q(plugin_rpm(out, target), "-l").splitlines()
    site = "/usr/lib/python{}/site-packages".format(PYTHON[target])
    assert site + "/dnf-plugins/cluster.py" in rpm_q(plugin_rpm(out, target, DNF4_PLUGIN), "-l").splitlines()
    assert site + "/dnf-plugins/cluster.py" not in files
    assert site + "/dnf_plugin_cluster/commands/node.py" in files
    assert "/var/lib/dnf/cluster" in files
    assert "/usr/share/man/man8/dnf-cluster.8.gz" in files       # brp-compress ran (bash, not dash)


@pytest.mark.parametrize("target", ["el9", "fc42", "el8"])
def test_scriptlets_and_dependencies_are_the_targets(cluster_repo_for, target):
    out = cluster_repo_for(target)
    for rpm in built_rpms(out, target):
        scripts = rpm_q(rpm, "--scripts")
        assert not re.search(r"%[{(]?[A-Za-z_]", scripts), (rpm, scripts)      # no unexpanded macro
    plugin = plugin_rpm(out, target)
    scripts = rpm_q(plugin, "--scripts")
    assert POST[target] in scripts
    requires = rpm_q(plugin, "--requires").splitlines()
    assert "python(abi) = {}".format(PYTHON[target]) in requires
    assert "systemd" in requires
    provides = rpm_q(plugin_rpm(out, target, DNF4_PLUGIN), "--provides").splitlines()
    assert {"dnf-command(cluster-node)", "dnf-command(cluster-group)", "dnf-command(cluster-master)"} <= set(provides)
    # the entry points start the target's interpreter with its flags (EL8: platform-python)
    for name in ("python3-dnf-plugin-cluster", "cluster-repo"):
        rpm = plugin.replace("python3-dnf-plugin-cluster", name)
        cpio = subprocess.run("rpm2cpio {} | cpio -i --quiet --to-stdout './usr/bin/*'".format(rpm), shell=True,
                              stdout=subprocess.PIPE, check=True).stdout.decode()
        assert cpio.startswith(SHEBANG[target] + "\n"), cpio[:80]
    assert get_target(target).macros["dist"] == "." + target
    assert rpm_q(plugin, "--qf", "%{buildhost} %{vendor}").strip() == "build.cluster.invalid (none)"


def test_every_target_defines_the_distributions_macros():
    for name, target in sorted(TARGETS.items()):
        macros = target.macros
        assert macros["_sharedstatedir"] == "/var/lib" and macros["_localstatedir"] == "/var", name
        assert macros["_unitdir"] == "/usr/lib/systemd/system" and macros["_sysusersdir"] == "/usr/lib/sysusers.d"
        assert macros["python3_sitelib"] == "/usr/lib/python{}/site-packages".format(target.python3_version)
        assert macros["dist"] == "." + name and macros[target.family] == target.releasever
        assert "systemd_post()" in macros and "systemd_postun_with_restart()" in macros
    assert TARGETS["fc42"].macros["_sbindir"] == TARGETS["fc43"].macros["_sbindir"] == "%{_bindir}"
    assert TARGETS["fc41"].macros["_sbindir"] == "%{_exec_prefix}/sbin"


def test_the_plugin_srpm_rebuilds_into_the_targets_site_packages(cluster_repo_for, tmp_path):
    """Anyone rebuilding the published SRPM with the target's macros gets the target's
    paths; without them (Debian's rpm alone) the build fails instead of guessing."""
    srpm = os.path.join(cluster_repo_for("fc42"), "42", "SRPMS", "dnf-plugin-cluster-0.1.0-1.fc42.src.rpm")
    written = rpmbuild(srpm, "--rebuild", rpmdir=str(tmp_path / "fc42"), target="x86_64",
                       defines=get_target("fc42").macros)
    plugin = [w for w in written if os.path.basename(w).startswith("python3-dnf-plugin-cluster-0")][0]
    files = rpm_q(plugin, "-l")
    assert "/usr/lib/python3.13/site-packages/dnf_plugin_cluster/sync.py" in files
    assert "/usr/com" not in files and "/usr/local" not in files
    proc = subprocess.run(["rpmbuild", "--rebuild", "--nodeps", "--define", "_topdir {}".format(tmp_path / "plain"),
                           srpm], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert proc.returncode != 0
    assert not [l for l in proc.stdout.splitlines() if l.startswith("Wrote:") and l.endswith(".noarch.rpm")]


def test_bytecode_where_the_host_python_is_the_targets(tmp_path):
    """A host whose /usr/bin/python3 is the target's (Debian 13 building fc42, an EL9
    builder) ships real bytecode: here a target with this host's Python stands in."""
    from cluster_repo import build
    from cluster_repo.targets import _python_macros, bytecode_macros, host_python
    from cluster_testkit import REPO_ROOT
    version = host_python()[0]
    macros = dict(get_target("el9").macros)
    for key in ("_without_bytecode", "_with_bytecode"):
        macros.pop(key, None)
    macros.update(_python_macros(version, "s", "/usr/bin/python3"))
    macros.update(bytecode_macros(version, version))
    builder = build.Builder(REPO_ROOT, build.BuildOptions(str(tmp_path / "unused")))
    builder._sources("dnf-plugin-cluster")[1](str(tmp_path), "0.1.0")
    written = rpmbuild(os.path.join(REPO_ROOT, "specs", "dnf-plugin-cluster.spec"), "-bb",
                       rpmdir=str(tmp_path / "rpms"), sourcedir=str(tmp_path), defines=macros)
    tag = "cpython-" + version.replace(".", "")
    site = "/usr/lib/python{}/site-packages".format(version)
    by_name = dict((os.path.basename(w).rsplit("-", 2)[0], w) for w in written)
    for name, module in (("python3-dnf-plugin-cluster", "dnf_plugin_cluster/sync"),
                         (DNF4_PLUGIN, "dnf-plugins/cluster"),
                         ("cluster-repo", "cluster_repo/build")):
        rpm = by_name[name]
        listing = rpm_q(rpm, "--dump").splitlines()
        pyc = [l.split()[0] for l in listing if l.split()[0].endswith(".pyc")]
        top, name = module.split("/")
        assert "{}/{}/__pycache__/{}.{}.pyc".format(site, top, name, tag) in pyc
        assert "{}/{}/__pycache__/{}.{}.opt-1.pyc".format(site, top, name, tag) in pyc
        ghosts = rpm_q(rpm, "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]").splitlines()
        assert not [g for g in ghosts if g.endswith(" g")]        # real files, not %ghost
    code = subprocess.run(["rpmlint/rpmlint-all"] + written, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                          universal_newlines=True)
    assert code.returncode == 0 and " 0 errors, 0 warnings" in code.stdout, code.stdout


def test_without_the_targets_python_the_caches_are_ghosts(cluster_repo_for):
    flags = []
    for name in ("python3-dnf-plugin-cluster", DNF4_PLUGIN):
        flags += rpm_q(plugin_rpm(cluster_repo_for("el9"), "el9", name), "--qf",
                       "[%{FILENAMES} %{FILEFLAGS:fflags}\n]").splitlines()
    ghosts = [f.split()[0] for f in flags if f.endswith(" g")]
    site = "/usr/lib/python3.9/site-packages"
    assert site + "/dnf_plugin_cluster/__pycache__/sync.cpython-39.pyc" in ghosts
    assert site + "/dnf-plugins/__pycache__/cluster.cpython-39.opt-1.pyc" in ghosts
    assert not [f for f in flags if ".pyc" in f and not f.endswith(" g")]

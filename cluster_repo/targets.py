"""Build targets: which distribution a repository is built for, and every rpm macro a
real builder of that distribution has, so specs build as they would there.

Debian's rpm (the usual build host here) is configured differently from Fedora/EL's:
`%_sharedstatedir` is `/usr/com`, the Python macros are missing (a spec fallback then
asks the host's Python and gets `/usr/local/lib/python3.11/dist-packages`), `%_unitdir`
and `%systemd_post` are undefined (the scriptlet keeps the literal text), `/bin/sh` is
dash (brp-compress fails, man pages stay uncompressed) and the vendor is `debian`.
Each target therefore carries the full set of path, Python, systemd and dist macros of
its distribution, as written in its own macro files:

- rpm `platform.in`/`macros.in` with Red Hat's configure (`--sharedstatedir=/var/lib`,
  `--with-vendor=redhat`; `%_sbindir` is `%{_bindir}` from Fedora 42, merged sbin),
- redhat-rpm-config (`%_vendor`, `%_pkgdocdir`, `%__arch_install_post`, payloads),
- python-rpm-macros and RHEL's "Common macros for Python 3 RPMs" (3.6 on EL8, whose
  `/usr/bin/python3` scripts brp-mangle-shebangs points at platform-python, 3.9 on
  EL9, 3.12 on EL10, 3.13 on Fedora 41/42, 3.14 on Fedora 43),
- systemd's `macros.systemd` (v239 `systemctl` bodies on EL8, the
  `systemd-update-helper` form on EL9 and Fedora) and `macros.sysusers`.

Bytecode needs the target's own interpreter: unless the build host's /usr/bin/python3
is that version, the macros build `--without bytecode` (the plugin spec then owns the
caches Python writes at run time as %ghost files); `--without tests` where that
interpreter has no pytest."""
import subprocess

from dnf_plugin_cluster.errors import ClusterError

from .mpi import FAMILIES as MPI_FAMILIES

#: Directory layout of every Fedora/EL target (rpm as Red Hat configures it, plus redhat-rpm-config).
REDHAT_PATHS = {
    "_usr": "/usr",
    "_var": "/var",
    "_prefix": "/usr",
    "_exec_prefix": "%{_prefix}",
    "_bindir": "%{_exec_prefix}/bin",
    "_sbindir": "%{_exec_prefix}/sbin",          # Fedora 42+: %{_bindir}
    "_libexecdir": "%{_exec_prefix}/libexec",
    "_datarootdir": "%{_prefix}/share",
    "_datadir": "%{_datarootdir}",
    "_sysconfdir": "/etc",
    "_sharedstatedir": "/var/lib",              # Debian's rpm: %{_prefix}/com
    "_localstatedir": "/var",
    "_includedir": "%{_prefix}/include",
    "_oldincludedir": "/usr/include",
    "_infodir": "%{_datarootdir}/info",
    "_mandir": "%{_datarootdir}/man",
    "_lib": "lib64",                            # x86_64 and aarch64 alike
    "_libdir": "%{_prefix}/%{_lib}",
    "_initddir": "%{_sysconfdir}/rc.d/init.d",  # Debian's rpm: %{_sysconfdir}/init.d
    "_rundir": "/run",
    "_runstatedir": "/run",
    "_defaultdocdir": "%{_datadir}/doc",
    "_defaultlicensedir": "%{_datadir}/licenses",
    "_docdir_fmt": "%%{NAME}",                  # upstream: %{NAME}-%{VERSION}
    "_pkgdocdir": "%{_docdir}/%{name}",
    "_tmppath": "%{_var}/tmp",
    "_vendor": "redhat",                        # Debian's rpm: debian
    "_host_vendor": "redhat",                   # Debian's rpm: pc
    "_build_vendor": "redhat",
    "_target_vendor": "redhat",
    "_target_platform": "%{_target_cpu}-%{_vendor}-%{_target_os}%{?_gnu}",
    # Fedora/EL fail a build whose files contain the buildroot path; Debian's rpm has %{nil}
    "__arch_install_post": "/usr/lib/rpm/check-buildroot",
    # Fedora's brp-mangle-shebangs is not in Debian's rpm: specs rewrite shebangs
    # themselves to %{cluster_python3_shebang} (below)
    "__brp_mangle_shebangs": "%{nil}",
    # Fedora/EL's /bin/sh is bash; with dash brp-compress fails on `read -d` and man
    # pages stay uncompressed
    "_buildshell": "/bin/bash",
    "__brp_compress": "/bin/bash %{_rpmconfigdir}/brp-compress %{?_prefix}",
    # headers that do not depend on the build host
    "_buildhost": "build.cluster.invalid",
    "source_date_epoch_from_changelog": "1",
    "use_source_date_epoch_as_buildtime": "1",
    "clamp_mtime_to_source_date_epoch": "1",
    "_source_filedigest_algorithm": "8",
    "_binary_filedigest_algorithm": "8",
}

#: systemd-rpm-macros' directories (the same on every target).
SYSTEMD_PATHS = {
    "_unitdir": "/usr/lib/systemd/system",
    "_userunitdir": "/usr/lib/systemd/user",
    "_presetdir": "/usr/lib/systemd/system-preset",
    "_userpresetdir": "/usr/lib/systemd/user-preset",
    "_udevhwdbdir": "/usr/lib/udev/hwdb.d",
    "_udevrulesdir": "/usr/lib/udev/rules.d",
    "_journalcatalogdir": "/usr/lib/systemd/catalog",
    "_tmpfilesdir": "/usr/lib/tmpfiles.d",
    "_sysusersdir": "/usr/lib/sysusers.d",
    "_sysctldir": "/usr/lib/sysctl.d",
    "_binfmtdir": "/usr/lib/binfmt.d",
    "_environmentdir": "/usr/lib/environment.d",
    "_modulesloaddir": "/usr/lib/modules-load.d",
    "_modprobedir": "/usr/lib/modprobe.d",
    "_systemdgeneratordir": "/usr/lib/systemd/system-generators",
    "_systemdusergeneratordir": "/usr/lib/systemd/user-generators",
}

SYSTEMD_REQUIRES = {
    "systemd_requires": "\\\nRequires(post): systemd \\\nRequires(preun): systemd \\\n"
                        "Requires(postun): systemd \\\n%{nil}",
    "systemd_ordering": "\\\nOrderWithRequires(post): systemd \\\nOrderWithRequires(preun): systemd \\\n"
                        "OrderWithRequires(postun): systemd \\\n%{nil}",
}

#: EL8, systemd 239 (src/core/macros.systemd.in at v239): systemctl itself.
SYSTEMD_V239 = dict(SYSTEMD_REQUIRES, **{
    "systemd_post()": "\\\nif [ $1 -eq 1 ] ; then \\\n        # Initial installation \\\n"
                      "        systemctl --no-reload preset %{?*} &>/dev/null || : \\\nfi \\\n%{nil}",
    "systemd_preun()": "\\\nif [ $1 -eq 0 ] ; then \\\n        # Package removal, not upgrade \\\n"
                       "        systemctl --no-reload disable --now %{?*} &>/dev/null || : \\\nfi \\\n%{nil}",
    "systemd_postun()": "%{nil}",
    "systemd_postun_with_restart()": "\\\nif [ $1 -ge 1 ] ; then \\\n        # Package upgrade, not uninstall \\\n"
                                     "        systemctl try-restart %{?*} &>/dev/null || : \\\nfi \\\n%{nil}",
    "systemd_user_post()": "%{expand:%systemd_post \\\\--user \\\\--global %%{?*}}",
    "systemd_user_preun()": "\\\nif [ $1 -eq 0 ] ; then \\\n        # Package removal, not upgrade \\\n"
                            "        systemctl --no-reload --user --global disable %{?*} &>/dev/null || : \\\n"
                            "fi \\\n%{nil}",
    "systemd_user_postun()": "%{nil}",
    "systemd_user_postun_with_restart()": "%{nil}",
})

_HELPER = "/usr/lib/systemd/systemd-update-helper"


def _helper_macro(name, action, check="eq 1", comment="Initial installation"):
    return ("\\\n%{{expand:%%{{?__systemd_someargs_%#:%%__systemd_someargs_%# {name}}}}} \\\n"
            "if [ $1 -{check} ] && [ -x \"{helper}\" ]; then \\\n    # {comment} \\\n"
            "    {helper} {action} %{{?*}} || : \\\nfi \\\n%{{nil}}").format(
                name=name, check=check, helper=_HELPER, comment=comment, action=action)


def _args_only(name):
    return "\\\n%{{expand:%%{{?__systemd_someargs_%#:%%__systemd_someargs_%# {}}}}} \\\n%{{nil}}".format(name)


#: EL9 (systemd 252), EL10 (257), F41 (256), F42 (257), F43 (258): src/rpm/macros.systemd.in,
#: the systemd-update-helper form (the same text in all these versions).
SYSTEMD_HELPER = dict(SYSTEMD_REQUIRES, **{
    "_systemd_util_dir": "/usr/lib/systemd",
    "__systemd_someargs_0(:)": "%{error:The %%%1 macro requires some arguments}",
    "__systemd_twoargs_2()": "%{nil}",
    "systemd_post()": _helper_macro("systemd_post", "install-system-units"),
    "systemd_preun()": _helper_macro("systemd_preun", "remove-system-units", "eq 0", "Package removal, not upgrade"),
    "systemd_postun()": _args_only("systemd_postun"),
    "systemd_postun_with_restart()": _helper_macro("systemd_postun_with_restart", "mark-restart-system-units",
                                                   "ge 1", "Package upgrade, not uninstall"),
    "systemd_user_post()": _helper_macro("systemd_user_post", "install-user-units"),
    "systemd_user_preun()": _helper_macro("systemd_user_preun", "remove-user-units", "eq 0",
                                          "Package removal, not upgrade"),
    "systemd_user_postun()": _args_only("systemd_user_postun"),
})

#: %sysusers_create_compat runs sysusers.generate-pre.sh on EL8-10 and F41 builders, a
#: script Debian's rpm lacks: fail loudly rather than write an empty %pre. Fedora 42+
#: ship the neutered macro (rpm creates the accounts from sysusers.d itself).
SYSUSERS_COMPAT = {
    "sysusers_requires_compat": "Requires(pre): shadow-utils",
    "sysusers_create_compat()": "%{error:%%sysusers_create_compat runs sysusers.generate-pre.sh, which only a "
                                "Fedora/EL builder has; cluster specs create accounts in cluster-users}",
}
SYSUSERS_NATIVE = {
    "sysusers_requires_compat": "%{nil}",
    "sysusers_create_compat()": "%{nil}",
}
#: rpm >= 4.19 (Debian 13's 4.20 as a build host) adds `Provides: user(NAME)` for sysusers.d
#: files and `Requires: user(NAME)`/`group(NAME)` for files owned by other accounts. EL8/EL9
#: (rpm 4.14/4.16) have neither, EL10 and Fedora 41 patch them out, Fedora 42 makes the
#: requires weak, Fedora 43 has both. The closest Debian's rpm comes to "none": a sysusers
#: path no file has, and weak (Recommends) user/group dependencies.
USERGROUP_NONE = {"__sysusers_path": "^$", "_use_weak_usergroup_deps": "1"}
USERGROUP_WEAK = {"_use_weak_usergroup_deps": "1"}


#: The MPI families (cluster_repo.mpi.FAMILIES) a target's distribution ships, and on
#: which arches: Open MPI and MPICH (openmpi-devel, mpich-devel) are in the AppStream of
#: EL8, EL9 and EL10 and in Fedora, on x86_64 and aarch64 alike. A target without a
#: family on an arch builds its tools `--without FAMILY` there: the NAME-FAMILY
#: subpackage is not built, `cluster-repo lint` says so in a note, and the closure check
#: does not miss it.
MPI_EVERYWHERE = {"openmpi": ("x86_64", "aarch64"), "mpich": ("x86_64", "aarch64")}


def _python_macros(version, shebang_flags, shebang):
    nodots = version.replace(".", "")
    return {
        "python3_pkgversion": "3",
        "__python3": "/usr/bin/python3",
        "python3": "%{__python3}",
        "python3_version": version,
        "python3_version_nodots": nodots,
        "python3_sitelib": "/usr/lib/python{}/site-packages".format(version),
        "python3_sitearch": "/usr/lib64/python{}/site-packages".format(version),
        "python3_cache_tag": "cpython-{}".format(nodots),
        "py3_shebang_flags": shebang_flags,
        "py3_shbang_opts": "-" + shebang_flags,
        # where the target's brp-mangle-shebangs points /usr/bin/python3 scripts
        "cluster_python3_shebang": shebang,
        "_python_bytecompile_errors_terminate_build": "1",
        "_python_bytecompile_extra": "0",          # Debian's rpm: 1
        # bytecode only with the target's interpreter (see Target.macros)
        "__brp_python_bytecompile": "%{nil}",
        "py_byte_compile()": "%{error:%%py_byte_compile needs the target's python%{python3_version} on the build host}",
    }


_host_python = []


def host_python():
    """("X.Y", has pytest, has libdnf5, has dnf) of the build host's /usr/bin/python3,
    what %{__python3} runs."""
    if not _host_python:
        probe = ("import sys, importlib.util as u; "
                 "print('%d.%d' % sys.version_info[:2], int(u.find_spec('pytest') is not None), "
                 "int(u.find_spec('libdnf5') is not None), int(u.find_spec('dnf') is not None))")
        try:
            out = subprocess.run(["/usr/bin/python3", "-c", probe], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, universal_newlines=True).stdout.split()
        except OSError:
            out = []
        _host_python.append((out[0], out[1] == "1", out[2] == "1", out[3] == "1") if len(out) == 4
                            else (None, False, False, False))
    return _host_python[0]


def host_macros(python3_version):
    """What this build host can do for a target: bytecode (bytecode_macros), the spec's
    unit tests in %check, which need pytest for /usr/bin/python3, and its import check
    of each backend, which needs python3-dnf or python3-libdnf5 (Debian 12 and 13 have no
    libdnf5; the dnf5 tests' sid chroot has no dnf 4)."""
    version, has_pytest, has_libdnf5, has_dnf = host_python()
    macros = bytecode_macros(python3_version, version)
    if not has_pytest:
        macros["_without_tests"] = "--without-tests"
    if not has_libdnf5:
        macros["_without_libdnf5"] = "--without-libdnf5"
    if not has_dnf:
        macros["_without_dnf4"] = "--without-dnf4"
    return macros


def bytecode_macros(python3_version, host_version):
    """Bytecode as a Fedora/EL builder makes it when the host's interpreter is the
    target's; otherwise `--without bytecode` (Debian 12's 3.11 is no target's Python)."""
    if host_version != python3_version:
        return {"_without_bytecode": "--without-bytecode"}
    macros = {
        "_with_bytecode": "--with-bytecode",
        # the host's list plus the bytecompile step (Fedora's %{__os_install_post_python})
        "__os_install_post": "\\\n    %{?__brp_compress} \\\n    %{?__brp_elfperms} \\\n    %{?__brp_strip} \\\n"
                             "    %{?__brp_strip_static_archive} \\\n    %{?__brp_strip_comment_note} \\\n"
                             "    %{?__brp_remove_la_files} \\\n    %{?__brp_python_bytecompile} \\\n%{nil}",
    }
    if tuple(int(part) for part in python3_version.split(".")) >= (3, 9):
        # both optimisation levels, identical ones hardlinked (as Fedora's brp-python-hardlink)
        compile_cmd = "%{__python3} -s -B -m compileall -q -o 0 -o 1 --hardlink-dupes -s %{buildroot} -p /"
        macros["__brp_python_bytecompile"] = compile_cmd + " %{buildroot}%{python3_sitelib}"
        macros["py_byte_compile()"] = compile_cmd + " %2"
    else:   # EL8's 3.6 has neither -o nor -s/-p: one run per level, -d names the installed path
        macros["__brp_python_bytecompile"] = " && ".join(
            "%{{__python3}} -s -B {}-m compileall -q -d %{{python3_sitelib}} %{{buildroot}}%{{python3_sitelib}}".format(
                opt) for opt in ("", "-O "))
    return macros


class Target(object):
    def __init__(self, name, family, releasever, python3_version, rpm, systemd, shebang_flags,
                 sbin_merged=False, native_sysusers=False, shebang="/usr/bin/python3", payload="w19.zstdio",
                 usergroup_deps=USERGROUP_NONE, mpi=MPI_EVERYWHERE):
        self.name = name
        self.family = family                  # "rhel" or "fedora"
        self.releasever = releasever          # what $releasever is on such a host
        self.python3_version = python3_version
        self.dist = "." + name
        self.rpm_version = rpm
        self.systemd_version = systemd
        self.sbin_merged = sbin_merged
        self.mpi = dict(mpi)                  # MPI family -> the arches that ship it
        macros = dict(REDHAT_PATHS)
        macros.update(SYSTEMD_PATHS)
        macros.update(SYSTEMD_V239 if systemd < 249 else SYSTEMD_HELPER)
        macros.update(SYSUSERS_NATIVE if native_sysusers else SYSUSERS_COMPAT)
        macros.update(usergroup_deps)
        macros.update(_python_macros(python3_version, shebang_flags, shebang))
        if sbin_merged:
            macros["_sbindir"] = "%{_bindir}"
        macros[family] = releasever
        macros[("el" if family == "rhel" else "fc") + releasever] = "1"
        macros["dist"] = self.dist
        macros["_source_payload"] = macros["_binary_payload"] = payload
        self._macros = macros

    @property
    def macros(self):
        """Every macro to --define for this target (names ending in "()" are parametric;
        multi-line bodies keep their trailing backslashes, as in a macro file)."""
        return dict(self._macros, **host_macros(self.python3_version))

    def mpi_missing(self, arch):
        """The MPI families this target does not ship on `arch`."""
        return [fam for fam in MPI_FAMILIES if arch not in self.mpi.get(fam, ())]

    def mpi_without(self, arch):
        """rpmbuild defines that leave out, on `arch`, the families the target lacks there
        (a tool's `%bcond_without FAMILY`)."""
        return dict(("_without_" + fam, "--without-" + fam) for fam in self.mpi_missing(arch))

    def __repr__(self):
        return "Target({})".format(self.name)


TARGETS = dict((t.name, t) for t in (
    # rpm 4.14.3, systemd 239, platform-python 3.6 (brp-mangle-shebangs rewrites
    # /usr/bin/python3 to /usr/libexec/platform-python), xz payloads
    Target("el8", "rhel", "8", "3.6", "4.14.3", 239, "s", shebang="/usr/libexec/platform-python",
           payload="w2.xzdio"),
    Target("el9", "rhel", "9", "3.9", "4.16.1.3", 252, "s"),
    Target("el10", "rhel", "10", "3.12", "4.19.1.1", 257, "sP"),
    # rpm 4.20.0 with sysusers disabled and /usr/sbin not yet merged
    Target("fc41", "fedora", "41", "3.13", "4.20.0", 256, "sP"),
    Target("fc42", "fedora", "42", "3.13", "4.20.1", 257, "sP", sbin_merged=True, native_sysusers=True,
           usergroup_deps=USERGROUP_WEAK),
    Target("fc43", "fedora", "43", "3.14", "6.0", 258, "sP", sbin_merged=True, native_sysusers=True,
           usergroup_deps={}),
))
DEFAULT_TARGET = "el9"


def get_target(name):
    try:
        return TARGETS[name]
    except KeyError:
        raise ClusterError("unknown target '{}' (known: {})".format(name, ", ".join(sorted(TARGETS))))

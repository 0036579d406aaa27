"""Running the real rpmbuild: one private _topdir per call, outputs where asked,
and the list of files it wrote (from its `Wrote:` lines)."""
import os
import re
import shutil
import subprocess
import tempfile

from dnf_plugin_cluster.errors import ClusterError

_host_is_rpm_based = None


def host_is_rpm_based():
    """True on Fedora/EL. On Debian the host rpm database is empty, so BuildRequires
    can never be satisfied from it and rpmbuild must run with --nodeps."""
    global _host_is_rpm_based
    if _host_is_rpm_based is None:
        try:
            _host_is_rpm_based = subprocess.call(
                ["rpm", "-q", "--quiet", "rpm"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0
        except OSError:
            _host_is_rpm_based = False
    return _host_is_rpm_based


def host_macros():
    """Macros for this build host. On a Debian host (the test world) no -debuginfo
    packages: Debian 12's rpm has them off, Debian 13's rpm 4.20 on, where its
    find-debuginfo then needs elfutils' eu-strip; binaries built on Debian serve the
    test world only (releases are built on the target from the SRPMs), so both hosts
    build the same set of packages."""
    return {} if host_is_rpm_based() else {"_enable_debug_packages": "0"}


def rpmbuild(spec, mode, rpmdir=None, srpmdir=None, sourcedir=None, target=None, defines=None,
             extra_args=()):
    """Build `spec` with `rpmbuild mode` (-bb, -bs, -ba); returns the paths written.

    `target` is the arch for `--target` (None: rpmbuild's default).
    `defines` is a dict of macros (e.g. a build Target's macros, payload compression included)."""
    work = tempfile.mkdtemp(prefix="cluster-rpmbuild-")
    try:
        cmd = ["rpmbuild", mode]
        macros = {"_topdir": work}
        if rpmdir:
            macros["_rpmdir"] = os.path.abspath(rpmdir)
        if srpmdir:
            macros["_srcrpmdir"] = os.path.abspath(srpmdir)
        macros["_sourcedir"] = os.path.abspath(sourcedir or os.path.dirname(os.path.abspath(spec)))
        macros.update(host_macros())
        macros.update(defines or {})
        for key, value in macros.items():
            cmd += ["--define", "{} {}".format(key, value)]
        if target:
            cmd += ["--target", target]
        if not host_is_rpm_based():
            cmd.append("--nodeps")
        cmd += list(extra_args)
        cmd.append(spec)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              encoding="utf-8", errors="replace")
        if proc.returncode != 0:
            raise ClusterError("rpmbuild failed: {}".format(_failure(proc.stdout)), spec)
        return [line.split(":", 1)[1].strip() for line in proc.stdout.splitlines()
                if line.startswith("Wrote:")]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _failure(output):
    """What went wrong, in one line: for a failed section (`Bad exit status from ...
    (%install)`), the section and the last line it printed that is not a shell trace
    (`+ cmd`), which is where the real cause is (a brp script, a missing file); else
    the error lines rpmbuild printed."""
    lines = [l.strip() for l in output.splitlines() if l.strip()]
    for number, line in enumerate(lines):
        found = re.search(r"Bad exit status from \S+ \((%\w+)\)", line)
        if found:
            said = [l for l in lines[:number] if not l.startswith("+") and not l.startswith("Executing(")]
            return "{} failed: {}".format(found.group(1), said[-1] if said else line)
    errors = [l for l in lines if "error" in l.lower()] or lines[-3:]
    return "; ".join(errors[-3:])

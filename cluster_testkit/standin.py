"""The stand-in base repository: RPMs with the real Fedora/EL names, versions, arches
and dependencies of base/packages.yaml, built with rpmbuild and indexed with
createrepo_c, one repository per arch (`OUT/<arch>/`), as Fedora mirrors lay them out.
They are empty but for what the real packages do that matters to the cluster: setup's
/etc/passwd and /etc/group, directories owned by service accounts, the accounts munge and
slurm create in their shell %pre (`getent || groupadd -r`, `getent || useradd -r`, as the
real ones: dynamic ids), and shadow-utils' tools that do it.

The stand-in shadow-utils carries working tools: the build host's useradd, groupadd,
usermod, groupmod and getent with the libraries ldd names for them (HOST_TOOLS). rpm runs
scriptlets chrooted into an --installroot, so only binaries inside the root can run there,
and only once the package that ships them is installed, as on Fedora/EL: a scriptlet that
calls useradd before shadow-utils is in fails here as it would there. The binaries are the
host's (x86_64 also in aarch64 packages: the kernel does not care about rpm's arch, as
with dnfroot.give_shell), so the package turns off rpm's automatic dependencies."""
import os
import re
import shutil
import subprocess
import tempfile

from cluster_repo import basepkgs
from cluster_repo.rpmbuild import rpmbuild
from cluster_repo.targets import get_target
from dnf_plugin_cluster.names import CLUSTER_ARCHES

from . import REPO_ROOT

BASE_FILE = os.path.join(REPO_ROOT, "base", "packages.yaml")
#: {stand-in package: host binaries it ships, with their libraries} (see above)
HOST_TOOLS = {"shadow-utils": ("/usr/sbin/useradd", "/usr/sbin/groupadd", "/usr/sbin/usermod",
                               "/usr/sbin/groupmod", "/usr/bin/getent")}


def host_files(binaries):
    """[(path in the package, host file to copy)] for `binaries` and every library ldd
    names for them (the dynamic loader included), each path once."""
    out = {}
    for binary in binaries:
        ldd = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
        for path in [binary] + re.findall(r"(/\S+) \(0x", ldd):
            out.setdefault(path, os.path.realpath(path))
    return sorted(out.items())


def useradd_pre(account):
    """The shell %pre of a package whose real counterpart creates `account` ({"user",
    "comment", "home"}), as the real munge and slurm spec files have it (Fedora's
    UsersAndGroups guideline before sysusers.d): dynamic ids from useradd -r."""
    user, comment, home = account["user"], account["comment"], account["home"]
    assert not any(c in comment + home + user for c in '"$`\\%\n'), account
    return ["getent group {0} >/dev/null || groupadd -r {0}".format(user),
            'getent passwd {0} >/dev/null || useradd -r -g {0} -d {1} -s /sbin/nologin -c "{2}" {0}'.format(
                user, home, comment),
            "exit 0"]


def _subpackage(pkg, evr):
    """The spec sections of one stand-in package: (header, %files, %install, scriptlets)
    lines, each wrapped in the package's arch and distro conditions."""
    version, release = evr.split("-")
    guards = []
    if pkg.families != basepkgs.FAMILIES:
        guards.append("%if 0%{{?{}}}".format(pkg.families[0]))
    if not pkg.noarch and set(pkg.arches) != set(CLUSTER_ARCHES):
        guards.append("%ifarch {}".format(" ".join(pkg.arches)))
    closers = ["%endif"] * len(guards)
    full_evr = "{}-{}%{{?dist}}".format(version, release)
    header = [
        "%package -n {}".format(pkg.name),
        "Summary: Stand-in for the distribution's {}".format(pkg.name),
        "Version: {}".format(version),
        "Release: {}%{{?dist}}".format(release),
    ]
    if pkg.noarch:
        header.append("BuildArch: noarch")
    tools = host_files(HOST_TOOLS.get(pkg.name, ()))
    if tools:
        header.append("AutoReqProv: no")
    elif any(owner != "root" for owner in pkg.dirs.values()):
        # rpmbuild >= 4.19 (Debian 13's 4.20) turns a non-root %attr owner into a
        # Requires(pre) (Debian: Recommends) on user(ACCOUNT)/group(ACCOUNT): the real
        # packages this stands for (built by EL's rpm, or shipping their own sysusers.d
        # provides) have none, and with it rpm orders the fc42 cluster-users (which provides
        # user(munge)) before munge, and dnf pulls it in. AutoReq: no is rpm's only switch
        # for it; the stand-ins' other requires are spelled out or come from the scriptlets.
        header.append("AutoReq: no")
    # "@EVR@" ties subpackages of one source together, like `slurm = %{version}-%{release}`.
    header += ["Requires: {}".format(r.replace("@EVR@", full_evr)) for r in pkg.requires]
    header += ["Requires(pre): {}".format(r) for r in pkg.requires_pre]
    header += ["Provides: {}".format(p) for p in pkg.provides]
    header += ["%description -n {}".format(pkg.name),
               "Empty stand-in package with the real name and dependencies of {}.".format(pkg.name)]
    files = ["%files -n {}".format(pkg.name)] + list(pkg.files)
    files += ["%config(noreplace) {}".format(f) if f.startswith("/etc/") else f for f in sorted(pkg.contents)]
    files += ["%dir %attr({0},{1},{1}) {2}".format(pkg.dir_modes.get(d, "-"), owner, d)
              for d, owner in sorted(pkg.dirs.items())]
    install = ["mkdir -p %{{buildroot}}{} && touch %{{buildroot}}{}".format(os.path.dirname(f), f)
               for f in pkg.files]
    for path, text in sorted(pkg.contents.items()):
        install += ["mkdir -p %{{buildroot}}{}".format(os.path.dirname(path)),
                    "cat > %{{buildroot}}{} <<'{}'".format(path, basepkgs.CONTENT_EOF)]
        install += text.rstrip("\n").split("\n") + [basepkgs.CONTENT_EOF]
    install += ["mkdir -p %{{buildroot}}{}".format(d) for d in sorted(pkg.dirs)]
    for dest, source in tools:
        install.append("mkdir -p %{{buildroot}}{} && cp -p {} %{{buildroot}}{}".format(
            os.path.dirname(dest), source, dest))
        files.append(dest)
    scripts = []
    if pkg.creates_user:
        scripts = ["%pre -n {}".format(pkg.name)] + useradd_pre(pkg.creates_user) + [""]
    wrap = lambda lines: guards + lines + closers if lines else []
    return wrap(header), wrap(files), wrap(install), wrap(scripts)


def render_specs(base):
    """One spec per version generation: generation g holds every package's g-th build,
    so older and newer builds of the same name coexist in the repository."""
    specs = []
    depth = max(len(p.evrs) for p in base.packages.values())
    for gen in range(depth):
        # no /usr/lib/.build-id links for the host tools (HOST_TOOLS)
        head = ["%global _build_id_links none",
                "Name: standin-base-{}".format(gen), "Version: 1", "Release: 1",
                "Summary: Stand-in base distribution packages", "License: MIT",
                "%description", "Generated from base/packages.yaml; builds no package of its own.", ""]
        headers, files, install, scripts = [], [], [], []
        for pkg in sorted(base.packages.values(), key=lambda p: p.name):
            if gen < len(pkg.evrs):
                header, pkg_files, pkg_install, pkg_scripts = _subpackage(pkg, pkg.evrs[gen])
                headers += header + [""]
                files += pkg_files + [""]
                install += pkg_install
                scripts += pkg_scripts
        text = "\n".join(head + headers + ["%install"] + install + [""] + files + scripts) + "\n"
        specs.append(("standin-base-{}.spec".format(gen), text))
    return specs


def build(outdir, target="el9", arches=CLUSTER_ARCHES, base_file=BASE_FILE):
    """Build the stand-in base for `target` into OUTDIR/<arch>/ (+ repodata); returns outdir."""
    base = basepkgs.load(base_file)
    macros = get_target(target).macros
    work = tempfile.mkdtemp(prefix="standin-")
    try:
        written = {}
        for name, text in render_specs(base):
            spec = os.path.join(work, name)
            with open(spec, "w") as handle:
                handle.write(text)
            for arch in arches:
                written.setdefault(arch, []).extend(
                    rpmbuild(spec, "-bb", rpmdir=os.path.join(work, "rpms"), target=arch, defines=macros))
        for arch in arches:
            pkgdir = os.path.join(outdir, arch, "Packages")
            os.makedirs(pkgdir, exist_ok=True)
            for path in written[arch]:
                shutil.copy2(path, pkgdir)
            subprocess.run(["createrepo_c", "--quiet", "--no-database", os.path.join(outdir, arch)], check=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return outdir

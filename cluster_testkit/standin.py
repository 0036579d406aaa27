"""The stand-in base repository: empty RPMs with the real Fedora/EL names, versions,
arches and dependencies of base/packages.yaml, built with rpmbuild and indexed with
createrepo_c, one repository per arch (`OUT/<arch>/`), as Fedora mirrors lay them out."""
import os
import shutil
import subprocess
import tempfile

from cluster_repo import basepkgs
from cluster_repo.rpmbuild import rpmbuild
from cluster_repo.targets import get_target
from dnf_plugin_cluster.names import CLUSTER_ARCHES

from . import REPO_ROOT

BASE_FILE = os.path.join(REPO_ROOT, "base", "packages.yaml")


def _subpackage(pkg, evr):
    """The spec sections of one stand-in package: (header, %files, %install) lines,
    each wrapped in the package's arch and distro conditions."""
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
    # "@EVR@" ties subpackages of one source together, like `slurm = %{version}-%{release}`.
    header += ["Requires: {}".format(r.replace("@EVR@", full_evr)) for r in pkg.requires]
    header += ["Provides: {}".format(p) for p in pkg.provides]
    header += ["%description -n {}".format(pkg.name),
               "Empty stand-in package with the real name and dependencies of {}.".format(pkg.name)]
    files = ["%files -n {}".format(pkg.name)] + list(pkg.files)
    install = ["mkdir -p %{{buildroot}}{} && touch %{{buildroot}}{}".format(os.path.dirname(f), f)
               for f in pkg.files]
    wrap = lambda lines: guards + lines + closers if lines else []
    return wrap(header), wrap(files), wrap(install)


def render_specs(base):
    """One spec per version generation: generation g holds every package's g-th build,
    so older and newer builds of the same name coexist in the repository."""
    specs = []
    depth = max(len(p.evrs) for p in base.packages.values())
    for gen in range(depth):
        head = ["Name: standin-base-{}".format(gen), "Version: 1", "Release: 1",
                "Summary: Stand-in base distribution packages", "License: MIT",
                "%description", "Generated from base/packages.yaml; builds no package of its own.", ""]
        headers, files, install = [], [], []
        for pkg in sorted(base.packages.values(), key=lambda p: p.name):
            if gen < len(pkg.evrs):
                header, pkg_files, pkg_install = _subpackage(pkg, pkg.evrs[gen])
                headers += header + [""]
                files += pkg_files + [""]
                install += pkg_install
        text = "\n".join(head + headers + ["%install"] + install + [""] + files) + "\n"
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

"""Repository closure with real dnf, per arch: every package we build installs against
the built repository plus the base, and every comps package exists on each arch it
applies to (what Fedora's comps CI checks with `dnf --forcearch=ARCH repoquery`)."""
import os
import shutil
import tempfile

from dnf_plugin_cluster.errors import ClusterError

from .build import ARCH_QUERY, arch_allowed, file_url


def _base_for(arch, releasever, repos, cachedir):
    import dnf
    base = dnf.Base()
    conf = base.conf
    conf.cachedir = cachedir
    conf.reposdir = []
    conf.config_file_path = "/dev/null"
    conf.installroot = tempfile.mkdtemp(prefix="cluster-closure-root-")
    conf.substitutions["releasever"] = releasever
    conf.substitutions["arch"] = arch
    conf.substitutions["basearch"] = dnf.rpm.basearch(arch)
    conf.arch = arch
    conf.ignorearch = True
    conf.gpgcheck = False
    conf.best = True
    conf.install_weak_deps = True
    if hasattr(conf, "optional_metadata_types") and "filelists" not in conf.optional_metadata_types:
        # as EL's and Fedora's dnf 4 (< 4.19) always do: dnf >= 4.19 skips filelists unless
        # asked, and an EL8 package's /usr/libexec/platform-python (a file dependency
        # outside primary.xml) then has no provider
        conf.optional_metadata_types = list(conf.optional_metadata_types) + ["filelists"]
    for index, url in enumerate(repos):
        base.repos.add_new_repo("closure-{}".format(index), conf, baseurl=[url], metadata_expire=0)
    base.fill_sack(load_system_repo=False)
    return base


def check(tree, releasever, arches, base_urls, package_names, comps_doc, profile=None):
    """Problems (strings) found; empty when every package resolves on every arch.

    tree: the built OUTDIR/<releasever>; base_urls: base repository URLs (may use
    $basearch); package_names: our binary packages (or {arch: names}); comps_doc: merged comps;
    profile: the published cluster profile, whose every role must install as a whole."""
    import dnf
    problems = []
    cachedir = tempfile.mkdtemp(prefix="cluster-closure-")
    try:
        for arch in arches:
            repos = [file_url(os.path.join(tree, arch))] + list(base_urls)
            try:
                base = _base_for(arch, releasever, repos, os.path.join(cachedir, arch))
            except dnf.exceptions.Error as err:
                raise ClusterError("closure check cannot load repositories for {}: {}".format(arch, err))
            try:
                available = base.sack.query().available()
                names = package_names[arch] if isinstance(package_names, dict) else package_names
                for name in sorted(names):
                    if not available.filter(name=name):
                        problems.append("{}: {} was not built".format(arch, name))
                        continue
                    base.reset(goal=True)
                    base.install(name)
                    try:
                        base.resolve()
                    except dnf.exceptions.DepsolveError as err:
                        problems.append("{}: {} is not installable: {}".format(
                            arch, name, " ".join(str(err).split())))
                for role, entry in sorted(((profile or {}).get("roles") or {}).items()):
                    names = entry["arches"].get(arch, {}).get("packages", [])
                    base.reset(goal=True)
                    try:
                        for name in names:
                            base.install(name)
                        base.resolve()
                    except dnf.exceptions.Error as err:
                        problems.append("{}: role {} does not install as a whole: {}".format(
                            arch, role, " ".join(str(err).split())))
                for grp in comps_doc.groups:
                    for req in grp.packages:
                        if req.applies_to(arch) and (not grp.arches or arch in grp.arches) \
                                and not available.filter(provides=req.name):
                            problems.append("{}: group {} lists {}, which no repository provides".format(
                                arch, grp.id, req.name))
            finally:
                shutil.rmtree(base.conf.installroot, ignore_errors=True)
                base.close()
    finally:
        shutil.rmtree(cachedir, ignore_errors=True)
    return problems


def not_built(manifest, spec_names, arches):
    """{spec name: [arches]} of specs meant for an arch that the tree's build manifest
    says were not built for it (a host that cannot build them, such as the C++ dnf5
    plugin on Debian); the build said so with a "not built" line."""
    out = {}
    packages = (manifest or {}).get("packages", {})
    for name in spec_names:
        entry = packages.get(name)
        built = entry.get("arches", []) if entry else []
        missing = [a for a in arches if built != ["noarch"] and a not in built]
        if missing:
            out[name] = missing
    return out


def check_tree(project, tree, target, arches, base_urls, manifest=None):
    """(problems, not checked) for the release tree `tree` of `project` built for `target`:
    check() over the binary packages of every spec meant for each arch (ExclusiveArch,
    ExcludeArch) and built for it, and every role of the tree's default profile. A spec
    the manifest lists as not built for an arch is left out of that arch's check and
    returned as {spec name: [arches]} instead: the host could not build it, nothing in
    the tree is wrong; so is a metapackage that requires one of its packages there. A
    tool's MPI family the target does not ship on an arch (targets.Target.mpi), or that
    the build left out (its manifest entry's "without"), is not built and not missed.
    Without a manifest every meant spec is checked."""
    from dnf_plugin_cluster.head import publish

    from . import compsfile
    from .project import rpmspec_query
    specs = project.spec_files()
    stems = [os.path.basename(spec)[:-len(".spec")] for spec in specs]
    limits = rpmspec_query(specs, target, ARCH_QUERY, srpm=True)
    meant = dict((arch, [stem for stem, line in zip(stems, limits) if arch_allowed(line, arch)]) for arch in arches)
    unbuilt = {}
    if manifest is not None:
        for arch in arches:
            for name, missing in not_built(manifest, meant[arch], [arch]).items():
                unbuilt.setdefault(name, []).extend(missing)
    left_out = set(fam for entry in ((manifest or {}).get("packages") or {}).values()
                   for fam in entry.get("without", ()))
    names = {}
    for arch in arches:
        without = dict(target.mpi_without(arch), **dict(("_without_" + fam, "--without-" + fam) for fam in left_out))
        wanted = [spec for spec, stem in zip(specs, stems) if stem in meant[arch] and arch not in unbuilt.get(stem, ())]
        names[arch] = set(rpmspec_query(wanted, target, "%{name}\\n", arch=arch, defines=without))
        missing = [spec for spec, stem in zip(specs, stems) if arch in unbuilt.get(stem, ())]
        for name in _requiring(project.metapackages, set(rpmspec_query(missing, target, "%{name}\\n", arch=arch,
                                                                        defines=without)), target.family, arch):
            names[arch].discard(name)
            unbuilt.setdefault(name, []).append(arch)
    problems = check(tree, target.releasever, arches, base_urls, names, compsfile.merge(project.comps_docs()),
                     publish.current(tree))
    return problems, unbuilt


def _requiring(pkgs, absent, family, arch):
    """Names of the metapackages (`pkgs`) that require, on that distro family and arch,
    one of the `absent` names, directly or through another such metapackage."""
    out, absent = [], set(absent)
    grew = bool(absent)
    while grew:
        grew = False
        for pkg in pkgs:
            if pkg.name in absent:
                continue
            if any(dep.applies(family, arch) and set(dep.names) & absent for dep in pkg.deps["requires"]):
                absent.add(pkg.name)
                out.append(pkg.name)
                grew = True
    return sorted(out)


class ClosureFailed(ClusterError):
    """The closure check found problems (each a line of its own)."""

    def __init__(self, problems):
        super(ClosureFailed, self).__init__("closure check failed ({} problem(s)); nothing was published".format(
            len(problems)))
        self.problems = list(problems)

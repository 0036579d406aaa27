"""Repository closure with real dnf, per arch: every package we build installs against
the built repository plus the base, and every comps package exists on each arch it
applies to (what Fedora's comps CI checks with `dnf --forcearch=ARCH repoquery`)."""
import os
import shutil
import tempfile

from dnf_plugin_cluster.errors import ClusterError

from .build import file_url


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

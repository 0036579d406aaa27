"""What a fresh node of an arch installs, on a dnf5 head node (`publish --lock` where
dnf 4 is not installed, Fedora 41+): a second libdnf5 Base in a throwaway empty
installroot, set up as `dnf5 --installroot=EMPTY --forcearch=ARCH` would be with this
head node's configuration and .repo files, resolved and never run.

libdnf5 prefixes the installroot to reposdir and the cache directories at a lower
priority than the command line, so the head Base's effective values are set here at
command-line priority: the throwaway root reads the head's repositories and shares its
metadata cache (per repository and URL, so arches never mix). The variables ($releasever
and the vars directories' own) are the head Base's: an empty root has no release
package to detect them from; $arch is the one asked, and $basearch follows it."""
import os
import shutil
import tempfile

import libdnf5

from ...errors import ClusterError
from ...plan import format_evr
from .. import LOCAL_REPO, FreshResolver, Locked
from .common import PRIORITY, one_line

#: options copied from the head Base as they are in effect there
COPIED = ("excludepkgs", "includepkgs", "install_weak_deps", "best", "multilib_policy", "skip_if_unavailable",
          "module_platform_id", "zchunk", "sslverify", "proxy", "timeout", "minrate", "retries", "installonlypkgs")
#: path options, the head's effective (installroot-prefixed) values
PATHS = ("reposdir", "cachedir", "system_cachedir")


class Libdnf5Fresh(FreshResolver):
    def __init__(self, backend, arch, hide, enable, optional, local=None):
        head = backend._ready()
        self.arch = arch
        self.root = tempfile.mkdtemp(prefix="cluster-fresh-{}-".format(arch))
        self.base = None
        self._local_cache = None
        try:
            if arch not in libdnf5.rpm.get_supported_arches():
                raise ClusterError("dnf5 does not know the arch '{}'".format(arch))
            base = libdnf5.base.Base()
            conf = base.get_config()
            conf.installroot = self.root
            conf.plugins = False
            path = head.get_config().config_file_path
            if path:
                conf.config_file_path = path
                base.load_config()
            head_binds, binds = head.get_config().opt_binds(), conf.opt_binds()
            for key in PATHS + COPIED:
                try:
                    value = head_binds.at(key).get_value_string()
                except libdnf5.exception.Error:
                    continue
                binds.at(key).new_string(PRIORITY, value)
            conf.use_host_config = True
            conf.ignorearch = True
            if backend.settings.cacheonly:
                conf.cacheonly = "all"
            variables = base.get_vars()
            for name, value in sorted(backend.substitutions().items()):
                if name not in ("arch", "basearch"):
                    variables.set(name, value)
            variables.set("arch", arch)                  # --forcearch: $basearch follows
            base.setup()
            sack = base.get_repo_sack()
            sack.create_repos_from_system_configuration()
            wanted = (set(backend.enabled_repos()) | set(enable)) - set(hide)
            query = libdnf5.repo.RepoQuery(base)
            query.filter_type(libdnf5.repo.Repo.Type_AVAILABLE)
            repos = dict((r.get_id(), r) for r in query)
            missing = sorted(wanted - set(repos))
            if missing:
                raise ClusterError("repository '{}' is enabled on this host but defined in no .repo file, so it "
                                   "cannot be read for {}".format(missing[0], arch))
            for repoid, repo in sorted(repos.items()):
                if repoid not in wanted:
                    repo.disable()
                    continue
                repo.enable()
                repo.get_config().get_skip_if_unavailable_option().set(repoid in optional)
                if not backend.settings.cacheonly:
                    repo.expire()                        # never a stale build from this host's cache
            if local:                                    # the site-local RPMs this publish indexes
                repo = sack.create_repo(LOCAL_REPO)
                repo.get_config().baseurl = ("file://" + os.path.abspath(local),)
                repo.enable()
                repo.get_config().get_skip_if_unavailable_option().set(False)
                # what libdnf5 caches of it (per temporary baseurl) goes with the resolver (close())
                self._local_cache = repo.get_cachedir()
            self.base = base
            try:
                sack.load_repos(libdnf5.repo.Repo.Type_AVAILABLE)
            except libdnf5.exception.Error as err:
                raise ClusterError("the repositories cannot be read for {} (do they have a {} tree?): {}".format(
                    arch, arch, one_line(err)))
        except libdnf5.exception.Error as err:
            self.close()
            raise ClusterError("publish --lock for {}: {}".format(arch, one_line(err)))
        except BaseException:
            self.close()
            raise

    def _available(self, name):
        query = libdnf5.rpm.PackageQuery(self.base)
        query.filter_available()
        query.filter_name([name])
        return not query.empty()

    def resolve(self, wanted, optional=()):
        goal = libdnf5.base.Goal(self.base)
        for name in sorted(wanted):
            if not self._available(name):
                raise ClusterError("package '{}' is not available for {}".format(name, self.arch))
            goal.add_rpm_install(name)
        for name in sorted(set(optional) - set(wanted)):
            if self._available(name):
                goal.add_rpm_install(name)
        tx = goal.resolve()
        if tx.get_problems() != libdnf5.base.GoalProblem_NO_PROBLEM:
            raise ClusterError("cannot resolve a fresh install for {}: {}".format(
                self.arch, " ".join(one_line(m) for m in tx.get_resolve_logs_as_strings()) or "(no reason given)"))
        out = []
        for item in tx.get_transaction_packages():
            pkg = item.get_package()
            checksum = pkg.get_checksum()
            value = checksum.get_checksum() if checksum is not None else ""
            out.append(Locked(pkg.get_name(), format_evr(pkg.get_evr()), pkg.get_arch(),
                              "{}:{}".format(checksum.get_type_str(), value) if value else None))
        return sorted(out, key=lambda p: (p.name, p.arch))

    def close(self):
        self.base = None
        shutil.rmtree(self.root, ignore_errors=True)
        if self._local_cache:
            shutil.rmtree(self._local_cache, ignore_errors=True)
            self._local_cache = None

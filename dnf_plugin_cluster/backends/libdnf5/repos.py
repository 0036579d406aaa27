"""The libdnf5 backend's repositories: which are enabled (--repo, --enable-repo,
--setopt), OpenPGP keys confirmed by the host, metadata paths and the .repo templates."""
import configparser
import fnmatch
import os
import re

import libdnf5

from ...errors import ClusterError, quote
from .common import PRIORITY

#: a variable's file name in a vars directory (dnf5: letters, digits, underscores)
VAR_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class ReposMixin(object):
    def _key_callbacks(self):
        """An OpenPGP key a repository names (gpgkey=) is imported only when the host
        confirms it (-y, or the user's answer), as dnf5 asks; without a host, never."""
        confirm = getattr(self.cli, "confirm_key", None) or (lambda key: False)

        class Callbacks(libdnf5.repo.RepoCallbacks):
            def repokey_import(self, key_info):
                return bool(confirm(key_info))

            def repokey_imported(self, key_info):
                pass

        self._callbacks = []
        for repo in self._repos(self.base):
            callbacks = Callbacks()
            self._callbacks.append(callbacks)          # the director must outlive the repository's use
            repo.set_callbacks(libdnf5.repo.RepoCallbacksUniquePtr(callbacks))

    def _repos(self, base=None, enabled=None):
        query = libdnf5.repo.RepoQuery(base or self._ready())
        query.filter_type(libdnf5.repo.Repo.Type_AVAILABLE)
        if enabled is not None:
            query.filter_enabled(enabled)
        return list(query)

    def _configure_repos(self, base):
        settings = self.settings
        repos = self._repos(base)

        def matching(patterns):
            found = []
            for pattern in patterns:
                hits = [r for r in repos if fnmatch.fnmatchcase(r.get_id(), pattern)]
                if not hits and not any(c in pattern for c in "*?["):
                    raise ClusterError("no repository matches {}".format(quote(pattern)))
                found += hits
            return found

        for pattern, key, value in settings.repo_setopts:
            for repo in [r for r in repos if fnmatch.fnmatchcase(r.get_id(), pattern)]:
                try:
                    repo.get_config().opt_binds().at(key).new_string(PRIORITY, value)
                except libdnf5.exception.OptionBindsOptionNotFoundError:
                    raise ClusterError("unknown repository option {} in --setopt".format(quote(key)))
        if settings.repos is not None:
            for repo in repos:
                repo.disable()
            for repo in matching(settings.repos):
                repo.enable()
        for repo in matching(settings.disable_repos):
            repo.disable()
        for repo in matching(list(settings.enable_repos) + self.extra_enabled):
            repo.enable()
        if not settings.gpgcheck:
            for repo in repos:
                repo.get_config().pkg_gpgcheck = False
                repo.get_config().repo_gpgcheck = False

    def want_metadata(self, mdtype):
        """Before load(): downloaded with the rest."""
        self.mdtypes.add(mdtype)

    def enabled_repos(self):
        return sorted(r.get_id() for r in self._repos(enabled=True))

    def repo_state(self, repoid):
        for repo in self._repos():
            if repo.get_id() == repoid:
                return bool(repo.is_enabled())
        return None

    def strict_repos(self, optional=()):
        for repo in self._repos(enabled=True):
            if repo.get_id() not in optional:
                repo.get_config().get_skip_if_unavailable_option().set(False)

    def has_tree(self, repoid, arch):
        """As dnf 4's: the repository alone, read for `arch` in an empty root (the
        fresh-node resolver of publish --lock); unreadable there means no tree."""
        from .fresh import Libdnf5Fresh
        others = [r for r in self.enabled_repos() if r != repoid]
        try:
            Libdnf5Fresh(self, arch, others, (repoid,), ()).close()
        except ClusterError:
            return False
        return True

    def enable_repo(self, repoid, mdtype=None):
        if mdtype:
            self.mdtypes.add(mdtype)
        self.extra_enabled.append(repoid)
        self._reload()

    def hide_repo(self, repoid, keep=None):
        query = libdnf5.rpm.PackageQuery(self.base)
        query.filter_available()
        query.filter_repo_id([repoid])
        for name, evr in sorted((keep or {}).items()):
            exact = libdnf5.rpm.PackageQuery(query)
            exact.filter_name([name])
            exact.filter_evr([evr])
            query.difference(exact)
        self.base.get_rpm_package_sack().add_user_excludes(query)

    def _repo(self, repoid):
        for repo in self._repos():
            if repo.get_id() == repoid:
                return repo
        return None

    def metadata_path(self, repoid, mdtype):
        repo = self._repo(repoid)
        if repo is None or not repo.is_enabled():
            return None
        return repo.get_metadata_path(mdtype) or None

    def baseurl_template(self, repoid):
        """libdnf5 has expanded the variables; the template is read from the .repo file."""
        repo = self._repo(repoid)
        path = repo.get_repo_file_path() if repo is not None else None
        if not path:
            return None
        parser = configparser.RawConfigParser()
        parser.read(path)
        if not parser.has_option(repoid, "baseurl"):
            return None
        return parser.get(repoid, "baseurl").replace(",", " ").split()[0]

    def substitutions(self):
        """{name: value} of the variables a .repo file may use. python3-libdnf5 (5.4)
        does not wrap Vars.get_variables()'s map, so the names are asked one by one:
        dnf5's own, and those of the files in the vars directories (as dnf5 reads them)."""
        base = self._ready()
        variables = base.get_vars()
        names = set(("arch", "basearch", "releasever", "releasever_major", "releasever_minor"))
        for directory in self.conf.varsdir:
            path = os.path.join(self.installroot, directory.lstrip("/"))
            try:
                names.update(n for n in os.listdir(path) if VAR_NAME.match(n))
            except OSError:
                pass
        return dict((name, variables.get_value(name)) for name in sorted(names) if variables.contains(name))

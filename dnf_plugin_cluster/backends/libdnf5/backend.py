"""The libdnf5 backend's Base: configuration, setup, loading the rpm database and the
repositories, and a new Base when needed; the concerns it joins live beside it."""
import os

import libdnf5

from ...errors import ClusterError, RpmdbError, quote
from .. import Backend
from .common import PRIORITY, one_line
from .history import HistoryMixin
from .packages import PackagesMixin
from .repos import ReposMixin
from .transaction import TransactionMixin
from .versionlock import VersionLockMixin


class Libdnf5Backend(ReposMixin, PackagesMixin, TransactionMixin, VersionLockMixin, HistoryMixin, Backend):
    name = "libdnf5"

    def __init__(self, settings, cli=None):
        self.settings = settings
        self.cli = cli
        self.installroot = settings.installroot
        self.mdtypes = set()
        self.extra_enabled = []
        self.load_args = None
        self.base = None
        self.marks, self.removals, self.held = [], set(), ()
        self.tx = None
        self._done = None
        self.comment = None
        self._repairs = None
        self._setup()

    # --- Base --------------------------------------------------------------------------
    def _setup(self):
        """A Base with its configuration read (config file, command-line options,
        variables); setup() and the repositories come with _ready(), so metadata types
        asked for until then are downloaded."""
        settings = self.settings
        base = libdnf5.base.Base()
        conf = base.get_config()
        try:
            conf.installroot = settings.installroot
            conf.plugins = False                   # libdnf5 plugins are dnf5's business, not ours
            path = settings.config_file
            if path is None:                      # as dnf5: the root's own configuration
                path = os.path.join(settings.installroot, "etc/dnf/dnf.conf")
                if not os.path.exists(path):
                    path = None
            elif not os.path.isfile(path):
                raise ClusterError("config file '{}' does not exist".format(path))
            if path is not None:
                conf.config_file_path = path
                base.load_config()
            binds = conf.opt_binds()
            for key, value in settings.main_setopts:
                if key == "cachedir":             # as root libdnf5 uses system_cachedir
                    binds.at("system_cachedir").new_string(PRIORITY, value)
                binds.at(key).new_string(PRIORITY, value)
            if settings.cacheonly:
                conf.cacheonly = "all"
            if not settings.gpgcheck:
                conf.pkg_gpgcheck = False
                conf.repo_gpgcheck = False
            variables = base.get_vars().get()
            if settings.releasever:
                variables.set("releasever", settings.releasever)
            for name, value in settings.setvars:
                variables.set(name, value)
            if settings.forcearch:
                if settings.forcearch not in libdnf5.rpm.get_supported_arches():
                    raise ClusterError("unknown architecture {} for --forcearch".format(quote(settings.forcearch)))
                conf.ignorearch = True
                variables.set("arch", settings.forcearch)
        except libdnf5.exception.OptionBindsOptionNotFoundError as err:
            raise ClusterError("unknown configuration option in --setopt: {}".format(one_line(err)))
        except libdnf5.exception.Error as err:
            raise ClusterError(one_line(err))
        self.base = base
        self.conf = conf
        self.ready = False
        self.persistdir = os.path.join(settings.installroot, conf.persistdir.lstrip("/"))

    def _ready(self):
        """setup() and the configured repositories (not loaded yet)."""
        if self.ready:
            return self.base
        try:
            option = self.conf.get_optional_metadata_types_option()
            for mdtype in sorted(self.mdtypes):
                option.add(PRIORITY, mdtype)
            self.base.setup()
            self.base.get_repo_sack().create_repos_from_system_configuration()
            self._configure_repos(self.base)
            self._key_callbacks()
        except libdnf5.exception.Error as err:
            raise ClusterError(one_line(err))
        self.ready = True
        return self.base

    @property
    def basearch(self):
        return self._ready().get_vars().get_value("basearch")

    def load(self, system=None, available=True, fresh=None):
        """Load the rpm database and/or the enabled repositories' metadata, as the host
        demands (system: load_system_repo; fresh: freshest_metadata, i.e. check every
        repomd.xml; unchanged metadata is not downloaded again). Before a command that
        changes the system (root_user), a killed transaction of ours is finished (recover)."""
        demands = getattr(self.cli, "demands", None)
        if system is None:
            system = getattr(demands, "load_system_repo", True)
        if fresh is None:
            fresh = getattr(demands, "freshest_metadata", False)
        self.load_args = (system, available, fresh)
        if self.base is None:
            self._setup()
        self._ready()
        if fresh and not self.settings.cacheonly:
            for repo in self._repos(enabled=True):
                if self._checked_here(repo):
                    repo.set_sync_strategy(libdnf5.repo.Repo.SyncStrategy_ONLY_CACHE)
                else:
                    repo.expire()
        if self.settings.refresh:
            for repo in self._repos(enabled=True):
                repo.expire()
        if not (system or available):
            return
        self.check_versionlock_file()
        sack = self.base.get_repo_sack()
        try:
            if system and available:
                sack.load_repos()
            else:
                sack.load_repos(libdnf5.repo.Repo.Type_SYSTEM if system else libdnf5.repo.Repo.Type_AVAILABLE)
        except libdnf5.exception.Error as err:
            # an rpm database that rpm cannot open is said as dnf 4 nodes say it (sync.py)
            problem = self.rpmdb_problem() if system else None
            if problem:
                raise RpmdbError(self.installroot, problem)
            raise ClusterError(one_line(err))
        if available and self._refetch_incomplete():
            self._reload()
        elif system and getattr(demands, "root_user", False):
            self.recover("dnf-cluster" if self.cli is None else self.cli.description())

    def _checked_here(self, repo):
        """Did dnf-cluster fetch this repository's repomd.xml for the fast path's proof in
        this very process (fast5.FETCHED, a stale record), and is the cached one the same?
        Then that fetch was libdnf5's own check (is the cache still what the repository
        serves?), seconds ago, from the same URL: the cache is read as it is."""
        from ... import fast5
        from ...fastpath import file_digest
        seen = fast5.FETCHED.get(repo.get_id())
        if seen is None or self.settings.refresh:
            return False
        cached = os.path.join(repo.get_cachedir(), "repodata", "repomd.xml")
        return os.path.normpath(cached) == os.path.normpath(seen[1]) and file_digest(cached) == seen[0]

    # --- the no-op fast path's proof (fastpath.py), as fast5.py reads it without libdnf5 --
    fast_path = True
    #: the host answers fast before importing libdnf5 (dnf5cli, fast5.py); here the proof
    #: is read after load(), for the record a full path in sync writes
    fast_in_run = False

    def load_metadata(self):
        """Nothing: node.py reads the proof after load() on libdnf5."""

    def rpmdb_cookie(self):
        from ... import fastpath
        return fastpath.rpmdb_cookie(self.installroot)

    def repomd_digests(self):
        from ...fastpath import file_digest
        out = {}
        for repo in self._repos(enabled=True):
            primary = repo.get_metadata_path("primary")
            if not primary:
                return None
            digest = file_digest(os.path.join(os.path.dirname(primary), "repomd.xml"))
            if digest in (None, "none"):
                return None
            out[repo.get_id()] = digest
        return out

    def history_digest(self):
        from ... import fast5
        return fast5.history_digest(self.installroot)

    def versionlock_digest(self):
        from ...fastpath import file_digest
        return file_digest(self._versionlock_path())

    def repo_config_digest(self):
        from ... import fast5
        return fast5.config_digest(self.settings)

    def fetch_specs(self):
        """{repoid: where fast5.py fetches its repomd.xml}, or None (no record, no fast
        path) when libdnf5 reads its configuration or keeps its state elsewhere than
        fast5.py looks, or a repository needs more than a plain fetch of its first baseurl."""
        from ... import fast5

        def value(config, name):
            try:
                return getattr(config, "get_{}_option".format(name))().get_value()
            except libdnf5.exception.OptionValueNotSetError:      # mirrorlist, metalink, ... unset
                return ""
        conf = self.conf
        root = self.installroot

        def inside(path):            # after setup(), libdnf5's reposdir is inside the installroot
            return "/" + os.path.relpath(path, root) if root != "/" and path.startswith(root + "/") else path
        if value(conf, "use_host_config") or \
                os.path.normpath(self.persistdir) != os.path.normpath(fast5.persistdir(root)) or \
                value(conf, "system_state_dir").rstrip("/") != "/" + fast5.SYSTEM_STATE_DIR or \
                not set(inside(p) for p in value(conf, "reposdir")) <= set(fast5.REPOSDIRS) or \
                not set(value(conf, "varsdir")) <= set(fast5.VARSDIRS):
            return None
        out = {}
        try:
            for repo in self._repos(enabled=True):
                config = repo.get_config()
                urls = list(value(config, "baseurl"))
                if not urls or value(config, "mirrorlist") or value(config, "metalink") or \
                        not urls[0].startswith(("http://", "https://", "file://")) or \
                        any(value(config, name) for name in ("sslclientcert", "sslclientkey", "username",
                                                             "proxy_username")):
                    return None
                primary = repo.get_metadata_path("primary")
                if not primary:
                    return None
                out[repo.get_id()] = fast5.spec(
                    urls[0].rstrip("/") + "/repodata/repomd.xml", os.path.join(os.path.dirname(primary), "repomd.xml"),
                    value(config, "sslverify"), value(config, "sslcacert"), value(config, "proxy"))
        except (AttributeError, libdnf5.exception.Error):
            return None
        return out

    def _refetch_incomplete(self):
        """A cache that dnf5 itself filled lacks our metadata type, and libdnf5 does not
        fetch a type missing from an unchanged cache: drop such a repository's cached
        metadata once, so the reload downloads it whole (with the type)."""
        if self.settings.cacheonly or getattr(self, "_refetched", False):
            return False
        incomplete = [r for r in self._repos(enabled=True)
                      if any(t in dict(r.get_metadata_locations()) and not r.get_metadata_path(t)
                             for t in self.mdtypes)]
        for repo in incomplete:
            libdnf5.repo.RepoCache(self.base, repo.get_cachedir()).remove_metadata()
        self._refetched = bool(incomplete)
        return self._refetched

    def _reload(self):
        """A new Base with the same settings (and repositories enabled since), loaded as before."""
        self.base = None
        self.reset()
        self._repairs = None
        self._setup()
        if self.load_args is not None:
            self.load(*self.load_args)

"""The libdnf5 backend: the seam (backends/__init__.py) on python3-libdnf5, for dnf5
hosts (Fedora 41+), where dnf 4 plugins cannot load. `dnf-cluster --backend libdnf5`
(dnf5cli.py) drives it, and so does `dnf5 cluster-node` through the C++ plugin.

It writes dnf5's own system state, never dnf 4's: reasons go to libdnf5's
packages.toml (what the profile lists is `User`, what it pulls in `Dependency`, so
`dnf5 autoremove` and `dnf5 repoquery --userinstalled` see what dnf5 itself would have
recorded), and every transaction lands in dnf5's history with the command's comment.
dnf5's protected packages (its list plus the protected.d globs inside the root) are kept,
and so is the running kernel; `/etc/dnf/versionlock.toml` applies as in dnf5, and a
sync hands the role's pins to it (entries of its own, marked by their comment).

libdnf5 rules this module follows:
- One Base per transaction: a Base resolves against the rpm database it loaded, so a
  second transaction needs a new one. Repositories load once per Base, so enabling a
  repository after loading (a testing channel) builds the Base again.
- A transaction killed mid-way (kill -9) leaves its packages in the rpm database but
  not in packages.toml: dnf5 then calls them `External User`. Its history entry stays
  `Started`, with the reasons it meant to write. reason() answers from that entry, and
  recover() writes those reasons (a transaction of reason changes only) before a sync
  that changes the system, so a rerun leaves dependencies as dependencies.
- Freshness: a node checks every repomd.xml (like `--refresh`); unchanged metadata is
  not downloaded again. When repomd.xml did change, libdnf5 downloads the repository
  into an empty directory, so a profile-only change fetches that repository's primary
  again too (not filelists or other). For the small site profile repository this is a
  few kilobytes; libdnf5 offers no way to reuse the unchanged records, so we accept it
  rather than download metadata behind its back.
"""
import configparser
import fnmatch
import glob
import json
import os

import libdnf5

from ..errors import ClusterError
from ..plan import compare_evr, format_evr
from . import Backend, Item, replace_file

T = libdnf5.transaction
PRIORITY = libdnf5.conf.Option.Priority_COMMANDLINE

REASONS = {T.TransactionItemReason_USER: "user", T.TransactionItemReason_DEPENDENCY: "dependency",
           T.TransactionItemReason_WEAK_DEPENDENCY: "weak-dependency", T.TransactionItemReason_GROUP: "group",
           T.TransactionItemReason_CLEAN: "clean", T.TransactionItemReason_EXTERNAL_USER: "unknown",
           T.TransactionItemReason_NONE: "unknown"}
#: libdnf5's action -> (our action, the label dnf 4 gives it), so both backends answer alike
ACTIONS = {T.TransactionItemAction_INSTALL: ("install", "Install"),
           T.TransactionItemAction_UPGRADE: ("upgrade", "Upgrade"),
           T.TransactionItemAction_DOWNGRADE: ("downgrade", "Downgrade"),
           T.TransactionItemAction_REINSTALL: ("reinstall", "Reinstall"),
           T.TransactionItemAction_REMOVE: ("remove", "Removed"),
           T.TransactionItemAction_REASON_CHANGE: ("reason-change", "Reason Change")}
#: the old package of an upgrade/downgrade/obsolete, named after what replaced it
REPLACED = {T.TransactionItemAction_UPGRADE: ("upgraded", "Upgraded"),
            T.TransactionItemAction_DOWNGRADE: ("downgraded", "Downgraded"),
            T.TransactionItemAction_REINSTALL: ("reinstalled", "Reinstalled")}
#: dnf5's version locks (libdnf5::VERSIONLOCK_CONF_FILENAME), inside the installroot
VERSIONLOCK_FILE = "/etc/dnf/versionlock.toml"
#: the comment that marks the cluster's own entries in it; the admin's are never touched
LOCK_COMMENT = "dnf-plugin-cluster: the cluster profile's pin, rewritten by `dnf cluster-node sync`"
LOCK_KEYS = libdnf5.rpm.VersionlockCondition
#: history comments of the transactions this project runs
OUR_COMMENTS = ("cluster-node sync",)
#: the comment of recover()'s transaction: it finishes one of ours, it is not a new hand
REPAIR_COMMENT = "cluster-node sync: reasons of an interrupted transaction"
#: history actions that put a package on the system (as dnf 4's backend counts them)
FORWARD = (T.TransactionItemAction_INSTALL, T.TransactionItemAction_UPGRADE, T.TransactionItemAction_DOWNGRADE)


class Settings(object):
    """What the command line says about the package manager (dnf5's global options)."""

    def __init__(self, installroot="/", config_file=None, releasever=None, forcearch=None, setopts=(),
                 cacheonly=False, repos=None, enable_repos=(), disable_repos=(), refresh=False,
                 gpgcheck=True):
        self.installroot = os.path.abspath(installroot or "/")
        self.config_file = config_file
        self.releasever = releasever
        self.forcearch = forcearch
        self.setopts = list(setopts)              # [(key, value)]; "repo.key" for repository options
        self.cacheonly = cacheonly
        self.repos = repos                        # --repo: only these (ids or globs)
        self.enable_repos = list(enable_repos)
        self.disable_repos = list(disable_repos)
        self.refresh = refresh
        self.gpgcheck = gpgcheck

    @property
    def main_setopts(self):
        return [(k, v) for k, v in self.setopts if "." not in k]

    @property
    def repo_setopts(self):
        return [tuple(k.rsplit(".", 1)) + (v,) for k, v in self.setopts if "." in k]


def one_line(err):
    return " ".join(str(err).split())


def _ours(entry):
    """Is this versionlock.toml entry one of the cluster's pins?"""
    return entry.get_comment().startswith(LOCK_COMMENT.split(":")[0] + ":")


def _toml(text):
    """A TOML basic string: JSON's escapes are all TOML escapes too."""
    return json.dumps(text, ensure_ascii=False)


def _conditions(entry):
    """[(key, comparator, value)] of a versionlock.toml entry, as it is written."""
    return [(c.get_key_str(), c.get_comparator_str(), c.get_value()) for c in entry.get_conditions()]


def _lock_entry(name, comment, conditions):
    """One [[packages]] entry of versionlock.toml, as dnf5 writes them."""
    lines = ["[[packages]]", "name = " + _toml(name)]
    if comment:
        lines.append("comment = " + _toml(comment))
    for key, comparator, value in conditions:
        lines += ["", "[[packages.conditions]]", "key = " + _toml(key), "comparator = " + _toml(comparator),
                  "value = " + _toml(value)]
    return "\n".join(lines) + "\n"


def _nevra(item):
    """name-[epoch:]version-release.arch of a history item, as Package.get_nevra() spells it."""
    epoch = item.get_epoch()
    return "{}-{}{}-{}.{}".format(item.get_name(), "" if epoch in ("", "0") else epoch + ":", item.get_version(),
                                  item.get_release(), item.get_arch())


def _clean(clean):
    """Job settings: clean up unneeded dependencies on remove, or not."""
    settings = libdnf5.base.GoalJobSettings()
    settings.set_clean_requirements_on_remove(libdnf5.base.GoalSetting_SET_TRUE if clean
                                              else libdnf5.base.GoalSetting_SET_FALSE)
    return settings


class Libdnf5Backend(Backend):
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
            if settings.forcearch:
                if settings.forcearch not in libdnf5.rpm.get_supported_arches():
                    raise ClusterError("unknown architecture '{}' for --forcearch".format(settings.forcearch))
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

    @property
    def basearch(self):
        return self._ready().get_vars().get_value("basearch")

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
                    raise ClusterError("no repository matches '{}'".format(pattern))
                found += hits
            return found

        for pattern, key, value in settings.repo_setopts:
            for repo in [r for r in repos if fnmatch.fnmatchcase(r.get_id(), pattern)]:
                try:
                    repo.get_config().opt_binds().at(key).new_string(PRIORITY, value)
                except libdnf5.exception.OptionBindsOptionNotFoundError:
                    raise ClusterError("unknown repository option '{}' in --setopt".format(key))
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
                repo.expire()
        if self.settings.refresh:
            for repo in self._repos(enabled=True):
                repo.expire()
        if not (system or available):
            return
        sack = self.base.get_repo_sack()
        try:
            if system and available:
                sack.load_repos()
            else:
                sack.load_repos(libdnf5.repo.Repo.Type_SYSTEM if system else libdnf5.repo.Repo.Type_AVAILABLE)
        except libdnf5.exception.Error as err:
            raise ClusterError(one_line(err))
        if available and self._refetch_incomplete():
            self._reload()
        elif system and getattr(demands, "root_user", False):
            self.recover("dnf-cluster" if self.cli is None else self.cli.description())

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

    # --- repositories ----------------------------------------------------------------------
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

    def enable_repo(self, repoid, mdtype=None):
        if mdtype:
            self.mdtypes.add(mdtype)
        self.extra_enabled.append(repoid)
        self._reload()

    def hide_repo(self, repoid):
        query = libdnf5.rpm.PackageQuery(self.base)
        query.filter_available()
        query.filter_repo_id([repoid])
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
        variables = self._ready().get_vars()
        return dict((key, variables.get_value(key)) for key in variables.get_variables())

    # --- packages ------------------------------------------------------------------------
    def _installed(self, names=None):
        query = libdnf5.rpm.PackageQuery(self.base)
        query.filter_installed()
        if names is not None:
            query.filter_name(sorted(names))
        return query

    def installed(self):
        out = {}
        for pkg in self._installed():
            name = pkg.get_name()
            if name not in out or compare_evr(pkg.get_evr(), out[name]) > 0:
                out[name] = pkg.get_evr()
        return out

    def reason(self, name):
        pkgs = list(self._installed([name]))
        if not pkgs:
            return "unknown"
        repaired = self.repairs().get(name)
        if repaired is not None:
            return REASONS.get(repaired, "unknown")
        return REASONS.get(pkgs[0].get_reason(), "unknown")

    def available_names(self):
        query = libdnf5.rpm.PackageQuery(self.base)
        query.filter_available()
        return set(p.get_name() for p in query)

    def newest(self, names):
        out = {}
        if not names:
            return out
        query = libdnf5.rpm.PackageQuery(self.base)      # excludes and version locks applied
        query.filter_available()
        query.filter_name(sorted(names))
        query.filter_arch([self.basearch, "noarch"])
        for pkg in query:
            name = pkg.get_name()
            if name not in out or compare_evr(pkg.get_evr(), out[name]) > 0:
                out[name] = pkg.get_evr()
        return dict((name, format_evr(evr)) for name, evr in out.items())

    def protected(self):
        """dnf5's protected_packages (plain names, and the files its globs name inside the
        root), and the running kernel."""
        names = set()
        for entry in self.conf.protected_packages:
            if not entry.startswith("glob:"):
                names.add(entry)
                continue
            pattern = os.path.join(self.installroot, entry[len("glob:"):].lstrip("/"))
            for path in sorted(glob.glob(pattern)):
                with open(path) as handle:
                    names.update(l.split("#")[0].strip() for l in handle if l.split("#")[0].strip())
        kernel = self.base.get_rpm_package_sack().get_running_kernel()
        if kernel.get_id().id > 0:
            names.add(kernel.get_name())
        return names

    def installonly(self):
        return set(self.conf.installonlypkgs)

    def _closure(self, start, pool):
        """Names in `pool` (a PackageQuery) that the packages of `start` need, directly
        or through others in the pool."""
        seen, todo = {}, list(start)
        while todo:
            current = todo.pop()
            for req in current.get_requires():
                providers = libdnf5.rpm.PackageQuery(pool)
                providers.filter_provides(req)
                for provider in providers:
                    if provider.get_name() not in seen:
                        seen[provider.get_name()] = provider
                        todo.append(provider)
        return seen

    def installed_requires(self, names):
        start = list(self._installed(names))
        seen = dict((p.get_name(), p) for p in start)
        seen.update(self._closure(start, self._installed()))
        return dict((name, format_evr(pkg.get_evr())) for name, pkg in seen.items())

    def needs(self, name, among):
        pool = self._installed(among)
        return set(self._closure(list(self._installed([name])), pool))

    # --- one transaction -----------------------------------------------------------------
    def _builds(self, name, evr=None, arch=False):
        query = libdnf5.rpm.PackageQuery(self.base)
        query.filter_available()
        query.filter_name([name])
        if evr is not None:
            query.filter_evr([evr])
        if arch:
            query.filter_arch([self.basearch, "noarch"])
        return query

    def pin(self, name, evr):
        exact = self._builds(name, evr)
        if exact.empty():
            return False
        others = self._builds(name)
        others.difference(exact)
        self.base.get_rpm_package_sack().add_user_excludes(others)
        return True

    def _exact(self, name, evr):
        found = list(self._builds(name, evr, arch=True))
        if not found:
            raise ClusterError("pinned {}-{} is not available for {}".format(name, evr, self.basearch))
        return found[0]

    # Marks are kept, not put into a Goal at once: resolve() may need a second goal
    # (see hold()). Each is a function of (goal, clean requirements on remove).
    def install(self, name, evr=None):
        if evr:
            pkg = self._exact(name, evr)
            self.marks.append(lambda goal, clean: goal.add_rpm_install(pkg))
            return
        query = libdnf5.rpm.PackageQuery(self.base)
        query.filter_available()
        query.filter_provides([name])
        if query.empty():
            raise ClusterError("package '{}' is not available from any enabled repository".format(name))
        self.marks.append(lambda goal, clean: goal.add_rpm_install(name))

    def upgrade(self, name, evr):
        pkg = self._exact(name, evr)
        self.marks.append(lambda goal, clean: goal.add_rpm_upgrade(pkg))

    def downgrade(self, name, evr):
        pkg = self._exact(name, evr)
        self.marks.append(lambda goal, clean: goal.add_rpm_downgrade(pkg))

    def remove(self, name):
        self.marks.append(lambda goal, clean: goal.add_rpm_remove(name, _clean(clean)))
        self.removals.add(name)

    def hold(self, names):
        """libdnf5 has no per-run `userinstalled`: resolve() checks instead that clean-up
        of unneeded dependencies takes nothing `names` need, and redoes it without them."""
        self.held = tuple(names)

    def reset(self):
        self.marks, self.removals = [], set()
        self.tx = None

    def _resolve(self, allow_erasing, clean, extra=()):
        goal = libdnf5.base.Goal(self.base)
        for mark in list(self.marks) + list(extra):
            mark(goal, clean)
        goal.set_allow_erasing(allow_erasing)
        tx = goal.resolve()
        if tx.get_problems() != libdnf5.base.GoalProblem_NO_PROBLEM:
            raise ClusterError(" ".join(one_line(m) for m in tx.get_resolve_logs_as_strings()) or
                               "cannot resolve the transaction")
        return tx

    def resolve(self, allow_erasing):
        if self.cli is not None and getattr(self.cli.demands, "allow_erasing", False):
            allow_erasing = True
        clean = self.conf.clean_requirements_on_remove
        self.tx = self._resolve(allow_erasing, clean)
        if clean and self.held and self.removals:
            removed = set(i.name for i in self.items() if i.action == "remove")
            needed = set(self.installed_requires(self.held))
            if (removed & needed) - self.removals:
                # remove what the clean-up found unneeded, but nothing the held packages need
                unneeded = sorted(removed - needed - self.removals)
                self.tx = self._resolve(allow_erasing, False, [
                    (lambda name: lambda goal, clean: goal.add_rpm_remove(name, _clean(False)))(name)
                    for name in unneeded])
        return self.items()

    def items(self):
        """The resolved transaction as [Item]; the old package of an upgrade or downgrade
        is named as dnf 4 names it (Upgraded, Downgraded, Obsoleted)."""
        if self.tx is None:
            return []
        packages = list(self.tx.get_transaction_packages())
        action_of = dict((tp.get_package().get_nevra(), tp.get_action()) for tp in packages)
        out = []
        for tp in packages:
            pkg, action = tp.get_package(), tp.get_action()
            if action == T.TransactionItemAction_REPLACED:
                by = [p for p in tp.get_replaced_by()]
                same = [p for p in by if p.get_name() == pkg.get_name()]
                kind = REPLACED.get(action_of.get(same[0].get_nevra()), ("obsoleted", "Obsoleted")) if same \
                    else ("obsoleted", "Obsoleted")
            else:
                kind = ACTIONS.get(action, (T.transaction_item_action_to_string(action).lower(),
                                            T.transaction_item_action_to_string(action)))
            out.append(Item(kind[0], pkg.get_name(), format_evr(pkg.get_evr()), pkg.get_arch(), kind[1],
                            pkg.get_nevra()))
        return out

    def table(self, items=None):
        return transaction_table(self.tx) if self.tx is not None else ""

    def run(self, comment, done):
        """Like dnf 4's command line, the host (dnf5cli) runs the transaction once the
        command returns: table, confirmation, download, run, then done()."""
        self.comment = comment
        self._done = done
        if self.cli is not None:
            self.cli.demands.resolving = True
        else:
            self.execute(comment, "dnf-cluster")
            done()

    def transaction_done(self):
        if self._done is not None:
            self._done()

    def execute(self, comment, description):
        """Download and run the resolved transaction, recorded in dnf5's history."""
        tx = self.tx
        try:
            tx.download()
        except libdnf5.exception.Error as err:
            raise ClusterError("cannot download packages: {}".format(one_line(err)))
        if comment:
            tx.set_comment(comment)
        tx.set_description(description)
        result = tx.run()
        if result != libdnf5.base.Transaction.TransactionRunResult_SUCCESS:
            problems = [one_line(p) for p in tx.get_transaction_problems()]
            raise ClusterError("transaction failed: {}{}".format(
                libdnf5.base.Transaction.transaction_result_to_string(result),
                ": " + "; ".join(problems) if problems else ""))
        self.tx = None
        self._repairs = {}

    # --- dnf5's own version lock (/etc/dnf/versionlock.toml) ------------------------------
    def _versionlock(self):
        """The entries of the versionlock.toml this Base reads: [VersionlockPackage]."""
        try:
            # the config must outlive the entries: get_packages() answers a reference into it
            self._lock_config = self.base.get_rpm_package_sack().get_versionlock_config()
            return list(self._lock_config.get_packages())
        except libdnf5.exception.Error as err:
            raise ClusterError("cannot read dnf5's version locks: {}".format(one_line(err)))

    def _versionlock_path(self):
        """Where dnf5 reads the version locks for this root (libdnf5's own rule)."""
        if self.conf.use_host_config:
            return VERSIONLOCK_FILE
        return os.path.join(self.installroot, VERSIONLOCK_FILE.lstrip("/"))

    def apply_admin_locks(self):
        """libdnf5 applied every entry of versionlock.toml when the repositories loaded;
        when the cluster's own entries (the last sync's pins) are among them, they are
        lifted for this run and the admin's applied again alone, as libdnf5 applies them
        (PackageSack::load_versionlock_excludes): a locked name keeps only the builds its
        conditions match, and loses what obsoletes them."""
        entries = self._versionlock()
        if not any(_ours(entry) for entry in entries):
            return
        sack = self.base.get_rpm_package_sack()
        try:
            sack.clear_versionlock_excludes()
            admin = [e for e in entries if not _ours(e) and e.is_valid()]
            if not admin:
                return
            available = libdnf5.rpm.PackageQuery(self.base)
            available.filter_available()
            locked = libdnf5.rpm.PackageSet(self.base)
            names = set()
            for entry in admin:
                query = libdnf5.rpm.PackageQuery(available)
                query.filter_name([entry.get_name()], libdnf5.common.QueryCmp_GLOB)
                names.update(pkg.get_name() for pkg in query)
                for cond in entry.get_conditions():
                    if not cond.is_valid():
                        continue
                    key, cmp, value = cond.get_key(), cond.get_comparator(), cond.get_value()
                    if key == LOCK_KEYS.Keys_EPOCH:
                        query.filter_epoch([int(value)], cmp)
                    elif key == LOCK_KEYS.Keys_EVR:
                        query.filter_evr([value], cmp)
                    elif key == LOCK_KEYS.Keys_ARCH:
                        query.filter_arch([value], cmp)
                locked.update(query)
            if not names:
                return
            excludes = libdnf5.rpm.PackageQuery(available)
            excludes.filter_name(sorted(names))
            excludes.difference(locked)
            obsoleting = libdnf5.rpm.PackageQuery(available)
            obsoleting.filter_obsoletes(locked)
            obsoleting.difference(locked)
            excludes.update(obsoleting)
            sack.set_versionlock_excludes(excludes)
        except (libdnf5.exception.Error, ValueError) as err:
            raise ClusterError("cannot apply dnf5's version locks: {}".format(one_line(err)))

    def hand_pins(self, pins):
        """The cluster's entries of versionlock.toml (comment `dnf-plugin-cluster: ...`)
        become `pins`; the admin's entries are written back as libdnf5 read them (dnf5's
        own `versionlock add/delete` rewrite the file the same way). The file is replaced
        whole by a rename, never left half-written."""
        path = self._versionlock_path()
        entries = self._versionlock()
        ours = [e for e in entries if _ours(e)]
        if not ours and not pins:
            return None
        admin = [e for e in entries if not _ours(e)]
        bad = [e.get_name() or "(no name)" for e in admin if not e.is_valid()]
        if bad:
            return "{}: the entry of {} is not valid; pins not handed to dnf5's versionlock".format(
                path, ", ".join(bad))
        current = dict((e.get_name(), _conditions(e)) for e in ours)
        wanted = dict((name, [("evr", "=", format_evr(evr))]) for name, evr in pins.items())
        if current == wanted and len(ours) == len(current):
            return None
        blocks = [_lock_entry(e.get_name(), e.get_comment(), _conditions(e)) for e in admin]
        blocks += [_lock_entry(name, LOCK_COMMENT, conditions) for name, conditions in sorted(wanted.items())]
        text = 'version = "1.0"\n' + "".join("\n" + block for block in blocks)
        directory = os.path.dirname(path)
        root = "/" if self.conf.use_host_config else self.installroot
        inside = os.path.relpath(directory, root)
        if os.path.realpath(directory) != os.path.join(os.path.realpath(root), inside):
            # never write outside the root through a link the image carries
            return "{} is reached through a symbolic link; pins not handed to dnf5's versionlock".format(directory)
        try:
            replace_file(path, text)
        except OSError as err:
            return "cannot write {}: {}; pins not handed to dnf5's versionlock".format(path, err.strerror)
        return None

    # --- history -------------------------------------------------------------------------
    def installed_by(self, tag):
        """From dnf5's history, as `dnf5 history info` shows it: the latest transaction
        whose comment carries the word `tag` (one killed mid-way is `Started` and counts),
        and of the packages it put on the system, those still installed from it: the
        same build, and no later transaction has an item for that build (recover()'s,
        which only writes the reasons the killed one meant to, does not count)."""
        transactions = list(self.base.get_transaction_history().list_all_transactions())
        found = None
        for trans in reversed(transactions):
            if tag in trans.get_comment().replace(":", " ").replace(",", " ").split():
                found = trans
                break
        if found is None:
            return None
        touched = set()
        for trans in transactions:
            if trans.get_id() > found.get_id() and trans.get_comment() != REPAIR_COMMENT:
                touched.update(_nevra(item) for item in trans.get_packages())
        installed = set(p.get_nevra() for p in self._installed())
        out = {}
        for item in found.get_packages():
            nevra = _nevra(item)
            if item.get_action() in FORWARD and nevra in installed and nevra not in touched:
                out[item.get_name()] = format_evr("{}:{}-{}".format(item.get_epoch() or "0", item.get_version(),
                                                                    item.get_release()))
        return out

    # --- kill -9 recovery ------------------------------------------------------------------
    def repairs(self):
        """{name: reason} for installed packages that a transaction of ours installed but
        never finished recording (killed mid-way): dnf5 calls them External User."""
        if self._repairs is None:
            self._repairs = {}
            if self.load_args is None or not self.load_args[0]:
                return self._repairs
            history = self.base.get_transaction_history()
            external = dict((p.get_nevra(), p) for p in self._installed()
                            if p.get_reason() == T.TransactionItemReason_EXTERNAL_USER)
            if not external:
                return self._repairs
            for trans in history.list_all_transactions():
                if trans.get_state() != T.TransactionState_STARTED or \
                        not trans.get_comment().startswith(OUR_COMMENTS):
                    continue
                for item in trans.get_packages():
                    if not T.transaction_item_action_is_inbound(item.get_action()):
                        continue
                    if _nevra(item) in external:
                        self._repairs[item.get_name()] = item.get_reason()
        return self._repairs

    def recover(self, description):
        """Write the reasons a killed transaction of ours meant to write (reason changes
        only, nothing installed or removed); then the Base is new, as for any transaction.
        Once per run: the reload that follows loads without coming back here."""
        repairs = self.repairs()
        if not repairs or getattr(self, "_recovered", False):
            return False
        self._recovered = True
        goal = libdnf5.base.Goal(self.base)
        for name, reason in sorted(repairs.items()):
            goal.add_rpm_reason_change(name, reason)
        tx = goal.resolve()
        if tx.get_problems() == libdnf5.base.GoalProblem_NO_PROBLEM:
            tx.set_comment(REPAIR_COMMENT)
            tx.set_description(description)
            tx.run()
        self._reload()
        return True

    # --- groups -------------------------------------------------------------------------
    def installed_groups(self, gids):
        query = libdnf5.comps.GroupQuery(self.base)
        query.filter_installed(True)
        found = set(g.get_groupid() for g in query)
        return set(gid for gid in gids if gid in found)

    def group_install(self, view, with_optional):
        """The group as dnf5 installs it (recorded in its system state, packages with the
        reason Group), limited to this arch: libdnf5 applies no comps `arch=` attributes,
        so the group's packages this arch does not get are excluded for this run."""
        from ..groups import install_tiers
        wanted = set(view.packages(True))
        query = libdnf5.comps.GroupQuery(self.base)
        query.filter_groupid(view.id)
        listed = set(p.get_name() for g in query for p in g.get_packages())
        others = listed - wanted
        if others:
            hidden = libdnf5.rpm.PackageQuery(self.base)
            hidden.filter_available()
            hidden.filter_name(sorted(others))
            self.base.get_rpm_package_sack().add_user_excludes(hidden)
        settings = libdnf5.base.GoalJobSettings()
        settings.set_group_package_types(libdnf5.comps.package_type_from_string(
            libdnf5.common.VectorString(list(install_tiers(with_optional)))))
        self.marks.append(lambda goal, clean: goal.add_group_install(view.id, T.TransactionItemReason_USER,
                                                                     settings))

    def group_remove(self, gid):
        self.marks.append(lambda goal, clean: goal.add_group_remove(gid, T.TransactionItemReason_USER))


# --- dnf5's transaction table --------------------------------------------------------------
#: (action, reason) -> section heading, in dnf5's order; None: any reason
SECTIONS = (
    ((T.TransactionItemAction_INSTALL, T.TransactionItemReason_DEPENDENCY), "Installing dependencies"),
    ((T.TransactionItemAction_INSTALL, T.TransactionItemReason_WEAK_DEPENDENCY), "Installing weak dependencies"),
    ((T.TransactionItemAction_INSTALL, T.TransactionItemReason_GROUP), "Installing group/module packages"),
    ((T.TransactionItemAction_INSTALL, None), "Installing"),
    ((T.TransactionItemAction_UPGRADE, None), "Upgrading"),
    ((T.TransactionItemAction_DOWNGRADE, None), "Downgrading"),
    ((T.TransactionItemAction_REINSTALL, None), "Reinstalling"),
    ((T.TransactionItemAction_REMOVE, T.TransactionItemReason_DEPENDENCY), "Removing dependent packages"),
    ((T.TransactionItemAction_REMOVE, T.TransactionItemReason_CLEAN), "Removing unused dependencies"),
    ((T.TransactionItemAction_REMOVE, None), "Removing"),
    ((T.TransactionItemAction_REASON_CHANGE, None), "Changing reason"),
)
ORDER = ("Installing", "Installing group/module packages", "Installing dependencies",
         "Installing weak dependencies", "Upgrading", "Downgrading", "Reinstalling", "Removing",
         "Removing dependent packages", "Removing unused dependencies", "Changing reason")
SUMMARY = (("Installing", ("Installing", "Installing group/module packages", "Installing dependencies",
                           "Installing weak dependencies")),
           ("Upgrading", ("Upgrading",)), ("Replacing", ()), ("Downgrading", ("Downgrading",)),
           ("Reinstalling", ("Reinstalling",)),
           ("Removing", ("Removing", "Removing dependent packages", "Removing unused dependencies")),
           ("Changing reason", ("Changing reason",)))


def format_size(size):
    """dnf5's aligned size: '0.0   B', '5.6 KiB', '1.3 MiB'."""
    value, unit = float(size), "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return "{:.1f} {:>3}".format(value, unit)


def _section(action, reason):
    for (want_action, want_reason), heading in SECTIONS:
        if action == want_action and (want_reason is None or reason == want_reason):
            return heading
    return None


def transaction_table(tx):
    """The resolved transaction as dnf5 prints it: a table grouped by action and reason,
    then the transaction summary."""
    sections, replacing = {}, 0
    for tp in tx.get_transaction_packages():
        pkg = tp.get_package()
        heading = _section(tp.get_action(), tp.get_reason())
        if heading is None:
            continue
        size = pkg.get_install_size()
        rows = [(" " + pkg.get_name(), pkg.get_arch(), "{}:{}-{}".format(pkg.get_epoch() or "0", pkg.get_version(),
                                                                        pkg.get_release()),
                 pkg.get_repo_id(), format_size(size))]
        for old in tp.get_replaces():
            replacing += 1
            rows.append(("   replacing " + old.get_name(), old.get_arch(),
                         "{}:{}-{}".format(old.get_epoch() or "0", old.get_version(), old.get_release()),
                         old.get_repo_id(), format_size(old.get_install_size())))
        sections.setdefault(heading, []).append(rows)
    if not sections:
        return ""
    for heading in sections:
        sections[heading].sort(key=lambda rows: rows[0][0])
    all_rows = [("Package", "Arch", "Version", "Repository", "Size")]
    all_rows += [row for rows in sections.values() for group in rows for row in group]
    widths = [max(len(r[i]) for r in all_rows) for i in range(4)]

    def line(row):
        return "{:<{}} {:<{}} {:<{}} {:<{}} {:>9}".format(row[0], widths[0], row[1], widths[1], row[2], widths[2],
                                                           row[3], widths[3], row[4]).rstrip()
    out = [line(all_rows[0])]
    for heading in ORDER:
        if heading in sections:
            out.append(heading + ":")
            out += [line(row) for rows in sections[heading] for row in rows]
    out += ["", "Transaction Summary:"]
    for label, headings in SUMMARY:
        count = replacing if label == "Replacing" else sum(len(sections.get(h, ())) for h in headings)
        if count:
            out.append(" {:<18} {:>3} package{}".format(label + ":", count, "" if count == 1 else "s"))
    return "\n".join(out)

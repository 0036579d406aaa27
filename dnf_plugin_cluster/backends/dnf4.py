"""The dnf 4 backend: the seam (backends/__init__.py) on dnf 4's Python API, inside a
running dnf command (the plugin, or dnf-cluster on python3-dnf). dnf's own command
line runs the transaction after the command returns, with its transaction table,
confirmation, download progress and history, exactly as for `dnf install`."""
import configparser
import logging
import os

import dnf.exceptions
import dnf.repo
import dnf.subject
import hawkey
import libdnf.transaction as lt

from ..errors import ClusterError
from ..files import read_text, replace_file
from ..plan import compare_evr, format_evr, parse_evr
from . import LOCAL_REPO, Backend, FreshResolver, Item, Locked

logger = logging.getLogger("dnf.plugin.cluster")

REASONS = {lt.TransactionItemReason_USER: "user", lt.TransactionItemReason_DEPENDENCY: "dependency",
           lt.TransactionItemReason_WEAK_DEPENDENCY: "weak-dependency", lt.TransactionItemReason_GROUP: "group",
           lt.TransactionItemReason_CLEAN: "clean", lt.TransactionItemReason_UNKNOWN: "unknown"}
ACTIONS = {lt.TransactionItemAction_INSTALL: "install", lt.TransactionItemAction_UPGRADE: "upgrade",
           lt.TransactionItemAction_DOWNGRADE: "downgrade", lt.TransactionItemAction_REINSTALL: "reinstall",
           lt.TransactionItemAction_REMOVE: "remove", lt.TransactionItemAction_OBSOLETE: "obsolete"}
#: History actions that put a package on the system.
FORWARD = (lt.TransactionItemAction_INSTALL, lt.TransactionItemAction_UPGRADE,
           lt.TransactionItemAction_DOWNGRADE)
#: History actions of a transaction by hand that make a package the admin's.
BY_HAND_ACTIONS = (lt.TransactionItemAction_INSTALL, lt.TransactionItemAction_REINSTALL,
                   lt.TransactionItemAction_REINSTALLED)
#: History comments of the transactions this project runs (see sync.NodeRun.record_intent).
OUR_COMMENTS = ("cluster-node sync",)
#: The cluster's block in dnf's versionlock.list: `dnf cluster-node sync` rewrites what
#: is between these lines and nothing else.
VERSIONLOCK_MARK = "# >>> dnf-plugin-cluster"
VERSIONLOCK_BEGIN = (VERSIONLOCK_MARK + ": the cluster profile's pins, rewritten by `dnf cluster-node sync`; "
                     "put your own locks outside this block")
VERSIONLOCK_END = "# <<< dnf-plugin-cluster"
TIER_TYPES = {"mandatory": lt.CompsPackageType_MANDATORY, "default": lt.CompsPackageType_DEFAULT,
              "optional": lt.CompsPackageType_OPTIONAL, "conditional": lt.CompsPackageType_CONDITIONAL}


class Dnf4Backend(Backend):
    name = "dnf4"

    def __init__(self, base, cli=None):
        self.base = base
        self.cli = cli
        self.basearch = base.conf.substitutions["basearch"]
        self.installroot = base.conf.installroot
        self.persistdir = base.conf.persistdir
        self._done = None
        self._held = ()
        self._proof = self._proof_read = None

    # --- repositories ----------------------------------------------------------------------
    def load(self):
        """What dnf's command line does for a command demanding the sack (the demands
        for fresh metadata or the cache only have been applied to the repositories)."""
        self.base.fill_sack(load_system_repo="auto", load_available_repos=True)

    # --- the no-op fast path's proof (fastpath.py) -----------------------------------------
    fast_path = True

    def load_metadata(self):
        """Every enabled repository's metadata checked and loaded as fill_sack() loads it
        (repo.load(): the freshest_metadata demand holds, and fill_sack() later does not
        fetch it again: each repository is then read from its cache for the rest of the
        run); the sack is not built. A repository that fails raises.

        A repository whose repomd.xml dnf-cluster fetched for the fast path's proof in
        this very process (fast4.FETCHED, a stale record) is not checked again when its
        cached metadata has that same repomd.xml: that fetch was dnf's own check (is the
        cache still what the repository serves?), seconds ago, from the same URL."""
        from .. import fast4
        from ..fastpath import file_digest
        fetched = {} if self.base.conf.cacheonly else fast4.FETCHED
        for repo in self.base.repos.iter_enabled():
            seen = fetched.get(repo.id)
            if seen is not None and repo._repo.loadCache(False):         # pylint: disable=protected-access
                primary = repo._repo.getMetadataPath("primary")          # pylint: disable=protected-access
                cached = os.path.join(os.path.dirname(primary), "repomd.xml") if primary else None
                if cached and os.path.normpath(cached) == os.path.normpath(seen[1]) and \
                        file_digest(cached) == seen[0]:
                    repo._repo.setSyncStrategy(dnf.repo.SYNC_ONLY_CACHE)  # pylint: disable=protected-access
            repo.load()
            # checked (or fetched) just now: fill_sack() and any later load in this run
            # read it as it is. libdnf would check again once a second has passed since
            # (a repository with metadata_expire=0 is expired a second after its check),
            # fetching repomd.xml twice in one run
            repo._repo.setSyncStrategy(dnf.repo.SYNC_ONLY_CACHE)      # pylint: disable=protected-access

    def rpmdb_cookie(self):
        from ..fastpath import rpmdb_cookie
        return rpmdb_cookie(self.installroot)        # rpm before 4.16 (EL8): none, no fast path

    def repomd_digests(self):
        from ..fastpath import file_digest
        out = {}
        for repo in self.base.repos.iter_enabled():
            primary = repo._repo.getMetadataPath("primary")      # pylint: disable=protected-access
            if not primary:
                return None
            digest = file_digest(os.path.join(os.path.dirname(primary), "repomd.xml"))
            if digest in (None, "none"):
                return None
            out[repo.id] = digest
        return out

    def history_digest(self):
        from .. import fast4
        return fast4.history_digest(self.persistdir)

    def versionlock_digest(self):
        from .. import fast4
        return fast4.versionlock_digest(self.installroot, self.base.conf.pluginconfpath)

    def _file_proof(self):
        """fast4.Settings of dnf's command line (base.args) when the files fast4.py reads
        are where dnf read its configuration and keeps its state, else None."""
        if not self._proof_read:
            self._proof_read = True
            from .. import fast4
            parsed = fast4.parse(list(getattr(self.base, "args", None) or ())) if self.cli is not None else None
            conf = self.base.conf
            if parsed is not None:
                settings = parsed[0]
                norm = os.path.normpath
                if norm(conf.installroot or "/") == settings.installroot and \
                        norm(conf.persistdir) == norm(settings.persistdir) and \
                        list(conf.pluginconfpath) == settings.pluginconfpath and \
                        norm(conf.config_file_path) in [norm(p) for p in settings.config_files] and \
                        all(settings.covers(p) for p in conf.reposdir) and \
                        all(v in settings.varsdirs for v in conf.varsdir):
                    self._proof = settings
        return self._proof

    def repo_config_digest(self):
        """Where fast4.py can read it from files, the digest of those files and of the
        command line (what fast4.py compares before dnf is imported); else the digest of
        dnf's configuration as parsed."""
        from .. import fast4
        settings = self._file_proof()
        if settings is not None:
            return fast4.config_digest(settings)
        import json
        from ..fastpath import digest_bytes
        conf = self.base.conf

        def plain(value):
            if value is None or isinstance(value, (str, int, float, bool)):
                return value
            return [plain(v) for v in value]           # libdnf's vectors
        main = dict((key, plain(getattr(conf, key, None))) for key in (
            "excludepkgs", "includepkgs", "installonlypkgs", "installonly_limit", "protected_packages", "best",
            "releasever", "installroot", "persistdir", "obsoletes", "module_platform_id"))
        main["substitutions"] = sorted(conf.substitutions.items())
        main["kernel"] = os.uname()[2]        # the running kernel is part of the floor
        repos = [(r.id, r.dump()) for r in sorted(self.base.repos.iter_enabled(), key=lambda r: r.id)]
        return digest_bytes(json.dumps([main, repos], sort_keys=True).encode("utf-8"))

    def fetch_specs(self):
        """{repoid: where fast4.py fetches its repomd.xml}: none (so no reading from
        files) unless fast4.py reads dnf's configuration where dnf read it (_file_proof),
        as root (whose cache -C reads), and each repository is a plain fetch of its
        first baseurl (no mirrorlist, metalink, client certificate or credentials)."""
        from .. import fastread
        if self._file_proof() is None or os.geteuid() != 0:
            return {}
        out = {}
        for repo in self.base.repos.iter_enabled():
            urls = list(repo.baseurl or ())
            if not urls or repo.mirrorlist or repo.metalink or \
                    not urls[0].startswith(("http://", "https://", "file://")) or \
                    any(getattr(repo, name, None) for name in ("sslclientcert", "sslclientkey", "username",
                                                                "proxy_username")):
                return {}
            primary = repo._repo.getMetadataPath("primary")      # pylint: disable=protected-access
            if not primary:
                return {}
            out[repo.id] = fastread.spec(urls[0].rstrip("/") + "/repodata/repomd.xml",
                                         os.path.join(os.path.dirname(primary), "repomd.xml"),
                                         repo.sslverify, repo.sslcacert or "", repo.proxy or "")
        return out

    def want_metadata(self, mdtype):
        for repo in self.base.repos.iter_enabled():
            repo.add_metadata_type_to_download(mdtype)

    def enabled_repos(self):
        return sorted(r.id for r in self.base.repos.iter_enabled())

    def strict_repos(self, optional=()):
        for repo in self.base.repos.iter_enabled():
            if repo.id not in optional:
                repo.skip_if_unavailable = False

    def has_tree(self, repoid, arch):
        others = [r for r in self.enabled_repos() if r != repoid]
        try:
            Dnf4Fresh(self, arch, others, (repoid,), ()).close()
        except ClusterError:
            return False
        return True

    def repo_state(self, repoid):
        if repoid not in self.base.repos:
            return None
        return bool(self.base.repos[repoid].enabled)

    def enable_repo(self, repoid, mdtype=None):
        repo = self.base.repos[repoid]
        repo.enable()
        if mdtype:
            repo.add_metadata_type_to_download(mdtype)
        self.base.fill_sack(load_system_repo=True, load_available_repos=True)

    def hide_repo(self, repoid, keep=None):
        hidden = self.base.sack.query().available().filter(reponame=repoid)
        for name, evr in sorted((keep or {}).items()):
            epoch, version, release = parse_evr(evr)
            hidden = hidden.difference(hidden.filter(name=name, epoch=int(epoch), version=version, release=release))
        self.base.sack.add_excludes(hidden)

    def metadata_path(self, repoid, mdtype):
        return self.base.repos[repoid].get_metadata_path(mdtype) or None

    def baseurl_template(self, repoid):
        """dnf has already expanded $basearch for this host, so the template is read
        from the .repo file itself."""
        repo = self.base.repos.get(repoid)
        if repo is None or not getattr(repo, "repofile", None):
            return None
        parser = configparser.RawConfigParser()
        parser.read(repo.repofile)
        if not parser.has_option(repoid, "baseurl"):
            return None
        return parser.get(repoid, "baseurl").replace(",", " ").split()[0]

    def substitutions(self):
        return dict(self.base.conf.substitutions)

    # --- packages ------------------------------------------------------------------------
    def installed(self):
        out = {}
        for pkg in self.base.sack.query().installed():
            if pkg.name not in out or compare_evr(pkg.evr, out[pkg.name]) > 0:
                out[pkg.name] = pkg.evr
        return out

    def reason(self, name):
        pkgs = self.base.sack.query().installed().filter(name=name)
        if not pkgs:
            return "unknown"
        return REASONS.get(self.base.history.rpm.get_reason(pkgs[0]), "unknown")

    def available_names(self):
        return set(p.name for p in self.base.sack.query().available())

    def protected(self):
        names = set(p for p in self.base.conf.protected_packages if not p.startswith("glob:"))
        kernel = self.base.sack.get_running_kernel()
        if kernel is not None:
            names.add(kernel.name)
        return names

    def installonly(self):
        return set(self.base.conf.installonlypkgs)

    def newest(self, names):
        out = {}
        if not names:
            return out
        for pkg in self.base.sack.query().available().filterm(name=sorted(names),
                                                              arch=[self.basearch, "noarch"]).latest():
            if pkg.name not in out or compare_evr(pkg.evr, out[pkg.name]) > 0:
                out[pkg.name] = pkg.evr
        return dict((name, format_evr(evr)) for name, evr in out.items())

    def installed_requires(self, names):
        installed = self.base.sack.query().installed()
        seen, todo = {}, list(installed.filter(name=sorted(names)))
        while todo:
            pkg = todo.pop()
            if pkg.name in seen:
                continue
            seen[pkg.name] = pkg
            for req in pkg.requires:
                todo += [p for p in installed.filter(provides=req) if p.name not in seen]
        return dict((name, format_evr(pkg.evr)) for name, pkg in seen.items())

    def installed_nevras(self, names):
        from ..profile import nevra
        if not names:
            return []
        return sorted(nevra(p.name, p.evr, p.arch)
                      for p in self.base.sack.query().installed().filterm(name=sorted(names)))

    def fresh_resolver(self, arch, hide=(), enable=(), optional=(), local=None):
        return Dnf4Fresh(self, arch, hide, enable, optional, local)

    def needs(self, name, among):
        installed = self.base.sack.query().installed()
        pool = installed.filter(name=sorted(among))
        seen, todo = set(), list(installed.filter(name=name))
        while todo:
            current = todo.pop()
            for req in current.requires:
                for provider in pool.filter(provides=req):
                    if provider.name not in seen:
                        seen.add(provider.name)
                        todo.append(provider)
        return seen

    def providers(self, names):
        query = self.base.sack.query()
        out = {}
        for name in sorted(names):
            if not query.filter(name=name):
                out[name] = sorted(set(p.name for p in query.installed().filter(provides=name)))
        return out

    # --- one transaction -----------------------------------------------------------------
    def _builds(self, name, evr):
        epoch, version, release = parse_evr(evr)
        same = self.base.sack.query().available().filter(name=name)
        return same, same.filter(epoch=int(epoch), version=version, release=release)

    def has_build(self, name, evr):
        return bool(self._builds(name, evr)[1])

    def pin(self, name, evr):
        same, exact = self._builds(name, evr)
        if exact:
            self.base.sack.add_excludes(same.difference(exact))
        return bool(exact)

    def _exact(self, name, evr):
        found = self._builds(name, evr)[1].filter(arch=[self.basearch, "noarch"])
        if not found:
            raise ClusterError("pinned {}-{} is not available for {}".format(name, evr, self.basearch))
        return found[0]

    def install(self, name, evr=None):
        if evr:
            self.base.package_install(self._exact(name, evr))
            return
        try:
            self.base.install(name)
        except dnf.exceptions.MarkingError:
            raise ClusterError("package '{}' is not available from any enabled repository".format(name))

    def upgrade(self, name, evr):
        self.base.package_upgrade(self._exact(name, evr))

    def downgrade(self, name, evr):
        self.base.package_downgrade(self._exact(name, evr))

    def remove(self, name):
        self.base.remove(name)

    def hold(self, names):
        self._held = tuple(names)

    def reset(self):
        self.base.reset(goal=True)

    def resolve(self, allow_erasing):
        allow_erasing = allow_erasing or bool(self.cli and self.cli.demands.allow_erasing)
        if self._held:
            # as dnf does for user-installed packages: what they need is not "unneeded"
            self.base._goal.userinstalled(self.base.sack.query().installed().filterm(name=list(self._held)))
        try:
            self.base.resolve(allow_erasing)
        except dnf.exceptions.DepsolveError as err:
            # dnf's main() would exit 1 silently: it expects resolving() to have said why
            raise ClusterError(" ".join(str(err).split()))
        if self.cli is not None:
            self.cli.demands.allow_erasing = allow_erasing
        return [Item(ACTIONS.get(t.action, t.action_name.lower()), t.pkg.name, format_evr(t.pkg.evr), t.pkg.arch,
                     t.action_name, str(t.pkg))
                for t in (self.base.transaction or [])]

    def table(self, items):
        return self.base.output.list_transaction(self.base.transaction) if self.base.transaction else ""

    def run(self, comment, done):
        """dnf's command line runs the transaction once the command returns (download,
        table, confirmation, history); it calls done() through the command's
        run_transaction()."""
        if comment:
            self.base.conf.comment = comment
        self._done = done
        self.cli.demands.resolving = True

    def transaction_done(self):
        if self._done is not None:
            self._done()

    # --- dnf's own version lock (the versionlock plugin of dnf-plugins-core) ---------------
    def _versionlock(self):
        """(the versionlock.list that plain dnf commands for this root read, None), or
        (None, why there is none): fast4.versionlock_location()."""
        from .. import fast4
        return fast4.versionlock_location(self.installroot, self.base.conf.pluginconfpath)

    @staticmethod
    def _split_versionlock(text):
        """(the admin's lines, the cluster's entries, a problem or None) of a
        versionlock.list; the cluster's block includes the blank line put before it.

        A damaged block (a begin line without its end line, an end line alone, a marker
        indented, two blocks) is still the cluster's: its entries are those up to the end
        line, or without one, the entries right after the begin line (up to the first
        blank or comment line, where what dnf's `versionlock add` appends starts); the
        problem says it is damaged, so that the block is rewritten whole."""
        lines = text.splitlines()
        admin, ours, problems = [], [], []
        i, blocks = 0, 0
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if stripped.startswith(VERSIONLOCK_END):
                problems.append("an end line without its begin line")
                i += 1
                continue
            if not stripped.startswith(VERSIONLOCK_MARK):
                admin.append(line)
                i += 1
                continue
            blocks += 1
            if line != stripped:
                problems.append("an indented begin line")
            if admin and not admin[-1].strip():
                admin.pop()                                  # the blank line put before the block
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(VERSIONLOCK_END) or
                        lines[j].strip().startswith(VERSIONLOCK_MARK)), None)
            if end is not None and lines[end].strip().startswith(VERSIONLOCK_END):
                ours += [l.strip() for l in lines[i + 1:end] if l.strip() and not l.strip().startswith("#")]
                i = end + 1
                continue
            problems.append("a begin line without its end line")
            i += 1
            while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith("#"):
                ours.append(lines[i].strip())
                i += 1
        if blocks > 1:
            problems.insert(0, "{} blocks".format(blocks))
        problem = None
        if problems:
            problem = "the cluster's block in it is damaged ({}); want one '{}' line, then one '{}' line".format(
                ", ".join(sorted(set(problems), key=problems.index)), VERSIONLOCK_MARK, VERSIONLOCK_END)
        return admin, ours, problem

    def _read_versionlock(self, path):
        text = read_text(path, "dnf's version lock list")
        return "" if text is None else text

    def apply_admin_locks(self):
        """What the versionlock plugin's sack() hook does, for the entries outside the
        cluster's block: a locked name keeps only its locked builds (and loses what
        obsoletes them), a `!` entry excludes what it matches."""
        path, _ = self._versionlock()
        if path is None:
            return
        admin, _, problem = self._split_versionlock(self._read_versionlock(path))
        if problem:
            logger.warning("Warning: %s: %s; the admin's lines are kept, a sync rewrites the block", path, problem)
        self._apply_locks([l.strip() for l in admin if l.strip() and not l.lstrip().startswith("#")])

    def _apply_locks(self, entries):
        """The versionlock plugin's sack() hook for these versionlock.list entries."""
        if not entries:
            return
        sack = self.base.sack
        excludes, locked, names = sack.query().filter(empty=True), sack.query().filter(empty=True), set()
        forms = [hawkey.FORM_NEVRA, hawkey.FORM_NEVR, hawkey.FORM_NEV, hawkey.FORM_NA, hawkey.FORM_NAME]
        for entry in entries:
            exclude = entry.startswith("!")
            pattern = entry[1:] if exclude else entry
            for nevra in dnf.subject.Subject(pattern).get_nevra_possibilities(forms=forms):
                query = nevra.to_query(sack)
                if exclude:
                    excludes = excludes.union(query)
                else:
                    names.add(nevra.name)
                    locked = locked.union(query)
                if query:
                    break
        if names:
            excludes = excludes.union(sack.query().filter(name__glob=sorted(names)).difference(locked))
            excludes = excludes.union(sack.query().filterm(obsoletes=locked).difference(locked))
        excludes.filterm(reponame__neq=hawkey.SYSTEM_REPO_NAME)
        if excludes:
            sack.add_excludes(excludes)

    def apply_image_locks(self):
        """The cluster plugin's sack() hook: a plain dnf command in an image root
        (`dnf --installroot=IMG upgrade` from the head node, with the host's plugin
        configuration) keeps the image's version locks. dnf 4's versionlock plugin reads
        the host's list whatever the installroot; the list the image's syncs wrote (and
        the one its own dnf reads once it boots) is the image's (_versionlock()), so its
        entries (the cluster's pins and the admin's own) are applied here as the
        versionlock plugin applies them. Only where the versionlock plugin filters too
        (commands that resolve; never cluster-node, which applies locks itself), not when
        `--disableplugin` lifts versionlock, and not when the versionlock plugin reads this
        very list already. The list is read as every file of the root is (no link
        followed, bounded): a bad one stops the command in one line."""
        root = os.path.normpath(self.installroot or "/")
        if root == "/" or not self._plain_locking():
            return
        path, _ = self._versionlock()
        if path is None or os.path.normpath(path) in self._host_locklists():
            return
        text = self._read_versionlock(path)
        self._apply_locks([l.strip() for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")])

    def _plain_locking(self):
        """Does the versionlock plugin filter the sack in this dnf command (its own
        locking_enabled()), and has the command line left it enabled?"""
        cli = self.cli
        if cli is None:
            return True                                     # loaded through the API
        enabled = cli.demands.plugin_filtering_enabled
        if enabled is None:
            enabled = cli.demands.resolving
        if not enabled:
            return False
        import fnmatch
        opts = getattr(getattr(cli, "command", None), "opts", None)
        return not any(fnmatch.fnmatch("versionlock", glob) for glob in getattr(opts, "disableplugin", None) or ())

    def _host_locklists(self):
        """The lists the loaded versionlock plugin applies itself (its module's locklist)."""
        import sys
        plugins = getattr(getattr(self.base, "_plugins", None), "plugins", None) or ()
        out = set()
        for plugin in plugins:
            if getattr(plugin, "name", None) == "versionlock":
                locklist = getattr(sys.modules.get(type(plugin).__module__), "locklist_fn", None)
                if locklist:
                    out.add(os.path.normpath(locklist))
        return out

    def hand_pins(self, pins):
        path, why = self._versionlock()
        if path is None:
            return why if pins else None
        text = self._read_versionlock(path)
        admin, _, _ = self._split_versionlock(text)       # a damaged block is rewritten whole
        block = []
        if pins:
            block = [VERSIONLOCK_BEGIN]
            for name, evr in sorted(pins.items()):
                epoch, version, release = parse_evr(evr)
                block.append("{}-{}:{}-{}.*".format(name, epoch, version, release))
            block.append(VERSIONLOCK_END)
        lines = admin + ([""] if admin and block else []) + block
        new = "\n".join(lines) + "\n" if lines else ""
        if new == text:
            return None
        try:
            replace_file(path, new)
        except OSError as err:
            return "cannot write {}: {}; pins not handed to dnf's versionlock".format(path, err.strerror)
        return None

    # --- history -------------------------------------------------------------------------
    def installed_by(self, tag):
        """From dnf's history database (swdb), as `dnf history info` reads it: the
        transaction whose comment carries `tag`, and for each package it put on the
        system, whether that package's latest history item (the one
        `base.history.package_data(pkg)` returns) is still this transaction's."""
        swdb = self.base.history.swdb
        found = None
        for trans in reversed(swdb.listTransactions()):
            if tag in trans.getComment().replace(":", " ").split():
                found = trans
                break
        if found is None:
            return None
        items = [i for i in found.getItems() if i.getRPMItem() is not None and i.getAction() in FORWARD]
        ours = set(i.getId() for i in items)
        installed = self.base.sack.query().installed()
        out = {}
        for item in items:
            rpm = item.getRPMItem()
            if not installed.filter(name=rpm.getName(), epoch=rpm.getEpoch(), version=rpm.getVersion(),
                                    release=rpm.getRelease(), arch=rpm.getArch()):
                continue
            latest = swdb.getRPMTransactionItem(rpm.getNEVRA())
            if latest is not None and latest.getId() in ours:
                out[rpm.getName()] = format_evr("{}:{}-{}".format(rpm.getEpoch(), rpm.getVersion(),
                                                                  rpm.getRelease()))
        return out

    def taken_by_hand(self, names):
        if not names:
            return set()
        installed = self.base.sack.query().installed().filter(name=sorted(names))
        builds = dict(((p.name, p.epoch, p.version, p.release, p.arch), p.name) for p in installed)
        latest = {}                                      # build -> (ours, [actions]) of its latest transaction
        swdb = self.base.history.swdb
        for trans in sorted(swdb.listTransactions(), key=lambda t: t.getId()):
            ours = trans.getComment().startswith(OUR_COMMENTS)
            seen = {}
            for item in trans.getItems():
                rpm = item.getRPMItem()
                if rpm is None:
                    continue
                key = (rpm.getName(), rpm.getEpoch(), rpm.getVersion(), rpm.getRelease(), rpm.getArch())
                if key in builds:
                    seen.setdefault(key, []).append(item.getAction())
            for key, actions in seen.items():
                latest[key] = (ours, actions)
        return set(builds[key] for key, (ours, actions) in latest.items()
                   if not ours and any(a in BY_HAND_ACTIONS for a in actions))

    # --- groups --------------------------------------------------------------------------
    def installed_groups(self, gids):
        history = self.base.history.group
        return set(gid for gid in gids if history.get(gid) is not None)

    def group_install(self, view, with_optional):
        """From our own per-arch resolution: dnf's group_install needs base.comps, which
        applies no arch= limits, and on Debian 13 (python3-libcomps 0.1.21 on Python
        3.13) iterating a libcomps list crashes the process, which dnf's comps code does.
        The group is recorded in dnf's history and its packages get the reason `group`,
        as dnf's own group install does."""
        from ..groups import install_tiers
        history = self.base.history
        record = history.group.new(view.id, view.name, view.name,
                                   lt.listToCompsPackageType(list(install_tiers(with_optional))))
        for tier, names in sorted(view.tiers.items()):
            for name in names:
                record.addPackage(name, history.swdb.getPackageCompsGroups(name) != (), TIER_TYPES[tier])
        history.group.install(record)
        for name in view.packages(with_optional):
            if not self.base.sack.query().filterm(name=name, arch__neq=["src", "nosrc"]):
                logger.warning('No match for group package "%s"', name)
                continue
            self.base.install(name)
            self.base._goal.group_members.add(name)     # reason `group`, as dnf's own group install

    def group_remove(self, gid):
        self.base.group_remove(gid)                     # works from dnf's history alone


class Dnf4Fresh(FreshResolver):
    """A second dnf.Base in a throwaway empty installroot, set up as dnf's command line
    sets up `--installroot=EMPTY --forcearch=ARCH` with this host's dnf.conf and
    .repo files: what a fresh node of ARCH would resolve (see Backend.fresh_resolver)."""

    def __init__(self, backend, arch, hide, enable, optional, local=None):
        import tempfile
        import dnf
        head = backend.base.conf
        self.arch = arch
        self.root = tempfile.mkdtemp(prefix="cluster-fresh-{}-".format(arch))
        try:
            conf = dnf.conf.Conf()
            conf.config_file_path = head.config_file_path
            for key, value in head.substitutions.items():
                conf.substitutions[key] = value
            try:
                conf.arch = arch                       # --forcearch: $arch and $basearch follow
            except dnf.exceptions.Error:
                raise ClusterError("dnf does not know the arch '{}'".format(arch))
            conf.ignorearch = True
            conf.installroot = self.root
            conf.persistdir = os.path.join(self.root, "var", "lib", "dnf")
            conf.logdir = os.path.join(self.root, "var", "log")
            os.makedirs(conf.logdir)
            conf.reposdir = list(head.reposdir)
            conf.cachedir = head.cachedir              # per repository and URL: arches never mix
            for name in ("excludepkgs", "includepkgs", "install_weak_deps", "best", "multilib_policy",
                         "skip_if_unavailable", "cacheonly", "module_platform_id", "zchunk", "sslverify",
                         "proxy", "timeout", "minrate", "retries", "installonlypkgs"):
                try:
                    setattr(conf, name, getattr(head, name))
                except (AttributeError, dnf.exceptions.Error, RuntimeError):
                    pass
            self.base = dnf.Base(conf)
            self.base.read_all_repos()
            wanted = (set(backend.enabled_repos()) | set(enable)) - set(hide)
            missing = sorted(wanted - set(self.base.repos))
            if missing:
                raise ClusterError("repository '{}' is enabled on this host but defined in no .repo file, so it "
                                   "cannot be read for {}".format(missing[0], arch))
            for repo in self.base.repos.values():
                if repo.id not in wanted:
                    repo.disable()
                    continue
                repo.enable()
                repo.skip_if_unavailable = repo.id in optional    # any other missing: refused
                if conf.cacheonly:
                    repo._repo.setSyncStrategy(dnf.repo.SYNC_ONLY_CACHE)
                else:
                    repo._repo.expire()                # never a stale build from this host's cache
            if local:
                repo = self.base.repos.add_new_repo(LOCAL_REPO, conf, baseurl=["file://" + os.path.abspath(local)])
                repo.enable()
                repo.skip_if_unavailable = False
                repo._repo.expire()
                # what dnf caches of it (per temporary baseurl) goes with the resolver (close())
                self._local_cache = [repo._repo.getCachedir(), os.path.join(conf.cachedir, LOCAL_REPO + ".solv"),
                                     os.path.join(conf.cachedir, LOCAL_REPO + "-*.solvx")]
            try:
                self.base.fill_sack(load_system_repo=False, load_available_repos=True)
            except dnf.exceptions.Error as err:
                raise ClusterError("the repositories cannot be read for {} (do they have a {} tree?): {}".format(
                    arch, arch, " ".join(str(err).split())))
        except BaseException:
            self.close()
            raise

    def resolve(self, wanted, optional=()):
        import dnf
        base = self.base
        base.reset(goal=True)
        for name in sorted(wanted):
            try:
                base.install(name)
            except dnf.exceptions.MarkingError:
                raise ClusterError("package '{}' is not available for {}".format(name, self.arch))
        for name in sorted(set(optional) - set(wanted)):
            try:
                base.install(name)
            except dnf.exceptions.MarkingError:
                pass
        try:
            base.resolve()
        except dnf.exceptions.DepsolveError as err:
            raise ClusterError("cannot resolve a fresh install for {}: {}".format(
                self.arch, " ".join(str(err).split())))
        out = []
        for pkg in base.transaction.install_set:
            checksum = None
            if pkg.chksum:
                kind, value = pkg.chksum
                checksum = "{}:{}".format(hawkey.chksum_name(kind), value.hex())
            out.append(Locked(pkg.name, format_evr(pkg.evr), pkg.arch, checksum))
        base.reset(goal=True)
        return sorted(out, key=lambda p: (p.name, p.arch))

    def close(self):
        import glob
        import shutil
        base = getattr(self, "base", None)
        if base is not None:
            base.close()
            self.base = None
        shutil.rmtree(self.root, ignore_errors=True)
        cache = getattr(self, "_local_cache", None) or []
        if cache:
            shutil.rmtree(cache[0], ignore_errors=True)
            for path in [p for pattern in cache[1:] for p in glob.glob(pattern)]:
                try:
                    os.unlink(path)
                except OSError:
                    pass

"""The dnf 4 backend: the seam (backends/__init__.py) on dnf 4's Python API, inside a
running dnf command (the plugin, or dnf-cluster on python3-dnf). dnf's own command
line runs the transaction after the command returns, with its transaction table,
confirmation, download progress and history, exactly as for `dnf install`."""
import configparser
import logging

import dnf.exceptions
import libdnf.transaction as lt

from ..errors import ClusterError
from ..plan import compare_evr, format_evr, parse_evr
from . import Backend, Item

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

    # --- repositories ----------------------------------------------------------------------
    def load(self):
        """What dnf's command line does for a command demanding the sack (the demands
        for fresh metadata or the cache only have been applied to the repositories)."""
        self.base.fill_sack(load_system_repo="auto", load_available_repos=True)

    def want_metadata(self, mdtype):
        for repo in self.base.repos.iter_enabled():
            repo.add_metadata_type_to_download(mdtype)

    def enabled_repos(self):
        return sorted(r.id for r in self.base.repos.iter_enabled())

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

    def hide_repo(self, repoid):
        self.base.sack.add_excludes(self.base.sack.query().available().filter(reponame=repoid))

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

    # --- one transaction -----------------------------------------------------------------
    def _builds(self, name, evr):
        epoch, version, release = parse_evr(evr)
        same = self.base.sack.query().available().filter(name=name)
        return same, same.filter(epoch=int(epoch), version=version, release=release)

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

"""The libdnf5 backend's one transaction: marks, the goal and its resolution, the
resolved items as the seam names them, running it; group installs and removals."""
import libdnf5

from ...errors import ClusterError
from ...plan import format_evr
from .. import Item
from .common import T, one_line
from .table import transaction_table

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


def _clean(clean):
    """Job settings: clean up unneeded dependencies on remove, or not."""
    settings = libdnf5.base.GoalJobSettings()
    settings.set_clean_requirements_on_remove(libdnf5.base.GoalSetting_SET_TRUE if clean
                                              else libdnf5.base.GoalSetting_SET_FALSE)
    return settings


class TransactionMixin(object):
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

    def has_build(self, name, evr):
        return not self._builds(name, evr).empty()

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
        from ...groups import install_tiers
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

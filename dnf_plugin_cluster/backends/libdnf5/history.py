"""The libdnf5 backend and dnf5's history: what the latest transaction of ours put on
the system and still holds, and the reasons a killed transaction meant to write."""
import libdnf5

from ...plan import format_evr
from .common import T

#: history comments of the transactions this project runs
OUR_COMMENTS = ("cluster-node sync",)
#: the comment of recover()'s transaction: it finishes one of ours, it is not a new hand
REPAIR_COMMENT = "cluster-node sync: reasons of an interrupted transaction"
#: history actions of a transaction by hand that make a package the admin's
BY_HAND_ACTIONS = (T.TransactionItemAction_INSTALL, T.TransactionItemAction_REINSTALL)
#: history actions that put a package on the system (as dnf 4's backend counts them)
FORWARD = (T.TransactionItemAction_INSTALL, T.TransactionItemAction_UPGRADE, T.TransactionItemAction_DOWNGRADE)


def _nevra(item):
    """name-[epoch:]version-release.arch of a history item, as Package.get_nevra() spells it."""
    epoch = item.get_epoch()
    return "{}-{}{}-{}.{}".format(item.get_name(), "" if epoch in ("", "0") else epoch + ":", item.get_version(),
                                  item.get_release(), item.get_arch())


class HistoryMixin(object):
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

    def taken_by_hand(self, names):
        if not names:
            return set()
        builds = dict((p.get_nevra(), p.get_name()) for p in self._installed(names))
        latest = {}                                      # nevra -> (ours, [actions]) of its latest transaction
        transactions = self.base.get_transaction_history().list_all_transactions()
        for trans in sorted(transactions, key=lambda t: t.get_id()):
            ours = trans.get_comment().startswith(OUR_COMMENTS)
            seen = {}
            for item in trans.get_packages():
                nevra = _nevra(item)
                if nevra in builds:
                    seen.setdefault(nevra, []).append(item.get_action())
            for nevra, actions in seen.items():
                latest[nevra] = (ours, actions)
        return set(builds[nevra] for nevra, (ours, actions) in latest.items()
                   if not ours and any(a in BY_HAND_ACTIONS for a in actions))

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

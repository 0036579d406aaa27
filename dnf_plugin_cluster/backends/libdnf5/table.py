"""dnf5's transaction table, as dnf5 prints a resolved transaction (libdnf5 offers no
printer of its own to Python)."""
from .common import T

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

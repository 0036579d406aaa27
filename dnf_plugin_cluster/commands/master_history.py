"""`cluster-master history [N]`: the site repository's generations as a table, or
generation N in detail (its record, roles, locks and what changed against the
generation before, through head/preview.py)."""
from __future__ import absolute_import, unicode_literals

from .base import logger


class HistoryMixin(object):
    """ClusterMasterCommand's history subcommand."""

    def configure_history(self):
        self._need_site()
        self.show_generation = self._generation_number() if self.opts.generation is not None else None

    def run_history(self):
        site = self._site().exists()
        entries = site.history()
        published = site.published(warn=lambda text: logger.warning("Warning: %s", text))
        current = published.get("generation") if published else None
        if self.show_generation is not None:
            self.history_detail(site, entries, current)
            return
        if self.opts.json:
            self.print_json({"format": 1, "published": current, "generations": entries})
            return
        if not entries:
            print("No generation published in {} yet.".format(site.path))
            return
        rows = [("GEN", "TIME (UTC)", "USER", "ACTION", "LOCKED", "DIGEST", "MESSAGE")]
        for e in entries:
            mark = "*" if e.get("generation") == current else " "
            rows.append(("{}{}".format(e.get("generation"), mark), e.get("time", ""), e.get("user", ""),
                         e.get("action", ""), _locked_count(e), (e.get("digest") or "")[:12],
                         " ".join(str(e.get("message", "")).split())))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        from ..head.lock import history_lines
        for row, entry in zip(rows, [None] + entries):
            print(("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1]).rstrip())
            for line in history_lines(entry or {}):          # per role/arch: locked, what changed
                print(line)
        print("* published now. `dnf cluster-master rollback N --repo-dir {}` publishes generation N "
              "again.".format(site.path))

    def history_detail(self, site, entries, current):
        """`history N`: generation N's record: when, who, what action and why, its
        digest, its roles (with their groups and packages per arch), its pins and locks
        and what they changed against the generation before."""
        from ..head.lock import history_lines, locks_of
        number = self.show_generation
        record = site.generation(number)
        entry = dict(site._entry(record), **dict((e.get("generation"), e) for e in entries).get(number, {}))
        prof = record["profile"]
        from ..head import preview
        earlier = [e.get("generation") for e in entries if e.get("generation", number) < number]
        before = site.generation(earlier[-1])["profile"] if earlier else None
        changes = [c for c in preview.role_changes(before, prof) if c.state != "same"]
        if self.opts.json:
            self.print_json({"format": 1, "published": current, "generation": entry, "profile": prof,
                             "against": earlier[-1] if earlier else None,
                             "changes": [c.as_dict() for c in changes]})
            return
        state = "published now" if number == current else "not published now (published: {})".format(current)
        lines = ["Generation {} ({})".format(number, state),
                 "  time (UTC)  {}".format(entry.get("time", "")),
                 "  user        {}".format(entry.get("user", "")),
                 "  action      {}".format(entry.get("action", "")),
                 "  message     {}".format(" ".join(str(entry.get("message", "")).split())),
                 "  digest      {}".format(entry.get("digest", "")),
                 "  roles:"]
        for name in sorted(prof["roles"]):
            role = prof["roles"][name]
            arches = role.get("arches", {})
            lines.append("    {}{}: {}".format(name, " (groups {})".format(", ".join(role["groups"]))
                                                  if role.get("groups") else "", "; ".join(
                "{} {} packages".format(arch, len(arches[arch]["packages"])) for arch in sorted(arches))))
        pins = prof.get("pins", {})
        locks = locks_of(prof)
        if locks:
            lines.append("  locks:")
        else:                            # a profile without complete locks: its locked versions
            lines.append("  locked      {}".format(", ".join("{} {}".format(n, pins[n]) for n in sorted(pins))
                                                 if pins else "nothing"))
        lines += history_lines(entry) or ["    {}: {} locked".format(key, len(locks[key])) for key in sorted(locks)]
        if earlier:
            lines.append("  changes against generation {}:{}".format(earlier[-1], "" if changes else " none"))
        else:
            lines.append("  changes: the first generation")
        lines += preview.role_lines(changes, indent="    ")
        print("\n".join(lines))


def _locked_count(entry):
    """What a generation locks, for history's LOCKED column: the packages of its complete
    locks (every role and arch together), else its pins (a profile from before the locks)."""
    locks = entry.get("locks")
    if isinstance(locks, dict) and locks:
        return str(sum(n for n in locks.values() if isinstance(n, int) and not isinstance(n, bool)))
    pins = entry.get("pins", "")
    return str(pins) if isinstance(pins, int) and not isinstance(pins, bool) else ""

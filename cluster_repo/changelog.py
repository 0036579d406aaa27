"""The %changelog of a metapackage: the `changelog:` list of its definition, checked,
or one entry made from its version-release and owners; rendered in Fedora's format.

    changelog:                      # newest first
      - date: 2026-11-25
        author: Jane Doe <jane@example.org>
        version: 1.0-2              # the version-release the entry describes
        text:
          - Require hdf5 for the new BLAST+ databases

renders as

    * Wed Nov 25 2026 Jane Doe <jane@example.org> - 1.0-2
    - Require hdf5 for the new BLAST+ databases

A definition without `changelog:` gets one generated entry that says what this
version pulls in (requires, recommends, ... with their arch and distribution limits), so
`rpm -q --changelog` tells a reader something real. Weekday and month names are written
out here, not taken from the locale, and the generated entry carries a fixed date, never
the build's: a render is reproducible."""
import datetime
import re
import textwrap

from dnf_plugin_cluster import yamlsrc
from dnf_plugin_cluster.errors import ClusterError

from . import owners as owners_mod
from . import spectext

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})\Z")
EVR_RE = re.compile(r"(?:\d+:)?[0-9A-Za-z._+~^]+-[0-9A-Za-z._+~^]+\Z")
#: The date of the entry generated for a definition without `changelog:` (the day
#: generated changelogs began); fixed, so renders do not depend on when they run.
GENERATED_DATE = datetime.date(2026, 11, 25)
FIRST_YEAR, LAST_YEAR = 1990, 2099       # rpm stores changelog times as 32-bit unsigned seconds


class Entry(object):
    def __init__(self, date, author, evr, text, line=None):
        self.date, self.author, self.evr, self.text, self.line = date, author, evr, list(text), line

    def render(self):
        head = "* {} {} {:02d} {} {} - {}".format(DAYS[self.date.weekday()], MONTHS[self.date.month - 1],
                                                   self.date.day, self.date.year, self.author, self.evr)
        body = []
        for item in self.text:          # an item the generator wrapped continues indented
            first, _, rest = item.partition("\n")
            body.append("- " + spectext.escape(first))
            body += ["  " + spectext.escape(more) for more in rest.split("\n") if rest]
        return "\n".join([head] + body)


def _date(value, fail):
    if isinstance(value, datetime.datetime):
        fail("'date' is a day (YYYY-MM-DD), without a time")
    if isinstance(value, datetime.date):
        day = value
    else:
        match = DATE_RE.match(value) if isinstance(value, str) else None
        try:
            day = datetime.date(*(int(g) for g in match.groups())) if match else None
        except ValueError:
            day = None
        if day is None:
            fail("'date' must be a day written YYYY-MM-DD, not {!r}".format(value))
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        fail("'date' must be between {} and {}".format(FIRST_YEAR, LAST_YEAR))
    return day


def _entry(item, path, line):
    check = yamlsrc.Checker(item, path, "changelog entry")
    check.keys(required=("date", "author", "version", "text"))
    day = _date(item["date"], lambda message: check.fail(message, "date"))
    author = check.get("author", str)
    try:
        owners_mod.check_owner(author)
    except ClusterError as err:
        check.fail("'author': {}".format(err.bare), "author")
    evr = check.get("version", str)
    if not EVR_RE.match(evr):
        check.fail("'version' is the version-release the entry describes, like '1.0-2', not {!r}".format(evr),
                   "version")
    text = check.get("text", (str, list))
    lines = [text] if isinstance(text, str) else list(text)
    if not lines:
        check.fail("'text' must say what changed", "text")
    for index, one in enumerate(lines):
        where = text.item_line(index) if isinstance(text, yamlsrc.Seq) else item.key_line("text")
        if not isinstance(one, str):
            raise ClusterError("changelog text lines must be strings", path, where)
        try:
            spectext.one_line(one, "changelog text")
        except ClusterError as err:
            raise ClusterError("{} (one list item per line)".format(err.bare), path, where)
    return Entry(day, author, evr, lines, line)


def load(items, path, pkg_evr):
    """Entries of a `changelog:` list (newest first; the newest one for `pkg_evr`)."""
    entries = [_entry(item, path, items.item_line(i)) for i, item in enumerate(items)]
    if not entries:
        raise ClusterError("'changelog' must not be empty (leave it out to have one entry generated)", path,
                           items.line)
    for newer, older in zip(entries, entries[1:]):
        if older.date > newer.date:
            raise ClusterError("changelog entries go newest first: {} comes after {}".format(
                older.date.isoformat(), newer.date.isoformat()), path, older.line)
    if entries[0].evr != pkg_evr:
        raise ClusterError("the newest changelog entry is for {} but the package is {}: add an entry for it "
                           "at the top".format(entries[0].evr, pkg_evr), path, entries[0].line)
    return entries


#: How a generated entry names each kind of dependency, in this order.
DEP_WORDS = (("requires", "Pulls in"), ("recommends", "Recommends"), ("suggests", "Suggests"),
             ("supplements", "Supplements"), ("conflicts", "Conflicts with"), ("obsoletes", "Replaces"),
             ("provides", "Provides"))
WIDTH = 76


def _dep_text(dep):
    text = dep.expression()
    limits = []
    if dep.arches:
        limits.append(" and ".join(dep.arches) + " only")
    if dep.distro:
        limits.append({"rhel": "EL", "fedora": "Fedora"}.get(dep.distro, dep.distro) + " only")
    return text + (" ({})".format(", ".join(limits)) if limits else "")


def generated(pkg_evr, owners, source_rel, deps=None):
    """The one entry of a definition without `changelog:`: what version `pkg_evr` pulls
    in, one wrapped item per kind of dependency (`deps`: {kind: [Dep]})."""
    lines = []
    for kind, word in DEP_WORDS:
        items = [_dep_text(dep) for dep in (deps or {}).get(kind, ())]
        if items:
            wrapped = textwrap.wrap("{}: {}".format(word, ", ".join(items)), WIDTH - 2,
                                    break_long_words=False, break_on_hyphens=False)
            lines.append("\n".join(wrapped))
    if not lines:
        lines.append("A metapackage that pulls in nothing of its own")
    lines.append("Generated from {} (it has no changelog: list)".format(source_rel))
    return [Entry(GENERATED_DATE, owners[0], pkg_evr, lines)]


def render(entries):
    return "\n\n".join(entry.render() for entry in entries)

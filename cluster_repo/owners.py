"""Who owns each package: the `owners:` list of a metapackage definition and the
`# Owners:` header comment of a hand-written spec, checked, and listed by
`cluster-repo owners`.

An owner is `Full Name <email>`, a bare `email`, or an account id (`jdoe`, as in
Fedora's account system); a team address such as `cluster-packagers@example.org`
stands in where no person is known."""
import re

from dnf_plugin_cluster.errors import ClusterError

EMAIL = r"[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
EMAIL_RE = re.compile(EMAIL + r"\Z")
NAMED_RE = re.compile(r"(?P<name>[^<>]+?) <(?P<email>" + EMAIL + r")>\Z")
ID_RE = re.compile(r"[a-z][a-z0-9_-]{0,39}\Z")
HEADER_RE = re.compile(r"#\s*Owners:(?P<list>.*)\Z")
NAME_PUNCTUATION = " .'-"


def check_owner(text):
    """`text` if it is one owner in one of the accepted forms, else ClusterError."""
    if not isinstance(text, str):
        raise ClusterError("owners are strings like 'Name <email>', not {!r}".format(text))
    named = NAMED_RE.match(text)
    if named:
        name = named.group("name")
        if name[0].isalpha() and all(c.isalpha() or c in NAME_PUNCTUATION for c in name) \
                and "  " not in name and name == name.strip():
            return text
    elif EMAIL_RE.match(text) or ID_RE.match(text):
        return text
    raise ClusterError("invalid owner {!r}: write 'Full Name <email>', an email address, or an account id "
                       "(a name is letters, spaces and . ' -)".format(text))


def check_owners(items):
    """A non-empty list of distinct owners."""
    if not items:
        raise ClusterError("'owners' must name at least one owner ('Name <email>' or a team address)")
    seen = set()
    for item in items:
        check_owner(item)
        if item in seen:
            raise ClusterError("owner {!r} is listed twice".format(item))
        seen.add(item)
    return list(items)


def spec_header(spec_path):
    """(owners, line) from the `# Owners: a, b` comment among the comment lines that
    open a hand-written spec; ClusterError naming file:line when it is missing or bad."""
    try:
        with open(spec_path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
    except (OSError, UnicodeDecodeError) as err:
        raise ClusterError("cannot read: {}".format(getattr(err, "strerror", None) or err), spec_path)
    for number, line in enumerate(lines, 1):
        if not line.startswith("#"):
            break
        header = HEADER_RE.match(line)
        if header:
            listed = [o.strip() for o in header.group("list").split(",")]
            try:
                return check_owners([o for o in listed if o]), number
            except ClusterError as err:
                raise ClusterError(err.bare, spec_path, number)
    raise ClusterError("hand-written spec without an owners header: add a first-lines comment "
                       "'# Owners: Name <email>[, ...]'", spec_path, 1)


def header_line(owners):
    return "# Owners: " + ", ".join(owners)

"""Text that reaches a spec from YAML: checks that refuse what rpm would not read as
plain text, and the escaping of what it would (every `%` doubled).

rpm expands macros in every line of a spec before it decides what the line is, so `%%`
keeps a `%` literal only inside a line: a line whose first non-blank character is `%`
still becomes `%post`, `%if`, `%description`... after expansion and starts a section or
a conditional (rpm 4.18: `%%post` alone on a description line makes a scriptlet), and a
line whose first non-blank character is `#` is dropped as a comment. Such description
lines cannot be escaped, so they are refused. One-line values refuse line breaks,
control characters and a trailing backslash (rpm joins the next line to it)."""
import re
import unicodedata

from dnf_plugin_cluster.errors import ClusterError

URL_RE = re.compile(r"(https?|ftp)://[^\s\"'<>\\`]+\Z")
#: SPDX license identifiers and exceptions (`LicenseRef-...` too; a `+` suffix means "or later").
SPDX_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*\+?\Z")
SPDX_TOKEN_RE = re.compile(r"\(|\)|[^\s()]+")
#: Accounts systemd-sysusers and useradd accept (systemd's strict rule: at most 31 characters).
ACCOUNT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,30}\Z")
HOME_RE = re.compile(r"/[A-Za-z0-9._+/-]*\Z")


def escape(text):
    """`text` as rpm reads it literally inside a spec line: every `%` doubled."""
    return text.replace("%", "%%")


def _bad_character(text, allowed=""):
    """The first character of `text` that is a control or line/paragraph separator
    (except those in `allowed`), or None."""
    for char in text:
        if char in allowed:
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            return char
    return None


def one_line(value, what):
    """A value that must be one line in the spec (Summary:, License:, URL:, ...)."""
    if not value or not value.strip():
        raise ClusterError("'{}' must not be empty".format(what))
    if "\n" in value or "\r" in value:
        raise ClusterError("'{}' must be one line: rpm would read the next line as a spec line".format(what))
    bad = _bad_character(value)
    if bad is not None:
        raise ClusterError("'{}' contains the control character {!r}".format(what, bad))
    if value != value.strip():
        raise ClusterError("'{}' must not start or end with blanks".format(what))
    if value.endswith("\\"):
        raise ClusterError("'{}' must not end with a backslash: rpm joins the next line to it".format(what))
    return value


def description(text):
    """The description as rpm will show it (each line's trailing blanks dropped, as rpm
    does), or ClusterError(message) with `.index` set to the 0-based offending line."""
    lines = [line.rstrip() for line in text.strip("\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise ClusterError("'description' must not be empty")
    for index, line in enumerate(lines):
        problem = None
        bad = _bad_character(line, allowed="\t")
        stripped = line.lstrip()
        if bad is not None:
            problem = "contains the control character {!r}".format(bad)
        elif stripped.startswith("%"):
            problem = ("starts with '%': rpm would read it as a spec directive (a section such as %post, or "
                       "%if), even escaped as '%%'; reword the line")
        elif stripped.startswith("#"):
            problem = "starts with '#': rpm drops it as a comment; reword it"
        elif line.endswith("\\"):
            problem = "ends with a backslash: rpm joins the next line to it"
        if problem:
            err = ClusterError("description line {} {}".format(index + 1, problem))
            err.index, err.text = index, line
            raise err
    return "\n".join(lines)


def license_expression(value):
    """An SPDX license expression: identifiers joined by AND/OR, `WITH exception`,
    parentheses (the form Fedora's License: tag takes). Shape only: identifiers are not
    looked up in the SPDX list."""
    one_line(value, "license")
    tokens = SPDX_TOKEN_RE.findall(value)

    def fail(why):
        raise ClusterError("license '{}' is not an SPDX expression ({}); e.g. 'MIT', "
                           "'GPL-2.0-or-later AND (MIT OR Apache-2.0)'".format(value, why))

    position = [0]

    def peek():
        return tokens[position[0]] if position[0] < len(tokens) else None

    def take():
        position[0] += 1
        return tokens[position[0] - 1]

    def identifier():
        token = take() if peek() is not None else None
        if token is None or token in ("AND", "OR", "WITH", "(", ")") or not SPDX_ID_RE.match(token):
            fail("expected a license identifier, found {}".format(repr(token) if token else "the end"))

    def term():
        if peek() == "(":
            take()
            expression()
            if peek() != ")":
                fail("unbalanced parentheses")
            take()
            return
        identifier()
        if peek() == "WITH":
            take()
            identifier()

    def expression():
        term()
        while peek() in ("AND", "OR"):
            take()
            term()

    expression()
    if peek() is not None:
        fail("unexpected {!r}".format(peek()))
    return value


def url(value, what="url"):
    """A project URL for URL:; http(s) or ftp, one line, no blanks or quotes."""
    one_line(value, what)
    if not URL_RE.match(value):
        raise ClusterError("'{}' must be an http(s) or ftp URL without blanks or quotes, not {!r}".format(
            what, value))
    return value


def account(name):
    """A sysusers account or group name (also what useradd accepts)."""
    if not isinstance(name, str) or not ACCOUNT_RE.match(name):
        raise ClusterError("invalid account name {!r}: letters, digits, _ and -, at most 31, not starting "
                           "with a digit or -".format(name))
    return name


def sysusers_comment(value):
    """The GECOS field of a sysusers `u` line: it sits in double quotes on one line of a
    heredoc, and systemd-sysusers expands `%` specifiers and `\\` escapes in it."""
    if not value or "\n" in value or "\r" in value or _bad_character(value) is not None:
        raise ClusterError("sysusers comment {!r} must be one non-empty line without control characters".format(
            value))
    bad = [c for c in "\"'\\%:" if c in value]
    if bad:
        raise ClusterError("sysusers comment {!r} must not contain {}".format(
            value, " ".join(repr(c) for c in bad)))
    return value


def sysusers_home(value):
    """The home directory of a sysusers `u` line: a plain absolute path."""
    if not HOME_RE.match(value) or "//" in value or "/../" in value + "/" or "/./" in value + "/":
        raise ClusterError("sysusers home {!r} must be an absolute path of letters, digits and ._+-".format(value))
    return value

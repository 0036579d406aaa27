"""Text that reaches a spec from YAML: checks that refuse what rpm would not read as
plain text, and the escaping of what it would (every `%` doubled). One-line values
refuse line breaks, control characters and a trailing backslash (rpm joins the next
line to it); licenses are SPDX expressions, URLs plain http(s) or ftp."""
import re
import unicodedata

from dnf_plugin_cluster.errors import ClusterError

URL_RE = re.compile(r"(https?|ftp)://[^\s\"'<>\\`]+\Z")
#: SPDX license identifiers and exceptions (`LicenseRef-...` too; a `+` suffix means "or later").
SPDX_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*\+?\Z")
SPDX_TOKEN_RE = re.compile(r"\(|\)|[^\s()]+")


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

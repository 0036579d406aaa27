"""The one error type users see: a single line, naming the file/line or package at fault."""
import re

#: How many characters of a value an error message quotes: enough to recognise it,
#: never a whole hostile value (an 8 MB version made an 8 MB `Error:` line).
QUOTE_MAX = 60
#: The longest message a ClusterError carries; what is past it is cut.
MESSAGE_MAX = 2000


def quote(value, limit=QUOTE_MAX):
    """A value for an error message: repr() (so a newline or a control character shows
    as an escape), cut to about `limit` characters, the cut marked with '...'
    inside the quotes of a string: 'aaaa...'."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        text = repr(value[:limit])
        return text[:-1] + "..." + text[-1]
    try:
        text = repr(value)
    except (ValueError, RecursionError):      # an int past Python's digit limit, a deep list
        return "<{}>".format(type(value).__name__)
    return text if len(text) <= limit else text[:limit] + "..."


def cut_quoted(text, limit=QUOTE_MAX):
    """`text` (another library's message) with every value it quotes in '...' cut to
    about `limit` characters, as quote() does."""
    return re.sub(r"'([^'\n]{%d,})'" % (limit + 1), lambda m: quote(m.group(1), limit), text)

#: dnf's own words for a command that changes the system, run by another user
SUPERUSER = "This command has to be run with superuser privileges (under the root user on most systems)."


class ClusterError(Exception):
    """A user-facing error; str() is the complete one-line message."""

    def __init__(self, message, path=None, line=None):
        self.path = path
        self.line = line
        self.bare = message
        if path is not None and line is not None:
            message = "{}:{}: {}".format(path, line, message)
        elif path is not None:
            message = "{}: {}".format(path, message)
        message = " ".join(str(message).split("\n"))
        if len(message) > MESSAGE_MAX:
            message = message[:MESSAGE_MAX] + "..."
        super(ClusterError, self).__init__(message)


class RpmdbError(ClusterError):
    """The rpm database of a root cannot be read: an error, never drift."""

    def __init__(self, root, problem):
        super(RpmdbError, self).__init__("cannot read the rpm database of {}: {}".format(root, problem))


#: Python modules the project imports from the distribution (pip cannot install the
#: package-manager bindings): module -> (Fedora/EL package, Debian package, PyPI name).
SYSTEM_MODULES = {
    "dnf": ("python3-dnf", "python3-dnf", None),
    "libdnf5": ("python3-libdnf5", None, None),
    "rpm": ("python3-rpm", "python3-rpm", None),
    "libcomps": ("python3-libcomps", "python3-libcomps", None),
    "createrepo_c": ("python3-createrepo_c", "python3-createrepo-c", None),
    "yaml": ("python3-pyyaml", "python3-yaml", "PyYAML"),
    "ClusterShell": ("python3-clustershell", "python3-clustershell", "ClusterShell"),
}


def missing_module_line(prog, err):
    """The one line for an ImportError of a module in SYSTEM_MODULES, naming the package
    that has it (None for any other import error, which is a bug to show in full)."""
    name = (getattr(err, "name", None) or "").split(".")[0]
    if name not in SYSTEM_MODULES:
        return None
    rpm_name, deb_name, pypi = SYSTEM_MODULES[name]
    elsewhere = (["Debian: apt-get install " + deb_name] if deb_name else []) + (
        ["pip install " + pypi] if pypi else [])
    return "{}: error: the Python module '{}' is missing: dnf install {}{}".format(
        prog, name, rpm_name, " ({})".format("; ".join(elsewhere)) if elsewhere else "")

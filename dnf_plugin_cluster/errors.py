"""The one error type users see: a single line, naming the file/line or package at fault."""


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
        super(ClusterError, self).__init__(" ".join(str(message).split("\n")))


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

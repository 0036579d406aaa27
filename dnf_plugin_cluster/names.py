"""What a valid name is, everywhere a name comes in (profiles, roles, cluster.conf,
definitions, comps): package, group and role names, and the arches a cluster knows."""
import re

from .errors import ClusterError, quote

#: The architectures a cluster repository is built for (basearch names).
CLUSTER_ARCHES = ("x86_64", "aarch64")
#: basearch values dnf knows; comps `arch=` attributes must use these.
KNOWN_BASEARCHES = ("x86_64", "aarch64", "ppc64le", "s390x", "i686", "armhfp", "riscv64")

#: Names rpm and dnf accept for a package: no paths, no spaces, no shell or glob characters.
#: Anchored with \A and \Z (never ^ and $, which let a trailing newline through), so
#: `.match()` and `.fullmatch()` agree.
NAME_RE = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9._+-]*\Z")
#: Dependency names may also be qualified virtual provides, like `environment(modules)`.
DEP_NAME_RE = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9._+-]*(\([A-Za-z0-9._+-]+\))?\Z")
#: An rpm file is named name-version-release.arch.rpm in at most 255 bytes: no package,
#: group or role needs a longer name, and a longer one would not fit in a file name.
MAX_NAME = 255


def check_name(name, what="package name", pattern=NAME_RE):
    """Refuse anything that is not a plain package name ('../x', 'a/b', 'x*', '')."""
    if not is_name(name, pattern):
        if isinstance(name, str) and len(name) > MAX_NAME:
            raise ClusterError("invalid {} {}: {} characters long (at most {})".format(
                what, quote(name), len(name), MAX_NAME))
        raise ClusterError("invalid {} {}: names are letters, digits and ._+- only".format(what, quote(name)))
    return name


def is_name(name, pattern=NAME_RE):
    """True for a plain name: the whole string matches `pattern`, with no `..` in it."""
    return (isinstance(name, str) and len(name) <= MAX_NAME and pattern.fullmatch(name) is not None
            and ".." not in name)


#: Control characters (C0, DEL, C1): never part of a URL or a text that reaches a file.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_text(text, what):
    """A one-line text that reaches a file (a message, a key id): no control characters
    (a line break would start a line of its own in the file or in what reads it)."""
    if not isinstance(text, str) or CONTROL_RE.search(text):
        raise ClusterError("invalid {} {!r}: control characters (line breaks, tabs, escapes) are "
                           "not allowed".format(what, text))
    return text


def check_dep_name(name):
    """A dependency name: a package name or a qualified provide such as `environment(modules)`."""
    return check_name(name, "dependency name", DEP_NAME_RE)

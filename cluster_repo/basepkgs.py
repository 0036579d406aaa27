"""The known base distribution packages (base/packages.yaml): real Fedora/EL names,
versions, arches and dependencies. Lint resolves names against it; the test and demo
stand-in repository is generated from it, including what the real packages do to a
system that matters to us: the files setup ships, directories owned by service
accounts, and accounts created in %pre."""
import re

from dnf_plugin_cluster import yamlsrc
from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.names import CLUSTER_ARCHES, KNOWN_BASEARCHES, check_name

FAMILIES = ("rhel", "fedora")
#: a path in a spec or an /etc/passwd field: no spaces, quotes, colons, macros or globs
PATH_RE = re.compile(r"\A/[A-Za-z0-9._+/-]*\Z")
#: the terminator of the heredoc that writes a file's contents in %install
CONTENT_EOF = "STANDIN_CONTENT_EOF"


class BasePackage(object):
    def __init__(self, name, evrs, arches, families, requires, provides, files, requires_pre=(),
                 contents=None, dirs=None, creates_user=None, dir_modes=None):
        self.name = name
        self.evrs = evrs            # ["version-release", ...] oldest first
        self.arches = arches        # ("noarch",) or a tuple of basearches
        self.families = families    # ("rhel", "fedora") or one of them
        self.requires = requires
        self.provides = provides
        self.files = files
        self.requires_pre = list(requires_pre)
        self.contents = dict(contents or {})      # path -> text
        self.dirs = dict(dirs or {})              # path -> owning account
        self.dir_modes = dict(dir_modes or {})    # path -> octal mode ("1777"), where not rpm's default
        self.creates_user = creates_user          # {"user", "comment", "home"} or None

    @property
    def noarch(self):
        return self.arches == ("noarch",)

    def exists_for(self, arch, family):
        return family in self.families and (self.noarch or arch in self.arches)


class BaseSet(object):
    def __init__(self, path, packages):
        self.path = path
        self.packages = packages    # name -> BasePackage

    def provides(self, arch, family):
        """Every name and virtual provide available on that arch and distro family."""
        names = set()
        for pkg in self.packages.values():
            if pkg.exists_for(arch, family):
                names.add(pkg.name)
                names.update(p.split()[0] for p in pkg.provides)
        return names

    def provides_anywhere(self):
        names = set()
        for family in FAMILIES:
            for arch in CLUSTER_ARCHES:
                names |= self.provides(arch, family)
        return names


def _str_list(check, key):
    items = check.get(key, list, [])
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise ClusterError("'{}' items must be strings".format(key), check.path, items.item_line(index))
    return list(items)


def _path(check, key, value):
    if not isinstance(value, str) or not PATH_RE.match(value) or "/../" in value + "/":
        check.fail("'{}': '{}' is not a plain absolute path".format(key, value), key)
    return value


def _contents(check):
    out = {}
    for target, text in check.get("contents", dict, {}).items():
        _path(check, "contents", target)
        if not isinstance(text, str) or "%" in text or CONTENT_EOF in text:
            check.fail("'contents' of {} must be text without '%' (rpm would expand it)".format(target),
                       "contents")
        out[target] = text
    return out


def _dirs(check):
    """({path: account}, {path: mode}) of `dirs:`, whose values are `ACCOUNT` or
    `ACCOUNT MODE` (octal, as `root 1777` for /var/tmp)."""
    out, modes = {}, {}
    for target, value in check.get("dirs", dict, {}).items():
        _path(check, "dirs", target)
        words = str(value).split(" ")
        owner = words[0]
        try:
            check_name(owner, "account name")
        except ClusterError as err:
            check.fail(err.bare, "dirs")
        if len(words) > 2 or (len(words) == 2 and not re.match(r"\A[0-7]{3,4}\Z", words[1])):
            check.fail("'dirs' of {}: '{}' is not ACCOUNT or ACCOUNT MODE (octal, as 'root 1777')".format(
                target, value), "dirs")
        out[target] = owner
        if len(words) == 2:
            modes[target] = words[1]
    return out, modes


def _creates_user(check):
    spec = check.get("creates_user", dict, None)
    if spec is None:
        return None
    sub = yamlsrc.Checker(spec, check.path, "creates_user")
    sub.keys(required=("user", "comment", "home"))
    user, comment, home = (sub.get(k, str) for k in ("user", "comment", "home"))
    try:
        check_name(user, "account name")
    except ClusterError as err:
        sub.fail(err.bare, "user")
    if any(c in comment for c in ':"\\%\n'):
        sub.fail("'comment' must not hold ':', '\"', '\\', '%' or a line break", "comment")
    _path(sub, "home", home)
    return {"user": user, "comment": comment, "home": home}


def load(path):
    data = yamlsrc.load_file(path)
    top = yamlsrc.Checker(data, path, "base package list")
    top.keys(required=("packages",))
    packages = {}
    entries = top.get("packages", dict)
    for name, spec in entries.items():
        line = entries.key_line(name)
        try:
            check_name(str(name))
        except ClusterError as err:
            raise ClusterError(err.bare, path, line)
        if spec is None:
            spec = yamlsrc.Map()
            spec.line, spec.lines, spec.raw = line, {}, {}
        check = yamlsrc.Checker(spec, path, "package '{}'".format(name))
        check.keys(optional=("evr", "arch", "distro", "requires", "provides", "files", "summary", "requires_pre",
                             "contents", "dirs", "creates_user"))
        evrs = [str(e) for e in check.get("evr", list, ["1.0-1"])]
        for evr in evrs:
            if evr.count("-") != 1:
                check.fail("evr '{}' must be version-release".format(evr), "evr")
        arch = check.get("arch", (str, list), "native")
        arches = tuple(arch) if isinstance(arch, list) else (arch,)
        if arches == ("native",):
            arches = CLUSTER_ARCHES
        for a in arches:
            if a != "noarch" and a not in KNOWN_BASEARCHES:
                check.fail("unknown arch '{}'".format(a), "arch")
        if "noarch" in arches and len(arches) > 1:
            check.fail("noarch cannot be combined with other arches", "arch")
        distro = check.get("distro", str, None)
        if distro is not None and distro not in FAMILIES:
            check.fail("distro must be one of {}".format(", ".join(FAMILIES)), "distro")
        families = (distro,) if distro else FAMILIES
        dirs, dir_modes = _dirs(check)
        packages[str(name)] = BasePackage(str(name), evrs, arches, families,
                                          _str_list(check, "requires"), _str_list(check, "provides"),
                                          _str_list(check, "files"), _str_list(check, "requires_pre"),
                                          _contents(check), dirs, _creates_user(check), dir_modes)
    return BaseSet(path, packages)

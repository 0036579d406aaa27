"""The known base distribution packages (base/packages.yaml): real Fedora/EL names,
versions, arches and dependencies. Lint resolves names against it; the test and demo
stand-in repository is generated from it."""
from dnf_plugin_cluster import yamlsrc
from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.names import CLUSTER_ARCHES, KNOWN_BASEARCHES, check_name

FAMILIES = ("rhel", "fedora")


class BasePackage(object):
    def __init__(self, name, evrs, arches, families, requires, provides, files):
        self.name = name
        self.evrs = evrs            # ["version-release", ...] oldest first
        self.arches = arches        # ("noarch",) or a tuple of basearches
        self.families = families    # ("rhel", "fedora") or one of them
        self.requires = requires
        self.provides = provides
        self.files = files

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
        check.keys(optional=("evr", "arch", "distro", "requires", "provides", "files", "summary"))
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
        packages[str(name)] = BasePackage(str(name), evrs, arches, families,
                                          _str_list(check, "requires"), _str_list(check, "provides"),
                                          _str_list(check, "files"))
    return BaseSet(path, packages)

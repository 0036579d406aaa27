"""The libdnf5 backend's package queries: what is installed and why, what is available,
protected and install-only names, what installed packages need."""
import glob
import os

import libdnf5

from ...plan import compare_evr, format_evr
from .common import REASONS


class PackagesMixin(object):
    def _installed(self, names=None):
        query = libdnf5.rpm.PackageQuery(self.base)
        query.filter_installed()
        if names is not None:
            query.filter_name(sorted(names))
        return query

    def installed(self):
        out = {}
        for pkg in self._installed():
            name = pkg.get_name()
            if name not in out or compare_evr(pkg.get_evr(), out[name]) > 0:
                out[name] = pkg.get_evr()
        return out

    def installed_nevras(self, names):
        from ...profile import nevra
        if not names:
            return []
        return sorted(nevra(p.get_name(), p.get_evr(), p.get_arch()) for p in self._installed(names))

    def fresh_resolver(self, arch, hide=(), enable=(), optional=(), local=None):
        from .fresh import Libdnf5Fresh
        return Libdnf5Fresh(self, arch, hide, enable, optional, local)

    def reason(self, name):
        pkgs = list(self._installed([name]))
        if not pkgs:
            return "unknown"
        repaired = self.repairs().get(name)
        if repaired is not None:
            return REASONS.get(repaired, "unknown")
        return REASONS.get(pkgs[0].get_reason(), "unknown")

    def available_names(self):
        query = libdnf5.rpm.PackageQuery(self.base)
        query.filter_available()
        return set(p.get_name() for p in query)

    def newest(self, names):
        out = {}
        if not names:
            return out
        query = libdnf5.rpm.PackageQuery(self.base)      # excludes and version locks applied
        query.filter_available()
        query.filter_name(sorted(names))
        query.filter_arch([self.basearch, "noarch"])
        for pkg in query:
            name = pkg.get_name()
            if name not in out or compare_evr(pkg.get_evr(), out[name]) > 0:
                out[name] = pkg.get_evr()
        return dict((name, format_evr(evr)) for name, evr in out.items())

    def protected(self):
        """dnf5's protected_packages (plain names, and the files its globs name inside the
        root), and the running kernel."""
        names = set()
        for entry in self.conf.protected_packages:
            if not entry.startswith("glob:"):
                names.add(entry)
                continue
            pattern = os.path.join(self.installroot, entry[len("glob:"):].lstrip("/"))
            for path in sorted(glob.glob(pattern)):
                with open(path) as handle:
                    names.update(l.split("#")[0].strip() for l in handle if l.split("#")[0].strip())
        kernel = self.base.get_rpm_package_sack().get_running_kernel()
        if kernel.get_id().id > 0:
            names.add(kernel.get_name())
        return names

    def installonly(self):
        return set(self.conf.installonlypkgs)

    def _closure(self, start, pool):
        """Names in `pool` (a PackageQuery) that the packages of `start` need, directly
        or through others in the pool."""
        seen, todo = {}, list(start)
        while todo:
            current = todo.pop()
            for req in current.get_requires():
                providers = libdnf5.rpm.PackageQuery(pool)
                providers.filter_provides(req)
                for provider in providers:
                    if provider.get_name() not in seen:
                        seen[provider.get_name()] = provider
                        todo.append(provider)
        return seen

    def installed_requires(self, names):
        start = list(self._installed(names))
        seen = dict((p.get_name(), p) for p in start)
        seen.update(self._closure(start, self._installed()))
        return dict((name, format_evr(pkg.get_evr())) for name, pkg in seen.items())

    def needs(self, name, among):
        pool = self._installed(among)
        return set(self._closure(list(self._installed([name])), pool))

    def providers(self, names):
        out = {}
        for name in sorted(names):
            named = libdnf5.rpm.PackageQuery(self.base)
            named.filter_name([name])
            if not named.empty():
                continue
            query = self._installed()
            query.filter_provides([name])
            out[name] = sorted(set(p.get_name() for p in query))
        return out

"""Cluster groups as plain data: the comps tiers, which groups are the cluster's (those
listed in the `cluster` category), what a group brings on one arch, and their listing.

Both comps readers give the same answers through `group_view(gid, arch)`: the nodes'
(comps.py, libcomps over repository metadata) and the packager's strict one
(cluster_repo/compsfile.py, over comps/*.xml). This is the one definition of tiers."""

TIERS = ("mandatory", "default", "optional", "conditional")
CLUSTER_CATEGORY = "cluster"


def install_tiers(with_optional=False):
    """The tiers a group install brings: mandatory + default (+ optional)."""
    return ("mandatory", "default", "optional") if with_optional else ("mandatory", "default")


class GroupView(object):
    """One group as it applies to one arch."""

    def __init__(self, gid, name, description, tiers, installed=False):
        self.id = gid
        self.name = name
        self.description = description
        self.tiers = dict((tier, sorted(set(names))) for tier, names in tiers.items() if names)
        self.installed = installed          # recorded as an installed group (dnf group install)
        self.packages_installed = None      # how many of packages() are installed, when known

    @property
    def status(self):
        """"installed" (recorded as a group), "packages installed" (every package of it is,
        as cluster-node sync installs a role's groups: package by package), "N of M
        packages installed", or "not installed"."""
        if self.installed:
            return "installed"
        count, total = self.packages_installed, len(self.packages())
        if count and count == total:
            return "packages installed"
        if count:
            return "{} of {} packages installed".format(count, total)
        return "not installed"

    def packages(self, with_optional=False):
        """Names a group install brings."""
        return sorted(set(n for tier in install_tiers(with_optional) for n in self.tiers.get(tier, ())))

    def as_dict(self, with_optional=False):
        return {"id": self.id, "name": self.name, "description": self.description,
                "installed": self.installed, "status": self.status, "tiers": self.tiers,
                "packages": self.packages(with_optional)}


def cluster_views(catalog, arch, installed_ids=()):
    """GroupViews of the groups in the `cluster` category of `catalog` (anything with
    group_view() and category_groups()), resolved for `arch`; groups limited to other
    arches are left out."""
    views = []
    for gid in catalog.category_groups(CLUSTER_CATEGORY, arch) or []:
        view = catalog.group_view(gid, arch)
        if view is not None:
            view.installed = gid in installed_ids
            views.append(view)
    return views


def format_list(views, arch):
    rows = [("ID", "NAME", "PACKAGES", "STATUS")]
    rows += [(v.id, v.name, str(len(v.packages())), "" if v.status == "not installed" else v.status)
             for v in views]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["Cluster groups for {}:".format(arch)]
    lines += ["  {:<{}}  {:<{}}  {:>{}}  {}".format(r[0], widths[0], r[1], widths[1], r[2], widths[2], r[3])
              .rstrip() for r in rows]
    return "\n".join(lines)


def format_info(view, arch, with_optional=False):
    lines = ["Group: {} ({})".format(view.name, view.id),
             " Description: {}".format(view.description),
             " Arch: {}".format(arch),
             " Status: {}".format(view.status)]
    for tier in TIERS:
        names = view.tiers.get(tier)
        if names:
            lines.append(" {} packages:".format(tier.capitalize()))
            lines += ["   {}".format(n) for n in names]
    lines.append(" Installs: {}".format(" ".join(view.packages(with_optional)) or "(nothing)"))
    return "\n".join(lines)

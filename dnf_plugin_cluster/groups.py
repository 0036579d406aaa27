"""Cluster groups as plain data: which comps groups are the cluster's (those listed in
the `cluster` category), their tiers for one arch, and the package set a node gets.

Arch attributes are applied here, from our own comps parser: dnf 4 means to filter comps
by basearch (`read_comps(arch_filter=True)`), but libcomps' `arch_filter` returns a
filtered copy which dnf discards, so `base.comps` still lists other arches' packages."""

TIERS = ("mandatory", "default", "optional", "conditional")
CLUSTER_CATEGORY = "cluster"


class GroupView(object):
    def __init__(self, gid, name, description, tiers, installed=False):
        self.id = gid
        self.name = name
        self.description = description
        self.tiers = tiers                  # tier -> sorted package names
        self.installed = installed

    def packages(self, with_optional=False):
        """Names a group install brings: mandatory + default (+ optional)."""
        names = list(self.tiers.get("mandatory", [])) + list(self.tiers.get("default", []))
        if with_optional:
            names += self.tiers.get("optional", [])
        return sorted(set(names))

    def as_dict(self, with_optional=False):
        return {"id": self.id, "name": self.name, "description": self.description,
                "installed": self.installed, "tiers": self.tiers,
                "packages": self.packages(with_optional)}


def cluster_views(doc, arch, installed_ids=()):
    """GroupViews of the groups in the `cluster` category (a comps.CompsDoc), resolved
    for `arch`; groups limited to other arches are left out."""
    listed = []
    for cat in doc.categories:
        if cat.id == CLUSTER_CATEGORY:
            listed = [gid for gid, _ in cat.group_ids]
    views = []
    for gid in listed:
        grp = doc.group(gid)
        if grp is None or (grp.arches and arch not in grp.arches):
            continue
        tiers = {}
        for req in grp.packages:
            if req.applies_to(arch):
                tiers.setdefault(req.tier, []).append(req.name)
        tiers = dict((tier, sorted(set(names))) for tier, names in tiers.items())
        views.append(GroupView(gid, grp.name, grp.description, tiers, gid in installed_ids))
    return views


def format_list(views, arch):
    rows = [("ID", "NAME", "PACKAGES", "STATUS")]
    rows += [(v.id, v.name, str(len(v.packages())), "installed" if v.installed else "")
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
             " Status: {}".format("installed" if view.installed else "not installed")]
    for tier in TIERS:
        names = view.tiers.get(tier)
        if names:
            lines.append(" {} packages:".format(tier.capitalize()))
            lines += ["   {}".format(n) for n in names]
    lines.append(" Installs: {}".format(" ".join(view.packages(with_optional)) or "(nothing)"))
    return "\n".join(lines)

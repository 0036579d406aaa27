"""A kickstart fragment that provisions a node of one role: `repo` lines for the site
repository (the profile) and the cluster repository, with the full $releasever/$basearch
path; a %packages section with their release packages (so the node keeps both
configured) and the role's packages for the node's arch: for a locked role every
package of its lock at the locked build (name-epoch:version-release.arch), so the
node starts on the lock, not on the newest builds; and a %post that records the role,
runs the first sync (which hands the pins to dnf's versionlock and converges the rest)
and enables cluster-node-sync.timer. The first sync is the timer's own command,
`dnf-cluster -y node sync` (python3-dnf-plugin-cluster, in %packages): the same on dnf 4
and dnf5 installs, where `dnf cluster-node` on a dnf5 system (Fedora 41+) would need
dnf5-plugin-cluster, which %packages does not hold."""

PLUGIN_PACKAGE = "python3-dnf-plugin-cluster"
TIMER = "cluster-node-sync.timer"


def repo_url(url, releasever, arch):
    """A repository URL as a node of `arch` reaches it: $releasever/$basearch expanded,
    and a site's top (`https://head.example.org/site`) taken down to the arch tree
    (`.../site/9/x86_64/`)."""
    for key, value in (("releasever", releasever), ("basearch", arch), ("arch", arch)):
        url = url.replace("${%s}" % key, value).replace("$" + key, value)
    tail = "/{}/{}".format(releasever, arch)
    if releasever and not url.rstrip("/").endswith(tail):
        url = url.rstrip("/") + tail + "/"
    return url


def package_lines(view, releases=()):
    """%packages lines: the role's packages, the plugin and the release packages; every
    package of the role's lock at its locked build (a format 1 profile: the listed
    names at their pins)."""
    names = set(view.packages) | {PLUGIN_PACKAGE} | set(releases)
    if view.lock is not None:
        from ..profile import nevra
        locked = dict((e["name"], e) for e in view.lock)
        lines = [nevra(n, locked[n]["evr"], locked[n]["arch"]) for n in sorted(locked)]
        return sorted(lines + [n for n in names if n not in locked])
    return ["{}-{}".format(name, view.pins[name]) if name in view.pins else name for name in sorted(names)]


def render(view, repos, source, releases=()):
    """view: profile.RoleView; repos: [(repo id, baseurl)] (as repo_url() gives them);
    source: where the profile came from; releases: the release packages that configure
    those repositories on the node."""
    out = ["# Kickstart fragment for a '{}' node ({}), from the cluster profile in {}{}.".format(
               view.name, view.arch, source,
               "" if view.generation is None else " (generation {})".format(view.generation)),
           "# Use it with %include. %post runs the first `dnf-cluster node sync` and enables",
           "# {}, which keeps the node converged to its role.".format(TIMER),
           ""]
    out += ["repo --name={} --baseurl={}".format(repoid, url) for repoid, url in repos]
    out += ["", "%packages"]
    if view.groups:
        out.append("# groups of this role: {} (resolved below for {})".format(" ".join(view.groups), view.arch))
    if view.lock is not None:
        out.append("# the role's lock: {} packages at their locked builds".format(len(view.lock)))
    out += package_lines(view, releases)
    out += ["%end", "",
            "%post",
            "mkdir -p /etc/dnf/plugins",
            "cat > /etc/dnf/plugins/cluster.conf <<'EOF'",
            "[main]",
            "enabled = 1",
            "role = {}".format(view.name),
            "EOF",
            "# the first sync: the pins go to dnf's versionlock, the node starts on its generation",
            "dnf-cluster -y node sync || echo 'cluster-node sync failed; {} tries again' >&2".format(TIMER),
            "systemctl enable {}".format(TIMER),
            "%end"]
    return "\n".join(out) + "\n"

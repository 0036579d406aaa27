"""A kickstart fragment that provisions a node of one role: `repo` lines for the site
repository (the profile) and the cluster repository, a %packages section with their
release packages (so the node keeps both configured) and the role's packages for the
node's arch (pinned ones at their pinned version), and a %post that records the role
for `dnf cluster-node sync`, which converges the rest (dependency pins, later changes)."""

PLUGIN_PACKAGE = "python3-dnf-plugin-cluster"


def render(view, repos, source, releases=()):
    """view: profile.RoleView; repos: [(repo id, baseurl)]; source: where the profile came
    from; releases: the release packages that configure those repositories on the node."""
    out = ["# Kickstart fragment for a '{}' node ({}), from the cluster profile in {}.".format(
               view.name, view.arch, source),
           "# Use it with %include. After installation `dnf cluster-node sync` keeps the node",
           "# converged to its role (dependency pins and later profile changes included).",
           ""]
    out += ["repo --name={} --baseurl={}".format(repoid, url) for repoid, url in repos]
    out += ["", "%packages"]
    if view.groups:
        out.append("# groups of this role: {} (resolved below for {})".format(" ".join(view.groups), view.arch))
    for name in sorted(set(view.packages) | {PLUGIN_PACKAGE} | set(releases)):
        out.append("{}-{}".format(name, view.pins[name]) if name in view.pins else name)
    out += ["%end", "",
            "%post",
            "mkdir -p /etc/dnf/plugins",
            "cat > /etc/dnf/plugins/cluster.conf <<'EOF'",
            "[main]",
            "enabled = 1",
            "role = {}".format(view.name),
            "EOF",
            "%end"]
    return "\n".join(out) + "\n"

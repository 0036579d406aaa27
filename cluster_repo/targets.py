"""Build targets: which distribution a repository is built for, and the rpm macros
that make `%{?rhel}`, `%{?fedora}`, `%{?dist}` and the Python paths come out as on it."""
from dnf_plugin_cluster.errors import ClusterError


class Target(object):
    def __init__(self, name, family, releasever, python3_version):
        self.name = name
        self.family = family                  # "rhel" or "fedora"
        self.releasever = releasever          # what $releasever is on such a host
        self.python3_version = python3_version
        self.dist = "." + name

    @property
    def macros(self):
        macros = {
            self.family: self.releasever,
            "dist": self.dist,
            "python3_version": self.python3_version,
            "python3_sitelib": "/usr/lib/python{}/site-packages".format(self.python3_version),
            "__python3": "/usr/bin/python3",
            "_sysusersdir": "/usr/lib/sysusers.d",
        }
        if self.family == "rhel":
            macros["el" + self.releasever] = "1"
        return macros

    def __repr__(self):
        return "Target({})".format(self.name)


TARGETS = dict((t.name, t) for t in (
    Target("el8", "rhel", "8", "3.6"),
    Target("el9", "rhel", "9", "3.9"),
    Target("el10", "rhel", "10", "3.12"),
    Target("fc41", "fedora", "41", "3.13"),
    Target("fc42", "fedora", "42", "3.13"),
    Target("fc43", "fedora", "43", "3.14"),
))
DEFAULT_TARGET = "el9"


def get_target(name):
    try:
        return TARGETS[name]
    except KeyError:
        raise ClusterError("unknown target '{}' (known: {})".format(name, ", ".join(sorted(TARGETS))))

"""The node's plugin configuration (cluster.conf): its role, the repository that
carries the profile, and its own floor: `protected` (names or globs, space or comma
separated, that a profile never removes or downgrades here) and `max_remove` (the most
packages one sync may remove without --allow-mass-removal). An image root's own
/etc/dnf/plugins/cluster.conf wins over the host's, so
`dnf --installroot=IMAGE cluster-node sync` converges the image to its role."""
import configparser
import os
import re

from .errors import ClusterError
from .names import NAME_RE

DEFAULT_PROFILE_REPO = "cluster"
#: A protected entry: a package name, or a glob over package names (* ? [...]).
PATTERN_RE = re.compile(r"\A[A-Za-z0-9_*?\[][A-Za-z0-9._+*?\[\]!-]*\Z")


class NodeConfig(object):
    def __init__(self, role=None, profile_repo=None, path=None, protected=(), max_remove=None):
        self.role = role
        self.profile_repo = profile_repo
        self.path = path
        self.protected = tuple(protected)
        self.max_remove = max_remove            # None: the default (see sync.py)


def candidates(installroot, pluginconfpath):
    paths = []
    if installroot and installroot != "/":
        paths += [os.path.join(installroot, p.lstrip("/"), "cluster.conf") for p in pluginconfpath]
        paths.append(os.path.join(installroot, "etc/dnf/plugins/cluster.conf"))
    paths += [os.path.join(p, "cluster.conf") for p in pluginconfpath]
    return paths


def read(installroot, pluginconfpath):
    for path in candidates(installroot, pluginconfpath):
        if not os.path.isfile(path):
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(path)
        except configparser.Error as err:
            raise ClusterError("cannot parse: {}".format(" ".join(str(err).split())), path)
        get = lambda key: parser.get("main", key).strip() if parser.has_option("main", key) else None
        role, repo = get("role"), get("profile_repo")
        for key, value in (("role", role), ("profile_repo", repo)):
            if value is not None and not NAME_RE.match(value):
                raise ClusterError("invalid {} {!r}".format(key, value), path)
        protected = (get("protected") or "").replace(",", " ").split()
        for pattern in protected:
            if not PATTERN_RE.match(pattern) or ".." in pattern:
                raise ClusterError("invalid protected pattern {!r}: package names or globs (* ? [...]) "
                                   "only".format(pattern), path)
        max_remove = get("max_remove")
        if max_remove is not None and not re.match(r"\A[0-9]{1,9}\Z", max_remove):
            raise ClusterError("max_remove must be a whole number of packages, not {!r}".format(max_remove), path)
        return NodeConfig(role or None, repo or None, path, protected,
                          int(max_remove) if max_remove is not None else None)
    return NodeConfig()

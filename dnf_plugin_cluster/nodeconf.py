"""The node's plugin configuration (cluster.conf): its role and the repository that
carries the profile. An image root's own /etc/dnf/plugins/cluster.conf wins over the
host's, so `dnf --installroot=IMAGE cluster-node sync` converges the image to its role."""
import configparser
import os

from .errors import ClusterError
from .names import NAME_RE

DEFAULT_PROFILE_REPO = "cluster"

#: The keys of cluster.conf's [main] section: (key, default, meaning). read() reads the
#: ones after `enabled` (dnf's own switch); cluster.conf(5) is generated from this table.
KEYS = (
    ("enabled", "1", "dnf's own plugin switch: 0 disables the cluster commands of dnf (dnf-cluster "
     "still works)."),
    ("role", "(none)", "The role this node has in the cluster profile (master, compute, gpu, login, ...). "
     "dnf cluster-node sync converges the node to it; --role overrides it for one run."),
    ("profile_repo", "(the single enabled repository with a profile)",
     "The repository whose metadata carries the cluster profile."),
)


class NodeConfig(object):
    def __init__(self, role=None, profile_repo=None, path=None):
        self.role = role
        self.profile_repo = profile_repo
        self.path = path


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
        values = dict((key, get(key)) for key, _, _ in KEYS[1:])
        for key, value in sorted(values.items()):
            if value is not None and not NAME_RE.match(value):
                raise ClusterError("invalid {} '{}'".format(key, value), path)
        return NodeConfig(values["role"] or None, values["profile_repo"] or None, path)
    return NodeConfig()

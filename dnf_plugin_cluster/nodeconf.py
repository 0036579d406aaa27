"""The node's plugin configuration (cluster.conf): its role and the repository that
carries the profile. An image root's own /etc/dnf/plugins/cluster.conf wins over the
host's, so `dnf --installroot=IMAGE cluster-node sync` converges the image to its role."""
import configparser
import os

from .errors import ClusterError
from .names import NAME_RE

#: Where nodes look for the profile, in this order: the site repository (what the
#: site's head node published), then the cluster repository (the packager's default
#: profile), then the only repository that has one; profile_repo= chooses.
SITE_PROFILE_REPO = "cluster-site"
DEFAULT_PROFILE_REPO = "cluster"
PROFILE_REPOS = (SITE_PROFILE_REPO, DEFAULT_PROFILE_REPO)



def testing_repo(profile_repo):
    """The repository of the testing channel for a profile repository: the package
    repository's, <repo>-testing (`cluster` and the site's `cluster-site` both mean
    `cluster-testing`; a site repository `acme-site` means `acme-testing`)."""
    base = profile_repo[:-len("-site")] if profile_repo.endswith("-site") else profile_repo
    return base + "-testing"


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
        role, repo = get("role"), get("profile_repo")
        for key, value in (("role", role), ("profile_repo", repo)):
            if value is not None and not NAME_RE.match(value):
                raise ClusterError("invalid {} '{}'".format(key, value), path)
        return NodeConfig(role or None, repo or None, path)
    return NodeConfig()

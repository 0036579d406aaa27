"""Putting the cluster profile into a repository tree (OUTDIR/<releasever>): built from
role definitions and the tree's own comps, added to every arch's repodata as metadata
type `cluster`, then repomd.xml re-signed when a key is given."""
import os

from . import comps, profile, repodata
from .errors import ClusterError

PROFILE_FILE = "cluster-profile.json"


def arch_repos(tree):
    """{arch: repodata dir} of the binary repositories in a tree."""
    if not os.path.isdir(tree):
        raise ClusterError("no repository tree here", tree)
    out = {}
    for name in sorted(os.listdir(tree)):
        md = os.path.join(tree, name, "repodata")
        if name != "SRPMS" and os.path.isfile(os.path.join(md, "repomd.xml")):
            out[name] = md
    if not out:
        raise ClusterError("no arch repositories (<arch>/repodata/repomd.xml) in this tree", tree)
    return out


def tree_comps(tree):
    """The comps the tree's repositories carry (identical in every arch repository)."""
    for arch, md in arch_repos(tree).items():
        data = repodata.read(md, "group", comps.MAX_BYTES)
        if data is not None:
            return comps.RepoComps().add(data, os.path.join(md, "comps"))
    raise ClusterError("the repositories carry no comps (group metadata)", tree)


def current(tree):
    """The profile published in the tree now, or None."""
    for arch, md in arch_repos(tree).items():
        data = repodata.read(md, profile.MDTYPE, profile.MAX_BYTES)
        if data is not None:
            return profile.loads(data, os.path.join(md, PROFILE_FILE))
    return None


def add(tree, prof, sign=None):
    """Write `prof` into every arch repository of `tree`; `sign(repomd_path)` re-signs."""
    data = profile.dumps(prof).encode("utf-8")
    for arch, md in arch_repos(tree).items():
        repodata.replace(md, profile.MDTYPE, PROFILE_FILE, data)
        if sign is not None:
            sign(os.path.join(md, "repomd.xml"))

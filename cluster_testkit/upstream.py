"""The tools' upstream tarballs for the test world: tests/data/upstream/ holds the real
release tarballs the tools in specs/NAME/ are built from (mbw and NetPIPE, Debian's orig
tarballs, redistributable under their GPL/LGPL licences), since the tools' upstream
addresses are not reachable here. They fill a lookaside cache, or a lookaside mirror
(the same layout) served over HTTP on 127.0.0.1."""
import os

from . import REPO_ROOT

UPSTREAM_DIR = os.path.join(REPO_ROOT, "tests", "data", "upstream")


def fill_lookaside(dest, project_root=REPO_ROOT):
    """Put every tarball the project's `sources` files name into `dest`, in the
    lookaside layout (NAME/FILE/sha512/HEX/FILE); returns dest. A tarball whose
    SHA512 differs from its sources line is an error."""
    from cluster_repo import lookaside
    from cluster_repo.project import Project
    for tool in Project(project_root).tools():
        for entry in tool.entries():
            src = os.path.join(UPSTREAM_DIR, entry.filename)
            stored = lookaside.store(dest, tool.name, src)
            if stored.sha512 != entry.sha512:
                raise AssertionError("{} does not match its sources line in {}".format(src, tool.sources_file))
    return dest


def use_test_cache(top, project_root=REPO_ROOT):
    """Point `cluster-repo` (this process and its children) at a lookaside cache under
    `top` holding the tools' tarballs: $CLUSTER_REPO_CACHE."""
    os.environ["CLUSTER_REPO_CACHE"] = top
    return fill_lookaside(os.path.join(top, "lookaside"), project_root)

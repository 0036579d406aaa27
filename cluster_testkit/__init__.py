"""Real-tool harness shared by tests, the demo and the benchmarks: a stand-in base
repository generated from base/packages.yaml, throwaway dnf roots, an HTTP server.
Not installed with the product; it is imported from the source tree."""
import os
import shutil

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


PROJECT_PARTS = ("comps", "metapackages", "specs", "roles", "base", "dnf_plugin_cluster", "cluster_repo", "plugins", "bin",
                 "dnf5-plugin", "etc")


def project_parts():
    """What a copy needs to build: the definitions, both packages and every file of the
    plugin's source tarball (cluster_repo.build.PLUGIN_TREE)."""
    from cluster_repo.build import PLUGIN_TREE
    return PROJECT_PARTS + tuple(PLUGIN_TREE)


def copy_project(dest):
    """A copy of the source tree, for tests and benchmarks that edit definitions or build."""
    os.makedirs(dest, exist_ok=True)
    for part in project_parts():
        src = os.path.join(REPO_ROOT, part)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(dest, part),
                            ignore=shutil.ignore_patterns("__pycache__"))
        elif os.path.exists(src):
            os.makedirs(os.path.dirname(os.path.join(dest, part)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, part))
    return dest

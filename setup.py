"""dnf-plugin-cluster: a cluster distribution as an add-on layer over Fedora/EL."""
import os
import re

from setuptools import setup
from setuptools.command.build_py import build_py


def project_url():
    """dnf_plugin_cluster.__url__: the project's one URL (a site changes it there)."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "dnf_plugin_cluster", "__init__.py")) as handle:
        return re.search(r'^__url__ = "([^"]+)"', handle.read(), re.M).group(1)


class BuildWithDnfPlugin(build_py):
    """Also place plugins/cluster.py into <site-packages>/dnf-plugins/, where dnf 4
    looks for plugins (the layout dnf-plugins-core uses)."""

    def run(self):
        build_py.run(self)
        target = os.path.join(self.build_lib, "dnf-plugins")
        self.mkpath(target)
        self.copy_file(os.path.join("plugins", "cluster.py"), os.path.join(target, "cluster.py"))


setup(
    name="dnf-plugin-cluster",
    version="0.1.0",
    description="Cluster add-on layer for RPM distributions: dnf plugin, metapackages, comps, repo build",
    license="MIT",
    url=project_url(),
    packages=["dnf_plugin_cluster", "dnf_plugin_cluster.backends", "dnf_plugin_cluster.backends.libdnf5",
              "dnf_plugin_cluster.commands", "dnf_plugin_cluster.head", "cluster_repo"],
    # the spec, Lua and .repo templates `cluster-repo render`/`build` fill
    # and the cluster-site-release spec and .repo templates `cluster-master publish` fills
    package_data={"cluster_repo": ["templates/*"], "dnf_plugin_cluster.head": ["templates/*"]},
    scripts=["bin/dnf-cluster", "bin/cluster-repo"],
    python_requires=">=3.6",
    # what pip can install; the system bindings (dnf or libdnf5, rpm, libcomps,
    # createrepo_c) come from the distribution, and a missing one is named in one line
    install_requires=["PyYAML"],
    cmdclass={"build_py": BuildWithDnfPlugin},
)

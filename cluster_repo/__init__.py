"""cluster-repo: the packager's toolchain. Metapackage definitions and their specs,
YAML and comps checking and formatting, repository builds with rpmbuild and
createrepo_c, the closure check, build targets and the known base packages.

Installed on build hosts only (the `cluster-repo` subpackage), never on compute nodes:
nothing in dnf_plugin_cluster imports it; it uses dnf_plugin_cluster's shared readers."""

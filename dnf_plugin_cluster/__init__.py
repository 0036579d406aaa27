"""dnf-plugin-cluster: what cluster nodes and the head node run.

The logic (profile, plan, sync, node state, groups, publish, kickstart) sits in plain
modules above one package-manager seam (backends/); the dnf commands live in
commands/, one module each, and `dnf_cluster` is the `dnf-cluster` program. The
packager's toolchain is the separate `cluster_repo` package, which this one never
imports. Everything here must run on EL8's Python 3.6.
"""
__version__ = "0.1.0"
#: The project's page: the one place a site changes it. setup.py, the man pages
#: (tools/gen_docs.py) and the metapackages' URL: (cluster_repo.metapkg.DEFAULT_URL)
#: read it; `cluster-repo lint` checks the hand-written specs' URL: against it.
__url__ = "https://cluster.example.org/"

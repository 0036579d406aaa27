"""The head node's part: the site repository (publish, generations, the lock), its
cluster-site-release package, repodata through createrepo_c, GnuPG signing, kickstart
fragments and the fleet (ClusterShell). Nodes never load this package: only
`cluster-master` (commands/master.py and its master_*.py) and the packager's
cluster_repo import it."""

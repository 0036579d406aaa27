"""The libdnf5 backend: the seam (backends/__init__.py) on python3-libdnf5, for dnf5
hosts (Fedora 41+), where dnf 4 plugins cannot load. `dnf-cluster --backend libdnf5`
(dnf5cli.py) drives it, and so does `dnf5 cluster-node` through the C++ plugin.

It writes dnf5's own system state, never dnf 4's: reasons go to libdnf5's
packages.toml (what the profile lists is `User`, what it pulls in `Dependency`, so
`dnf5 autoremove` and `dnf5 repoquery --userinstalled` see what dnf5 itself would have
recorded), and every transaction lands in dnf5's history with the command's comment.
dnf5's protected packages (its list plus the protected.d globs inside the root) are kept,
and so is the running kernel; `/etc/dnf/versionlock.toml` applies as in dnf5, and a
sync hands the role's pins to it (entries of its own, marked by their comment).

libdnf5 rules this module follows:
- One Base per transaction: a Base resolves against the rpm database it loaded, so a
  second transaction needs a new one. Repositories load once per Base, so enabling a
  repository after loading (a testing channel) builds the Base again.
- A transaction killed mid-way (kill -9) leaves its packages in the rpm database but
  not in packages.toml: dnf5 then calls them `External User`. Its history entry stays
  `Started`, with the reasons it meant to write. reason() answers from that entry, and
  recover() writes those reasons (a transaction of reason changes only) before a sync
  that changes the system, so a rerun leaves dependencies as dependencies.
- Freshness: a node checks every repomd.xml (like `--refresh`); unchanged metadata is
  not downloaded again. When repomd.xml did change, libdnf5 downloads the repository
  into an empty directory, so a profile-only change fetches that repository's primary
  again too (not filelists or other). For the small site profile repository this is a
  few kilobytes; libdnf5 offers no way to reuse the unchanged records, so we accept it
  rather than download metadata behind its back.

The backend is split by concern, one module each, joined in backend.py:
settings.py (dnf5's global options), backend.py (the Base and loading), repos.py
(repositories and keys), packages.py (queries on installed and available packages), fresh.py (what a fresh node of an
arch installs, for `publish --lock`),
transaction.py (marks, the goal, running it; groups), versionlock.py (dnf5's
versionlock.toml), history.py (what our transactions installed; kill -9 recovery),
table.py (dnf5's transaction table).

Importing this package imports no libdnf5 (settings.py needs none: dnf-cluster answers
a no-op node before it imports libdnf5, see fast5.py); the backend is backend.py's
Libdnf5Backend.
"""

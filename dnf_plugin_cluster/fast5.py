"""The no-op fast path on dnf5 hosts (issue 24), read without libdnf5: importing the
libdnf5 bindings alone costs more than dnf5's whole `check-upgrade`, so `dnf-cluster`
(and `dnf5 cluster-node`, which hands over to it) proves an unchanged node from files
before it imports them, and answers from the record of the last verification in sync
(fastpath.py, the same record as on dnf 4).

The proof read here, and by the libdnf5 backend when it writes the record (the same
functions, so the digests agree by construction):
- rpmdb: the rpm database's cookie through rpm's Python bindings (none: no proof);
- history: dnf5's system state (the *.toml of /usr/lib/sysimage/libdnf5: reasons,
  groups) and its transaction history (every transaction's state and comment, every
  item's action, reason and state);
- repo_config: everything libdnf5 reads its configuration from in the root (dnf.conf,
  its drop-in directories, the .repo files, the repository overrides, the variables),
  dnf-cluster's own global options (but -C and --refresh), and the running kernel;
- versionlock: dnf5's /etc/dnf/versionlock.toml; cluster.conf, the role, state.json;
- repomd:<repoid>: the repository's repomd.xml, fetched from where libdnf5 fetched it
  when the record was written (`fetch:<repoid>`: its URL, sslverify, sslcacert, proxy,
  and the cached copy -C reads). The configuration being unchanged, so are the URLs
  libdnf5 would use now (the variables it expands come from it and from the rpm
  database). Only the repositories the verdict depends on are fetched (fastpath.matches).

The libdnf5 backend writes no record (so there is no fast path) when libdnf5 read its
configuration or kept its state anywhere else than the defaults below, or a repository
needs what this reader does not do (a mirrorlist, a metalink, client certificates,
credentials)."""
import hashlib
import os

from . import fastpath, fastread
from .fastread import repomd_digest, rpmdb_cookie, spec  # noqa: F401 (the backend's, the tests')

PERSISTDIR = "var/lib/dnf"
SYSTEM_STATE_DIR = "usr/lib/sysimage/libdnf5"
HISTORY_DB = "transaction_history.sqlite"
VERSIONLOCK = "etc/dnf/versionlock.toml"
#: libdnf5's defaults (dnf5 5.4): where it reads .repo files and variables
REPOSDIRS = ("/etc/yum.repos.d", "/etc/distro.repos.d", "/usr/share/dnf5/repos.d")
VARSDIRS = ("/etc/dnf/vars", "/usr/share/dnf5/vars.d")
#: every directory whose files the configuration digest covers, in the root and on the host
CONFIG_DIRS = ("/etc/dnf/libdnf5.conf.d", "/usr/share/dnf5/libdnf.conf.d", "/etc/dnf/repos.override.d",
               "/usr/share/dnf5/repos.override.d", "/etc/yum/vars") + REPOSDIRS + VARSDIRS


def persistdir(installroot):
    return os.path.join(installroot, PERSISTDIR)


def settings_key(settings):
    """dnf-cluster's global options as far as they change the answer (-C and --refresh
    do not: the repositories' repomd.xml decides)."""
    return [settings.installroot, settings.config_file, settings.releasever, settings.forcearch,
            sorted(settings.setopts), settings.repos, sorted(settings.enable_repos), sorted(settings.disable_repos),
            settings.gpgcheck, sorted(settings.setvars)]


def config_digest(settings):
    root = settings.installroot
    files = [settings.config_file or os.path.join(root, "etc/dnf/dnf.conf")]
    return fastread.files_digest(settings_key(settings), files, CONFIG_DIRS, [root] if root == "/" else [root, "/"])


def history_digest(installroot):
    """dnf5's system state and transaction history, read only; None (no proof) when the
    history cannot be read."""
    state = os.path.join(installroot, SYSTEM_STATE_DIR)
    digest = hashlib.sha256()
    try:
        names = sorted(os.listdir(state))
    except OSError:
        return "none"
    for name in names:
        if name.endswith(".toml"):
            value = fastpath.file_digest(os.path.join(state, name))
            if value is None:
                return None
            digest.update("{}\0{}\0".format(name, value).encode("utf-8"))
    path = os.path.join(state, HISTORY_DB)
    if os.path.lexists(path):
        if os.path.islink(path):
            return None
        import sqlite3
        try:
            db = sqlite3.connect("file:{}?mode=ro".format(path), uri=True)
            try:
                rows = [db.execute("SELECT id, state_id, comment FROM trans ORDER BY id").fetchall(),
                        db.execute("SELECT id, trans_id, item_id, action_id, reason_id, state_id FROM trans_item "
                                   "ORDER BY id").fetchall()]
            finally:
                db.close()
        except sqlite3.Error:
            return None
        digest.update(repr(rows).encode("utf-8"))
    return digest.hexdigest()


def versionlock_path(installroot):
    return os.path.join(installroot, VERSIONLOCK)


def fixed_inputs(settings, config, role):
    """The inputs every record compares, as fastpath.inputs() has them through the
    libdnf5 backend; None when there is no proof."""
    cookie = rpmdb_cookie(settings.installroot)
    if not cookie:
        return None
    root = settings.installroot
    out = {"rpmdb": fastpath.digest_bytes(cookie.encode("utf-8")), "history": history_digest(root),
           "cluster_conf": fastpath.cluster_conf_digest(config), "role": role or "",
           "state": fastpath.file_digest(os.path.join(persistdir(root), "cluster", "state.json")),
           "versionlock": fastpath.file_digest(versionlock_path(root)), "repo_config": config_digest(settings)}
    if any(v is None for v in out.values()):
        return None
    return out


def inputs(settings, config, role, record, cacheonly, fetched=None):
    """fastread.inputs() with dnf5's fixed inputs."""
    return fastread.inputs(fixed_inputs(settings, config, role), record, cacheonly, fetched)


#: {repoid: (sha256, cached copy)} of the repomd.xml files this process fetched for the
#: proof (fastread.inputs()): the full path that follows a stale record does not check
#: them again where the cached copy is the same (the libdnf5 backend's load())
FETCHED = {}


class Reader(object):
    """The proof as commands/node.py's answer_unloaded() reads it on dnf5 hosts."""

    def __init__(self, settings):
        self.settings = settings
        self.refresh = settings.refresh
        self.persistdir = persistdir(settings.installroot)

    def inputs(self, config, role, record, cacheonly):
        return inputs(self.settings, config, role, record, cacheonly, FETCHED)

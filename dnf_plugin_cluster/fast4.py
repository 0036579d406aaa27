"""The no-op fast path on dnf 4 hosts, read without dnf (issue 24): dnf's own start-up
(import dnf, its configuration, plugins, repositories) costs as much as plain dnf's
whole `check-update`, so `dnf-cluster node sync|status` proves an unchanged node from
files before it imports dnf, and answers from the record of the last verification in
sync (fastpath.py, the same record as `dnf cluster-node` writes and reads).

The proof read here, and by the dnf 4 backend when it writes the record (the same
functions, so the digests agree by construction):
- rpmdb: the rpm database's cookie (none, as EL8's rpm 4.14: no proof);
- history: dnf's history database (<persistdir>/history.sqlite: every transaction
  item's action, reason and state);
- repo_config: dnf's global options on the command line as far as they change the
  answer (everything but -y, --assumeno, -q, -C, --refresh, --comment, --color), dnf's
  variables from the environment, and the files dnf 4 reads its configuration from,
  in the root and on the host: dnf.conf (or -c), the .repo files of every reposdir,
  the variables (/etc/dnf/vars, /etc/yum/vars), the plugins' configuration
  (pluginconfpath), protected.d, modules.d, modules.defaults.d, aliases.d; and the
  running kernel;
- versionlock: the list dnf 4's versionlock plugin reads for this root
  (versionlock_location(), which the backend uses for everything it does with it);
  cluster.conf, the role, state.json;
- repomd:<repoid>: the repository's repomd.xml, fetched from where dnf fetched it when
  the record was written (`fetch:<repoid>`, fastread.py).

The command line is read by a plain reader of the options above (the node command's
own options as dnf5cli reads them); anything else (-v, --disableexcludes, an option
dnf does not know, ...) means the full path. The backend reads dnf's own record of
the command line (base.args) with the same reader: a record it writes has `fetch:`
entries only when dnf read its configuration and keeps its state where this reader
looks (persistdir, pluginconfpath, dnf.conf, reposdir, varsdir), as root, and every
enabled repository is a plain fetch of its first baseurl; otherwise the configuration
digest is dnf's parsed configuration (conf_digest()), which no reading from files
matches: the full path."""
import hashlib
import os

from . import fastpath, fastread

PERSISTDIR = "/var/lib/dnf"
PLUGINCONFPATH = "/etc/dnf/plugins"
CONFIG_FILE = "/etc/dnf/dnf.conf"
#: dnf 4's defaults (libdnf's ConfigMain)
REPOSDIRS = ("/etc/yum.repos.d", "/etc/yum/repos.d", "/etc/distro.repos.d")
VARSDIRS = ("/etc/yum/vars", "/etc/dnf/vars")
#: other directories of dnf 4's configuration (in the root and on the host)
OTHER_DIRS = ("/etc/dnf/protected.d", "/etc/dnf/modules.d", "/etc/dnf/modules.defaults.d", "/etc/dnf/aliases.d")
HISTORY_DB = "history.sqlite"


def _options():
    from .cmdline import Option as _Option
    return (
        _Option(("-c", "--config"), "config", "FILE"),
        _Option(("--installroot",), "installroot", "DIR"),
        _Option(("--releasever",), "releasever", "VERSION"),
        _Option(("--forcearch",), "forcearch", "ARCH"),
        _Option(("--setopt",), "setopts", "KEY=VALUE"),
        _Option(("-y", "--assumeyes"), "assumeyes"),
        _Option(("--assumeno",), "assumeno"),
        _Option(("-q", "--quiet"), "quiet"),
        _Option(("-C", "--cacheonly"), "cacheonly"),
        _Option(("--refresh",), "refresh"),
        _Option(("--comment",), "comment", "COMMENT"),
        _Option(("--repo", "--repoid"), "repos", "ID"),
        _Option(("--enablerepo",), "enable_repos", "ID"),
        _Option(("--disablerepo",), "disable_repos", "ID"),
        _Option(("--nogpgcheck",), "nogpgcheck"),
        _Option(("-x", "--exclude"), "excludes", "PACKAGE"),
        _Option(("--allowerasing",), "allowerasing"),
        _Option(("-b", "--best"), "best"),
        _Option(("--nobest",), "nobest"),
        _Option(("--skip-broken",), "skip_broken"),
        _Option(("--noplugins",), "noplugins"),
        _Option(("--disableplugin",), "disableplugins", "NAME", action="append"),
        _Option(("--enableplugin",), "enableplugins", "NAME", action="append"),
        _Option(("--color",), "color", "WHEN"),
    )


#: options that do not change the answer (-C and --refresh: the repositories'
#: repomd.xml decides; --refresh itself always means the full path)
IGNORED = ("assumeyes", "assumeno", "quiet", "cacheonly", "refresh", "comment", "color")
_TABLES = []


def tables():
    """(the options, by long name, by short letter) of dnf 4 this reader knows."""
    if not _TABLES:
        options = _options()
        _TABLES.extend([options, dict((n, o) for o in options for n in o.names if n.startswith("--")),
                        dict((n[1], o) for o in options for n in o.names if not n.startswith("--"))])
    return _TABLES


class Settings(object):
    """dnf 4's command line as far as this reader knows it: the global options in the
    order given, and where dnf reads its configuration and keeps its state."""

    def __init__(self, found):
        options, long_options, _ = tables()
        self.key = []
        self.installroot = "/"
        self.config_file = None
        self.main = {}
        for arg in found:
            name, _, value = arg.partition("=")
            option = long_options[name]
            if option.dest not in IGNORED:
                self.key.append([option.dest, value])
            if option.dest == "installroot":
                self.installroot = os.path.abspath(value or "/")
            elif option.dest == "config":
                self.config_file = value
            elif option.dest == "setopts":
                key, eq, text = value.partition("=")
                if eq and "." not in key:
                    self.main[key.strip()] = text
        values = dict((o.dest, None) for o in options)
        for arg in found:
            name, _, value = arg.partition("=")
            values[long_options[name].dest] = value if long_options[name].value else True
        self.cacheonly = bool(values["cacheonly"])
        self.refresh = bool(values["refresh"])

    def _list(self, key, default):
        if key in self.main:
            return [p for p in self.main[key].replace(",", " ").split() if p]
        return list(default)

    @property
    def persistdir(self):
        """As dnf 4 has it: its persistdir, always inside the installroot."""
        return os.path.join(self.installroot, self.main.get("persistdir", PERSISTDIR).lstrip("/"))

    @property
    def pluginconfpath(self):
        return self._list("pluginconfpath", [PLUGINCONFPATH])

    @property
    def reposdirs(self):
        return self._list("reposdir", REPOSDIRS)

    @property
    def varsdirs(self):
        return self._list("varsdir", VARSDIRS)

    @property
    def tops(self):
        return ["/"] if self.installroot == "/" else [self.installroot, "/"]

    @property
    def config_files(self):
        """dnf.conf as dnf 4 may read it: -c as given, else the root's or the host's."""
        if self.config_file is not None:
            return [self.config_file]
        return [os.path.join(top, CONFIG_FILE.lstrip("/")) for top in self.tops]

    @property
    def dirs(self):
        return self.reposdirs + self.varsdirs + self.pluginconfpath + list(OTHER_DIRS)

    def covers(self, path):
        """Is `path` (a directory dnf reads) among those the digest covers?"""
        path = os.path.normpath(path)
        return any(os.path.normpath(os.path.join(top, d.lstrip("/"))) == path for top in self.tops for d in self.dirs)


def parse(args):
    """(Settings, the global options as dnf5cli.plain_globals() has them, the rest: the
    command and its options) of a dnf 4 command line (dnf-cluster's, translated; or
    dnf's base.args), or None: an option this reader does not know."""
    from .cmdline import UsageError, plain_globals, split_globals
    options, long_options, short_options = tables()
    try:
        found, rest = split_globals(args, long_options, short_options)
    except UsageError:
        return None
    gopts = plain_globals(found, options, long_options)
    if gopts is None:
        return None
    return Settings(found), gopts, rest


def environment():
    """dnf 4's variables from the environment (DNF_VAR_NAME, DNF0..DNF9)."""
    return sorted((k, v) for k, v in os.environ.items()
                  if (k.startswith("DNF_VAR_") and len(k) > 8) or (len(k) == 4 and k[:3] == "DNF" and k[3].isdigit()))


def config_digest(settings):
    return fastread.files_digest(["dnf4", settings.key, environment()], settings.config_files, settings.dirs,
                                 settings.tops)


def history_digest(persistdir):
    """dnf's history database as far as the verdict reads it: every transaction item's
    action, reason and state (`dnf mark` changes a reason, not the rpm database), read
    only. None (no proof) when it cannot be read."""
    path = os.path.join(persistdir, HISTORY_DB)
    if not os.path.lexists(path):
        return "none"
    if os.path.islink(path):
        return None
    import sqlite3
    try:
        db = sqlite3.connect("file:{}?mode=ro".format(path), uri=True)
        try:
            rows = db.execute("SELECT id, trans_id, item_id, action, reason, state FROM trans_item "
                              "ORDER BY id").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return fastpath.digest_bytes(repr(rows).encode("utf-8"))


def versionlock_location(installroot, pluginconfpath):
    """(the versionlock.list that plain dnf commands for this root read, None), or
    (None, why there is none).

    The versionlock plugin reads versionlock.conf from dnf's pluginconfpath and takes
    its `locklist` path as it is: dnf 4 prefixes neither with --installroot. On a live
    node that is /etc/dnf/plugins/versionlock.list. For an image root, the list that
    counts is the image's own (what plain dnf reads once the image boots): its own
    versionlock.conf, its locklist path taken inside the image (`..` never climbs
    out of it, and a directory that links out of it is refused); the host's list is
    never written for an image. Both files are read as files of the root are
    (files.read_text: regular files only, no link followed, bounded)."""
    import configparser
    from .files import escapes_root, in_root, read_text
    root = os.path.normpath(installroot or "/")
    confs = [os.path.join(p, "versionlock.conf") for p in pluginconfpath]

    def inside(path):
        return root == "/" or os.path.normpath(path).startswith(root + os.sep)
    if root == "/":
        candidates = confs
    else:
        candidates = ([in_root(root, c) for c in confs] +
                      [os.path.join(root, "etc/dnf/plugins/versionlock.conf")] + [c for c in confs if inside(c)])
    conf = next((c for c in candidates if os.path.lexists(c)), None)
    if conf is None:
        return None, ("dnf's versionlock plugin is not configured for {} (install "
                      "python3-dnf-plugin-versionlock there)".format("this node" if root == "/" else root))
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(read_text(conf, "dnf's versionlock configuration") or "", conf)
        enabled = not parser.has_option("main", "enabled") or parser.getboolean("main", "enabled")
    except (configparser.Error, ValueError) as err:
        return None, "cannot read {}: {}".format(conf, " ".join(str(err).split()))
    if not enabled:
        return None, "dnf's versionlock plugin is disabled in {}".format(conf)
    locklist = parser.get("main", "locklist").strip() if parser.has_option("main", "locklist") else ""
    if not os.path.isabs(locklist):
        return None, "{} names no locklist (an absolute path)".format(conf)
    locklist = os.path.normpath(locklist) if inside(locklist) else in_root(root, locklist)
    if escapes_root(root, locklist):
        return None, "{} (the locklist of {}) is reached through a symbolic link out of {}".format(
            locklist, conf, root)
    return locklist, None


def versionlock_digest(installroot, pluginconfpath):
    path, why = versionlock_location(installroot, pluginconfpath)
    return fastpath.file_digest(path) if path else fastpath.digest_bytes(("none: " + why).encode("utf-8"))


def fixed_inputs(settings, config, role):
    """The inputs every record compares, as fastpath.inputs() has them through the dnf 4
    backend; None when there is no proof."""
    cookie = fastread.rpmdb_cookie(settings.installroot)
    if not cookie:
        return None
    persistdir = settings.persistdir
    out = {"rpmdb": fastpath.digest_bytes(cookie.encode("utf-8")), "history": history_digest(persistdir),
           "cluster_conf": fastpath.cluster_conf_digest(config), "role": role or "",
           "state": fastpath.file_digest(os.path.join(persistdir, "cluster", "state.json")),
           "versionlock": versionlock_digest(settings.installroot, settings.pluginconfpath),
           "repo_config": config_digest(settings)}
    if any(v is None for v in out.values()):
        return None
    return out


#: {repoid: (sha256, cached copy)} of the repomd.xml files this process fetched for the
#: proof seconds ago (fastread.inputs()): the full path that follows a stale record
#: does not fetch them again where the cached copy is the same (the dnf 4 backend's
#: load_metadata()), the same check dnf would make
FETCHED = {}


class Reader(object):
    """The proof as commands/node.py's answer_unloaded() reads it on dnf 4 hosts."""

    def __init__(self, settings):
        self.settings = settings
        self.refresh = settings.refresh
        self.persistdir = settings.persistdir

    def inputs(self, config, role, record, cacheonly):
        return fastread.inputs(fixed_inputs(self.settings, config, role), record, cacheonly, FETCHED)

"""The node's plugin configuration (cluster.conf): its role, the repository that
carries the profile, the channel it follows when that is not its role's (`channel`),
and its own floor: `protected` (names or globs, space or comma
separated, that a profile never removes or downgrades here) and `max_remove` (the most
packages one sync may remove without --allow-mass-removal). An image root's own
/etc/dnf/plugins/cluster.conf wins over the host's, so
`dnf --installroot=IMAGE cluster-node sync` converges the image to its role."""
import configparser
import errno
import os
import re
import stat

from .errors import ClusterError, quote
from .names import CONTROL_RE, MAX_NAME, check_name

#: The channels a node can follow (profile.CHANNELS; not imported: nodes read cluster.conf
#: before anything else).
CHANNELS = ("stable", "testing")

#: Where nodes look for the profile, in this order: the site repository (what the
#: site's head node published), then the cluster repository (the packager's default
#: profile), then the only repository that has one; profile_repo= chooses.
SITE_PROFILE_REPO = "cluster-site"
DEFAULT_PROFILE_REPO = "cluster"
PROFILE_REPOS = (SITE_PROFILE_REPO, DEFAULT_PROFILE_REPO)
MAX_BYTES = 64 * 1024
#: A protected entry: a package name, or a glob over package names (* ? [...]).
PATTERN_RE = re.compile(r"\A[A-Za-z0-9_*?\[][A-Za-z0-9._+*?\[\]!-]*\Z")

#: The keys of cluster.conf's [main] section: (key, default, meaning). read() reads all
#: but `enabled` (dnf's own switch); cluster.conf(5) is generated from this table.
KEYS = (
    ("enabled", "1", "dnf's own plugin switch: 0 disables the cluster commands of dnf (dnf-cluster "
     "still works). 1/0, yes/no, true/false or on/off: any other value stops every dnf command and "
     "dnf-cluster with one error naming the file and line."),
    ("role", "(none)", "The role this node has in the cluster profile (master, compute, gpu, login, ...). "
     "dnf cluster-node sync converges the node to it; --role overrides it for one run."),
    ("profile_repo", "(the site repository this node last synced from; else {}, else {}, else the only "
     "enabled repository with a profile)".format(SITE_PROFILE_REPO, DEFAULT_PROFILE_REPO),
     "The repository whose metadata carries the cluster profile. Without it, a node that synced from a site "
     "repository never falls back to another profile: it refuses while that repository is missing."),
    ("protected", "(none)", "Package names or globs (* ? [...]), separated by spaces or commas, that a profile "
     "never removes or downgrades on this node, on top of the built-in floor: kernel*, glibc, systemd, bash, "
     "rpm, dnf, openssh-server, this plugin, and what dnf protects."),
    ("max_remove", "25, or a tenth of the installed packages if smaller",
     "The most packages one sync may remove without --allow-mass-removal."),
    ("channel", "(the role's channel)", "stable or testing: the channel this node follows, whatever its role's. "
     "A node whose channel differs from its role's (a test node, channel = testing) takes the cluster's packages "
     "from that channel's repository (cluster-testing for testing) and follows it: its role's packages are "
     "upgraded to the newest build the channel offers (update latest) and the role's lock, resolved for the "
     "role's channel, is not applied there. `publish --lock-from` such a node makes what it runs the role's lock. "
     "Any other value is an error naming the file and line."),
)

#: Where `dnf cluster-master publish` reads the site's roles unless [master] roles= or
#: --roles says otherwise (under --installroot: the root's); the plugin's package
#: installs the project's roles there as %config(noreplace).
DEFAULT_ROLES_DIR = "/etc/cluster/roles"

#: The keys of cluster.conf's [master] section, the head node's defaults for
#: `dnf cluster-master` (each overridden by its option): (key, default, meaning).
#: cluster.conf(5) is generated from this table too.
MASTER_KEYS = (
    ("site", "(none)", "The site repository's top directory SITE (e.g. /srv/cluster/site): publish, history "
     "and rollback work on SITE/<releasever> of this head node's release. --repo-dir takes SITE too (or "
     "SITE/<releasever>) and overrides it."),
    ("baseurl", "(the previous publish's, else file://SITE)", "The site repository's top as nodes reach it "
     "(e.g. https://head.example.org/site), written into cluster-site-release by publish and rollback. "
     "--baseurl overrides it."),
    ("roles", DEFAULT_ROLES_DIR + " (inside the --installroot root), when it exists",
     "The directory of the site's role definitions (ROLE.yaml) that publish and services read. --roles "
     "overrides it."),
    ("sign_key", "(none: the site repository is not signed)", "The GnuPG key id publish and rollback sign the "
     "site repository's repomd.xml and cluster-site-release with. --sign-key overrides it."),
    ("gnupghome", "(GnuPG's default, ~/.gnupg)", "The GnuPG home of sign_key. --gnupghome overrides it."),
    ("nodes", "(none)", "The node set status and sync work on when -w is not given (a ClusterShell node set: "
     "node[001-512], @compute, @all)."),
)

KNOWN_KEYS = tuple(key for key, _, _ in KEYS)
KNOWN_MASTER_KEYS = tuple(key for key, _, _ in MASTER_KEYS)
#: The sections cluster.conf has, with their keys.
SECTIONS = (("main", KNOWN_KEYS), ("master", KNOWN_MASTER_KEYS))
#: What dnf's plugin loader (libdnf's OptionBool) takes for `enabled`, in any case.
BOOLEANS = ("1", "0", "yes", "no", "true", "false", "on", "off")


def testing_repo(profile_repo):
    """The repository of the testing channel for a profile repository: the package
    repository's, <repo>-testing (`cluster` and the site's `cluster-site` both mean
    `cluster-testing`; a site repository `acme-site` means `acme-testing`)."""
    base = profile_repo[:-len("-site")] if profile_repo.endswith("-site") else profile_repo
    return base + "-testing"


class NodeConfig(object):
    def __init__(self, role=None, profile_repo=None, path=None, protected=(), max_remove=None, warnings=(),
                 master=None, channel=None):
        self.role = role
        self.profile_repo = profile_repo
        self.path = path
        self.protected = tuple(protected)
        self.max_remove = max_remove            # None: the default (see sync.py)
        self.warnings = list(warnings)          # one line each: keys and sections it does not know
        self.master = dict(master or {})        # [master]: {key: value} of the keys set
        self.channel = channel                  # None: the role's channel


def candidates(installroot, pluginconfpath):
    """[(path, inside the image root)], the image root's own first."""
    paths = []
    if installroot and installroot != "/":
        paths += [(os.path.join(installroot, p.lstrip("/"), "cluster.conf"), True) for p in pluginconfpath]
        paths.append((os.path.join(installroot, "etc/dnf/plugins/cluster.conf"), True))
    paths += [(os.path.join(p, "cluster.conf"), False) for p in pluginconfpath]
    return paths


def _text(path, in_root):
    """The text of a cluster.conf, or None when there is none. Inside an image root it
    is opened without following a symbolic link (the image's files are its own)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if in_root:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ENOENT:
            return None
        if err.errno == errno.ELOOP and in_root:
            raise ClusterError("refusing to follow a symbolic link out of the image root", path)
        raise ClusterError("cannot read: {}".format(err.strerror), path)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ClusterError("not a regular file", path)
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ClusterError("larger than {} bytes".format(MAX_BYTES), path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ClusterError("not UTF-8 text (byte {} is invalid)".format(err.start), path)


def _line_of(text, key, section=False):
    """The line number of `key = ...` (or of `[key]`) in a cluster.conf text, or None."""
    pattern = (r"\s*\[\s*{}\s*\]" if section else r"\s*{}\s*[=:]").format(re.escape(key))
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(pattern, line, re.IGNORECASE):
            return number
    return None


def _parse(text, path):
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=path)
    except configparser.Error as err:
        raise ClusterError("cannot parse: {}".format(" ".join(str(err).split())), path)
    return parser


def check_enabled(text, parser, path):
    """Refuse an `enabled` that is no boolean: dnf's plugin loader reads it with
    getboolean(), which dies with a traceback on every dnf command."""
    if not parser.has_option("main", "enabled"):
        return
    value = parser.get("main", "enabled").strip()
    if value.lower() not in BOOLEANS:
        raise ClusterError("enabled = {} is not a boolean (want 1 or 0, yes or no, true or false, on or "
                           "off)".format(quote(value)), path, _line_of(text, "enabled"))


def enabled_problem(pluginconfpath):
    """The ClusterError for the first cluster.conf in `pluginconfpath` whose `enabled`
    dnf's plugin loader cannot read (see plugins/cluster.py), or None."""
    for directory in pluginconfpath:
        path = os.path.join(directory, "cluster.conf")
        try:
            text = _text(path, False)
            if text is not None:
                check_enabled(text, _parse(text, path), path)
        except ClusterError as err:
            return err
    return None


def _where(path, line):
    return path if line is None else "{}:{}".format(path, line)


def _warnings(text, parser, path):
    """One line per section and key cluster.conf does not know (a typo such as
    `rol = compute` would otherwise only show as "this node has no role")."""
    out = []
    known = dict(SECTIONS)
    for section in parser.sections():
        if section not in known:
            out.append("{}: unknown section {} (cluster.conf has [main] and [master])".format(
                _where(path, _line_of(text, section, section=True)), quote(section)))
            continue
        for key in parser.options(section):
            if key not in known[section]:
                out.append("{}: unknown key {} in [{}], ignored (known: {})".format(
                    _where(path, _line_of(text, key)), quote(key), section, ", ".join(known[section])))
    return out


def _master(parser, path):
    """{key: value} of the [master] keys set (an empty value counts as unset); each a
    single line of text."""
    out = {}
    if not parser.has_section("master"):
        return out
    for key in KNOWN_MASTER_KEYS:
        if parser.has_option("master", key):
            value = parser.get("master", key).strip()
            if CONTROL_RE.search(value):
                raise ClusterError("{} in [master]: control characters are not allowed".format(key), path)
            if value:
                out[key] = value
    return out


def read(installroot, pluginconfpath):
    for path, in_root in candidates(installroot, pluginconfpath):
        text = _text(path, in_root)
        if text is None:
            continue
        parser = _parse(text, path)
        check_enabled(text, parser, path)
        get = lambda key: parser.get("main", key).strip() if parser.has_option("main", key) else None
        role, repo = get("role"), get("profile_repo")
        for key, value in (("role", role), ("profile_repo", repo)):
            if value is not None:
                try:
                    check_name(value, key)
                except ClusterError as err:
                    raise ClusterError(err.bare, path)
        protected = (get("protected") or "").replace(",", " ").split()
        for pattern in protected:
            if not PATTERN_RE.match(pattern) or ".." in pattern or len(pattern) > MAX_NAME:
                raise ClusterError("invalid protected pattern {}: package names or globs (* ? [...]) "
                                   "only".format(quote(pattern)), path)
        max_remove = get("max_remove")
        if max_remove is not None and not re.match(r"\A[0-9]{1,9}\Z", max_remove):
            raise ClusterError("max_remove must be a whole number of packages, not {}".format(quote(max_remove)), path)
        channel = get("channel")
        if channel and channel not in CHANNELS:
            raise ClusterError("channel = {} is not a channel (want {})".format(
                quote(channel), " or ".join(CHANNELS)), path, _line_of(text, "channel"))
        return NodeConfig(role or None, repo or None, path, protected,
                          int(max_remove) if max_remove is not None else None, _warnings(text, parser, path),
                          _master(parser, path), channel or None)
    return NodeConfig()

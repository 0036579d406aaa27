"""The seam between the cluster logic and a package manager.

Everything sync, status, publish and the group commands need from dnf goes through
one `Backend`: repositories and their metadata, installed packages with their reasons,
available builds, marking install/upgrade/downgrade/remove, resolving, running one
transaction, protected names, the package manager's own version lock and history (which
transaction installed what). The logic above (sync.py, publish.py, the commands) is
written once; `dnf4.py` implements this on dnf 4's Python API, `libdnf5/` on
libdnf5's. Names
and versions cross the seam as plain strings ("[epoch:]version-release"), never as
package objects, so every backend, and the in-memory one the unit tests use, can
implement it."""
import errno

from ..plan import compare_evr, format_evr

#: Reasons a package can have been installed for, as dnf records them.
REASONS = ("user", "dependency", "weak-dependency", "group", "clean", "unknown")
#: Installed by the admin (directly or as a group member): never removed by a sync.
BY_HAND = ("user", "group", "unknown")


class Item(object):
    """One package of a resolved transaction."""

    def __init__(self, action, name, evr, arch, label=None, nevra=None):
        self.action = action                # install, upgrade, downgrade, reinstall, remove, obsolete
        self.name = name
        self.evr = evr
        self.arch = arch
        self.label = label or action.capitalize()      # the package manager's own word for it
        self.nevra = nevra or "{}-{}.{}".format(name, evr, arch)

    def as_dict(self):
        return {"action": self.label, "package": self.nevra}


class Locked(object):
    """One package of a fresh node's resolved install: what a lock pins."""
    __slots__ = ("name", "evr", "arch", "checksum")

    def __init__(self, name, evr, arch, checksum=None):
        self.name, self.evr, self.arch, self.checksum = name, evr, arch, checksum

    def as_dict(self):
        out = {"name": self.name, "evr": self.evr, "arch": self.arch}
        if self.checksum:
            out["checksum"] = self.checksum
        return out


#: The repository a fresh resolver sees `local` RPMs in (Backend.fresh_resolver()): the
#: site-local packages a publish is about to index in the site repository.
LOCAL_REPO = "cluster-site-local"


class FreshResolver(object):
    """Backend.fresh_resolver()'s answer: one empty root of one arch, resolved again
    for each set asked."""

    def resolve(self, wanted, optional=()):
        """[Locked] of everything an install of `wanted` (each must be available) and
        `optional` (installed when available) pulls into the empty root. A name that
        is not available or a dependency problem is a ClusterError."""
        raise NotImplementedError

    def close(self):
        raise NotImplementedError


class Backend(object):
    """What the cluster logic needs from a package manager (see the module docstring).
    Subclasses implement every method; the attributes are set by their constructor."""

    name = None
    basearch = None
    installroot = "/"
    persistdir = "/var/lib/dnf"         # the node's state lives in <persistdir>/cluster

    # --- the no-op fast path's proof (fastpath.py); a backend without it has none ---------
    #: True where the backend can load the repositories' metadata without the sack and
    #: give every digest below
    fast_path = False
    #: True where the command itself answers fast, after load_metadata(); False where
    #: the host did before the backend existed (dnf5cli) and the proof is only read,
    #: after load(), for the record
    fast_in_run = True

    def load_metadata(self):
        """Check and load every enabled repository's metadata (as load() does), not the sack."""
        raise NotImplementedError

    def rpmdb_cookie(self):
        """The rpm database's cookie (rpm's TransactionSet.dbCookie()), or None."""
        return None

    def repomd_digests(self):
        """{repoid: sha256 of its repomd.xml} of every enabled repository, or None."""
        return None

    def versionlock_digest(self):
        return None

    def history_digest(self):
        """What changes whenever the package manager's history (the packages' reasons) does."""
        return None

    def repo_config_digest(self):
        return None

    def fetch_specs(self):
        """{repoid: how a reader without the package manager fetches its repomd.xml (text)}
        where the fast path is read without the backend (fast5.py), {} elsewhere; None:
        no proof."""
        return {}

    # --- repositories and their metadata ------------------------------------------------
    def load(self):
        """Load the enabled repositories' metadata and the installed packages."""
        raise NotImplementedError

    def want_metadata(self, mdtype):
        """Have every enabled repository download metadata `mdtype` with the rest."""
        raise NotImplementedError

    def enabled_repos(self):
        """Ids of the enabled repositories."""
        raise NotImplementedError

    def repo_state(self, repoid):
        """None when the node has no such repository, else True/False: enabled."""
        raise NotImplementedError

    def strict_repos(self, optional=()):
        """Before load(): every enabled repository except those in `optional` must load,
        or the command fails (skip_if_unavailable off): a lock is never resolved
        against a repository that silently dropped out."""
        raise NotImplementedError

    def has_tree(self, repoid, arch):
        """Whether repository `repoid`, read for `arch` (as --forcearch does), has
        metadata there: True or False; None when this backend cannot tell."""
        raise NotImplementedError

    def enable_repo(self, repoid, mdtype=None):
        """Enable a configured repository for this run and load it."""
        raise NotImplementedError

    def hide_repo(self, repoid, keep=None):
        """Nothing from this repository may enter this run's transaction but the exact
        builds of `keep` ({name: evr}: a lock's pins)."""
        raise NotImplementedError

    def metadata_path(self, repoid, mdtype):
        """Local path of the downloaded metadata `mdtype` of a repository, or None."""
        raise NotImplementedError

    def baseurl_template(self, repoid):
        """The repository's baseurl as configured ($basearch not yet expanded), or None."""
        raise NotImplementedError

    def substitutions(self):
        """The variables repository URLs expand ($releasever, $basearch, ...)."""
        raise NotImplementedError

    # --- packages ------------------------------------------------------------------------
    def installed(self):
        """{name: evr} of installed packages (the newest, for installonly names)."""
        raise NotImplementedError

    def reason(self, name):
        """Why the installed package `name` is installed: one of REASONS."""
        raise NotImplementedError

    def available_names(self):
        """Names of every available package (all arches the node can install)."""
        raise NotImplementedError

    def protected(self):
        """Names the package manager refuses to remove (and the running kernel)."""
        raise NotImplementedError

    def installonly(self):
        """Names installed side by side in several versions (kernels)."""
        raise NotImplementedError

    def newest(self, names):
        """{name: evr} of the newest build of each of `names` that this run may install
        (hidden repositories, excludes and version locks applied); absent names left out."""
        raise NotImplementedError

    def installed_requires(self, names):
        """{name: evr} of the installed packages `names` and everything installed they
        need, directly or through others."""
        raise NotImplementedError

    def installed_nevras(self, names):
        """Sorted "name-epoch:version-release.arch" of the installed packages named
        `names` (profile.nevra(); every installed build of each)."""
        raise NotImplementedError

    def fresh_resolver(self, arch, hide=(), enable=(), optional=(), local=None):
        """What a fresh, empty node of `arch` would install, as a FreshResolver: this
        host's repository configuration (its enabled repositories, plus `enable`, minus
        `hide`; those in `optional` may be missing, e.g. the site repository before its
        first publish) read for `arch` (--forcearch), metadata refreshed (unless the
        command runs from the cache only), in a throwaway empty installroot; `local`, a
        directory with repodata (the site-local RPMs a publish is about to index), as
        one more repository. Nothing is ever installed. The caller closes it."""
        raise NotImplementedError

    def needs(self, name, among):
        """Names in `among` (installed packages) that installed `name` needs, directly or
        through others among them."""
        raise NotImplementedError

    def providers(self, names):
        """{name: [installed package names providing it, sorted]} for each of `names` that
        no package (installed or available) has as its own name: a virtual provide."""
        raise NotImplementedError

    def rpmdb_problem(self):
        """One line saying why rpm cannot open the root's database, or None (also for a
        fresh root without one). The package managers take a database they cannot read
        for an empty one (dnf 4 loads the system repository 'auto'), so the logic asks
        when the installed set is empty."""
        return rpmdb_problem(self.installroot or "/")

    def rpmdb_now(self, provides=()):
        """After a transaction: ({name: evr} installed now, {provide: installed package
        name providing it} for `provides`), read from the rpm database itself (the loaded
        package set predates the transaction)."""
        import rpm
        ts = rpm.TransactionSet(self.installroot or "/")
        ts.setVSFlags(-1)
        installed = {}
        for hdr in ts.dbMatch():
            name = _text(hdr[rpm.RPMTAG_NAME])
            if name == "gpg-pubkey":
                continue
            evr = "{}:{}-{}".format(hdr[rpm.RPMTAG_EPOCH] or 0, _text(hdr[rpm.RPMTAG_VERSION]),
                                    _text(hdr[rpm.RPMTAG_RELEASE]))
            if name not in installed or compare_evr(evr, installed[name]) > 0:
                installed[name] = evr
        provided = {}
        for provide in provides:
            names = sorted(_text(h[rpm.RPMTAG_NAME]) for h in ts.dbMatch("providename", provide))
            if names:
                provided[provide] = names[0]
        ts.closeDB()
        return dict((n, format_evr(e)) for n, e in installed.items()), provided

    # --- one transaction -----------------------------------------------------------------
    def has_build(self, name, evr):
        """Whether an enabled repository has build `evr` of `name` (any arch)."""
        raise NotImplementedError

    def pin(self, name, evr):
        """Only build `evr` of `name` may enter this run (other builds are hidden).
        False when no such build is available (nothing is hidden then)."""
        raise NotImplementedError

    def install(self, name, evr=None):
        raise NotImplementedError

    def upgrade(self, name, evr):
        raise NotImplementedError

    def downgrade(self, name, evr):
        raise NotImplementedError

    def remove(self, name):
        raise NotImplementedError

    def hold(self, names):
        """Installed packages `names` (and what they need) stay in every resolve of this
        run unless marked for removal: never cleaned up as unneeded dependencies."""
        raise NotImplementedError

    def reset(self):
        """Forget every mark (pins, holds and hidden repositories stay)."""
        raise NotImplementedError

    def resolve(self, allow_erasing):
        """Resolve the marks: [Item]. A dependency problem is a ClusterError."""
        raise NotImplementedError

    def table(self, items):
        """The package manager's own text table of a resolved transaction."""
        raise NotImplementedError

    def run(self, comment, done):
        """Download and run the resolved transaction, recorded in history with `comment`,
        then call done(). A backend inside a host command (the dnf 4 plugin) may run it
        after the command returns, with the host's confirmation prompt."""
        raise NotImplementedError

    # --- the package manager's own version lock ------------------------------------------
    def apply_admin_locks(self):
        """Apply to this run the admin's own entries of the package manager's version lock
        (dnf 4: versionlock.list; dnf5: /etc/dnf/versionlock.toml), as the package manager
        would; the cluster's own entries are left out: they are the pins of the last sync,
        which this run replaces (the package manager's own lock filtering is off for it)."""
        raise NotImplementedError

    def hand_pins(self, pins):
        """Make `pins` ({name: evr}) the cluster's own entries of the package manager's
        version lock, so plain commands (`dnf upgrade`) keep pinned packages at their pins.
        Only the cluster's entries (marked as such) change; the admin's are never touched;
        {} removes the cluster's entries. Returns None, or one line saying why the pins
        could not be handed over (no version lock configured for this root, ...)."""
        raise NotImplementedError

    # --- history -------------------------------------------------------------------------
    def installed_by(self, tag):
        """{name: evr} of the packages that the history transaction whose comment
        carries the word `tag` installed (or up/downgraded to) and that are still
        installed from that very transaction (no later transaction touched them: not a
        reinstall, a reason change or a remove and install by hand). None when the
        history has no such transaction (it never ran)."""
        raise NotImplementedError

    def taken_by_hand(self, names):
        """The names among `names` (installed packages) whose installed build was last
        put on the system by the admin: the latest history transaction with an item for
        that build is not one of ours (its comment does not start with `cluster-node
        sync`) and installs or reinstalls it (`dnf remove X; dnf install X`, `dnf
        reinstall X`). An upgrade or downgrade by hand does not count."""
        raise NotImplementedError

    # --- groups -------------------------------------------------------------------------
    def installed_groups(self, gids):
        """The ids among `gids` that history records as installed groups."""
        raise NotImplementedError

    def group_install(self, view, with_optional):
        """Mark the packages of a groups.GroupView for install and record the group."""
        raise NotImplementedError

    def group_remove(self, gid):
        raise NotImplementedError



def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class RpmLog(object):
    """librpm's log held back while the package manager loads the rpm database (dnf 4
    does so before the command runs, and librpm then prints its own `error:` lines):
    released as it was, except when the run's error is that the database cannot be
    read (errors.RpmdbError, which names rpm's first error, so the user reads one line)."""

    def __init__(self):
        import tempfile
        import rpm
        self.file = tempfile.TemporaryFile(mode="w+")
        rpm.setLogFile(self.file)

    def release(self, show=True):
        import sys
        import rpm
        if self.file is None:
            return
        rpm.setLogFile(sys.stderr)
        if show:
            self.file.seek(0)
            text = self.file.read(65536)
            if text:
                sys.stderr.write(text)
                sys.stderr.flush()
        self.file.close()
        self.file = None


def rpmdb_problem(root):
    """Open the rpm database of `root` as rpm does: None when that works or when there
    is no database yet, else rpm's first error line (its log is kept off the terminal)."""
    import os
    import sys
    import tempfile
    import rpm
    dbpath = os.path.join(root, rpm.expandMacro("%_dbpath").lstrip("/"))
    try:
        if not os.listdir(dbpath):
            return None
    except OSError as err:
        return None if err.errno == errno.ENOENT else "{}: {}".format(dbpath, err.strerror)
    with tempfile.TemporaryFile(mode="w+") as log:
        rpm.setLogFile(log)
        try:
            ts = rpm.TransactionSet(root)
            failed = ts.openDB() != 0
            ts.closeDB()
        except rpm.error as err:
            failed = True
            log.write("error: {}\n".format(err))
        finally:
            rpm.setLogFile(sys.stderr)
        if not failed:
            return None
        log.seek(0)
        lines = [l.strip()[len("error:"):].strip() for l in log.read(65536).splitlines()
                 if l.startswith("error:")]
    return " ".join((lines[0] if lines else "rpm cannot open it ({})".format(dbpath)).split())[:300]

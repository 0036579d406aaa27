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


class Backend(object):
    """What the cluster logic needs from a package manager (see the module docstring).
    Subclasses implement every method; the attributes are set by their constructor."""

    name = None
    basearch = None
    installroot = "/"
    persistdir = "/var/lib/dnf"         # the node's state lives in <persistdir>/cluster

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

    def enable_repo(self, repoid, mdtype=None):
        """Enable a configured repository for this run and load it."""
        raise NotImplementedError

    def hide_repo(self, repoid):
        """Nothing from this repository may enter this run's transaction."""
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

    def needs(self, name, among):
        """Names in `among` (installed packages) that installed `name` needs, directly or
        through others among them."""
        raise NotImplementedError

    # --- one transaction -----------------------------------------------------------------
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


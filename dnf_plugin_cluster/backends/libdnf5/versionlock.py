"""The libdnf5 backend and dnf5's own version lock, /etc/dnf/versionlock.toml: the
admin's entries applied alone during a sync, the cluster's pins handed over as entries
of their own (marked by their comment)."""
import json
import os

import libdnf5

from ...errors import ClusterError
from ...files import check_text_file, replace_file
from ...plan import format_evr
from .common import one_line

#: dnf5's version locks (libdnf5::VERSIONLOCK_CONF_FILENAME), inside the installroot
VERSIONLOCK_FILE = "/etc/dnf/versionlock.toml"
#: the comment that marks the cluster's own entries in it; the admin's are never touched
LOCK_COMMENT = "dnf-plugin-cluster: the cluster profile's pin, rewritten by `dnf cluster-node sync`"
LOCK_KEYS = libdnf5.rpm.VersionlockCondition


def _ours(entry):
    """Is this versionlock.toml entry one of the cluster's pins?"""
    return entry.get_comment().startswith(LOCK_COMMENT.split(":")[0] + ":")


def _toml(text):
    """A TOML basic string: JSON's escapes are all TOML escapes too."""
    return json.dumps(text, ensure_ascii=False)


def _conditions(entry):
    """[(key, comparator, value)] of a versionlock.toml entry, as it is written."""
    return [(c.get_key_str(), c.get_comparator_str(), c.get_value()) for c in entry.get_conditions()]


def _lock_entry(name, comment, conditions):
    """One [[packages]] entry of versionlock.toml, as dnf5 writes them."""
    lines = ["[[packages]]", "name = " + _toml(name)]
    if comment:
        lines.append("comment = " + _toml(comment))
    for key, comparator, value in conditions:
        lines += ["", "[[packages.conditions]]", "key = " + _toml(key), "comparator = " + _toml(comparator),
                  "value = " + _toml(value)]
    return "\n".join(lines) + "\n"


class VersionLockMixin(object):
    # --- dnf5's own version lock (/etc/dnf/versionlock.toml) ------------------------------
    def _versionlock(self):
        """The entries of the versionlock.toml this Base reads: [VersionlockPackage]."""
        try:
            # the config must outlive the entries: get_packages() answers a reference into it
            self._lock_config = self.base.get_rpm_package_sack().get_versionlock_config()
            return list(self._lock_config.get_packages())
        except libdnf5.exception.Error as err:
            raise ClusterError("cannot read dnf5's version locks: {}".format(one_line(err)))

    def _versionlock_path(self):
        """Where dnf5 reads the version locks for this root (libdnf5's own rule)."""
        if self.conf.use_host_config:
            return VERSIONLOCK_FILE
        return os.path.join(self.installroot, VERSIONLOCK_FILE.lstrip("/"))

    def check_versionlock_file(self):
        """libdnf5 reads versionlock.toml itself when the repositories load, following a
        link, blocking on a FIFO and reading it whole: before it does, the file must be
        a regular file of the root (no link) of a sane size, or the run stops with one
        line naming it."""
        check_text_file(self._versionlock_path(), "dnf5's version lock file")

    def apply_admin_locks(self):
        """libdnf5 applied every entry of versionlock.toml when the repositories loaded;
        when the cluster's own entries (the last sync's pins) are among them, they are
        lifted for this run and the admin's applied again alone, as libdnf5 applies them
        (PackageSack::load_versionlock_excludes): a locked name keeps only the builds its
        conditions match, and loses what obsoletes them."""
        entries = self._versionlock()
        if not any(_ours(entry) for entry in entries):
            return
        sack = self.base.get_rpm_package_sack()
        try:
            sack.clear_versionlock_excludes()
            admin = [e for e in entries if not _ours(e) and e.is_valid()]
            if not admin:
                return
            available = libdnf5.rpm.PackageQuery(self.base)
            available.filter_available()
            locked = libdnf5.rpm.PackageSet(self.base)
            names = set()
            for entry in admin:
                query = libdnf5.rpm.PackageQuery(available)
                query.filter_name([entry.get_name()], libdnf5.common.QueryCmp_GLOB)
                names.update(pkg.get_name() for pkg in query)
                for cond in entry.get_conditions():
                    if not cond.is_valid():
                        continue
                    key, cmp, value = cond.get_key(), cond.get_comparator(), cond.get_value()
                    if key == LOCK_KEYS.Keys_EPOCH:
                        query.filter_epoch([int(value)], cmp)
                    elif key == LOCK_KEYS.Keys_EVR:
                        query.filter_evr([value], cmp)
                    elif key == LOCK_KEYS.Keys_ARCH:
                        query.filter_arch([value], cmp)
                locked.update(query)
            if not names:
                return
            excludes = libdnf5.rpm.PackageQuery(available)
            excludes.filter_name(sorted(names))
            excludes.difference(locked)
            obsoleting = libdnf5.rpm.PackageQuery(available)
            obsoleting.filter_obsoletes(locked)
            obsoleting.difference(locked)
            excludes.update(obsoleting)
            sack.set_versionlock_excludes(excludes)
        except (libdnf5.exception.Error, ValueError) as err:
            raise ClusterError("cannot apply dnf5's version locks: {}".format(one_line(err)))

    def hand_pins(self, pins):
        """The cluster's entries of versionlock.toml (comment `dnf-plugin-cluster: ...`)
        become `pins`; the admin's entries are written back as libdnf5 read them (dnf5's
        own `versionlock add/delete` rewrite the file the same way). The file is replaced
        whole by a rename, never left half-written."""
        path = self._versionlock_path()
        entries = self._versionlock()
        ours = [e for e in entries if _ours(e)]
        if not ours and not pins:
            return None
        admin = [e for e in entries if not _ours(e)]
        bad = [e.get_name() or "(no name)" for e in admin if not e.is_valid()]
        if bad:
            return "{}: the entry of {} is not valid; pins not handed to dnf5's versionlock".format(
                path, ", ".join(bad))
        current = dict((e.get_name(), _conditions(e)) for e in ours)
        wanted = dict((name, [("evr", "=", format_evr(evr))]) for name, evr in pins.items())
        if current == wanted and len(ours) == len(current):
            return None
        blocks = [_lock_entry(e.get_name(), e.get_comment(), _conditions(e)) for e in admin]
        blocks += [_lock_entry(name, LOCK_COMMENT, conditions) for name, conditions in sorted(wanted.items())]
        text = 'version = "1.0"\n' + "".join("\n" + block for block in blocks)
        directory = os.path.dirname(path)
        root = "/" if self.conf.use_host_config else self.installroot
        inside = os.path.relpath(directory, root)
        if os.path.realpath(directory) != os.path.join(os.path.realpath(root), inside):
            # never write outside the root through a link the image carries
            return "{} is reached through a symbolic link; pins not handed to dnf5's versionlock".format(directory)
        try:
            replace_file(path, text)
        except OSError as err:
            return "cannot write {}: {}; pins not handed to dnf5's versionlock".format(path, err.strerror)
        return None

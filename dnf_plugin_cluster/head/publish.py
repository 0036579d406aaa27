"""Publishing the cluster profile. The head node's `dnf cluster-master publish` writes the
site's profile into the **site repository**, a small repository of the site's own:

    SITE/<releasever>/<arch>/repodata/          one repository per arch: the `cluster`
    SITE/<releasever>/<arch>/Packages/          record, plus site-local packages (indexed)
    SITE/<releasever>/generations/NNNN.json     every generation published, and
    SITE/<releasever>/generations/index.json    their list (time, user, message, digest)
    SITE/<releasever>/.cluster-publish/         the publish lock and what it keeps
    SITE/cluster-site-release-latest-<releasever>.noarch.rpm
    SITE/RPM-GPG-KEY-cluster-site               the site's public key, when signed

Site-local packages: RPMs the admin drops into SITE/<releasever>/<arch>/Packages/ are
indexed by the next publish, in that arch's repository; a noarch one in every arch's
(linked into their Packages/). The same publish already resolves with them
(local_packages(), local_repos()): a role may list a site-local package and be
published and locked in one go.

Every publish is generation N+1. It runs under a lock on the tree (fcntl), writes every
arch's new metadata files beside the old ones (content-addressed names), signs the new
repomd.xml files aside, and only then renames each into place (repodata.py). Files the
last KEEP_REPOMD repomd.xml versions named stay, so a node that read the previous
repomd.xml a moment earlier still finds them. The packager's tree (`cluster-repo
build`) is never written here, and a build never reads or writes the site tree.

The module also reads and writes the default profile of a plain repository tree
(OUTDIR/<releasever>, the packager's: `arch_repos`, `current`, `add`)."""
import collections
import contextlib
import datetime
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile

from .. import comps, profile
from ..errors import ClusterError, quote
from ..files import open_regular, read_json, write_atomic
from ..names import CLUSTER_ARCHES, KNOWN_BASEARCHES
from . import lock, repodata, siterelease

PROFILE_FILE = "cluster-profile.json"
STATE_DIR = ".cluster-publish"
GENERATIONS = "generations"
INDEX = "index.json"
FORMAT = 1
#: How many earlier repomd.xml versions per arch keep the files they name.
KEEP_REPOMD = 3
CONTENT_ADDRESSED = re.compile(r"^[0-9a-f]{32,128}-")
#: $releasever of EL and Fedora: 8, 9, 10, 9.4, 41, rawhide, eln.
RELEASEVER_RE = re.compile(r"\A(\d+(\.\d+)?|rawhide|eln)\Z")
#: Marks of a tree that `cluster-repo build` made (the packager's, never the site's).
BUILD_MARKS = (".cluster-build.json", "SRPMS")
#: A generation record's file name, and write_atomic()'s temporary beside a file.
GENERATION_FILE = re.compile(r"\A(\d{1,10})\.json\Z")
TEMPORARY = re.compile(r"\A.+\.tmp\d+\Z")


# --- any repository tree (the packager's default profile, closure, tests) -----------------

def arch_repos(tree):
    """{arch: repodata dir} of the binary repositories in a tree."""
    if not os.path.isdir(tree):
        raise ClusterError("no repository tree here", tree)
    out = {}
    for name in sorted(os.listdir(tree)):
        md = os.path.join(tree, name, "repodata")
        if name != "SRPMS" and os.path.isfile(os.path.join(md, "repomd.xml")):
            out[name] = md
    if not out:
        raise ClusterError("no arch repositories (<arch>/repodata/repomd.xml) in this tree", tree)
    return out


def tree_comps(tree):
    """The comps the tree's repositories carry (identical in every arch repository)."""
    for arch, md in arch_repos(tree).items():
        data = repodata.read(md, "group", comps.MAX_BYTES)
        if data is not None:
            return comps.RepoComps().add(data, os.path.join(md, "comps"))
    raise ClusterError("the repositories carry no comps (group metadata)", tree)


def current(tree):
    """The profile published in the tree now, or None."""
    for arch, md in arch_repos(tree).items():
        data = repodata.read(md, profile.MDTYPE, profile.MAX_BYTES)
        if data is not None:
            return profile.loads(data, os.path.join(md, PROFILE_FILE))
    return None


def add(tree, prof, sign=None):
    """Write `prof` into every arch repository of `tree` (repomd.xml swapped in
    atomically per arch); `sign(repomd_path)` signs each new repomd.xml."""
    data = profile.dumps(prof).encode("utf-8")
    for arch, md in arch_repos(tree).items():
        repodata.replace(md, profile.MDTYPE, PROFILE_FILE, data, sign)


# --- site-local packages ------------------------------------------------------------------

#: One site-local RPM: where it lies, its name and its arch (from its header).
LocalRpm = collections.namedtuple("LocalRpm", "path name arch")


def rpm_identity(path):
    """(name, arch) from the header of the RPM at `path` (signatures and digests are not
    checked here: the nodes' dnf checks what they install); "src" for a source package.
    A file rpm cannot read is one line naming it."""
    import rpm
    ts = rpm.TransactionSet()
    ts.setVSFlags(-1)
    try:
        with open(path, "rb") as handle:
            header = ts.hdrFromFdno(handle.fileno())
    except (rpm.error, OSError) as err:
        raise ClusterError("not an RPM package rpm can read ({}); move it out of Packages/".format(
            " ".join(str(err).split()) or "no header"), path)

    def text(tag):
        value = header[tag]
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text(rpm.RPMTAG_NAME), "src" if header.isSource() else text(rpm.RPMTAG_ARCH)


# --- small helpers ------------------------------------------------------------------------

def _createrepo(top, outdir):
    """Index the packages under `top` into outdir/repodata (createrepo_c, gzip)."""
    proc = subprocess.run(["createrepo_c", "--quiet", "--no-database", "--general-compress-type=gz",
                           "--outputdir", outdir, top],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if proc.returncode != 0:
        raise ClusterError("createrepo_c failed: {}".format(" ".join(proc.stdout.split())), top)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def invoking_user():
    """Who runs the publish: the sudo caller when there is one, else the login name."""
    import pwd
    name = os.environ.get("SUDO_USER")
    if name:
        return name
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _is_generation(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= profile.MAX_GENERATION


def _dumps(data):
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


# --- the site repository ------------------------------------------------------------------

class SiteTree(object):
    """One release of a site repository: SITE/<releasever> (see the module docstring)."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.releasever = os.path.basename(self.path)
        self.top = os.path.dirname(self.path)
        self._lock = None

    def _state(self, *parts):
        return os.path.join(self.path, STATE_DIR, *parts)

    def _gen_dir(self, *parts):
        return os.path.join(self.path, GENERATIONS, *parts)

    def repodata(self, arch):
        return os.path.join(self.path, arch, "repodata")

    # --- what is there -------------------------------------------------------------------
    def check(self):
        """Refuse a tree that is not a site repository (nothing is written before)."""
        for path in (self.top, self.path):
            if os.path.exists(path) and not os.path.isdir(path):
                raise ClusterError("not a directory", path)
        for mark in BUILD_MARKS:
            if os.path.exists(os.path.join(self.path, mark)):
                raise ClusterError("this is a tree `cluster-repo build` made (it has {}): the site's profile "
                                   "goes to a repository of its own, e.g. /srv/cluster/site/{}".format(
                                       mark, self.releasever), self.path)
        if not RELEASEVER_RE.match(self.releasever):
            raise ClusterError("the site repository of one release is SITE/<releasever> (e.g. /srv/cluster/site/9): "
                               "{} is not a release version".format(quote(self.releasever)), self.path)
        self.refuse_links()
        return self

    def refuse_links(self):
        """Publish writes only into directories of the tree itself: one of its directories
        that is a symbolic link (pointing out of the tree, or anywhere) is refused before
        anything is written. SITE and SITE/<releasever> may be links (a site on another
        file system); what publish creates below them may not."""
        if not os.path.isdir(self.path):
            return
        inside = [STATE_DIR, GENERATIONS] + [a for a in os.listdir(self.path) if a in KNOWN_BASEARCHES]
        for name in inside:
            for path in [os.path.join(self.path, name)] + (
                    [os.path.join(self.path, name, sub) for sub in ("repodata", "Packages")]
                    if name in KNOWN_BASEARCHES else []):
                if os.path.islink(path):
                    raise ClusterError("is a symbolic link: publish never writes through a link; make it a "
                                       "directory of the site repository", path)

    def exists(self):
        """Refuse to read a site repository that is not there."""
        if not os.path.isdir(os.path.join(self.path, GENERATIONS)) and not self.arches():
            raise ClusterError("no site repository here (nothing published yet)", self.path)
        return self

    def arches(self):
        """Arches that have a repository in the tree now."""
        if not os.path.isdir(self.path):
            return []
        return sorted(name for name in os.listdir(self.path)
                      if name in KNOWN_BASEARCHES and os.path.isfile(os.path.join(self.repodata(name), "repomd.xml")))

    def publish_arches(self, wanted=None):
        """The arches a publish writes: the ones asked for plus those already in the tree
        (an arch is never left behind with an old profile), else the cluster arches."""
        arches = set(wanted or ()) | set(self.arches())
        for arch in arches:
            if arch not in KNOWN_BASEARCHES:
                raise ClusterError("unknown arch {} (known: {})".format(quote(arch), ", ".join(KNOWN_BASEARCHES)))
        return sorted(arches or CLUSTER_ARCHES)

    def signed_arches(self):
        return [a for a in self.arches() if os.path.exists(os.path.join(self.repodata(a), "repomd.xml.asc"))]

    def refuse_stale_signature(self, signing):
        """A tree signed before is re-signed by every publish, or a node would meet a
        repomd.xml.asc that no longer matches."""
        signed = self.signed_arches()
        if signed and not signing:
            raise ClusterError("the site repository is signed ({}/repodata/repomd.xml.asc): pass --sign-key KEYID "
                               "(and --gnupghome DIR) to re-sign it; publishing without a key would leave a "
                               "stale signature".format(signed[0]), self.path)

    def published(self, warn=None):
        """The profile published now (from the first arch repository that has one), or
        None. An invalid one is reported through warn() and counts as none: the next
        publish replaces it."""
        for arch in self.arches():
            md = self.repodata(arch)
            try:
                data = repodata.read(md, profile.MDTYPE, profile.MAX_BYTES)
                if data is None:
                    continue
                return profile.loads(data, os.path.join(md, PROFILE_FILE))
            except ClusterError as err:
                if warn is None:
                    raise
                warn("the published profile is invalid and will be replaced: {}".format(err))
                return None
        return None

    def committed(self):
        """The generation nodes see now: the published profile's, 0 when no arch has a
        profile, None when that cannot be told (the published profile is invalid)."""
        try:
            published = self.published()
        except ClusterError:
            return None
        return (published or {}).get("generation", 0)

    def history(self, committed=None):
        """Index entries of every committed generation, oldest first. A generation whose
        file is there but not yet in the index (a publish stopped between the two) is
        read from its file if nodes saw it: its number is at most the published
        generation (`committed`, read when None). A file past it was written by a
        publish stopped before its renames: never published, not listed (when the
        published profile is invalid, every file is)."""
        path = self._gen_dir(INDEX)
        data = read_json(path, "generation index")
        if data is None:
            data = {"generations": []}
        if not isinstance(data, dict) or not isinstance(data.get("generations"), list):
            raise ClusterError("corrupt generation index: want {\"generations\": [...]}", path)
        entries = {}
        for entry in data["generations"]:
            if not isinstance(entry, dict) or not _is_generation(entry.get("generation")):
                raise ClusterError("corrupt generation index: an entry {} is not an object with a generation "
                                   "from 1 to {}".format(quote(entry), profile.MAX_GENERATION), path)
            entries[entry["generation"]] = entry
        if committed is None:
            committed = self.committed()
        for number in self._generation_files():
            if number not in entries and (committed is None or number <= committed):
                entries[number] = self._entry(self.generation(number))
        return [entries[n] for n in sorted(entries)]

    def _generation_files(self):
        if not os.path.isdir(self._gen_dir()):
            return []
        return sorted(int(m.group(1)) for m in (GENERATION_FILE.match(f) for f in os.listdir(self._gen_dir()))
                      if m and 1 <= int(m.group(1)) <= profile.MAX_GENERATION
                      and m.group(0) == "{:04d}.json".format(int(m.group(1))))

    def generation(self, number):
        """The record of generation `number`, with its profile."""
        path = self._gen_dir("{:04d}.json".format(number))
        data = read_json(path, "generation {}".format(number))
        if data is None:
            known = self._generation_files()
            raise ClusterError("no generation {} in this site repository ({})".format(
                number, "generations {}-{}".format(known[0], known[-1]) if known else "none published yet"),
                self.path)
        if not isinstance(data, dict) or data.get("generation") != number:
            raise ClusterError("corrupt generation record", path)
        profile.validate(data.get("profile"), path)
        return data

    def next_generation(self, published=None, history=None):
        """One past every committed generation: a number a publish stopped before its
        renames left a file for is used again (that file is overwritten)."""
        published = published or {}
        if history is None:
            history = self.history()
        numbers = [e["generation"] for e in history] + [published.get("generation", 0)]
        return max(numbers + [0]) + 1

    def _retained(self):
        """.cluster-publish/retained.json, checked: {arch: [[file name, ...], ...]}."""
        path = self._state("retained.json")
        data = read_json(path, "retained metadata list")
        if data is None:
            return {}
        if not isinstance(data, dict) or not all(
                isinstance(lists, list) and all(isinstance(names, list) and all(isinstance(n, str) for n in names)
                                                for names in lists)
                for lists in data.values()):
            raise ClusterError("corrupt retained metadata list: want {\"ARCH\": [[FILE, ...], ...]}; move it "
                               "aside and publish again", path)
        return data

    @staticmethod
    def _entry(record):
        entry = dict((k, v) for k, v in record.items() if k != "profile")
        prof = record["profile"]
        entry.setdefault("roles", sorted(prof["roles"]))
        entry.setdefault("pins", len(prof.get("pins", {})))
        return entry

    # --- site-local packages ---------------------------------------------------------------
    def local_packages(self, arches):
        """{arch: {file name: LocalRpm}} for each of `arches`: the RPMs the admin dropped
        into <arch>/Packages/, plus every noarch RPM in any arch's Packages/ (a noarch
        package is for every arch; an arch's own file of that name wins). Source RPMs
        stay where they are and are no package of any arch. Files publish itself
        half-wrote (write_atomic temporaries) are not packages."""
        own, noarch = {}, {}
        present = sorted(n for n in os.listdir(self.path) if n in KNOWN_BASEARCHES) \
            if os.path.isdir(self.path) else []
        for tree_arch in present:
            packages = os.path.join(self.path, tree_arch, "Packages")
            if not os.path.isdir(packages):
                continue
            for fname in sorted(os.listdir(packages)):
                path = os.path.join(packages, fname)
                if not fname.endswith(".rpm") or TEMPORARY.match(fname) or not os.path.isfile(path):
                    continue
                name, arch = rpm_identity(path)
                entry = LocalRpm(path, name, arch)
                own.setdefault(tree_arch, {})[fname] = entry
                if arch == "noarch":
                    noarch.setdefault(fname, entry)
        out = {}
        for arch in arches:
            mine = dict(noarch)
            mine.update(own.get(arch, {}))
            out[arch] = mine
        return out

    @staticmethod
    def local_names(local, arch):
        """Names of the binary packages of `local` (local_packages()) for `arch`."""
        return set(e.name for e in local.get(arch, {}).values() if e.arch != "src")

    @staticmethod
    @contextlib.contextmanager
    def local_repos(local):
        """{arch: repository directory}: the RPMs of `local` (local_packages()) for each
        arch indexed aside (createrepo_c over links to them, in a temporary directory
        removed afterwards), for the lock's fresh resolvers (backends.LOCAL_REPO). Nothing is
        written into the tree."""
        tmp = tempfile.mkdtemp(prefix="cluster-site-local-")
        try:
            out = {}
            for arch, files in sorted(local.items()):
                if not files:
                    continue
                top = os.path.join(tmp, arch)
                os.makedirs(os.path.join(top, "Packages"))
                for fname, entry in sorted(files.items()):
                    os.symlink(entry.path, os.path.join(top, "Packages", fname))
                _createrepo(top, top)
                out[arch] = top
            yield out
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _share_noarch(self, arch, local):
        """Link the noarch RPMs other arches' Packages/ hold into this arch's (a copy
        across file systems), under a temporary name renamed last; before its repository
        is indexed."""
        packages = os.path.join(self.path, arch, "Packages")
        for fname, entry in sorted(local.get(arch, {}).items()):
            target = os.path.join(packages, fname)
            if os.path.dirname(entry.path) == packages or os.path.lexists(target):
                continue
            tmp = "{}.tmp{}".format(target, os.getpid())
            if os.path.lexists(tmp):
                os.unlink(tmp)
            try:
                os.link(entry.path, tmp)
            except OSError:
                shutil.copy2(entry.path, tmp)
            os.rename(tmp, target)

    # --- the lock ------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self, on_wait=None):
        """One publish per tree at a time (fcntl lock on .cluster-publish/lock); a
        second one waits, then works from the first one's result."""
        os.makedirs(self._state(), exist_ok=True)
        self.refuse_links()
        handle = os.fdopen(open_regular(self._state("lock"), os.O_RDWR | os.O_CREAT, "the publish lock"), "a+")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except IOError:
                if on_wait is not None:
                    on_wait()
                fcntl.flock(handle, fcntl.LOCK_EX)
            self._lock = handle
            yield self
        finally:
            self._lock = None
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    # --- publishing ----------------------------------------------------------------------
    def publish(self, prof, arches, gpg=None, message="", user=None, action="publish", baseurl=None, log=None,
                warn=None):
        """Publish `prof` as the next generation into every arch of `arches`; the caller
        holds locked(). gpg: signing.Gpg that can sign (checked by the caller), or None.
        Returns the generation's index entry.

        Every bookkeeping file is read and checked before anything is written; once the
        first repomd.xml is renamed, nodes see the generation, and what fails after
        that (the index, the release package, tidying up) is a warning through warn(),
        never an error: the publish happened."""
        if self._lock is None:
            raise RuntimeError("SiteTree.publish() needs the tree's lock (with tree.locked(): ...)")
        log = log or (lambda text: None)
        warn = warn or log
        published = self.published(warn=lambda text: None)
        committed = published.get("generation", 0) if published is not None else self.committed()
        self._clean_leftovers(arches, committed)
        retained = self._retained()
        history = self.history(committed)
        number = self.next_generation(published, history)
        prof = dict(prof, generation=number)
        profile.validate(prof, "published profile")
        record = {"format": FORMAT, "generation": number, "time": utc_now(), "user": user or invoking_user(),
                  "message": message or "", "action": action, "digest": profile.digest(prof),
                  "roles": sorted(prof["roles"]), "pins": len(prof["pins"]), "profile": prof}
        record.update(lock.record(prof, published))         # per role/arch: count, changes

        release = siterelease.prepare(self, arches, gpg, baseurl, log)
        data = profile.dumps(prof).encode("utf-8")
        sign = gpg.sign_file if gpg is not None else None
        previous = {}
        local = self.local_packages(arches)
        for arch in arches:
            os.makedirs(os.path.join(self.path, arch, "Packages"), exist_ok=True)
            self._share_noarch(arch, local)
            previous[arch] = self._stage_arch(arch, number, data, sign)

        # nothing a reader uses has changed so far; from here on every step is a rename
        os.makedirs(self._gen_dir(), exist_ok=True)
        write_atomic(self._gen_dir("{:04d}.json".format(number)), _dumps(record))
        entries = [e for e in history if e["generation"] != number] + [self._entry(record)]
        repodata.commit_pending(self.repodata(arches[0]))
        # generation `number` is visible to nodes now: what follows cannot undo that
        try:
            for arch in arches[1:]:
                repodata.commit_pending(self.repodata(arch))
            write_atomic(self._gen_dir(INDEX), _dumps({"format": FORMAT, "generations": entries}))
            if release is not None:
                release.commit()
            if gpg is not None:         # as the packager's OUTDIR/RPM-GPG-KEY-cluster, for gpgkey=URL
                write_atomic(os.path.join(self.top, siterelease.KEY_FILE), gpg.public_key())
            for arch in arches:
                self._collect(arch, previous[arch], retained)
        except Exception as err:        # pylint: disable=broad-except
            why = str(err) if isinstance(err, ClusterError) else "{}: {}".format(type(err).__name__, err)
            warn("generation {} is published, but finishing the publish failed: {}; the next publish "
                 "completes it".format(number, " ".join(why.split())))
        log("generation {}: {} -> {}".format(number, profile.digest(prof)[:12], ", ".join(
            os.path.join(self.path, a) for a in arches)))
        return self._entry(record)

    def _clean_leftovers(self, arches, committed):
        """What a publish killed midway left (under the lock, nothing else uses it): the
        temporaries of write_atomic(), generation files past the published generation
        (written before the renames nodes never saw), staging directories, pending
        repomd.xml files. `committed`: the published generation, None when unknown
        (then every generation file stays)."""
        places = [self._gen_dir(), self._state(), self.top] + [os.path.join(self.path, a, "Packages")
                                                                 for a in arches]
        for directory in places:
            if not os.path.isdir(directory):
                continue
            for name in os.listdir(directory):
                match = GENERATION_FILE.match(name)
                stale = TEMPORARY.match(name) or (
                    directory == self._gen_dir() and match is not None and committed is not None and
                    int(match.group(1)) > committed)
                if stale and (directory != self.top or name.startswith(siterelease.NAME) or
                              name.startswith(siterelease.KEY_FILE)):
                    os.unlink(os.path.join(directory, name))
        for arch in arches:
            top = os.path.join(self.path, arch)
            if not os.path.isdir(top):
                continue
            for name in os.listdir(top):
                if name.startswith(".stage-"):
                    shutil.rmtree(os.path.join(top, name), ignore_errors=True)
            for name in (repodata.PENDING, repodata.PENDING + ".asc"):
                path = os.path.join(self.repodata(arch), name)
                if os.path.exists(path):
                    os.unlink(path)

    def _stage_arch(self, arch, number, data, sign):
        """Index the arch's packages with createrepo_c aside, add the profile, move the new
        files beside the old ones, write (and sign) the pending repomd.xml. Returns the
        file names the current repomd.xml names."""
        top = os.path.join(self.path, arch)
        md = self.repodata(arch)
        os.makedirs(os.path.join(top, "Packages"), exist_ok=True)
        old = []
        if os.path.isfile(os.path.join(md, "repomd.xml")):
            old = [os.path.basename(href) for _, href in repodata.records(md) if href]
        stage = tempfile.mkdtemp(prefix=".stage-", dir=top)
        try:
            _createrepo(top, stage)
            staged = os.path.join(stage, "repodata")
            repomd = repodata.load(staged)
            repodata.put_record(repomd, staged, profile.MDTYPE, PROFILE_FILE, data)
            repomd.set_revision(str(number))
            repodata.move_files(staged, md)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        repodata.write_pending(repomd, md, sign)
        return old

    def _collect(self, arch, previous, retained):
        """Delete metadata files that neither the new repomd.xml nor the KEEP_REPOMD
        before it name (`retained`: the checked retained.json, updated here)."""
        path = self._state("retained.json")
        lists = [previous] + retained.get(arch, [])[:KEEP_REPOMD - 1]
        retained[arch] = lists
        write_atomic(path, _dumps(retained))
        md = self.repodata(arch)
        keep = set(os.path.basename(href) for _, href in repodata.records(md) if href)
        for names in lists:
            keep.update(names)
        for name in os.listdir(md):
            if CONTENT_ADDRESSED.match(name) and name not in keep:
                os.unlink(os.path.join(md, name))

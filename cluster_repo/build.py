"""`cluster-repo build`: sources -> SRPMs and RPMs -> a static, mirrorable repository.

Layout (plain files, served by any HTTP server or rsync mirror):

    OUTDIR/<releasever>/<arch>/Packages/*.rpm   + repodata/ (comps, default cluster profile)
    OUTDIR/<releasever>/SRPMS/*.src.rpm         + repodata/
    OUTDIR/testing/<releasever>/...             the testing channel (--channel testing)
    OUTDIR/RPM-GPG-KEY-cluster                  public key, when signed
    OUTDIR/cluster-release-latest-<releasever>.noarch.rpm   stable address (as EPEL's)

The default cluster profile comes from the project's roles/ and is never pinned: the
site's own profile lives in the site repository (`dnf cluster-master publish`), which
a build never reads or writes.

Published files are never overwritten or deleted, so sites can always go back to an
older build; a package whose sources changed must sort above its published build.
OUTDIR/<...>/<releasever>/.cluster-build.json remembers what was built from which
inputs, so `--update` rebuilds only specs whose inputs changed.

A spec is built for the arches its ExclusiveArch/ExcludeArch allow (none: not for this
target). A hand-written arched spec compiles code, which rpmbuild --target labels but
never cross-compiles: it is built for the build host's arch only. On hosts without an
rpm database (Debian) rpmbuild cannot check BuildRequires; a spec whose pkgconfig(...)
build requirements pkg-config does not find there is skipped with a note."""
import concurrent.futures
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.parse

from dnf_plugin_cluster import progress
from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.names import CLUSTER_ARCHES
from dnf_plugin_cluster.head.signing import Gpg

from . import compsfile, lookaside, metapkg, mpi, stage, template
from .project import Project, rpmspec_query
from .rpmbuild import host_is_rpm_based, rpmbuild
from .targets import get_target

MANIFEST = stage.MANIFEST
KEY_FILE = "RPM-GPG-KEY-cluster"
CHANNELS = ("stable", "testing")
REPO_TEMPLATE = "cluster.repo.in"
BASEURL_RE = re.compile(r"(https?|ftp|file)://[A-Za-z0-9._~:/?\[\]@!&()*+=%$-]+\Z")
PLUGIN_SPEC_NAME = "dnf-plugin-cluster"
PLUGIN_PACKAGES = ("dnf_plugin_cluster", "cluster_repo")
#: The plugin's source tarball besides the two packages: the sdist's files, the man page
#: and completion generator its %build runs and the unit tests its %check runs.
PLUGIN_TREE = ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "LICENSE", "plugins/cluster.py",
               "bin/dnf-cluster", "bin/cluster-repo", "etc/dnf/plugins/cluster.conf",
               "etc/systemd/cluster-node-sync.service", "etc/systemd/cluster-node-sync.timer",
               "tools/gen_docs.py", "tests/test_plan.py",
               # the project's roles, installed as the head node's /etc/cluster/roles
               "roles/compute.yaml", "roles/gpu.yaml", "roles/login.yaml", "roles/master.yaml")
DNF5_PLUGIN_SPEC_NAME = "dnf5-plugin-cluster"
RELEASE_SPEC_NAME = "cluster-release"
#: Defined by the build to raise cluster-release's Release when only its .repo file or key
#: changed: `Release: 1%{?cluster_release_bump}%{?dist}`.
RELEASE_BUMP_MACRO = "cluster_release_bump"
DNF5_PLUGIN_TREE = (("dnf5-plugin/CMakeLists.txt", "CMakeLists.txt"),
                    ("dnf5-plugin/cluster_cmd_plugin.cpp", "cluster_cmd_plugin.cpp"),
                    ("dnf5-plugin/cluster_image_locks.cpp", "cluster_image_locks.cpp"),
                    ("dnf5-plugin/cluster-image-locks.conf", "cluster-image-locks.conf"), ("LICENSE", "LICENSE"))
PKGCONFIG_RE = re.compile(r"^pkgconfig\(([^)\s]+)\)")
ARCH_QUERY = "[%{exclusivearch} ]|[%{excludearch} ]\\n"


def arch_allowed(line, arch):
    """Whether a spec's ExclusiveArch/ExcludeArch (an ARCH_QUERY line) admit `arch`."""
    exclusive, exclude = (part.split() for part in line.split("|"))
    return (not exclusive or arch in exclusive) and arch not in exclude


def _pkgconfig_exists(name):
    try:
        return subprocess.call(["pkg-config", "--exists", name]) == 0
    except OSError:
        return False


def tree_dir(outdir, target, channel="stable"):
    """Where one channel of one release lives: OUTDIR[/testing]/<releasever>."""
    parts = [outdir] + (["testing"] if channel == "testing" else []) + [target.releasever]
    return os.path.join(*parts)


def evr_compare(a, b):
    """rpm's own ordering of "[epoch:]version-release" strings."""
    import rpm

    def split(evr):
        epoch, _, rest = evr.rpartition(":")
        version, _, release = rest.rpartition("-")
        return (epoch or "0", version, release)
    return rpm.labelCompare(split(a), split(b))


def package_files(root, packages):
    """Every file of the Python packages (relative paths, sorted), bytecode left out."""
    out = []
    for package in packages:
        for top, dirs, files in os.walk(os.path.join(root, package)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            out += [os.path.relpath(os.path.join(top, f), root) for f in files if not f.endswith((".pyc", ".pyo"))]
    return sorted(out)


def _deterministic_tar(root, files, prefix, dest):
    """A tar.gz whose bytes depend only on the files' contents (for stable hashes).
    `files`: paths under root, or (path under root, name in the tarball) pairs."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for rel, member in sorted(f if isinstance(f, tuple) else (f, f) for f in files):
            with open(os.path.join(root, rel), "rb") as handle:
                data = handle.read()
            info = tarfile.TarInfo("{}/{}".format(prefix, member))
            info.size, info.mtime, info.uid, info.gid = len(data), 0, 0, 0
            info.mode = 0o755 if os.access(os.path.join(root, rel), os.X_OK) else 0o644
            tar.addfile(info, io.BytesIO(data))
    with open(dest, "wb") as out:
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
            gz.write(raw.getvalue())


def project_tarball(root, name):
    """(stem, files) of the tarball `cluster-repo build` makes from the tree for one of the
    project's own specs (Source0 `STEM-VERSION.tar.gz`), or None for any other spec."""
    if name == PLUGIN_SPEC_NAME:
        return "dnf-plugin-cluster", list(PLUGIN_TREE) + package_files(root, PLUGIN_PACKAGES)
    if name == DNF5_PLUGIN_SPEC_NAME:
        return "dnf5-plugin-cluster", list(DNF5_PLUGIN_TREE)
    return None


def write_project_tarball(root, name, workdir, version, files=None):
    """Write the deterministic tarball of project_tarball(root, name) into workdir
    (the same bytes for the same tree); returns its path."""
    stem, listed = project_tarball(root, name)
    prefix = "{}-{}".format(stem, version)
    path = os.path.join(workdir, prefix + ".tar.gz")
    _deterministic_tar(root, listed if files is None else files, prefix, path)
    return path


#: The project's own specs whose SRPM `cluster-repo srpm` (`make srpm`) makes from the tree.
SRPM_SPECS = (PLUGIN_SPEC_NAME, DNF5_PLUGIN_SPEC_NAME)
#: rpmbuild macros for an SRPM whose payload (tarball and spec) depends on the tree alone:
#: build time and file times from the newest %changelog entry, no build host name. (The
#: header still records the temporary _topdir in the expanded %build, as mock records its
#: /builddir: pointing _builddir at a fixed path would make rpmbuild create it on the host.)
REPRODUCIBLE_MACROS = {"source_date_epoch_from_changelog": "1", "use_source_date_epoch_as_buildtime": "1",
                       "clamp_mtime_to_source_date_epoch": "1", "_buildhost": "reproducible"}


def project_srpm(project, name, outdir, target):
    """The SRPM of one of the project's own specs, reproducibly from the tree: the
    deterministic tarball (Source0) and `rpmbuild -bs` with the target's macros, both
    into outdir. Returns (tarball path, SRPM path)."""
    if name not in SRPM_SPECS:
        raise ClusterError("no SRPM of '{}' is made from the tree: choose from {}".format(
            name, ", ".join(SRPM_SPECS)))
    spec = os.path.join(project.specs_dir, name + ".spec")
    version = rpmspec_query(spec, target, "%{version}\\n", srpm=True)[0]
    os.makedirs(outdir, exist_ok=True)
    tarball = write_project_tarball(project.root, name, outdir, version)
    written = rpmbuild(spec, "-bs", srpmdir=outdir, sourcedir=outdir,
                       defines=dict(target.macros, **REPRODUCIBLE_MACROS))
    return tarball, written[0]


def file_url(path):
    """The file:// URL of a local directory, percent-encoded: dnf splits a baseurl at
    blanks and commas and expands `$names` in it, so a path with any of them (an OUTDIR
    with spaces) would otherwise point nodes elsewhere."""
    return "file://" + urllib.parse.quote(os.path.abspath(path), safe="/")


def check_baseurl(url):
    """A base URL that goes into the .repo file as it is: one line of URL characters
    (`$releasever`-style dnf variables and %-escapes allowed), no blanks or commas."""
    if not isinstance(url, str) or not BASEURL_RE.match(url):
        raise ClusterError("--baseurl {!r} must be an http(s), ftp or file URL of URL characters only: no blanks, "
                           "commas, quotes, '#' or line breaks (percent-encode them, e.g. %20 for a space)"
                           .format(url))
    return url


def repo_file_text(baseurl, signed):
    """The .repo file cluster-release installs, from templates/cluster.repo.in."""
    check = "1" if signed else "0"
    return template.fill(REPO_TEMPLATE, {
        "baseurl": check_baseurl(baseurl).rstrip("/"),
        "gpgcheck": check,
        "gpgkey": "gpgkey=file:///etc/pki/rpm-gpg/{}".format(KEY_FILE) if signed else "",
    })


class BuildOptions(object):
    def __init__(self, outdir, target="el9", arches=CLUSTER_ARCHES, channel="stable", update=False,
                 baseurl=None, sign_key=None, gnupghome=None, log=None, jobs=None, base_repos=(), force=False,
                 warn=None, cache=None, detail=None):
        if channel not in CHANNELS:
            raise ClusterError("unknown channel '{}' (one of {})".format(channel, ", ".join(CHANNELS)))
        self.outdir = os.path.abspath(outdir)
        self.target = get_target(target)
        self.arches = tuple(arches)
        self.channel = channel
        self.update = update
        self.baseurl_given = baseurl is not None
        self.baseurl = check_baseurl(baseurl) if baseurl is not None else file_url(self.outdir)
        self.sign_key = sign_key
        self.gnupghome = os.path.abspath(gnupghome) if gnupghome else None
        self.log = log or (lambda message: None)
        self.warn = warn or self.log
        self.detail = detail or (lambda message: None)      # cluster-repo -v
        self.jobs = jobs or os.cpu_count() or 1
        self.base_repos = tuple(base_repos)     # closure check against these ($basearch allowed)
        self.force = force                      # build into a non-empty directory build did not make
        #: the lookaside cache the tools' verified tarballs are read from (never the network)
        self.cache = os.path.abspath(cache or lookaside.default_cache())

    @property
    def tree(self):
        return tree_dir(self.outdir, self.target, self.channel)


class Builder(object):
    def __init__(self, project, options):
        self.project = project if isinstance(project, Project) else Project(project)
        self.opts = options
        self.gpg = Gpg(options.sign_key, options.gnupghome) if options.sign_key else None
        self.report = {"built": [], "kept": [], "added": [], "skipped": [], "resigned": 0}
        self._mpi_macros = {}
        self.stage = None       # stage.Stage while building: every write goes there

    @property
    def tree(self):
        """The release tree being written: the stage's copy while building."""
        return self.stage.tree if self.stage is not None else self.opts.tree

    @property
    def manifest_path(self):
        return os.path.join(self.tree, MANIFEST)

    # --- inputs --------------------------------------------------------------------------

    def _sources(self, name):
        """(digest parts, writer) for a spec's sources. The digest comes from the inputs
        alone, so an unchanged spec is recognised without rpmspec or writing anything;
        writer(workdir, version) puts the source files in place for rpmbuild."""
        root = self.project.root
        tarball = project_tarball(root, name)
        if tarball is not None:
            files = tarball[1]
            parts = []
            for rel, member in (f if isinstance(f, tuple) else (f, f) for f in files):
                with open(os.path.join(root, rel), "rb") as handle:
                    parts.append(member.encode() + b"\0" + handle.read())

            def write_tarball(workdir, version):
                write_project_tarball(root, name, workdir, version, files)
            return parts, write_tarball
        tool_dir = os.path.join(self.project.specs_dir, name)
        if os.path.isfile(os.path.join(tool_dir, name + ".spec")):
            return self._tool_sources(self.project.tool(name))
        if name == RELEASE_SPEC_NAME:
            outputs = {"cluster.repo": repo_file_text(self.opts.baseurl, self.gpg is not None).encode()}
            if self.gpg is not None:
                outputs[KEY_FILE] = self.gpg.public_key()
        else:
            outputs = {}
            extra = os.path.join(self.project.specs_dir, name)
            if os.path.isdir(extra):
                for fname in sorted(os.listdir(extra)):
                    with open(os.path.join(extra, fname), "rb") as handle:
                        outputs[fname] = handle.read()

        def write_files(workdir, version):
            for fname, data in outputs.items():
                with open(os.path.join(workdir, fname), "wb") as handle:
                    handle.write(data)
        return [f.encode() + b"\0" + d for f, d in sorted(outputs.items())], write_files

    def _tool_sources(self, tool):
        """A tool's inputs: the files beside its spec and its sources lines (a tarball is
        known by its SHA512), each tarball checked against its line in the cache now, so
        a missing or altered one stops the build before anything is built."""
        beside = tool.beside()
        cached = tool.verified_files(self.opts.cache)
        parts = []
        for fname in beside:
            with open(os.path.join(tool.dir, fname), "rb") as handle:
                parts.append(fname.encode() + b"\0" + handle.read())
        parts += [entry.text().encode() for entry in tool.entries()]

        def write_files(workdir, version):
            for fname in beside:
                shutil.copyfile(os.path.join(tool.dir, fname), os.path.join(workdir, fname))
            for fname, path in cached.items():
                shutil.copyfile(path, os.path.join(workdir, fname))
                if lookaside.sha512_file(os.path.join(workdir, fname)) != os.path.basename(os.path.dirname(path)):
                    raise ClusterError("{} changed in the lookaside cache during the build".format(fname), path)
        return parts, write_files

    def _defines(self, spec):
        """The target's macros, and for a tool on a host without the target's MPI
        packages the test world's MPI macros (cluster_repo.mpi)."""
        if os.path.dirname(spec) == self.project.specs_dir:
            return self.opts.target.macros
        return dict(self.opts.target.macros, **self._mpi_macros)

    def _spec_info(self, spec, stem, defines=None):
        target = self.opts.target
        line = rpmspec_query(spec, target, "%{name} %{version} %{release} %{epochnum}\\n", srpm=True,
                             defines=defines)[0]
        name, version, release, epoch = line.split()
        if name != stem:
            raise ClusterError("the spec's Name is '{}': name the file {}.spec".format(name, name), spec)
        arches = set(rpmspec_query(spec, target, "%{arch}\\n", arch=self.opts.arches[0]))
        evr = "{}{}-{}".format("" if epoch in ("0", "(none)") else epoch + ":", version, release)
        return version, evr, arches == {"noarch"}

    def _build_arches(self, spec, noarch):
        """(arches to build, or [] with the reason it is not built here; the arches it is
        meant for but not built here and why, or None)."""
        if noarch:
            return [self.opts.arches[0]], None, None
        target = self.opts.target
        line = rpmspec_query(spec, target, ARCH_QUERY, srpm=True)[0]
        arches = [a for a in self.opts.arches if arch_allowed(line, a)]
        if not arches:
            return [], "ExclusiveArch/ExcludeArch leave no arch of {} for {}".format(
                ", ".join(self.opts.arches), target.name), None
        partial = None
        if not metapkg.is_generated(spec):
            host = os.uname().machine
            if host not in arches:
                return [], "it compiles code and this {} host cannot build {}".format(host, ", ".join(arches)), None
            others = [a for a in arches if a != host]
            if others:
                partial = (others, "it compiles code and this {} host cannot build {}".format(host, ", ".join(others)))
            arches = [host]
            if not host_is_rpm_based():
                missing = [m.group(1) for m in (PKGCONFIG_RE.match(r) for r in
                                                rpmspec_query(spec, target, option="--buildrequires"))
                           if m and not _pkgconfig_exists(m.group(1))]
                if missing:
                    return [], "this host lacks its build requirement{} {}".format(
                        "s" if len(missing) > 1 else "", ", ".join("pkgconfig({})".format(n) for n in missing)), None
        return arches, None, partial

    # --- manifest -----------------------------------------------------------------------

    def _load_manifest(self):
        if not os.path.exists(self.manifest_path):
            return {"format": 1, "target": self.opts.target.name, "packages": {}}
        try:
            with open(self.manifest_path) as handle:
                data = json.load(handle)
        except ValueError as err:
            raise ClusterError("corrupt build manifest: {}".format(err), self.manifest_path)
        if data.get("target") != self.opts.target.name:
            raise ClusterError("this tree was built for target '{}', not '{}'".format(
                data.get("target"), self.opts.target.name), self.manifest_path)
        return data

    def _save_manifest(self, data):
        tmp = self.manifest_path + ".tmp"
        with open(tmp, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.rename(tmp, self.manifest_path)

    # --- build ----------------------------------------------------------------------------

    def build(self):
        opts, log = self.opts, self.opts.log
        stage.check_outdir(opts.outdir, opts.force)  # before anything runs: the lock checks again
        log("lint: comps, metapackages, specs")
        self.project.check(render_check=False)      # nothing is written before the sources are sound
        changed, _ = self.project.render()
        for path in changed:
            log("rendered {}".format(os.path.relpath(path, self.project.root)))
        # everything from here is written aside and moved into OUTDIR by renames at the end,
        # once every spec built and the closure check passed: a failure publishes nothing
        with stage.Stage(opts.outdir, opts.tree, force=opts.force, log=log) as self.stage:
            try:
                manifest = self._load_manifest()
                self._sign_published(manifest)
                self._build_all(manifest)
                self._save_manifest(manifest)
                self._index()
                top_files = ([KEY_FILE] if self.gpg is not None else []) + self._latest_release(manifest)
                self._check_closure(manifest)
                self.stage.commit(top_files)
            finally:
                self.stage = None
        self.report["warnings"] = self._default_warnings()
        return self.report

    def _build_all(self, manifest):
        opts = self.opts
        for arch in opts.arches:
            os.makedirs(os.path.join(self.tree, arch, "Packages"), exist_ok=True)
        os.makedirs(os.path.join(self.tree, "SRPMS"), exist_ok=True)
        work = tempfile.mkdtemp(prefix="cluster-build-")
        try:
            self._mpi_macros = mpi.build_macros(os.path.join(work, "mpi"), opts.log) if self.project.tools() else {}
            todo = [job for job in (self._plan_spec(spec, manifest) for spec in self.project.spec_files()) if job]
            # rpmbuild runs are independent: run them side by side
            with progress.Counter("building spec", len(todo)) as bar, \
                    concurrent.futures.ThreadPoolExecutor(max(1, opts.jobs)) as pool:
                futures = [pool.submit(self._build_spec, job, work, bar) for job in todo]
                _, pending = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
                for future in pending:          # a failure stops the specs not yet started
                    future.cancel()
            failed = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
            if failed:
                raise failed[0]
            built = [future.result() for future in futures]
            written = [path for job in built for path in job.get("written", ())]
            if self.gpg is not None and written:
                self.gpg.sign_rpms(written)
            for job in built:
                self._publish_spec(job, manifest)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _signer(self):
        """The fingerprint of the signing key (None: unsigned build)."""
        if self.gpg is None:
            return None
        for line in self.gpg.run(["--with-colons", "--fingerprint", self.gpg.key]).decode().splitlines():
            if line.startswith("fpr:"):
                return line.split(":")[9]
        raise ClusterError("no public key '{}' in the GnuPG keyring".format(self.gpg.key))

    def _sign_published(self, manifest):
        """A tree first built unsigned (or with another key) and now built with --sign-key:
        every RPM already published is signed with the key too (its payload unchanged), so
        nodes that check signatures install old builds as well as new ones. The stage's
        copies (hard links) become files of their own first: the published ones stay as they
        are until the swap. Runs before this build's RPMs (signed as they are made) arrive."""
        signer = self._signer()
        previous = manifest.get("signer", "unknown")
        manifest["signer"] = signer
        if signer is None or previous == signer:
            return
        rpms = []
        for sub in list(self.opts.arches) + ["SRPMS"]:
            top = os.path.join(self.tree, sub, "Packages") if sub != "SRPMS" else os.path.join(self.tree, sub)
            for name in sorted(os.listdir(top)) if os.path.isdir(top) else []:
                path = os.path.join(top, name)
                if name.endswith(".rpm") and os.path.isfile(path):
                    tmp = os.path.join(top, ".{}.tmp".format(name))
                    shutil.copy2(path, tmp)
                    os.rename(tmp, path)
                    rpms.append(path)
        if rpms:
            self.gpg.sign_rpms(rpms)
            self.report["resigned"] = len(rpms)
            self.opts.log("signed {} published RPM(s) with the new key".format(len(rpms)))

    def _check_closure(self, manifest):
        """Real dnf resolves every package and role against the base repositories, in the
        stage, before anything is published; a spec this host did not build for an arch
        (its "not built" line said so) is left out of that arch's check."""
        opts = self.opts
        if not opts.base_repos:
            opts.warn("closure: not checked: pass the distribution's repositories with --base-repo URL "
                      "(repeatable, $basearch allowed) to check every package installs")
            return
        from . import closure
        problems, _ = closure.check_tree(self.project, self.tree, opts.target, opts.arches, opts.base_repos,
                                         manifest)
        if problems:
            raise closure.ClosureFailed(problems)
        opts.log("closure: every package and every role installs on every arch")

    def _default_warnings(self):
        """What a node would get that nobody asked for: a file:// address and no signatures."""
        opts, out = self.opts, []
        if not opts.baseurl_given:
            out.append("cluster-release points nodes at {} (a path on this host): rebuild with --baseurl URL "
                       "(where OUTDIR is served) before nodes use it; its Release goes up by itself"
                       .format(opts.baseurl))
        if self.gpg is None:
            out.append("unsigned: cluster-release sets gpgcheck=0, so nodes install whatever the repository "
                       "serves; rebuild with --sign-key KEYID [--gnupghome DIR] to sign every package (the "
                       "published ones too) and repomd.xml; its Release goes up by itself")
        return out

    def _latest_release(self, manifest):
        """cluster-release at a stable address at the top of OUTDIR (for the stable
        channel): OUTDIR/cluster-release-latest-<releasever>.noarch.rpm, written in the
        stage and renamed into place with the tree. Returns the names written."""
        entry = manifest["packages"].get("cluster-release")
        if self.opts.channel != "stable" or entry is None:
            return []
        rpms = [f for f in entry["files"] if f.endswith(".noarch.rpm") and "/Packages/" in f]
        if not rpms:
            return []
        name = "cluster-release-latest-{}.noarch.rpm".format(self.opts.target.releasever)
        shutil.copy2(os.path.join(self.tree, sorted(rpms)[0]), self.stage.path(name))
        return [name]

    def _plan_spec(self, spec, manifest):
        """The build job of a spec, or None when --update finds it unchanged and published."""
        name = os.path.basename(spec)[:-len(".spec")]
        with open(spec, "rb") as handle:
            text = handle.read()
        parts, write_sources = self._sources(name)
        if os.path.dirname(spec) != self.project.specs_dir:
            # a tool's MPI families the target lacks (none on the real targets: no part, so
            # trees built before the target facts existed keep their digests)
            lacking = ["{}:{}".format(arch, fam) for arch in self.opts.arches
                       for fam in self.opts.target.mpi_missing(arch)]
            parts = parts + ([("mpi-without " + " ".join(lacking)).encode()] if lacking else [])
        # Signing alone changes no package (published ones get signed in place, see
        # _sign_published), so a digest taken signed or unsigned counts as the same inputs;
        # cluster-release's .repo file and key are among its sources, so there it counts.
        variants = dict((flag, hashlib.sha256(b"\0\0".join([text, self.opts.target.name.encode(), flag] + parts))
                         .hexdigest()) for flag in (b"signed", b"unsigned"))
        inputs = variants[b"signed" if self.gpg else b"unsigned"]
        prev = manifest["packages"].get(name)
        same = prev is not None and prev["inputs"] in variants.values()
        if self.opts.update and same and self._published(prev):
            self.report["kept"].append(name)
            self.opts.detail("unchanged: {} (its inputs are those of the published {})".format(name, prev["evr"]))
            return None
        return {"spec": spec, "name": name, "inputs": inputs, "prev": prev, "same": same,
                "write_sources": write_sources}

    def _build_spec(self, job, work, bar=None):
        """SRPM and binary RPMs of one spec into the work directory (run in a thread)."""
        opts, spec, name, prev = self.opts, job["spec"], job["name"], job["prev"]
        if bar is not None:
            bar.step(name)
        version, evr, noarch = self._spec_info(spec, name)
        arches, why_not, partial = self._build_arches(spec, noarch)
        if not arches:
            return dict(job, skipped=why_not)
        job = dict(job, partial=partial)
        defines = dict(self._defines(spec))
        # unchanged inputs rebuild what was published, the bump of an earlier build included
        bump = prev.get("bump") if prev is not None and job["same"] and name == RELEASE_SPEC_NAME else None
        if prev is not None and not job["same"] and evr_compare(evr, prev["evr"]) <= 0:
            if name != RELEASE_SPEC_NAME:
                raise ClusterError("{} changed but {} does not sort above the published {}: "
                                   "bump its Release (or Version)".format(name, evr, prev["evr"]), spec)
            bump = self._release_bump(spec, name, evr, prev["evr"])
        if bump:
            defines[RELEASE_BUMP_MACRO] = bump
            version, evr, noarch = self._spec_info(spec, name, {RELEASE_BUMP_MACRO: bump})
            if not job["same"]:
                opts.log("{}: its base URL or key changed; Release goes up to {} (above the published {})".format(
                    name, evr, prev["evr"]))
        job = dict(job, bump=bump)
        srcdir = os.path.join(work, name + "-sources")
        os.makedirs(srcdir)
        job["write_sources"](srcdir, version)
        out = os.path.join(work, name + "-out")
        extra = ["--with", "gpgkey"] if self.gpg else []
        per_arch = dict((arch, self._arch_defines(spec, arch, defines)) for arch in arches)
        # the SRPM leaves out a family only where no arch built here has it
        common = dict((k, v) for k, v in per_arch[arches[0]].items() if all(
            d.get(k) == v for d in per_arch.values()))
        opts.detail("rpmbuild -bs {}".format(os.path.relpath(spec, self.project.root)))
        written = rpmbuild(spec, "-bs", srpmdir=out, sourcedir=srcdir, defines=common, extra_args=extra)
        for arch in arches:
            opts.detail("rpmbuild -bb --target {} {}".format(arch, os.path.relpath(spec, self.project.root)))
            written += rpmbuild(spec, "-bb", rpmdir=out, sourcedir=srcdir, target=arch, defines=per_arch[arch],
                                extra_args=extra)
        without = self._mpi_left_out(spec, arches, defines)
        return dict(job, evr=evr, noarch=noarch, written=written, arches=arches, without=without,
                    native=not noarch and not metapkg.is_generated(spec))

    def _arch_defines(self, spec, arch, defines):
        """A tool's defines on `arch`: `--without FAMILY` for an MPI family the target
        does not ship there (targets.Target.mpi)."""
        if os.path.dirname(spec) == self.project.specs_dir:
            return defines
        return dict(defines, **self.opts.target.mpi_without(arch))

    def _mpi_left_out(self, spec, arches, defines):
        """{family: why} of a tool's NAME-FAMILY subpackages this build leaves out: the
        target lacks the family on an arch built, or this host lacks its compiler. Each
        target-lacking one gets its line in the log."""
        if os.path.dirname(spec) == self.project.specs_dir:
            return {}
        target, name = self.opts.target, os.path.basename(spec)[:-len(".spec")]
        names = set(rpmspec_query(spec, target, "%{name}\\n", arch=arches[0],
                                  defines=dict((k, v) for k, v in defines.items() if not k.startswith("_without_"))))
        out = {}
        for family in mpi.FAMILIES:
            if mpi.package(name, family) not in names:
                continue                # not built per MPI family
            lacking = [arch for arch in arches if family in target.mpi_missing(arch)]
            if lacking:
                out[family] = "{} ships no {} on {}".format(target.name, family, ", ".join(lacking))
                self.opts.log("not built for {}: {} ({})".format(target.name, mpi.package(name, family),
                                                                  out[family]))
            elif "_without_" + family in defines:
                out[family] = "this host has no {} compiler".format(family)
        return out

    def _release_bump(self, spec, name, evr, published):
        """The value of RELEASE_BUMP_MACRO (".N") that makes cluster-release, whose .repo
        file or key changed with its spec unchanged, sort above the published build:
        Release 1.el9 -> 1.1.el9 -> 1.2.el9; a Release bumped by hand (2.el9) sorts above all."""
        dist = self.opts.target.macros.get("dist", "")
        version, _, release = evr.rpartition("-")
        base = release[:-len(dist)] if dist and release.endswith(dist) else release
        for serial in range(1, 10000):
            if evr_compare("{}-{}.{}{}".format(version, base, serial, dist), published) > 0:
                return ".{}".format(serial)
        raise ClusterError("{} {} cannot be raised above the published {}: bump its Release".format(
            name, evr, published), spec)

    def _publish_spec(self, job, manifest):
        """Copy a built spec's files into the tree (published files are never replaced)."""
        opts = self.opts
        if job.get("skipped"):
            self.report["skipped"].append(job["name"])
            opts.log("not built: {} ({})".format(job["name"], job["skipped"]))
            return
        if job.get("partial"):
            opts.log("not built for {}: {} ({})".format(", ".join(job["partial"][0]), job["name"], job["partial"][1]))
        files = []
        for path in job["written"]:
            base = os.path.basename(path)
            if base.endswith(".src.rpm"):
                dests = ["SRPMS"]
            elif base.endswith(".noarch.rpm"):
                dests = ["{}/Packages".format(a) for a in opts.arches]
            else:
                dests = ["{}/Packages".format(base.rsplit(".", 2)[-2])]
            for dest in dests:
                rel = os.path.join(dest, base)
                target = os.path.join(self.tree, rel)
                files.append(rel)
                if os.path.exists(target):
                    continue            # published files are immutable
                shutil.copy2(path, target)
                self.report["added"].append(rel)
        name, evr = job["name"], job["evr"]
        self.report["built"].append(name)
        opts.log("built {}-{} ({})".format(name, evr, "noarch" if job["noarch"] else ", ".join(job["arches"])))
        entry = {"evr": evr, "inputs": job["inputs"], "native": job["native"],
                 "arches": ["noarch"] if job["noarch"] else list(job["arches"]), "files": sorted(set(files))}
        if job.get("bump"):
            entry["bump"] = job["bump"]         # RELEASE_BUMP_MACRO, for rebuilds of the same inputs
        if job.get("without"):
            entry["without"] = sorted(job["without"])   # MPI families left out (closure leaves them out too)
        manifest["packages"][name] = entry

    def _published(self, entry):
        """Every file of a manifest entry is in the tree, for every arch being built."""
        arches = entry.get("arches", [])
        wanted = set(self.opts.arches)
        if entry.get("native"):                 # built on hosts of its own arch only
            wanted &= set([os.uname().machine])
        return (arches == ["noarch"] or wanted <= set(arches)) and all(
            os.path.exists(os.path.join(self.tree, f)) for f in entry["files"])

    def _index(self):
        """createrepo_c per arch (with comps) and for SRPMS, the cluster profile from
        roles/ into every arch repository, then the repomd.xml signatures."""
        opts = self.opts
        work = tempfile.mkdtemp(prefix="cluster-comps-")
        try:
            comps_file = os.path.join(work, "comps.xml")
            with open(comps_file, "w") as out:
                out.write(self.project.merged_comps_xml())
            for sub in list(opts.arches) + ["SRPMS"]:
                cmd = ["createrepo_c", "--quiet", "--no-database", "--general-compress-type=gz"]
                if sub != "SRPMS":
                    cmd += ["-g", comps_file]
                repo = os.path.join(self.tree, sub)
                if os.path.isdir(os.path.join(repo, "repodata")):
                    cmd.append("--update")
                subprocess.run(cmd + [repo], check=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if os.path.isdir(self.project.roles_dir):
            self._publish_profile()
        if self.gpg is not None:
            for sub in list(opts.arches) + ["SRPMS"]:
                self.gpg.sign_file(os.path.join(self.tree, sub, "repodata", "repomd.xml"))
            with open(self.stage.path(KEY_FILE), "wb") as out:
                out.write(self.gpg.public_key())
        opts.log("indexed {}".format(opts.tree))        # (in the stage until the swap)

    def _publish_profile(self):
        """The default profile from the project's roles/, never pinned (pins are the
        site's, in its own repository)."""
        from dnf_plugin_cluster import profile
        from dnf_plugin_cluster.head import publish
        family = self.opts.target.family
        prof = profile.build(profile.load_roles(self.project.roles_dir),
                             compsfile.merge(self.project.comps_docs()), self.opts.arches,
                             known=lambda arch: self.project.known(family, arch))
        publish.add(self.tree, prof)
        self.opts.log("cluster profile: roles {}; {} pins".format(", ".join(sorted(prof["roles"])),
                                                                  len(prof["pins"])))


def build(project_root, options):
    return Builder(project_root, options).build()

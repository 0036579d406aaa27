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

from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.names import CLUSTER_ARCHES
from dnf_plugin_cluster.head.signing import Gpg

from . import compsfile, lookaside, metapkg, mpi, template
from .project import Project, rpmspec_query
from .rpmbuild import host_is_rpm_based, rpmbuild
from .targets import get_target

MANIFEST = ".cluster-build.json"
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
               "tools/gen_docs.py", "tests/test_plan.py")
DNF5_PLUGIN_SPEC_NAME = "dnf5-plugin-cluster"
DNF5_PLUGIN_TREE = (("dnf5-plugin/CMakeLists.txt", "CMakeLists.txt"),
                    ("dnf5-plugin/cluster_cmd_plugin.cpp", "cluster_cmd_plugin.cpp"), ("LICENSE", "LICENSE"))
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
                 baseurl=None, sign_key=None, gnupghome=None, log=None, jobs=None, cache=None):
        if channel not in CHANNELS:
            raise ClusterError("unknown channel '{}' (one of {})".format(channel, ", ".join(CHANNELS)))
        self.outdir = os.path.abspath(outdir)
        self.target = get_target(target)
        self.arches = tuple(arches)
        self.channel = channel
        self.update = update
        self.baseurl = check_baseurl(baseurl) if baseurl is not None else file_url(self.outdir)
        self.sign_key = sign_key
        self.gnupghome = os.path.abspath(gnupghome) if gnupghome else None
        self.log = log or (lambda message: None)
        self.jobs = jobs or os.cpu_count() or 1
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
        self.manifest_path = os.path.join(options.tree, MANIFEST)
        self.report = {"built": [], "kept": [], "added": [], "skipped": []}
        self._mpi_macros = {}

    # --- inputs --------------------------------------------------------------------------

    def _sources(self, name):
        """(digest parts, writer) for a spec's sources. The digest comes from the inputs
        alone, so an unchanged spec is recognised without rpmspec or writing anything;
        writer(workdir, version) puts the source files in place for rpmbuild."""
        root = self.project.root
        tarballs = {PLUGIN_SPEC_NAME: ("dnf-plugin-cluster", lambda: list(PLUGIN_TREE) +
                                       package_files(root, PLUGIN_PACKAGES)),
                    DNF5_PLUGIN_SPEC_NAME: ("dnf5-plugin-cluster", lambda: list(DNF5_PLUGIN_TREE))}
        if name in tarballs:
            stem, files = tarballs[name][0], tarballs[name][1]()
            parts = []
            for rel, member in (f if isinstance(f, tuple) else (f, f) for f in files):
                with open(os.path.join(root, rel), "rb") as handle:
                    parts.append(member.encode() + b"\0" + handle.read())

            def write_tarball(workdir, version):
                prefix = "{}-{}".format(stem, version)
                _deterministic_tar(root, files, prefix, os.path.join(workdir, prefix + ".tar.gz"))
            return parts, write_tarball
        tool_dir = os.path.join(self.project.specs_dir, name)
        if os.path.isfile(os.path.join(tool_dir, name + ".spec")):
            return self._tool_sources(self.project.tool(name))
        if name == "cluster-release":
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

    def _spec_info(self, spec, stem):
        target = self.opts.target
        line = rpmspec_query(spec, target, "%{name} %{version} %{release} %{epochnum}\\n", srpm=True)[0]
        name, version, release, epoch = line.split()
        if name != stem:
            raise ClusterError("the spec's Name is '{}': name the file {}.spec".format(name, name), spec)
        arches = set(rpmspec_query(spec, target, "%{arch}\\n", arch=self.opts.arches[0]))
        evr = "{}{}-{}".format("" if epoch in ("0", "(none)") else epoch + ":", version, release)
        return version, evr, arches == {"noarch"}

    def _build_arches(self, spec, noarch):
        """(arches to build, or [] with the reason it is not built here)."""
        if noarch:
            return [self.opts.arches[0]], None
        target = self.opts.target
        line = rpmspec_query(spec, target, ARCH_QUERY, srpm=True)[0]
        arches = [a for a in self.opts.arches if arch_allowed(line, a)]
        if not arches:
            return [], "ExclusiveArch/ExcludeArch leave no arch of {} for {}".format(
                ", ".join(self.opts.arches), target.name)
        if not metapkg.is_generated(spec):
            host = os.uname().machine
            if host not in arches:
                return [], "it compiles code and this {} host cannot build {}".format(host, ", ".join(arches))
            arches = [host]
            if not host_is_rpm_based():
                missing = [m.group(1) for m in (PKGCONFIG_RE.match(r) for r in
                                                rpmspec_query(spec, target, option="--buildrequires"))
                           if m and not _pkgconfig_exists(m.group(1))]
                if missing:
                    return [], "this host lacks its build requirement{} {}".format(
                        "s" if len(missing) > 1 else "", ", ".join("pkgconfig({})".format(n) for n in missing))
        return arches, None

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
        log("lint: comps, metapackages, specs")
        self.project.check(render_check=False)      # nothing is written before the sources are sound
        changed, _ = self.project.render()
        for path in changed:
            log("rendered {}".format(os.path.relpath(path, self.project.root)))
        manifest = self._load_manifest()
        for arch in opts.arches:
            os.makedirs(os.path.join(opts.tree, arch, "Packages"), exist_ok=True)
        os.makedirs(os.path.join(opts.tree, "SRPMS"), exist_ok=True)
        work = tempfile.mkdtemp(prefix="cluster-build-")
        try:
            self._mpi_macros = mpi.build_macros(os.path.join(work, "mpi"), log) if self.project.tools() else {}
            todo = [job for job in (self._plan_spec(spec, manifest) for spec in self.project.spec_files()) if job]
            # rpmbuild runs are independent: run them side by side, publish nothing until all succeeded
            with concurrent.futures.ThreadPoolExecutor(max(1, opts.jobs)) as pool:
                futures = [pool.submit(self._build_spec, job, work) for job in todo]
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
        self._save_manifest(manifest)
        self._index()
        self._latest_release(manifest)
        return self.report

    def _latest_release(self, manifest):
        """cluster-release at a stable address at the top of OUTDIR (for the stable
        channel): OUTDIR/cluster-release-latest-<releasever>.noarch.rpm, replaced by a
        rename so a download never sees half a file."""
        entry = manifest["packages"].get("cluster-release")
        if self.opts.channel != "stable" or entry is None:
            return
        rpms = [f for f in entry["files"] if f.endswith(".noarch.rpm") and "/Packages/" in f]
        if not rpms:
            return
        target = os.path.join(self.opts.outdir, "cluster-release-latest-{}.noarch.rpm".format(
            self.opts.target.releasever))
        tmp = target + ".tmp"
        shutil.copy2(os.path.join(self.opts.tree, sorted(rpms)[0]), tmp)
        os.rename(tmp, target)

    def _plan_spec(self, spec, manifest):
        """The build job of a spec, or None when --update finds it unchanged and published."""
        name = os.path.basename(spec)[:-len(".spec")]
        with open(spec, "rb") as handle:
            digest = [handle.read(), self.opts.target.name.encode(), b"signed" if self.gpg else b"unsigned"]
        parts, write_sources = self._sources(name)
        inputs = hashlib.sha256(b"\0\0".join(digest + parts)).hexdigest()
        prev = manifest["packages"].get(name)
        if self.opts.update and prev is not None and prev["inputs"] == inputs and self._published(prev):
            self.report["kept"].append(name)
            return None
        return {"spec": spec, "name": name, "inputs": inputs, "prev": prev, "write_sources": write_sources}

    def _build_spec(self, job, work):
        """SRPM and binary RPMs of one spec into the work directory (run in a thread)."""
        opts, spec, name, prev = self.opts, job["spec"], job["name"], job["prev"]
        version, evr, noarch = self._spec_info(spec, name)
        arches, why_not = self._build_arches(spec, noarch)
        if not arches:
            return dict(job, skipped=why_not)
        if prev is not None and prev["inputs"] != job["inputs"] and evr_compare(evr, prev["evr"]) <= 0:
            raise ClusterError("{} changed but {} does not sort above the published {}: "
                               "bump its Release (or Version)".format(name, evr, prev["evr"]), spec)
        srcdir = os.path.join(work, name + "-sources")
        os.makedirs(srcdir)
        job["write_sources"](srcdir, version)
        out = os.path.join(work, name + "-out")
        defines = self._defines(spec)
        extra = ["--with", "gpgkey"] if self.gpg else []
        written = rpmbuild(spec, "-bs", srpmdir=out, sourcedir=srcdir, defines=defines, extra_args=extra)
        for arch in arches:
            written += rpmbuild(spec, "-bb", rpmdir=out, sourcedir=srcdir, target=arch, defines=defines,
                                extra_args=extra)
        return dict(job, evr=evr, noarch=noarch, written=written, arches=arches,
                    native=not noarch and not metapkg.is_generated(spec))

    def _publish_spec(self, job, manifest):
        """Copy a built spec's files into the tree (published files are never replaced)."""
        opts = self.opts
        if job.get("skipped"):
            self.report["skipped"].append(job["name"])
            opts.log("not built: {} ({})".format(job["name"], job["skipped"]))
            return
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
                target = os.path.join(opts.tree, rel)
                files.append(rel)
                if os.path.exists(target):
                    continue            # published files are immutable
                shutil.copy2(path, target)
                self.report["added"].append(rel)
        name, evr = job["name"], job["evr"]
        self.report["built"].append(name)
        opts.log("built {}-{} ({})".format(name, evr, "noarch" if job["noarch"] else ", ".join(job["arches"])))
        manifest["packages"][name] = {"evr": evr, "inputs": job["inputs"], "native": job["native"],
                                      "arches": ["noarch"] if job["noarch"] else list(job["arches"]),
                                      "files": sorted(set(files))}

    def _published(self, entry):
        """Every file of a manifest entry is in the tree, for every arch being built."""
        arches = entry.get("arches", [])
        wanted = set(self.opts.arches)
        if entry.get("native"):                 # built on hosts of its own arch only
            wanted &= set([os.uname().machine])
        return (arches == ["noarch"] or wanted <= set(arches)) and all(
            os.path.exists(os.path.join(self.opts.tree, f)) for f in entry["files"])

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
                repo = os.path.join(opts.tree, sub)
                if os.path.isdir(os.path.join(repo, "repodata")):
                    cmd.append("--update")
                subprocess.run(cmd + [repo], check=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if os.path.isdir(self.project.roles_dir):
            self._publish_profile()
        if self.gpg is not None:
            for sub in list(opts.arches) + ["SRPMS"]:
                self.gpg.sign_file(os.path.join(opts.tree, sub, "repodata", "repomd.xml"))
            with open(os.path.join(opts.outdir, KEY_FILE), "wb") as out:
                out.write(self.gpg.public_key())
        opts.log("indexed {}".format(opts.tree))

    def _publish_profile(self):
        """The default profile from the project's roles/, never pinned (pins are the
        site's, in its own repository)."""
        from dnf_plugin_cluster import profile
        from dnf_plugin_cluster.head import publish
        family = self.opts.target.family
        prof = profile.build(profile.load_roles(self.project.roles_dir),
                             compsfile.merge(self.project.comps_docs()), self.opts.arches,
                             known=lambda arch: self.project.known(family, arch))
        publish.add(self.opts.tree, prof)
        self.opts.log("cluster profile: roles {}; {} pins".format(", ".join(sorted(prof["roles"])),
                                                                  len(prof["pins"])))


def build(project_root, options):
    return Builder(project_root, options).build()

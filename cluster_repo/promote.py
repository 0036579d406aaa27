"""`cluster-repo promote NAME... OUTDIR`: the exact builds tested in the testing channel,
copied into the stable one.

For each named source package (a spec's name) the files its last testing build
published (its SRPM and every binary subpackage, per arch, as the testing tree's build
manifest lists them) are copied byte for byte from OUTDIR/testing/<releasever> to
OUTDIR/<releasever>: never rebuilt, so the stable channel serves the very RPMs (same
checksums) that were tested, and a lock made from a test node (`publish --lock-from`)
names builds the stable channel has. The stable manifest takes over the testing entry
(evr, inputs, files), so a later `build --update` of the stable channel sees the build
as published and rebuilds nothing.

Written as build writes (cluster_repo/stage.py): the stable tree is copied aside, the
files are added there, it is indexed (and its repomd.xml signed with --sign-key) with
build's own code, and swapped in last; any refusal or failure leaves OUTDIR as it was.
The testing tree is only read: its files and metadata stay as they are (both channels
list the build afterwards), so nothing a testing node or a mirror holds changes.

Refused, each in one line, before anything is written: a directory `build` did not
make, a name no spec has, a name with no build in testing, a stable build of the same
file name with other bytes, a stable build newer than the tested one, testing and
stable signed by different keys."""
import hashlib
import json
import os

from dnf_plugin_cluster.errors import ClusterError

from . import stage
from .targets import get_target


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(tree, what):
    path = os.path.join(tree, stage.MANIFEST)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (OSError, ValueError) as err:
        raise ClusterError("the {} channel's build manifest cannot be read: {}".format(what, err), path)
    if not isinstance(data, dict) or not isinstance(data.get("packages"), dict):
        raise ClusterError("the {} channel's build manifest is not one `cluster-repo build` wrote".format(what), path)
    return data


class Promotion(object):
    """What a promote copies: [(relative path, source path)] per name, checked."""

    def __init__(self, project, outdir, names, target="el9", arches=None):
        from . import build
        self.project = project
        self.outdir = os.path.abspath(outdir)
        self.target = get_target(target)
        self.arches = tuple(arches or ())
        self.names = list(dict.fromkeys(names))
        self.testing = build.tree_dir(self.outdir, self.target, "testing")
        self.stable = build.tree_dir(self.outdir, self.target, "stable")

    def check(self):
        """{name: testing manifest entry} and [(rel, src)] to copy; refuses in one line."""
        if not os.path.isdir(self.outdir) or not stage.made_by_build(self.outdir):
            raise ClusterError("not a repository tree `cluster-repo build` made (no {} stamp): promote works "
                               "on a build's OUTDIR".format(stage.STAMP), self.outdir)
        specs = set(os.path.basename(p)[:-len(".spec")] for p in self.project.spec_files())
        testing = _manifest(self.testing, "testing")
        stable = _manifest(self.stable, "stable") or {"packages": {}}
        for name in self.names:
            if name not in specs and name not in (testing or {}).get("packages", {}):
                raise ClusterError("unknown package '{}': no spec of this project has that name (promote takes "
                                   "source package names)".format(name))
        if testing is None:
            raise ClusterError("nothing in testing: build into it first (`cluster-repo build OUTDIR --channel "
                               "testing`)", self.testing)
        if testing.get("target") != self.target.name:
            raise ClusterError("the testing channel was built for target '{}', not '{}'".format(
                testing.get("target"), self.target.name), self.testing)
        if stable.get("packages") and stable.get("target") != self.target.name:
            raise ClusterError("the stable channel was built for target '{}', not '{}'".format(
                stable.get("target"), self.target.name), self.stable)
        if stable.get("packages") and stable.get("signer") != testing.get("signer"):
            raise ClusterError("testing and stable are signed with different keys ({} and {}): build testing "
                               "with the stable channel's --sign-key first".format(
                                   testing.get("signer") or "unsigned", stable.get("signer") or "unsigned"))
        from .build import evr_compare
        entries, copies = {}, []
        for name in self.names:
            entry = testing["packages"].get(name)
            files = [f for f in (entry or {}).get("files", []) if self._wanted(f)]
            if not files or not all(os.path.isfile(os.path.join(self.testing, f)) for f in files):
                raise ClusterError("nothing in testing for {}: no build of it in {}{}".format(
                    name, self.testing, " for " + ", ".join(self.arches) if self.arches else ""))
            old = stable["packages"].get(name)
            if old is not None and evr_compare(old["evr"], entry["evr"]) > 0:
                raise ClusterError("{}: stable has {}, newer than the tested {}: nothing to promote".format(
                    name, old["evr"], entry["evr"]))
            for rel in files:
                src, dest = os.path.join(self.testing, rel), os.path.join(self.stable, rel)
                if os.path.lexists(dest):
                    if not os.path.isfile(dest) or _sha256(dest) != _sha256(src):
                        raise ClusterError("stable has {} with other content than the tested build: published "
                                           "files are never replaced (bump the Release and build again)".format(
                                               os.path.basename(rel)), dest)
                    continue
                copies.append((rel, src))
            entries[name] = dict(entry, files=sorted(files))
        self.signer = testing.get("signer")
        return entries, copies

    def _wanted(self, rel):
        top = rel.split("/", 1)[0]
        return top == "SRPMS" or not self.arches or top in self.arches


def promote(project, options, names):
    """Copy the tested builds of `names` into the stable channel of options.outdir
    (options: build.BuildOptions for the stable channel: target, arches, signing, log).
    Returns {"promoted": {name: evr}, "copied": [relative paths]}."""
    from . import build
    job = Promotion(project, options.outdir, names, options.target.name, options.arches)
    entries, copies = job.check()
    builder = build.Builder(project, options)
    if builder.gpg is not None and builder._signer() != job.signer:
        raise ClusterError("the tested RPMs are {}, not with --sign-key {}: promote copies them as they are "
                           "(build testing with that key)".format(
                               "signed with " + job.signer if job.signer else "unsigned", options.sign_key))
    with stage.Stage(options.outdir, options.tree, log=options.log) as builder.stage:
        try:
            manifest = builder._load_manifest()
            if not manifest["packages"]:
                manifest["signer"] = job.signer
            for rel, src in copies:
                dest = os.path.join(builder.tree, rel)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                stage._link_or_copy(src, dest)
            for arch in options.arches:
                os.makedirs(os.path.join(builder.tree, arch, "Packages"), exist_ok=True)
            os.makedirs(os.path.join(builder.tree, "SRPMS"), exist_ok=True)
            manifest["packages"].update(entries)
            builder._save_manifest(manifest)
            builder._index()
            top_files = ([build.KEY_FILE] if builder.gpg is not None else []) + builder._latest_release(manifest)
            builder.stage.commit(top_files)
        finally:
            builder.stage = None
    for name in job.names:
        options.log("promoted {}-{} from testing to stable".format(name, entries[name]["evr"]))
    return {"promoted": dict((n, e["evr"]) for n, e in entries.items()), "copied": [rel for rel, _ in copies]}

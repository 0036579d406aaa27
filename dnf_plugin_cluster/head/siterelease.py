"""cluster-site-release, the package that points nodes at the site repository (its .repo
file, and the site's public key when the repository is signed), built on the head node
by `dnf cluster-master publish` with rpmbuild from templates/cluster-site-release.spec
and templates/cluster-site.repo.in.

It is rebuilt only when what it installs changes (the base URL, the key), as release
1-N+1, and signed with the site key when there is one. Each build lands in every arch
repository's Packages/ (indexed by the same publish) and, as
SITE/cluster-site-release-latest-<releasever>.noarch.rpm, at a stable address for
`dnf install URL` (as EPEL's epel-release-latest-9.noarch.rpm)."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile

from ..errors import ClusterError
from ..files import read_json, write_atomic
from .template import fill

NAME = "cluster-site-release"
REPO_ID = "cluster-site"
KEY_FILE = "RPM-GPG-KEY-cluster-site"
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
SPEC = os.path.join(TEMPLATES, "cluster-site-release.spec")
REPO_TEMPLATE = os.path.join(TEMPLATES, "cluster-site.repo.in")
#: Anchored with \A and \Z (`$` lets a trailing line break through); no blank, quote,
#: backslash or control character
URL_RE = re.compile(r"\A(https?|ftp|file)://[^\s'\"\\\x00-\x1f\x7f-\x9f]+\Z")
FILE_RE = re.compile(r"\Acluster-site-release-1-(\d+)\.noarch\.rpm\Z")


def check_baseurl(url):
    if not isinstance(url, str) or not URL_RE.match(url):
        raise ClusterError("invalid --baseurl {!r}: want the site repository's top as nodes reach it, e.g. "
                           "https://head.example.org/site (http, https, ftp or file URL, no spaces or control "
                           "characters)".format(url))
    return url.rstrip("/")


def repo_text(baseurl, signed):
    """The .repo file: the template with its @name@ values filled in, by the rules of the
    packager's templates (cluster_repo/template.py): `@#` lines are notes and go, a line
    that is only a placeholder whose value is empty goes, `@@` is a literal `@`."""
    values = {"baseurl": check_baseurl(baseurl), "gpgcheck": "1" if signed else "0",
              "gpgkey": "gpgkey=file:///etc/pki/rpm-gpg/{}".format(KEY_FILE) if signed else ""}
    return fill(REPO_TEMPLATE, values, drop_empty=True)


def latest_path(tree):
    return os.path.join(tree.top, "{}-latest-{}.noarch.rpm".format(NAME, tree.releasever))


def _releases(tree, arches):
    found = []
    for arch in arches:
        packages = os.path.join(tree.path, arch, "Packages")
        if os.path.isdir(packages):
            found += [int(m.group(1)) for m in (FILE_RE.match(f) for f in os.listdir(packages)) if m]
    return found


def rpmbuild(spec, sources, outdir, defines, with_=()):
    """Run rpmbuild -bb with a private _topdir; returns the paths it wrote."""
    if shutil.which("rpmbuild") is None:
        raise ClusterError("rpmbuild is not installed (dnf install rpm-build): it builds {}".format(NAME))
    work = tempfile.mkdtemp(prefix="cluster-site-rpmbuild-")
    try:
        macros = dict(defines, _topdir=work, _sourcedir=sources, _rpmdir=outdir, _binary_payload="w9.gzdio")
        cmd = ["rpmbuild", "-bb", "--nodeps"]
        for key, value in sorted(macros.items()):
            cmd += ["--define", "{} {}".format(key, value)]
        for name in with_:
            cmd += ["--with", name]
        proc = subprocess.run(cmd + [spec], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True)
        if proc.returncode != 0:
            lines = [l.strip() for l in proc.stdout.splitlines() if l.strip()]
            raise ClusterError("rpmbuild failed: {}".format("; ".join(
                ([l for l in lines if "error" in l.lower()] or lines)[-3:])), spec)
        return [l.split(":", 1)[1].strip() for l in proc.stdout.splitlines() if l.startswith("Wrote:")]
    finally:
        shutil.rmtree(work, ignore_errors=True)


class Release(object):
    """A cluster-site-release build in place in the arch repositories; commit() makes it
    the latest and records it once the publish succeeded."""

    def __init__(self, tree, path, state):
        self.tree, self.path, self.state = tree, path, state

    def commit(self):
        with open(self.path, "rb") as handle:
            data = handle.read()
        target = latest_path(self.tree)
        if os.path.exists(target):
            with open(target, "rb") as handle:
                if handle.read() == data:
                    data = None
        if data is not None:
            write_atomic(target, data)
        write_atomic(self.tree._state("release.json"), json.dumps(self.state, indent=2, sort_keys=True) + "\n")


def read_state(tree):
    """.cluster-publish/release.json, checked: {"release": N, "inputs": HEX, "baseurl": URL}
    (each optional), so a damaged one stops a publish before anything is written."""
    path = tree._state("release.json")
    state = read_json(path, "release state")
    if state is None:
        return {}
    release = state.get("release") if isinstance(state, dict) else None
    if not isinstance(state, dict) or set(state) - {"release", "inputs", "baseurl"} or not (
            release is None or (isinstance(release, int) and not isinstance(release, bool) and
                                1 <= release <= 2 ** 31 - 1)) or not all(
            isinstance(state.get(key, ""), str) for key in ("inputs", "baseurl")):
        raise ClusterError("corrupt release state: want {\"release\": N, \"inputs\": TEXT, \"baseurl\": URL}; "
                           "move it aside and publish again (the release package is rebuilt)", path)
    return state


def baseurl_for(tree, baseurl):
    """The base URL the next cluster-site-release gives nodes: --baseurl, else the one
    the current build has, else file://SITE (which only nodes that mount SITE reach)."""
    state = read_state(tree)
    return check_baseurl(baseurl or state.get("baseurl") or "file://" + tree.top)


def _wanted(tree, arches, gpg, baseurl):
    """(release state, base URL, key, .repo text, inputs digest, the current build's path
    or None) of the cluster-site-release a publish into `arches` wants; reads only."""
    state = read_state(tree)
    url = baseurl_for(tree, baseurl)
    key = gpg.public_key() if gpg is not None else b""
    text = repo_text(url, gpg is not None)
    with open(SPEC, "rb") as handle:
        spec = handle.read()
    inputs = hashlib.sha256(b"\0".join([spec, text.encode("utf-8"), key])).hexdigest()
    name = "{}-1-{}.noarch.rpm".format(NAME, state.get("release"))
    source = next((p for p in (os.path.join(tree.path, a, "Packages", name) for a in tree.arches() + list(arches))
                   if os.path.exists(p)), None)
    return state, url, key, text, inputs, source


def change(tree, arches, gpg, baseurl):
    """Why a publish would build or place a new cluster-site-release, or None (a dry run
    says it; nothing is written)."""
    state, url, _, _, inputs, source = _wanted(tree, arches, gpg, baseurl)
    if source is None or state.get("inputs") != inputs:
        number = max(_releases(tree, tree.arches() + list(arches)) + [state.get("release") or 0]) + 1
        if not state:
            why = "base URL {}".format(url)
        elif url != state.get("baseurl"):
            why = "the base URL becomes {}".format(url)
        elif source is None:
            why = "the current build is missing"
        else:
            why = "the signing key (or the package's template) changed"
        return "{}-1-{} is built ({})".format(NAME, number, why)
    name = os.path.basename(source)
    missing = [a for a in arches if not os.path.exists(os.path.join(tree.path, a, "Packages", name))]
    if missing:
        return "{} is added to {}".format(name, ", ".join(missing))
    return None


def prepare(tree, arches, gpg, baseurl, log):
    """Have the current cluster-site-release in every arch's Packages/ (built when what
    it installs changed); returns a Release to commit with the publish."""
    state, url, key, text, inputs, source = _wanted(tree, arches, gpg, baseurl)
    number = state.get("release")
    name = "{}-1-{}.noarch.rpm".format(NAME, number)
    work = None
    if state.get("inputs") != inputs or source is None:
        number = max(_releases(tree, tree.arches() + list(arches)) + [number or 0]) + 1
        name = "{}-1-{}.noarch.rpm".format(NAME, number)
        work, source = _build(number, text, key, gpg)
        log("built {}".format(name))
    try:
        with open(source, "rb") as handle:
            data = handle.read()
        for arch in arches:
            dest = os.path.join(tree.path, arch, "Packages", name)
            if not os.path.exists(dest):
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                write_atomic(dest, data)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return Release(tree, os.path.join(tree.path, arches[0], "Packages", name),
                   {"release": number, "inputs": inputs, "baseurl": url})


def _build(number, text, key, gpg):
    """Build release `number` in a scratch directory: (the directory, the RPM's path)."""
    work = tempfile.mkdtemp(prefix="cluster-site-release-")
    sources = os.path.join(work, "sources")
    os.makedirs(sources)
    with open(os.path.join(sources, "cluster-site.repo"), "w") as handle:
        handle.write(text)
    if key:
        with open(os.path.join(sources, KEY_FILE), "wb") as handle:
            handle.write(key)
    try:
        written = rpmbuild(SPEC, sources, os.path.join(work, "out"), {"site_release": str(number)},
                           with_=("gpgkey",) if key else ())
    except ClusterError:
        shutil.rmtree(work, ignore_errors=True)
        raise
    rpms = [p for p in written if p.endswith(".noarch.rpm")]
    if len(rpms) != 1:
        shutil.rmtree(work, ignore_errors=True)
        raise ClusterError("rpmbuild wrote {} instead of one noarch package".format(written or "nothing"), SPEC)
    if gpg is not None:
        try:
            gpg.sign_rpms(rpms)
        except ClusterError:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return work, rpms[0]

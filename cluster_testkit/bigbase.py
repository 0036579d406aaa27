"""A large stand-in base for the benchmarks (~20,000 packages): the stand-in base of
base/packages.yaml (standin.py), so the cluster roles resolve against it, plus generated
filler packages shaped like a distribution's: per source a program, its -libs (with a
soname provide), -devel and, for every fourth, a noarch python3- subpackage; sonames and
-devel packages are required across sources, every package owns one file.

Everything is built as empty RPMs with the real rpmbuild (a thousand %package sections
per spec, specs built in parallel) and indexed with createrepo_c, one repository per
arch (`OUT/<arch>/`). `cached()` keeps the result under .cache/bench/, keyed by a hash
of every spec's text, the target, the arches and the tool versions."""
import concurrent.futures
import hashlib
import os
import random
import shutil
import subprocess
import tempfile
import time

from cluster_repo import basepkgs
from cluster_repo.rpmbuild import rpmbuild
from cluster_repo.targets import get_target

from . import REPO_ROOT, standin

CACHE_DIR = os.path.join(REPO_ROOT, ".cache", "bench")
PER_SPEC = 1000         # %package sections per spec: rpmbuild slows down superlinearly beyond that


class Filler(object):
    def __init__(self, name, evr, requires, provides=(), path=None, noarch=False):
        self.name, self.evr, self.requires, self.provides = name, evr, requires, list(provides)
        self.path, self.noarch = path, noarch

    def sections(self):
        """(header, %files) lines of this subpackage."""
        version, release = self.evr.split("-")
        header = ["%package -n {}".format(self.name), "Summary: Generated stand-in {}".format(self.name),
                  "Version: {}".format(version), "Release: {}%{{?dist}}".format(release)]
        header += ["BuildArch: noarch"] if self.noarch else []
        header += ["Requires: {}".format(r) for r in self.requires]
        header += ["Provides: {}".format(p) for p in self.provides]
        header += ["%description -n {}".format(self.name), "Generated filler package.", ""]
        return header, ["%files -n {}".format(self.name), self.path, ""]


def fillers(count, seed=20000):
    """At least `count` filler packages (whole sources only, so every dependency
    exists), deterministic for a given count and seed."""
    rng = random.Random(seed)
    out = []
    source = 0
    while len(out) < count:
        name = "fill{:05d}".format(source)
        evr = "{}.{}.{}-{}".format(1 + source % 5, source % 13, source % 7, 1 + source % 3)
        full = "{}%{{?dist}}".format(evr)
        earlier = range(max(0, source - 400), source)
        deps = rng.sample(earlier, min(len(earlier), rng.randint(0, 4)))
        soname = lambda s: "libfill{:05d}.so.1()(64bit)".format(s)
        out.append(Filler(name, evr, ["{}-libs%{{?_isa}} = {}".format(name, full), "glibc"]
                          + [soname(d) for d in deps], path="/usr/bin/{}".format(name)))
        out.append(Filler(name + "-libs", evr, ["glibc"] + [soname(d) for d in deps[:2]],
                          provides=[soname(source)], path="/usr/%{{_lib}}/libfill{:05d}.so.1".format(source)))
        out.append(Filler(name + "-devel", evr, ["{}-libs%{{?_isa}} = {}".format(name, full)]
                          + ["fill{:05d}-devel".format(d) for d in deps[:2]],
                          path="/usr/include/{}.h".format(name)))
        if source % 4 == 0:
            # the python(abi) requirement comes from rpm's own generator, as on Fedora/EL
            out.append(Filler("python3-" + name, evr, ["{} = {}".format(name, full)], noarch=True,
                              path="%{{python3_sitelib}}/{}/__init__.py".format(name)))
        source += 1
    return out


def render_specs(count, per_spec=PER_SPEC):
    """[(file name, spec text)] holding `count` fillers, `per_spec` to a spec."""
    pkgs = fillers(count)
    specs = []
    for index in range(0, len(pkgs), per_spec):
        chunk = pkgs[index:index + per_spec]
        name = "bigbase-filler-{:03d}".format(index // per_spec)
        lines = ["Name: {}".format(name), "Version: 1", "Release: 1", "License: MIT",
                 "Summary: Generated stand-in packages", "%description", "Builds no package of its own.", ""]
        files = []
        for pkg in chunk:
            header, pkg_files = pkg.sections()
            lines += header
            files += pkg_files
        # one mkdir and one touch for the whole chunk: a shell loop would fork per file
        paths = "\n".join("%{buildroot}" + p.path for p in chunk)
        lines += ["%install",
                  "sed 's|/[^/]*$||' <<'EOF' | sort -u | xargs mkdir -p", paths, "EOF",
                  "xargs touch <<'EOF'", paths, "EOF", ""]
        specs.append((name + ".spec", "\n".join(lines + files) + "\n"))
    return specs


def _tool_versions():
    return [subprocess.run([tool, "--version"], stdout=subprocess.PIPE, universal_newlines=True,
                           check=True).stdout.strip() for tool in ("rpmbuild", "createrepo_c")]


def content_key(count, target, arches):
    """Hash of everything the repository is made from."""
    digest = hashlib.sha256()
    specs = standin.render_specs(basepkgs.load(standin.BASE_FILE)) + render_specs(count)
    for part in [target, " ".join(arches)] + _tool_versions() + [n + "\0" + t for n, t in specs]:
        digest.update(part.encode() + b"\0\0")
    for key, value in sorted(get_target(target).macros.items()):
        digest.update("{}={}\0".format(key, value).encode())
    return digest.hexdigest()[:16]


def build(outdir, count=20000, target="el9", arches=("x86_64",), jobs=None):
    """Build the big base into OUTDIR/<arch>/ (+ repodata); returns outdir."""
    standin.build(outdir, target, arches)
    macros = get_target(target).macros
    work = tempfile.mkdtemp(prefix="bigbase-")
    try:
        tasks = []
        for name, text in render_specs(count):
            spec = os.path.join(work, name)
            with open(spec, "w") as handle:
                handle.write(text)
            tasks += [(spec, arch) for arch in arches]

        def run(task):
            spec, arch = task
            rpmdir = os.path.join(work, "rpms-" + arch)
            return arch, rpmbuild(spec, "-bb", rpmdir=rpmdir, target=arch, defines=macros)
        with concurrent.futures.ThreadPoolExecutor(jobs or os.cpu_count() or 2) as pool:
            for arch, written in pool.map(run, tasks):
                pkgdir = os.path.join(outdir, arch, "Packages")
                for path in written:
                    shutil.move(path, os.path.join(pkgdir, os.path.basename(path)))
        for arch in arches:
            subprocess.run(["createrepo_c", "--quiet", "--no-database", "--workers", str(os.cpu_count() or 2),
                            os.path.join(outdir, arch)], check=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return outdir


def cached(count=20000, target="el9", arches=("x86_64",), cache_dir=CACHE_DIR, log=None):
    """The big base from the cache, built first when missing: (path, seconds spent building
    now, or None when it came from the cache)."""
    log = log or (lambda message: None)
    path = os.path.join(cache_dir, "bigbase-{}-{}-{}".format(target, count, content_key(count, target, arches)))
    if os.path.isdir(path):
        return path, None
    os.makedirs(cache_dir, exist_ok=True)
    for old in os.listdir(cache_dir):           # superseded versions of the same base
        if old.startswith("bigbase-{}-{}-".format(target, count)):
            shutil.rmtree(os.path.join(cache_dir, old), ignore_errors=True)
    log("building the big base ({} generated packages + base/packages.yaml) into {}".format(count, path))
    start = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix=".building-", dir=cache_dir)
    try:
        build(tmp, count, target, arches)
        os.rename(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path, time.perf_counter() - start

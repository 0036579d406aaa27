"""Small extra repositories for tests: packages with files and (Lua) scriptlets that the
stand-in base does not have, e.g. a slow %post to interrupt."""
import os
import shutil
import subprocess
import tempfile

from cluster_repo.rpmbuild import rpmbuild


class Pkg(object):
    def __init__(self, name, version="1.0", release="1", files=(), post_lua=None, requires=(), noarch=True,
                 provides=(), obsoletes=()):
        self.name, self.version, self.release = name, version, release
        self.files, self.post_lua, self.requires, self.noarch = list(files), post_lua, list(requires), noarch
        self.provides, self.obsoletes = list(provides), list(obsoletes)

    def spec(self):
        lines = ["Name: {}".format(self.name), "Version: {}".format(self.version),
                 "Release: {}%{{?dist}}".format(self.release), "Summary: test package {}".format(self.name),
                 "License: MIT"]
        if self.noarch:
            lines.append("BuildArch: noarch")
        lines += ["Requires: {}".format(r) for r in self.requires]
        lines += ["Provides: {}".format(p) for p in self.provides]
        lines += ["Obsoletes: {}".format(o) for o in self.obsoletes]
        lines += ["%description", "Test package.", "%install"]
        lines += ["mkdir -p %{{buildroot}}{} && touch %{{buildroot}}{}".format(os.path.dirname(f), f)
                  for f in self.files]
        if self.post_lua:
            lines += ["%post -p <lua>", self.post_lua]
        lines += ["%files"] + self.files
        return "\n".join(lines) + "\n"


def build_repo(outdir, packages, arch="x86_64", target_macros=None):
    """Build `packages` (Pkg) for `arch` into OUTDIR and index it with createrepo_c."""
    work = tempfile.mkdtemp(prefix="extra-repo-")
    try:
        os.makedirs(outdir, exist_ok=True)
        for pkg in packages:
            spec = os.path.join(work, pkg.name + ".spec")
            with open(spec, "w") as handle:
                handle.write(pkg.spec())
            for path in rpmbuild(spec, "-bb", rpmdir=work, target=arch, defines=target_macros or {"dist": ".el9"}):
                shutil.copy2(path, outdir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    subprocess.run(["createrepo_c", "--quiet", "--no-database", outdir], check=True)
    return outdir


def slow_packages(count=3, seconds=2):
    """Packages whose %post sleeps (Lua: no shell needed in the root); each owns
    /opt/slow/<name>, which appears on disk just before its %post runs."""
    return [Pkg("slow-tool-{}".format(i), files=["/opt/slow/slow-tool-{}".format(i)],
                post_lua="posix.sleep({})".format(seconds)) for i in range(1, count + 1)]

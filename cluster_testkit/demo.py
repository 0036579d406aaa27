"""`make demo`: the main job end to end, with real tools, in ./out/demo (rebuilt each run).

1. the stand-in EL9 base repository (Fedora/EL mirrors are out of reach here);
2. `cluster-repo build`: lint, render, SRPMs + RPMs for x86_64 and aarch64, repository
   with comps, closure check against the base;
3. a throwaway head node: install cluster-release, then `dnf install cluster-master`."""
import os
import shutil
import subprocess
import sys

from . import REPO_ROOT, standin
from .dnfroot import DnfRoot


def step(text):
    print("\n==> " + text, flush=True)


def run(cmd):
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main():
    out = os.path.join(REPO_ROOT, "out", "demo")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)

    step("stand-in EL9 base repository (real package names, empty RPMs)")
    base = standin.build(os.path.join(out, "base"), "el9")
    print("    {}/{{x86_64,aarch64}}".format(base))

    step("packager: one command from sources to a mirrorable repository")
    repo = os.path.join(out, "repo")
    run([sys.executable, os.path.join(REPO_ROOT, "bin", "cluster-repo"), "-C", REPO_ROOT, "build", repo,
         "--target", "el9", "--base-repo", "file://{}/$basearch".format(base)])

    step("admin: a fresh head node installs cluster-release, then cluster-master")
    head = DnfRoot(os.path.join(out, "head"), arch="x86_64")
    head.add_repo("base", "file://{}/$basearch".format(base))
    release = os.path.join(repo, "9", "x86_64", "Packages", "cluster-release-1-1.el9.noarch.rpm")
    head.dnf("-y", "-q", "install", release)
    print("    /etc/yum.repos.d/cluster.repo installed by cluster-release")
    result = head.dnf("-y", "install", "cluster-master")
    sys.stdout.write(result.out[result.out.find("Installed:"):])
    print("    {} packages on the head node".format(len(head.installed())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

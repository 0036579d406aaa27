"""`make demo`: the main job end to end, with real tools, in ./out/demo (rebuilt each run).

Today: the stand-in base repository, the cluster comps merged into a repository, and
`dnf cluster-group list` in throwaway x86_64 and aarch64 roots."""
import os
import shutil
import subprocess
import sys

from dnf_plugin_cluster import comps

from . import REPO_ROOT, standin
from .dnfroot import DnfRoot


def step(text):
    print("\n==> " + text, flush=True)


def show(result):
    sys.stdout.write(result.out)
    sys.stdout.flush()


def main():
    out = os.path.join(REPO_ROOT, "out", "demo")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)

    step("building the stand-in EL9 base repository (real package names, empty RPMs)")
    base = standin.build(os.path.join(out, "base"), "el9")
    merged = comps.to_xml(comps.merge(comps.load_dir(os.path.join(REPO_ROOT, "comps"))))
    with open(os.path.join(out, "comps.xml"), "w") as handle:
        handle.write(merged)
    for arch in ("x86_64", "aarch64"):
        subprocess.run(["createrepo_c", "--quiet", "--no-database", "-g", os.path.join(out, "comps.xml"),
                        os.path.join(base, arch)], check=True)
    print("    {}".format(base))

    for arch in ("x86_64", "aarch64"):
        step("dnf cluster-group list on a throwaway {} root".format(arch))
        node = DnfRoot(os.path.join(out, "node-" + arch), arch=arch)
        node.add_repo("base", "file://{}/$basearch".format(base))
        show(node.dnf("-q", "cluster-group", "list"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

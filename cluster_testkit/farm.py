"""An image-root farm: many installroot nodes that `dnf cluster-master status|sync -w`
reaches by name through ClusterShell's exec worker, as a site with image roots under
/images/%h would. Each node's dnf options (its installroot, repositories, plugin path,
arch) are kept in <farm>/args/<node>; the command the fleet runs is `<farm>/node %h
cluster-node ...`, a small script that calls the real dnf with them (door="dnf"), or
`<farm>/node %h node ...` calling this tree's bin/dnf-cluster (door="dnf-cluster", the
fleet's default node command on real nodes)."""
import os
import shlex
import shutil
import subprocess

from .dnfroot import DNF, DNF_CLUSTER, DnfRoot

NODE_SCRIPT = """#!/bin/sh
# One farm node: $1 is its name, the rest the cluster-node command line.
node=$1; shift
exec {command} $(cat "{top}/args/$node") -q "$@"
"""

# door -> (the node script's command, the word that names cluster-node after it)
DOORS = {"dnf": (DNF, "cluster-node"),
         "dnf-cluster": (" ".join(shlex.quote(w) for w in DNF_CLUSTER), "node")}


class Farm(object):
    def __init__(self, top, door="dnf"):
        self.top = os.path.abspath(top)
        self.nodes = {}                     # name -> DnfRoot
        os.makedirs(os.path.join(self.top, "args"), exist_ok=True)
        command, self.word = DOORS[door]
        script = os.path.join(self.top, "node")
        with open(script, "w") as handle:
            handle.write(NODE_SCRIPT.format(command=command, top=self.top))
        os.chmod(script, 0o755)

    @property
    def node_command(self):
        """--node-command for `cluster-master status|sync --worker exec`."""
        return "{} %h {}".format(os.path.join(self.top, "node"), self.word)

    def add(self, name, root):
        """Make `root` (a DnfRoot) reachable as node `name`."""
        args = root.dnf_args()[1:]
        if any(c.isspace() for arg in args for c in arg):
            raise ValueError("farm node paths must not contain blanks: {}".format(root.root))
        with open(os.path.join(self.top, "args", name), "w") as handle:
            handle.write("\n".join(args) + "\n")
        self.nodes[name] = root
        return root

    def clone(self, name, template, path, link=False):
        """A copy of the installroot `template` (a synced node), added as `name`: a
        node of the same role and arch, without running its sync again. link: a cheap
        copy for many nodes: hard links (`cp -al`) for what nodes only read (the root's
        binaries and libraries), real copies of etc/ and var/ (what dnf, the plugin and
        this harness write, some of it in place)."""
        if link:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            subprocess.run(["cp", "-al", template.root, path], check=True)
            for sub in ("etc", "var"):
                shutil.rmtree(os.path.join(path, sub))
                shutil.copytree(os.path.join(template.root, sub), os.path.join(path, sub), symlinks=True)
        else:
            shutil.copytree(template.root, path, symlinks=True)
        shutil.copytree(template.home, path + ".home", symlinks=True)
        root = DnfRoot(path, arch=template.arch, releasever=template.releasever)
        root.plugin_dirs = list(template.plugin_dirs)
        return self.add(name, root)

    def fleet_args(self, subcommand, nodes, *extra):
        """The `dnf cluster-master status|sync` arguments that address `nodes` here."""
        return ["cluster-master", subcommand, "-w", nodes, "--worker", "exec",
                "--node-command", self.node_command] + list(extra)

"""Throwaway dnf5 systems inside the sid chroot (sidchroot.py): installroots driven by the
real dnf5 and by `dnf-cluster` on libdnf5, the project's source bound read-only at /src,
the C++ plugins built from dnf5-plugin/ with cmake: the command plugin loaded through
DNF5_PLUGINS_DIR, the libdnf5 plugin through dnf5's pluginpath and pluginconfpath options.
dnf5 is the only package manager inside; repositories are reached over HTTP on
127.0.0.1 (the chroot shares the host's network)."""
import json
import os

from . import REPO_ROOT
from .dnfroot import Result, RootFiles
from .sidchroot import SidChroot

SRC = "/src"                       # the project, read-only
WORK = "/work"                     # the test's own directory, writable
DNF_CLUSTER = SRC + "/bin/dnf-cluster"
# /src is read-only: bytecode goes to /work, as an installed package has its own
ENV = {"PYTHONPYCACHEPREFIX": WORK + "/pycache", "LC_ALL": "C.UTF-8", "PYTHONFAULTHANDLER": "1"}


class Dnf5World(object):
    """The mounted chroot, a work directory bound at /work, and the built plugin."""

    def __init__(self, workdir, binds=(), log=None):
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.chroot = SidChroot(binds=[(REPO_ROOT, SRC, True), (self.workdir, WORK, False)] + list(binds), log=log)
        self.plugins_dir = None
        self.libdnf5_plugins = None

    def start(self):
        self.chroot.mount()
        return self

    def stop(self):
        self.chroot.umount()

    def run(self, argv, check=True, env=None, timeout=600, input=None):
        proc = self.chroot.run(argv, env=dict(ENV, **(env or {})), check=False, timeout=timeout, input=input)
        result = Result(list(argv), proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError("command failed in the sid chroot: {!r}".format(result))
        return result

    def popen(self, argv, env=None):
        """A process inside the chroot; its pid is the command's own (chroot and env exec)."""
        return self.chroot.popen(argv, env=dict(ENV, **(env or {})))

    def host_path(self, inside):
        """The host path of a path under /work."""
        assert inside.startswith(WORK + "/"), inside
        return os.path.join(self.workdir, inside[len(WORK) + 1:])

    def build_plugin(self, dnf_cluster=DNF_CLUSTER, name="plugin"):
        """cmake-build dnf5-plugin/ (handing over to `dnf_cluster`) and make a plugin
        directory of dnf5's own plugins plus ours, for DNF5_PLUGINS_DIR."""
        build = "{}/{}-build".format(WORK, name)
        self.run(["cmake", "-S", SRC + "/dnf5-plugin", "-B", build, "-DDNF_CLUSTER_PATH=" + dnf_cluster])
        self.run(["cmake", "--build", build])
        self.plugins_dir = self.plugin_dir(build + "/cluster_cmd_plugin.so", name)
        self.libdnf5_plugins = self.libdnf5_plugin_dirs(build + "/cluster-image-locks.so",
                                                        SRC + "/dnf5-plugin/cluster-image-locks.conf", name)
        return self.plugins_dir

    def libdnf5_plugin_dirs(self, so_path, conf_path, name="plugin"):
        """(pluginpath, pluginconfpath): libdnf5's own plugins and their .conf files plus
        ours, as on a host with dnf5-plugin-cluster installed (libdnf5_setopts())."""
        own = self.run(["sh", "-c", "ls -d /usr/lib/*/libdnf5/plugins"]).out.split()[0]
        path, conf = "{}/{}-libdnf5".format(WORK, name), "{}/{}-libdnf5-conf".format(WORK, name)
        self.run(["sh", "-c", 'rm -rf "$1" "$3" && mkdir -p "$1" "$3" && ln -s "$2"/*.so "$5" "$1"/ && '
                  'ln -s /etc/dnf/libdnf5-plugins/*.conf "$4" "$3"/', "-", path, own, conf, conf_path, so_path])
        return path, conf

    def libdnf5_setopts(self):
        """dnf5's options that load the libdnf5 plugins of libdnf5_plugin_dirs()."""
        path, conf = self.libdnf5_plugins
        return ["--setopt=pluginpath=" + path, "--setopt=pluginconfpath=" + conf]

    def plugin_dir(self, so_path, name="plugin"):
        """A DNF5_PLUGINS_DIR with dnf5's own command plugins and `so_path`."""
        own = self.run(["sh", "-c", "ls -d /usr/lib/*/dnf5/plugins"]).out.split()[0]
        target = "{}/{}-dir".format(WORK, name)
        self.run(["sh", "-c", 'rm -rf "$1" && mkdir -p "$1" && ln -s "$2"/*.so "$1"/ && ln -s "$3" "$1"/',
                  "-", target, own, so_path])
        return target


class Dnf5Root(RootFiles):
    """One node (or image root) inside the chroot, at /work/roots/NAME: its own dnf.conf,
    .repo files and cluster.conf; the dnf5 cache is its own (ROOT/var/cache/libdnf5),
    shared by dnf5 and dnf-cluster as on a real node."""

    def __init__(self, world, name, arch="x86_64", releasever="9"):
        self.world = world
        self.name = name
        self.arch = arch
        self.releasever = releasever
        self.root = "{}/roots/{}".format(WORK, name)
        self.lay_out()

    def path(self, rel):
        """Host path of a file in the root."""
        return os.path.join(self.world.host_path(self.root), rel.lstrip("/"))

        self.lay_out()
    def globals(self):
        return ["--installroot={}".format(self.root), "--releasever={}".format(self.releasever),
                "--forcearch={}".format(self.arch)]

    def dnf5_args(self, *args):
        return ["dnf5"] + self.globals() + list(args)

    def cluster_args(self, *args):
        return [DNF_CLUSTER] + self.globals() + list(args)

    def env(self):
        return {"DNF5_PLUGINS_DIR": self.world.plugins_dir} if self.world.plugins_dir else {}

    def dnf5(self, *args, **kwargs):
        """The real dnf5 (with the cluster plugin: `dnf5 cluster-node sync`)."""
        return self.world.run(self.dnf5_args(*args), env=self.env(), **kwargs)

    def cluster(self, *args, **kwargs):
        """`dnf-cluster` as installed on a dnf5 host (it picks libdnf5 by itself)."""
        return self.world.run(self.cluster_args(*args), **kwargs)

    def start(self, argv):
        return self.world.popen(argv, env=self.env())

    def installed(self):
        """{name: "epoch:version-release.arch"} from the root's rpm database."""
        out = self.world.run(["rpm", "--root", self.root, "-qa", "--qf",
                              "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\\n"]).out
        return dict(line.split(" ", 1) for line in out.splitlines() if line.strip())

    def userinstalled(self):
        """Names dnf5 records as installed by the user (`dnf5 repoquery --userinstalled`)."""
        out = self.dnf5("-q", "-C", "repoquery", "--userinstalled", "--qf", "%{name}\\n").out
        return set(out.split())

    def reasons(self):
        """{name: reason} from dnf5's system state (packages.toml) through libdnf5."""
        code = ("import json, sys, libdnf5\n"
                "b = libdnf5.base.Base(); c = b.get_config(); c.installroot = sys.argv[1]; c.plugins = False\n"
                "b.setup(); b.get_repo_sack().load_repos(libdnf5.repo.Repo.Type_SYSTEM)\n"
                "q = libdnf5.rpm.PackageQuery(b); q.filter_installed()\n"
                "print(json.dumps(dict((p.get_name(), libdnf5.transaction.transaction_item_reason_to_string("
                "p.get_reason())) for p in q)))\n")
        return json.loads(self.world.run(["python3", "-c", code, self.root]).out)

    def history(self):
        """[(id, state, comment, description)] of dnf5's transaction history."""
        code = ("import json, sys, libdnf5\n"
                "T = libdnf5.transaction\n"
                "b = libdnf5.base.Base(); c = b.get_config(); c.installroot = sys.argv[1]; c.plugins = False\n"
                "b.setup()\n"
                "print(json.dumps([(t.get_id(), T.transaction_state_to_string(t.get_state()), t.get_comment(), "
                "t.get_description()) for t in b.get_transaction_history().list_all_transactions()]))\n")
        return [tuple(t) for t in json.loads(self.world.run(["python3", "-c", code, self.root]).out)]


"""Throwaway dnf systems: an installroot with its own dnf.conf, repos, plugin
configuration, rpm database and cache, driven by the real /usr/bin/dnf with the
project's plugin on its pluginpath, and dnf-plugins-core's versionlock plugin, as on a
node: each root has its own versionlock.conf and versionlock.list. Nothing touches the
host's configuration."""
import json
import os
import re
import shutil
import subprocess
import sys

from . import REPO_ROOT

DNF = "/usr/bin/dnf"
#: this tree's standalone front door, run by the interpreter of the tests
DNF_CLUSTER = (sys.executable, os.path.join(REPO_ROOT, "bin", "dnf-cluster"))
PLUGIN_DIR = os.path.join(REPO_ROOT, "plugins")
#: Plugins only tests load (cluster_testkit/dnfplugins/), e.g. one that stalls after a transaction.
TEST_PLUGIN_DIR = os.path.join(REPO_ROOT, "cluster_testkit", "dnfplugins")
#: The dnf-plugins-core plugins a node relies on. Only these: others act on the host
#: (`local` keeps a repository under the host's /var/lib/dnf) or would slow every run.
CORE_PLUGINS = ("versionlock",)


def core_plugin_dir(home):
    """A directory holding dnf-plugins-core's CORE_PLUGINS (links to the host's files),
    for the pluginpath; None when dnf-plugins-core is not installed."""
    try:
        import dnfpluginscore
    except ImportError:
        return None
    source = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(dnfpluginscore.__file__))),
                          "dnf-plugins")
    target = os.path.join(home, "dnf-plugins-core")
    os.makedirs(target, exist_ok=True)
    for name in CORE_PLUGINS:
        link, real = os.path.join(target, name + ".py"), os.path.join(source, name + ".py")
        if os.path.isfile(real) and not os.path.lexists(link):
            os.symlink(real, link)
    return target


def tool_env(home):
    """Environment for dnf/rpm subprocesses. The rpm database path is pinned to
    /var/lib/rpm (inside each root), as on Fedora/EL: Debian's rpm otherwise keeps it
    under $HOME, which would make the database depend on who runs the tool."""
    os.makedirs(home, exist_ok=True)
    macros = os.path.join(home, ".rpmmacros")
    if not os.path.exists(macros):
        with open(macros, "w") as handle:
            handle.write("%_dbpath /var/lib/rpm\n")
    env = dict(os.environ)
    env.update(HOME=home, LC_ALL="C.UTF-8", LANG="C.UTF-8",
               PYTHONPATH=os.pathsep.join(p for p in [REPO_ROOT, env.get("PYTHONPATH")] if p))
    env.pop("PYTHONHOME", None)
    return env


def give_shell(root):
    """Put the host's /bin/sh and the libraries it loads into `root`. The stand-in bash
    of base/packages.yaml provides /bin/sh but is an empty package, and rpm runs shell
    scriptlets (systemd's %post/%preun in python3-dnf-plugin-cluster) with the root's
    /bin/sh, as on a real system, where bash is there before them. The host binary runs
    in roots of any --forcearch: the kernel does not care about rpm's arch."""
    sh = "/bin/sh"
    out = subprocess.run(["ldd", os.path.realpath(sh)], stdout=subprocess.PIPE, universal_newlines=True).stdout
    for path in [sh] + re.findall(r"(/\S+) \(0x", out):
        dest = os.path.join(root, path.lstrip("/"))
        if not os.path.exists(dest):
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(os.path.realpath(path), dest)


class Result(object):
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    @property
    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "Result(rc={}, args={})\n--- stdout\n{}\n--- stderr\n{}".format(
            self.rc, " ".join(self.args), self.out, self.err)


#: a test node's dnf.conf (dnf 4 and dnf5 read the same one)
DNF_CONF = ("[main]\ngpgcheck=0\ninstallonly_limit=3\nclean_requirements_on_remove=True\n"
            "best=True\nskip_if_unavailable=False\nkeepcache=False\n")
_FILELISTS = []


def host_dnf_conf():
    """DNF_CONF for the host's dnf 4, loading filelists as EL's dnf (4.7, 4.14) always
    does: dnf >= 4.19 (Debian 13's 4.23) loads them only when optional_metadata_types
    says so, and without them an EL8 package's file dependency outside primary.xml
    (/usr/libexec/platform-python) has no provider. Older dnf has no such option (and
    warns about an unknown one), so the line is only written where dnf knows it."""
    if not _FILELISTS:
        try:
            import dnf.conf
            _FILELISTS.append(hasattr(dnf.conf.Conf(), "optional_metadata_types"))
        except ImportError:
            _FILELISTS.append(False)
    return DNF_CONF + ("optional_metadata_types=filelists\n" if _FILELISTS[0] else "")


class RootFiles(object):
    """The files of a test node's root, as DnfRoot (dnf 4, on the host) and Dnf5Root
    (dnf5, in the sid chroot) lay them out; path(rel) is the host path of a file in it."""

    def path(self, rel):
        raise NotImplementedError

    def lay_out(self, dnf_conf=None):
        """The directories dnf needs, a working /bin/sh (give_shell) and dnf.conf."""
        for sub in ("etc/yum.repos.d", "etc/dnf/plugins", "var/lib/rpm"):
            os.makedirs(self.path(sub), exist_ok=True)
        give_shell(self.path("/"))
        self.write("etc/dnf/dnf.conf", dnf_conf or DNF_CONF)

    def write(self, rel, text):
        target = self.path(rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as handle:
            handle.write(text)
        return target

    def add_repo(self, repoid, baseurl, **options):
        lines = ["[{}]".format(repoid), "name={}".format(repoid), "baseurl={}".format(baseurl)]
        options.setdefault("gpgcheck", 0)
        options.setdefault("metadata_expire", 0)
        lines += ["{}={}".format(k, v) for k, v in options.items()]
        self.write("etc/yum.repos.d/{}.repo".format(repoid), "\n".join(lines) + "\n")

    def set_role(self, role, **options):
        lines = ["[main]", "enabled=1", "role={}".format(role)]
        lines += ["{}={}".format(k, v) for k, v in options.items()]
        self.write("etc/dnf/plugins/cluster.conf", "\n".join(lines) + "\n")


class DnfRoot(RootFiles):
    """One node (or image root). `root` is the installroot; its /etc holds the node's
    own dnf.conf, .repo files and /etc/dnf/plugins/cluster.conf."""

    def __init__(self, path, arch="x86_64", releasever="9", home=None, dnf_conf=None):
        self.root = os.path.abspath(path)
        self.arch = arch
        self.releasever = releasever
        self.home = home or os.path.join(self.root + ".home")
        self.env = tool_env(self.home)
        self.plugin_dirs = [PLUGIN_DIR] + [d for d in [core_plugin_dir(self.home)] if d]
        self.lay_out(dnf_conf or host_dnf_conf())
        # as python3-dnf-plugin-versionlock ships it; dnf 4 prefixes neither this file's
        # path nor its locklist with --installroot, so the list is named by its host path
        self.write("etc/dnf/plugins/versionlock.conf", "[main]\nenabled = 1\nlocklist = {}\n".format(
            self.path("etc/dnf/plugins/versionlock.list")))
        if not os.path.exists(self.path("etc/dnf/plugins/versionlock.list")):
            self.write("etc/dnf/plugins/versionlock.list", "")

    def path(self, rel):
        return os.path.join(self.root, rel.lstrip("/"))

    def dnf_args(self, *args):
        return [DNF, "-c", self.path("etc/dnf/dnf.conf"),
                "--installroot={}".format(self.root),
                "--setopt=reposdir={}".format(self.path("etc/yum.repos.d")),
                "--setopt=pluginpath={}".format(",".join(self.plugin_dirs)),
                "--setopt=pluginconfpath={}".format(self.path("etc/dnf/plugins")),
                "--releasever={}".format(self.releasever),
                "--forcearch={}".format(self.arch)] + list(args)

    def run(self, argv, check=True, input=None, timeout=600):
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, env=self.env, input=input, timeout=timeout)
        result = Result(argv, proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError("command failed: {!r}".format(result))
        return result

    def dnf(self, *args, **kwargs):
        return self.run(self.dnf_args(*args), **kwargs)

    def start(self, argv, **env):
        """argv started in the background with the root's environment (plus `env`);
        its stdout and stderr are pipes (communicate() reads them)."""
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, env=dict(self.env, **env))

    def standalone_args(self, *args):
        """The same invocation through the standalone `dnf-cluster` front door."""
        return list(DNF_CLUSTER) + self.dnf_args(*args)[1:]

    def cluster(self, *args, **kwargs):
        return self.run(self.standalone_args(*args), **kwargs)

    def version_locks(self):
        """The root's versionlock.list, as lines."""
        with open(self.path("etc/dnf/plugins/versionlock.list")) as handle:
            return handle.read().splitlines()

    def getent(self, database):
        """{name: [fields...]} of the root's /etc/passwd or /etc/group, as `getent passwd`
        or `getent group` inside the root would answer from files."""
        entries = {}
        try:
            with open(self.path("etc/" + database)) as handle:
                for line in handle:
                    fields = line.rstrip("\n").split(":")
                    if len(fields) > 2 and fields[0] not in entries:
                        entries[fields[0]] = fields
        except FileNotFoundError:
            pass
        return entries

    def ids(self, *names):
        """{name: (uid, gid of the user, gid of the group)} for accounts of the root (None where missing)."""
        passwd, group = self.getent("passwd"), self.getent("group")
        out = {}
        for name in names:
            user, grp = passwd.get(name), group.get(name)
            out[name] = (int(user[2]) if user else None, int(user[3]) if user else None,
                         int(grp[2]) if grp else None)
        return out

    def owner(self, rel):
        """(uid, gid) of a path in the root."""
        st = os.lstat(self.path(rel))
        return st.st_uid, st.st_gid

    def installed(self):
        """{name: "epoch:version-release.arch"} from the root's rpm database."""
        out = self.run(["rpm", "--root", self.root, "--dbpath", "/var/lib/rpm", "-qa", "--qf",
                        "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\\n"]).out
        return dict(line.split(" ", 1) for line in out.splitlines() if line.strip())

"""Cached Debian chroots for the test world, made once with debootstrap --variant=minbase
from Debian's own packages and kept under <repo>/.cache/<name>/<key>/ (the key hashes the
suite, the package list and RECIPE, so a changed recipe builds a new one and drops the old):

- SidChroot, for the dnf5 tests: dnf5, python3-libdnf5, the dnf5 plugin headers, rpm,
  createrepo_c and a C++ toolchain (.cache/sid);
- rpm_sysusers_chroot(), for rpm >= 4.19's own sysusers handling: Debian 13's rpm 4.20
  with systemd-sysusers and shadow-utils' tools (.cache/trixie);
- el8_rpm_chroot(), for EL8's rpm 4.14 (Lua without rpm.execute): neither Debian nor PyPI
  carries an rpm that old any more, Ubuntu 20.04 (focal) does: rpm 4.14.2.1 from Ubuntu's
  archive, verified with Ubuntu's archive key (.cache/focal).

    with SidChroot(binds=[(REPO_ROOT, "/src", True), (workdir, "/work", False)]) as sid:
        sid.run(["dnf5", "--version"])

ensure() builds under a lock into a temporary directory renamed into place when complete,
so a killed build never leaves a chroot that looks done. mount() holds a second lock for
as long as the chroot is mounted (one user at a time); holding it, any mount still under
the root was left by a killed run and is undone first. Everything happens inside the
root: the host's own dnf, rpm and apt configuration are never touched. Needs root."""
import errno
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE = 3  # bump when the build steps below change
SUITE = "sid"
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = ("dnf5", "python3-libdnf5", "libdnf5-dev", "dnf5-dev", "rpm", "python3-rpm",
            "createrepo-c", "python3-createrepo-c", "python3-libcomps", "g++", "cmake", "make",
            "pkg-config", "file", "elfutils", "python3-yaml", "zstd", "ca-certificates",
            # what `cluster-repo build --target fc41` runs there besides: the plugin spec's
            # man pages, and ClusterShell for its import check (fleet.py)
            "python3-argparse-manpage", "python3-clustershell")
#: Debian 13 (trixie) with its rpm 4.20, which creates the accounts of user()/group()
#: provides itself (%sysusers) through %__systemd_sysusers: rpm's own sysusers.sh (bash,
#: useradd and groupadd from passwd; Debian's and upstream's default) or systemd's
#: systemd-sysusers; tests/test_service_ids.py runs both. About 170 MB, half a minute.
RPM_SYSUSERS_SUITE = "trixie"
RPM_SYSUSERS_PACKAGES = ("rpm", "systemd", "passwd", "bash", "cpio")
#: Ubuntu 20.04 (focal): rpm 4.14.2.1 (Lua 5.2), EL8's is 4.14.3 (Lua 5.3); both without
#: rpm.execute, which is what the accounts test needs to meet. rpm is in universe.
EL8_RPM_SUITE = "focal"
EL8_RPM_PACKAGES = ("rpm", "passwd", "bash", "cpio")
UBUNTU_MIRROR = os.environ.get("UBUNTU_MIRROR", "http://archive.ubuntu.com/ubuntu")
UBUNTU_PORTS_MIRROR = os.environ.get("UBUNTU_PORTS_MIRROR", "http://ports.ubuntu.com/ubuntu-ports")
#: Ubuntu's archive keyring, which debootstrap verifies focal's Release file with: focal's
#: own ubuntu-keyring package, pinned by its hash (Debian does not carry the keyring).
UBUNTU_KEYRING_DEB = ("http://archive.ubuntu.com/ubuntu/pool/main/u/ubuntu-keyring/"
                      "ubuntu-keyring_2020.02.11.2_all.deb")
UBUNTU_KEYRING_SHA256 = "7564f3f76fbc9f165ecc30e2cf2695d38b284e234bffa0c6441ff37f8a7aebd7"
UBUNTU_KEYRING_MEMBER = "./usr/share/keyrings/ubuntu-archive-keyring.gpg"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_CA = "/etc/ssl/host-ca-certificates.crt"  # kept apart: ca-certificates rewrites the bundle
HOST_CA_SOURCES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
#: apt inside never waits forever on the network (and trusts the host's CA bundle, below)
APT_CONF = 'Acquire::http::Timeout "60";\nAcquire::https::Timeout "60";\nAcquire::Retries "3";\n'
APT_CA = 'Acquire::https::CaInfo "{}";\n'.format(HOST_CA)
#: the longest one build step may take (debootstrap, apt-get install) before it is stopped
STEP_TIMEOUT = 1800
# Documentation is left out of the chroot (dpkg path-exclude): smaller, quicker to unpack.
NODOC = ("path-exclude=/usr/share/doc/*\npath-exclude=/usr/share/man/*\n"
         "path-exclude=/usr/share/info/*\npath-exclude=/usr/share/locale/*\n")


def _mounts_under(path):
    """Mount points at or below path, innermost first (reverse order of mounting)."""
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point == path or point.startswith(path + "/"):
                found.append(point)
    return found[::-1]


def _umount_all(path):
    for point in _mounts_under(path):
        if subprocess.call(["umount", point], stderr=subprocess.DEVNULL) != 0:
            subprocess.call(["umount", "-l", point])
    left = _mounts_under(path)
    if left:
        raise RuntimeError("still mounted: {}".format(", ".join(left)))


def _remove(path):
    """rmtree, never through a mount (a bound /dev would take the host's devices along)."""
    if os.path.lexists(path):
        _umount_all(path)
        shutil.rmtree(path)


class _Lock(object):
    def __init__(self, path):
        self.path, self.fd = path, None

    def acquire(self, wait=True):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as err:
            os.close(self.fd)
            self.fd = None
            if err.errno in (errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def release(self):
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock; a killed process drops it too
            self.fd = None


def _size(path):
    """Bytes in the files under path (each inode once, symlinks not followed)."""
    total, seen = 0, set()
    for top, dirs, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(top, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


class DebianChroot(object):
    """A Debian suite with packages, cached under <repo>/.cache/<name>/<key>.
    binds: (host_dir, path_inside, readonly) triples bound by mount()."""

    def __init__(self, suite, packages, name=None, binds=(), cache_dir=None, log=None, mirror=None,
                 components=None, keyring_deb=None):
        self.suite = suite
        self.mirror = mirror or MIRROR
        self.components = components            # debootstrap --components (default: main)
        self.keyring_deb = keyring_deb          # (url, sha256, member): the archive key, pinned
        self.cache = os.path.realpath(cache_dir or os.path.join(REPO_ROOT, ".cache", name or suite))
        self.packages = tuple(sorted(packages))
        recipe = "{}\n{}\n{}".format(RECIPE, suite, " ".join(self.packages))
        self.key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
        self.root = os.path.join(self.cache, self.key)
        self.binds = list(binds)
        self.log = log or (lambda msg: None)
        self._use = _Lock(self.root + ".use.lock")
        self.mounted = False

    # -- building -----------------------------------------------------------------

    def ready(self):
        return os.path.isfile(os.path.join(self.root, ".sidchroot-done"))

    def ensure(self):
        """Build the chroot unless it exists; returns seconds spent (0.0 when cached)."""
        if self.ready():
            return 0.0
        if not shutil.which("debootstrap"):
            raise RuntimeError("the test world needs debootstrap to build its Debian {} chroot: "
                               "install it (apt-get install debootstrap; dnf install debootstrap)".format(self.suite))
        os.makedirs(self.cache, exist_ok=True)
        lock = _Lock(self.root + ".build.lock")
        if not lock.acquire(wait=False):
            self.log("waiting for another build of {}".format(self.root))
            lock.acquire()
        try:
            if self.ready():  # another session built it while we waited
                return 0.0
            start = time.time()
            tmp = self.root + ".tmp"
            _remove(tmp)  # what a killed build left
            try:
                self._build(tmp, lock.fd)
            except BaseException:
                _remove(tmp)                  # nothing half-made stays behind (the log does)
                raise
            finally:
                _umount_all(tmp)
            _remove(self.root)  # only ever there without its marker if damaged by hand
            os.rename(tmp, self.root)
            self._prune()
            spent = time.time() - start
            self.log("built {} in {:.0f} s, {:.0f} MB".format(self.root, spent, _size(self.root) / 1e6))
            return spent
        finally:
            lock.release()

    def _build(self, tmp, lock_fd):
        logfile = self.root + ".build.log"
        self.log("debootstrap --variant=minbase {} (once; log in {})".format(self.suite, logfile))
        with open(logfile, "w") as log:
            def step(argv):
                log.write("+ {}\n".format(" ".join(argv)))
                log.flush()
                # The build tools inherit the lock: if this process is killed, the next
                # build waits for them to end before it removes their half-made tree.
                proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, pass_fds=(lock_fd,),
                                        start_new_session=True)
                try:
                    code = proc.wait(timeout=STEP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()
                    raise RuntimeError("{} chroot build: '{}' took more than {} s (network?); see {}".format(
                        self.suite, " ".join(argv[:3]), STEP_TIMEOUT, logfile))
                if code != 0:
                    log.flush()
                    with open(logfile) as handle:
                        last = ([l.strip() for l in handle if l.strip()] or [""])[-1]
                    raise RuntimeError("{} chroot build failed at '{}': {} (log: {})".format(
                        self.suite, " ".join(argv[:3]), last, logfile))

            options = ["--variant=minbase"]
            if self.components:
                options.append("--components=" + ",".join(self.components))
            if self.keyring_deb:
                options.append("--keyring=" + self._keyring(log))
            step(["debootstrap"] + options + [self.suite, tmp, self.mirror])
            self._host_config(tmp)
            # the host's CA bundle, for a mirror or proxy reached over https with its own CA
            self._write(tmp, "etc/apt/apt.conf.d/60cluster-host",
                        APT_CONF + (APT_CA if os.path.isfile(self.path_in(tmp, HOST_CA)) else ""))
            self._write(tmp, "etc/dpkg/dpkg.cfg.d/01-nodoc", NODOC)
            self._mount_system(tmp)
            inside = ["chroot", tmp, "/usr/bin/env", "-i", "PATH=" + PATH, "LANG=C.UTF-8",
                      "DEBIAN_FRONTEND=noninteractive"] + self._proxy_env()
            step(inside + ["apt-get", "update", "-q"])
            step(inside + ["apt-get", "install", "-y", "-q", "--no-install-recommends"]
                 + list(self.packages))
            step(inside + ["apt-get", "clean"])
            step(inside + ["sh", "-c", "rm -rf /var/lib/apt/lists/*"])  # 100 MB, rebuilt by update
            versions = subprocess.check_output(
                ["chroot", tmp, "dpkg-query", "-W", "-f", "${Package} ${Version}\\n"]
                + list(self.packages), universal_newlines=True)
            self._write(tmp, ".sidchroot-done", versions)

    def _keyring(self, log):
        """The archive keyring file, from its pinned package (downloaded once, hash checked
        before use, taken out of the .deb's data.tar without dpkg)."""
        url, sha256, member = self.keyring_deb
        path = os.path.join(self.cache, os.path.basename(member))
        if os.path.isfile(path):
            return path
        log.write("+ fetch {}\n".format(url))
        import urllib.request
        try:
            data = urllib.request.urlopen(url, timeout=60).read(16 << 20)
        except (OSError, ValueError) as error:
            raise RuntimeError("{} chroot build failed at 'fetch {}': {}".format(self.suite, url, error))
        if hashlib.sha256(data).hexdigest() != sha256:
            raise RuntimeError("{} chroot build: {} has sha256 {}, expected {}".format(
                self.suite, url, hashlib.sha256(data).hexdigest(), sha256))
        keyring = _deb_member(data, member)
        with open(path + ".tmp", "wb") as handle:
            handle.write(keyring)
        os.rename(path + ".tmp", path)
        return path

    @staticmethod
    def _host_config(root):
        """What apt and pip inside need to reach the package indexes from this host: its
        resolver, its CA bundle (at HOST_CA), its pip and apt proxy settings."""
        copies = [("/etc/resolv.conf", "etc/resolv.conf"), ("/etc/pip.conf", "etc/pip.conf"),
                  ("/etc/apt/apt.conf.d/99artifact-registry", "etc/apt/apt.conf.d/99artifact-registry")]
        copies += [(p, HOST_CA) for p in HOST_CA_SOURCES if os.path.isfile(p)][:1]
        for src, dst in copies:
            if os.path.isfile(src):
                dst = os.path.join(root, dst.lstrip("/"))
                if os.path.lexists(dst):
                    os.remove(dst)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(src, dst)

    @staticmethod
    def _proxy_env():
        return ["{}={}".format(k, os.environ[k]) for k in
                ("http_proxy", "https_proxy", "no_proxy", "PIP_INDEX_URL") if os.environ.get(k)]

    @staticmethod
    def _write(root, rel, text):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)

    def _prune(self):
        """Drop chroots of other recipes that nobody is using."""
        for name in os.listdir(self.cache):
            path = os.path.join(self.cache, name)
            if name == self.key or "." in name or not os.path.isdir(path):
                continue
            use = _Lock(path + ".use.lock")
            if use.acquire(wait=False):
                try:
                    self.log("removing the old chroot {}".format(path))
                    _remove(path)
                    for suffix in (".use.lock", ".build.lock", ".build.log"):
                        if os.path.exists(path + suffix):
                            os.remove(path + suffix)
                finally:
                    use.release()

    # -- using --------------------------------------------------------------------

    @staticmethod
    def _mount_system(root):
        def mount(args, point):
            target = os.path.join(root, point)
            os.makedirs(target, exist_ok=True)
            subprocess.check_call(["mount"] + args + [target])
            # Private, so nothing mounted below propagates to the host's /dev (systemd
            # hosts mount / shared).
            subprocess.check_call(["mount", "--make-private", target])

        mount(["-t", "proc", "proc"], "proc")
        mount(["-t", "sysfs", "-o", "ro", "sysfs"], "sys")
        mount(["--bind", "/dev"], "dev")
        mount(["--bind", "/dev/pts"], "dev/pts")
        mount(["-t", "tmpfs", "tmpfs"], "dev/shm")

    def mount(self):
        """Build if needed, wait for other users, undo stale mounts, mount system and binds."""
        if self.mounted:
            return self
        self.ensure()
        self._use.acquire()
        try:
            _umount_all(self.root)  # we hold the use lock: whatever is mounted is stale
            self._mount_system(self.root)
            for host, inside, readonly in self.binds:
                target = os.path.join(self.root, inside.lstrip("/"))
                os.makedirs(target, exist_ok=True)
                subprocess.check_call(["mount", "--bind", host, target])
                subprocess.check_call(["mount", "--make-private", target])
                if readonly:
                    subprocess.check_call(["mount", "-o", "remount,bind,ro", target])
            self._host_config(self.root)  # the resolver may have changed since the build
        except Exception:
            _umount_all(self.root)
            self._use.release()
            raise
        self.mounted = True
        return self

    def umount(self):
        if self.mounted:
            try:
                _umount_all(self.root)
            finally:
                self._use.release()
                self.mounted = False

    def __enter__(self):
        return self.mount()

    def __exit__(self, *exc):
        self.umount()

    def path(self, inside):
        """The host path of a path inside the chroot."""
        return self.path_in(self.root, inside)

    @staticmethod
    def path_in(root, inside):
        return os.path.join(root, inside.lstrip("/"))

    def command(self, argv, env=None, cwd="/"):
        """The host command that runs argv inside with a clean environment (plus env)."""
        if not self.mounted:
            raise RuntimeError("{} needs mount() (or a with block) before running anything".format(
                type(self).__name__))
        clean = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb"}
        clean.update(env or {})
        return (["chroot", self.root, "/usr/bin/env", "-i", "--chdir=" + cwd]
                + ["{}={}".format(k, v) for k, v in sorted(clean.items())] + list(argv))

    def popen(self, argv, env=None, cwd="/"):
        """Start argv inside and leave it running (text pipes). Its pid is the command's
        own: chroot and env exec it."""
        return subprocess.Popen(self.command(argv, env, cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, env={"PATH": PATH})

    def run(self, argv, env=None, check=True, cwd="/", capture=True, timeout=None, input=None):
        """Run argv inside with a clean environment (plus env); a CompletedProcess with
        text stdout/stderr when capture. The chroot must be mounted."""
        cmd = self.command(argv, env, cwd)
        pipe = subprocess.PIPE if capture else None
        proc = subprocess.run(cmd, stdout=pipe, stderr=pipe, universal_newlines=True,
                              timeout=timeout, input=input, env={"PATH": PATH})
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, list(argv), proc.stdout,
                                                proc.stderr)
        return proc


class SidChroot(DebianChroot):
    """Debian sid with dnf5 (PACKAGES), under .cache/sid."""

    def __init__(self, binds=(), cache_dir=None, packages=PACKAGES, log=None):
        DebianChroot.__init__(self, SUITE, packages, "sid", binds, cache_dir, log)


def _deb_member(data, member):
    """One file of a .deb (an ar archive whose data.tar.* holds the files)."""
    import io
    import tarfile
    if not data.startswith(b"!<arch>\n"):
        raise RuntimeError("not a .deb (ar archive)")
    offset = 8
    while offset + 60 <= len(data):
        name = data[offset:offset + 16].decode().strip().rstrip("/")
        size = int(data[offset + 48:offset + 58].decode().strip())
        body = data[offset + 60:offset + 60 + size]
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                return tar.extractfile(member).read()
        offset += 60 + size + (size & 1)
    raise RuntimeError("no data.tar in the .deb")


def el8_rpm_chroot(binds=(), cache_dir=None, log=None):
    """Ubuntu 20.04 with rpm 4.14 (EL8_RPM_PACKAGES), under .cache/focal."""
    ports = os.uname().machine not in ("x86_64", "i686")
    return DebianChroot(EL8_RPM_SUITE, EL8_RPM_PACKAGES, "focal", binds, cache_dir, log,
                        mirror=UBUNTU_PORTS_MIRROR if ports else UBUNTU_MIRROR, components=("main", "universe"),
                        keyring_deb=(UBUNTU_KEYRING_DEB, UBUNTU_KEYRING_SHA256, UBUNTU_KEYRING_MEMBER))


def rpm_sysusers_chroot(binds=(), cache_dir=None, log=None):
    """Debian 13 with rpm 4.20 (RPM_SYSUSERS_PACKAGES), under .cache/trixie."""
    return DebianChroot(RPM_SYSUSERS_SUITE, RPM_SYSUSERS_PACKAGES, "trixie", binds, cache_dir, log)


if __name__ == "__main__":
    import sys
    which = sys.argv[1] if len(sys.argv) > 1 else "sid"
    if which not in ("sid", RPM_SYSUSERS_SUITE, EL8_RPM_SUITE):
        sys.exit("usage: python -m cluster_testkit.sidchroot [sid|{}|{}]".format(RPM_SYSUSERS_SUITE, EL8_RPM_SUITE))
    log = lambda msg: sys.stderr.write("sidchroot: {}\n".format(msg))  # noqa: E731
    chroot = {"sid": SidChroot, RPM_SYSUSERS_SUITE: rpm_sysusers_chroot,
              EL8_RPM_SUITE: el8_rpm_chroot}[which](log=log)
    spent = chroot.ensure()
    print("{} ({:.0f} s to build, {:.0f} MB)".format(chroot.root, spent, _size(chroot.root) / 1e6))

"""The cluster's fixed service ids (metapackages/cluster-users.yaml `sysusers:`) win on
every node, although munge, slurm and slurm-slurmd create their accounts in their own
%pre with dynamic ids (`useradd -r`, as the real packages do; the stand-ins too), in
every way a node is installed: one `dnf install` of a role's metapackage, `dnf
cluster-node sync`, a kickstart's %packages in one transaction, on x86_64 and aarch64,
into empty roots and roots that already have a base, and with EL8's rpm 4.14 (no
rpm.execute in its Lua: Ubuntu 20.04's rpm 4.14.2.1, in the test world's cached focal
chroot, as neither Debian nor PyPI has an rpm that old), and with rpm >= 4.19's own sysusers
handling (Debian 13's rpm 4.20, in the test world's cached trixie chroot). Every root's
/etc/passwd and /etc/group is read as getent would read them, and the directories the accounts own
follow them. Accounts that existed before with other ids are refused, loudly."""
import base64
import os
import re
import shutil
import subprocess

import pytest

from cluster_testkit import REPO_ROOT
from conftest import failed_chroot_build
from cluster_repo import metapkg

# directories the stand-ins own as the account (base/packages.yaml `dirs:`)
OWNED = {"munge": ("etc/munge", "var/lib/munge", "var/log/munge"),
         "slurm": ("var/log/slurm", "var/spool/slurm", "var/spool/slurm/d")}


def fixed_ids():
    """{account: (uid, gid)} as cluster-users.yaml defines them."""
    pkg = metapkg.load(os.path.join(REPO_ROOT, "metapackages", "cluster-users.yaml"))
    return dict((u.name, (u.ident, u.gid)) for u in pkg.sysusers if u.kind == "u")


def accounts_of(node):
    """What every reader of the root sees: ids in passwd and group, owners of their directories."""
    ids = node.ids(*sorted(fixed_ids()))
    owners = dict((path, node.owner(path)) for name in sorted(OWNED) for path in OWNED[name]
                  if os.path.lexists(node.path(path)))
    return ids, owners


def assert_fixed(node):
    ids, owners = accounts_of(node)
    want = fixed_ids()
    assert ids == dict((name, (uid, gid, gid)) for name, (uid, gid) in want.items()), (node.root, ids)
    for name, paths in OWNED.items():
        for path in paths:
            if path in owners:
                assert owners[path] == want[name], (node.root, path, owners[path])
    return ids, owners


def test_the_stand_ins_would_take_dynamic_ids_first():
    """The premise: the fixed ids are not what useradd -r would give (999, 998)."""
    assert set(fixed_ids()) == {"munge", "slurm"}
    assert not set(uid for uid, _ in fixed_ids().values()) & {999, 998}


def scriptlet_order(node):
    """(scriptlet, package) in the order rpm ran them (dnf.rpm.log at debug verbosity)."""
    with open(node.path("var/log/dnf.rpm.log")) as handle:
        log = handle.read()
    return re.findall(r"%(pretrans|prein|posttrans)\((munge|slurm|slurm-slurmd|cluster-users)-\d", log)


def test_one_dnf_install_of_a_role_metapackage(node_factory):
    seen, renumbered = [], []
    for name, arch, base_first in (("cluster-node", "x86_64", False), ("cluster-node", "aarch64", False),
                                   ("cluster-master", "x86_64", False), ("cluster-master", "aarch64", False),
                                   ("cluster-node", "aarch64", True), ("cluster-master", "x86_64", True)):
        node = node_factory("{}-{}-{}".format(name, arch, "live" if base_first else "empty"), arch)
        if base_first:                        # a node that already runs its base system
            node.dnf("-y", "install", "setup", "shadow-utils", "systemd")
        node.dnf("-y", "--setopt=rpmverbosity=debug", "install", name)
        installed = node.installed()
        assert {"munge", "cluster-users", name} <= set(installed)
        assert "slurm-slurmd" in installed if name == "cluster-node" else "slurm-slurmctld" in installed
        seen.append(assert_fixed(node)[0])
        order = scriptlet_order(node)
        assert order[0] == ("pretrans", "cluster-users") and order[-1] == ("posttrans", "cluster-users")
        # munge's own %pre ran before ours: it took a dynamic id that ours then renumbered
        renumbered.append(order.index(("prein", "munge")) < order.index(("prein", "cluster-users")))
    assert all(ids == seen[0] for ids in seen)
    assert any(renumbered), "no install exercised the renumbering (rpm ordered cluster-users first everywhere)"


def test_cluster_node_sync_of_every_role(site):
    nodes = [site.node("compute-x86", "x86_64", "compute"), site.node("compute-arm", "aarch64", "compute"),
             site.node("login-arm", "aarch64", "login"), site.master]
    seen = []
    for node in nodes:
        node.dnf("-y", "cluster-node", "sync")
        assert "cluster-users" in node.installed()
        seen.append(assert_fixed(node)[0])
    assert all(ids == seen[0] for ids in seen)


def kickstart_packages(site, role, arch):
    ks = site.master.dnf("-q", "cluster-master", "kickstart", "--role", role, "--arch", arch).out
    body = ks.split("%packages\n")[1].split("%end")[0]
    return [line.strip() for line in body.splitlines() if line.strip() and not line.startswith("#")]


def test_a_kickstart_install_in_one_transaction(site):
    site.publish()
    seen = []
    for role, arch in (("compute", "x86_64"), ("compute", "aarch64"), ("master", "aarch64")):
        packages = kickstart_packages(site, role, arch)
        assert "cluster-node" in packages or "cluster-master" in packages
        node = site.node("ks-{}-{}".format(role, arch), arch, role=None)
        node.dnf("-y", "install", *packages)          # what anaconda does with %packages: one transaction
        seen.append(assert_fixed(node)[0])
    assert all(ids == seen[0] for ids in seen)


def test_accounts_that_existed_with_other_ids_are_refused_with_the_fix(node_factory):
    node = node_factory("existing", "x86_64")
    node.dnf("-y", "install", "munge", "slurm")
    before = node.ids("munge", "slurm")
    assert before == {"munge": (999, 999, 999), "slurm": (998, 998, 998)}
    result = node.dnf("-y", "install", "cluster-slurm-client", check=False)
    assert result.rc == 1
    out = result.out + result.err
    assert re.search(r"cluster-users: (group|user) (munge|slurm) exists with id 99[89], but the cluster uses", out), out
    assert "groupmod -g 451 munge" in out or "groupmod -g 450 slurm" in out
    assert "Traceback" not in out
    assert node.ids("munge", "slurm") == before                 # nothing renumbered behind the admin's back
    # rpm refuses cluster-users alone: dnf still installs the rest of the transaction
    # (dnf's behaviour; `cluster-node sync` should check the ids before it plans)
    installed = node.installed()
    assert "cluster-users" not in installed and "cluster-slurm-client" in installed

    # the admin does what the message says (here by editing the root's files), then installs again
    want = fixed_ids()
    for database in ("passwd", "group"):
        path = node.path("etc/" + database)
        with open(path) as handle:
            lines = handle.read().splitlines()
        for index, line in enumerate(lines):
            fields = line.split(":")
            if fields[0] in want:
                fields[2] = str(want[fields[0]][0 if database == "passwd" else 1])
                if database == "passwd":
                    fields[3] = str(want[fields[0]][1])
                lines[index] = ":".join(fields)
        with open(path, "w") as handle:
            handle.write("\n".join(lines) + "\n")
    for name, paths in OWNED.items():
        for path in paths:
            if os.path.lexists(node.path(path)):
                os.lchown(node.path(path), *want[name])
    node.dnf("-y", "install", "cluster-users")
    assert "cluster-users" in node.installed()
    assert_fixed(node)


def test_accounts_change_only_through_shadow_utils_which_wait_for_its_lock(node_factory):
    """cluster-users changes accounts with groupadd/useradd/groupmod/usermod, never by
    writing /etc/passwd, /etc/group or their shadow files itself: while another program
    holds shadow-utils' locks (a useradd or vipw running at that moment), nothing is
    written; rpm refuses cluster-users with one line naming the tool, and a second
    install, once the lock is gone, gives the fixed ids."""
    node = node_factory("locked", "x86_64")
    node.dnf("-y", "install", "setup", "shadow-utils", "systemd")     # a live node: the tools are there
    databases = ("passwd", "group", "shadow", "gshadow")

    def contents():
        out = {}
        for name in databases:
            with open(node.path("etc/" + name)) as handle:
                out[name] = handle.read()
        return out
    before = contents()
    # shadow-utils' lock files name the pid of a live process (commonio_lock); ours is alive
    locks = [node.path("etc/{}.lock".format(name)) for name in databases]
    for lock in locks:
        with open(lock, "w") as handle:
            handle.write(str(os.getpid()))
    try:
        result = node.dnf("-y", "install", "cluster-users", check=False)
        during = contents()
    finally:
        for lock in locks:
            os.unlink(lock)
    out = result.out + result.err
    assert result.rc == 1, result
    assert during == before, "the account files changed while shadow-utils' lock was held"
    assert re.search(r"cluster-users: groupadd -r -g 451 munge did not create group munge", out), out
    assert "Traceback" not in out
    assert "cluster-users" not in node.installed()
    node.dnf("-y", "install", "cluster-users")
    assert_fixed(node)
    node.dnf("-y", "install", "munge", "slurm")      # their %pre finds the accounts and keeps them
    assert_fixed(node)


@pytest.fixture(scope="module")
def users_rpms(tmp_path_factory):
    """{target: cluster-users RPM} built from the rendered spec with fc42's and el9's
    macros by this host's rpmbuild (Debian 12: rpm 4.18, which generates no user() or
    group() provides; Debian 13's rpm 4.20 generates them itself)."""
    from cluster_repo.rpmbuild import rpmbuild
    from cluster_repo.targets import get_target
    work = tmp_path_factory.mktemp("users-rpms")
    yaml_path = os.path.join(REPO_ROOT, "metapackages", "cluster-users.yaml")
    spec = work / "cluster-users.spec"
    spec.write_text(metapkg.render(metapkg.load(yaml_path), "metapackages/cluster-users.yaml"))
    return dict((target, rpmbuild(str(spec), "-bb", rpmdir=str(work / target), defines=get_target(target).macros)[0])
                for target in ("fc42", "el9"))


def rpm_query(path, *args):
    return subprocess.run(["rpm", "-qp"] + list(args) + [path], stdout=subprocess.PIPE, check=True,
                          universal_newlines=True).stdout


def test_fc42_cluster_users_provides_its_accounts_as_rpm_419_would(users_rpms):
    """rpm >= 4.19 (Fedora 42) turns each line of a packaged sysusers.d file into
    `user(NAME) = BASE64` (the line, NUL-padded) plus `group(NAME)`, and creates the
    account from it on install; dnf resolves user()/group() requires with them. The
    fc42 build has exactly those whatever rpm builds it; EL9's rpm has no such thing."""
    with open(os.path.join(REPO_ROOT, "specs", "cluster-users.spec")) as handle:
        assert "user(munge)" in handle.read()
    conf = subprocess.run("rpm2cpio '{}' | cpio -i --quiet --to-stdout ./usr/lib/sysusers.d/cluster-users.conf"
                          .format(users_rpms["fc42"]), shell=True, stdout=subprocess.PIPE, check=True,
                          universal_newlines=True).stdout
    lines = [line for line in conf.splitlines() if line and not line.startswith("#")]
    assert [line.split()[1] for line in lines] == ["munge", "slurm"]
    provides = [p for p in rpm_query(users_rpms["fc42"], "--provides").splitlines() if re.match(r"(user|group)\(", p)]
    want = []
    for line in lines:
        data = line.encode() + b"\0" * (-len(line) % 3)
        want += ["user({}) = {}".format(line.split()[1], base64.b64encode(data).decode()),
                 "group({})".format(line.split()[1])]
    assert sorted(provides) == sorted(want)
    for provide in provides:
        if " = " in provide:     # what rpm 4.19+ feeds systemd-sysusers on install
            assert base64.b64decode(provide.split(" = ")[1]).rstrip(b"\0").decode() in lines
    assert not re.search(r"^(user|group)\(", rpm_query(users_rpms["el9"], "--provides"), re.M)


def test_fc42_cluster_users_ids_win_in_both_orders(users_rpms, node_factory):
    """The fc42 build, installed by this host's rpm (4.18) with the stand-in munge and
    slurm, in both orders: munge's and slurm's %pre first, in one transaction into an
    empty root (they take dynamic ids, cluster-users renumbers them and re-owns their
    directories), and cluster-users first, on a live node (its accounts exist; the later
    munge and slurm %pre keep them and rpm gives their directories the fixed ids)."""
    first = node_factory("fc42-services-first", "x86_64")
    first.dnf("-y", "--setopt=rpmverbosity=debug", "install", "munge", "slurm-slurmd", users_rpms["fc42"])
    assert first.installed()["cluster-users"].endswith(".fc42.noarch")
    order = scriptlet_order(first)
    assert order.index(("prein", "munge")) < order.index(("prein", "cluster-users")), order
    assert order.index(("prein", "slurm-slurmd")) < order.index(("prein", "cluster-users")), order
    ids = assert_fixed(first)

    later = node_factory("fc42-users-first", "x86_64")
    later.dnf("-y", "install", "setup", "shadow-utils", "systemd")
    later.dnf("-y", "install", users_rpms["fc42"])
    assert later.ids("munge", "slurm") == ids[0]
    later.dnf("-y", "install", "munge", "slurm-slurmd")
    assert assert_fixed(later) == ids


@pytest.fixture
def rpm420(tmp_path):
    """Debian 13's rpm 4.20 in the test world's cached trixie chroot (built on first use,
    cluster_testkit/sidchroot.py), with tmp_path bound at /work."""
    from cluster_testkit.sidchroot import rpm_sysusers_chroot
    with rpm_sysusers_chroot(binds=[(str(tmp_path), "/work", False)]) as chroot:
        yield chroot


@pytest.mark.parametrize("helper", ["/usr/lib/rpm/sysusers.sh", "/usr/bin/systemd-sysusers"])
def test_fc42_cluster_users_with_rpm_420s_own_sysusers(users_rpms, standin_el9, rpm420, tmp_path, helper):
    """rpm >= 4.19 creates the accounts of user()/group() provides itself (%sysusers,
    before %pre), through %__systemd_sysusers: rpm's own sysusers.sh (useradd, Debian's
    and upstream's default) or systemd-sysusers. With the fc42 build: rpm alone (the Lua
    scriptlets turned off) gives the fixed ids; munge's and slurm's %pre first in one
    transaction still end with the fixed ids; cluster-users first, then munge and slurm,
    too."""
    version = rpm420.run(["rpm", "--version"]).stdout
    assert tuple(int(x) for x in re.findall(r"\d+", version)[:2]) >= (4, 19), version
    work, inside = str(tmp_path), "/work"
    os.makedirs(os.path.join(work, "pkgs"))
    source = os.path.join(standin_el9, "x86_64", "Packages")
    files = os.listdir(source)

    def pick(name):
        found = sorted(f for f in files if re.match(re.escape(name) + r"-\d", f))
        shutil.copy2(os.path.join(source, found[-1]), os.path.join(work, "pkgs"))
        return inside + "/pkgs/" + found[-1]
    base = [pick(n) for n in ("filesystem", "setup", "glibc", "bash", "shadow-utils", "systemd",
                              "hwloc-libs", "munge-libs", "slurm-libs")]
    services = [pick(n) for n in ("munge", "slurm", "slurm-slurmd")]
    shutil.copy2(users_rpms["fc42"], os.path.join(work, "pkgs"))
    users = inside + "/pkgs/" + os.path.basename(users_rpms["fc42"])
    from cluster_testkit.dnfroot import give_shell

    def rpm(root, *args):
        if not os.path.isdir(os.path.join(work, root)):
            give_shell(os.path.join(work, root))
            rpm(root, "--initdb")
        proc = rpm420.run(["sh", "-c", 'exec "$@" 2>&1', "rpm", "rpm", "--root", inside + "/" + root,
                           "--dbpath", "/var/lib/rpm", "--define", "__systemd_sysusers " + helper,
                           "--nosignature", "-vv"] + list(args), check=False)
        assert proc.returncode == 0, proc.stdout[-3000:]
        return proc.stdout

    class Root(object):        # what assert_fixed reads
        def __init__(self, name):
            self.root = os.path.join(work, name)

        def path(self, rel):
            return os.path.join(self.root, rel)

        def ids(self, *names):
            from cluster_testkit.dnfroot import DnfRoot
            return DnfRoot.ids(self, *names)

        def getent(self, database):
            from cluster_testkit.dnfroot import DnfRoot
            return DnfRoot.getent(self, database)

        def owner(self, rel):
            st = os.lstat(self.path(rel))
            return st.st_uid, st.st_gid

    rpm("own", "-i", *base)
    log = rpm("own", "-i", "--nopretrans", "--nopre", "--noposttrans", users)
    assert "%sysusers(cluster-users" in log
    assert helper in log, [l for l in log.splitlines() if "sysusers" in l]
    assert_fixed(Root("own"))

    log = rpm("services-first", "-i", *(base + services + [users]))
    order = re.findall(r"%(sysusers|pretrans|prein)\((munge|slurm|cluster-users)-\d", log)
    assert order.index(("prein", "munge")) < order.index(("sysusers", "cluster-users")), order
    assert_fixed(Root("services-first"))

    rpm("users-first", "-i", *base)
    rpm("users-first", "-i", users)
    rpm("users-first", "-i", *services)
    assert_fixed(Root("users-first"))


def test_rpm_420_chroot_that_cannot_be_built_says_why_in_one_line(tmp_path):
    """A first `make test` that cannot reach the Debian mirror stops building the trixie
    chroot at once with one line naming the suite and its log, and leaves nothing half-made."""
    env = dict(os.environ, DEBIAN_MIRROR="http://127.0.0.1:9/debian")
    said, cache = failed_chroot_build(tmp_path, "rpm_sysusers_chroot", env)
    assert "trixie chroot build failed at 'debootstrap" in said and ".build.log" in said
    assert not [n for n in os.listdir(cache) if os.path.isdir(os.path.join(cache, n))]


@pytest.fixture(scope="module")
def el8_repos(standin_for, cluster_repo_for):
    """The stand-in base and the cluster repository built for EL8 (xz payloads, Python 3.6)."""
    return standin_for("el8"), cluster_repo_for("el8")


@pytest.fixture
def rpm414(tmp_path):
    """rpm 4.14 in the test world's cached focal chroot (built on first use,
    cluster_testkit/sidchroot.py), with tmp_path bound at /work."""
    from cluster_testkit.sidchroot import el8_rpm_chroot
    with el8_rpm_chroot(binds=[(str(tmp_path), "/work", False)]) as chroot:
        yield chroot


def test_el8_rpm_414_installs_the_same_ids(el8_repos, make_root, tmp_path, rpm414):
    """EL8's rpm 4.14: Lua without rpm.execute. One `rpm -i` of everything a compute and
    a head node install (the EL8 packages dnf picks for cluster-node and cluster-master)."""
    version = rpm414.run(["rpm", "--version"]).stdout
    assert re.search(r"\b4\.14\.", version), version
    assert rpm414.run(["rpm", "--eval", "%{lua: print(rpm.execute == nil)}"]).stdout.strip() == "true"
    base, cluster = el8_repos

    def el8_root(name, arch):
        root = make_root(name, arch, releasever="8")
        root.add_repo("base", "file://{}/$basearch".format(base))
        root.add_repo("cluster", "file://{}/$releasever/$basearch".format(cluster))
        return root

    def inside(path):
        return "/work/" + os.path.relpath(path, str(tmp_path))
    seen = []
    for name, arch in (("cluster-node", "x86_64"), ("cluster-master", "aarch64")):
        scratch = el8_root("download-{}-{}".format(name, arch), arch)
        rpms = str(tmp_path / "rpms-{}-{}".format(name, arch))
        scratch.dnf("-y", "install", "--downloadonly", "--destdir", rpms, name)
        node = el8_root("el8-{}-{}".format(name, arch), arch)
        assert os.path.dirname(node.root) == str(tmp_path)
        shutil.rmtree(node.path("var/lib/rpm"))
        files = sorted(f for f in os.listdir(rpms) if f.endswith(".rpm"))
        assert any(f.startswith("munge-") for f in files)
        assert any(re.match(r"cluster-users-[^-]+-[^-]+\.el8\.noarch\.rpm$", f) for f in files)
        base_cmd = ["rpm", "--root", inside(node.root), "--dbpath", "/var/lib/rpm"]
        rpm414.run(base_cmd + ["--initdb"])
        proc = rpm414.run(["sh", "-c", 'exec "$@" 2>&1', "rpm"] + base_cmd +
                          ["-i", "--nosignature", "--ignorearch"] + [inside(os.path.join(rpms, f)) for f in files],
                          check=False)
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert "rpm.execute" not in proc.stdout
        seen.append(assert_fixed(node)[0])
    assert seen[0] == seen[1]

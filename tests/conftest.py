"""Fixtures of real tools: RPMs built with rpmbuild, repositories made with
createrepo_c, throwaway systems driven by the real /usr/bin/dnf."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from cluster_testkit import REPO_ROOT, copy_project, standin
from cluster_testkit.dnfroot import DnfRoot
from cluster_testkit.extra import build_repo, slow_packages
from cluster_testkit.gpgfixtures import no_gpg_agent_outlives_the_suite, stop_gpg_agents  # noqa: F401 (fixtures)
from cluster_repo import compsfile


def pytest_configure(config):
    if os.geteuid() != 0:
        raise pytest.UsageError("the suite installs into dnf installroots and must run as root "
                                "(run `make test` as root, or through sudo)")


@pytest.fixture(scope="session", autouse=True)
def lookaside_cache(tmp_path_factory):
    """Every `cluster-repo` of the session reads the tools' tarballs from a lookaside
    cache of its own ($CLUSTER_REPO_CACHE), filled from tests/data/upstream/; the
    user's ~/.cache is never touched. Returns the cache (the directory `--cache` takes)."""
    from cluster_testkit.upstream import use_test_cache
    return use_test_cache(str(tmp_path_factory.mktemp("cluster-repo-cache")))


def corpus_candidates():
    """Where the real distribution data lives: `../shared/corpus/` from the project root
    (its README says tests read it there, read-only); in a git worktree, the project
    root is the main checkout's."""
    roots = [REPO_ROOT]
    try:                        # a copy of the tree may have no git (a fresh Debian chroot)
        common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                                cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                universal_newlines=True)
    except OSError:
        common = None
    if common is not None and common.returncode == 0 and common.stdout.strip():
        roots.append(os.path.dirname(common.stdout.strip()))
    return [os.path.normpath(os.path.join(root, "..", "shared", "corpus")) for root in roots]


@pytest.fixture(scope="session")
def corpus():
    """The directory of comps-f41.xml, comps-epel9.xml and comps.rng (never skipped:
    without it the real-data tests fail, naming where they looked)."""
    for path in corpus_candidates():
        if os.path.isfile(os.path.join(path, "comps.rng")):
            return path
    pytest.fail("no real-data corpus (comps-f41.xml, comps-epel9.xml, comps.rng) in {}".format(
        " or ".join(corpus_candidates())), pytrace=False)


@pytest.fixture(scope="session")
def standin_el9(tmp_path_factory):
    """The stand-in EL9 base: OUT/<arch>/ repositories of empty RPMs with real names."""
    return standin.build(str(tmp_path_factory.mktemp("standin-el9")), "el9")


@pytest.fixture(scope="session")
def standin_for(tmp_path_factory, standin_el9):
    """standin_for(target) -> the stand-in base for that target (OUT/<arch>/), built once
    per session (el9: standin_el9)."""
    built = {"el9": standin_el9}

    def get(target):
        if target not in built:
            built[target] = standin.build(str(tmp_path_factory.mktemp("standin-" + target)), target)
        return built[target]
    return get


@pytest.fixture
def make_root(tmp_path):
    """make_root(name, arch="x86_64") -> a fresh DnfRoot under this test's tmp dir."""
    def make(name="node", arch="x86_64", releasever="9"):
        return DnfRoot(str(tmp_path / name), arch=arch, releasever=releasever)
    return make


def read(path):
    """The text of a file."""
    with open(path) as handle:
        return handle.read()


def write(path, text):
    """Replace a file's text."""
    with open(path, "w") as handle:
        handle.write(text)


def state_of(node):
    """The node's own record, var/lib/dnf/cluster/state.json (DnfRoot or Dnf5Root)."""
    with open(node.path("var/lib/dnf/cluster/state.json")) as handle:
        return json.load(handle)


def wait_for(predicate, timeout=120):
    """True as soon as predicate() is (polled every 20 ms), False after timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def libcomps_iteration_crashes():
    """True where python3-libcomps crashes when a comps list is iterated (Debian 13:
    0.1.21 on Python 3.13, libcomps PR #132): dnf 4's own group commands die there."""
    probe = subprocess.run(["/usr/bin/python3", "-c", "import libcomps; [g for g in libcomps.Comps().groups]"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return probe.returncode < 0


def failed_chroot_build(tmp_path, factory, env):
    """A first build of a test world's chroot, cluster_testkit.sidchroot.FACTORY(cache_dir=
    a fresh cache under tmp_path).ensure(), in a child with `env` that prints the
    RuntimeError it must end with: it exits 1, says one line and nothing on stderr (no
    hang, no traceback). Returns (that line, the cache)."""
    code = ("import sys\nfrom cluster_testkit import sidchroot\n"
            "try:\n    sidchroot.{}(cache_dir=sys.argv[1]).ensure()\n"
            "except RuntimeError as err:\n    print(err)\n    sys.exit(1)\n").format(factory)
    cache = str(tmp_path / "cache")
    proc = subprocess.run([sys.executable, "-c", code, cache], cwd=REPO_ROOT, env=env, timeout=300,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert proc.returncode == 1 and proc.stdout.count("\n") == 1 and not proc.stderr, proc
    return proc.stdout, cache


def make_comps_repo(src, dest, comps_xml):
    """Copy repository `src` to `dest` and re-index it with `comps_xml` as group data."""
    shutil.copytree(src, dest)
    shutil.rmtree(os.path.join(dest, "repodata"))
    comps_file = os.path.join(dest, "comps.xml")
    with open(comps_file, "w") as handle:
        handle.write(comps_xml)
    subprocess.run(["createrepo_c", "--quiet", "--no-database", "-g", comps_file, dest], check=True)
    return dest


@pytest.fixture(scope="session")
def project_comps_xml():
    return compsfile.to_xml(compsfile.merge(compsfile.load_dir(os.path.join(REPO_ROOT, "comps"))))


def cluster_repo(*args, **kwargs):
    """Run the packager's `cluster-repo` command; returns the CompletedProcess."""
    check = kwargs.pop("check", True)
    proc = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "bin", "cluster-repo")] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError("cluster-repo {} failed ({}):\n{}\n{}".format(
            " ".join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc


def on_a_terminal(argv, timeout=300, **kwargs):
    """(exit status, bytes) of argv run with a pseudo-terminal as its stdout and stderr
    (stdin: nothing), everything it wrote there read until it ends."""
    import pty
    master, slave = pty.openpty()
    proc = None
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, **kwargs)
        os.close(slave)
        slave = None
        output = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:             # the terminal closed with the process
                break
            if not chunk:
                break
            output += chunk
        return proc.wait(timeout), output
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        if slave is not None:
            os.close(slave)


@pytest.fixture
def project(tmp_path):
    return copy_project(str(tmp_path / "project"))


@pytest.fixture(scope="session")
def cluster_repo_el9(tmp_path_factory, standin_el9):
    """The cluster repository built from (a copy of) the sources for EL9: OUTDIR, with
    OUTDIR/9/<arch>/ and OUTDIR/9/SRPMS/; closure-checked against the stand-in base."""
    work = tmp_path_factory.mktemp("cluster-repo-el9")
    src = copy_project(str(work / "project"))
    out = str(work / "repo")
    cluster_repo("-C", src, "build", out, "--target", "el9",
                 "--base-repo", "file://{}/$basearch".format(standin_el9))
    return out


@pytest.fixture(scope="session")
def tools_build(tmp_path_factory):
    """(project, OUTDIR): a copy of the tree built once for el9 on this host's arch, the
    tools from upstream sources (specs/NAME/) with it."""
    work = tmp_path_factory.mktemp("tools-build")
    project = copy_project(str(work / "project"))
    out = str(work / "repo")
    cluster_repo("-C", project, "build", out, "--arch", "x86_64")
    return project, out


@pytest.fixture(scope="session")
def cluster_repo_for(tmp_path_factory, cluster_repo_el9, standin_for):
    """cluster_repo_for(target) -> OUTDIR built from (a copy of) the sources for that
    target, both arches, closure-checked against that target's stand-in base; each target
    is built once per session (el9: cluster_repo_el9). cluster_repo_for.output(target):
    what that build printed (stdout, then stderr)."""
    built = {"el9": cluster_repo_el9}
    output = {}

    def get(target):
        if target not in built:
            work = tmp_path_factory.mktemp("cluster-repo-" + target)
            src = copy_project(str(work / "project"))
            proc = cluster_repo("-C", src, "build", str(work / "repo"), "--target", target,
                                "--base-repo", "file://{}/$basearch".format(standin_for(target)))
            output[target] = proc.stdout + proc.stderr
            built[target] = str(work / "repo")
        return built[target]
    get.output = lambda target: output[target] if get(target) else None
    return get


@pytest.fixture
def node_factory(make_root, standin_el9, cluster_repo_el9):
    """node_factory(name, arch) -> a root with the stand-in base and the cluster repo."""
    def make(name="node", arch="x86_64"):
        root = make_root(name, arch=arch)
        root.add_repo("base", "file://{}/$basearch".format(standin_el9))
        root.add_repo("cluster", "file://{}/$releasever/$basearch".format(cluster_repo_el9))
        return root
    return make


#: `publish --lock` with these options locks Open MPI 4.1.5 although 4.1.6 is in the
#: repositories: the head node's dnf hides the newer build (an admin holding it back),
#: and the lock is what a fresh node would install with the head node's configuration.
HOLD_BACK_OPENMPI = ("--exclude", "openmpi-4.1.6-1.el9,openmpi-devel-4.1.6-1.el9")


class ClusterSite(object):
    """A published cluster: the built repository (the packager's, with its default
    profile), the stand-in base and the site repository served over HTTP on 127.0.0.1
    (as a mirror and the head node serve them), the role definitions, a head node that
    publishes the site's profile into the site repository, and nodes that sync from it.
    The site repository starts at generation 1, published from the project's roles."""

    def __init__(self, tmp_path, repo, base, make_root):
        from cluster_testkit.httpd import RepoServer
        self.www = str(tmp_path / "www")
        shutil.copytree(repo, os.path.join(self.www, "cluster"))
        shutil.copytree(base, os.path.join(self.www, "base"))
        self.upstream = os.path.join(self.www, "cluster", "9")
        self.tree = os.path.join(self.www, "site", "9")
        self.roles = str(tmp_path / "roles")
        shutil.copytree(os.path.join(REPO_ROOT, "roles"), self.roles)
        self.make_root = make_root
        self.server = RepoServer(self.www).start()
        self._master = None
        publish_site(self.tree, self.upstream, self.roles, baseurl=self.url + "/site")

    def repo_lines(self, root):
        root.add_repo("base", "{}/base/$basearch/".format(self.url))
        root.add_repo("cluster", "{}/cluster/$releasever/$basearch/".format(self.url))
        root.add_repo("cluster-site", "{}/site/$releasever/$basearch/".format(self.url))

    @property
    def url(self):
        return self.server.url

    def node(self, name, arch="x86_64", role="compute"):
        root = self.make_root(name, arch=arch)
        self.repo_lines(root)
        if role:
            root.set_role(role)
        return root

    @property
    def master(self):
        if self._master is None:
            self._master = self.node("head", role="master")
        return self._master

    def edit_role(self, role, old, new):
        path = os.path.join(self.roles, role + ".yaml")
        with open(path) as handle:
            text = handle.read()
        assert old in text, (old, text)
        with open(path, "w") as handle:
            handle.write(text.replace(old, new))

    def publish(self, *extra):
        return self.master.dnf("cluster-master", "publish", "--roles", self.roles, "--repo-dir", self.tree, *extra)

    def build_testing_bio(self, project):
        """A newer cluster-apps-bio (1.0-2, from the copy of the tree `project`) built into
        the testing channel of the cluster repository; stable keeps 1.0-1."""
        path = os.path.join(project, "metapackages", "cluster-apps-bio.yaml")
        write(path, read(path).replace('release: "1"', 'release: "2"'))
        cluster_repo("-C", project, "build", os.path.join(self.www, "cluster"), "--channel", "testing")

    def close(self):
        self.server.stop()


#: the packages of slow_site's repository, each with a slow %post
SLOW = ["slow-tool-1", "slow-tool-2", "slow-tool-3"]


@pytest.fixture
def slow_site(site):
    """The site, plus a repository of packages with a slow %post, listed in the compute role."""
    build_repo(os.path.join(site.www, "slow"), slow_packages(len(SLOW), seconds=2))
    site.master.add_repo("slow", "{}/slow/".format(site.url))
    site.edit_role("compute", "packages: [cluster-apps-bio]",
                   "packages: [cluster-apps-bio, {}]".format(", ".join(SLOW)))
    site.publish()
    return site


def kill_during_the_slow_transaction(node, argv):
    """Start argv, a sync of node (DnfRoot or Dnf5Root) that installs slow_site's SLOW
    packages, and kill it (SIGKILL) while their slow %post runs: the transaction is
    under way, not finished."""
    proc = node.start(argv)
    # files are unpacked just before %post: the transaction is under way, not finished
    assert wait_for(lambda: any(os.path.exists(node.path("opt/slow/" + n)) for n in SLOW))
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert not set(SLOW) <= set(node.installed()), "the kill came too late to interrupt the transaction"


def tree_snapshot(top, *parts):
    """{relative path: bytes} of every file under top/parts (to show nothing changed)."""
    base = os.path.join(top, *parts)
    out = {}
    for directory, _, files in os.walk(base):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                out[os.path.relpath(path, base)] = handle.read()
    return out


def publish_site(tree, upstream, roles, baseurl=None, message="first generation", gpg=None, **changes):
    """Publish the roles as the next generation of the site repository `tree` with the
    library (what `dnf cluster-master publish` does once it has the profile), resolving
    groups with the upstream tree's comps; `changes` replace top-level profile keys."""
    from dnf_plugin_cluster import profile
    from dnf_plugin_cluster.head import publish
    site = publish.SiteTree(tree)
    prof = profile.build(profile.load_roles(roles), publish.tree_comps(upstream), ("x86_64", "aarch64"))
    prof.update(changes)
    with site.locked():
        return site.publish(prof, site.publish_arches(), gpg=gpg, message=message, user="test", baseurl=baseurl)


@pytest.fixture
def site(tmp_path, cluster_repo_el9, standin_el9, make_root):
    site = ClusterSite(tmp_path, cluster_repo_el9, standin_el9, make_root)
    yield site
    site.close()

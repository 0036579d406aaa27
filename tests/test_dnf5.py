"""Nodes converge on dnf5 hosts, with dnf5 as the only package manager: inside a Debian
sid chroot (dnf5 5.4, python3-libdnf5; built once and cached under .cache/sid/), node
roots are driven through `dnf5 cluster-node sync` (the C++ plugin, built from dnf5-plugin/
with cmake) and through `dnf-cluster node sync` (which picks the libdnf5 backend by
itself there), against the same HTTP test repository on 127.0.0.1 as the dnf 4 tests,
the profile published by a dnf 4 head node on the host."""
import hashlib
import os
import re
import shutil

import pytest

from cluster_testkit import hostile
from cluster_testkit.dnf5root import WORK, Dnf5Root, Dnf5World
from conftest import HOLD_BACK_OPENMPI, SLOW, failed_chroot_build, kill_during_the_slow_transaction, state_of

pytestmark = pytest.mark.slow

COMPUTE = {"cluster-node", "cluster-apps-bio", "python3-dnf-plugin-cluster"}      # what the role lists


@pytest.fixture(scope="module")
def world(tmp_path_factory, request):
    """The sid chroot, mounted for this module, with the plugin built in it. The first
    run builds the chroot (a few minutes) and says so on the terminal."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")

    def say(message):
        if reporter is not None:
            reporter.write_line("dnf5 test world: " + message)
    world = Dnf5World(str(tmp_path_factory.mktemp("dnf5")), log=say)
    try:
        spent = world.chroot.ensure()
    except RuntimeError as err:
        pytest.fail(str(err), pytrace=False)
    if spent:
        say("the sid chroot is built ({:.0f} s) and cached in {}".format(spent, world.chroot.root))
    world.start()
    try:
        world.build_plugin()
        yield world
    finally:
        world.stop()


@pytest.fixture
def make_node(site, world, request):
    """make_node(name, arch, role) -> a dnf5 root with the base and cluster repositories."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")
    prefix = name if len(name) <= 48 else "{}-{}".format(name[:40], hashlib.sha1(name.encode()).hexdigest()[:7])

    def make(name, arch="x86_64", role="compute"):
        node = Dnf5Root(world, "{}-{}".format(prefix, name), arch)
        site.repo_lines(node)                    # the same repositories as the dnf 4 nodes
        if role:
            node.set_role(role)
        return node
    return make


def plugin(node, *args, **kwargs):
    """`dnf5 [globals] cluster-node ARGS`: through the C++ plugin."""
    globals_ = [a for a in args if a in ("-y", "-q", "--assumeno", "-C")]
    rest = [a for a in args if a not in globals_]
    return node.dnf5(*(globals_ + ["cluster-node"] + rest), **kwargs)


def standalone(node, *args, **kwargs):
    """`dnf-cluster ARGS node ...`: the program itself, options anywhere."""
    return node.cluster(*(["node"] + list(args)), **kwargs)


DOORS = {"plugin": plugin, "dnf-cluster": standalone}


def test_dnf5_initial_sync_per_arch_then_noop(site, make_node):
    x86 = make_node("x86", "x86_64")
    arm = make_node("arm", "aarch64")
    out = plugin(x86, "-y", "sync").out
    assert "role compute on x86_64" in out and "Complete!" in out
    assert "Transaction Summary:" in out                      # dnf5's table
    out = standalone(arm, "sync", "-y").out
    assert "role compute on aarch64" in out and "Complete!" in out
    a, b = x86.installed(), arm.installed()
    for name in ("cluster-node", "cluster-apps-bio", "slurm-slurmd", "openmpi", "munge", "ncbi-blast+"):
        assert name in a and name in b, name
    assert "opa-basic-tools" in a and "libpsm2" in a           # x86_64 only
    assert "opa-basic-tools" not in b and "libpsm2" not in b
    assert a["cluster-node"].endswith(".x86_64") and b["cluster-node"].endswith(".aarch64")
    assert any(re.search(r"/site/9/aarch64/repodata/[0-9a-f]+-cluster-profile\.json\.gz$", r)
               for r in site.server.requests)

    # dnf5's own records: the role's packages are the user's, what they pulled in is a
    # dependency (so dnf5 autoremove behaves), and the sync is in dnf5's history
    assert x86.userinstalled() == COMPUTE | {"opa-basic-tools"}
    assert arm.userinstalled() == COMPUTE
    for node in (x86, arm):
        reasons = node.reasons()
        assert reasons["slurm-slurmd"] == "Dependency" and reasons["cluster-node"] == "User"
        (_, status, comment, description), = node.history()
        assert status == "Ok" and re.match(r"cluster-node sync [0-9a-f]{32}: role compute, profile ", comment)
        assert "node" in description and "sync" in description
        assert "Removing" not in node.dnf5("-C", "autoremove", "--assumeno", check=False).out
        assert state_of(node)["managed"] == sorted(COMPUTE | ({"opa-basic-tools"} if node is x86 else set()))

    # a second sync, through the other door, is a no-op that only checks repomd.xml
    for node, door in ((x86, standalone), (arm, plugin)):
        before, transactions = node.installed(), node.history()
        del site.server.requests[:]
        again = door(node, "-y", "sync")
        assert "In sync: nothing to do." in again.out
        assert sorted(site.server.requests) == ["/base/{}/repodata/repomd.xml".format(node.arch),
                                                "/cluster/9/{}/repodata/repomd.xml".format(node.arch),
                                                "/site/9/{}/repodata/repomd.xml".format(node.arch)]
        assert node.installed() == before and node.history() == transactions


def test_dnf5_profile_changes_converge(site, make_node):
    node = make_node("x86", "x86_64")
    other = make_node("arm", "aarch64")
    plugin(node, "-y", "sync")
    standalone(other, "-y", "sync")

    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, cluster-apps-md]")
    site.publish()
    for n, door in ((node, plugin), (other, standalone)):
        door(n, "-y", "sync")
        assert "gromacs-openmpi" in n.installed()
        assert door(n, "status").rc == 0

    # dropped from the role: removed, with the dependencies only it needed
    site.edit_role("compute", "packages: [cluster-apps-bio, cluster-apps-md]", "packages: [cluster-apps-md]")
    site.publish()
    plan = plugin(node, "sync", "--dry-run").out
    assert "remove     cluster-apps-bio (installed by the profile, no longer listed)" in plan
    for n, door in ((node, standalone), (other, plugin)):
        door(n, "-y", "sync")
        installed = n.installed()
        assert "cluster-apps-bio" not in installed and "ncbi-blast+" not in installed
        assert "gromacs-openmpi" in installed and "cluster-node" in installed
        assert "cluster-apps-bio" not in state_of(n)["managed"]
        assert "Removing" not in n.dnf5("-C", "autoremove", "--assumeno", check=False).out

    # pins: the head node (dnf 4, on the host) locks the older Open MPI (holding 4.1.6
    # back); nodes move down to it
    locked = site.publish("--lock", *HOLD_BACK_OPENMPI, "--json").json["locked"]
    assert locked["compute"]["x86_64"]["openmpi"] == "4.1.5-1.el9"
    for n, door in ((node, plugin), (other, standalone)):
        status = door(n, "status", "--json", check=False)
        assert status.rc == 100
        assert status.json["drift"]["wrong_version"] == [
            {"name": "openmpi", "installed": "4.1.6-1.el9", "locked": "4.1.5-1.el9", "pinned": "4.1.5-1.el9"}]
        door(n, "-y", "sync")
        assert n.installed()["openmpi"].startswith("0:4.1.5-1.el9.")
        assert door(n, "status").rc == 0
    fresh = make_node("new", "aarch64")                      # resolves to the pinned builds at once
    plugin(fresh, "-y", "sync")
    assert fresh.installed()["openmpi"] == "0:4.1.5-1.el9.aarch64"

    site.publish("--lock")                                   # 4.1.6 let through
    for n in (node, other, fresh):
        out = standalone(n, "-y", "sync").out
        assert "upgrade    openmpi 4.1.5-1.el9 -> 4.1.6-1.el9 (locked)" in out
        assert n.installed()["openmpi"].startswith("0:4.1.6-1.el9.")
        assert plugin(n, "-y", "sync").out.count("In sync") == 1


ADMIN_LOCK = """version = "1.0"

[[packages]]
name = "slurm*"
comment = "the admin's own: stay on 22.05 \\"for now\\" ü"

[[packages.conditions]]
key = "evr"
comparator = "<"
value = "23"
"""


def locks(node):
    """(the admin's entries, {name: evr} of the cluster's) in the node's versionlock.toml,
    read with Python's own TOML parser."""
    import tomllib
    with open(node.path("etc/dnf/versionlock.toml"), "rb") as handle:
        data = tomllib.load(handle)
    ours = [p for p in data.get("packages", []) if p.get("comment", "").startswith("dnf-plugin-cluster:")]
    admin = [p for p in data.get("packages", []) if p not in ours]
    return admin, dict((p["name"], p["conditions"][0]["value"]) for p in ours
                       if p["conditions"] == [{"key": "evr", "comparator": "=", "value": p["conditions"][0]["value"]}])


def test_dnf5_pins_hold_against_a_plain_dnf5_upgrade(site, make_node):
    """A sync hands the role's pins to /etc/dnf/versionlock.toml (entries of its own,
    marked by their comment; the admin's untouched and holding for sync too), so a plain
    `dnf5 upgrade` keeps them; a moved pin moves them, an unpinned profile drops them."""
    pins = site.publish("--lock", *HOLD_BACK_OPENMPI, "--lock-exclude", "slurm*",
                        "--json").json["locked"]["compute"]["x86_64"]
    assert pins["openmpi"] == "4.1.5-1.el9" and not [n for n in pins if n.startswith("slurm")]

    node = make_node("node")
    with open(node.path("etc/dnf/versionlock.toml"), "w") as handle:
        handle.write(ADMIN_LOCK)
    admin_before, _ = locks(node)
    plugin(node, "-y", "sync")
    installed = node.installed()
    assert installed["openmpi"].startswith("0:4.1.5-1.el9.")
    assert installed["slurm"].startswith("0:22.05.9-1.el9.")          # the admin's lock held for sync
    admin, ours = locks(node)
    assert admin == admin_before and ours["openmpi"] == "4.1.5-1.el9"
    assert ours == pins
    listed = node.dnf5("versionlock", "list").out                     # dnf5 reads the file we wrote
    assert "openmpi" in listed and "slurm*" in listed

    # nothing pinned or locked moves with a plain upgrade
    node.dnf5("-y", "upgrade")
    installed = node.installed()
    assert installed["openmpi"].startswith("0:4.1.5-1.el9.") and installed["slurm"].startswith("0:22.05")
    assert plugin(node, "status").rc == 0

    # the newer build is let through: the pin moves, the sync gets past its own earlier entry
    site.publish("--lock", "--lock-exclude", "slurm*")
    out = standalone(node, "-y", "sync").out
    assert "upgrade    openmpi 4.1.5-1.el9 -> 4.1.6-1.el9 (locked)" in out, out
    admin, ours = locks(node)
    assert admin == admin_before and ours["openmpi"] == "4.1.6-1.el9"

    # unpinned: the cluster's entries go, the admin's stay; the admin's still hold
    site.publish("--unlock")
    plugin(node, "-y", "sync")
    admin, ours = locks(node)
    assert admin == admin_before and ours == {}
    node.dnf5("-y", "upgrade")
    assert node.installed()["slurm"].startswith("0:22.05.9-1.el9.")
    assert plugin(node, "status").rc == 0


def test_dnf5_pins_never_go_through_a_link_out_of_the_root(site, make_node):
    """An image whose /etc/dnf became a symbolic link out of the root: the sync still
    converges and warns; nothing is written where the link points."""
    import shutil
    site.publish("--lock")
    node = make_node("linked")
    plugin(node, "-y", "sync")
    root = node.path("/").rstrip("/")
    outside = root + "-etc-dnf"                              # beside the root, not in it
    shutil.move(node.path("etc/dnf"), outside)
    os.symlink("../../" + os.path.basename(outside), node.path("etc/dnf"))
    with open(os.path.join(outside, "versionlock.toml"), "rb") as handle:
        before = handle.read()
    assert b'value = "4.1.6-1.el9"' in before

    site.publish("--lock", *HOLD_BACK_OPENMPI)
    result = standalone(node, "-y", "sync")
    assert "downgrade  openmpi 4.1.6-1.el9 -> 4.1.5-1.el9 (locked)" in result.out
    assert "Warning: " in result.err and "reached through a symbolic link" in result.err, result
    with open(os.path.join(outside, "versionlock.toml"), "rb") as handle:
        assert handle.read() == before
    assert node.installed()["openmpi"].startswith("0:4.1.5-1.el9.")


def test_dnf5_plain_upgrade_and_distro_sync_in_an_image_root_keep_the_images_pins(site, make_node, world):
    """`dnf5 --installroot=IMG` reads the image's own versionlock.toml (libdnf5's
    PackageSack::get_versionlock_config: the installroot's, unless --use-host-config):
    the pins a sync wrote there hold for plain `upgrade` and `distro-sync` run from the
    host; the host's own versionlock.toml is never written."""
    pins = site.publish("--lock", *HOLD_BACK_OPENMPI, "--json").json["locked"]["compute"]["x86_64"]
    assert pins["openmpi"] == "4.1.5-1.el9"
    host_toml = world.chroot.path("/etc/dnf/versionlock.toml")

    def host_lock():
        if not os.path.lexists(host_toml):
            return None
        with open(host_toml, "rb") as handle:
            return handle.read()
    before = host_lock()
    image = make_node("image")
    plugin(image, "-y", "sync")
    assert image.installed()["openmpi"].startswith("0:4.1.5-1.el9.")
    assert locks(image)[1] == pins and host_lock() == before

    # without the image's lock file, a plain upgrade would move the pinned build
    toml = image.path("etc/dnf/versionlock.toml")
    os.rename(toml, toml + ".aside")
    try:
        would = image.dnf5("--assumeno", "upgrade", check=False)
    finally:
        os.rename(toml + ".aside", toml)
    assert "openmpi" in would.out and "4.1.6-1.el9" in would.out, would
    for command in ("upgrade", "distro-sync"):
        image.dnf5("-y", command)
        assert image.installed()["openmpi"].startswith("0:4.1.5-1.el9."), command
    assert plugin(image, "status").rc == 0 and host_lock() == before


def test_dnf5_use_host_config_in_an_image_root_keeps_the_images_pins(site, make_node, world):
    """`dnf5 --use-host-config --installroot=IMG` reads the host's versionlock.toml, not the
    image's (libdnf5's PackageSack::get_versionlock_config), so a plain upgrade run from the
    head node with the host's configuration would move the pins a sync wrote into the
    image. dnf5-plugin-cluster's libdnf5 plugin cluster-image-locks (loaded for
    installroots) applies the image's file beside the host's: upgrade and distro-sync keep
    the pins, the host's versionlock.toml is never written; `--disable-plugin` lifts it."""
    pins = site.publish("--lock", *HOLD_BACK_OPENMPI, "--json").json["locked"]["compute"]["x86_64"]
    assert pins["openmpi"] == "4.1.5-1.el9"
    host_toml = world.chroot.path("/etc/dnf/versionlock.toml")
    assert not os.path.lexists(host_toml)
    image = make_node("image")
    plugin(image, "-y", "sync")
    assert image.installed()["openmpi"].startswith("0:4.1.5-1.el9.")
    # the host's configuration (the head node's .repo files stand in as its reposdir)
    host = ("--use-host-config", "--setopt=reposdir={}/etc/yum.repos.d".format(image.root))
    ours = tuple(world.libdnf5_setopts())

    # dnf5 with its own libdnf5 plugins only: the image's pins do not hold
    would = image.dnf5(*(host + ("--assumeno", "upgrade")), check=False)
    assert "openmpi" in would.out and "4.1.6-1.el9" in would.out, would
    lifted = image.dnf5(*(host + ours + ("--disable-plugin=cluster-image-locks", "--assumeno", "upgrade")),
                        check=False)
    assert "openmpi" in lifted.out and "4.1.6-1.el9" in lifted.out, lifted
    image.dnf5(*(host + ours + ("-y", "upgrade")))
    assert image.installed()["openmpi"].startswith("0:4.1.5-1.el9.")
    # the installroot as an admin may type it, with a trailing slash
    world.run(["dnf5", "--installroot={}/".format(image.root), "--releasever=9", "--forcearch=x86_64"] + list(host)
              + list(ours) + ["-y", "distro-sync"], env=image.env())
    assert image.installed()["openmpi"].startswith("0:4.1.5-1.el9.")
    assert plugin(image, "status").rc == 0 and not os.path.lexists(host_toml)
    # without --use-host-config the plugin leaves it to libdnf5, which reads the image's file
    image.dnf5(*(ours + ("-y", "upgrade")))
    assert image.installed()["openmpi"].startswith("0:4.1.5-1.el9.")


@pytest.mark.parametrize("make, message", [
    ("fifo", "dnf5's version lock file is not a regular file"),
    ("link", "refusing to follow a symbolic link"),
    ("sparse", "dnf5's version lock file is larger than 4194304 bytes; refusing"),
    ("garbage", "cannot read: [error] toml::parse_file: invalid array-table key --> "),
])
def test_dnf5_use_host_config_refuses_a_hostile_image_versionlock_toml_in_one_line(site, make_node, world, make,
                                                                                  message):
    """The image's versionlock.toml, read by cluster-image-locks under --use-host-config,
    must be a plain file of the image: a FIFO would hang dnf5, a link (here to /dev/zero)
    leads out of the image, a huge file would be read whole, and what libdnf5 cannot parse
    is toml11's message of several lines. Each is one line naming the file, exit 1, before
    anything is resolved; nothing is installed."""
    image = make_node("image")
    path = image.path("etc/dnf/versionlock.toml")
    {"fifo": hostile.fifo, "link": hostile.link_to_dev_zero, "sparse": hostile.sparse_file,
     "garbage": _garbage}[make](path)
    host = ("--use-host-config", "--setopt=reposdir={}/etc/yum.repos.d".format(image.root))
    result = image.dnf5(*(host + tuple(world.libdnf5_setopts()) + ("-y", "install", "tmux")), check=False,
                        timeout=300)
    errors = [l for l in result.err.splitlines() if "rror" in l or "versionlock.toml" in l]
    assert result.rc == 1 and len(errors) == 1 and result.err.endswith(errors[0] + "\n"), result
    assert errors[0].startswith("Error: {}/etc/dnf/versionlock.toml: {}".format(image.root, message)), result
    assert errors[0].endswith(" (the image's version locks)"), result
    assert image.installed() == {}


@pytest.mark.parametrize("door", sorted(DOORS))
def test_dnf5_hand_installed_packages_survive(site, make_node, door):
    sync = DOORS[door]
    site.edit_role("compute", "packages: [cluster-apps-bio]",
                   "packages: [cluster-apps-bio, fftw-openmpi, apptainer]")
    site.publish()
    node = make_node("node")
    node.dnf5("-y", "install", "htop", "apptainer")          # by hand, before the first sync
    sync(node, "-y", "sync")
    node.dnf5("-y", "install", "gromacs-openmpi")            # by hand, needs the profile's fftw-openmpi
    managed = set(state_of(node)["managed"])
    assert managed >= {"cluster-node", "cluster-apps-bio", "fftw-openmpi"}
    assert not managed & {"htop", "apptainer", "gromacs-openmpi"}
    assert {"htop", "apptainer", "gromacs-openmpi"} <= node.userinstalled()

    site.edit_role("compute", "packages: [cluster-apps-bio, fftw-openmpi, apptainer]", "packages: []")
    site.publish()
    out = sync(node, "-y", "sync").out
    assert "remove     cluster-apps-bio (installed by the profile, no longer listed)" in out
    assert "keep       fftw-openmpi (still needed by gromacs-openmpi)" in out
    assert "apptainer" not in out.split("Package ")[0]       # never even planned
    installed = node.installed()
    for name in ("htop", "apptainer", "gromacs-openmpi", "fftw-openmpi"):
        assert name in installed, name
    assert "cluster-apps-bio" not in installed
    assert sync(node, "-y", "sync").out.count("keep       fftw-openmpi") == 1


@pytest.mark.parametrize("door", sorted(DOORS))
def test_dnf5_status_reports_drift_and_dry_run_changes_nothing(site, make_node, door):
    run = DOORS[door]
    node = make_node("node", "aarch64")
    status = run(node, "status", check=False)
    assert status.rc == 100
    assert "  missing        cluster-node" in status.out and "Drift: 3 differences" in status.out

    before, transactions = node.installed(), node.history()
    dry = run(node, "sync", "--dry-run")
    assert dry.rc == 0 and "Dry run: nothing was changed." in dry.out and "Transaction Summary:" in dry.out
    assert run(node, "sync", "--check", check=False).rc == 100
    assumeno = run(node, "--assumeno", "sync")
    assert assumeno.rc == 0 and "Dry run" in assumeno.out
    planned = run(node, "sync", "--dry-run", "--json").json
    assert planned["result"] == "planned" and planned["arch"] == "aarch64"
    assert [i["name"] for i in planned["plan"]["install"]] == sorted(COMPUTE)
    refused = run(node, "sync", "--json", check=False)       # a real sync under --json needs -y
    assert refused.rc == 1
    assert refused.err.strip() == "Error: cluster-node sync --json needs -y (or --dry-run / --check)"
    assert node.installed() == before == {} and node.history() == transactions
    assert not os.path.exists(node.path("var/lib/dnf/cluster/state.json"))
    unconfirmed = run(node, "sync", check=False, input="n\n")
    assert unconfirmed.rc == 1 and "Is this ok [y/N]:" in unconfirmed.out and "Operation aborted." in unconfirmed.err
    assert node.installed() == {} and node.history() == transactions

    synced = run(node, "-y", "sync", "--json").json
    assert synced["result"] == "synced"
    assert any(t["package"].startswith("cluster-node-1.0-1.el9.aarch64") and t["action"] == "Install"
               for t in synced["transaction"])
    node.dnf5("-y", "remove", "cluster-apps-bio")            # drift by hand
    status = run(node, "status", "--json", check=False)
    assert status.rc == 100 and status.json["drift"]["missing"] == ["cluster-apps-bio"]


def test_dnf5_killed_sync_is_finished_by_the_next_one(slow_site, make_node):
    node = make_node("killed")
    node.add_repo("slow", "{}/slow/".format(slow_site.url))
    kill_during_the_slow_transaction(node, node.dnf5_args("-y", "cluster-node", "sync"))  # execs dnf-cluster
    assert state_of(node)["pending"]
    assert [h[1] for h in node.history()] == ["Started"]     # dnf5's record of the killed transaction
    assert "External User" in node.reasons().values()       # its reasons were never written

    rerun = standalone(node, "-y", "sync")
    assert "Complete!" in rerun.out
    installed = node.installed()
    for name in SLOW + ["cluster-node", "cluster-apps-bio", "slurm-slurmd"]:
        assert name in installed, name
    assert plugin(node, "status").rc == 0
    state = state_of(node)
    assert state["pending"] is None and set(SLOW) | {"cluster-node", "cluster-apps-bio"} <= set(state["managed"])
    # the reasons the killed transaction meant to write are written: dependencies stay dependencies
    reasons = node.reasons()
    assert "External User" not in reasons.values(), reasons
    assert reasons["slurm-slurmd"] == "Dependency" and reasons["cluster-node"] == "User"
    assert node.userinstalled() == COMPUTE | {"opa-basic-tools"} | set(SLOW)

    slow_site.edit_role("compute", "packages: [cluster-apps-bio, {}]".format(", ".join(SLOW)),
                        "packages: [cluster-apps-bio]")
    slow_site.publish()
    plugin(node, "-y", "sync")
    assert not set(SLOW) & set(node.installed())


@pytest.mark.parametrize("door", sorted(DOORS))
def test_dnf5_bad_input_is_one_line_and_changes_nothing(site, make_node, door):
    run = DOORS[door]
    node = make_node("node")

    def refused(*args, **kwargs):
        result = run(node, *args, check=False)
        assert result.rc == kwargs.get("rc", 1), result
        lines = [l for l in result.err.splitlines() if l.strip()]
        assert len(lines) == 1 and "Traceback" not in result.err, result
        assert node.installed() == {} and not os.path.exists(node.path("var/lib/dnf/cluster/state.json"))
        return lines[0]

    assert "unknown role 'storage' (the profile has: compute, gpu, login, master)" in refused(
        "-y", "sync", "--role", "storage")
    os.remove(node.path("etc/dnf/plugins/cluster.conf"))
    assert "this node has no role" in refused("-y", "sync")
    node.set_role("compute")
    assert "invalid choice: 'bogus'" in refused("bogus", rc=2)
    assert "unrecognized arguments: --bogus" in refused("sync", "--bogus", rc=2)
    assert "unknown configuration option" in refused("--setopt=no_such_option=1", "status")
    assert "Failed to download metadata" in refused("--setopt=cluster.baseurl=http://127.0.0.1:9/x", "status")
    # under --json the error is a node answer too (format 1), as on dnf 4
    answer = run(node, "--setopt=cluster.baseurl=http://127.0.0.1:9/x", "status", "--json", check=False)
    assert answer.rc == 1 and answer.json["format"] == 1 and answer.json["result"] == "error"
    assert answer.json["command"] == "status" and "Failed to download metadata" in answer.json["error"]
    assert answer.err.startswith("Error: ") and answer.err.count("\n") == 1


def test_dnf5_same_answers_as_dnf4(site, make_node):
    """The same node state gives the same JSON on both backends: status and the plan."""
    dnf5_node = make_node("libdnf5", "aarch64")
    dnf4_node = site.node("dnf4", "aarch64")
    for args in (("cluster-node", "status", "--json"), ("cluster-node", "sync", "--dry-run", "--json")):
        four = dnf4_node.dnf(*args, check=False)
        five = dnf5_node.dnf5(*args, check=False)
        assert four.rc == five.rc
        a, b = four.json, five.json
        a.pop("transaction", None), b.pop("transaction", None)
        assert a == b
    four = dnf4_node.dnf("cluster-node", "sync", "--dry-run", "--json").json["transaction"]
    five = dnf5_node.cluster("node", "sync", "--dry-run", "--json").json["transaction"]
    assert sorted(t["package"] for t in four) == sorted(t["package"] for t in five)
    assert set(t["action"] for t in four) == set(t["action"] for t in five) == {"Install"}


def test_dnf5_plugin_hands_over_and_leaves_dnf5_alone(site, make_node, world):
    node = make_node("node")
    assert re.search(r"cluster-node\s", node.dnf5("--help").out)
    help_ = node.dnf5("cluster-node", "--help").out
    assert "--dry-run" in help_ and "--role" in help_
    master = node.dnf5("cluster-master", "--help").out      # every option described, a line per subcommand
    assert "canaries first" in " ".join(master.split()) and "--wave-size N" in master
    assert re.search(r"^ +history: +the published generations, or generation N in detail;$", master, re.M), master
    usage = node.cluster("--help").out              # dnf-cluster's own: its commands and dnf5's options
    assert "node     (cluster-node)" in usage and "--installroot DIR" in usage and "usage:" not in usage
    # global options after the command word reach dnf-cluster too
    status = node.dnf5("cluster-node", "status", "-q", "--json", check=False)
    assert status.rc == 100 and status.json["drift"]["missing"]
    # a package named like our command is dnf5's business
    own = node.dnf5("--assumeno", "install", "cluster-master", check=False)
    assert "Cluster profile" not in own.out and "cluster-master" in own.out and "Installing:" in own.out
    # the commands reached through a dnf5 alias (dnf5 parsed the line itself)
    home = "{}/home-{}".format(WORK, node.name)
    os.makedirs(world.host_path(home + "/.config/dnf5/aliases.d"))
    with open(world.host_path(home + "/.config/dnf5/aliases.d/cluster.conf"), "w") as handle:
        handle.write('version = "1.1"\n["cn"]\ntype = "command"\nattached_command = "cluster-node"\n'
                     'descr = "cluster-node"\n')
    aliased = world.run(node.dnf5_args("cn", "status"), env=dict(node.env(), HOME=home), check=False)
    assert aliased.rc == 100 and "role compute on x86_64" in aliased.out, aliased


def test_dnf5_cluster_groups_on_libdnf5(site, make_node):
    arm = make_node("arm", "aarch64", role=None)
    arm.cluster("-y", "group", "install", "cluster-node")
    installed = arm.installed()
    assert "cluster-node" in installed and "python3-dnf-plugin-cluster" in installed
    assert "opa-basic-tools" not in installed and "apptainer" not in installed    # x86_64 only; optional
    listing = arm.dnf5("cluster-group", "list").out
    assert re.search(r"cluster-node\s.*installed", listing)
    assert arm.reasons()["cluster-node"] == "Group"
    arm.dnf5("-y", "cluster-group", "remove", "cluster-node")
    assert "cluster-node" not in arm.installed()
    result = arm.cluster("-y", "group", "install", "cluster-nope", check=False)
    assert result.rc == 1 and "unknown cluster group 'cluster-nope'" in result.err


def test_dnf5_plugin_rpm_builds_from_our_spec(world, tmp_path):
    """`cluster-repo build --target fc41` compiles the plugin where dnf5's headers are (here:
    in the chroot; a Debian 12/13 host has none and skips it), packaged as Fedora wants it."""
    from cluster_testkit import copy_project
    from cluster_testkit.upstream import fill_lookaside
    copy_project(world.host_path(WORK + "/rpm-project"))
    # the tools from upstream sources build too (cluster-apps-bench requires them): their
    # verified tarballs from a lookaside cache of the test's own
    fill_lookaside(world.host_path(WORK + "/rpm-cache"))
    out = world.run(["python3", "/src/bin/cluster-repo", "-C", WORK + "/rpm-project", "build", WORK + "/rpm-out",
                     "--target", "fc41", "--cache", WORK + "/rpm-cache"])
    assert "built dnf5-plugin-cluster-0.1.0-1.fc41 (x86_64)" in out.err + out.out
    packages = world.host_path(WORK + "/rpm-out/41/x86_64/Packages")
    rpm = os.path.join(packages, "dnf5-plugin-cluster-0.1.0-1.fc41.x86_64.rpm")
    assert os.path.exists(rpm)
    assert not os.path.exists(world.host_path(WORK + "/rpm-out/41/aarch64/Packages/"
                                              "dnf5-plugin-cluster-0.1.0-1.fc41.aarch64.rpm"))
    inside = WORK + "/rpm-out/41/x86_64/Packages/" + os.path.basename(rpm)
    query = world.run(["rpm", "-qp", "--provides", "--requires", "-l", inside]).out.splitlines()
    for line in ("dnf5-command(cluster-node)", "dnf5-command(cluster-group)", "dnf5-command(cluster-master)",
                 "dnf5(x86-64)", "python3-dnf-plugin-cluster >= 0.1.0",
                 "/usr/lib64/dnf5/plugins/cluster_cmd_plugin.so", "/usr/lib64/libdnf5/plugins/cluster-image-locks.so",
                 "/etc/dnf/libdnf5-plugins/cluster-image-locks.conf"):
        assert line in query, line
    # the packaged plugin loads into dnf5 and hands over to /usr/bin/dnf-cluster (not installed here)
    world.run(["sh", "-c", "mkdir -p {0}/rpm-x && cd {0}/rpm-x && rpm2archive - < {1} | tar -xzf -".format(
        WORK, inside)])
    env = {"DNF5_PLUGINS_DIR": world.plugin_dir(WORK + "/rpm-x/usr/lib64/dnf5/plugins/cluster_cmd_plugin.so",
                                                name="rpm")}
    assert re.search(r"cluster-master\s", world.run(["dnf5", "--help"], env=env).out)
    missing = world.run(["dnf5", "cluster-node", "status"], env=env, check=False)
    assert missing.rc == 1
    assert "cannot run /usr/bin/dnf-cluster: No such file or directory" in missing.err
    # the packaged libdnf5 plugin loads as its .conf says: for an installroot only
    unpacked = WORK + "/rpm-x"
    libdnf5_plugins = ["--setopt=pluginpath={}/usr/lib64/libdnf5/plugins".format(unpacked),
                       "--setopt=pluginconfpath={}/etc/dnf/libdnf5-plugins".format(unpacked)]
    os.makedirs(world.host_path(WORK + "/rpm-root"))
    loaded = world.run(["dnf5", "--installroot=" + WORK + "/rpm-root"] + libdnf5_plugins + ["--version"]).out
    assert "name: cluster-image-locks\n  version: 0.1.0\n" in loaded, loaded
    skipped = world.run(["dnf5"] + libdnf5_plugins + ["--version"]).out          # listed, not loaded
    assert "name: cluster-image-locks\n  version: 0.0.0\n" in skipped, skipped


def test_dnf5_repository_key_is_imported_only_when_confirmed(site, make_node, project, tmp_path):
    """gpgcheck=1 and repo_gpgcheck=1 with the cluster repository's own key: libdnf5 asks
    before importing it, as dnf5 does; without a yes nothing is imported or installed."""
    from cluster_testkit.gpgkey import make_key
    from conftest import cluster_repo
    home = str(tmp_path / "gnupg")
    key_id, _ = make_key(home)
    cluster_repo("-C", project, "build", os.path.join(site.www, "signed"), "--sign-key", key_id, "--gnupghome", home)
    node = make_node("signed")
    node.add_repo("cluster", "{}/signed/$releasever/$basearch/".format(site.url), gpgcheck=1, repo_gpgcheck=1,
                  gpgkey="{}/signed/RPM-GPG-KEY-cluster".format(site.url))
    for door, answer in (("dnf-cluster", ""), ("plugin", "n\n")):
        refused = DOORS[door](node, "status", check=False, input=answer)
        assert refused.rc == 1 and "Importing OpenPGP key 0x" in refused.out and "Is this ok [y/N]:" in refused.out
        assert refused.err.count("\n") == 1 and "GPG signature verification error" in refused.err, refused
    assert node.installed() == {}
    synced = plugin(node, "-y", "sync")
    assert "Importing OpenPGP key 0x" in synced.out and "Complete!" in synced.out
    installed = node.installed()
    assert "cluster-node" in installed and any(n.startswith("gpg-pubkey") for n in installed)


def test_dnf5_a_profile_that_empties_a_role_never_strips_the_node(site, make_node):
    """The node floor and the removal limit on libdnf5: the floor (and what it needs) is
    never cleaned up as unneeded, though dnf5 recorded it as a dependency."""
    node = make_node("image")
    plugin(node, "-y", "sync")
    before = node.installed()
    assert node.reasons()["bash"] == "Dependency"
    site.edit_role("compute", "groups: [cluster-node]", "groups: []")
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: []")
    site.publish()

    refused = standalone(node, "-y", "sync", check=False)
    assert refused.rc == 1 and refused.err.count("\n") == 1, refused
    assert "more than max_remove allows (4)" in refused.err and "--allow-mass-removal" in refused.err
    assert node.installed() == before
    assert "Note: a real sync refuses this" in plugin(node, "sync", "--dry-run").out

    out = plugin(node, "-y", "sync", "--allow-mass-removal").out
    assert "keep       python3-dnf-plugin-cluster (node floor)" in out
    after = node.installed()
    for name in ("bash", "glibc", "systemd", "rpm", "filesystem", "python3-dnf-plugin-cluster", "python3-dnf"):
        assert name in after, name
    for name in ("cluster-node", "cluster-apps-bio", "slurm-slurmd", "ncbi-blast+"):
        assert name not in after, name
    assert standalone(node, "status").rc == 0
    assert plugin(node, "-y", "sync").out.count("In sync: nothing to do.") == 1


def test_dnf5_a_failed_sync_never_adopts_a_later_hand_install(site, make_node):
    """Managed only if the profile's own transaction installed it, found in dnf5's history:
    a sync that failed to download leaves tmux pending; the profile drops tmux; the admin
    installs it with dnf5; the next sync leaves it alone."""
    import glob
    node = make_node("compute")
    standalone(node, "-y", "sync")
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, tmux]")
    site.publish()
    rpm = glob.glob(os.path.join(site.www, "base", "x86_64", "Packages", "tmux-*.rpm"))[0]
    os.rename(rpm, rpm + ".away")
    failed = plugin(node, "-y", "sync", check=False)
    assert failed.rc == 1 and failed.err.count("\n") == 1 and "tmux" not in node.installed(), failed
    assert state_of(node)["pending"]["names"] == ["tmux"]
    os.rename(rpm + ".away", rpm)
    site.edit_role("compute", "packages: [cluster-apps-bio, tmux]", "packages: [cluster-apps-bio]")
    site.publish()
    node.dnf5("-y", "install", "tmux")
    out = standalone(node, "-y", "sync").out
    assert "In sync: nothing to do." in out and "tmux" in node.installed()
    state = state_of(node)
    assert "tmux" not in state["managed"] and state["pending"] is None


@pytest.mark.parametrize("case", ["no debootstrap", "mirror unreachable"])
def test_dnf5_chroot_that_cannot_be_built_says_why_in_one_line(tmp_path, case):
    """A first `make test` without debootstrap or without the Debian mirror stops at once
    with one line (no hang, no traceback), and leaves no half-made chroot behind."""
    env = dict(os.environ, DEBIAN_MIRROR="http://127.0.0.1:9/debian")
    if case == "no debootstrap":
        env["PATH"] = str(tmp_path)                     # nothing on it
    said, cache = failed_chroot_build(tmp_path, "SidChroot", env)
    if case == "no debootstrap":
        assert "needs debootstrap" in said
    else:
        assert "sid chroot build failed at 'debootstrap" in said and "127.0.0.1:9" in said
        assert not [n for n in os.listdir(cache) if os.path.isdir(os.path.join(cache, n))]     # only lock and log


def test_dnf5_and_dnf4_nodes_on_one_lock_prove_it_with_one_digest(site, make_node):
    """A locked role synced on a dnf5 node and on a dnf 4 node: both in sync with the
    same lock digest, the same status JSON; the dnf5 node lists the admin's package
    apart and keeps the verdict."""
    site.publish("--lock", *HOLD_BACK_OPENMPI)
    dnf5_node = make_node("libdnf5")
    dnf4_node = site.node("dnf4")
    plugin(dnf5_node, "-y", "sync")
    dnf4_node.dnf("-y", "cluster-node", "sync")
    five = plugin(dnf5_node, "status", "--json").json
    four = dnf4_node.dnf("cluster-node", "status", "--json").json
    assert five == four and five["in_sync"] and len(five["lock_digest"]) == 64
    assert dnf5_node.installed()["openmpi"] == "0:4.1.5-1.el9.x86_64"
    assert plugin(dnf5_node, "status").out.splitlines()[-1] == \
        "In sync, generation 2, lock digest {}.".format(five["lock_digest"][:12])
    dnf5_node.dnf5("-y", "install", "tmux")
    after = standalone(dnf5_node, "status", "--json").json
    assert after["in_sync"] and after["lock_digest"] == four["lock_digest"]
    assert after["admin_installed"] == [{"name": "tmux", "evr": "3.2a-5.el9"}]


def test_dnf5_head_node_locks_what_a_dnf4_head_node_locks(site, make_node, world):
    """`publish --lock` on a dnf5-only head node (Fedora 41+, no python3-dnf): libdnf5
    resolves every role's fresh-node set per arch (--forcearch in an empty root, the
    head's repositories) and locks the same builds, with the same checksums, as a dnf 4
    head node does; a role package no repository has is one line naming it."""
    tree, roles = WORK + "/site-copy/9", WORK + "/roles-copy"
    shutil.copytree(site.tree, world.host_path(tree))               # generation 1, as the dnf 4 head has it
    shutil.copytree(site.roles, world.host_path(roles))
    four = site.publish("--lock", *HOLD_BACK_OPENMPI, "--json").json["locked"]
    head = make_node("head", role="master")
    done = head.cluster("master", "-y", "publish", "--lock", *HOLD_BACK_OPENMPI, "--roles", roles,
                        "--repo-dir", tree, "--json")
    assert done.json["changed"] and "locked" in done.json, done
    five = done.json["locked"]
    assert five == four and set(five["compute"]) == {"x86_64", "aarch64"}
    assert five["compute"]["x86_64"]["openmpi"] == "4.1.5-1.el9"

    from dnf_plugin_cluster.head import publish
    by_dnf4, by_dnf5 = publish.current(site.tree), publish.current(world.host_path(tree))
    for role, entry in by_dnf4["roles"].items():                            # checksums too
        for arch, spec in entry["arches"].items():
            assert by_dnf5["roles"][role]["arches"][arch]["lock"] == spec["lock"], (role, arch)
    path = os.path.join(world.host_path(roles), "compute.yaml")
    with open(path) as handle:
        text = handle.read()
    with open(path, "w") as handle:
        handle.write(text.replace("packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, no-such-tool]"))
    refused = head.cluster("master", "-y", "publish", "--lock", "--roles", roles, "--repo-dir", tree, check=False)
    assert refused.rc == 1 and refused.err.count("\n") == 1 and "no-such-tool" in refused.err, refused


def test_dnf5_head_node_refuses_an_arch_the_cluster_repository_lacks(site, make_node, world):
    """On a dnf5-only head node as on a dnf 4 one (test_lock.py): `publish --arch X` and
    `publish --lock --arch X` where the cluster repository has no X tree are one line,
    exit 1, and nothing is published; an arch it has is published as before."""
    tree, roles = WORK + "/site-arches/9", WORK + "/roles-arches"
    shutil.copytree(site.tree, world.host_path(tree))
    shutil.copytree(site.roles, world.host_path(roles))
    generations = os.path.join(world.host_path(tree), "generations")
    before = sorted(os.listdir(generations))
    head = make_node("head", role="master")
    publish = ("master", "-y", "publish", "--roles", roles, "--repo-dir", tree)
    for extra, expected in ((("--arch", "ppc64le"), "Error: publish --arch ppc64le: repository 'cluster' has no "
                                                     "ppc64le tree (nothing of the cluster is built for ppc64le)"),
                            (("--lock", "--arch", "ppc64le"), "Error: publish --lock for ppc64le: ")):
        result = head.cluster(*(publish + extra), check=False)
        errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
        assert result.rc == 1 and len(errors) == 1 and "Traceback" not in result.err, result
        assert errors[0].startswith(expected), errors
        assert sorted(os.listdir(generations)) == before
        assert not os.path.exists(os.path.join(world.host_path(tree), "ppc64le"))
    head.cluster(*(publish + ("--arch", "aarch64")))


def _garbage(path):
    with open(path, "w") as handle:
        handle.write('version = "1.0"\n[[packages]\nname = "openmpi"\n')


@pytest.mark.parametrize("make, message", [
    (hostile.fifo, "dnf5's version lock file is not a regular file"),
    (hostile.link_to_dev_zero, "refusing to follow a symbolic link"),
    (hostile.sparse_file, "dnf5's version lock file is larger than 4194304 bytes; refusing"),
])
def test_dnf5_a_hostile_versionlock_toml_is_one_line(site, make_node, make, message):
    """libdnf5 reads versionlock.toml itself: a FIFO there would hang status forever, a
    link to /dev/zero or a huge file would read until memory runs out. Each is refused
    before libdnf5 reads it, one line naming the file; nothing is installed."""
    node = make_node("node")
    make(node.path("etc/dnf/versionlock.toml"))
    for door in (plugin, standalone):
        for args in (("status",), ("-y", "sync")):
            result = door(node, *args, check=False, timeout=300)
            lines = [l for l in result.err.splitlines() if l.strip()]
            assert result.rc == 1 and lines == ["Error: {}/etc/dnf/versionlock.toml: {}".format(
                node.root, message)], result
    assert node.installed() == {}


@pytest.mark.parametrize("by_hand", [("remove", "install"), ("reinstall",)])
def test_dnf5_a_managed_package_the_admin_reinstalls_becomes_the_admins(site, make_node, by_hand):
    """The profile installed fftw-openmpi; the admin removes and installs it again, or
    reinstalls it, with dnf5 (its history: the admin's transaction, reason User): it is
    the admin's now, never removed as "installed by the profile" when the role drops it."""
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, fftw-openmpi]")
    site.publish()
    node = make_node("node")
    plugin(node, "-y", "sync")
    assert "fftw-openmpi" in state_of(node)["managed"]
    for action in by_hand:
        node.dnf5("-y", action, "fftw-openmpi")
    site.edit_role("compute", "packages: [cluster-apps-bio, fftw-openmpi]", "packages: [cluster-apps-bio]")
    site.publish()
    status = plugin(node, "status", check=False)
    assert status.rc == 0 and "fftw-openmpi" not in status.out, status
    out = standalone(node, "-y", "sync").out
    assert "fftw-openmpi" not in out, out
    assert "fftw-openmpi" in node.installed() and "fftw-openmpi" not in state_of(node)["managed"]
    assert "cluster-apps-bio" in state_of(node)["managed"]


def test_dnf5_global_options_before_the_command_word(site, make_node):
    """dnf5's global options typed before `cluster-node` reach dnf-cluster as typed: the
    ones it can apply are applied (--best, --skip-unavailable, --setvar=...), the others
    are refused by name, naming dnf5's command (exit 2, one line), never as an unknown
    argument of `dnf-cluster cluster-node`."""
    node = make_node("node")
    for option in ("--best", "--no-best", "--skip-unavailable", "--skip-broken", "--setvar=foo=bar",
                   "--color=never"):
        result = node.dnf5(option, "cluster-node", "status", check=False)
        assert result.rc == 100 and "role compute on x86_64" in result.out and not result.err, (option, result)
    for option in ("--use-host-config", "--no-docs", "--debugsolver"):
        result = node.dnf5(option, "cluster-node", "status", check=False)
        assert result.rc == 2 and result.err.splitlines() == [
            "dnf-cluster: error: dnf5 option {} is not supported by cluster-node".format(option)], result
    refused = node.cluster("node", "status", "--use-host-config", check=False)     # dnf-cluster: anywhere
    assert refused.rc == 2 and "dnf5 option --use-host-config is not supported by cluster-node" in refused.err
    assert node.installed() == {}
    # --setvar expands in the repositories: a repository at $sitepath
    repo = [f for f in os.listdir(node.path("etc/yum.repos.d")) if "site" in f]
    assert repo, os.listdir(node.path("etc/yum.repos.d"))
    path = node.path("etc/yum.repos.d/" + repo[0])
    with open(path) as handle:
        text = handle.read()
    assert "/site/" in text
    with open(path, "w") as handle:
        handle.write(text.replace("/site/", "/$sitepath/"))
    assert node.dnf5("--setvar=sitepath=nowhere", "cluster-node", "status", check=False).rc == 1
    synced = node.dnf5("-y", "--best", "--skip-unavailable", "--setvar=sitepath=site", "cluster-node", "sync")
    assert "Complete!" in synced.out and "cluster-apps-bio" in node.installed()


def test_dnf5_alias_with_the_commands_options_as_the_readme_says(site, make_node, world):
    """Through a dnf5 alias, dnf5 parses the line itself and refuses the command's own
    options; the README gives the form that works (`dnf5 cn -- status --json`), and it does."""
    from cluster_testkit import REPO_ROOT
    with open(os.path.join(REPO_ROOT, "README.md")) as handle:
        readme = handle.read()
    assert "`dnf5 cn -- status --json`" in readme and "`dnf5 -y cn -- sync`" in readme
    assert "2 a usage error" in readme                      # exit code 2 is documented
    node = make_node("node")
    home = "{}/home-{}".format(WORK, node.name)
    os.makedirs(world.host_path(home + "/.config/dnf5/aliases.d"))
    with open(world.host_path(home + "/.config/dnf5/aliases.d/cluster.conf"), "w") as handle:
        handle.write('version = "1.1"\n["cn"]\ntype = "command"\nattached_command = "cluster-node"\n'
                     'descr = "cluster-node"\n')
    env = dict(node.env(), HOME=home)
    limit = world.run(node.dnf5_args("cn", "status", "--json"), env=env, check=False)
    assert limit.rc == 2 and 'Unknown argument "--json" for command "cn"' in limit.err, limit
    status = world.run(node.dnf5_args("cn", "--", "status", "--json"), env=env, check=False)
    assert status.rc == 100 and status.json["drift"]["missing"], status
    synced = world.run(node.dnf5_args("-y", "cn", "--", "sync"), env=env, check=False)
    assert synced.rc == 0 and "Complete!" in synced.out, synced
    assert world.run(node.dnf5_args("cn", "--", "status", "--json"), env=env, check=False).rc == 0


def test_dnf5_dnf_cluster_version_names_ours_and_libdnf5(world):
    """On a dnf5 host `dnf-cluster --version` is ours and the libdnf5 it runs on (never
    dnf's banner), as the dnf 4 one names dnf 4 (test_docs)."""
    import dnf_plugin_cluster
    from cluster_testkit.dnf5root import DNF_CLUSTER
    found = world.run([DNF_CLUSTER, "--version"])
    assert re.match(r"dnf-cluster {} \(backend libdnf5: libdnf5 5\.\d+(\.\d+)*\)\n\Z".format(
        re.escape(dnf_plugin_cluster.__version__)), found.out), found
    assert world.run([DNF_CLUSTER, "node", "--version"]).out == found.out

"""Pins that hold for every dnf command, and the roles' update policies, with the real
dnf and dnf-plugins-core's versionlock plugin: a sync hands the role's pins to
versionlock.list (its own marked block; the admin's entries untouched), so a plain
`dnf upgrade` keeps them; moving, dropping and rolling back pins follow."""
import os

import pytest

from cluster_testkit import hostile
from conftest import HOLD_BACK_OPENMPI

BLOCK = "# >>> dnf-plugin-cluster"
END = "# <<< dnf-plugin-cluster"


def block(node):
    lines = node.version_locks()
    if not any(l.startswith(BLOCK) for l in lines):
        return None
    start = [i for i, l in enumerate(lines) if l.startswith(BLOCK)][0]
    return lines[start + 1:lines.index(END)]


def admin_part(node):
    lines = node.version_locks()
    cut = [i for i, l in enumerate(lines) if l.startswith(BLOCK)]
    return lines[:cut[0] - 1] if cut else lines


def test_a_plain_dnf_upgrade_keeps_pinned_packages_at_their_pins(site):
    locked = site.publish("--lock", *HOLD_BACK_OPENMPI, "--json").json
    pins = locked["locked"]["compute"]["x86_64"]
    assert pins["openmpi"] == "4.1.5-1.el9"

    node = site.node("compute")
    node.dnf("-y", "install", "tmux")
    node.dnf("versionlock", "add", "tmux")               # the admin's own lock, by dnf's own command
    mine = admin_part(node)
    assert any(l.startswith("tmux-0:3.2a-5.el9") for l in mine)
    node.dnf("-y", "cluster-node", "sync")
    assert node.installed()["openmpi"].startswith("0:4.1.5-1.el9.")
    entries = block(node)
    assert "openmpi-0:4.1.5-1.el9.*" in entries and len(entries) == len(pins)
    assert admin_part(node) == mine

    # without the lock, a plain upgrade would move openmpi on; with it, nothing pinned moves
    would = node.dnf("--disableplugin=versionlock", "--assumeno", "upgrade", check=False)
    assert "openmpi" in would.out and "4.1.6-1.el9" in would.out, would
    node.dnf("-y", "upgrade")
    assert node.installed()["openmpi"].startswith("0:4.1.5-1.el9.")
    assert node.dnf("cluster-node", "status").rc == 0

    # the newer build is let through: the pin moves, the sync gets past its own earlier lock
    site.publish("--lock")
    out = node.dnf("-y", "cluster-node", "sync").out
    assert "upgrade    openmpi 4.1.5-1.el9 -> 4.1.6-1.el9 (locked)" in out
    assert "openmpi-0:4.1.6-1.el9.*" in block(node) and admin_part(node) == mine

    # unpinned: the cluster's entries go, the admin's stay byte for byte; plain dnf is free again
    site.publish("--unlock")
    node.dnf("-y", "cluster-node", "sync")
    assert block(node) is None and node.version_locks() == mine
    assert node.dnf("cluster-node", "status").rc == 0

    # a rollback to the first locked generation brings its pins back, down to the old build
    site.master.dnf("cluster-master", "rollback", str(locked["generation"]), "--repo-dir", site.tree)
    out = node.dnf("-y", "cluster-node", "sync").out
    assert "downgrade  openmpi 4.1.6-1.el9 -> 4.1.5-1.el9 (locked)" in out
    assert "openmpi-0:4.1.5-1.el9.*" in block(node) and admin_part(node) == mine
    node.dnf("-y", "upgrade")
    assert node.installed()["openmpi"].startswith("0:4.1.5-1.el9.")
    assert node.dnf("cluster-node", "status").rc == 0


def test_update_policies_latest_and_present(site):
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, openmpi]\n"
                   "update: latest")
    site.publish()
    node = site.node("compute")
    node.dnf("-y", "install", "openmpi-4.1.5-1.el9")      # an older build, by hand
    status = node.dnf("cluster-node", "status", "--json", check=False)
    assert status.rc == 100 and status.json["update"] == "latest"
    assert status.json["drift"]["outdated"] == [
        {"name": "openmpi", "installed": "4.1.5-1.el9", "latest": "4.1.6-1.el9"}]
    assert "  outdated       openmpi 4.1.5-1.el9 (latest 4.1.6-1.el9)" in node.dnf(
        "cluster-node", "status", check=False).out
    out = node.dnf("-y", "cluster-node", "sync").out
    assert "upgrade    openmpi 4.1.5-1.el9 -> 4.1.6-1.el9 (latest)" in out and ", update latest" in out
    assert node.installed()["openmpi"].startswith("0:4.1.6-1.el9.")
    assert node.dnf("cluster-node", "status").rc == 0 and block(node) is None

    # present: what is there stays, even an older build; nothing is locked
    site.edit_role("compute", "update: latest", "update: present")
    site.publish()
    node.dnf("-y", "downgrade", "openmpi-4.1.5-1.el9")
    assert node.dnf("cluster-node", "status").rc == 0
    assert "In sync: nothing to do." in node.dnf("-y", "cluster-node", "sync").out
    assert node.installed()["openmpi"].startswith("0:4.1.5-1.el9.")

    # a bad policy in a role file: one line naming the file and line, nothing published
    site.edit_role("compute", "update: present", "update: newest")
    result = site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                             check=False)
    errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
    assert result.rc == 1 and len(errors) == 1, result
    assert "compute.yaml:5: update must be one of pinned, latest, present" in errors[0]


def test_without_versionlock_the_sync_still_converges_and_says_so(site):
    site.publish("--lock")
    node = site.node("compute")
    os.remove(node.path("etc/dnf/plugins/versionlock.conf"))
    result = node.dnf("-y", "cluster-node", "sync")
    assert "Complete!" in result.out
    assert "Warning: dnf's versionlock plugin is not configured for {}".format(node.root) in result.err
    assert node.dnf("cluster-node", "status").rc == 0


def errors(result):
    return [l for l in result.err.splitlines() if l.startswith("Error:")]


def test_a_locklist_path_never_leads_out_of_the_image_root(site, tmp_path):
    """An image's versionlock.conf names `/../escaped.list`: the list is the image's
    /escaped.list; nothing is written beside the root."""
    site.master.dnf("-y", "cluster-node", "sync")
    site.publish("--lock")
    node = site.node("compute")
    node.write("etc/dnf/plugins/versionlock.conf", "[main]\nenabled = 1\nlocklist = /../escaped.list\n")
    node.dnf("-y", "cluster-node", "sync")
    assert not os.path.exists(str(tmp_path / "escaped.list"))
    with open(node.path("escaped.list")) as handle:
        assert BLOCK in handle.read()
    assert node.dnf("cluster-node", "status").rc == 0


def test_a_locklist_directory_linking_out_of_the_root_is_not_written(site, tmp_path):
    site.master.dnf("-y", "cluster-node", "sync")
    site.publish("--lock")
    node = site.node("compute")
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), node.path("locks"))
    node.write("etc/dnf/plugins/versionlock.conf", "[main]\nenabled = 1\nlocklist = /locks/versionlock.list\n")
    result = node.dnf("-y", "cluster-node", "sync")
    assert os.listdir(str(outside)) == []
    assert "is reached through a symbolic link out of {}".format(node.root) in result.err


@pytest.mark.parametrize("make, message", [
    (hostile.fifo, "{what} is not a regular file"),
    (hostile.link_to_dev_zero, "refusing to follow a symbolic link"),
    (hostile.sparse_file, "{what} is larger than 4194304 bytes; refusing"),
])
def test_a_hostile_versionlock_list_is_one_line(site, make, message):
    """A FIFO would hang status forever, a link to /dev/zero or a huge file would read
    until memory runs out: each is one line naming the file, nothing changed."""
    node = site.node("compute")
    rel = "etc/dnf/plugins/versionlock.list"
    os.remove(node.path(rel))
    make(node.path(rel))
    for args in (("cluster-node", "status"), ("-y", "cluster-node", "sync")):
        result = node.dnf(*args, check=False, timeout=300)
        assert result.rc == 1 and errors(result) == ["Error: {}: {}".format(
            node.path(rel), message.format(what="dnf's version lock list"))], result
        assert "Traceback" not in result.err
    assert "cluster-apps-bio" not in node.installed()


def _drop_end_line(lines):
    return [l for l in lines if l != END]


def _indent_begin_line(lines):
    return ["  " + l if l.startswith(BLOCK) else l for l in lines]


@pytest.mark.parametrize("damage", [_drop_end_line, _indent_begin_line])
def test_a_damaged_cluster_block_is_said_and_rewritten(site, damage):
    """The cluster's block lost its end line, or its begin line got indented: its old
    entries never become the admin's locks (they would hide the new pins: "pinned
    openmpi is not available"). Status and sync say the block is damaged, the admin's
    lines (also one added after the damage) are kept, the sync rewrites the block."""
    site.publish("--lock", *HOLD_BACK_OPENMPI)          # locks Open MPI 4.1.5
    node = site.node("compute")
    node.dnf("-y", "install", "tmux", "htop")
    node.dnf("versionlock", "add", "tmux")
    node.dnf("-y", "cluster-node", "sync")
    assert "openmpi-0:4.1.5-1.el9.*" in block(node)
    node.write("etc/dnf/plugins/versionlock.list", "\n".join(damage(node.version_locks())) + "\n")
    node.dnf("versionlock", "add", "htop")                # the admin's lock, after the damage
    mine = [l for l in node.version_locks() if l.startswith(("tmux-", "htop-"))]
    assert len(mine) == 2

    site.publish("--lock")                              # and now 4.1.6
    status = node.dnf("cluster-node", "status", check=False)
    assert status.rc == 100 and "openmpi" in status.out, status
    assert "the cluster's block in it is damaged" in status.err and not errors(status)
    result = node.dnf("-y", "cluster-node", "sync")
    assert "upgrade    openmpi 4.1.5-1.el9 -> 4.1.6-1.el9 (locked)" in result.out
    assert "the cluster's block in it is damaged" in result.err
    assert node.installed()["openmpi"].startswith("0:4.1.6-1.el9.")
    lines = node.version_locks()
    assert [l for l in lines if l.startswith(BLOCK)] == [l for l in lines if BLOCK in l]   # one, not indented
    assert lines.count(END) == 1
    assert "openmpi-0:4.1.6-1.el9.*" in block(node) and "openmpi-0:4.1.5-1.el9.*" not in lines
    assert [l for l in admin_part(node) if l.startswith(("tmux-", "htop-"))] == mine
    status = node.dnf("cluster-node", "status")
    assert status.rc == 0 and "damaged" not in status.err


ADMIN = ["# Added lock on Mon Dec  7 2026", "tmux-0:3.2a-5.el9.*"]
OURS = ["openmpi-0:4.1.5-1.el9.*", "openmpi-devel-0:4.1.5-1.el9.*"]


@pytest.mark.parametrize("lines, damaged", [
    (ADMIN + ["", BLOCK + ": pins", ] + OURS + [END], False),
    (ADMIN + ["", BLOCK + ": pins"] + OURS, True),                                  # no end line
    (ADMIN + ["", "  " + BLOCK + ": pins"] + OURS + [END], True),                   # indented begin line
    (["", BLOCK + ": pins"] + OURS + ADMIN, True),                                  # no end, admin lines after
    (ADMIN + [END], True),                                                          # an end line alone
    (["", BLOCK] + OURS[:1] + [END] + ADMIN + ["", BLOCK] + OURS[1:] + [END], True),  # two blocks
])
def test_the_cluster_block_is_found_however_it_is_damaged(lines, damaged):
    """Without dnf: the split of versionlock.list into the admin's lines and the cluster's
    entries keeps every admin line and never hands a cluster entry to the admin."""
    from dnf_plugin_cluster.backends.dnf4 import Dnf4Backend
    admin, ours, problem = Dnf4Backend._split_versionlock("\n".join(lines) + "\n")
    assert [l for l in admin if l.strip()] == ADMIN
    assert ours == ([] if BLOCK not in "".join(lines) else OURS)
    assert (problem is not None) == damaged
    if damaged:
        assert problem.startswith("the cluster's block in it is damaged (")


def _with_host_config(site, tmp_path):
    """An image root maintained from the head node as the README's `--node-command` does
    it: `dnf --installroot=IMG` with the host's plugin configuration (a pluginconfpath
    outside the image, whose versionlock.conf names the host's own list), the image
    holding python3-dnf-plugin-versionlock's files as the package ships them.
    Returns (image, host_dnf(*args, **kwargs), the host's list)."""
    image = site.node("compute")
    image.write("etc/dnf/plugins/versionlock.conf", "[main]\nenabled = 1\n"
                "locklist = /etc/dnf/plugins/versionlock.list\n")
    host = tmp_path / "host-plugins"
    host.mkdir()
    host_list = host / "versionlock.list"
    host_list.write_text("")
    (host / "versionlock.conf").write_text("[main]\nenabled = 1\nlocklist = {}\n".format(host_list))
    (host / "cluster.conf").write_text("[main]\nenabled = 1\nrole = master\n")

    def host_dnf(*args, **kwargs):
        argv = ["--setopt=pluginconfpath={}".format(host) if a.startswith("--setopt=pluginconfpath=") else a
                for a in image.dnf_args(*args)]
        return image.run(argv, **kwargs)
    return image, host_dnf, host_list


def test_plain_dnf_in_an_image_root_with_the_hosts_configuration_keeps_the_images_pins(site, tmp_path):
    """dnf 4's versionlock plugin reads the host's list whatever the installroot; the
    cluster plugin, loaded on every dnf command, applies the image's own list there, so
    `upgrade` and `distro-sync` leave the pinned builds; `--disableplugin=versionlock`
    lifts the image's locks as it lifts the host's."""
    pins = site.publish("--lock", *HOLD_BACK_OPENMPI, "--json").json["locked"]["compute"]["x86_64"]
    assert pins["openmpi"] == "4.1.5-1.el9"
    image, host_dnf, host_list = _with_host_config(site, tmp_path)
    host_dnf("-y", "cluster-node", "sync")
    assert image.installed()["openmpi"].startswith("0:4.1.5-1.el9.")
    assert "openmpi-0:4.1.5-1.el9.*" in block(image) and host_list.read_text() == ""

    # the host's configuration alone (without the cluster plugin) moves the pinned build
    would = host_dnf("--disableplugin=cluster", "--assumeno", "upgrade", check=False)
    assert "openmpi" in would.out and "4.1.6-1.el9" in would.out, would
    for command in ("upgrade", "distro-sync"):
        result = host_dnf("-y", command)
        assert "4.1.6-1.el9" not in result.out, result
        assert image.installed()["openmpi"].startswith("0:4.1.5-1.el9."), command
    assert host_dnf("cluster-node", "status").rc == 0
    lifted = host_dnf("--disableplugin=versionlock", "--assumeno", "upgrade", check=False)
    assert "openmpi" in lifted.out and "4.1.6-1.el9" in lifted.out, lifted
    assert host_list.read_text() == ""


def test_a_hostile_image_versionlock_list_stops_a_plain_dnf_command_in_one_line(site, tmp_path):
    """The image's list is a file of the root: a link (here to /dev/zero) is not followed
    by a plain `dnf --installroot=IMG upgrade` either; one line, nothing changed."""
    site.publish("--lock", *HOLD_BACK_OPENMPI)
    image, host_dnf, _ = _with_host_config(site, tmp_path)
    host_dnf("-y", "cluster-node", "sync")
    before = image.installed()
    rel = "etc/dnf/plugins/versionlock.list"
    os.remove(image.path(rel))
    hostile.link_to_dev_zero(image.path(rel))
    result = host_dnf("-y", "upgrade", check=False, timeout=300)
    assert result.rc == 1 and errors(result) == [
        "Error: {}: refusing to follow a symbolic link".format(image.path(rel))], result
    assert "Traceback" not in result.err and image.installed() == before

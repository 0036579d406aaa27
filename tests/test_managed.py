"""What the profile manages, with the real dnf: a package counts as the profile's only
when the profile's own transaction (found in dnf's history by the nonce in its comment)
installed it. A sync that failed to download, or was killed during the download or
after the rpm transaction, never makes a package the admin installed later the
profile's to remove; the next sync resolves the leftover intent either way."""
import glob
import os
import signal

import pytest

from cluster_testkit.dnfroot import TEST_PLUGIN_DIR
from conftest import state_of, wait_for

ROLE = "packages: [cluster-apps-bio]"
WITH_TMUX = "packages: [cluster-apps-bio, tmux]"


@pytest.fixture
def synced(site):
    node = site.node("compute")
    node.dnf("-y", "cluster-node", "sync")
    return node


def add_tmux(site):
    site.edit_role("compute", ROLE, WITH_TMUX)
    site.publish()


def drop_tmux(site):
    site.edit_role("compute", WITH_TMUX, ROLE)
    site.publish()


def admin_installs_tmux_and_syncs(site, node):
    """The profile no longer lists tmux; the admin installs it; sync must leave it."""
    node.dnf("-y", "install", "tmux")
    out = node.dnf("-y", "cluster-node", "sync").out
    assert "tmux" not in out.split("Dependencies resolved")[0], out
    assert "tmux" in node.installed()
    state = state_of(node)
    assert "tmux" not in state["managed"] and state["pending"] is None
    assert node.dnf("cluster-node", "status").rc == 0


def test_failed_download_never_adopts_a_later_hand_install(site, synced):
    """The issue's repro: tmux's RPM is missing from the mirror (404), sync exits 1 with
    tmux pending; the profile drops tmux; the admin installs it by hand; the next sync
    used to remove it as 'installed by the profile'."""
    node = synced
    add_tmux(site)
    rpm = glob.glob(os.path.join(site.www, "base", "x86_64", "Packages", "tmux-*.rpm"))[0]
    os.rename(rpm, rpm + ".away")
    result = node.dnf("-y", "cluster-node", "sync", check=False)
    assert result.rc == 1 and "tmux" not in node.installed(), result
    pending = state_of(node)["pending"]
    assert pending["names"] == ["tmux"] and len(pending["tag"]) == 32

    os.rename(rpm + ".away", rpm)
    drop_tmux(site)
    admin_installs_tmux_and_syncs(site, node)


def test_sync_killed_during_the_download(site, synced):
    node = synced
    add_tmux(site)
    site.server.hold("/tmux-3.2a-5.el9.x86_64.rpm")
    proc = node.start(node.dnf_args("-y", "cluster-node", "sync"))
    try:
        assert wait_for(lambda: any(r.endswith("/tmux-3.2a-5.el9.x86_64.rpm") for r in site.server.requests))
    finally:
        proc.kill()
        proc.communicate()
        site.server.release("/tmux-3.2a-5.el9.x86_64.rpm")
    assert "tmux" not in node.installed()
    assert state_of(node)["pending"]["names"] == ["tmux"]

    drop_tmux(site)
    admin_installs_tmux_and_syncs(site, node)


def sync_killed_after_its_transaction(node, marker):
    """A sync of node killed once dnf has run its transaction (the test plugin stalls
    there and creates `marker`) and before the sync records it; returns the process."""
    node.plugin_dirs.append(TEST_PLUGIN_DIR)
    try:
        proc = node.start(node.dnf_args("-y", "cluster-node", "sync"), CLUSTER_TEST_STALL=marker)
        try:
            assert wait_for(lambda: os.path.exists(marker))
        finally:
            proc.kill()
            proc.communicate()
    finally:
        node.plugin_dirs.remove(TEST_PLUGIN_DIR)
    return proc


def test_sync_killed_after_the_rpm_transaction(site, synced, tmp_path):
    """Killed after dnf ran the transaction (rpm database and history written) but
    before the sync recorded it: the next sync, a no-op, finds that transaction in the
    history by its nonce, adopts what it installed, and saves the state."""
    node = synced
    add_tmux(site)
    proc = sync_killed_after_its_transaction(node, str(tmp_path / "transaction-done"))
    assert proc.returncode == -signal.SIGKILL
    assert "tmux" in node.installed()
    before = state_of(node)
    assert before["pending"]["names"] == ["tmux"] and "tmux" not in before["managed"]
    tag = before["pending"]["tag"]
    assert tag in node.dnf("history", "info", "last").out        # the transaction carries the nonce

    status = node.dnf("cluster-node", "status")                     # status reads, never writes
    assert status.rc == 0 and state_of(node) == before
    rerun = node.dnf("-y", "cluster-node", "sync")
    assert "In sync: nothing to do." in rerun.out
    after = state_of(node)
    assert after["pending"] is None and "tmux" in after["managed"]

    drop_tmux(site)                                                 # now it is the profile's to remove
    out = node.dnf("-y", "cluster-node", "sync").out
    assert "remove     tmux (installed by the profile, no longer listed)" in out
    assert "tmux" not in node.installed()


def test_a_reinstall_by_hand_makes_a_pending_package_the_admins(site, synced, tmp_path):
    """Killed after the transaction, then the admin reinstalls the package: its last
    history entry is the admin's, so it is not adopted."""
    node = synced
    add_tmux(site)
    sync_killed_after_its_transaction(node, str(tmp_path / "transaction-done"))
    node.dnf("-y", "reinstall", "tmux")
    drop_tmux(site)
    out = node.dnf("-y", "cluster-node", "sync").out
    assert "tmux" not in out.split("Dependencies resolved")[0], out
    assert "tmux" in node.installed() and "tmux" not in state_of(node)["managed"]


@pytest.mark.parametrize("by_hand", [("remove", "install"), ("reinstall",)])
def test_a_managed_package_the_admin_reinstalls_becomes_the_admins(site, synced, by_hand):
    """The profile installed tmux (managed); the admin then removes and installs it
    again, or reinstalls it, by hand: the admin's own transaction makes it the admin's.
    When the role drops tmux, status sees no drift and the sync leaves it; what the
    admin never touched stays the profile's."""
    node = synced
    add_tmux(site)
    node.dnf("-y", "cluster-node", "sync")
    assert "tmux" in state_of(node)["managed"]
    for action in by_hand:
        node.dnf("-y", action, "tmux")
    assert "tmux" in node.installed()
    drop_tmux(site)
    status = node.dnf("cluster-node", "status", check=False)
    assert status.rc == 0 and "tmux" not in status.out, status
    out = node.dnf("-y", "cluster-node", "sync").out
    assert "tmux" not in out.split("Dependencies resolved")[0], out
    assert "tmux" in node.installed() and "tmux" not in state_of(node)["managed"]
    assert "cluster-apps-bio" in state_of(node)["managed"]

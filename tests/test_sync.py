"""The sync logic above the backend seam (sync.py), against the in-memory backend:
the profile is found, the plan becomes one transaction, and no package the admin
installed is taken along. The same logic runs through real dnf in test_node.py."""
import gzip
import json

import pytest

from cluster_testkit.memory import MemoryBackend, Pkg
from dnf_plugin_cluster import profile, state
from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.nodeconf import NodeConfig
from dnf_plugin_cluster.sync import NodeRun, find_profile


def write_profile(path, packages, pins=None):
    prof = {"format": 1, "pins": pins or {}, "roles": {"compute": {
        "description": "", "channel": "stable", "groups": [],
        "arches": {"x86_64": {"packages": sorted(packages)}}}}}
    with gzip.open(str(path), "wb") as handle:
        handle.write(json.dumps(prof).encode())
    return str(path)


@pytest.fixture
def world(tmp_path):
    available = [Pkg("tool"), Pkg("lib"), Pkg("app", requires=["lib"]), Pkg("htop"),
                 Pkg("slurm", "23.11.9-1"), Pkg("slurm", "23.11.10-1"), Pkg("dnf")]

    def make(packages, installed=(), reasons=None, pins=None):
        path = write_profile(tmp_path / "profile.json.gz", packages, pins)
        backend = MemoryBackend(str(tmp_path / "persist"), available, installed, reasons,
                                repos={"cluster": {"metadata": {"cluster": path}}})
        return backend
    return make


def sync(backend, role="compute"):
    run = NodeRun(backend, NodeConfig(role=role)).load()
    run.prepare()
    if not run.plan.in_sync:
        run.record_intent()
        backend.run("test", run.finish)
    return run


def test_installs_what_the_role_lacks_and_a_rerun_is_in_sync(world):
    backend = world(["app", "tool"])
    run = sync(backend)
    assert [(i.action, i.name) for i in run.items] == [("install", "app"), ("install", "lib"), ("install", "tool")]
    assert set(backend.installed()) == {"app", "lib", "tool"}
    assert sync(backend).plan.in_sync
    assert state.load(backend.persistdir).managed == {"app", "tool"}


def test_pins_move_installed_packages_to_their_build(world):
    backend = world(["slurm"], installed=[Pkg("slurm", "23.11.10-1")], pins={"slurm": "23.11.9-1"})
    run = sync(backend)
    assert run.plan.downgrade == [("slurm", "23.11.10-1", "23.11.9-1")]
    assert backend.installed()["slurm"] == "23.11.9-1"


def test_a_pin_nobody_can_install_is_refused(world):
    backend = world(["slurm"], pins={"slurm": "99-1"})
    with pytest.raises(ClusterError, match=r"pinned slurm-99-1 is not available"):
        sync(backend)


def test_dropped_package_is_kept_while_a_hand_installed_one_needs_it(world):
    backend = world(["app", "lib"])
    sync(backend)
    backend.system["tool"] = Pkg("tool", requires=["lib"])          # the admin's own, needing lib
    backend.reasons["tool"] = "user"
    backend.repos["cluster"]["metadata"]["cluster"] = write_profile(
        backend.repos["cluster"]["metadata"]["cluster"], ["app"])
    run = sync(backend)
    assert run.plan.remove == [] and run.plan.kept == [("lib", "still needed by tool")]
    assert "lib" in backend.installed() and "tool" in backend.installed()


def test_a_removal_that_would_take_a_hand_installed_package_is_refused(world):
    backend = world(["app", "lib"])
    sync(backend)
    backend.system["extra"] = Pkg("extra", requires=["app"])
    backend.reasons["extra"] = "user"
    backend.reasons["app"] = "dependency"
    backend.repos["cluster"]["metadata"]["cluster"] = write_profile(
        backend.repos["cluster"]["metadata"]["cluster"], ["lib"])
    run = sync(backend)              # app is kept: the admin's extra needs it
    assert run.plan.kept == [("app", "still needed by extra")]


def test_the_profile_repository_is_chosen_as_documented(tmp_path):
    path = write_profile(tmp_path / "p.json.gz", ["tool"])
    two = MemoryBackend(str(tmp_path), repos={"a": {"metadata": {"cluster": path}},
                                              "b": {"metadata": {"cluster": path}}})
    with pytest.raises(ClusterError, match="several repositories carry a cluster profile"):
        find_profile(two)
    assert find_profile(two, "b")[0] == "b"
    none = MemoryBackend(str(tmp_path), repos={"base": {}})
    with pytest.raises(ClusterError, match="no enabled repository carries a cluster profile"):
        find_profile(none)
    assert find_profile(MemoryBackend(str(tmp_path), repos={"cluster": {"metadata": {"cluster": path}},
                                                            "x": {"metadata": {"cluster": path}}}))[0] == "cluster"
    assert profile.RoleView(find_profile(two, "a")[1], "compute", "x86_64").packages == ["tool"]

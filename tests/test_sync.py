"""The sync logic above the backend seam (sync.py), against the in-memory backend:
the profile is found, the plan becomes one transaction, and no package the admin
installed is taken along. The same logic runs through real dnf in test_node.py."""
import gzip
import json

import pytest

from cluster_testkit.memory import Died, MemoryBackend, Pkg
from dnf_plugin_cluster import profile, report, state
from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.nodeconf import NodeConfig
from dnf_plugin_cluster.sync import NodeRun, find_profile


def write_profile(path, packages, pins=None, **role):
    prof = {"format": 1, "pins": pins or {}, "roles": {"compute": dict({
        "description": "", "channel": "stable", "groups": [],
        "arches": {"x86_64": {"packages": sorted(packages)}}}, **role)}}
    with gzip.open(str(path), "wb") as handle:
        handle.write(json.dumps(prof).encode())
    return str(path)


@pytest.fixture
def world(tmp_path):
    available = [Pkg("tool"), Pkg("lib"), Pkg("app", requires=["lib"]), Pkg("htop"),
                 Pkg("slurm", "23.11.9-1"), Pkg("slurm", "23.11.10-1"), Pkg("dnf")]

    def make(packages, installed=(), reasons=None, pins=None, **role):
        path = write_profile(tmp_path / "profile.json.gz", packages, pins, **role)
        backend = MemoryBackend(str(tmp_path / "persist"), available, installed, reasons,
                                repos={"cluster": {"metadata": {"cluster": path}}})
        return backend
    return make


def sync(backend, role="compute"):
    """What `cluster-node sync -y` does (commands/node.py), without dnf."""
    run = NodeRun(backend, NodeConfig(role=role)).load()
    run.settle()
    run.prepare()
    if run.plan.in_sync:
        run.record_in_sync()
        run.hand_pins()
    else:
        backend.run(run.record_intent(), lambda: (run.finish(), run.hand_pins()))
    return run


def status(backend, role="compute"):
    return NodeRun(backend, NodeConfig(role=role)).load()


def republish(backend, packages):
    path = backend.repos["cluster"]["metadata"]["cluster"]
    write_profile(path, packages)


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
    # the site's own profile repository comes first, unless cluster.conf names another
    both = MemoryBackend(str(tmp_path), repos={"cluster": {"metadata": {"cluster": path}},
                                               "cluster-site": {"metadata": {"cluster": path}}})
    assert find_profile(both)[0] == "cluster-site"
    assert find_profile(both, "cluster")[0] == "cluster"
    assert profile.RoleView(find_profile(two, "a")[1], "compute", "x86_64").packages == ["tool"]


# --- what the profile manages: only what its own transaction installed ----------------
def test_a_failed_transaction_never_adopts_a_later_hand_install(world):
    """The issue's repro: the profile adds htop, the download fails (sync exits 1 with
    htop pending), the profile drops htop, the admin installs it: it stays."""
    backend = world(["tool"])
    sync(backend)
    republish(backend, ["tool", "htop"])
    backend.fail_next = True
    with pytest.raises(ClusterError, match="Error downloading packages"):
        sync(backend)
    pending = state.load(backend.persistdir).pending
    assert pending["names"] == {"htop"} and len(pending["tag"]) == 32
    republish(backend, ["tool"])
    backend.by_hand("install", "htop")
    run = sync(backend)
    assert run.plan.remove == [] and "htop" in backend.installed()
    st = state.load(backend.persistdir)
    assert st.managed == {"tool"} and st.pending is None         # settled though nothing was to do


def killed_after_its_transaction(world):
    """A node synced to ["tool"], then a sync adding htop killed after its transaction
    ran and before the sync recorded it; returns its backend."""
    backend = world(["tool"])
    sync(backend)
    republish(backend, ["tool", "htop"])
    backend.die_after_next = True
    with pytest.raises(Died):
        sync(backend)
    return backend


def test_a_run_killed_after_its_transaction_is_adopted_from_history(world):
    backend = killed_after_its_transaction(world)
    assert "htop" in backend.installed() and state.load(backend.persistdir).managed == {"tool"}
    assert "htop" in status(backend).managed                      # status computes the same set...
    assert state.load(backend.persistdir).pending is not None     # ...and writes nothing
    assert sync(backend).plan.in_sync
    st = state.load(backend.persistdir)
    assert st.managed == {"tool", "htop"} and st.pending is None
    republish(backend, ["tool"])
    assert sync(backend).plan.remove == ["htop"] and "htop" not in backend.installed()


def test_a_package_touched_by_hand_since_is_not_adopted(world):
    backend = killed_after_its_transaction(world)
    backend.by_hand("reinstall", "htop")
    republish(backend, ["tool"])
    assert sync(backend).plan.remove == [] and "htop" in backend.installed()
    assert state.load(backend.persistdir).managed == {"tool"}


def test_pending_names_from_before_tags_are_never_adopted(world, tmp_path):
    backend = world(["tool"])
    sync(backend)
    backend.by_hand("install", "htop")
    path = str(tmp_path / "persist" / "cluster" / "state.json")
    with open(path) as handle:
        data = json.load(handle)
    with open(path, "w") as handle:
        json.dump(dict(data, pending=["htop"]), handle)           # as an older plugin wrote it
    assert sync(backend).plan.remove == [] and "htop" in backend.installed()
    assert state.load(backend.persistdir).pending is None


# --- the node floor and the removal limit ---------------------------------------------
def test_the_floor_is_never_removed_nor_downgraded_by_a_profile(world):
    backend = world(["bash", "lib", "glibc"], installed=[Pkg("glibc", "2.34-100")])
    backend.available += [Pkg("bash", requires=["lib"]), Pkg("glibc", "2.34-99"), Pkg("glibc", "2.34-100")]
    sync(backend)
    assert state.load(backend.persistdir).managed == {"bash", "lib"}
    write_profile(backend.repos["cluster"]["metadata"]["cluster"], [], pins={"glibc": "2.34-99"})
    run = sync(backend)
    assert run.plan.kept == [
        ("glibc", "node floor: locked 2.34-99 is older than the installed 2.34-100; not applied"),
        ("bash", "node floor"), ("lib", "still needed by bash")]
    assert run.plan.in_sync and backend.installed()["glibc"] == "2.34-100"
    assert backend.held == {"bash", "glibc"}                 # never cleaned up as unneeded


def test_what_cluster_conf_protects_stays(world):
    backend = world(["tool", "htop"])
    sync(backend)
    republish(backend, [])
    run = NodeRun(backend, NodeConfig(role="compute", protected=("ht*",))).load()
    assert run.plan.kept == [("htop", "protected in cluster.conf")] and run.plan.remove == ["tool"]


def test_collateral_removal_of_the_floor_is_refused(world):
    backend = world(["tool"], installed=[Pkg("systemd")])
    backend.available.append(Pkg("newinit", obsoletes=["systemd"]))
    sync(backend)
    republish(backend, ["tool", "newinit"])
    with pytest.raises(ClusterError, match=r"the sync would remove systemd-1.0-1.noarch \(node floor\), which a "
                                           r"profile never removes; refusing"):
        sync(backend)
    assert "systemd" in backend.installed()


def test_mass_removal_needs_the_flag(world):
    names = ["p{}".format(i) for i in range(30)]
    backend = world(names)
    backend.available += [Pkg(n) for n in names]
    sync(backend)
    republish(backend, [])
    run = NodeRun(backend, NodeConfig(role="compute")).load()
    run.prepare()
    assert run.removal_limit() == 3                          # a tenth of 30, below 25
    assert "the sync would remove 30 packages, more than max_remove allows (3)" in run.mass_removal()
    backend.reset()
    run = NodeRun(backend, NodeConfig(role="compute", max_remove=30)).load()
    run.prepare()
    assert run.mass_removal() is None


def test_status_reports_a_kept_package_as_no_drift(world):
    backend = world(["app", "lib"])
    sync(backend)
    backend.by_hand("install", "tool")
    backend.system["tool"] = Pkg("tool", requires=["lib"])
    republish(backend, ["app"])
    run = status(backend)
    run.prepare()
    data, lines, exit_status = report.status(run)
    assert data["in_sync"] and data["drift"]["extra"] == [] and exit_status == 0
    assert "  keep           lib (still needed by tool)" in lines and lines[-1] == "In sync, packager's default profile."


def test_what_a_sync_that_changes_nothing_answers(world):
    """report.py: the words, lines and exit status every front end gives a dry run,
    a check and an in-sync node."""
    backend = world(["app", "tool"])
    run = status(backend)
    run.prepare()
    assert report.plan(run)[1:] == ["  install    app", "  install    tool"]
    assert report.plan_only(run, check=False) == ("planned", [report.DRY_RUN], 0)
    assert report.plan_only(run, check=True) == ("drift", [report.DRIFT_FOUND], 100)
    result, lines, _ = report.plan_only(run, False, "role 'compute': the sync would remove 9 packages")
    assert lines == ["Note: a real sync refuses this: the sync would remove 9 packages", report.DRY_RUN]
    assert report.answer(run, result)["plan"]["install"] == [{"name": "app", "evr": None},
                                                             {"name": "tool", "evr": None}]
    sync(backend)
    run = status(backend)
    run.prepare()
    assert report.plan(run)[1:] == [report.NOTHING]
    assert report.plan_only(run, check=True) == ("in-sync", [report.IN_SYNC], 0)


# --- update policies and the package manager's own version lock ------------------------

def test_pinned_roles_hand_their_pins_to_the_version_lock(world):
    backend = world(["slurm"], installed=[Pkg("slurm", "23.11.10-1")], pins={"slurm": "23.11.9-1"})
    run = sync(backend)
    assert run.view.update == "pinned" and backend.locks == {"slurm": "23.11.9-1"}
    republish_with(backend, ["slurm"])                   # unpinned: the lock entries go
    assert sync(backend).plan.in_sync and backend.locks == {}
    assert backend.installed()["slurm"] == "23.11.9-1"   # present: never moved


def test_a_latest_role_follows_the_newest_build_and_status_says_outdated(world):
    backend = world(["slurm", "tool"], installed=[Pkg("slurm", "23.11.9-1")], pins={"slurm": "23.11.9-1"},
                    update="latest")
    before = status(backend)
    assert before.view.pins == {}                         # pins do not hold a role that follows its channel
    assert report.status(before)[0]["drift"]["outdated"] == [
        {"name": "slurm", "installed": "23.11.9-1", "latest": "23.11.10-1"}]
    assert "  outdated       slurm 23.11.9-1 (latest 23.11.10-1)" in report.status(before)[1]
    run = sync(backend)
    assert ("slurm", "23.11.9-1", "23.11.10-1") in run.plan.upgrade and backend.locks == {}
    assert backend.installed()["slurm"] == "23.11.10-1" and status(backend).plan.in_sync


def test_a_present_role_installs_what_is_missing_and_moves_nothing(world):
    backend = world(["slurm", "tool"], installed=[Pkg("slurm", "23.11.9-1")], pins={"slurm": "23.11.10-1"},
                    update="present")
    run = sync(backend)
    assert run.plan.upgrade == [] and run.plan.install == [("tool", None)]
    assert backend.installed()["slurm"] == "23.11.9-1" and backend.locks == {}


def test_the_admins_own_locks_hold_for_sync(world):
    backend = world(["slurm"], installed=[Pkg("slurm", "23.11.9-1")], update="latest")
    backend.admin_locks = {"slurm": "23.11.9-1"}
    assert sync(backend).plan.in_sync and backend.installed()["slurm"] == "23.11.9-1"


def republish_with(backend, packages, pins=None, **role):
    write_profile(backend.repos["cluster"]["metadata"]["cluster"], packages, pins, **role)


def test_a_node_from_before_the_site_repository_was_recorded_never_falls_back(tmp_path):
    """A node state written before it named its site repository (no profile_repo), at a
    generation: the packager's default profile (no generation) is no fall-back either."""
    path = write_profile(tmp_path / "p.json.gz", ["tool"])
    backend = MemoryBackend(str(tmp_path / "persist"), [Pkg("tool")], [Pkg("tool")],
                            repos={"cluster": {"metadata": {"cluster": path}}})
    old = state.load(backend.persistdir)
    old.role, old.generation = "compute", 7
    old.save()
    with pytest.raises(ClusterError, match=r"\Athis node synced to generation 7 of a site profile, but repository "
                                           r"'cluster' carries the packager's default profile: refusing"):
        status(backend)
    run = NodeRun(backend, NodeConfig(role="compute", profile_repo="cluster")).load()    # the admin's choice
    assert run.repo == "cluster"

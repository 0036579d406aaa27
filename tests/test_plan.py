"""The plan and the node state as plain data: what a sync would do, decided without dnf."""
from dnf_plugin_cluster import plan, state


def test_installs_what_is_missing_with_pins():
    p = plan.compute("compute", "x86_64", ["a", "b", "c"], {"a": "1.0-1"}, set(), {"b": "0:2.0-3"})
    assert p.install == [("b", "2.0-3"), ("c", None)]
    assert not p.upgrade and not p.downgrade and not p.remove and not p.in_sync


def test_pins_move_installed_packages_both_ways_with_epochs():
    installed = {"openmpi": "4.1.6-1.el9", "slurm": "1:22.05-1", "munge": "0.5-1"}
    pins = {"openmpi": "4.1.5-1.el9", "slurm": "23.11-1", "munge": "0:0.5-1"}
    p = plan.compute("compute", "x86_64", [], installed, set(), pins)
    assert p.downgrade == [("openmpi", "4.1.6-1.el9", "4.1.5-1.el9"),
                           ("slurm", "1:22.05-1", "23.11-1")]      # epoch 1 sorts above epoch 0
    assert p.upgrade == []
    p = plan.compute("compute", "x86_64", [], installed, set(), {"slurm": "1:23.11-1"})
    assert p.upgrade == [("slurm", "1:22.05-1", "1:23.11-1")]


def test_removes_only_what_the_profile_installed():
    installed = {"a": "1-1", "b": "1-1", "htop": "1-1", "dnf": "4-1"}
    p = plan.compute("compute", "x86_64", ["a"], installed, {"a", "b", "dnf", "gone"}, {}, protected={"dnf"})
    assert p.remove == ["b"]                     # htop: by hand; gone: not installed any more
    assert p.kept == [("dnf", "protected by dnf")]
    p.keep("b", "still needed by htop")
    assert p.in_sync and p.kept[-1] == ("b", "still needed by htop")
    assert plan.drift(p) == {"missing": [], "wrong_version": [], "outdated": [], "remove": [], "extra": []}


def test_a_role_that_follows_the_newest_builds():
    installed = {"a": "1.0-1", "b": "2.0-1", "c": "1.0-1"}
    newest = {"a": "1.1-1", "b": "2.0-1", "c": "1.5-1", "x": "9-1"}
    p = plan.compute("compute", "x86_64", ["a", "b", "x"], installed, set(), {}, latest=newest)
    assert p.upgrade == [("a", "1.0-1", "1.1-1")]          # b is the newest; c is not the role's
    assert p.install == [("x", None)]
    assert plan.drift(p)["outdated"] == [{"name": "a", "installed": "1.0-1", "latest": "1.1-1"}]
    assert plan.drift(p)["wrong_version"] == []
    assert "  upgrade    a 1.0-1 -> 1.1-1 (latest)" in p.lines()
    assert p.as_dict()["upgrade"] == [{"name": "a", "from": "1.0-1", "to": "1.1-1", "why": "latest"}]


def test_state_round_trips_with_a_tagged_intent(tmp_path):
    st = state.load(str(tmp_path))
    assert st.managed == set() and st.pending is None
    st.managed, st.pending = {"a"}, {"tag": "0123456789abcdef" * 2, "names": {"b", "c"}}
    st.save()
    again = state.load(str(tmp_path))
    assert again.managed == {"a"} and again.pending == {"tag": "0123456789abcdef" * 2, "names": {"b", "c"}}

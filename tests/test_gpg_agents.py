"""No gpg-agent a test starts outlives it: each test's teardown stops the agents of the
run's GnuPG homes, whether the test passed, failed or was interrupted, and the session
fails naming any agent left at its end. Checked by running a small pytest session that
uses the suite's own fixtures (cluster_testkit/gpgfixtures.py, as tests/conftest.py)."""
import os
import subprocess
import sys
import textwrap

from cluster_testkit import REPO_ROOT, gpgagents

CONFTEST = "from cluster_testkit.gpgfixtures import no_gpg_agent_outlives_the_suite, stop_gpg_agents  # noqa\n"

INNER = textwrap.dedent('''
    import os
    import subprocess

    import pytest

    HOMES = os.environ["HOMES"]


    def start_agent(tmp_path, name):
        home = str(tmp_path / "g")      # short: see inner_session
        os.mkdir(home, 0o700)
        subprocess.run(["gpg-connect-agent", "--homedir", home, "/bye"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(HOMES, name), "w") as handle:
            handle.write(home)
        return home


    def running(name):
        from cluster_testkit import gpgagents
        with open(os.path.join(HOMES, name)) as handle:
            home = handle.read()
        return [h for _, h in gpgagents.agents() if h == home]


    @pytest.fixture(scope="module")
    def leaky(tmp_path_factory):
        yield
        start_agent(tmp_path_factory.mktemp("leak"), "leak")     # after every test's teardown


    def test_passes(tmp_path):
        start_agent(tmp_path, "passed")
        assert running("passed")


    def test_after_a_passed_test():
        assert not running("passed")


    def test_fails(tmp_path):
        start_agent(tmp_path, "failed")
        assert False, "fails on purpose"


    def test_after_a_failed_test():
        assert not running("failed")


    def test_leaks_from_a_fixture(leaky):
        pass


    def test_interrupted(tmp_path):
        start_agent(tmp_path, "interrupted")
        raise KeyboardInterrupt
''')


INNER_TESTS = ("test_passes", "test_after_a_passed_test", "test_fails", "test_after_a_failed_test",
               "test_leaks_from_a_fixture")


def inner_session(tmp_path, *tests):
    """Run the inner tests named (all but test_interrupted when none), in a session of
    their own; (exit status, output, the names of the tests that started an agent).
    Its paths are short: where the user has no /run/user/UID (a chroot, a container) the
    agent's sockets are made in its home, and one whose name is too long for a socket
    (S.gpg-agent.extra, .browser: about 104 bytes) keeps the agent from starting at all."""
    inner, homes = tmp_path / "inner", tmp_path / "homes"
    inner.mkdir()
    homes.mkdir()
    (inner / "conftest.py").write_text(CONFTEST)
    (inner / "test_inner.py").write_text(INNER)
    env = dict(os.environ, HOMES=str(homes), PYTHONPATH=REPO_ROOT)
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
                             "--basetemp", str(tmp_path / "b"), "-c", os.devnull, "--rootdir", str(inner)]
                            + ["test_inner.py::" + t for t in tests or INNER_TESTS],
                            cwd=str(inner), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    return result.returncode, result.stdout, sorted(os.listdir(str(homes)))


def test_no_agent_outlives_its_test_or_the_session(tmp_path):
    try:
        rc, out, started = inner_session(tmp_path)
        assert started == ["failed", "leak", "passed"], out
        assert "PASSED test_inner.py::test_passes" in out and "FAILED test_inner.py::test_fails" in out, out
        assert "PASSED test_inner.py::test_after_a_passed_test" in out, out
        assert "PASSED test_inner.py::test_after_a_failed_test" in out, out
        # the agent a fixture started after the last test's teardown: named, stopped
        assert "ERROR at teardown of test_leaks_from_a_fixture" in out, out
        assert "gpg-agent left running after the tests, now stopped: {}".format(tmp_path / "b" / "leak0") in out
        assert rc == 1 and gpgagents.agents_under(str(tmp_path)) == [], out
    finally:
        gpgagents.stop_under(str(tmp_path))


def test_an_interrupted_test_stops_its_agent(tmp_path):
    try:
        rc, out, started = inner_session(tmp_path, "test_interrupted")
        assert started == ["interrupted"] and "KeyboardInterrupt" in out and rc == 2, out
        assert gpgagents.agents_under(str(tmp_path)) == [], out
    finally:
        gpgagents.stop_under(str(tmp_path))

"""pytest fixtures that stop the gpg-agents a test run starts (see gpgagents.py):
tests/conftest.py imports them, so every test of the suite uses them."""
import pytest

from cluster_testkit import gpgagents


@pytest.fixture(autouse=True)
def stop_gpg_agents(tmp_path_factory):
    """After each test, passed, failed or interrupted: stop the agents of the run's homes
    (a module's fixture that signs again later gets a fresh one from gpg)."""
    yield
    gpgagents.stop_under(str(tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="session", autouse=True)
def no_gpg_agent_outlives_the_suite(tmp_path_factory):
    """At the session's end no agent of the run's homes may be left (one started by a
    fixture's own teardown would be): each is stopped, and named as an error."""
    yield
    left = gpgagents.stop_under(str(tmp_path_factory.getbasetemp()))
    if left:
        pytest.fail("gpg-agent left running after the tests, now stopped: {}".format(", ".join(left)),
                    pytrace=False)

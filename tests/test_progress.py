"""Progress of long operations (dnf_plugin_cluster.progress): one line on stderr,
rewritten in place, when stderr is a terminal, and not one byte otherwise; the
publish's resolution counts its roles and arches with it."""
import io
import os
import subprocess
import sys

from cluster_testkit import REPO_ROOT
from cluster_testkit.memory import MemoryBackend, Pkg
from conftest import on_a_terminal
from dnf_plugin_cluster import progress
from dnf_plugin_cluster.head import lock

CHILD = """
import sys
from dnf_plugin_cluster import progress
with progress.Counter("wave", 2) as bar:
    bar.step("canary")
    progress.print_line(sys.stdout, "a line between")
    bar.step("wave 1")
print("after")
"""


def child_argv():
    return [sys.executable, "-c", "import sys; sys.path.insert(0, {!r})\n".format(REPO_ROOT) + CHILD]


def test_a_progress_line_on_a_terminal_and_nothing_otherwise():
    piped = subprocess.run(child_argv(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                           timeout=60)
    assert piped.returncode == 0 and piped.stderr == ""
    assert piped.stdout == "a line between\nafter\n"

    rc, output = on_a_terminal(child_argv(), timeout=60)
    assert rc == 0, output
    # each step rewrites the line; a line printed meanwhile finds it cleared; it is
    # cleared when the operation ends, before what follows
    assert output == (b"\r\x1b[Kwave 1 of 2: canary" b"\r\x1b[K" b"a line between\r\n"
                      b"\r\x1b[Kwave 2 of 2: wave 1" b"\r\x1b[K" b"after\r\n"), output


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


def draft(roles):
    return {"roles": dict((role, {"channel": "stable", "arches": dict(
        (arch, {"packages": ["tool"]}) for arch in arches)}) for role, arches in roles.items())}


def test_publish_resolution_counts_roles_and_arches_on_a_terminal_only(tmp_path, monkeypatch):
    backend = MemoryBackend(str(tmp_path), available=[Pkg("tool", requires=["lib"]), Pkg("lib")])
    roles = draft({"compute": ["x86_64", "aarch64"], "login": ["x86_64"]})
    logged = []
    for stream, shown in ((io.StringIO(), False), (Terminal(), True)):
        monkeypatch.setattr(sys, "stderr", stream)
        found = lock.resolve(backend, roles, ["x86_64", "aarch64"], log=logged.append)
        assert sorted(p.name for p in found["compute"]["aarch64"]) == ["lib", "tool"]
        text = stream.getvalue()
        if not shown:
            assert text == ""
            continue
        steps = [part for part in text.split(progress.CLEAR) if part]
        assert steps == ["resolving 1 of 3: role compute on x86_64", "resolving 2 of 3: role login on x86_64",
                         "resolving 3 of 3: role compute on aarch64"]
        assert text.endswith(progress.CLEAR)        # nothing left on the line
    assert logged[:1] == ["role compute on x86_64: a fresh node installs 2 packages, 2 locked"]


def test_a_progress_line_is_cut_to_the_terminal_and_never_fails(monkeypatch):
    class Closed(Terminal):
        def write(self, text):
            raise OSError(5, "Input/output error")
    line = progress.Line(stream=Closed())
    line.show("x" * 500)                             # a terminal gone away: no error, and quiet after
    assert not line.enabled
    wide = Terminal()
    monkeypatch.setattr(os, "get_terminal_size", lambda fd=None: os.terminal_size((40, 24)))
    monkeypatch.setattr(wide, "fileno", lambda: 2, raising=False)
    progress.Line(stream=wide).show("y" * 500)
    assert wide.getvalue() == progress.CLEAR + "y" * 39

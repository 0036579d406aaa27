"""What `cluster-repo` tells its user, at one of three levels: `-q` (results and errors
only), the default (a line per step), `-v` (the detail: each rpmbuild run, each URL
fetched, each spec left unchanged).

Informational lines go to stdout as `cluster-repo: ...`; warnings and errors go to
stderr at every level. Each clears the progress line (dnf_plugin_cluster.progress)
first, so a terminal never shows the two run together.
"""
import sys

from dnf_plugin_cluster import progress

QUIET, NORMAL, VERBOSE = 0, 1, 2
PROG = "cluster-repo"

_level = [NORMAL]


def set_level(level):
    """QUIET also turns the progress line off."""
    _level[0] = level
    progress.allow(level > QUIET)


def level():
    return _level[0]


def _write(stream, text):
    progress.print_line(stream, text)


def say(message):
    """One informational line (not under -q)."""
    if _level[0] >= NORMAL:
        _write(sys.stdout, "{}: {}".format(PROG, message))


def detail(message):
    """One line of detail (only under -v)."""
    if _level[0] >= VERBOSE:
        _write(sys.stdout, "{}: {}".format(PROG, message))


def warn(message):
    """A warning: stderr, at every level."""
    _write(sys.stderr, "{}: warning: {}".format(PROG, message))


def error(message):
    """An error line: stderr, at every level."""
    _write(sys.stderr, "{}: error: {}".format(PROG, message))


def problem(line):
    """A line of a problem list (lint, closure): stderr as it is, at every level."""
    _write(sys.stderr, line)

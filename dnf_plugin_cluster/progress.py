"""Progress of long operations: one line on stderr, rewritten in place, and only when
stderr is a terminal; nothing at all otherwise (logs, pipes, cron, ClusterShell).

    with progress.Counter("building", total) as bar:
        for spec in specs:
            bar.step(spec)          # "building 3 of 12: mbw"

`Line` is the bare line (show text, keep a final text, clear); `Counter` counts steps
of a known total. Lines printed while one is shown go through print_line() (the
cluster-repo say helper does), or call interrupt() first: the progress line is
cleared, and drawn again at its next update. Used by both sides: cluster-repo build
and sources, publish's resolution, the fleet's waves and how many nodes answered.
"""
import os
import sys
import threading

CLEAR = "\r\033[K"

_lock = threading.RLock()
_shown = []             # the Line whose text is on the terminal now, if any
_allowed = [True]       # False: no progress line at all (cluster-repo -q)


def allow(flag):
    """Whether progress lines may be shown at all (they still need a terminal)."""
    _allowed[0] = bool(flag)


def is_terminal(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):   # closed, or not a file at all
        return False


def _width(stream):
    """The terminal's columns; 80 when it does not say (a fresh pseudo-terminal says 0)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def interrupt():
    """Clear the progress line, if one is shown, before other output."""
    with _lock:
        if _shown:
            line = _shown.pop()
            line._write(CLEAR)


def print_line(stream, text):
    """Write one whole line to `stream` with the progress line out of its way (under the
    same lock, so a step in another thread cannot draw in between)."""
    with _lock:
        interrupt()
        stream.write(text + "\n")
        stream.flush()


class Line(object):
    """One line on `stream` (default: stderr), rewritten in place; inert unless
    `enabled` (default: `stream` is a terminal)."""

    def __init__(self, enabled=None, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _allowed[0] and (is_terminal(self.stream) if enabled is None else bool(enabled))

    def _write(self, text):
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):       # a terminal gone away: progress is never an error
            self.enabled = False

    def show(self, text):
        """Replace the line with `text` (cut to the terminal's width: a wrapped line
        could not be rewritten)."""
        if not self.enabled:
            return
        width = max(_width(self.stream) - 1, 10)
        with _lock:
            del _shown[:]
            self._write(CLEAR + text[:width])
            _shown.append(self)

    def keep(self, text):
        """Replace the line with `text` and end it: it stays on the terminal."""
        if not self.enabled:
            return
        with _lock:
            del _shown[:]
            self._write(CLEAR + text + "\n")

    def clear(self):
        if not self.enabled:
            return
        with _lock:
            if self in _shown:
                _shown.remove(self)
                self._write(CLEAR)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.clear()
        return False


class Counter(Line):
    """`what N of TOTAL: item`, one step at a time."""

    def __init__(self, what, total, enabled=None, stream=None):
        Line.__init__(self, enabled, stream)
        self.what, self.total, self.count = what, total, 0

    def step(self, item=""):
        """The next step begins (thread-safe)."""
        with _lock:
            self.count += 1
            self.show("{} {} of {}{}".format(self.what, self.count, self.total, ": " + item if item else ""))

"""The gpg-agents a test run starts, found and stopped by their home directory.

GnuPG (the tests' own `gpg`, rpmsign, librepo's repo_gpgcheck) starts a `gpg-agent
--homedir DIR --daemon` for each keyring it uses and leaves it running. Those under the
run's temporary directory are the run's: each test's teardown stops them
(`gpgconf --homedir DIR --kill all`, which also ends dirmngr and keyboxd), also when the
test failed or the run was interrupted (pytest tears fixtures down then too), and the
session's end checks that none is left. Agents of other homes, another user's or
another test run's, are never touched: they are told apart by the `--homedir` gpg
starts them with (or GNUPGHOME), read from /proc."""
import os
import signal
import subprocess
import time

#: How long an agent told to stop may take to exit before it gets SIGTERM.
GRACE = 5.0


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _homedir(pid):
    """The home directory a gpg-agent process serves, as the process sees it, or None."""
    args = [a.decode("utf-8", "replace") for a in _read("/proc/{}/cmdline".format(pid)).split(b"\0")]
    for index, arg in enumerate(args):
        if arg == "--homedir" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--homedir="):
            return arg[len("--homedir="):]
    for entry in _read("/proc/{}/environ".format(pid)).split(b"\0"):
        if entry.startswith(b"GNUPGHOME="):
            return entry[len(b"GNUPGHOME="):].decode("utf-8", "replace")
    return None


def agents():
    """[(pid, homedir)] of the running gpg-agent processes in this file system root (an
    agent in a chroot names a home inside it: it is not one of the host's homes)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        if _read("/proc/{}/comm".format(entry)).strip() != b"gpg-agent":
            continue
        try:
            if os.readlink("/proc/{}/root".format(entry)) != "/":
                continue
        except OSError:
            continue
        home = _homedir(entry)
        if home is not None:
            found.append((int(entry), os.path.normpath(home)))
    return found


def agents_under(top):
    """[(pid, homedir)] of the agents whose home directory is `top` or below it."""
    top = os.path.normpath(os.path.realpath(top))
    return [(pid, home) for pid, home in agents()
            if home == top or home.startswith(top + os.sep)]


def _alive(pid):
    status = _read("/proc/{}/stat".format(pid))
    return bool(status) and status.rsplit(b")", 1)[-1].split()[:1] != [b"Z"]


def stop_under(top):
    """Stop every agent whose home is under `top`; returns the homes that had one."""
    found = agents_under(top)
    for home in sorted(set(h for _, h in found)):
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + GRACE
    for pid, _ in found:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGTERM)       # its socket was gone: stop it by its id
            except OSError:
                pass
    return sorted(set(h for _, h in found))

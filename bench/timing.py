"""Timing of commands, two at a time: runs alternate (A B, B A, A B, ...) so that drift
of the machine (cache, frequency, other load) falls on both sides alike, and each side
is summarised by its median. Wall-clock time is the figure; the CPU time the command
used (user + system, from the kernel's accounting of children) is kept beside it, as it
is far less sensitive to a busy or shared machine."""
import resource
import statistics
import subprocess
import time


class CommandFailed(Exception):
    pass


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv, env, ok=(0,), capture=False):
    """Run once; (wall seconds, stdout, CPU seconds). A status outside `ok` is an error:
    a benchmark of a command that failed would measure nothing."""
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                          stderr=subprocess.PIPE, universal_newlines=True)
    seconds = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    if proc.returncode not in ok:
        raise CommandFailed("{} exited {}:\n{}".format(" ".join(argv), proc.returncode, proc.stderr))
    return seconds, proc.stdout, cpu


class Sample(object):
    def __init__(self, times, cpu=None):
        self.times = sorted(times)
        self.cpu = sorted(cpu) if cpu else None

    @property
    def median(self):
        return statistics.median(self.times)

    @property
    def cpu_median(self):
        return statistics.median(self.cpu) if self.cpu else None

    def quartiles(self):
        if len(self.times) < 4:
            return self.times[0], self.times[-1]
        q = statistics.quantiles(self.times, n=4)
        return q[0], q[2]


def compare(ours, plain, reps, warmup=1):
    """Time two commands, each given as (argv, env, ok statuses), `reps` times each,
    alternating; returns (Sample ours, Sample plain)."""
    sides = {"ours": ours, "plain": plain}
    for _ in range(warmup):
        for name in ("ours", "plain"):
            run(*sides[name])
    wall, cpu = {"ours": [], "plain": []}, {"ours": [], "plain": []}
    for rep in range(reps):
        for name in (("ours", "plain") if rep % 2 == 0 else ("plain", "ours")):
            seconds, _, used = run(*sides[name])
            wall[name].append(seconds)
            cpu[name].append(used)
    return Sample(wall["ours"], cpu["ours"]), Sample(wall["plain"], cpu["plain"])


def timed(fn, *args, **kwargs):
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result

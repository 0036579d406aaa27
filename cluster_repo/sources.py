"""`cluster-repo sources [NAME...]` and `cluster-repo new-sources NAME FILE...`.

`sources` brings every tarball a tool's `sources` file names into the lookaside cache:
from the Source URL of its spec, or with `--lookaside URL|DIR` from a mirror in Fedora's
lookaside layout (NAME/FILE/sha512/HEX/FILE). A file already cached and matching its
SHA512 is not fetched again. Downloads run side by side (bounded), resume a partial
file (`FILE.part`, HTTP Range), stop at a size bound and a timeout, and only http,
https and file URLs are followed. Nothing reaches the cache before its SHA512 matches;
`build` reads only the cache and never the network.

`new-sources` puts local files into the cache and writes their lines, as
`fedpkg new-sources` does."""
import concurrent.futures
import fcntl
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request

from dnf_plugin_cluster import progress as tty_progress
from dnf_plugin_cluster.errors import ClusterError

from . import lookaside

DEFAULT_MAX_SIZE = 2 << 30          # 2 GiB: larger than any tarball a tool should have
DEFAULT_TIMEOUT = 60.0              # seconds without progress
DEFAULT_JOBS = 4
SCHEMES = ("http", "https", "file")


class Options(object):
    def __init__(self, cache=None, lookaside_url=None, jobs=DEFAULT_JOBS, max_size=DEFAULT_MAX_SIZE,
                 timeout=DEFAULT_TIMEOUT, progress=None, log=None, detail=None):
        self.cache = os.path.abspath(cache or lookaside.default_cache())
        self.lookaside_url = lookaside_url
        self.jobs = max(1, jobs)
        self.max_size = max_size
        self.timeout = timeout
        #: show progress (default: when stderr is a terminal)
        self.progress = tty_progress.is_terminal(sys.stderr) if progress is None else progress
        self.log = log or (lambda message: None)
        self.detail = detail or (lambda message: None)      # cluster-repo -v


def mirror_url(base, package, entry):
    """The file's address on a lookaside mirror (URL or local directory)."""
    rel = "/".join(urllib.parse.quote(part) for part in
                   (package, entry.filename, "sha512", entry.sha512, entry.filename))
    if "://" not in base:
        return "file://" + urllib.parse.quote(os.path.abspath(base), safe="/") + "/" + rel
    return base.rstrip("/") + "/" + rel


def check_scheme(url, entry):
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise ClusterError("{}: unsupported URL scheme '{}' in {} (only http, https and file)".format(
            entry.filename, scheme, url), entry.path, entry.line)
    return url


class Job(object):
    def __init__(self, tool, entry, url):
        self.tool, self.entry, self.url = tool, entry, url


def plan(project, names, opts, target):
    """(jobs to download, files already cached and verified): ClusterError for an
    unknown tool, a bad sources file, a tarball with no address, a cached file that does
    not match. The tools are looked at side by side (opts.jobs): each spec parsed once
    (rpmspec), each cached file hashed (hashlib works outside the GIL)."""
    tools = project.tools()
    known = set(t.name for t in tools)
    for name in names:
        if name not in known:
            raise ClusterError("no tool named '{}' (a tool is specs/NAME/NAME.spec)".format(name))
    selected = [tool for tool in tools if not names or tool.name in names]

    def inspect(tool):
        entries = tool.entries()                # a bad line first, as lint says it
        spec_sources = tool.spec_sources(target)
        problems = tool.problems(target, spec_sources)  # a Source without a line: lint's words
        if problems:
            raise problems[0]
        return [(entry, lookaside.verified(opts.cache, tool.name, entry) is not None) for entry in entries], \
            dict((src.filename, src.url) for src in spec_sources)

    with concurrent.futures.ThreadPoolExecutor(max(1, min(opts.jobs, len(selected)))) as pool:
        looked = list(pool.map(inspect, selected))      # the first tool's error, in tool order
    jobs, cached = [], []
    for tool, (entries, urls) in zip(selected, looked):
        for entry, is_cached in entries:
            if is_cached:
                cached.append(entry)
                opts.detail("already verified in the cache: {} ({})".format(entry.filename, tool.name))
                continue
            if opts.lookaside_url:
                url = mirror_url(opts.lookaside_url, tool.name, entry)
            else:
                url = urls.get(entry.filename)
                if not url:
                    raise ClusterError("{}: no Source URL in {}.spec names it: give --lookaside URL|DIR".format(
                        entry.filename, tool.name), entry.path, entry.line)
            jobs.append(Job(tool, entry, check_scheme(url, entry)))
    return jobs, cached


class Progress(object):
    """One line per file on a terminal, rewritten in place; nothing otherwise
    (dnf_plugin_cluster.progress)."""

    def __init__(self, enabled):
        self.line = tty_progress.Line(enabled)

    def show(self, name, done, total):
        if not self.line.enabled:
            return
        size = "{:.1f}/{:.1f} MiB".format(done / 1048576.0, total / 1048576.0) if total else \
            "{:.1f} MiB".format(done / 1048576.0)
        self.line.show("{}: {}".format(name, size))

    def done(self, name):
        self.line.keep("{}: done".format(name))


def _open(url, offset, timeout):
    """(response, resumed, total or None) for `url` from byte `offset`."""
    request = urllib.request.Request(url, headers={"User-Agent": "cluster-repo"})
    if offset and urllib.parse.urlsplit(url).scheme != "file":
        request.add_header("Range", "bytes={}-".format(offset))
    response = urllib.request.urlopen(request, timeout=timeout)
    status = getattr(response, "status", None) or response.getcode() or 200
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if offset and status == 206:
        return response, True, (offset + length) if length is not None else None
    return response, False, length


def download(job, opts, progress):
    """Fetch one file into the cache (resuming its .part), verify it, move it in place."""
    entry = job.entry
    dest = lookaside.cache_path(opts.cache, job.tool.name, entry)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    part = dest + ".part"
    with open(part, "ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ClusterError("{}: another cluster-repo is downloading it".format(entry.filename))
        try:
            _fetch_into(job, opts, progress, handle, part)
        except socket.timeout:
            raise ClusterError("{}: download timed out after {:g} s without data from {} (run again to "
                               "resume)".format(entry.filename, opts.timeout, job.url), entry.path, entry.line)
        except urllib.error.HTTPError as err:
            raise ClusterError("{}: download failed: HTTP {} {} from {}".format(
                entry.filename, err.code, err.reason, job.url), entry.path, entry.line)
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", None) or getattr(err, "strerror", None) or err
            raise ClusterError("{}: download failed: {} ({})".format(entry.filename, reason, job.url),
                               entry.path, entry.line)
        actual = lookaside.sha512_file(part)
        if actual != entry.sha512:
            os.unlink(part)             # never resumed from, never used
            raise lookaside.mismatch(entry, actual)
        os.rename(part, dest)
    progress.done(entry.filename)
    return dest


def _fetch_into(job, opts, progress, handle, part):
    entry = job.entry
    offset = os.path.getsize(part)
    response, resumed, total = _open(job.url, offset, opts.timeout)
    with response:
        if not resumed:                 # the server sends the whole file: start over
            handle.seek(0)
            handle.truncate()
            offset = 0
        if total is not None and total > opts.max_size:
            handle.truncate(0)
            raise ClusterError("{}: {} bytes exceed the size bound of {} bytes (--max-size)".format(
                entry.filename, total, opts.max_size), entry.path, entry.line)
        done = offset
        while True:
            block = response.read(1 << 16)
            if not block:
                break
            done += len(block)
            if done > opts.max_size:
                handle.truncate(0)
                raise ClusterError("{}: the download exceeds the size bound of {} bytes (--max-size)".format(
                    entry.filename, opts.max_size), entry.path, entry.line)
            handle.write(block)
            progress.show(entry.filename, done, total)
        handle.flush()
        if total is not None and done < total:
            raise ClusterError("{}: the connection closed after {} of {} bytes (run again to resume)".format(
                entry.filename, done, total), entry.path, entry.line)


def fetch(project, names, opts, target):
    """Bring the tools' tarballs into the cache. Returns (fetched, cached) entries;
    raises ClusterError listing each file that failed (one line each)."""
    jobs, cached = plan(project, names, opts, target)
    progress = Progress(opts.progress)
    errors, fetched = [], []
    for job in jobs:
        opts.detail("fetching {} ({}) from {}".format(job.entry.filename, job.tool.name, job.url))
    with concurrent.futures.ThreadPoolExecutor(min(opts.jobs, max(1, len(jobs)))) as pool:
        futures = [(job, pool.submit(download, job, opts, progress)) for job in jobs]
        for job, future in futures:
            try:
                future.result()
                fetched.append(job.entry)
                opts.log("fetched {} ({})".format(job.entry.filename, job.tool.name))
            except ClusterError as err:
                errors.append(err)
    if errors:
        raise FetchErrors(errors)
    return fetched, cached


class FetchErrors(ClusterError):
    """Several files failed: one line each."""

    def __init__(self, errors):
        ClusterError.__init__(self, "{} file(s) not fetched: {}".format(len(errors), errors[0]))
        self.errors = errors


def new_sources(project, name, files, cache):
    """Put `files` into the cache and make them the tool's sources lines."""
    tool = project.tool(name)
    entries = []
    for path in files:
        if not os.path.isfile(path):
            raise ClusterError("no such file", path)
        lookaside.check_filename(os.path.basename(path), path)
        entries.append(lookaside.store(cache, tool.name, path))
    names = [e.filename for e in entries]
    if len(set(names)) != len(names):
        raise ClusterError("two files named '{}'".format(sorted(n for n in names if names.count(n) > 1)[0]))
    lookaside.write(tool.sources_file, entries)
    return entries



def fetch_new(package, filename, url, opts):
    """Download a tarball whose SHA512 is not known yet (a new upstream version: `bump`),
    bounded as every download; it enters the cache under the SHA512 it has, and its
    Entry (the new sources line) is returned. A failed download leaves nothing."""
    entry = lookaside.Entry(lookaside.check_filename(filename), None)
    check_scheme(url, entry)
    top = os.path.join(opts.cache, package, filename)
    os.makedirs(top, exist_ok=True)
    part = os.path.join(top, "new.part")
    progress = Progress(opts.progress)
    try:
        with open(part, "wb") as handle:
            try:
                _fetch_into(Job(None, entry, url), opts, progress, handle, part)
            except socket.timeout:
                raise ClusterError("{}: download timed out after {:g} s without data from {}".format(
                    filename, opts.timeout, url))
            except urllib.error.HTTPError as err:
                raise ClusterError("{}: download failed: HTTP {} {} from {}".format(
                    filename, err.code, err.reason, url))
            except (urllib.error.URLError, OSError) as err:
                reason = getattr(err, "reason", None) or getattr(err, "strerror", None) or err
                raise ClusterError("{}: download failed: {} ({})".format(filename, reason, url))
        entry.sha512 = lookaside.sha512_file(part)
        dest = lookaside.cache_path(opts.cache, package, entry)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.rename(part, dest)
    finally:
        if os.path.exists(part):
            os.unlink(part)
    progress.done(filename)
    return entry

"""Reading the no-op fast path's proof from files, without the package manager
(issue 24): what fast5.py (dnf5 hosts) and fast4.py (dnf 4 hosts) share. Each of them
knows where its package manager keeps its configuration and state; here are the
configuration digest over those files, the rpm database's cookie, the fetch of a
repository's repomd.xml from where the backend recorded it (`fetch:<repoid>`), and the
comparison with the record that reads only what it must.

The backends write the record with these same functions, so the digests agree by
construction."""
import hashlib
import json
import os
import stat

from . import fastpath

MAX_BYTES = 4 * 1024 * 1024
TIMEOUT = 30


def read_bytes(path):
    """The bytes of a configuration file (what the package manager reads, links
    followed), or a word saying why there are none. Only a regular file is read: a FIFO
    (opened without blocking) or a device counts as such, never as its contents (a FIFO
    among the files, e.g. a versionlock.list in the plugins' configuration directory,
    would hang the proof; the full path then says what is wrong with it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except IsADirectoryError:
        return b"directory"
    except OSError as err:
        return "unreadable {}".format(err.errno).encode()
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        return b"directory" if stat.S_ISDIR(mode) else "special {:o}".format(stat.S_IFMT(mode)).encode()
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(MAX_BYTES + 1)
        except OSError as err:
            return "unreadable {}".format(err.errno).encode()
    return data if len(data) <= MAX_BYTES else b"too large"


def files_digest(key, files, dirs, tops):
    """sha256 over `key` (JSON: the command line's options as far as they change the
    answer), the running kernel (release and machine: the floor, the arch), and the
    bytes of `files` and of every file in each of `dirs` under each of `tops` (a
    directory that is missing or unreadable counts as such)."""
    digest = hashlib.sha256(json.dumps(key).encode("utf-8"))
    uname = os.uname()
    digest.update("\0{}\0{}\0".format(uname[2], uname[4]).encode("utf-8"))
    files = list(files)
    for top in tops:
        for directory in dirs:
            path = os.path.join(top, directory.lstrip("/"))
            try:
                names = sorted(os.listdir(path))
            except OSError:
                files.append(path)
                continue
            files += [os.path.join(path, name) for name in names]
    for path in files:
        digest.update(path.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(hashlib.sha256(read_bytes(path)).digest())
    return digest.hexdigest()


def rpmdb_cookie(installroot):
    """fastpath.rpmdb_cookie() with librpm's own error lines kept off the terminal (a
    database rpm cannot open means the full path, which says so in one line)."""
    try:
        import rpm
    except ImportError:
        return None
    import sys
    with open(os.devnull, "w") as sink:
        rpm.setLogFile(sink)
        try:
            return fastpath.rpmdb_cookie(installroot)
        finally:
            rpm.setLogFile(sys.stderr)


# --- repomd.xml -------------------------------------------------------------------------------

def spec(url, cache, sslverify=True, sslcacert="", proxy=""):
    """The `fetch:<repoid>` text of a record."""
    return json.dumps({"url": url, "cache": cache, "sslverify": bool(sslverify), "sslcacert": sslcacert or "",
                       "proxy": proxy or ""}, sort_keys=True)


def _http_get(url):
    """GET of a plain http:// URL (no proxy): the body of a 200 answer, else None
    (redirects and the rest are left to libdnf5). Parsed by hand: urllib.parse and the
    idna codec a str host name brings cost more than the whole fetch, and so does the
    socket module's enums: _socket is what it wraps."""
    import _socket
    netloc, _, path = url[len("http://"):].partition("/")
    path = "/" + path.partition("#")[0]
    if "@" in netloc or not netloc:
        return None
    if netloc.startswith("["):
        host, _, port = netloc[1:].partition("]")
        port = port[1:]
    elif ":" in netloc:
        host, _, port = netloc.partition(":")
    else:
        host, port = netloc, ""
    port = int(port) if port else 80
    request = "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: dnf-cluster\r\nAccept-Encoding: identity\r\n\r\n".format(
        path, netloc)
    chunks, size = [], 0
    sock = None
    for family, kind, proto, _, address in _socket.getaddrinfo(host.encode("ascii"), port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(TIMEOUT)
            sock.connect(address)
            break
        except OSError:
            sock.close()
            sock = None
    if sock is None:
        return None
    try:
        sock.sendall(request.encode("ascii"))
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BYTES:
                return None
    finally:
        sock.close()
    head, sep, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.split(b"\r\n")
    status = lines[0].split()
    if len(status) < 2 or status[1] != b"200":
        return None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length" and int(value.strip()) != len(body):
            return None
        if name in (b"transfer-encoding", b"content-encoding") and value.strip().lower() != b"identity":
            return None
    return body


def _urllib_get(url, sslverify, sslcacert, proxy):
    import ssl
    import urllib.request
    handlers = []
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=sslcacert or None)
        if not sslverify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        handlers.append(urllib.request.HTTPSHandler(context=context))
    if proxy and proxy != "_none_":
        handlers.append(urllib.request.ProxyHandler({"http": proxy, "https": proxy}))
    elif proxy == "_none_":
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    with opener.open(url, timeout=TIMEOUT) as answer:
        if answer.status != 200 or answer.geturl() != url:
            return None
        data = answer.read(MAX_BYTES + 1)
    return data if len(data) <= MAX_BYTES else None


def repomd_digest(text, cacheonly):
    """sha256 of a repository's repomd.xml as libdnf5 would read it now (the cached copy
    under -C, else fetched), or None."""
    try:
        where = json.loads(text)
        url = where["url"]
        if cacheonly:
            value = fastpath.file_digest(where["cache"])
            return None if value == "none" else value
        if url.startswith("file://"):
            from urllib.parse import unquote
            value = fastpath.file_digest(unquote(url[len("file://"):]))
            return None if value == "none" else value
        env_proxy = any(os.environ.get(k) for k in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"))
        if url.startswith("http://") and not where["proxy"] and not env_proxy:
            data = _http_get(url)
        elif url.startswith(("http://", "https://")):
            data = _urllib_get(url, where["sslverify"], where["sslcacert"], where["proxy"])
        else:
            return None
    except Exception:                   # pylint: disable=broad-except; no proof, the full path says why
        return None
    return None if data is None else fastpath.digest_bytes(data)


def inputs(fixed, record, cacheonly, fetched=None):
    """The inputs of now for fastpath.matches() against `record`, reading only what it
    compares: `fixed` (the fixed inputs, or None: no proof) first, then the repomd.xml
    of the repositories the record depends on (the others keep the record's value:
    matches() does not look at them). None when something already differs or there is
    no proof. `fetched`, a dict, gets {repoid: (sha256 of the repomd.xml fetched, the
    cached copy's path)} (fastpath.hand_over())."""
    now = fixed
    if now is None or any(record["inputs"][k] != now[k] for k in now):
        return None
    then = record["inputs"]
    every = then["update"] == "latest" or then["repos"] == "all"
    for key, value in then.items():
        if key.startswith("repomd:"):
            repoid = key[len("repomd:"):]
            if every or repoid == then["profile_repo"]:
                where = then.get("fetch:" + repoid)
                value = repomd_digest(where, cacheonly) if where else None
                if value is None:
                    return None
                if fetched is not None and not cacheonly:
                    fetched[repoid] = (value, json.loads(where)["cache"])
            now[key] = value
        elif key not in now:
            now[key] = value
    return now

"""The no-op fast path on dnf5 hosts (issue 24), read without libdnf5: importing the
libdnf5 bindings alone costs more than dnf5's whole `check-upgrade`, so `dnf-cluster`
(and `dnf5 cluster-node`, which hands over to it) proves an unchanged node from files
before it imports them, and answers from the record of the last verification in sync
(fastpath.py, the same record as on dnf 4).

The proof read here, and by the libdnf5 backend when it writes the record (the same
functions, so the digests agree by construction):
- rpmdb: the rpm database's cookie through rpm's Python bindings (none: no proof);
- history: dnf5's system state (the *.toml of /usr/lib/sysimage/libdnf5: reasons,
  groups) and its transaction history (every transaction's state and comment, every
  item's action, reason and state);
- repo_config: everything libdnf5 reads its configuration from in the root (dnf.conf,
  its drop-in directories, the .repo files, the repository overrides, the variables),
  dnf-cluster's own global options (but -C and --refresh), and the running kernel;
- versionlock: dnf5's /etc/dnf/versionlock.toml; cluster.conf, the role, state.json;
- repomd:<repoid>: the repository's repomd.xml, fetched from where libdnf5 fetched it
  when the record was written (`fetch:<repoid>`: its URL, sslverify, sslcacert, proxy,
  and the cached copy -C reads). The configuration being unchanged, so are the URLs
  libdnf5 would use now (the variables it expands come from it and from the rpm
  database). Only the repositories the verdict depends on are fetched (fastpath.matches).

The libdnf5 backend writes no record (so there is no fast path) when libdnf5 read its
configuration or kept its state anywhere else than the defaults below, or a repository
needs what this reader does not do (a mirrorlist, a metalink, client certificates,
credentials)."""
import hashlib
import json
import os

from . import fastpath

PERSISTDIR = "var/lib/dnf"
SYSTEM_STATE_DIR = "usr/lib/sysimage/libdnf5"
HISTORY_DB = "transaction_history.sqlite"
VERSIONLOCK = "etc/dnf/versionlock.toml"
#: libdnf5's defaults (dnf5 5.4): where it reads .repo files and variables
REPOSDIRS = ("/etc/yum.repos.d", "/etc/distro.repos.d", "/usr/share/dnf5/repos.d")
VARSDIRS = ("/etc/dnf/vars", "/usr/share/dnf5/vars.d")
#: every directory whose files the configuration digest covers, in the root and on the host
CONFIG_DIRS = ("/etc/dnf/libdnf5.conf.d", "/usr/share/dnf5/libdnf.conf.d", "/etc/dnf/repos.override.d",
               "/usr/share/dnf5/repos.override.d", "/etc/yum/vars") + REPOSDIRS + VARSDIRS
MAX_BYTES = 4 * 1024 * 1024
TIMEOUT = 30


def persistdir(installroot):
    return os.path.join(installroot, PERSISTDIR)


def _read(path):
    """The bytes of a configuration file (what libdnf5 reads, links followed), or a
    word saying why there are none."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except IsADirectoryError:
        return b"directory"
    except OSError as err:
        return "unreadable {}".format(err.errno).encode()
    return data if len(data) <= MAX_BYTES else b"too large"


def settings_key(settings):
    """dnf-cluster's global options as far as they change the answer (-C and --refresh
    do not: the repositories' repomd.xml decides)."""
    return [settings.installroot, settings.config_file, settings.releasever, settings.forcearch,
            sorted(settings.setopts), settings.repos, sorted(settings.enable_repos), sorted(settings.disable_repos),
            settings.gpgcheck, sorted(settings.setvars)]


def config_digest(settings):
    root = settings.installroot
    digest = hashlib.sha256(json.dumps(settings_key(settings)).encode("utf-8"))
    uname = os.uname()
    digest.update("\0{}\0{}\0".format(uname[2], uname[4]).encode("utf-8"))
    files = [settings.config_file or os.path.join(root, "etc/dnf/dnf.conf")]
    tops = [root] if root == "/" else [root, "/"]
    for top in tops:
        for directory in CONFIG_DIRS:
            path = os.path.join(top, directory.lstrip("/"))
            try:
                names = sorted(os.listdir(path))
            except OSError:
                files.append(path)
                continue
            files += [os.path.join(path, name) for name in names]
    for path in files:
        digest.update(path.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(hashlib.sha256(_read(path)).digest())
    return digest.hexdigest()


def history_digest(installroot):
    """dnf5's system state and transaction history, read only; None (no proof) when the
    history cannot be read."""
    state = os.path.join(installroot, SYSTEM_STATE_DIR)
    digest = hashlib.sha256()
    try:
        names = sorted(os.listdir(state))
    except OSError:
        return "none"
    for name in names:
        if name.endswith(".toml"):
            value = fastpath.file_digest(os.path.join(state, name))
            if value is None:
                return None
            digest.update("{}\0{}\0".format(name, value).encode("utf-8"))
    path = os.path.join(state, HISTORY_DB)
    if os.path.lexists(path):
        if os.path.islink(path):
            return None
        import sqlite3
        try:
            db = sqlite3.connect("file:{}?mode=ro".format(path), uri=True)
            try:
                rows = [db.execute("SELECT id, state_id, comment FROM trans ORDER BY id").fetchall(),
                        db.execute("SELECT id, trans_id, item_id, action_id, reason_id, state_id FROM trans_item "
                                   "ORDER BY id").fetchall()]
            finally:
                db.close()
        except sqlite3.Error:
            return None
        digest.update(repr(rows).encode("utf-8"))
    return digest.hexdigest()


def versionlock_path(installroot):
    return os.path.join(installroot, VERSIONLOCK)


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


def fixed_inputs(settings, config, role):
    """The inputs every record compares, as fastpath.inputs() has them through the
    libdnf5 backend; None when there is no proof."""
    cookie = rpmdb_cookie(settings.installroot)
    if not cookie:
        return None
    root = settings.installroot
    out = {"rpmdb": fastpath.digest_bytes(cookie.encode("utf-8")), "history": history_digest(root),
           "cluster_conf": fastpath.cluster_conf_digest(config), "role": role or "",
           "state": fastpath.file_digest(os.path.join(persistdir(root), "cluster", "state.json")),
           "versionlock": fastpath.file_digest(versionlock_path(root)), "repo_config": config_digest(settings)}
    if any(v is None for v in out.values()):
        return None
    return out


# --- repomd.xml ---------------------------------------------------------------------------

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


def inputs(settings, config, role, record, cacheonly):
    """The inputs of now for fastpath.matches() against `record`, reading only what it
    compares: the fixed inputs first, then the repomd.xml of the repositories the record
    depends on (the others keep the record's value: matches() does not look at them).
    None when something already differs or there is no proof."""
    now = fixed_inputs(settings, config, role)
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
            now[key] = value
        elif key not in now:
            now[key] = value
    return now

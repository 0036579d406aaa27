"""The no-op fast path of `cluster-node status` and `sync` (issue 24): a node that can
prove nothing changed since it was last verified in sync answers from the record of
that verification, without loading the package sack.

What the proof covers (`inputs`, a dict of digests, compared whole):
- the profile repository's repomd.xml as fetched now (the repositories' metadata is
  checked as on every run, so a profile published a minute ago is seen), and for a role
  with `update: latest` every enabled repository's repomd.xml (a pinned or `present`
  role in sync needs nothing from the other repositories: nothing is to be resolved,
  unless the profile repository was chosen among several, see complete());
  the set of enabled repositories always;
- the rpm database's cookie (rpm's TransactionSet.dbCookie(); where rpm has none, as
  EL8's rpm 4.14, there is no proof and no fast path), and dnf's history database (a
  package's reason, which `dnf mark` changes without touching the rpm database);
- cluster.conf, the role asked for, the node state (state.json: managed, pending,
  generation), dnf's version lock file, the enabled repositories' configuration and
  the parts of dnf's main configuration that change what is installable.
The channel is the profile's (same profile, same channel).

On dnf5 hosts the proof is read without libdnf5 (fast5.py), before dnf-cluster imports
it; the libdnf5 backend writes the record with the same digests, and `fetch:<repoid>`
entries beside them: where each repository's repomd.xml is fetched from (and cached),
as libdnf5 had it, for that reading.

The record (<persistdir>/cluster/verified.json) sits beside the node state under the
same rules: a real root-owned directory, opened without following symbolic links,
bounded, validated field by field. Anything wrong with it means the full path; it is
written only after a full path answered in sync and the inputs read before that run
are still the inputs after it (nothing changed under it), and it is removed as soon as
a full path answers anything else."""
import hashlib
import json
import os

from . import state as nodestate
from .errors import ClusterError
from .files import open_regular

FORMAT = 1
NAME = "verified.json"
MAX_BYTES = 1024 * 1024
KINDS = ("status", "sync")
#: the roles' update policies: only `latest` depends on what the repositories offer
#: (anything else is taken as `latest`)
UPDATES = ("pinned", "present", "latest")
#: inputs every record has; repomd:<repoid> entries come beside them
FIXED = ("rpmdb", "history", "cluster_conf", "role", "state", "versionlock", "repo_config", "profile_repo", "update",
         "repos")


def path_of(persistdir):
    return os.path.join(nodestate.state_dir(persistdir), NAME)


def digest_bytes(data):
    return hashlib.sha256(data).hexdigest()


def file_digest(path):
    """sha256 of a regular file (no link followed, bounded), "none" when missing, None
    when it cannot be read (no proof)."""
    if path is None:
        return "none"
    try:
        fd = open_regular(path, os.O_RDONLY, "a file")
    except OSError:
        return "none"
    except ClusterError:
        return None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(nodestate.MAX_BYTES + 1)
    if len(data) > nodestate.MAX_BYTES:
        return None
    return digest_bytes(data)


def load(persistdir):
    """The record, or None (none yet, or anything wrong with it: the full path)."""
    try:
        if nodestate.check_dir(nodestate.state_dir(persistdir)) is None:
            return None
        fd = open_regular(path_of(persistdir), os.O_RDONLY, "the verification record")
    except (OSError, ClusterError):
        return None
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return data if valid(data) else None


def valid(data):
    if not isinstance(data, dict) or sorted(data) != ["answers", "format", "inputs"]:
        return False
    if data["format"] != FORMAT:
        return False
    inputs, answers = data["inputs"], data["answers"]
    if not isinstance(inputs, dict) or not all(k in inputs for k in FIXED):
        return False
    for key, value in inputs.items():
        if not isinstance(key, str) or not (value is None or isinstance(value, str)):
            return False
        if key not in FIXED and not key.startswith(("repomd:", "fetch:")):
            return False
    if inputs["update"] not in UPDATES or not inputs["profile_repo"] or inputs["repos"] not in ("profile", "all"):
        return False
    if not isinstance(answers, dict) or not answers or any(k not in KINDS for k in answers):
        return False
    for answer in answers.values():
        if not isinstance(answer, dict) or sorted(answer) != ["data", "lines", "status"]:
            return False
        if not isinstance(answer["data"], dict) or answer["data"].get("result") != "in-sync":
            return False
        if answer["status"] != 0 or not isinstance(answer["lines"], list) or \
                not all(isinstance(line, str) for line in answer["lines"]):
            return False
    return True


def forget(persistdir):
    """The record goes (a full path answered something other than in sync)."""
    path = path_of(persistdir)
    try:
        if os.path.lexists(path):
            os.unlink(path)
    except OSError:
        pass


def save(persistdir, inputs, kind, data, lines, status, keep=None):
    """Write the record of a full path that answered in sync (best effort: a node state
    directory that cannot take it just means no fast path). `keep`: the record the run
    started from; its answers of the other kind stay when its inputs are the same."""
    import tempfile                      # only when writing (a no-op answer never does)
    answers = {}
    if keep is not None and keep["inputs"] == inputs:
        answers.update(keep["answers"])
    answers[kind] = {"data": data, "lines": list(lines), "status": status}
    record = {"format": FORMAT, "inputs": inputs, "answers": answers}
    text = json.dumps(record, sort_keys=True)
    if len(text) > MAX_BYTES or not valid(json.loads(text)):
        forget(persistdir)
        return False
    try:
        directory = nodestate.check_dir(nodestate.state_dir(persistdir), create=True)
        fd, tmp = tempfile.mkstemp(prefix=".verified.", suffix=".json", dir=directory)
    except (OSError, ClusterError):
        return False
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fchmod(handle.fileno(), 0o644)
            os.fsync(handle.fileno())
        os.rename(tmp, path_of(persistdir))
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True


def rpmdb_cookie(installroot):
    """The rpm database's cookie through rpm's Python bindings, or None (rpm before 4.16,
    as EL8's, has none; no bindings, or a database rpm cannot open: no proof)."""
    try:
        import rpm
    except ImportError:
        return None
    if not hasattr(rpm.TransactionSet, "dbCookie"):
        return None
    ts = rpm.TransactionSet(installroot or "/")
    try:
        ts.openDB()
        cookie = ts.dbCookie()
    except rpm.error:
        return None
    finally:
        ts.closeDB()
    return cookie or None


def cluster_conf_digest(config):
    return file_digest(config.path) if getattr(config, "path", None) else "none"


def inputs(backend, config, role, state_path):
    """The digests of everything the verdict depends on (see the module docstring), with
    every enabled repository's repomd.xml (the caller has loaded the repositories'
    metadata); None where no proof is possible (no rpm database cookie, a file that
    cannot be read)."""
    cookie = backend.rpmdb_cookie()
    if not cookie:
        return None
    repomds = backend.repomd_digests()
    if repomds is None:
        return None
    out = {"rpmdb": digest_bytes(cookie.encode("utf-8")), "history": backend.history_digest(),
           "cluster_conf": cluster_conf_digest(config),
           "role": role or "", "state": file_digest(state_path),
           "versionlock": backend.versionlock_digest(), "repo_config": backend.repo_config_digest()}
    for repoid, value in repomds.items():
        out["repomd:" + repoid] = value
    fetch = backend.fetch_specs()
    if fetch is None:
        return None
    for repoid, spec in fetch.items():
        out["fetch:" + repoid] = spec
    if any(v is None for v in out.values()):
        return None
    return out


def matches(record, now):
    """True when the record proves the node is where it was verified in sync."""
    if record is None or now is None:
        return False
    then = record["inputs"]
    fixed = ("rpmdb", "history", "cluster_conf", "role", "state", "versionlock", "repo_config")
    if any(then[k] != now[k] for k in fixed):
        return False
    repos = dict((k, v) for k, v in now.items() if k.startswith("repomd:"))
    old = dict((k, v) for k, v in then.items() if k.startswith("repomd:"))
    if sorted(repos) != sorted(old):                 # a repository enabled or disabled
        return False
    if then["update"] == "latest" or then["repos"] == "all":
        return repos == old
    key = "repomd:" + then["profile_repo"]
    return key in repos and repos[key] == old[key]


def complete(now, run):
    """The inputs of a full run, with what only the run knows (its profile repository
    and the role's update mode)."""
    out = dict(now)
    out["profile_repo"] = run.repo
    out["update"] = run.view.update if run.view.update in UPDATES else "latest"
    # the profile repository is the only one that counts when nothing else could be
    # chosen instead: profile_repo in cluster.conf, or the site repository the node is
    # bound to (sync.find_profile); else another repository publishing a profile
    # changes the answer, so every repository counts
    bound = bool(run.config.profile_repo) or run.state.site_repo() == run.repo
    out["repos"] = "profile" if bound else "all"
    return out

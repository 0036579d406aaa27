"""One node's answer to the fleet: what a node-side `status --json` or `sync --json`
says (or why there is no answer), read into a NodeResult with its one summary line.

Node answer, schema format 1 (one JSON object on stdout, `status --json` and
`sync --json` alike; nothing else on stdout; exit 0 in sync or synced, 100 drift, 1 error):

    {"format": 1,                       required, an integer; other values are refused
     "command": "status" | "sync",
     "result": "in-sync" | "drift" | "synced" | "planned" | "error",    required
     "role": "compute", "arch": "x86_64", "channel": "stable",
     "generation": 11 | null,           profile generation this node last synced to
     "published_generation": 12 | null, profile generation the node sees published now
     "profile_origin": "site" | "default",  the site's profile, or the packager's default one
                                        (no site repository; its lines say so)
     "warnings": ["one line", ...],     optional
     "lock_digest": "sha256 hex",       (status, pinned roles) digest of the locked set as
                                        installed; in-sync nodes group by it
     "lock_packages": n, "admin_installed": [{"name", "evr"}],   (status, pinned roles)
     "packages": [{"name", "evr", "arch"}],  (status --packages) the role's set as installed:
                                        what publish --lock-from makes the role's lock
     "in_sync": true | false,
     "counts": {"missing": n, "wrong_version": n, "remove": n,          (status; "extra" = "remove")
                "install": n, "upgrade": n, "downgrade": n, "remove": n},  (sync)
     "drift": {"missing": [name], "remove": [name],                     (status; "extra": the same
               "wrong_version": [{"name", "installed", "locked"}],       list, "pinned" = "locked",
               "outdated": [{"name", "installed", "latest"}]},          for older readers; update: latest)
     "plan": {"install": [{"name", "evr"}], "remove": [name],           (sync)
              "upgrade": [{"name", "from", "to"}], "downgrade": [...],
              "kept": [{"name", "reason"}]},
     "refusal": "one line",             (sync --dry-run/--check) why a real sync would refuse
                                        this plan: the removal limit or the node floor
     "error": "one-line message"}       only with result "error" (and exit 1)

`drift` and `plan` lists are what the fleet view shows and groups by, so two nodes
share a line only when they differ from the profile in exactly the same way. Nodes in
sync say so only when their last sync was to the published generation ("in sync,
generation 12"); a node last synced at 11 whose role 12 did not change "matches
generation 12, synced to generation 11" (in_sync_words, the node's own words too).
Every line starts with the node's role, arch and channel, and nodes in sync end with the
lock digest of their locked set as installed.

Whatever a node does (prints no JSON, a JSON error, exits non-zero silently, ssh fails
with exit 255, or hangs past the command timeout) it gets a NodeResult; nothing a node
does raises here.

Node states: in-sync, synced (fine); drift, planned, would-refuse (differs; the last: a
dry run or check whose real sync the node refuses, its answer's `refusal`); error,
unreachable, timeout, bad-answer (could not be asked or answered wrongly).

Pure logic: no dnf import, no ClusterShell. Python 3.6 (EL8).
"""
import json
import re

from ..report import DEFAULT_ORIGIN, in_sync_words

FORMAT = 1
OK, DIFFERS = ("in-sync", "synced"), ("drift", "planned", "would-refuse")
FAILED = ("error", "unreachable", "timeout", "bad-answer")
ANSWERS = OK + ("drift", "planned", "error")
SSH_MESSAGES = (("timed out", "ssh: connect timeout"),
                ("Connection refused", "ssh: connection refused"),
                ("No route to host", "ssh: no route to host"),
                ("Could not resolve hostname", "ssh: unknown host"),
                ("Permission denied", "ssh: permission denied"),
                ("Host key verification failed", "ssh: host key verification failed"))


class NodeResult(object):
    """What one node answered, or why it did not."""
    __slots__ = ("node", "state", "summary", "exit", "answer", "stderr", "wave")

    def __init__(self, node, state, summary, exit=None, answer=None, stderr=""):
        self.node, self.state, self.summary = node, state, summary
        self.exit, self.answer, self.stderr, self.wave = exit, answer, stderr, None

    @property
    def ok(self):
        return self.state in OK

    def as_dict(self):
        out = {"state": self.state, "summary": self.summary, "exit": self.exit,
               "answer": self.answer, "stderr": self.stderr}
        if self.wave is not None:
            out["wave"] = self.wave
        return out


def _clean(text, node=None, limit=200):
    """One printable line (remote text never drives the admin's terminal), with the
    node's own name as %h so that identical failures group."""
    text = " ".join(str(text).split())
    if node:
        text = text.replace(node, "%h")
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _json_answer(out):
    """The JSON object in stdout: all of it, or from the first line that opens one
    (a warning printed before it is tolerated)."""
    lines = out.splitlines()
    for start in range(len(lines)):
        if lines[start].lstrip().startswith("{"):
            try:
                data = json.loads("\n".join(lines[start:]))
            except ValueError:
                continue
            return data if isinstance(data, dict) else None
    return None


def _names(items):
    if not isinstance(items, list):
        raise TypeError("a list of names expected")
    return ", ".join(_clean(i, limit=100) for i in items)


DIGEST_RE = re.compile(r"\A[0-9a-f]{64}\Z")


def _lock_part(answer):
    """", lock digest DIGEST" (short) of an answer that carries the digest of its locked
    set as installed: nodes in sync group by it, so one line shows which run the exact
    same set (the node's own status says it with the same words)."""
    digest = answer.get("lock_digest")
    if digest is None:
        return ""
    if not isinstance(digest, str) or not DIGEST_RE.match(digest):
        raise ValueError("lock_digest is not a sha256 hex digest")      # a malformed answer
    return ", lock digest " + digest[:12]


def _role_part(answer):
    """"role compute on x86_64, channel stable: " (the node header's words) of an answer
    that names its role, so each group line says whose lock it is about."""
    role = answer.get("role")
    if role is None:
        return ""
    out = "role " + _clean(role, limit=60)
    if answer.get("arch") is not None:
        out += " on " + _clean(answer["arch"], limit=20)
    if answer.get("channel") is not None:
        out += ", channel " + _clean(answer["channel"], limit=20)
        if answer.get("channel_from") == "cluster.conf":   # a test node: it groups apart from the others
            out += " (cluster.conf)"
    return out + ": "


def refusal_reason(text):
    """The short reason of a node's `refusal` (its `role 'R': ` and its advice left
    out): "the sync would remove 30 packages, more than max_remove allows (3)"."""
    if not isinstance(text, str):
        raise TypeError("refusal is not a string")
    text = text.split(": ", 1)[1] if text.startswith("role '") and ": " in text else text
    return _clean(text.split("; ", 1)[0], limit=160)


def _describe(answer):
    """The summary line of a well-formed answer: the role, then what the node said."""
    result = answer["result"]
    gen = answer.get("published_generation", answer.get("generation"))
    default = answer.get("profile_origin") == "default"
    at = ", " + DEFAULT_ORIGIN if default else "" if gen is None else ", generation {}".format(int(gen))
    if result == "error":
        return "error: " + _clean(answer.get("error") or "no message")
    role = _role_part(answer)
    if result == "in-sync":
        return role + in_sync_words(gen, answer.get("generation", gen), default) + _lock_part(answer)
    parts = []
    if result == "drift" and "drift" in answer:
        drift = answer["drift"]
        if drift.get("missing"):
            parts.append("missing: " + _names(drift["missing"]))
        if drift.get("wrong_version"):
            parts.append("wrong version: " + ", ".join("{} {} (locked {})".format(
                _clean(i["name"]), _clean(i["installed"]), _clean(i["locked"] if "locked" in i else i["pinned"]))
                for i in drift["wrong_version"]))
        if drift.get("outdated"):
            parts.append("outdated: " + ", ".join("{} {} (latest {})".format(
                _clean(i["name"]), _clean(i["installed"]), _clean(i["latest"])) for i in drift["outdated"]))
        remove = drift["remove"] if "remove" in drift else drift.get("extra")
        if remove:
            parts.append("remove: " + _names(remove))
    else:
        plan = answer.get("plan") or {}
        if plan.get("install"):
            parts.append("install " + ", ".join(_clean(" ".join([i["name"], i.get("evr") or ""]))
                                                for i in plan["install"]))
        for label in ("upgrade", "downgrade"):
            if plan.get(label):
                parts.append(label + " " + ", ".join("{} {} -> {}".format(
                    _clean(i["name"]), _clean(i["from"]), _clean(i["to"])) for i in plan[label]))
        if plan.get("remove"):
            parts.append("remove " + _names(plan["remove"]))
        if plan.get("kept"):
            parts.append("keep " + ", ".join("{} ({})".format(_clean(i["name"]), _clean(i["reason"]))
                                             for i in plan["kept"]))
    if answer.get("refusal") is not None:
        parts.append("a real sync refuses: " + refusal_reason(answer["refusal"]))
    head = {"drift": "drift" + at, "synced": "synced" + at, "planned": "plan" + at}[result]
    if result == "drift" and parts:
        return role + (DEFAULT_ORIGIN + ": " if default else "") + "; ".join(parts)
    return role + head + (": " + "; ".join(parts) if parts else "")


def classify(node, rc, out, err, timed_out=False, timeout=None):
    """One node's NodeResult from its exit status, stdout and stderr (text)."""
    err_lines = [l for l in err.splitlines() if l.strip()]
    tail = "\n".join(err_lines[-20:])
    last = _clean(err_lines[-1], node) if err_lines else ""
    if timed_out:
        within = " within {:g} s".format(timeout) if timeout else ""
        return NodeResult(node, "timeout", "timeout: no answer" + within, None, None, tail)
    answer = _json_answer(out)
    if answer is None:
        if rc == 255:
            text = next((short for key, short in SSH_MESSAGES if key in last), last or "exit 255")
            return NodeResult(node, "unreachable", "unreachable: " + text, rc, None, tail)
        first = next((l for l in out.splitlines() if l.strip()), "")
        if first:
            why = "bad answer: no JSON (exit {}): {}".format(rc, _clean(first, node, 80))
            return NodeResult(node, "bad-answer", why, rc, None, tail)
        why = "error: exit {}, no answer{}".format(rc, ": " + last if last else "")
        return NodeResult(node, "error", why, rc, None, tail)
    if answer.get("format") != FORMAT or answer.get("result") not in ANSWERS:
        why = "bad answer: format {!r}, result {!r} (format {} expected)".format(
            answer.get("format"), answer.get("result"), FORMAT)
        return NodeResult(node, "bad-answer", _clean(why), rc, answer, tail)
    try:
        summary = _describe(answer)
    except (AttributeError, KeyError, TypeError, ValueError):
        return NodeResult(node, "bad-answer", "bad answer: malformed format 1 answer", rc, answer, tail)
    state = answer["result"]
    expected = {"drift": (100,), "error": (1,)}.get(state, (0,))
    if state != "error" and rc not in expected:
        return NodeResult(node, "error", "error: exit {} with answer '{}'".format(rc, summary), rc, answer, tail)
    if state in ("drift", "planned") and answer.get("refusal") is not None:
        state = "would-refuse"          # a dry run or check whose real sync the node refuses
    return NodeResult(node, state, summary, rc, answer, tail)

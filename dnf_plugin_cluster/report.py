"""What `cluster-node sync|status` say: the text and the JSON answers of a run
(sync.NodeRun) and the exit status that goes with them, written once for every front end
(commands/node.py on dnf 4's command line, and on dnf-cluster's own on libdnf5), so the
output, the JSON and the exit codes are the same on both. The package manager's own
transaction table is the backend's (Backend.table)."""

#: The node answer's schema version: `status --json` and `sync --json` (README, "Machine-
#: readable output"; fleet.py reads it). Errors under --json are answers too (commands/base.py).
ANSWER_FORMAT = 1

IN_SYNC = "In sync: nothing to do."
DRY_RUN = "Dry run: nothing was changed."
DRIFT_FOUND = "Drift found: `dnf cluster-node sync` converges the node."
NOTHING = "  (nothing to change)"
#: said on every sync and status of a node that has no site profile (sync.NodeRun.origin)
DEFAULT_PROFILE = ("this node follows the packager's default profile, not a site profile: install "
                   "cluster-site-release from the head node")
#: exit status: in sync or synced, drift found (status, sync --check)
OK, DRIFT = 0, 100
#: how the packager's default profile is named where a generation would be
DEFAULT_ORIGIN = "packager's default profile"


def in_sync_words(generation, synced, default=False):
    """How a node without drift is described, by the node and the fleet (head/fleet.py)
    alike: "in sync, generation 7" only when the node's last sync was to the published
    generation; "matches generation 7, synced to generation 1" when a later generation
    changed nothing for its role (a sync records it), "matches generation 7, never
    synced" for a node that has not synced yet; "in sync, packager's default profile"
    without a site profile."""
    if default:
        return "in sync, " + DEFAULT_ORIGIN
    if generation is None:
        return "in sync"
    if synced == generation:
        return "in sync, generation {}".format(int(generation))
    return "matches generation {}, {}".format(int(generation), "never synced" if synced is None else
                                              "synced to generation {}".format(int(synced)))


def warnings(run):
    """What the node's admin is warned of (stderr; `warnings` in the JSON answer)."""
    return ([DEFAULT_PROFILE] if run.origin == "default" else []) + ([run.lock_note] if run.lock_note else [])


def answer(run, result, refusal=None):
    """The JSON answer of sync (dry run, check or real), format 1: result is in-sync,
    planned, drift or synced; `refusal` (a plan only): why a real sync would refuse it."""
    plan = run.plan
    out = dict(run.summary, format=ANSWER_FORMAT, command="sync", result=result, path="full",
               generation=run.state.generation, in_sync=result in ("in-sync", "synced"), plan=plan.as_dict(),
               transaction=[item.as_dict() for item in run.items],
               counts={"install": len(plan.install), "upgrade": len(plan.upgrade),
                       "downgrade": len(plan.downgrade), "remove": len(plan.remove), "kept": len(plan.kept)})
    if warnings(run):
        out["warnings"] = warnings(run)
    if refusal:
        out["refusal"] = refusal
    return out


def plan(run):
    """Lines of sync's plan: the profile and role, then what changes (or that nothing does)."""
    return [run.header] + (run.plan.lines() or [NOTHING])


def plan_only(run, check, refusal=None):
    """The end of a sync that changes nothing (--dry-run, --check, --assumeno): (JSON
    result word, text lines after the transaction table, exit status). `refusal`: why a
    real sync would refuse this plan (mass removal), said as a note."""
    lines = ["Note: a real sync refuses this: " + refusal.split(": ", 1)[1]] if refusal else []
    if run.plan.in_sync:
        if run.view.generation is not None and run.state.generation != run.view.generation:
            words = in_sync_words(run.view.generation, run.state.generation)
            return "in-sync", lines + ["{}: nothing to do but record generation {} (a real sync does).".format(
                words[0].upper() + words[1:], run.view.generation)], OK
        return "in-sync", lines + [IN_SYNC], OK
    if check:
        return "drift", lines + [DRIFT_FOUND], DRIFT
    return "planned", lines + [DRY_RUN], OK


def error(command, err):
    """The JSON answer of a node command that failed (format 1), from its one-line error."""
    return {"format": ANSWER_FORMAT, "command": command, "result": "error", "error": err}


def status(run, packages=False):
    """(JSON answer, text lines, exit status) of `status`, from the plan as prepare()
    resolved it, so it agrees with `sync --check`. packages: the answer also carries
    the role's package set as installed (sync.lock_set())."""
    from .plan import drift
    from .sync import lock_proof, lock_set
    found = drift(run.plan)
    proof = lock_proof(run)
    data = dict(run.summary, format=ANSWER_FORMAT, command="status", path="full", generation=run.state.generation,
                result="in-sync" if run.plan.in_sync else "drift", in_sync=run.plan.in_sync, drift=found,
                kept=[{"name": n, "reason": r} for n, r in run.plan.kept],
                counts=dict((key, len(value)) for key, value in found.items()))
    if warnings(run):
        data["warnings"] = warnings(run)
    if proof is not None:
        data.update(lock_digest=proof["digest"], lock_packages=proof["packages"],
                    admin_installed=proof["admin_installed"])
    if packages:
        data["packages"] = lock_set(run)
    lines = [run.header]
    if run.view.generation is not None or run.state.generation is not None:
        lines.append("  generation     published {}, this node synced to {}".format(
            "none" if run.view.generation is None else run.view.generation,
            "none yet" if run.state.generation is None else run.state.generation))
    lines += ["  missing        {}".format(name) for name in found["missing"]]
    lines += ["  wrong version  {} {} (locked {})".format(i["name"], i["installed"], i["locked"])
              for i in found["wrong_version"]]
    lines += ["  outdated       {} {} (latest {})".format(i["name"], i["installed"], i["latest"])
              for i in found["outdated"]]
    lines += ["  remove         {} (installed by the profile, no longer listed)".format(name)
              for name in found["remove"]]
    lines += ["  keep           {} ({})".format(name, reason) for name, reason in run.plan.kept]
    if proof is not None:
        lines += ["  by hand        {} {} (the admin's; not part of the lock)".format(i["name"], i["evr"])
                  for i in proof["admin_installed"]]
    count = sum(len(v) for k, v in found.items() if k != "extra")
    lines.append(in_sync_line(run, proof) if run.plan.in_sync else
                 "Drift: {} difference{}; `dnf cluster-node sync` converges the node.".format(
                     count, "" if count == 1 else "s"))
    return data, lines, OK if run.plan.in_sync else DRIFT


def in_sync_line(run, proof):
    """"In sync, generation N, lock digest DIGEST." (the short digest of the locked set
    as installed; none for an unlocked role), in the fleet's words (in_sync_words):
    "Matches generation N, synced to generation M, ..." when the node's last sync was to
    an earlier generation that left its role as it is."""
    words = in_sync_words(run.view.generation, run.state.generation, run.origin == "default")
    lock = ", lock digest {}".format(proof["digest"][:12]) if proof is not None else ""
    line = words[0].upper() + words[1:] + lock + "."
    if run.view.generation is not None and run.state.generation != run.view.generation:
        line += " `dnf cluster-node sync` records generation {}.".format(run.view.generation)
    return line

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
    lines += ["  wrong version  {} {} (pinned {})".format(i["name"], i["installed"], i["pinned"])
              for i in found["wrong_version"]]
    lines += ["  outdated       {} {} (latest {})".format(i["name"], i["installed"], i["latest"])
              for i in found["outdated"]]
    lines += ["  extra          {} (installed by the profile, no longer listed)".format(name)
              for name in found["extra"]]
    lines += ["  keep           {} ({})".format(name, reason) for name, reason in run.plan.kept]
    if proof is not None:
        lines += ["  by hand        {} {} (the admin's; not part of the lock)".format(i["name"], i["evr"])
                  for i in proof["admin_installed"]]
    count = sum(len(v) for v in found.values())
    lines.append(in_sync_line(run, proof) if run.plan.in_sync else
                 "Drift: {} difference{}; `dnf cluster-node sync` converges the node.".format(
                     count, "" if count == 1 else "s"))
    return data, lines, OK if run.plan.in_sync else DRIFT


def in_sync_line(run, proof):
    """"In sync, generation N, lock DIGEST." (the short digest of the locked set as
    installed), or as much of it as the profile has: "In sync." for an unpinned one."""
    generation = run.view.generation if run.view.generation is not None else run.state.generation
    parts = ["In sync"]
    if generation is not None:
        parts.append("generation {}".format(generation))
    if proof is not None:
        parts.append("lock {}".format(proof["digest"][:12]))
    return ", ".join(parts) + "."

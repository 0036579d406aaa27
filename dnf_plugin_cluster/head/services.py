"""Day-1 services (issue 26): the site's roles and node groups turned into a running
Slurm cluster, for `dnf cluster-master services`.

From the roles (roles/*.yaml: which comps groups a role installs tells what it runs)
and ClusterShell's node groups (`@compute` holds the compute role's nodes):

- the head node (this host, the controller) gets a **configless** Slurm configuration,
  /etc/slurm/slurm.conf from templates/slurm.conf.in: `SlurmctldParameters=enable_configless`,
  one `NodeName` line per role and hardware (each node's `slurmd -C`, asked over the
  fleet transport), a partition per compute-like role, and `Include` of the site's own
  /etc/slurm/slurm-site.conf, created once and never written over;
- a munge key, /etc/munge/munge.key, created when there is none and never replaced
  without rotate=True; copied to every node over the fleet transport itself (on the
  worker's standard input: ssh, or the exec worker's local command; never through a
  repository or HTTP, never on a command line), mode 0400, owner munge;
- on slurmd nodes, the systemd drop-in templates/slurmd-conf-server.conf.in
  (`slurmd --conf-server CONTROLLER`);
- munge and slurmctld enabled and started on the head node, munge (and slurmd where it
  runs) on the nodes; restarted only when their key or configuration changed.

plan() only reads: the head node's files and services, and one read-only probe per node
(`slurmd -C`, the key's digest and mode, the drop-in's digest, the services' states). Its
Plan lists every file and service it would change, grouped by identical changes; an
empty plan is a second run's "nothing to change". apply() makes exactly those changes,
head node first, then each group of nodes in one fan-out.

This module plans and applies; its parts: services_roles.py (the roles' kinds and
nodes), services_conf.py (the files and their text), services_local.py (the head node's
own files and services), services_nodes.py (what runs on the nodes, and how) and
services_plan.py (the Plan and its changes).

Pure logic, Python 3.6 (EL8): no dnf import; ClusterShell through fleet.py.
"""
import os
import re
import subprocess
import time

from ClusterShell.NodeSet import RESOLVER_NOGROUP, NodeSet

from ..errors import ClusterError
from . import fleet
from .services_conf import (DROPIN, GRES_CONF, GRES_MARK, MUNGE_KEY, SITE_CONF, SLURM_CONF, STATE_DIR, digest,
                            gpu_hardware, parse_hardware, render, render_dropin, render_gres_conf,
                            render_slurm_conf)
from .services_local import local_unit_state, read_nofollow, unit_actions, user_ids, write_file
from .services_nodes import APPLY, fail_line, probe
from .services_plan import Change, Plan
from .services_roles import COMPUTE, NAME_RE, this_host

KEY_BYTES = 128                       # 1024 bits, mungekey's default
KEY_MIN_BYTES = 32                    # munged refuses shorter keys


def plan(roles, transport, controller=None, cluster="cluster", rotate=False, new_key=None, canary=None,
         resolver=None):
    """The Plan: reads the head node's files and services and probes the nodes; changes
    nothing. roles: site_roles(); new_key: the key to create or rotate to (default:
    random bytes); canary (rotate): the nodes re-keyed first, as a rollout's
    (fleet.plan_waves: N, a node set, or None: @canary's nodes, else the first node)."""
    controller = controller or this_host()
    if not NAME_RE.match(controller):
        raise ClusterError("'{}' is not a host name Slurm accepts for the controller".format(controller))
    if not re.match(r"^[a-z0-9_-]{1,40}$", cluster):
        raise ClusterError("cluster name '{}': lower-case letters, digits, - and _ only".format(cluster))
    result = Plan(controller)
    answers = probe(transport, roles)

    # hardware of every slurmd node, from its own `slurmd -C`; a GPU-like role's GPUs
    # from that answer, else from the role's `gpus: N`
    hardware, bad = {}, []
    for role in roles:
        if role.kind != COMPUTE:
            continue
        no_gpus = []
        for node in role.nodes:
            answer = answers[node].get("hardware", "")
            hw = parse_hardware(answer)
            if hw is None:
                bad.append(node)
            elif role.gpu:
                gres = gpu_hardware(role, node, answer)
                if gres is None:
                    no_gpus.append(node)
                else:
                    hw = hw + (gres,)
            hardware[node] = hw
        if no_gpus and not bad:
            raise ClusterError("role '{}' is GPU-like, but `slurmd -C` reports no GPUs on {} and the role sets no "
                               "count: add `gpus: N` (GPUs per node) to it".format(
                                   role.name, NodeSet.fromlist(no_gpus, resolver=RESOLVER_NOGROUP)), role.path)
    if bad:
        raise ClusterError("`slurmd -C` gave no hardware on {} (is slurmd installed there?)".format(
            NodeSet.fromlist(bad, resolver=RESOLVER_NOGROUP)))

    # the munge key: the admin's own is kept unless rotate
    key = read_nofollow(MUNGE_KEY, "the munge key")
    key_changed = False
    if key is None or rotate:
        key = new_key or os.urandom(KEY_BYTES)
        key_changed = True
        result.head.append(Change("file", MUNGE_KEY, "rotate: a new key (mode 0400, owner munge)" if rotate and
                                  read_nofollow(MUNGE_KEY, "the munge key") is not None else
                                  "create a new key (mode 0400, owner munge)"))
        result.head_files[MUNGE_KEY] = (key, 0o400, "munge", False)
    else:
        if len(key) < KEY_MIN_BYTES:
            raise ClusterError("the munge key is shorter than {} bytes: munged refuses it (--rotate makes a new "
                               "one)".format(KEY_MIN_BYTES), MUNGE_KEY)
        info = os.lstat(MUNGE_KEY)
        owner = user_ids("munge")
        if info.st_mode & 0o077 or (info.st_uid, info.st_gid) != owner:
            result.head.append(Change("file", MUNGE_KEY, "owner munge, mode 0400 (was {:o})".format(
                info.st_mode & 0o777)))
            result.head_files[MUNGE_KEY] = (key, 0o400, "munge", False)
    result.key = key

    # the site's file, once; slurm.conf, whole
    if not os.path.lexists(SITE_CONF):
        text = render("slurm-site.conf.in", {})
        result.head.append(Change("file", SITE_CONF, "create (empty: the site's own lines; never written over)"))
        result.head_files[SITE_CONF] = (text.encode("utf-8"), 0o644, None, True)
    conf = render_slurm_conf(cluster, controller, roles, hardware).encode("utf-8")
    old = read_nofollow(SLURM_CONF, "slurm.conf")
    conf_changed = old != conf
    if conf_changed:
        result.head.append(Change("file", SLURM_CONF, "create" if old is None else "update ({})".format(
            _diff_summary(old, conf))))
        result.head_files[SLURM_CONF] = (conf, 0o644, None, False)
    # gres.conf only with GPUs; ours goes with the last GPU node (22.05 ignores it without
    # GresTypes=gpu, but a stale one would give GPUs back to nodes a site's own GresTypes
    # line names), an admin's own is left alone
    gres = render_gres_conf(roles, hardware)
    old = read_nofollow(GRES_CONF, "gres.conf")
    if gres is None and old is not None and old.startswith(GRES_MARK):
        conf_changed = True
        result.head.append(Change("file", GRES_CONF, "remove (written here; no node has GPUs now)"))
        result.head_files[GRES_CONF] = (None, 0, None, False)
    elif gres is not None:
        gres = gres.encode("utf-8")
        if old != gres:
            conf_changed = True
            result.head.append(Change("file", GRES_CONF, "create" if old is None else "update ({})".format(
                _diff_summary(old, gres))))
            result.head_files[GRES_CONF] = (gres, 0o644, None, False)
    if not os.path.isdir(STATE_DIR):
        result.head.append(Change("directory", STATE_DIR, "create (owner slurm): slurmctld's state"))

    for unit, restart in (("munge", key_changed), ("slurmctld", conf_changed or key_changed)):
        enabled, active = local_unit_state(unit)
        actions = unit_actions(unit, enabled, active, restart)
        if actions:
            result.head_units.append((unit, actions))
            result.head.append(Change("service", unit, ", ".join(a.split(".", 1)[1] for a in actions)))

    # the nodes
    result.dropin = render_dropin(controller)
    key_digest, dropin_digest = digest(key), digest(result.dropin)
    for role in roles:
        for node in role.nodes:
            info = answers[node]
            actions, changes = [], []
            node_key = info.get("key") != key_digest or info.get("keymode") != "munge:400"
            if node_key:
                actions.append("key")
                changes.append(Change("file", MUNGE_KEY, "copy the head node's key (mode 0400, owner munge)"))
            munge = unit_actions("munge", info.get("munge.enabled"), info.get("munge.active"), node_key)
            slurmd, dropin = [], False
            if role.kind == COMPUTE:
                dropin = info.get("dropin") != dropin_digest
                if dropin:
                    actions.append("dropin")
                    changes.append(Change("file", DROPIN, "slurmd --conf-server {}".format(controller)))
                slurmd = unit_actions("slurmd", info.get("slurmd.enabled"), info.get("slurmd.active"),
                                      node_key or dropin or conf_changed)
            for unit, unit_acts in (("munge", munge), ("slurmd", slurmd)):
                if unit_acts:
                    actions.extend(unit_acts)
                    changes.append(Change("service", unit, ", ".join(a.split(".", 1)[1] for a in unit_acts)))
            result.nodes[node] = (role.kind, actions, changes)
    if rotate and result.nodes:
        waves = fleet.plan_waves(NodeSet.fromlist(list(result.nodes), resolver=RESOLVER_NOGROUP), canary,
                                 len(result.nodes), resolver)
        if waves and waves[0].canary:
            result.canaries = waves[0].nodes
    return result


def _diff_summary(old, new):
    olds, news = old.decode("utf-8", "replace").splitlines(), new.decode("utf-8", "replace").splitlines()
    gone, added = [l for l in olds if l not in news], [l for l in news if l not in olds]
    return "{} line{} out, {} in".format(len(gone), "" if len(gone) == 1 else "s", len(added))


def _done(action):
    """What a node's action word did, for the log: "key" -> "copied the munge key"."""
    if action == "key":
        return "copied the munge key"
    if action == "dropin":
        return "wrote slurmd's --conf-server drop-in"
    unit, verb = action.split(".", 1)
    return "{}ed {}".format(verb.rstrip("e"), unit)


def apply(result, transport, log=lambda text: None):
    """Make the plan's changes: the head node's files and services, then each group of
    nodes with identical changes in one fan-out. Returns [failure line]; the head
    node's failures raise (the nodes are then not touched)."""
    for path, (data, mode, owner, exclusive) in sorted(result.head_files.items(), key=lambda kv: kv[0]):
        if exclusive and os.path.lexists(path):
            continue
        if data is None:
            os.unlink(path)
            log("{}: removed {}".format(result.controller, path))
            continue
        write_file(path, data, mode, owner, exclusive)
        log("{}: wrote {}".format(result.controller, path))
    if not os.path.isdir(STATE_DIR):
        os.makedirs(STATE_DIR, 0o755)
        uid, gid = user_ids("slurm")
        os.chown(STATE_DIR, uid, gid)
        log("{}: created {}".format(result.controller, STATE_DIR))
    for unit, actions in result.head_units:
        for action in actions:
            verb = action.split(".", 1)[1]
            proc = subprocess.run(["systemctl", verb, unit], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True)
            if proc.returncode != 0:
                last = (proc.stdout.strip().splitlines() or ["exit {}".format(proc.returncode)])[-1]
                raise ClusterError("systemctl {} {} failed on the head node: {}".format(verb, unit, last))
            log("{}: {}ed {}".format(result.controller, verb.rstrip("e"), unit))
    groups = result.node_groups()
    canaries = [g for g in groups if next(iter(g[0])) in result.canaries]
    if canaries:
        failures = _apply_groups(canaries, result, transport, log)
        if not failures:
            failures = _canary_check(result.canaries, transport, log)
        if failures:
            rest = NodeSet.fromlist([n for g in groups if g not in canaries for n in g[0]],
                                    resolver=RESOLVER_NOGROUP)
            raise ClusterError(
                "the canary failed: {}; the rotation stopped: {} untouched{} (the head node has the new key). "
                "Fix the canary, then `services -y` copies the head node's key to the nodes that lack it".format(
                    "; ".join(failures[:5]), "the other nodes" if not rest else "{} ({})".format(rest, len(rest)),
                    ", still on the old key" if rest else ""))
        groups = [g for g in groups if g not in canaries]
    return _apply_groups(groups, result, transport, log)


def _apply_groups(groups, result, transport, log):
    failures = []
    for nodes, _, actions in groups:
        stdin = result.key if "key" in actions else None
        results, timed_out = transport.run(nodes, APPLY, [" ".join(actions), DROPIN, result.dropin], stdin=stdin)
        for node, (rc, out, err) in sorted(results.items()):
            if rc != 0 or node in timed_out:
                failures.append(fail_line(node, rc, err, node in timed_out))
        done = NodeSet.fromlist([n for n, (rc, _, _) in results.items() if rc == 0 and n not in timed_out],
                                resolver=RESOLVER_NOGROUP)
        if done:
            log("{}: {}".format(done, ", ".join(_done(a) for a in actions)))
    return failures


def _canary_check(canaries, transport, log, attempts=3):
    """[failure line] of the canaries whose munge does not authenticate against the
    head node (health.munge_across); a munged still starting is asked again."""
    from . import health
    for attempt in range(attempts):
        found = health.munge_across(canaries, transport)
        bad = dict((n, why) for n, why in found.items() if why is not None)
        if not bad or all("key differs" in why for why in bad.values()) or attempt == attempts - 1:
            break
        time.sleep(1)
    if not bad:
        log("{}: munge authenticates against the head node with the new key".format(canaries))
    return ["{}: {}".format(n, bad[n]) for n in NodeSet.fromlist(list(bad), resolver=RESOLVER_NOGROUP)]

"""The whole cluster at a glance: fleet status and staged rollouts (issue 14), the names
`cluster-master status|sync -w`, services, health and publish --lock-from use.

The head node runs the node-side command (`dnf-cluster -q node status --json`, or
`sync`) on many nodes and reads back one JSON answer per node. The parts, each in its
own module:

- fanout.py: the transport, ClusterShell's fan-out (node sets, the site's groups,
  clush.conf's defaults, run() of one command on many nodes);
- answers.py: one node's answer (its schema, format 1) read into a NodeResult and its
  summary line (classify());
- grouping.py: a Report of one fan-out, identical answers grouped on one line, its exit
  status and JSON (the fleet report's schema);
- gather.py: the node-side commands (node_commands()), ask() and status();
- rollout.py: staged rollouts, waves and dry runs (rollout()).

Pure logic: no dnf import, so both `dnf cluster-master status|sync -w NODESET` and
`dnf-cluster master ...` can call it. Python 3.6 (EL8).
"""
# pylint: disable=unused-import; the fleet's names, from the modules that hold them
from .answers import (ANSWERS, DIFFERS, DIGEST_RE, FAILED, FORMAT, OK, SSH_MESSAGES, NodeResult, _clean,
                      classify, refusal_reason)
from .fanout import (EXAMPLE_NODE, SSH_KEYS, WORKERS, clush_defaults, group_resolver, nodeset, run)
from .gather import ask, node_commands, status
from .grouping import Report, format_groups
from .rollout import (STATE_WORDS, Rollout, Wave, dry_run_state, plan_lines, plan_waves, rollout,
                      wave_heads)

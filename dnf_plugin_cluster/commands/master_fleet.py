"""`cluster-master status`, `sync` and `services`, and publish --lock-from: the fleet
transport (-w NODESET over ClusterShell: head/fleet.py) from the command's options and
clush.conf, the rollout's confirmation, the reports and their exit status, and the
Slurm services (head/services.py, head/health.py)."""
from __future__ import absolute_import, unicode_literals

import sys

from ..errors import ClusterError
from .base import ask_terminal, logger


def _fleet():
    """fleet.py, which needs ClusterShell (python3-clustershell; the head node has it
    through cluster-tools-admin, a compute node need not)."""
    try:
        from ..head import fleet
    except ImportError as err:
        if "ClusterShell" not in str(err):
            raise
        raise ClusterError("the fleet commands (-w) need ClusterShell: dnf install python3-clustershell")
    return fleet


class FleetMixin(object):
    """ClusterMasterCommand's fleet subcommands: status, sync and services."""

    def _configure_fleet(self):
        if not self.opts.nodes:
            raise ClusterError("cluster-master {} needs -w NODESET (or nodes = NODESET in [master] of {})".format(
                self.sub, self.conf_path()))

    configure_status = _configure_fleet

    def configure_sync(self):
        """dnf's rule for a rollout: -y rolls out; --assumeno shows the waves and refuses;
        otherwise the waves are shown and the admin is asked, and without a terminal to
        ask (a script, cron, no stdin) the rollout is refused before any node is asked."""
        self._configure_fleet()
        conf = self.base.conf
        if self.opts.dry_run or conf.assumeyes or conf.assumeno:
            return
        if self.opts.json:
            raise ClusterError("cluster-master sync --json needs -y (or --dry-run)")
        if not (sys.stdin and sys.stdin.isatty()):
            raise ClusterError("cluster-master sync: refusing to roll out unattended (no terminal to ask): "
                               "pass -y to roll out, or --dry-run to see each node's plan")

    def configure_services(self):
        from .. import nodeconf
        if not self.opts.roles:
            raise ClusterError("cluster-master services needs --roles DIR, roles = DIR in [master] of {} or {} "
                               "(the site's roles; their nodes are the ClusterShell groups @ROLE)".format(
                                   self.conf_path(), nodeconf.DEFAULT_ROLES_DIR))

    def _transport(self):
        fleet = _fleet()
        defaults = fleet.clush_defaults()
        opts = self.opts
        return dict(fanout=opts.fanout or defaults.get("fanout", 64), worker=opts.worker,
                    timeout=opts.command_timeout if opts.command_timeout is not None
                    else defaults.get("command_timeout"),
                    connect_timeout=opts.connect_timeout if opts.connect_timeout is not None
                    else defaults.get("connect_timeout"),
                    resolver=fleet.group_resolver(opts.groups_conf), ssh=defaults.get("ssh"))

    def _report(self, result):
        fleet = _fleet()
        if self.opts.json:
            self.print_json(result.as_dict())
        else:
            print("\n".join(result.lines()))
        refusing = result.refusing() if isinstance(result, fleet.Rollout) else None
        if refusing:
            logger.warning("Warning: %d node%s would refuse a real sync (the removal limit or the node floor; see "
                           "their lines): %s", len(refusing), "" if len(refusing) == 1 else "s", refusing)
        if result.exit_code == 100:
            self.cli.demands.success_exit_status = 100
        elif result.exit_code:
            failed = result.failed() if isinstance(result, fleet.Rollout) else result.unanswered()
            raise ClusterError("{} node{} {}: {}".format(
                len(failed), "" if len(failed) == 1 else "s",
                "failed; the rollout stopped" if isinstance(result, fleet.Rollout) and not result.dry_run
                else "could not be asked", failed))

    def run_status(self):
        fleet = _fleet()
        if self.opts.health:
            from ..head import health
            link, resolver = self._services_transport()
            self._report(health.check(fleet.nodeset(self.opts.nodes, resolver), link))
            return
        commands = fleet.node_commands(self.opts.node_command, full=self.opts.full)
        self._report(fleet.status(self.opts.nodes, commands["status"], **self._transport()))

    def run_sync(self):
        fleet = _fleet()
        transport = self._transport()
        canary = self.opts.canary
        conf = self.base.conf
        if not self.opts.dry_run and (conf.assumeno or not conf.assumeyes):
            waves = fleet.plan_waves(self.opts.nodes, canary, self.opts.wave_size or transport["fanout"],
                                     transport["resolver"])
            print("\n".join(fleet.plan_lines(waves, self.opts.max_failures)))
            if conf.assumeno or not self.confirm():
                raise ClusterError("Operation aborted: no node was synced.")
        commands = fleet.node_commands(self.opts.node_command, self.opts.allow_mass_removal, self.opts.full)
        self._report(fleet.rollout(self.opts.nodes, commands, canary=canary,
                                   wave_size=self.opts.wave_size, max_failures=self.opts.max_failures,
                                   dry_run=self.opts.dry_run, **transport))

    @staticmethod
    def confirm():
        """The admin's answer on the terminal, as dnf asks."""
        return ask_terminal()

    def run_services(self):
        from .. import profile
        _fleet()                        # ClusterShell, or the one line that says to install it
        from ..head import services, services_roles
        opts = self.opts
        link, resolver = self._services_transport()
        roles = services_roles.site_roles(profile.load_roles(opts.roles), resolver,
                                          opts.controller or services_roles.this_host())
        dry_run = opts.dry_run or self.base.conf.assumeno
        plan = services.plan(roles, link, controller=opts.controller, cluster=opts.cluster_name,
                             rotate=opts.rotate, canary=opts.canary, resolver=resolver)
        if opts.json:
            self.print_json(dict(plan.as_dict(), dry_run=dry_run))
        elif plan.empty:
            print("Nothing to change: the Slurm services are configured and running.")
        else:
            print("\n".join(plan.lines()))
        if plan.empty:
            return
        if dry_run:
            if not opts.json:
                print("dry run: nothing was changed.")
            return
        if not self.base.conf.assumeyes and not self._confirm():
            raise ClusterError("Operation aborted: nothing was changed.")
        failures = services.apply(plan, link, log=(lambda text: None) if opts.json else print)
        if failures:
            raise ClusterError("{} node{} failed: {}".format(len(failures), "" if len(failures) == 1 else "s",
                                                             "; ".join(failures[:5])))

    def _services_transport(self):
        """(services_nodes.Transport, the group resolver): how services and status
        --health run their shell scripts on the nodes."""
        from ..head import services_nodes
        transport = self._transport()
        resolver = transport.pop("resolver")
        worker = transport.pop("worker")
        return services_nodes.Transport(worker, self.opts.node_shell, **transport), resolver

    def _confirm(self):
        """The host's confirmation (dnf5cli), else dnf 4's, else a plain question."""
        confirm = getattr(self.cli, "confirm", None)
        if confirm is not None:
            return confirm()
        output = getattr(self.base, "output", None)
        if output is not None and hasattr(output, "userconfirm"):
            return output.userconfirm()
        return self.confirm()

    def ask_lock_from(self):
        """publish --lock-from: each tested node's package set (lock.from_nodes()), asked
        with `status --json --packages` through the fleet transport."""
        from ..head import lock
        fleet = _fleet()
        command = fleet.node_commands(self.opts.node_command)["status"] + " --packages"
        report = fleet.ask(self.opts.lock_from, command, "status", **self._transport())
        found = lock.from_nodes(report.results, set(self.backend.installonly()), self.opts.lock_exclude)
        for (role, arch), (node, locked) in sorted(found.items()):
            logger.info("role %s on %s: %d packages locked as node %s runs them", role, arch, len(locked), node)
        return found

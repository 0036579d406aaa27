"""`dnf cluster-node sync|status`: converge this node to its role in the cluster profile,
or report how it has drifted. The work is sync.NodeRun's and what is said is report.py's;
this module is the command around them (options, demands, output, handing the
transaction to the host)."""
from __future__ import absolute_import, unicode_literals

import os

from ..errors import SUPERUSER, ClusterError
from .base import ClusterCommand, logger


class ClusterNodeCommand(ClusterCommand):
    aliases = ("cluster-node",)
    summary = "converge this node to its role in the cluster profile (sync), or report drift (status)"
    subcommands = ("sync", "status")
    descriptions = {"sync": "converge this node to its role (install, pin, remove what the profile dropped)",
                    "status": "how this node differs from its role (exit 100 when it drifted)"}
    loads_repos = ("sync", "status")
    answers = ("sync", "status")

    @classmethod
    def set_argparser(cls, parser):
        super(ClusterNodeCommand, cls).set_argparser(parser)
        parser.add_argument("--role", help="the role to converge to (default: role= in cluster.conf)")
        parser.add_argument("--dry-run", action="store_true", default=False,
                            help="plan and show dnf's transaction, change nothing")
        parser.add_argument("--check", action="store_true", default=False,
                            help="like --dry-run, and exit 100 when the node has drifted")
        parser.add_argument("--packages", action="store_true", default=False,
                            help="status --json: also the role's package set as installed (what "
                                 "`cluster-master publish --lock-from` makes the role's lock)")
        parser.add_argument("--full", action="store_true", default=False,
                            help="always load the package sack and compute the answer (no fast path)")
        parser.add_argument("--allow-mass-removal", action="store_true", default=False,
                            help="sync even when it removes more packages than max_remove in cluster.conf")

    def _configure_common(self):
        demands = self.cli.demands
        # A node must see the profile published now, not the one cached hours ago: check
        # every repomd.xml (like --refresh); unchanged metadata is revived, not downloaded.
        # -C/--cacheonly still wins, for nodes that must not touch the network.
        if not self.base.conf.cacheonly:
            demands.freshest_metadata = True
        # dnf's versionlock plugin stays out of this run: its list holds the pins the last
        # sync handed it, which this run replaces (a moved pin must be reachable); the
        # backend applies the admin's own entries itself (NodeRun.load, apply_admin_locks)
        demands.plugin_filtering_enabled = False
        self.config = self.node_config()
        self.backend.want_metadata("cluster")
        self.lock = None
        from ..backends import RpmLog
        self.rpm_log = RpmLog()              # until _load: a corrupt rpm database is one error line

    def configure_status(self):
        self._configure_common()
        if self.opts.packages and not self.opts.json:
            raise ClusterError("cluster-node status --packages needs --json")

    def configure_sync(self):
        self._configure_common()
        self.plan_only = self.opts.dry_run or self.opts.check or self.base.conf.assumeno
        if not self.plan_only:
            if self.opts.json and not self.base.conf.assumeyes:
                raise ClusterError("cluster-node sync --json needs -y (or --dry-run / --check)")
            self.cli.demands.root_user = True
            if os.geteuid() != 0:           # said before the lock below fails to open (the host says it later)
                raise ClusterError(SUPERUSER)
            # one sync per root: a second one waits here, before dnf reads the rpm database
            from ..state import SyncLock
            self.lock = SyncLock(self.base.conf.persistdir).acquire(
                on_wait=lambda: logger.warning("Waiting for another cluster-node sync on this root..."))

    # --- the no-op fast path (fastpath.py) ---------------------------------------------------
    def run(self):
        """The subcommand: answered from the record of the last verification when it
        proves nothing changed (the sack is then never loaded), else in full."""
        def run_sub():
            early = self.backend.fast_in_run
            self.before = self.fast_inputs() if early else None
            if not (early and self.answer_fast()):
                self.backend.load()
                if not early:           # libdnf5: dnf5cli tried the fast path; the proof for the record
                    self.before = self.fast_inputs()
                getattr(self, "run_" + self.sub)()
        self.answering(run_sub)

    def fast_kind(self):
        """Which recorded answer could answer this run ("status", "sync"), or None: the
        full path always for --full, --refresh, --check --verbose, status --packages."""
        opts = self.opts
        if opts.full or getattr(opts, "freshest_metadata", False) or opts.packages:
            return None
        if self.sub == "sync" and opts.check and getattr(opts, "verbose", False):
            return None
        return self.sub

    def fast_inputs(self):
        """The digests the verdict depends on as the run starts (None: no proof here).
        Loading the repositories' metadata is what backend.load() begins with anyway;
        a failure is left to it, to be reported as today."""
        from .. import fastpath, state
        self.record = None
        if not self.backend.fast_path:
            return None
        persistdir = self.backend.persistdir
        try:
            self.backend.load_metadata()
            now = fastpath.inputs(self.backend, self.config, self.opts.role or self.config.role,
                                  os.path.join(state.state_dir(persistdir), "state.json"))
        except Exception:                   # pylint: disable=broad-except
            return None
        self.record = fastpath.load(persistdir)
        return now

    def answer_unloaded(self, reader):
        """dnf-cluster before it imports the package manager (dnf5cli on dnf5 hosts,
        dnf_cluster on dnf 4 hosts): the fast path, its proof read from files by
        `reader` (fast5.Reader, fast4.Reader). The exit status when the record answered,
        else None: the full path (which says whatever is wrong; nothing is said here)."""
        from .. import fastpath, nodeconf
        from ..state import SyncLock
        conf = self.base.conf
        kind = self.fast_kind()
        if kind is None or reader.refresh:
            return None
        if self.sub == "sync" and not (self.opts.dry_run or self.opts.check or conf.assumeno):
            if os.geteuid() != 0 or (self.opts.json and not conf.assumeyes):
                return None
            lock_needed = True
        else:
            lock_needed = False
        lock = None
        try:
            config = nodeconf.read(conf.installroot, conf.pluginconfpath)
            persistdir = reader.persistdir
            record = fastpath.load(persistdir)
            if record is None or kind not in record["answers"]:
                return None
            if lock_needed:            # as configure_sync(): one sync per root
                lock = SyncLock(persistdir).acquire(
                    on_wait=lambda: logger.warning("Waiting for another cluster-node sync on this root..."))
            now = reader.inputs(config, self.opts.role or config.role, record, conf.cacheonly)
            if not fastpath.matches(record, now):
                return None
        except Exception:                   # pylint: disable=broad-except; the full path says it
            return None
        finally:
            if lock is not None:
                lock.release()
        recorded = record["answers"][kind]
        self.quiet_for_json()
        for warning in config.warnings:
            logger.warning("Warning: %s", warning)
        data = dict(recorded["data"], path="fast")
        for warning in data.get("warnings", ()):
            logger.warning("Warning: %s", warning)
        self.show(data, recorded["lines"])
        return recorded["status"]

    def answer_fast(self):
        from .. import fastpath
        if self.before is None:
            return False
        kind = self.fast_kind()
        if kind is None or not fastpath.matches(self.record, self.before):
            return False
        recorded = self.record["answers"].get(kind)
        if recorded is None:
            return False
        data = dict(recorded["data"], path="fast")
        for warning in data.get("warnings", ()):
            logger.warning("Warning: %s", warning)
        self.show(data, recorded["lines"])
        self.cli.demands.success_exit_status = recorded["status"]
        return True

    def remember(self, run, kind, data, lines, status):
        """After a full path: an in-sync answer is recorded when nothing changed under the
        run (the inputs read as it started are still the inputs); any other answer drops
        the record."""
        from .. import fastpath
        if self.before is None:
            return
        if status != 0 or data.get("result") != "in-sync":
            if self.record is not None:
                fastpath.forget(self.backend.persistdir)
            return
        if kind == "status" and self.opts.packages:
            return
        # a repository the run enabled itself (a testing channel's) was not part of what
        # the run started from: no proof covers it
        started = sorted(k[len("repomd:"):] for k in self.before if k.startswith("repomd:"))
        if self.backend.enabled_repos() != started:
            return
        try:
            after = fastpath.inputs(self.backend, self.config, self.opts.role or self.config.role,
                                    os.path.join(os.path.dirname(run.state.path), "state.json"))
        except Exception:                   # pylint: disable=broad-except
            return
        if after is not None:
            # the configuration as this run read it at its start (the run itself enables
            # or hides repositories and sets options on them)
            after["repo_config"] = self.before["repo_config"]
        if after != self.before:
            return
        fastpath.save(self.backend.persistdir, fastpath.complete(self.before, run), kind,
                      dict(data, path="full"), lines, status, keep=self.record)

    def _load(self):
        from .. import report
        from ..errors import RpmdbError
        from ..sync import NodeRun
        try:
            run = NodeRun(self.backend, self.config, self.opts.role).load()
        except RpmdbError:
            self.rpm_log.release(show=False)
            raise
        finally:
            self.rpm_log.release()
        if run.origin == "default":
            logger.warning("Warning: %s", report.DEFAULT_PROFILE)
        return run

    def show(self, data, lines):
        """The answer: JSON under --json, else the text."""
        if self.opts.json:
            self.print_json(data)
        elif lines:
            print("\n".join(lines))

    def run_status(self):
        from .. import report
        run = self._load()
        run.prepare()                # the same resolved plan as sync --check: kept packages are no drift
        data, lines, status = report.status(run, packages=self.opts.packages)
        self.show(data, lines)
        self.cli.demands.success_exit_status = status
        self.remember(run, "status", data, lines, status)

    def run_sync(self):
        from .. import report
        run = self._load()
        if not self.plan_only:
            run.settle()             # how the last unfinished run ended, saved even if nothing is to do
        from ..sync import Refused
        refused = None
        try:
            run.prepare()
        except Refused as err:       # the node floor: a real sync fails; a plan says so
            if not self.plan_only:
                raise
            refused = str(err)
        plan_lines = report.plan(run)
        if not self.opts.json:
            print("\n".join(plan_lines))
        too_many = run.mass_removal()
        if self.plan_only:
            if run.items and not self.opts.json:
                print(self.backend.table(run.items))
            refusal = refused or (None if self.opts.allow_mass_removal else too_many)
            result, lines, status = report.plan_only(run, self.opts.check, refusal)
            self.show(report.answer(run, result, refusal), lines)
            self.cli.demands.success_exit_status = status
            if result != "in-sync" or refusal:
                self.remember(run, "sync", {"result": result}, lines, 100)     # drops the record
            return
        if run.plan.in_sync:
            run.record_in_sync()
            self._hand_pins(run)
            data = report.answer(run, "in-sync")
            self.show(data, [report.IN_SYNC])
            self.remember(run, "sync", data, plan_lines + [report.IN_SYNC], 0)
            return
        if too_many and not self.opts.allow_mass_removal:
            raise ClusterError(too_many)
        self.remember(run, "sync", {"result": "planned"}, [], 100)             # drops the record
        comment = run.record_intent()        # if this run never finishes, the next one finds out

        def done():
            run.finish()
            self._hand_pins(run)
            run.verify()                     # a sync ends where status says in sync, or exits 1
            if self.opts.json:
                self.print_json(report.answer(run, "synced"))
        self.backend.run(comment, done)

    @staticmethod
    def _hand_pins(run):
        """The pins to dnf's own version lock; where that cannot be, they still hold for
        every sync, and the admin is told why plain dnf commands will not keep them."""
        note = run.hand_pins()
        if note:
            logger.warning("Warning: %s", note)

    def after_transaction_sync(self):
        """After dnf's transaction succeeded: record what the profile now manages."""
        self.backend.transaction_done()

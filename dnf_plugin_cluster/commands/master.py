"""`dnf cluster-master publish|history|rollback|kickstart|status|sync`, for the head node:
publish the cluster profile (from the site's role definitions, optionally pinned to
this head node's versions) as the next generation of the site repository (publish.py),
list and roll back generations, print a kickstart fragment for a role, and look at or
roll out to the fleet (`-w NODESET`, through ClusterShell: fleet.py)."""
from __future__ import absolute_import, unicode_literals

import fnmatch
import os

from ..errors import ClusterError
from ..names import CLUSTER_ARCHES, check_text
from .base import INFO, WARNING, ClusterCommand, logger


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


def _count(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(text)
    return value


class ClusterMasterCommand(ClusterCommand):
    aliases = ("cluster-master",)
    summary = ("head node: publish the cluster profile, its generations and rollback, kickstart fragments, "
               "fleet status and rollouts")
    subcommands = ("publish", "history", "rollback", "kickstart", "status", "sync")
    offline = ("history", "rollback", "status", "sync")     # the site tree or the nodes, not repositories

    @classmethod
    def set_argparser(cls, parser):
        super(ClusterMasterCommand, cls).set_argparser(parser)
        parser.add_argument("generation", nargs="?", metavar="N", help="rollback: the generation to publish again")
        parser.add_argument("--roles", metavar="DIR", help="publish: role definitions (roles/*.yaml)")
        parser.add_argument("--repo-dir", metavar="DIR",
                            help="publish, history, rollback: the site repository of one release "
                                 "(SITE/<releasever>, e.g. /srv/cluster/site/9)")
        parser.add_argument("--message", metavar="TEXT", default="",
                            help="publish, rollback: why (kept with the generation, shown by history)")
        lock = parser.add_mutually_exclusive_group()
        lock.add_argument("--lock", action="store_true", default=False,
                          help="publish: pin the versions installed on this head node")
        lock.add_argument("--unlock", action="store_true", default=False, help="publish: drop all pins")
        parser.add_argument("--lock-exclude", action="append", default=[], metavar="PATTERN",
                            help="publish --lock: also leave these names unpinned (glob; repeatable)")
        parser.add_argument("--output", metavar="FILE", help="publish: write the profile here instead")
        parser.add_argument("--sign-key", metavar="KEYID",
                            help="publish, rollback: sign the site repository's repomd.xml (and "
                                 "cluster-site-release) with this key")
        parser.add_argument("--gnupghome", metavar="DIR", help="publish, rollback: GnuPG home of the signing key")
        parser.add_argument("--role", help="kickstart: the role to provision")
        parser.add_argument("--arch", action="append", default=[], dest="arches", metavar="ARCH",
                            help="publish: an arch repository to write (repeatable; default: the arches "
                                 "already in the site repository, else x86_64 and aarch64); kickstart: the "
                                 "node's arch (default: this host's)")
        parser.add_argument("--baseurl", action="append", default=[], metavar="[REPOID=]URL",
                            help="publish: the site repository's top (SITE) as nodes reach it, for "
                                 "cluster-site-release (default: the previous publish's, else file://SITE); "
                                 "kickstart: a repository's URL as nodes reach it (plain URL: the profile "
                                 "repository's; default: the baseurls of this host's .repo files)")
        fleet = parser.add_argument_group("fleet (status, sync)")
        fleet.add_argument("-w", "--nodes", metavar="NODESET",
                           help="the nodes: node[001-512], @compute, @gpu!node007 (ClusterShell node sets)")
        fleet.add_argument("--fanout", type=_count, metavar="N",
                           help="nodes asked at once (default: clush.conf's fanout, else 64)")
        fleet.add_argument("--connect-timeout", type=float, metavar="SECONDS", help="ssh connect timeout")
        fleet.add_argument("--command-timeout", type=float, metavar="SECONDS",
                           help="time each node may take (default: clush.conf's, else none)")
        fleet.add_argument("--worker", choices=("ssh", "exec"), default="ssh",
                           help="ssh (default), or exec: a local command per node, %%h is the node name")
        fleet.add_argument("--node-command", metavar="PREFIX", default="dnf -q cluster-node",
                           help="how to call cluster-node on a node (default: %(default)s; on dnf5 "
                                "nodes: 'dnf-cluster -q node'; with --worker exec, e.g. "
                                "'dnf --installroot=/images/%%h -q cluster-node')")
        fleet.add_argument("--groups-conf", metavar="FILE",
                           help="ClusterShell groups.conf for @groups (default: ClusterShell's own)")
        fleet.add_argument("--canary", metavar="N|NODESET",
                           help="sync: canaries first: the first N nodes, or these nodes (default: the "
                                "@canary group's nodes, else the first node; 0: none)")
        fleet.add_argument("--wave-size", type=_count, metavar="N", help="sync: nodes per wave (default: fanout)")
        fleet.add_argument("--max-failures", type=int, default=0, metavar="N",
                           help="sync: failed nodes a wave may have before the rollout stops (default: 0)")
        fleet.add_argument("--dry-run", dest="fleet_dry_run", action="store_true", default=False,
                           help="sync: every node's plan, grouped by identical plan; nothing changes")

    def configure_publish(self):
        if not (self.opts.repo_dir or self.opts.output) or not (self.opts.roles or self.opts.lock or self.opts.unlock):
            raise ClusterError("cluster-master publish needs --repo-dir (or --output FILE) and --roles "
                               "(or --lock/--unlock)")
        if len(self.opts.baseurl) > 1:
            raise ClusterError("cluster-master publish takes one --baseurl (the site repository's top)")
        if not self.opts.lock:
            self.cli.demands.load_system_repo = False

    def configure_history(self):
        if not self.opts.repo_dir:
            raise ClusterError("cluster-master history needs --repo-dir")

    def configure_rollback(self):
        if not self.opts.repo_dir or self.opts.generation is None:
            raise ClusterError("cluster-master rollback needs a generation N and --repo-dir")
        try:
            self.rollback_to = int(self.opts.generation)
        except ValueError:
            self.rollback_to = 0
        if self.rollback_to < 1:
            raise ClusterError("cluster-master rollback: the generation is a number of 1 or more, not '{}'"
                                   .format(self.opts.generation))

    def configure_kickstart(self):
        if not self.opts.role:
            raise ClusterError("cluster-master kickstart needs --role")
        if len(self.opts.arches) > 1:
            raise ClusterError("cluster-master kickstart takes one --arch")
        self.backend.want_metadata("cluster")
        # stdout is the kickstart alone (saved to a file, read by ksvalidator): dnf's
        # messages and the metadata download progress go to stderr
        self.cli.redirect_logger(stdout=WARNING, stderr=INFO)
        self.cli.redirect_repo_progress()

    def _configure_fleet(self):
        if not self.opts.nodes:
            raise ClusterError("cluster-master {} needs -w NODESET".format(self.sub))

    configure_status = _configure_fleet

    configure_sync = _configure_fleet

    def _transport(self):
        fleet = _fleet()
        defaults = fleet.clush_defaults()
        opts = self.opts
        return dict(fanout=opts.fanout or defaults.get("fanout", 64), worker=opts.worker,
                    timeout=opts.command_timeout if opts.command_timeout is not None
                    else defaults.get("command_timeout"),
                    connect_timeout=opts.connect_timeout if opts.connect_timeout is not None
                    else defaults.get("connect_timeout"),
                    resolver=fleet.group_resolver(opts.groups_conf))

    def _report(self, result):
        fleet = _fleet()
        if self.opts.json:
            self.print_json(result.as_dict())
        else:
            print("\n".join(result.lines()))
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
        self._report(fleet.status(self.opts.nodes, fleet.node_commands(self.opts.node_command)["status"],
                                  **self._transport()))

    def run_sync(self):
        fleet = _fleet()
        transport = self._transport()
        canary = self.opts.canary
        self._report(fleet.rollout(self.opts.nodes, fleet.node_commands(self.opts.node_command), canary=canary,
                                   wave_size=self.opts.wave_size, max_failures=self.opts.max_failures,
                                   dry_run=self.base.conf.assumeno or self.opts.fleet_dry_run, **transport))

    def lock_pins(self, names, excludes):
        """EVRs installed on this head node for the profile's packages and their whole
        installed dependency closure, minus the OS core (see profile.LOCK_EXCLUDE) and
        installonly packages."""
        installonly = self.backend.installonly()
        return dict((name, evr) for name, evr in self.backend.installed_requires(names).items()
                    if name not in installonly and not any(fnmatch.fnmatchcase(name, pat) for pat in excludes))

    def configure(self):
        if getattr(self.opts, "generation", None) is not None and self.opts.subcommand[0] != "rollback":
            raise ClusterError("cluster-master {}: unexpected argument '{}'".format(
                self.opts.subcommand[0], self.opts.generation))
        # every text that reaches a file: one line, no control characters
        check_text(self.opts.message, "--message")
        if self.opts.sign_key is not None:
            if not self.opts.sign_key.strip():
                raise ClusterError("--sign-key needs a key id (an empty one would publish unsigned; "
                                   "leave the option out for an unsigned site repository)")
            check_text(self.opts.sign_key, "--sign-key")
        for value in self.opts.baseurl:
            check_text(value, "--baseurl")
        super(ClusterMasterCommand, self).configure()

    def _site(self):
        from ..head import publish
        return publish.SiteTree(self.opts.repo_dir).check()

    def _gpg(self, site):
        """The signing key, checked to sign before anything is written; None unsigned
        (refused when the tree is signed: a stale signature would be left)."""
        if not self.opts.sign_key:
            site.refuse_stale_signature(False)
            return None
        from ..head.signing import Gpg
        return Gpg(self.opts.sign_key, self.opts.gnupghome).check()

    def _publish(self, site, build, action):
        """Under the tree's lock: build(previous profile, arches) -> the new profile,
        published as the next generation; prints what was done."""
        gpg = self._gpg(site)
        arches = site.publish_arches(self.opts.arches)
        wait = lambda: logger.warning("Waiting for another publish into %s...", site.path)
        with site.locked(on_wait=wait):
            previous = site.published(warn=lambda text: logger.warning("Warning: %s", text))
            prof = build(previous, arches)
            entry = site.publish(prof, arches, gpg=gpg, message=self.opts.message, action=action,
                                 baseurl=self.opts.baseurl[0] if self.opts.baseurl else None)
        if self.opts.json:
            self.print_json(dict(entry, written=[os.path.join(site.path, a) for a in arches],
                                 profile=entry["digest"], pins=prof["pins"]))
        else:
            print("Published generation {} ({}): roles {}; {} pins -> {} ({})".format(
                entry["generation"], entry["digest"][:12], ", ".join(entry["roles"]), entry["pins"], site.path,
                ", ".join(arches)))

    def run_publish(self):
        from .. import profile
        opts = self.opts
        roles = profile.load_roles(opts.roles) if opts.roles else None
        if opts.output:
            previous = self._site().published() if opts.repo_dir else None
            prof = self.profile_for(roles, previous, sorted(set(opts.arches) or CLUSTER_ARCHES))
            with open(opts.output, "w") as handle:
                handle.write(profile.dumps(prof))
            print("Wrote the cluster profile (roles {}; {} pins) to {}".format(
                ", ".join(sorted(prof["roles"])), len(prof["pins"]), opts.output))
            return
        site = self._site()
        action = "lock" if opts.lock else ("unlock" if opts.unlock else "publish")
        self._publish(site, lambda previous, arches: self.profile_for(roles, previous, arches), action)

    def profile_for(self, roles, previous, arches):
        """The profile to publish: the roles resolved with the comps of this host's
        enabled repositories (as cluster-group reads them), or the previous profile's
        roles; pins from this head node (--lock), none (--unlock), else the previous."""
        from .. import profile
        from ..comps import repo_comps
        if roles is None and previous is None:
            raise ClusterError("the site repository has no profile yet: pass --roles", self.opts.repo_dir)
        if roles is not None:
            available = self.backend.available_names()
            draft = profile.build(roles, repo_comps(self.backend), arches,
                                  known=(lambda arch: available) if available else None)
        else:
            draft = dict((k, v) for k, v in previous.items() if k != "generation")
        if self.opts.lock:
            names = set(n for r in draft["roles"].values() for a in r["arches"].values() for n in a["packages"])
            pins = self.lock_pins(names, list(profile.LOCK_EXCLUDE) + self.opts.lock_exclude)
        elif self.opts.unlock or previous is None:
            pins = {}
        else:
            pins = previous.get("pins", {})
        prof = dict(draft, pins=pins)
        profile.validate(prof, "published profile")
        return prof

    def run_history(self):
        site = self._site().exists()
        entries = site.history()
        published = site.published(warn=lambda text: logger.warning("Warning: %s", text))
        current = published.get("generation") if published else None
        if self.opts.json:
            self.print_json({"format": 1, "published": current, "generations": entries})
            return
        if not entries:
            print("No generation published in {} yet.".format(site.path))
            return
        rows = [("GEN", "TIME (UTC)", "USER", "ACTION", "PINS", "PROFILE", "MESSAGE")]
        for e in entries:
            mark = "*" if e.get("generation") == current else " "
            rows.append(("{}{}".format(e.get("generation"), mark), e.get("time", ""), e.get("user", ""),
                         e.get("action", ""), str(e.get("pins", "")), (e.get("digest") or "")[:12],
                         " ".join(str(e.get("message", "")).split())))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            print(("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1]).rstrip())
        print("* published now. `dnf cluster-master rollback N --repo-dir {}` publishes generation N "
              "again.".format(site.path))

    def run_rollback(self):
        site = self._site().exists()
        target = site.generation(self.rollback_to)
        if not self.opts.message:
            self.opts.message = "rollback to generation {}".format(self.rollback_to)

        def build(previous, arches):
            prof = dict((k, v) for k, v in target["profile"].items() if k != "generation")
            missing = [a for a in arches if not any(a in r["arches"] for r in prof["roles"].values())]
            if missing:
                raise ClusterError("generation {} has no package sets for {}".format(
                    self.rollback_to, ", ".join(missing)))
            return prof
        self._publish(site, build, "rollback of {}".format(self.rollback_to))

    def run_kickstart(self):
        """The repositories a new node needs: the profile's (the site repository, as a
        rule) and the package repository `cluster`, with their release packages, so the
        installed node keeps both configured."""
        from .. import nodeconf, profile
        from ..head import kickstart, siterelease
        from ..sync import find_profile
        repoid, prof = find_profile(self.backend, self.node_config().profile_repo)
        arch = self.opts.arches[0] if self.opts.arches else self.backend.basearch
        view = profile.RoleView(prof, self.opts.role, arch)
        overrides, plain = {}, None
        for value in self.opts.baseurl:
            key, sep, url = value.partition("=")
            if sep and "://" not in key:
                overrides[key] = url
            else:
                plain = value
        if plain is not None:
            overrides.setdefault(repoid, plain)
        repoids = [repoid] + [r for r in (nodeconf.DEFAULT_PROFILE_REPO,)
                              if r != repoid and self.backend.repo_state(r)]
        unknown = sorted(set(overrides) - set(repoids))
        if unknown:
            raise ClusterError("--baseurl for '{}', which the kickstart does not use (it uses: {})".format(
                unknown[0], ", ".join(repoids)))
        for url in overrides.values():
            if not siterelease.URL_RE.match(url):
                raise ClusterError("invalid --baseurl {!r}: want a repository's URL as nodes reach it (http, https, "
                                   "ftp or file URL, no spaces or control characters)".format(url))
        repos = [(r, overrides.get(r) or self.node_baseurl(r, arch)) for r in repoids]
        available = self.backend.available_names()
        releases = [name for name in (siterelease.NAME, "cluster-release") if name in available]
        print(kickstart.render(view, repos, "repository '{}'".format(repoid), releases), end="")

    def node_baseurl(self, repoid, arch):
        """The repository's baseurl as a node of `arch` sees it."""
        template = self.backend.baseurl_template(repoid)
        if not template:
            raise ClusterError("cannot tell the baseurl of repository '{}' for {} nodes: pass --baseurl".format(
                repoid, arch))
        subst = dict(self.backend.substitutions(), basearch=arch, arch=arch)
        for key, value in sorted(subst.items(), key=lambda kv: -len(kv[0])):
            template = template.replace("${%s}" % key, value).replace("$" + key, value)
        return template

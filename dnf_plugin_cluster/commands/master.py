"""`dnf cluster-master publish|kickstart`, for the head node: put the cluster profile
(from the site's role definitions, optionally pinned to this head node's versions) into
the repository metadata, and print a kickstart fragment for a role."""
from __future__ import absolute_import, unicode_literals

import fnmatch
import logging
import os

import dnf.cli

from ..errors import ClusterError
from .base import ClusterCommand


class ClusterMasterCommand(ClusterCommand):
    aliases = ("cluster-master",)
    summary = "head node: publish the cluster profile into the repository, write kickstart fragments"
    subcommands = ("publish", "kickstart")

    @classmethod
    def set_argparser(cls, parser):
        super(ClusterMasterCommand, cls).set_argparser(parser)
        parser.add_argument("--roles", metavar="DIR", help="publish: role definitions (roles/*.yaml)")
        parser.add_argument("--repo-dir", metavar="DIR",
                            help="publish: the repository tree of one release (OUTDIR/<releasever>)")
        lock = parser.add_mutually_exclusive_group()
        lock.add_argument("--lock", action="store_true", default=False,
                          help="publish: pin the versions installed on this head node")
        lock.add_argument("--unlock", action="store_true", default=False, help="publish: drop all pins")
        parser.add_argument("--lock-exclude", action="append", default=[], metavar="PATTERN",
                            help="publish --lock: also leave these names unpinned (glob; repeatable)")
        parser.add_argument("--output", metavar="FILE", help="publish: write the profile here instead")
        parser.add_argument("--sign-key", metavar="KEYID", help="publish: re-sign repomd.xml with this key")
        parser.add_argument("--gnupghome", metavar="DIR", help="publish: GnuPG home of the signing key")
        parser.add_argument("--role", help="kickstart: the role to provision")
        parser.add_argument("--arch", help="kickstart: the node's arch (default: this host's)")
        parser.add_argument("--baseurl", help="kickstart: the cluster repository URL as nodes reach it "
                                              "(default: the profile repository's baseurl)")

    def configure_publish(self):
        if not self.opts.repo_dir or not (self.opts.roles or self.opts.lock or self.opts.unlock):
            raise dnf.cli.CliError("cluster-master publish needs --repo-dir and --roles (or --lock/--unlock)")
        if not self.opts.lock:
            self.cli.demands.load_system_repo = False

    def configure_kickstart(self):
        if not self.opts.role:
            raise dnf.cli.CliError("cluster-master kickstart needs --role")
        self.backend.want_metadata("cluster")
        # stdout is the kickstart alone (saved to a file, read by ksvalidator): dnf's
        # messages and the metadata download progress go to stderr
        self.cli.redirect_logger(stdout=logging.WARNING, stderr=logging.INFO)
        self.cli.redirect_repo_progress()

    def lock_pins(self, names, excludes):
        """EVRs installed on this head node for the profile's packages and their whole
        installed dependency closure, minus the OS core (see profile.LOCK_EXCLUDE) and
        installonly packages."""
        installonly = self.backend.installonly()
        return dict((name, evr) for name, evr in self.backend.installed_requires(names).items()
                    if name not in installonly and not any(fnmatch.fnmatchcase(name, pat) for pat in excludes))

    def run_publish(self):
        from .. import profile, publish
        tree = os.path.abspath(self.opts.repo_dir)
        previous = publish.current(tree)
        if self.opts.roles:
            roles = profile.load_roles(self.opts.roles)
        elif previous is None:
            raise ClusterError("the repository has no profile yet: pass --roles", tree)
        arches = sorted(publish.arch_repos(tree))
        if self.opts.roles:
            available = self.backend.available_names()
            draft = profile.build(roles, publish.tree_comps(tree), arches,
                                  known=(lambda arch: available) if available else None)
        else:
            draft = dict(previous, pins={})
        if self.opts.lock:
            names = set(n for r in draft["roles"].values() for a in r["arches"].values() for n in a["packages"])
            pins = self.lock_pins(names, list(profile.LOCK_EXCLUDE) + self.opts.lock_exclude)
        elif self.opts.unlock or previous is None:
            pins = {}
        else:
            pins = previous["pins"]
        prof = dict(draft, pins=pins)
        profile.validate(prof, "published profile")
        if self.opts.output:
            with open(self.opts.output, "w") as handle:
                handle.write(profile.dumps(prof))
            where = self.opts.output
        else:
            sign = None
            if self.opts.sign_key:
                from ..signing import Gpg
                sign = Gpg(self.opts.sign_key, self.opts.gnupghome).sign_file
            publish.add(tree, prof, sign)
            where = ", ".join(os.path.join(tree, a, "repodata") for a in arches)
        if self.opts.json:
            self.print_json({"roles": sorted(prof["roles"]), "pins": prof["pins"], "written": where,
                             "profile": profile.digest(prof)})
        else:
            print("Published cluster profile: roles {}; {} pins -> {}".format(
                ", ".join(sorted(prof["roles"])), len(pins), where))

    def run_kickstart(self):
        from .. import kickstart, profile
        from ..sync import find_profile
        repoid, prof = find_profile(self.backend, self.node_config().profile_repo)
        arch = self.opts.arch or self.backend.basearch
        view = profile.RoleView(prof, self.opts.role, arch)
        url = self.opts.baseurl or self.node_baseurl(repoid, arch)
        print(kickstart.render(view, [(repoid, url)], "repository '{}'".format(repoid)), end="")

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

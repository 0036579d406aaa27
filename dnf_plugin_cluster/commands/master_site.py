"""`cluster-master publish` and `rollback`: the site repository (SITE/<releasever>,
--repo-dir or site= of [master]) checked and opened, the profile to publish (roles,
--lock, --lock-from, --unlock) and the next generation written under the tree's lock
(head/publish.py), or what it would change (--dry-run: head/preview.py)."""
from __future__ import absolute_import, unicode_literals

import os

from ..errors import ClusterError, quote
from ..names import CLUSTER_ARCHES
from .base import logger


class SiteMixin(object):
    """ClusterMasterCommand's site repository subcommands: publish and rollback."""

    def configure_publish(self):
        from .. import nodeconf
        if not (self.opts.repo_dir or self.opts.output):
            raise ClusterError("cluster-master publish: no site repository: pass --repo-dir SITE (or --output "
                               "FILE), or set site = SITE in [master] of {}".format(self.conf_path()))
        if not (self.opts.roles or self.opts.lock or self.opts.unlock or self.opts.lock_from):
            raise ClusterError("cluster-master publish: no roles: pass --roles DIR, set roles = DIR in [master] "
                               "of {}, or put them in {} (--lock, --lock-from or --unlock alone republish the "
                               "published roles)".format(self.conf_path(), nodeconf.DEFAULT_ROLES_DIR))
        self.site_release_dir()
        if len(self.opts.baseurl) > 1:
            raise ClusterError("cluster-master publish takes one --baseurl (the site repository's top)")
        self.cli.demands.load_system_repo = False         # what this host runs plays no part
        self.cli.demands.freshest_metadata = True         # never a profile from a stale cache
        if self.opts.lock:
            from ..nodeconf import SITE_PROFILE_REPO
            if getattr(self.cli.demands, "cacheonly", False) or getattr(self.base.conf, "cacheonly", False):
                raise ClusterError("publish --lock resolves against the repositories' current metadata, never "
                                   "the cache alone: run it without -C/--cacheonly")
            # a repository that cannot be refreshed fails the publish instead of dropping out
            self.backend.strict_repos(optional=(SITE_PROFILE_REPO,))

    def _need_site(self):
        if not self.opts.repo_dir:
            raise ClusterError("cluster-master {}: no site repository: pass --repo-dir SITE, or set site = SITE "
                               "in [master] of {}".format(self.sub, self.conf_path()))
        self.site_release_dir()

    def _generation_number(self):
        try:
            number = int(self.opts.generation)
        except ValueError:
            number = 0
        if number < 1:
            raise ClusterError("cluster-master {}: the generation is a number of 1 or more, not {}".format(
                self.sub, quote(self.opts.generation)))
        return number

    def configure_rollback(self):
        if self.opts.generation is None:
            raise ClusterError("cluster-master rollback needs a generation N")
        self._need_site()
        self.rollback_to = self._generation_number()

    def site_release_dir(self):
        """--repo-dir (or site=) is SITE, the site repository's top: publish, history and
        rollback work on SITE/<releasever> of this host. SITE/<releasever> itself (a last
        part such as 9 or 9.4) is taken as it is."""
        from ..head.publish import RELEASEVER_RE
        if not self.opts.repo_dir:
            return
        path = self.opts.repo_dir.rstrip("/") or "/"
        if RELEASEVER_RE.match(os.path.basename(path)):
            return
        releasever = self.backend.substitutions().get("releasever")
        if not releasever:
            raise ClusterError("cannot tell this host's release ($releasever): pass --releasever, or --repo-dir "
                               "SITE/<releasever>", path)
        self.opts.repo_dir = os.path.join(path, releasever)

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

    @property
    def dry_run(self):
        """publish and rollback write nothing under --dry-run and dnf's --assumeno."""
        return self.opts.dry_run or self.base.conf.assumeno

    def _publish(self, site, build, action):
        """Under the tree's lock: build(previous profile, arches) -> the new profile,
        published as the next generation, unless it changes nothing (--republish: anyway);
        prints what was done. A dry run shows what would change and writes nothing (no
        lock either)."""
        from ..head import lock, siterelease
        from ..head.preview import Preview
        gpg = self._gpg(site)
        arches = site.publish_arches(self.opts.arches)
        baseurl = self.opts.baseurl[0] if self.opts.baseurl else None
        warn = lambda text: logger.warning("Warning: %s", text)
        shipped = siterelease.baseurl_for(site, baseurl)
        if shipped.startswith("file://"):
            warn("cluster-site-release points nodes at {} (no --baseurl): only nodes that mount {} there "
                 "reach it; publish again with --baseurl URL (the site repository's top as nodes reach it, "
                 "e.g. https://head.example.org/site) and cluster-site-release is rebuilt".format(
                     shipped, site.top))
        if self.dry_run:
            previous = site.published(warn=warn)
            preview = Preview(site, previous, build(previous, arches), arches, gpg, baseurl)
            self._say(preview.as_dict(), preview.lines(True) + [
                "Dry run: nothing was written{}.".format(" (--assumeno)" if not self.opts.dry_run else "")],
                dry_run=True)
            return
        wait = lambda: logger.warning("Waiting for another publish into %s...", site.path)
        with site.locked(on_wait=wait):
            previous = site.published(warn=warn)
            prof = build(previous, arches)
            preview = Preview(site, previous, prof, arches, gpg, baseurl)
            if not preview.changed and not self.opts.republish:
                self._say(preview.as_dict(), preview.lines(False))
                return
            entry = site.publish(prof, arches, gpg=gpg, message=self.opts.message, action=action,
                                 baseurl=baseurl, warn=lambda text: logger.warning("Warning: %s", text))
        if self.opts.json:
            self.print_json(dict(entry, written=[os.path.join(site.path, a) for a in arches],
                                 profile=entry["digest"], pins=prof["pins"], changed=preview.changed,
                                 locked=lock.pins_of(prof)))
        else:
            print("Published generation {}, digest {}: roles {}; {} -> {} ({})".format(
                entry["generation"], entry["digest"][:12], ", ".join(entry["roles"]), lock.describe(prof),
                site.path, ", ".join(arches)))

    def _say(self, data, lines, dry_run=False):
        if self.opts.json:
            self.print_json(dict(data, dry_run=dry_run))
        else:
            print("\n".join(lines))

    def check_release(self):
        """The profile is resolved with this head node's repositories ($releasever) and,
        with --lock, its installed packages: SITE/<releasever> of another release would
        give nodes of that release packages built for this one. Refused before anything
        is read or written."""
        site = os.path.basename(os.path.abspath(self.opts.repo_dir))
        host = self.backend.substitutions().get("releasever")
        if not host or site == host:
            return
        if site.split(".")[0] == host.split(".")[0] and site.split(".")[0].isdigit():
            return                                  # 9 and 9.4: one major release
        raise ClusterError("cluster-master publish: this head node resolves the profile for release {} "
                           "($releasever) but --repo-dir is the site repository of release {}: publish "
                           "release {}'s profile from a head node of that release".format(host, site, site),
                           self.opts.repo_dir)

    def run_publish(self):
        from .. import profile
        from ..head import lock
        opts = self.opts
        if opts.repo_dir and not opts.output and (opts.roles or opts.lock):
            self.check_release()
        if self.roles_from:             # not on the command line: say where they come from
            logger.info("Roles from %s (%s)", opts.roles, self.roles_from)
        roles = profile.load_roles(opts.roles) if opts.roles else None
        self.from_nodes = self.ask_lock_from() if opts.lock_from else None
        if opts.output:
            previous = self._site().published() if opts.repo_dir else None
            prof = self.profile_for(roles, previous, sorted(set(opts.arches) or CLUSTER_ARCHES))
            if self.dry_run:
                print("Dry run: the cluster profile (roles {}; {}) would be written to {}; nothing was "
                      "written.".format(", ".join(sorted(prof["roles"])), lock.describe(prof), opts.output))
                return
            with open(opts.output, "w") as handle:
                handle.write(profile.dumps(prof))
            print("Wrote the cluster profile (roles {}; {}) to {}".format(
                ", ".join(sorted(prof["roles"])), lock.describe(prof), opts.output))
            return
        self.check_arch_trees()
        site = self._site()
        action = "lock" if opts.lock or opts.lock_from else ("unlock" if opts.unlock else "publish")
        self._publish(site, lambda previous, arches: self.profile_for(roles, previous, arches), action)

    def check_arch_trees(self):
        """publish --arch X: the cluster repository must have an X tree, or nodes of X
        would get a profile for packages that do not exist (publish --lock reads every
        arch's trees anyway, and refuses one that is missing)."""
        from ..nodeconf import DEFAULT_PROFILE_REPO
        if self.opts.lock or not self.backend.repo_state(DEFAULT_PROFILE_REPO):
            return
        for arch in sorted(set(self.opts.arches)):
            if self.backend.has_tree(DEFAULT_PROFILE_REPO, arch) is False:
                raise ClusterError("publish --arch {0}: repository '{1}' has no {0} tree (nothing of the cluster "
                                   "is built for {0})".format(arch, DEFAULT_PROFILE_REPO))

    def profile_for(self, roles, previous, arches):
        """The profile to publish: the roles resolved with the comps of this host's
        enabled repositories (as cluster-group reads them), or the previous profile's
        roles; locked per role and arch (--lock: head/lock.py), no pins (--unlock), else
        the previous profile's pins and locks."""
        from .. import profile
        from ..comps import repo_comps
        from ..head import lock
        if roles is None and previous is None:
            raise ClusterError("the site repository has no profile yet: pass --roles", self.opts.repo_dir)
        # the site-local RPMs dropped into the site repository's <arch>/Packages/, which this
        # publish indexes: known to the roles and seen by the lock already
        site = self._site() if self.opts.repo_dir else None
        local = site.local_packages(arches) if site is not None else {}
        if roles is not None:
            available = self.backend.available_names()
            known = None
            if available:
                known = lambda arch: available | site.local_names(local, arch) if site is not None else available
            draft = profile.build(roles, repo_comps(self.backend), arches, known=known)
        else:
            draft = dict((k, v) for k, v in previous.items() if k != "generation")
        if self.opts.lock:
            from ..head.publish import SiteTree
            with SiteTree.local_repos(local) as repos:
                found = lock.resolve(self.backend, lock.unlocked(draft), arches, self.opts.lock_exclude,
                                     log=logger.info, local=repos)
            return lock.attach(lock.unlocked(draft), found)
        if self.opts.lock_from:
            base = lock.unlocked(draft) if previous is None else lock.carry(draft, previous)
            return lock.attach_from_nodes(base, self.from_nodes)
        if self.opts.unlock or previous is None:
            return profile.validate(lock.unlocked(draft), "published profile")
        if roles is None:
            return profile.validate(draft, "published profile")
        return lock.carry(draft, previous, warn=lambda text: logger.warning("Warning: %s", text))

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

"""`cluster-master kickstart --role ROLE`: the kickstart fragment of a new node of a
role (head/kickstart.py), with the repositories it needs as nodes reach them."""
from __future__ import absolute_import, unicode_literals

from ..errors import ClusterError, quote
from .base import INFO, WARNING


class KickstartMixin(object):
    """ClusterMasterCommand's kickstart subcommand."""

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

    def run_kickstart(self):
        """The repositories a new node needs: the profile's (the site repository, as a
        rule) and the package repository `cluster`, with their release packages, so the
        installed node keeps both configured."""
        from .. import nodeconf, profile
        from ..head import kickstart, siterelease
        from ..sync import find_profile
        repoid, prof = find_profile(self.backend, self.master.profile_repo)
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
                raise ClusterError("invalid --baseurl {}: want a repository's URL as nodes reach it (http, https, "
                                   "ftp or file URL, no spaces or control characters)".format(quote(url)))
        releasever = self.backend.substitutions().get("releasever", "")
        # a --baseurl may be the site's top: taken down to the arch tree; the host's own
        # .repo files say where the trees are
        repos = [(r, kickstart.repo_url(overrides[r], releasever, arch) if r in overrides
                  else self.node_baseurl(r, arch)) for r in repoids]
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

"""What every cluster command shares, as dnf-plugins-core's small helper does: the
subcommand argument, --json with a pure-JSON stdout, errors as dnf's one-line
`Error: ...`, and dispatch to configure_<sub>() / run_<sub>() methods.

Imports stay light: the plugin is loaded for every dnf command, so the library and the
backend load only when a cluster command runs."""
from __future__ import absolute_import, unicode_literals

import json
import logging
import sys

import dnf.cli
import dnf.exceptions

from ..errors import ClusterError

logger = logging.getLogger("dnf.plugin.cluster")


class ClusterCommand(dnf.cli.Command):
    subcommands = ()
    #: subcommands that need neither repositories nor the rpm database
    offline = ()

    @classmethod
    def set_argparser(cls, parser):
        parser.add_argument("subcommand", nargs=1, choices=cls.subcommands,
                            help=", ".join(cls.subcommands))
        parser.add_argument("--json", action="store_true", default=False,
                            help="print machine-readable JSON on stdout")

    @property
    def sub(self):
        return self.opts.subcommand[0]

    def configure(self):
        """What every cluster command needs (the repositories and the sack, unless the
        subcommand is offline), then the subcommand's own configure_<sub>(). A
        ClusterError is one line, exit 1."""
        self.quiet_for_json()
        if self.sub not in self.offline:
            self.cli.demands.sack_activation = True
            self.cli.demands.available_repos = True
        from ..backends.dnf4 import Dnf4Backend
        self.backend = Dnf4Backend(self.base, self.cli)
        try:
            getattr(self, "configure_" + self.sub.replace("-", "_"))()
        except ClusterError as err:
            raise dnf.exceptions.Error(str(err))

    def run(self):
        try:
            getattr(self, "run_" + self.sub.replace("-", "_"))()
        except ClusterError as err:
            raise dnf.exceptions.Error(str(err))

    def quiet_for_json(self):
        """Keep stdout pure JSON: dnf's informational logging goes quiet, the download
        progress goes to stderr, the rpm progress is off (as with -q), and whatever dnf
        still prints itself (its post-transaction summary) goes to stderr too."""
        self.json_out = sys.stdout
        if self.opts.json:
            self.cli.redirect_logger(stdout=logging.WARNING, stderr=logging.WARNING)
            self.cli.redirect_repo_progress()
            self.base.conf.debuglevel = 0
            sys.stdout = sys.stderr

    def print_json(self, data):
        self.json_out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        self.json_out.flush()

    def node_config(self):
        from .. import nodeconf
        return nodeconf.read(self.base.conf.installroot, self.base.conf.pluginconfpath)

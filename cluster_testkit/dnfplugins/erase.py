"""A dnf 4 plugin for tests: when CLUSTER_TEST_ERASE names packages (space separated),
it erases them from the root's rpm database right after dnf's transaction has run (as
a scriptlet or another plugin might), so a test can show what a sync does when the
node ends off its profile."""
import os
import subprocess

import dnf


class Erase(dnf.Plugin):
    name = "erase"

    def transaction(self):
        names = os.environ.get("CLUSTER_TEST_ERASE", "").split()
        if names:
            subprocess.run(["rpm", "--root", self.base.conf.installroot, "-e", "--nodeps", "--noscripts"] + names,
                           check=True)

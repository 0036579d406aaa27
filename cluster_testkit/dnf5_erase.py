"""`dnf-cluster` on libdnf5 for tests (run inside the sid chroot as
`python3 /src/cluster_testkit/dnf5_erase.py ARGS...`): when CLUSTER_TEST_ERASE names
packages (space separated), it erases them from the root's rpm database right after
libdnf5's transaction has run (as a scriptlet or another tool might), so a test can show
what a sync does when the node ends off its profile. The dnf 4 counterpart is the test
plugin dnfplugins/erase.py."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dnf_plugin_cluster.backends.libdnf5.transaction import TransactionMixin  # noqa: E402
from dnf_plugin_cluster.dnf_cluster import main  # noqa: E402

_execute = TransactionMixin.execute


def execute(self, comment, description):
    _execute(self, comment, description)
    names = os.environ.get("CLUSTER_TEST_ERASE", "").split()
    if names:
        subprocess.run(["rpm", "--root", self.installroot, "-e", "--nodeps", "--noscripts"] + names, check=True)


TransactionMixin.execute = execute

if __name__ == "__main__":
    sys.exit(main(["--backend", "libdnf5"] + sys.argv[1:]))

"""A dnf 4 plugin for tests: when CLUSTER_TEST_STALL names a file, it creates that file
after dnf's transaction has run (rpm database and history written) and then sleeps, so
a test can kill dnf between the transaction and what a command does after it."""
import os
import time

import dnf


class Stall(dnf.Plugin):
    name = "stall"

    def transaction(self):
        marker = os.environ.get("CLUSTER_TEST_STALL")
        if not marker:
            return
        with open(marker, "w") as handle:
            handle.write("transaction done\n")
        time.sleep(120)

"""Real-tool harness shared by tests, the demo and the benchmarks: a stand-in base
repository generated from base/packages.yaml, throwaway dnf roots, an HTTP server.
Not installed with the product; it is imported from the source tree."""
import os

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

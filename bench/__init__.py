"""Benchmarks: the plugin and the build measured against plain dnf and the plain tools,
in the same run, on the same roots. `make bench` (or `.venv/bin/python -m bench`) prints
one table of ratios; `--record` also rewrites bench/RESULTS.md with the machine it ran
on. Nothing here is asserted in tests: targets are printed next to the measurements."""

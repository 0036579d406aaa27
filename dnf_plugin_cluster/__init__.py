"""dnf-plugin-cluster library.

dnf-independent logic (definitions, comps, profiles, plans) lives in plain modules;
`dnfcommands` holds the dnf 4 command classes that the dnf plugin (plugins/cluster.py)
and the standalone `dnf-cluster` front door both register.
Everything here must run on EL8's Python 3.6.
"""
__version__ = "0.1.0"

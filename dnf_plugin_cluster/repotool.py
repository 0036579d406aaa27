"""`cluster-repo`: the packager's command line."""
import argparse
import os
import sys

from . import comps
from .errors import ClusterError


def _project(args):
    return os.path.abspath(args.project)


def cmd_fmt(args):
    changed = comps.format_dir(os.path.join(_project(args), "comps"), check_only=args.check)
    for path in changed:
        print("{} {}".format("would reformat" if args.check else "reformatted", path))
    return 1 if (args.check and changed) else 0


def parser():
    top = argparse.ArgumentParser(prog="cluster-repo", description=__doc__)
    top.add_argument("-C", "--project", default=".", help="source tree (default: .)")
    subs = top.add_subparsers(dest="command", metavar="COMMAND")
    subs.required = True
    fmt = subs.add_parser("fmt", help="rewrite comps/*.xml in canonical form")
    fmt.add_argument("--check", action="store_true", help="only report files that are not canonical")
    fmt.set_defaults(func=cmd_fmt)
    return top


def main(argv):
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ClusterError as err:
        print("cluster-repo: error: {}".format(err), file=sys.stderr)
        return 1

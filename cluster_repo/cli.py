"""`cluster-repo`: the packager's command line.

    cluster-repo fmt [--check] [FILE...]  comps/*.xml (or any comps FILE) in canonical form, losslessly
    cluster-repo render [--check]         metapackages/*.yaml -> specs/*.spec
    cluster-repo lint                     comps, metapackages and specs, checked together
    cluster-repo build OUTDIR             lint, render, SRPMs + RPMs, repository (+ closure)
    cluster-repo promote NAME... OUTDIR   the tested builds, byte for byte, from testing into stable
    cluster-repo closure OUTDIR           every package installable on every arch
    cluster-repo owners [NAME...]         who owns each package (metapackages and specs)
    cluster-repo sources [NAME...]        the tools' tarballs into the lookaside cache, verified
    cluster-repo new-sources NAME FILE... write a tool's `sources` lines (as fedpkg new-sources)
    cluster-repo bump NAME VERSION        a tool's new upstream version: spec, tarball, sources, changelog
    cluster-repo new NAME --url URL       a tool's spec skeleton from its upstream tarball
    cluster-repo srpm [NAME...]           the project's own SRPMs from the tree, reproducibly (make srpm)
"""
import argparse
import json
import os

from dnf_plugin_cluster import __version__
from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.names import CLUSTER_ARCHES

from . import compsfile, say
from .project import Project
from .say import say as _say
from .say import warn as _warn
from .targets import DEFAULT_TARGET, TARGETS, get_target


def cmd_fmt(args):
    if args.files:
        changed = compsfile.format_files(args.files, check_only=args.check)
    else:
        changed = compsfile.format_dir(Project(args.project).comps_dir, check_only=args.check)
    for path in changed:
        print("{} {}".format("not canonical:" if args.check else "reformatted", path))
    return 1 if (args.check and changed) else 0


def cmd_render(args):
    project = Project(args.project)
    changed, stale = project.render(check_only=args.check)
    for path in changed:
        print("{} {}".format("out of date:" if args.check else "rendered", os.path.relpath(path, project.root)))
    for path in stale:
        print("stale (no definition): {}".format(os.path.relpath(path, project.root)))
    return 1 if (args.check and (changed or stale)) else 0


def cmd_lint(args):
    project = Project(args.project)
    problems = project.lint()
    for note in project.lint_notes():
        _say("note: {}".format(note))
    for problem in problems:
        say.problem(str(problem))
    if problems:
        say.problem("cluster-repo: {} problem(s)".format(len(problems)))
        return 1
    _say("lint clean")
    return 0


def cmd_owners(args):
    table = Project(args.project).owners()
    known = set(name for name, _, _, _ in table)
    unknown = [name for name in args.names if name not in known]
    if unknown:
        raise ClusterError("no metapackage or spec named '{}' (see `cluster-repo owners`)".format(unknown[0]))
    rows = [row for row in table if not args.names or row[0] in args.names]
    width = max(len(row[0]) for row in rows) if rows else 0
    for name, owners, _, _ in rows:
        print("{:<{}}  {}".format(name, width, ", ".join(owners)))
    return 0


def cmd_srpm(args):
    from .build import SRPM_SPECS, project_srpm
    project, target = Project(args.project), get_target(args.target)
    unknown = [name for name in args.names if name not in SRPM_SPECS]
    if unknown:     # before anything is written
        raise ClusterError("no SRPM of '{}' is made from the tree: choose from {}".format(
            unknown[0], ", ".join(SRPM_SPECS)))
    for name in args.names or SRPM_SPECS:
        tarball, srpm = project_srpm(project, name, args.outdir, target)
        _say("{}: {} from {}".format(name, srpm, os.path.basename(tarball)))
    return 0


def cmd_sources(args):
    from . import sources
    opts = sources.Options(cache=args.cache, lookaside_url=args.lookaside, jobs=args.jobs,
                           max_size=args.max_size, timeout=args.timeout, log=_say,
                           detail=say.detail)
    try:
        fetched, cached = sources.fetch(Project(args.project), args.names, opts, get_target(DEFAULT_TARGET))
    except sources.FetchErrors as err:
        for one in err.errors:
            say.error(one)
        return 1
    _say("sources: {} fetched, {} already verified in {}".format(len(fetched), len(cached), opts.cache))
    return 0


def cmd_new_sources(args):
    from . import lookaside, sources
    cache = os.path.abspath(args.cache or lookaside.default_cache())
    for entry in sources.new_sources(Project(args.project), args.name, args.files, cache):
        print(entry.text())
    return 0


def cmd_bump(args):
    from . import bump, sources
    opts = sources.Options(cache=args.cache, max_size=args.max_size, timeout=args.timeout)
    entries = bump.bump(Project(args.project), args.name, args.version, opts, comment=args.comment,
                        author=args.author)
    for entry in entries:
        print(entry.text())
    _say("{} is at {}-1: `cluster-repo build OUTDIR --update` rebuilds it".format(args.name, args.version))
    return 0


def cmd_new(args):
    from . import newtool, sources
    opts = sources.Options(cache=args.cache, max_size=args.max_size, timeout=args.timeout)
    kind, entry = newtool.new(Project(args.project), args.name, args.url, opts, args.owner, mpi=args.mpi,
                              version=args.version)
    print(entry.text())
    _say("wrote specs/{0}/{0}.spec ({1} build{2}) and its sources line: finish the spec, then "
         "`cluster-repo lint` and `cluster-repo build OUTDIR --update`".format(
             args.name, kind, ", per MPI family" if args.mpi else ""))
    return 0


def cmd_build(args):
    from . import build, closure
    options = build.BuildOptions(
        args.outdir, target=args.target, arches=args.arch or CLUSTER_ARCHES, channel=args.channel,
        update=args.update, baseurl=args.baseurl, sign_key=args.sign_key, gnupghome=args.gnupghome,
        log=_say, warn=_warn, detail=say.detail, jobs=args.jobs, base_repos=args.base_repo, force=args.force,
        cache=args.cache)
    try:
        report = build.build(Project(args.project), options)
    except closure.ClosureFailed as err:
        for problem in err.problems:
            say.problem("closure: {}".format(problem))
        raise
    _say("{} built, {} unchanged, {} files added".format(
        len(report["built"]), len(report["kept"]), len(report["added"])))
    for warning in report["warnings"]:
        _warn(warning)
    return 0


def cmd_promote(args):
    from . import build, promote
    options = build.BuildOptions(args.outdir, target=args.target, arches=args.arch or CLUSTER_ARCHES,
                                 sign_key=args.sign_key, gnupghome=args.gnupghome, log=_say, warn=_warn)
    report = promote.promote(Project(args.project), options, args.names)
    _say("{} promoted, {} files added to the stable channel".format(len(report["promoted"]), len(report["copied"])))
    return 0


def cmd_closure(args):
    from . import build, closure
    target = get_target(args.target)
    tree = build.tree_dir(os.path.abspath(args.outdir), target, args.channel)
    manifest = None
    try:
        with open(os.path.join(tree, build.MANIFEST)) as handle:
            manifest = json.load(handle)
    except (OSError, ValueError):
        pass                # a tree without a (readable) manifest: every meant spec is checked
    problems, unbuilt = closure.check_tree(Project(args.project), tree, target, args.arch or CLUSTER_ARCHES,
                                           args.base_repo, manifest)
    if unbuilt:
        _say("closure: not checked (not built in this tree, or requiring what was not): {}".format(", ".join(
            "{} ({})".format(name, ", ".join(arches)) for name, arches in sorted(unbuilt.items()))))
    for problem in problems:
        say.problem("closure: {}".format(problem))
    if problems:
        say.problem("cluster-repo: closure check failed ({} problem(s))".format(len(problems)))
        return 1
    _say("closure: every package and every role installs on every arch")
    return 0


def _common_build_args(sub, outdir_help):
    sub.add_argument("outdir", metavar="OUTDIR", help=outdir_help)
    sub.add_argument("--target", default=DEFAULT_TARGET, choices=sorted(TARGETS),
                     help="distribution to build for (default: %(default)s)")
    sub.add_argument("--arch", action="append", choices=CLUSTER_ARCHES,
                     help="arch to build (repeatable; default: all cluster arches)")
    sub.add_argument("--channel", default="stable", choices=("stable", "testing"),
                     help="the release channel: stable is OUTDIR/RELEASE/, testing is OUTDIR/testing/RELEASE/, "
                          "the repository a site's test nodes follow before a build goes stable "
                          "(default: %(default)s)")
    sub.add_argument("--base-repo", action="append", default=[], metavar="URL",
                     help="base repository for the closure check ($basearch allowed; repeatable)")


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("expected a whole number of 1 or more, not '{}'".format(text))
    return value


def _download_args(sub, what="file", limits=True):
    """--cache (the lookaside cache), and for commands that download --max-size and
    --timeout: the same options with the same defaults on sources, new-sources, bump, new."""
    sub.add_argument("--cache", metavar="DIR", help="lookaside cache (default: {})".format(_cache_default_text()))
    if limits:
        sub.add_argument("--max-size", type=_positive, default=2 << 30, metavar="BYTES",
                         help="refuse a {} larger than this (default: %(default)s)".format(what))
        sub.add_argument("--timeout", type=_positive, default=60, metavar="SECONDS",
                         help="give up on a server silent this long (default: %(default)s)")


def _cache_default_text():
    return "$CLUSTER_REPO_CACHE/lookaside, else ~/.cache/cluster-repo/lookaside"


def _loudness_args(parser, dest):
    """-q and -v on `parser`, into `dest`: the top parser's go to "verbosity", every
    command's to "command_verbosity", so that both `cluster-repo -q build` and
    `cluster-repo build -q` work, as dnf takes them (a command's parser copies all its
    defaults over the top's answer: a dest of its own keeps the top's); verbosity()
    reads them together."""
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument("-q", "--quiet", dest=dest, action="store_const", const=say.QUIET,
                      help="print only results, warnings and errors (no step lines, no progress line)")
    loud.add_argument("-v", "--verbose", dest=dest, action="store_const", const=say.VERBOSE,
                      help="print the detail too: each rpmbuild run, each download's URL, each file "
                           "already verified, each spec left unchanged")


def verbosity(top, args):
    """say's level from -q or -v before or after the command (say.NORMAL without
    them); -q on one side and -v on the other is refused as -q -v is (exit 2)."""
    given = set(v for v in (args.verbosity, getattr(args, "command_verbosity", None)) if v is not None)
    if len(given) > 1:
        top.error("argument -v/--verbose: not allowed with argument -q/--quiet")
    return given.pop() if given else say.NORMAL


def parser():
    top = argparse.ArgumentParser(
        prog="cluster-repo",
        description="The packager's toolchain of the cluster layer: format and lint comps groups, render "
                    "metapackage specs from their YAML definitions, build SRPMs and RPMs per target "
                    "distribution and arch, and publish them as a mirrorable, optionally signed "
                    "repository with its comps and cluster profile; check that every package installs.")
    top.add_argument("-C", "--project", default=".", help="source tree (default: .)")
    top.add_argument("--version", action="version", version="cluster-repo {}".format(__version__),
                     help="print cluster-repo's version and exit")
    _loudness_args(top, "verbosity")
    # a titled group of its own: the top options come before the commands (man page, --help)
    subs = top.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    subs.required = True
    fmt = subs.add_parser("fmt", help="rewrite comps/*.xml in canonical form (losslessly)")
    fmt.add_argument("--check", action="store_true", help="only report files that are not canonical")
    fmt.add_argument("files", nargs="*", metavar="FILE",
                     help="comps files to format instead of the project's (any file comps.rng allows)")
    fmt.set_defaults(func=cmd_fmt)
    render = subs.add_parser("render", help="render specs/ from metapackages/")
    render.add_argument("--check", action="store_true", help="only report specs that are out of date")
    render.set_defaults(func=cmd_render)
    lint = subs.add_parser("lint", help="check comps, metapackages and specs together")
    lint.set_defaults(func=cmd_lint)
    build = subs.add_parser("build", help="build SRPMs, RPMs and the repository")
    _common_build_args(build, "repository tree to build into (kept across builds)")
    build.add_argument("--update", action="store_true", help="rebuild only specs whose inputs changed")
    build.add_argument("-j", "--jobs", type=_positive, metavar="N",
                       help="rpmbuild runs side by side (default: the number of CPUs)")
    build.add_argument("--baseurl", help="URL the repository is published at, for cluster-release's "
                       ".repo file (default: file://OUTDIR)")
    build.add_argument("--cache", metavar="DIR", help="lookaside cache the tools' verified tarballs are read "
                       "from (default: {}); build never downloads".format(_cache_default_text()))
    build.add_argument("--sign-key", metavar="KEYID", help="sign RPMs and repomd.xml with this GnuPG key")
    build.add_argument("--gnupghome", metavar="DIR", help="GnuPG home holding the signing key")
    build.add_argument("--force", action="store_true",
                       help="build into OUTDIR even if it is a non-empty directory that `build` did not make")
    build.set_defaults(func=cmd_build)
    prom = subs.add_parser("promote", help="copy the tested builds of source packages from the testing channel "
                           "into the stable one, byte for byte (never rebuilt), and index it",
                           description="Copy the exact RPM files (the SRPM and every subpackage, same "
                           "checksums) of the last testing build of each NAME (a source package: a spec's name) "
                           "from OUTDIR/testing/<releasever> into OUTDIR/<releasever>, index the stable channel "
                           "as build does (signing its repomd.xml with --sign-key) and swap it in last; the "
                           "testing channel is left as it is. Refused, with nothing written: an OUTDIR build "
                           "did not make, an unknown NAME, nothing in testing, a stable file of the same name "
                           "with other content, a newer stable build, RPMs signed with another key.")
    prom.add_argument("names", nargs="+", metavar="NAME", help="source packages to promote")
    prom.add_argument("outdir", metavar="OUTDIR", help="the repository tree build wrote (both channels)")
    prom.add_argument("--target", default=DEFAULT_TARGET, choices=sorted(TARGETS),
                      help="distribution the trees were built for (default: %(default)s)")
    prom.add_argument("--arch", action="append", choices=CLUSTER_ARCHES,
                      help="arch to promote (repeatable; default: all cluster arches)")
    prom.add_argument("--sign-key", metavar="KEYID", help="sign the stable repomd.xml with this GnuPG key (the "
                      "tested RPMs must carry its signature already)")
    prom.add_argument("--gnupghome", metavar="DIR", help="GnuPG home holding the signing key")
    prom.set_defaults(func=cmd_promote)
    closure = subs.add_parser("closure", help="check every package installs on every arch")
    _common_build_args(closure, "repository tree a build wrote, to check (nothing in it is changed)")
    closure.set_defaults(func=cmd_closure)
    owners = subs.add_parser("owners", help="list who owns each metapackage and hand-written spec")
    owners.add_argument("names", nargs="*", metavar="NAME", help="only these packages")
    owners.set_defaults(func=cmd_owners)
    srcs = subs.add_parser("sources", help="fetch the tools' tarballs into the lookaside cache, verified")
    srcs.add_argument("names", nargs="*", metavar="NAME", help="only these tools (default: all)")
    srcs.add_argument("--lookaside", metavar="URL|DIR",
                      help="a lookaside mirror (NAME/FILE/sha512/HEX/FILE) instead of the Source URLs")
    srcs.add_argument("-j", "--jobs", type=_positive, default=4, metavar="N",
                      help="downloads side by side (default: %(default)s)")
    _download_args(srcs, "file")
    srcs.set_defaults(func=cmd_sources)
    news = subs.add_parser("new-sources", help="write a tool's sources lines for local files (into the cache)")
    news.add_argument("name", metavar="NAME", help="the tool (specs/NAME/NAME.spec)")
    news.add_argument("files", nargs="+", metavar="FILE", help="the tarballs")
    _download_args(news, limits=False)
    news.set_defaults(func=cmd_new_sources)
    bump = subs.add_parser("bump", help="move a tool to a new upstream version (spec, tarball, sources, changelog)")
    bump.add_argument("name", metavar="NAME", help="the tool (specs/NAME/NAME.spec)")
    bump.add_argument("version", metavar="VERSION", help="the new upstream version")
    bump.add_argument("--comment", metavar="TEXT", help="the %%changelog entry (default: Update to VERSION)")
    bump.add_argument("--author", metavar="'NAME <EMAIL>'",
                      help="who the %%changelog entry names (default: the spec's first owner)")
    _download_args(bump, "tarball")
    bump.set_defaults(func=cmd_bump)
    new = subs.add_parser("new", help="write a tool's spec skeleton from its upstream tarball")
    new.add_argument("name", metavar="NAME", help="the new tool (specs/NAME/NAME.spec)")
    new.add_argument("--url", required=True, metavar="TARBALL_URL", help="upstream's release tarball")
    new.add_argument("--version", help="the release's version (default: from the tarball's name)")
    new.add_argument("--mpi", action="store_true", help="build once per MPI family (openmpi, mpich)")
    new.add_argument("--owner", default="Cluster Packagers <cluster-packagers@example.org>",
                     metavar="'NAME <EMAIL>'", help="who owns the tool (default: %(default)s)")
    _download_args(new, "tarball")
    new.set_defaults(func=cmd_new)
    srpm = subs.add_parser("srpm", help="the project's own SRPMs from the tree: its source tarball "
                           "(the same bytes for the same tree) and rpmbuild -bs")
    srpm.add_argument("names", nargs="*", metavar="NAME",
                      help="dnf-plugin-cluster, dnf5-plugin-cluster (default: both)")
    srpm.add_argument("--target", default=DEFAULT_TARGET, choices=sorted(TARGETS),
                      help="distribution whose macros rpmbuild uses (default: %(default)s)")
    srpm.add_argument("-o", "--outdir", default=os.path.join("out", "srpm"), metavar="DIR",
                      help="where the tarballs and SRPMs go (default: %(default)s)")
    srpm.set_defaults(func=cmd_srpm)
    for command in subs.choices.values():
        _loudness_args(command, "command_verbosity")
    return top


def main(argv):
    top = parser()
    args = top.parse_args(argv)
    say.set_level(verbosity(top, args))
    if getattr(args, "command", None) == "closure" and not args.base_repo:
        say.error("closure needs --base-repo URL")
        return 2
    try:
        return args.func(args)
    except ClusterError as err:
        say.error(err)
        return 1

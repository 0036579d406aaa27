#!/usr/bin/python3
"""Man pages and bash completion generated from the argparse definitions, at build time.

    tools/gen_docs.py SRC_TREE OUTDIR

writes OUTDIR/dnf-cluster.8, cluster-repo.1, cluster.conf.5 and
OUTDIR/completions/{dnf-cluster,cluster-repo}; the plugin spec runs it in %build.

- cluster-repo.1: argparse-manpage over `cluster_repo.cli.parser()`.
- dnf-cluster.8: the dnf commands parse with dnf's own option parser, so a plain
  argparse parser is built here with one subparser per command on which the command
  class's own `set_argparser()` is called: every option of `dnf cluster-node`,
  `cluster-group` and `cluster-master` (= `dnf-cluster node|group|master`) comes from
  the code that parses it.
- cluster.conf.5: from `dnf_plugin_cluster.nodeconf.KEYS`, the keys `read()` reads.
- completion: static bash functions walking the same parsers (no runtime dependency,
  nothing runs on TAB).

argparse-manpage is a build-time dependency only (Debian 12: 1.2.2, Debian 13: 4.5,
Fedora and EPEL: 4.x): only options those versions share are used; the title line, NAME
(`name \\- summary`, which whatis needs) and the extra sections are set afterwards.
"""
import argparse
import os
import re
import subprocess
import sys
import textwrap
import time


def _project_url():
    """dnf_plugin_cluster.__url__, read without importing (nothing else is on the path yet)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(here, "dnf_plugin_cluster", "__init__.py")) as handle:
        return re.search(r'^__url__ = "([^"]+)"', handle.read(), re.M).group(1)


URL = _project_url()
PROJECT = "dnf-plugin-cluster"

#: dnf-cluster(8): how `cluster-master services` gives Slurm a GPU-like role's GPUs
GPU_NODES = (
    "A role is GPU\\-like when it installs the comps group \\fBcluster\\-gpu\\fR or sets \\fBgpus:\\fR. "
    "\\fBdnf cluster\\-master services\\fR gives its nodes' \\fBNodeName\\fR lines \\fBGres=gpu:\\fR\\fIN\\fR "
    "(and slurm.conf \\fBGresTypes=gpu\\fR, with \\fBSelectType=select/cons_tres\\fR, which every "
    "slurm.conf it writes has) and writes /etc/slurm/gres.conf, which configless slurmd fetches with "
    "slurm.conf: \\fBNodeName=\\fINODES\\fB Name=gpu File=\\fIDEVICES\\fR. \\fIN\\fR is what the node's own "
    "\\fBslurmd \\-C\\fR reports (\\fBGres=gpu:4\\fR, or \\fBgpu:a100:4\\fR, which adds "
    "\\fBType=a100\\fR), else the role's count:\n"
    ".PP\n.nf\n    # /etc/cluster/roles/gpu.yaml\n    groups: [cluster\\-gpu]\n"
    "    gpus: 4                          # GPUs per node\n"
    "    gpu_devices: /dev/nvidia[0\\-3]    # gres.conf File= (default: /dev/nvidia[0\\-N\\-1])\n.fi\n.PP\n"
    "A GPU\\-like role whose nodes report no GPUs and that sets no \\fBgpus:\\fR is refused in one line "
    "naming the role's file, before anything changed. \\fBgpu_devices:\\fR names other device files "
    "(\\fB/dev/dri/renderD[128\\-131]\\fR). Once no node has GPUs, the gres.conf it wrote is removed; "
    "a gres.conf of the site's own is left alone.")

#: Each man page's EXAMPLES: (heading, [(what it does, command line)]), the README's
#: flows. Every command line is one of the page's own programs (`dnf cluster-X` is
#: `dnf-cluster X`) and parses with the parser the page is made from
#: (tests/test_docs.py runs each through it), so an example cannot go stale.
EXAMPLES = {
    "dnf-cluster": [
        ("The head node: publishing the site profile", [
            ("What a publish would change, resolving a lock for every role and arch, without writing anything:",
             ("dnf cluster-master publish --roles /etc/cluster/roles --repo-dir /srv/cluster/site",
              "--baseurl https://head.example.org/site --lock --dry-run")),
            ("Publish it as the next generation (with site, baseurl and sign_key in the [master] section of "
             "cluster.conf(5), no other option is needed):",
             "dnf cluster-master publish --lock --message 'first profile'"),
            ("The published generations, then generation 3 in detail:", "dnf cluster-master history"),
            (None, "dnf cluster-master history 3"),
            ("Publish generation 2 again, as a new generation:", "dnf cluster-master rollback 2"),
            ("A kickstart fragment for new compute nodes, on standard output:",
             "dnf cluster-master kickstart --role compute"),
        ]),
        ("The head node: the fleet and its services", [
            ("How the nodes differ from their roles, identical answers grouped (exit 100 on drift):",
             "dnf cluster-master status -w @compute,@gpu"),
            ("Roll the profile out: two canaries, then waves of 64 nodes; it shows the waves and asks first:",
             "dnf cluster-master sync -w @compute --canary 2 --wave-size 64"),
            ("Configless Slurm and the munge key on the head node and the nodes of the roles:",
             "dnf cluster-master services --roles /etc/cluster/roles"),
        ]),
        ("A node", [
            ("Converge this node to its role (role= in cluster.conf); the packaged cluster-node-sync.timer runs "
             "the same hourly once enabled (systemctl enable --now cluster-node-sync.timer):",
             "dnf cluster-node sync"),
            ("What a sync would do, without doing it:", "dnf cluster-node sync --dry-run"),
            ("Whether the node is in sync (exit 0) or drifts (exit 100), as text or JSON:",
             "dnf cluster-node status"),
            (None, "dnf-cluster node status --json"),
            ("An image root, converged to its own role (the root's own cluster.conf wins):",
             "dnf-cluster --installroot /srv/images/compute node sync"),
            ("The cluster groups of this node's arch:", "dnf cluster-group list"),
        ]),
    ],
    "cluster-repo": [
        ("Packaging a tool from its upstream tarball", [
            ("A spec skeleton from the release tarball (downloaded, bounded, into the lookaside cache):",
             "cluster-repo new mbw --url https://example.org/mbw/mbw-1.5.tar.gz"),
            ("Or record tarballs at hand as the tool's sources lines:",
             "cluster-repo new-sources netpipe NetPIPE-3.7.2.tar.gz"),
            ("Fetch every tool's tarballs the cache lacks, each verified against its SHA512:",
             "cluster-repo sources"),
            ("A new upstream version: Version, Release 1, the tarball, its sources line and a %changelog entry:",
             "cluster-repo bump mbw 1.6 --comment 'Update to 1.6'"),
            ("Who owns a package:", "cluster-repo owners netpipe"),
        ]),
        ("Building the repository", [
            ("Comps, metapackage definitions and specs, checked together:", "cluster-repo lint"),
            ("Build for EL 9, signed, with the closure check against the distribution's repository:",
             ("cluster-repo build /srv/cluster/el --target el9",
              "--base-repo 'https://mirror.example.org/el9/$basearch'",
              "--baseurl https://mirror.example.org/cluster/el --sign-key 0x1234ABCD")),
            ("Rebuild only the specs whose inputs changed, into the testing channel:",
             "cluster-repo build /srv/cluster/el --update --channel testing"),
            ("Check a built tree again (every package installs on every arch):",
             ("cluster-repo closure /srv/cluster/el",
              "--base-repo 'https://mirror.example.org/el9/$basearch'")),
            ("From outside the source tree, results and errors only:",
             "cluster-repo -C ~/src/dnf-plugin-cluster -q lint"),
        ]),
    ],
}


def examples_section(prog):
    """The EXAMPLES section (roff) of `prog`'s page."""
    out = []
    for heading, items in EXAMPLES[prog]:
        out.append(".SS {}".format(_man_escape(heading)))
        for text, command in items:
            if text:
                out += [".PP", _man_escape(text)]
            # a long command goes on in lines ending in a backslash, as one types it
            lines = [command] if isinstance(command, str) else list(command)
            shown = " \\\\\n    ".join(_man_escape(line) for line in lines)
            out += [".RS 4", ".nf", "\\fB{}\\fR".format(shown), ".fi", ".RE"]
    return "\n".join(out)


#: (page, section, manual, parser function, NAME summary, extra sections)
PAGES = (
    ("dnf-cluster", "8", "System Administration", "dnf_cluster_parser",
     "converge cluster nodes to the cluster profile (dnf cluster-node, cluster-group, cluster-master)",
     [("EXIT STATUS", "0 in sync or synced, 100 drift found (\\fBstatus\\fR, \\fB\\-\\-check\\fR, fleet status), "
                      "1 error."),
      ("FILES", ".TP\n/etc/dnf/plugins/cluster.conf\nthe node's role and profile repository, see "
                "cluster.conf(5)\n.TP\n/var/lib/dnf/cluster/state.json\nwhat the profile installed on "
                "this node\n.TP\ncluster\\-node\\-sync.timer\nruns \\fBdnf\\-cluster node sync\\fR hourly "
                "(not enabled by default)"),
      ("GPU NODES", GPU_NODES),
      ("SEE ALSO", ".BR dnf (8),\n.BR cluster.conf (5),\n.BR cluster\\-repo (1)")]),
    ("cluster-repo", "1", "User Commands", "cluster_repo_parser",
     "build the cluster repository from comps and metapackage definitions",
     [("SEE ALSO", ".BR rpmbuild (8),\n.BR createrepo_c (8),\n.BR rpmlint (1),\n.BR dnf\\-cluster (8)")]),
)


#: dnf's own options that take a value (dnf 4 and dnf5 spell them alike), for the man
#: page and so that completion offers a directory, a file or nothing after them
DNF_VALUED = (
    (("-c", "--config"), "FILE", "configuration file"),
    (("--installroot",), "DIR", "operate on the system (or image) root DIR"),
    (("--releasever",), "RELEASEVER", "the release version repositories expand"),
    (("--forcearch",), "ARCH", "act as a node of this architecture"),
    (("--setopt",), "KEY=VALUE", "set a configuration option"),
    (("--repo", "--repoid"), "REPOID", "enable only these repositories"),
    (("--enablerepo",), "REPOID", "enable repositories"),
    (("--disablerepo",), "REPOID", "disable repositories"),
    (("-x", "--exclude"), "PACKAGE", "exclude packages"),
    (("--comment",), "COMMENT", "comment recorded in the transaction history"),
)


def dnf_cluster_parser():
    """argparse twin of `dnf-cluster` / `dnf cluster-node|cluster-group|cluster-master`."""
    from dnf_plugin_cluster.commands.group import ClusterGroupCommand
    from dnf_plugin_cluster.commands.master import ClusterMasterCommand
    from dnf_plugin_cluster.commands.node import ClusterNodeCommand
    top = argparse.ArgumentParser(
        prog="dnf-cluster",
        description="Keep cluster nodes converged to the cluster profile. Every command is "
                    "also a dnf command: `dnf-cluster node sync` is `dnf cluster-node sync`. "
                    "The options of dnf(8) apply too (-y, -q, -C, --installroot, --forcearch, ...).")
    top.add_argument("--backend", choices=("dnf4", "libdnf5"),
                     help="the package manager library that runs the command (default: libdnf5 on dnf5 "
                          "hosts, dnf 4 elsewhere)")
    top.add_argument("--version", action="store_true", help="dnf-cluster's version and the backend's, then exit")
    dnf_opts = top.add_argument_group("dnf options", "The options of dnf(8) that take a value, as completion "
                                      "offers them; every other dnf option applies too.")
    for names, metavar, text in DNF_VALUED:
        dnf_opts.add_argument(*names, metavar=metavar, help=text)
    # a titled group of its own, after the options: argparse-manpage 1.2.2 writes a
    # group's actions in order, so the top options stay in OPTIONS, not in the last command's
    subs = top.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for short, cls in (("node", ClusterNodeCommand), ("group", ClusterGroupCommand),
                       ("master", ClusterMasterCommand)):
        # no argparse aliases: man page generators repeat a section per alias
        sub = subs.add_parser(short, help="{} (dnf {})".format(cls.summary, cls.aliases[0]),
                              description="{}. Also `dnf {} ...`.".format(cls.summary, cls.aliases[0]))
        cls.set_argparser(sub)
    return top


def cluster_repo_parser():
    from cluster_repo.cli import parser
    return parser()


# ------------------------------------------------------------------ man pages

def _version():
    import dnf_plugin_cluster
    return dnf_plugin_cluster.__version__


def _date():
    """The build date, reproducible: rpmbuild exports SOURCE_DATE_EPOCH from %changelog."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return time.strftime("%Y-%m-%d", time.gmtime(int(epoch) if epoch else time.time()))


def _man_escape(text):
    return text.replace("\\", "\\\\").replace("-", "\\-")


def argparse_manpage(function, name, section, manual, summary, extra, out):
    """Run the argparse-manpage command (1.2.2 and 4.x), then set what 1.2.2 cannot."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
    subprocess.run(["argparse-manpage", "--module", "gen_docs", "--function", function,
                    "--project-name", PROJECT, "--url", URL, "--output", out], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    with open(out) as handle:
        lines = handle.read().splitlines()
    lines[0] = '.TH {} "{}" "{}" "{} {}" "{}"'.format(name.upper(), section, _date(), PROJECT, _version(), manual)
    for index, line in enumerate(lines):
        if line == ".SH NAME":
            lines[index + 1] = "{} \\- {}".format(name, _man_escape(summary))
            break
    # argparse-manpage ends with AUTHORS (1.2.2 without --author-email, which 4.x lacks:
    # "<<UNSET ...>>") and DISTRIBUTION: ours replace the first and go before the second
    tail = next((i for i, l in enumerate(lines) if l.startswith(".SH AUTHOR") or l.startswith(".SH DISTRIBUTION")),
                len(lines))
    end = next((i for i in range(tail + 1, len(lines)) if lines[i].startswith(".SH ")), len(lines))
    if tail < len(lines) and lines[tail].startswith(".SH AUTHOR"):
        del lines[tail:end]
    extra = list(extra)
    if name in EXAMPLES:            # before SEE ALSO, as man-pages(7) orders them
        at = next((i for i, (title, _) in enumerate(extra) if title == "SEE ALSO"), len(extra))
        extra.insert(at, ("EXAMPLES", examples_section(name)))
    extra += [("AUTHORS", "The dnf\\-plugin\\-cluster developers.")]
    added = []
    for title, body in extra:
        added += [".SH {}".format(title), body]
    lines[tail:tail] = added
    with open(out, "w") as handle:
        handle.write("\n".join(lines) + "\n")


#: cluster.conf(5)'s EXAMPLES: (what it is, the file); tests/test_docs.py reads each
#: with nodeconf.read(), which must know every key of it.
CONF_EXAMPLES = (
    ("A compute node that keeps its Lustre client and the NVIDIA driver whatever its profile says:",
     ("[main]", "enabled = 1", "role = compute", "protected = lustre-client, nvidia-driver*")),
    ("The head node, whose dnf cluster-master publish --lock and sync then need no options:",
     ("[main]", "enabled = 1", "role = master", "", "[master]", "site = /srv/cluster/site",
      "baseurl = https://head.example.org/site", "roles = /etc/cluster/roles", "sign_key = 0x1234ABCD",
      "nodes = @all")),
)


def conf_examples():
    out = []
    for text, lines in CONF_EXAMPLES:
        out += [".PP", _man_escape(text), ".RS 4", ".nf"] + [_man_escape(l) for l in lines] + [".fi", ".RE"]
    return out


def conf_manpage(out):
    from dnf_plugin_cluster import nodeconf
    rows, master = [], []
    for key, default, text in nodeconf.KEYS:
        rows += [".TP", "\\fB{}\\fR = \\fI{}\\fR".format(key, _man_escape(default)), _man_escape(text)]
    for key, default, text in nodeconf.MASTER_KEYS:
        master += [".TP", "\\fB{}\\fR = \\fI{}\\fR".format(key, _man_escape(default)), _man_escape(text)]
    page = [
        '.TH CLUSTER.CONF "5" "{}" "{} {}" "File Formats"'.format(_date(), PROJECT, _version()),
        ".SH NAME", "cluster.conf \\- configuration of the cluster dnf plugin and dnf\\-cluster",
        ".SH SYNOPSIS", "/etc/dnf/plugins/cluster.conf",
        ".SH DESCRIPTION",
        "An INI file with a \\fB[main]\\fR section for every node and, on the head node, a "
        "\\fB[master]\\fR section with the defaults of \\fBdnf cluster\\-master\\fR, so that "
        "\\fBdnf cluster\\-master publish\\fR works without options. In an image root (dnf "
        "\\fB\\-\\-installroot\\fR) the root's own /etc/dnf/plugins/cluster.conf wins over the host's, so "
        "each image converges to its own role. A key or section it does not know is named in a warning, "
        "with the keys it knows, and ignored.",
        ".SH OPTIONS", ".SS [main]"] + rows + [".SS [master]",
        "The head node's defaults; each option of \\fBdnf cluster\\-master\\fR of the same meaning "
        "overrides its key."] + master + [
        ".SH EXAMPLES"] + conf_examples() + [
        ".SH SEE ALSO", ".BR dnf\\-cluster (8),", ".BR dnf.conf (5)", ""]
    with open(out, "w") as handle:
        handle.write("\n".join(page))


# ------------------------------------------------------------------ completion

DIR_HINTS = ("DIR", "OUTDIR", "PROJECT")
FILE_HINTS = ("FILE", "OUTPUT")


def walk(parser):
    """(options, {subcommand: parser}, positional words, {option: kind}, positional kind)
    of one parser; kind is "dir", "file", "any" or a tuple of choices."""
    opts, subs, words, valued, positional = [], {}, [], {}, None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            subs.update(action.choices)
            continue
        hint = (action.metavar or action.dest or "").upper()
        kind = tuple(action.choices) if action.choices else \
            "dir" if hint in DIR_HINTS else "file" if hint in FILE_HINTS else "any"
        if action.option_strings:
            opts += action.option_strings
            if action.nargs != 0:
                for option in action.option_strings:
                    valued[option] = kind
        elif isinstance(kind, tuple):
            words += list(kind)
        elif kind in ("dir", "file"):
            positional = kind
    return opts, subs, words, valued, positional


#: spellings the parser does not list: dnf-cluster takes the dnf command names too
ALIASES = {("dnf-cluster", "node"): ["cluster-node"], ("dnf-cluster", "group"): ["cluster-group"],
           ("dnf-cluster", "master"): ["cluster-master"]}


def bash_completion(prog, parser):
    fn = "_" + re.sub(r"[^A-Za-z0-9]", "_", prog)
    top_opts, subs, _, top_valued, _ = walk(parser)
    cases, valued = [], dict(top_valued)
    for name, sub in sorted(subs.items()):
        opts, _, words, sub_valued, positional = walk(sub)
        valued.update(sub_valued)
        names = [name] + ALIASES.get((prog, name), [])
        cases.append('        {}) words_here="{}"{} ;;'.format(
            "|".join(names), " ".join(words + sorted(opts)),
            "; files_here={}".format(positional) if positional else ""))

    def alternatives(kind):
        return " | ".join(sorted(o for o, k in valued.items() if k == kind)) or "--no-such-option"
    choice_cases = "".join('        {}) COMPREPLY=($(compgen -W "{}" -- "$cur")); return ;;\n'.format(
        option, " ".join(kind)) for option, kind in sorted(valued.items()) if isinstance(kind, tuple))
    return textwrap.dedent("""\
        # bash completion for {prog}                                 -*- shell-script -*-
        # Generated at build time from the argparse definitions by tools/gen_docs.py: do not edit.
        {fn}()
        {{
            local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
            local i cmd="" words_here files_here=""
            case $prev in
        {choice_cases}        {dirs}) COMPREPLY=($(compgen -d -- "$cur")); return ;;
                {files}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
                {anyv}) return ;;
            esac
            for ((i = 1; i < COMP_CWORD; i++)); do
                case ${{COMP_WORDS[i-1]}} in {valued_top}) continue ;; esac
                case ${{COMP_WORDS[i]}} in
                    -*) ;;
                    *) cmd=${{COMP_WORDS[i]}}; break ;;
                esac
            done
            case $cmd in
                "") words_here="{subs} {top}" ;;
        {cases}
                *) words_here="" ;;
            esac
            COMPREPLY=($(compgen -W "$words_here" -- "$cur"))
            if [[ $cur != -* ]]; then
                case $files_here in
                    dir) COMPREPLY+=($(compgen -d -- "$cur")) ;;
                    file) COMPREPLY+=($(compgen -f -- "$cur")) ;;
                esac
            fi
        }}
        complete -F {fn} {prog}
        """).format(prog=prog, fn=fn, dirs=alternatives("dir"), files=alternatives("file"),
                    anyv=alternatives("any"), subs=" ".join(sorted(subs)), top=" ".join(sorted(top_opts)),
                    valued_top=" | ".join(sorted(top_valued)) or "--no-such-option",
                    cases="\n".join(cases), choice_cases=choice_cases)


PARSERS = (("dnf-cluster", dnf_cluster_parser), ("cluster-repo", cluster_repo_parser))


def main(src, outdir):
    src = os.path.abspath(src)
    sys.path.insert(0, src)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    os.makedirs(os.path.join(outdir, "completions"), exist_ok=True)
    for name, section, manual, function, summary, extra in PAGES:
        argparse_manpage(function, name, section, manual, summary, extra,
                         os.path.join(outdir, "{}.{}".format(name, section)))
    conf_manpage(os.path.join(outdir, "cluster.conf.5"))
    for prog, make_parser in PARSERS:
        with open(os.path.join(outdir, "completions", prog), "w") as handle:
            handle.write(bash_completion(prog, make_parser()))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: gen_docs.py SRC_TREE OUTDIR")
    sys.exit(main(sys.argv[1], sys.argv[2]))

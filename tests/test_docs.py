"""Man pages (dnf-cluster.8, cluster-repo.1, cluster.conf.5) and bash completion come
out of the argparse definitions and nodeconf's keys (tools/gen_docs.py), so they cannot
drift: every command, subcommand and option of the parsers is in them, the completion
offers them to bash, and the packages ship exactly what the generator writes."""
import argparse
import gzip
import os
import re
import subprocess
import sys

import pytest

from cluster_testkit import REPO_ROOT

sys.path.insert(0, os.path.join(REPO_ROOT, "tools"))
import gen_docs  # noqa: E402


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tools", "gen_docs.py"), REPO_ROOT, str(out)],
                   check=True, env=dict(os.environ, SOURCE_DATE_EPOCH="1795564800"))
    return str(out)


def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as handle:
        return handle.read()


def plain(roff):
    """Man page text with roff's escaped hyphens and font changes taken out."""
    return re.sub(r"\\f[BIRP]|\\/|\\,", "", roff.replace("\\-", "-"))


def parser_words(parser):
    """{subcommand: (options, positional choices)} of a parser and its subparsers."""
    _, subs, _, _, _ = gen_docs.walk(parser)
    out = {}
    for name, sub in subs.items():
        opts, _, words, _, _ = gen_docs.walk(sub)
        out[name] = (opts, words)
    return out


PARSERS = {"dnf-cluster": ("dnf-cluster.8", gen_docs.dnf_cluster_parser),
           "cluster-repo": ("cluster-repo.1", gen_docs.cluster_repo_parser)}


@pytest.mark.parametrize("prog", sorted(PARSERS))
def test_man_page_has_every_command_and_option(docs, prog):
    page, make = PARSERS[prog]
    text = plain(read(os.path.join(docs, page)))
    section = page.rsplit(".", 1)[1]
    assert text.startswith('.TH {} "{}" "2026-11-25" "dnf-plugin-cluster 0.1.0"'.format(prog.upper(), section))
    assert re.search(r"^\.SH NAME\n{} - \S".format(re.escape(prog)), text, re.M)      # what whatis reads
    words = parser_words(make())
    assert len(words) >= 3
    sections = text.split("\n.SH ")
    for sub, (opts, choices) in sorted(words.items()):
        # argparse-manpage 1.2.2 writes one "OPTIONS 'prog sub'" section per subcommand,
        # 4.x a "COMMAND 'prog sub'" section and, when it has options, an "OPTIONS" one
        title = "'{} {}'".format(prog, sub)
        body = "\n".join(s for s in sections if s.split("\n", 1)[0].endswith(title))
        assert body, sub
        for word in opts + choices:
            if word not in ("-h", "--help"):
                assert word in body, (prog, sub, word)
    if prog == "dnf-cluster":
        for command in ("cluster-node", "cluster-group", "cluster-master"):
            assert "dnf {}".format(command) in text
        assert "\n.SH EXIT STATUS\n0 in sync or synced, 100 drift found" in text


def test_cluster_conf_page_has_every_key_nodeconf_reads(docs, tmp_path):
    from dnf_plugin_cluster import nodeconf
    text = plain(read(os.path.join(docs, "cluster.conf.5")))
    keys = [key for key, _, _ in nodeconf.KEYS]
    main, master = text.split("\n.SS [master]\n")
    for key in keys:
        assert "\n.TP\n{} = ".format(key) in main, key
    for key, _, _ in nodeconf.MASTER_KEYS:          # the head node's section, after [main]'s
        assert "\n.TP\n{} = ".format(key) in master, key
    # the shipped cluster.conf documents no key the page lacks
    shipped = read(os.path.join(REPO_ROOT, "etc", "dnf", "plugins", "cluster.conf"))
    head = shipped.index("#[master]")
    assert set(re.findall(r"^#?(\w+) = ", shipped[:head], re.M)) <= set(keys)
    assert set(re.findall(r"^#?(\w+) = ", shipped[head:], re.M)) == set(k for k, _, _ in nodeconf.MASTER_KEYS)
    # and read() reads exactly the keys after dnf's own `enabled`
    with open(nodeconf.__file__) as handle:
        assert set(re.findall(r'get\("(\w+)"\)', handle.read())) == set(keys[1:])
    conf = tmp_path / "cluster.conf"
    conf.write_text("[main]\nenabled = 1\nrole = gpu\nprofile_repo = site-cluster\nprotected = lustre*\n"
                    "max_remove = 7\n")
    node = nodeconf.read(None, [str(tmp_path)])
    assert (node.role, node.profile_repo, node.protected, node.max_remove) == ("gpu", "site-cluster", ("lustre*",), 7)
    conf.write_text("[main]\nrole = master\n[master]\nsite = /srv/cluster/site\nsign_key =\nnodes = @all\nsit = x\n")
    head = nodeconf.read(None, [str(tmp_path)])
    assert head.master == {"site": "/srv/cluster/site", "nodes": "@all"}          # an empty key is unset
    assert head.warnings == ["{}:7: unknown key 'sit' in [master], ignored (known: {})".format(
        conf, ", ".join(k for k, _, _ in nodeconf.MASTER_KEYS))]


def complete(docs, prog, *words):
    """What bash offers for `prog WORDS...<TAB>` with the generated completion."""
    script = ('source {}; COMP_WORDS=({} "$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); COMPREPLY=(); '
              '_{}; printf "%s\\n" "${{COMPREPLY[@]}}"').format(
                  os.path.join(docs, "completions", prog), prog, re.sub(r"\W", "_", prog))
    proc = subprocess.run(["bash", "-c", script, "bash"] + list(words), stdout=subprocess.PIPE, check=True,
                          universal_newlines=True, cwd=REPO_ROOT)
    return set(proc.stdout.split())


@pytest.mark.parametrize("prog", sorted(PARSERS))
def test_completion_offers_every_subcommand_and_option(docs, prog):
    _, make = PARSERS[prog]
    parser = make()
    words = parser_words(parser)
    top_opts = gen_docs.walk(parser)[0]
    assert complete(docs, prog, "") == set(words) | set(top_opts)
    for sub, (opts, choices) in sorted(words.items()):
        assert complete(docs, prog, sub, "") >= set(opts) | set(choices), sub
        if prog == "dnf-cluster":      # the dnf command names work as well
            assert complete(docs, prog, "cluster-" + sub, "") == complete(docs, prog, sub, "")
    for sub, (opts, _) in sorted(words.items()):
        for option in opts:
            kind = gen_docs.walk(parser._subparsers._group_actions[0].choices[sub])[3].get(option)
            if isinstance(kind, tuple):
                assert complete(docs, prog, sub, option, "") == set(kind), (sub, option)


def test_completion_examples(docs):
    from cluster_repo.targets import TARGETS
    assert complete(docs, "cluster-repo", "build", "--target", "") == set(TARGETS)
    assert complete(docs, "cluster-repo", "-C", ".", "b") == {"build", "bump"}
    assert {"sync", "status", "--dry-run", "--check"} <= complete(docs, "dnf-cluster", "node", "")
    assert complete(docs, "dnf-cluster", "master", "--worker", "") == {"ssh", "exec"}
    assert "specs" in complete(docs, "cluster-repo", "build", "sp")             # OUTDIR: directories
    assert complete(docs, "dnf-cluster", "master", "--repo-dir", "spe") == {"specs"}


def test_completion_after_the_global_options(docs):
    """`--backend` offers the backends; dnf's valued options take their value (a directory
    after --installroot, a file after -c, anything after --releasever) and the command
    word after them is found."""
    assert complete(docs, "dnf-cluster", "--backend", "") == {"dnf4", "libdnf5"}
    assert complete(docs, "dnf-cluster", "--installroot", "spe") == {"specs"}
    assert "README.md" in complete(docs, "dnf-cluster", "-c", "READ")
    assert complete(docs, "dnf-cluster", "--releasever", "") == set()
    assert {"node", "group", "master"} <= complete(docs, "dnf-cluster", "--releasever", "9", "")
    assert {"sync", "status"} <= complete(docs, "dnf-cluster", "--installroot", "/tmp", "-c", "x.conf", "node", "")
    assert {"sync", "status"} <= complete(docs, "dnf-cluster", "--backend", "dnf4", "node", "")


def test_help_and_version_name_our_options():
    """`dnf-cluster --help` describes --backend; `--version` prints ours and the backend's,
    not dnf's banner."""
    import dnf_plugin_cluster
    run = lambda *args: subprocess.run([sys.executable, os.path.join(REPO_ROOT, "bin", "dnf-cluster")] + list(args),
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    helped = run("--backend", "dnf4", "--help")
    assert helped.returncode == 0 and "--backend {dnf4,libdnf5}" in helped.stdout, helped.stdout
    version = run("--backend", "dnf4", "--version")
    assert version.returncode == 0
    assert re.match(r"dnf-cluster {} \(backend dnf4: dnf 4\.\d+".format(re.escape(dnf_plugin_cluster.__version__)),
                    version.stdout), version.stdout
    assert run("--backend", "dnf4", "node", "--version").stdout == version.stdout


def test_packages_ship_the_generated_pages_and_completion(cluster_repo_el9, docs, tmp_path):
    """The specs install what the generator writes (generated again in %build), each
    program's man page beside it in the same package."""
    packages = os.path.join(cluster_repo_el9, "9", "x86_64", "Packages")
    shipped = {"python3-dnf-plugin-cluster": ["usr/share/man/man8/dnf-cluster.8.gz", "usr/share/man/man5/cluster.conf.5.gz",
                                              "usr/share/bash-completion/completions/dnf-cluster"],
               "cluster-repo": ["usr/share/man/man1/cluster-repo.1.gz",
                                "usr/share/bash-completion/completions/cluster-repo"]}
    for name, paths in sorted(shipped.items()):
        root = tmp_path / name
        root.mkdir()
        rpm = os.path.join(packages, "{}-0.1.0-1.el9.noarch.rpm".format(name))
        subprocess.run("rpm2cpio {} | cpio -idm --quiet".format(rpm), shell=True, cwd=str(root), check=True)
        for path in paths:
            ours = read(str(root / path))
            generated = read(os.path.join(docs, os.path.basename(path)[:-3] if path.endswith(".gz")
                                          else os.path.join("completions", os.path.basename(path))))
            strip_date = lambda text: re.sub(r'^(\.TH \S+ "\d") "[^"]*"', r"\1", text)
            assert strip_date(ours) == strip_date(generated), path
        for binary in os.listdir(str(root / "usr" / "bin")):
            assert [p for p in paths if "/man/" in p and os.path.basename(p).startswith(binary + ".")], binary
        # Fedora's shell completions guideline: the completion directories are not ours to own
        owned = subprocess.run(["rpm", "-qlp", rpm], stdout=subprocess.PIPE, universal_newlines=True,
                               check=True).stdout.split()
        assert not {"/usr/share/bash-completion", "/usr/share/bash-completion/completions"} & set(owned), name


def described_options(command):
    """[(option strings, help text as argparse prints it)] of a command's own parser."""
    import argparse
    parser = argparse.ArgumentParser(prog="dnf " + command.aliases[0])
    command.set_argparser(parser)
    formatter = parser._get_formatter()
    return [(action.option_strings, formatter._expand_help(action)) for action in parser._actions
            if action.help and action.help != argparse.SUPPRESS and "--help" not in action.option_strings]


def squash(text):
    """Text without its white space: wrapping (argparse's, roff's) moves no word."""
    return "".join(text.split())


@pytest.mark.parametrize("short", ["node", "group", "master"])
def test_every_option_and_subcommand_is_described_in_help_and_man_page(make_root, docs, short):
    """`dnf cluster-X --help` (dnf 4 drops the options of a command's own argument groups
    from its help: -w, --fanout, --canary, ...) and `dnf-cluster X --help` describe every
    option of the command, and each subcommand in a line of its own; the man page has
    every option's description too."""
    from dnf_plugin_cluster.commands import COMMANDS, SHORT
    name = dict(SHORT)[short]
    command = [c for c in COMMANDS if c.aliases[0] == name][0]
    root = make_root("help")
    man = plain(read(os.path.join(docs, "dnf-cluster.8")))
    body = "\n".join(s for s in man.split("\n.SH ") if s.split("\n", 1)[0].endswith("'dnf-cluster {}'".format(short)))
    body = squash(body.replace("\n.br\n", " "))
    for helped in (root.dnf(name, "--help"), root.cluster("--backend", "dnf4", short, "--help")):
        assert helped.rc == 0
        text = helped.out[helped.out.index("{} command-specific options".format(name.capitalize())):]
        for options, description in described_options(command):
            for option in options:
                assert re.search(r"^  (\S+ )*{}\b".format(re.escape(option)), text, re.M), (option, text)
            assert squash(description) in squash(text), (options, description)
            assert squash(description) in body, (options, description)
        for sub in command.subcommands:
            line = "{}: *{}".format(re.escape(sub), re.escape(command.descriptions[sub]))
            assert re.search(r"^ +(\{\S+\} +)?" + line + ";?$", text, re.M), (sub, text)
            assert squash("{}: {}".format(sub, command.descriptions[sub])) in body, sub


# --- EXAMPLES: the README's flows, each a command the real parser takes ----------------

def section(text, title):
    """The body of the man page section `title` (plain text)."""
    found = [s.split("\n", 1)[1] for s in text.split("\n.SH ") if s.split("\n", 1)[0] == title]
    assert len(found) == 1, title
    return found[0]


def example_lines(text):
    """The command lines of a page's EXAMPLES, as one types them: roff's `\\\\` at a
    line's end is the shell's line continuation."""
    blocks = re.findall(r"^\.nf\n(.*?)\n\.fi$", section(text, "EXAMPLES"), re.S | re.M)
    return [block.replace("\\\\\n", " ").replace("\\\\", "\\") for block in blocks]


#: `dnf cluster-X ...` is `dnf-cluster X ...`
DNF_COMMANDS = {"cluster-node": "node", "cluster-group": "group", "cluster-master": "master"}


def parse_example(line):
    """(program, Namespace) of an example line through the parser its page is made from;
    a line argparse refuses fails the test with the line."""
    import shlex
    argv = shlex.split(line)
    assert "-h" not in argv and "--help" not in argv, line
    prog, args = argv[0], argv[1:]
    if prog == "dnf":
        command = [a for a in args if a in DNF_COMMANDS]
        assert command, line
        at = args.index(command[0])
        args, prog = args[:at] + [DNF_COMMANDS[command[0]]] + args[at + 1:], "dnf-cluster"
    make = {"dnf-cluster": gen_docs.dnf_cluster_parser, "cluster-repo": gen_docs.cluster_repo_parser}.get(prog)
    assert make is not None, "not one of ours: " + line
    try:
        return prog, make().parse_args(args)
    except SystemExit:
        pytest.fail("the parser refuses the example: " + line)


def test_every_example_parses_and_the_readme_flows_are_there(docs):
    seen = set()
    for prog, (page, _) in sorted(PARSERS.items()):
        lines = example_lines(plain(read(os.path.join(docs, page))))
        assert len(lines) >= 8, page
        for line in lines:
            assert line.startswith(prog) or line.startswith("dnf cluster-"), (page, line)
            who, args = parse_example(line)
            if who == "cluster-repo":
                seen.add((who, args.command))
            else:
                seen.add((args.command, args.subcommand[0]) + (("-w",) if getattr(args, "nodes", None) else ())
                         + (("--lock",) if getattr(args, "lock", False) else ()))
    assert {("cluster-repo", c) for c in ("new", "new-sources", "sources", "build", "lint", "bump")} <= seen
    assert {("master", "publish", "--lock"), ("master", "history"), ("master", "rollback"),
            ("master", "sync", "-w"), ("master", "status", "-w"), ("master", "services"),
            ("node", "sync"), ("node", "status")} <= seen
    dnf_cluster = plain(read(os.path.join(docs, "dnf-cluster.8")))
    assert "systemctl enable --now cluster-node-sync.timer" in section(dnf_cluster, "EXAMPLES")
    # as man-pages(7) orders them: EXAMPLES before SEE ALSO
    titles = [s.split("\n", 1)[0] for s in dnf_cluster.split("\n.SH ")]
    assert titles.index("EXAMPLES") == titles.index("SEE ALSO") - 1


def test_a_stale_example_fails_the_check():
    """What the test above catches: an option no parser has, a choice it lacks."""
    for line in ("dnf cluster-master publish --lok", "cluster-repo build OUT --target el7",
                 "dnf-cluster node snyc"):
        with pytest.raises(pytest.fail.Exception):
            parse_example(line)
    assert parse_example("dnf --installroot /r cluster-node sync --dry-run")[1].dry_run


def test_cluster_conf_examples_use_only_keys_it_knows(docs, tmp_path):
    from dnf_plugin_cluster import nodeconf
    text = plain(read(os.path.join(docs, "cluster.conf.5")))
    blocks = re.findall(r"^\.nf\n(.*?)\n\.fi$", section(text, "EXAMPLES"), re.S | re.M)
    assert len(blocks) == 2
    for block in blocks:
        (tmp_path / "cluster.conf").write_text(block + "\n")
        conf = nodeconf.read(None, [str(tmp_path)])
        assert conf.warnings == [] and conf.role in ("compute", "master"), block
    assert conf.master["site"] == "/srv/cluster/site" and conf.master["nodes"] == "@all"


# --- what the pages say: the defects of issue 25 -----------------------------------------

def command_section(text, prog, sub):
    return "\n".join(s for s in text.split("\n.SH ") if s.split("\n", 1)[0].endswith("'{} {}'".format(prog, sub)))


def test_cluster_repo_page_documents_channel_outdir_and_its_top_options(docs):
    full = plain(read(os.path.join(docs, "cluster-repo.1")))
    for sub in ("build", "closure"):
        body = squash(command_section(full, "cluster-repo", sub).replace("\n.br\n", " "))
        assert squash("--channel {stable,testing}\nthe release channel: stable is OUTDIR/RELEASE/, testing is "
                      "OUTDIR/testing/RELEASE/") in body, sub
    assert squash("OUTDIR\nrepository tree to build into") in squash(command_section(full, "cluster-repo", "build"))
    closure = squash(command_section(full, "cluster-repo", "closure"))
    assert "tobuildinto" not in closure and squash("OUTDIR\nrepository tree a build wrote, to check") in closure
    # the program's own options are in OPTIONS, not in the last command's section
    top = squash(section(full, "OPTIONS"))
    for option in ("-C", "--project", "--version", "-q", "--quiet", "-v", "--verbose"):
        assert option in top, option
    for sub in ("owners", "srpm", "new"):
        assert "--project" not in command_section(full, "cluster-repo", sub), sub
    assert "--backend" in section(plain(read(os.path.join(docs, "dnf-cluster.8"))), "OPTIONS")
    assert "--backend" not in command_section(plain(read(os.path.join(docs, "dnf-cluster.8"))), "dnf-cluster", "master")


def test_cluster_conf_profile_repo_default_is_the_order_find_profile_follows(docs, tmp_path):
    """The page names the default as the code chooses: the site repository the node
    last synced from, else cluster-site, else cluster, else the only one with a profile."""
    from cluster_testkit.memory import MemoryBackend
    from dnf_plugin_cluster.sync import find_profile
    from test_sync import write_profile
    text = squash(plain(read(os.path.join(docs, "cluster.conf.5"))))
    assert squash("profile_repo = (the site repository this node last synced from; else cluster-site, else "
                  "cluster, else the only enabled repository with a profile)") in text
    path = write_profile(tmp_path / "p.json.gz", ["tool"])
    repos = lambda *names: MemoryBackend(str(tmp_path), repos=dict((n, {"metadata": {"cluster": path}})
                                                                   for n in names))
    every = ("acme-site", "cluster-site", "cluster")
    assert find_profile(repos(*every), sticky="acme-site")[0] == "acme-site"
    assert find_profile(repos(*every))[0] == "cluster-site"
    assert find_profile(repos("cluster", "acme-site"))[0] == "cluster"
    assert find_profile(repos("acme-site"))[0] == "acme-site"


# --- cluster-repo --version, -q, -v --------------------------------------------------------

def test_cluster_repo_version_quiet_and_verbose(tmp_path):
    import dnf_plugin_cluster
    from conftest import cluster_repo
    assert cluster_repo("--version").stdout == "cluster-repo {}\n".format(dnf_plugin_cluster.__version__)
    assert cluster_repo("-C", REPO_ROOT, "lint").stdout == "cluster-repo: lint clean\n"
    quiet = cluster_repo("-C", REPO_ROOT, "-q", "lint")
    assert quiet.stdout == "" and quiet.stderr == ""
    # results are still printed under -q, and errors always go to stderr
    assert "netpipe" in cluster_repo("-C", REPO_ROOT, "-q", "owners", "netpipe").stdout
    bad = cluster_repo("-C", REPO_ROOT, "-q", "owners", "nosuch", check=False)
    assert bad.returncode == 1 and bad.stdout == "" and bad.stderr.startswith("cluster-repo: error: no metapackage")
    both = cluster_repo("-q", "-v", "lint", check=False)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


def test_cluster_repo_quiet_and_verbose_also_after_the_command(docs):
    """Admins write -q and -v after the command too, as with dnf: both places work for
    every command and are shown in its --help and its man page section; -q on one side
    and -v on the other is refused as `-q -v` is."""
    from conftest import cluster_repo
    # the session's lookaside cache holds mbw's tarball: `sources` names it under -v only
    already = "cluster-repo: already verified in the cache: mbw_1.2.2.orig.tar.gz (mbw)\n"
    normal = cluster_repo("-C", REPO_ROOT, "sources", "mbw").stdout
    assert "sources: 0 fetched, 1 already verified" in normal and already not in normal
    for argv in (("-v", "sources", "mbw"), ("sources", "-v", "mbw"), ("sources", "mbw", "--verbose")):
        assert already in cluster_repo("-C", REPO_ROOT, *argv).stdout, argv
    for argv in (("-q", "sources", "mbw"), ("sources", "mbw", "-q"), ("lint", "--quiet"), ("-q", "lint", "-q")):
        quiet = cluster_repo("-C", REPO_ROOT, *argv)
        assert quiet.stdout == "" and quiet.stderr == "", argv
    for argv in (("-q", "lint", "-v"), ("-v", "lint", "--quiet"), ("lint", "-q", "-v")):
        both = cluster_repo("-C", REPO_ROOT, *argv, check=False)
        assert both.returncode == 2 and both.stdout == "", argv
        assert both.stderr.splitlines()[-1].endswith(
            "error: argument -v/--verbose: not allowed with argument -q/--quiet"), (argv, both.stderr)
    full = plain(read(os.path.join(docs, "cluster-repo.1")))
    top = gen_docs.cluster_repo_parser()
    commands = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)][0].choices
    assert len(commands) >= 12
    for name, command in commands.items():
        text = command_section(full, "cluster-repo", name)
        for option in ("-q, --quiet", "-v, --verbose"):
            assert option in command.format_help() and option in text, (name, option)

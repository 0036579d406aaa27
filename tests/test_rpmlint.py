"""rpmlint with the project's Fedora-like configuration (rpmlint/config/) over every
spec and over every SRPM and RPM `cluster-repo build` makes: no errors, and no warning
that the configuration does not filter with a justification. Twice: with the
distribution's rpmlint (Debian 12: 2.4, Debian 13: 2.x) and with rpmlint 2.10.0 from PyPI
(tools/bootstrap puts it under .cache), whose spell check and checks are Fedora's today."""
import glob
import os
import re
import shutil
import subprocess

from cluster_testkit import REPO_ROOT

import pytest

RUNNER = os.path.join(REPO_ROOT, "rpmlint", "rpmlint-all")
#: rpmlint from PyPI, beside the distribution's (tools/bootstrap installs it)
NEWEST = os.path.join(REPO_ROOT, ".cache", "rpmlint-2.10.0", "bin")
RPMLINTS = ("distribution", "2.10.0")

MESSAGE = re.compile(r"^(?P<where>\S+?)(?::\d+)?: (?P<message>[EW]: .*)$")


def lint(files, rpmlint="distribution"):
    assert shutil.which("rpmlint") and shutil.which("checkbashisms"), "tools/bootstrap installs rpmlint, devscripts"
    env = dict(os.environ)
    if rpmlint != "distribution":
        assert os.access(os.path.join(NEWEST, "rpmlint"), os.X_OK), "tools/bootstrap installs rpmlint 2.10.0 in .cache"
        env["PATH"] = NEWEST + os.pathsep + env["PATH"]
    proc = subprocess.run([RUNNER] + list(files), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=env)
    messages = [MESSAGE.match(l) for l in proc.stdout.splitlines()]
    summary = proc.stdout.strip().splitlines()[-1]
    assert re.match(r"rpmlint [\d.]+: \d+ errors, \d+ warnings in {} files$".format(len(files)), summary), proc.stdout
    assert rpmlint == "distribution" or summary.startswith("rpmlint {}:".format(rpmlint)), summary
    return proc.returncode, [(m.group("where"), m.group("message")) for m in messages if m], proc.stdout


@pytest.mark.parametrize("rpmlint", RPMLINTS)
def test_specs_lint_clean(rpmlint):
    specs = sorted(glob.glob(os.path.join(REPO_ROOT, "specs", "*.spec")) +
                   glob.glob(os.path.join(REPO_ROOT, "specs", "*", "*.spec")))
    assert len(specs) >= 14
    code, messages, out = lint(specs, rpmlint)
    assert code == 0 and messages == [], out


@pytest.mark.parametrize("rpmlint", RPMLINTS)
def test_everything_the_build_makes_lints_clean(cluster_repo_for, rpmlint):
    files = []
    for target in ("el9", "fc42", "el8"):
        tree = os.path.join(cluster_repo_for(target), target.lstrip("elfc"))
        files += sorted(glob.glob(os.path.join(tree, "*", "Packages", "*.rpm")))
        if target == "el9":
            files += sorted(glob.glob(os.path.join(tree, "SRPMS", "*.src.rpm")))
    assert len([f for f in files if "dnf-plugin-cluster" in f]) == 3 * 2 * 2 + 1   # library, dnf 4 plugin; SRPM
    assert len([f for f in files if f.endswith(".src.rpm")]) >= 14
    code, messages, out = lint(files, rpmlint)
    assert code == 0 and messages == [], out


@pytest.mark.parametrize("rpmlint", RPMLINTS)
def test_the_configuration_refuses_what_fedora_refuses(tmp_path, rpmlint):
    """The runner really applies Fedora's rules: a package without %changelog, with an
    uncapitalised summary and a license Fedora does not know is reported, exit 1."""
    from cluster_repo.rpmbuild import rpmbuild
    from cluster_repo.targets import get_target
    spec = tmp_path / "bad-example.spec"
    spec.write_text("Name: bad-example\nVersion: 1\nRelease: 1%{?dist}\nSummary: lower case summary.\n"
                    "License: Proprietary-Thing\nURL: https://example.org/\nBuildArch: noarch\n"
                    "%description\nAn example.\n%prep\n%build\n%install\n"
                    "install -D -m 0644 /dev/null %{buildroot}%{_datadir}/bad-example/data\n"
                    "%files\n%{_datadir}/bad-example/\n")
    written = rpmbuild(str(spec), "-bb", rpmdir=str(tmp_path / "rpms"), defines=get_target("el9").macros)
    code, messages, out = lint(written, rpmlint)
    found = set(m.split()[1] for _, m in messages)
    assert code == 1, out
    assert {"no-changelogname-tag", "invalid-license", "summary-not-capitalized", "summary-ended-with-dot"} <= found


def test_every_filter_says_why():
    """Each accepted message is filtered with a comment above it justifying it."""
    for path in glob.glob(os.path.join(REPO_ROOT, "rpmlint", "config*", "cluster*.toml")):
        with open(path) as handle:
            lines = handle.read().splitlines()
        inside, comment, filters = False, False, 0
        for number, line in enumerate(lines, 1):
            stripped = line.strip()
            if stripped.startswith("#"):
                comment = True
            elif stripped.startswith("Filters = ["):
                inside = True           # a comment right above the list may justify its filter
            elif inside and stripped == "]":
                inside = False
            elif inside and stripped.startswith("'"):
                assert comment, "{}:{}: filter without a justification".format(path, number)
                comment, filters = False, filters + 1
            elif stripped:
                comment = False
        assert filters, path


def test_the_spelling_filter_matches_the_flagged_word_only():
    """rpmlint's own filter, with our configuration, over the messages its spell check
    makes (TagsCheck: the word, then "Summary(LANG) WORD -> suggestions"): a word of
    the domain is filtered, a typo whose suggestions include one is not."""
    from pathlib import Path
    from rpmlint.config import Config
    from rpmlint.filter import Filter
    config = Config(sorted(Path(REPO_ROOT, "rpmlint", "config").glob("*.toml")))
    output = Filter(config)

    class Package(object):
        name, arch, current_linenum = "cluster-node", "noarch", None
    for word, where, suggestions in (("cmops", "Summary(en_US)", "comps, camps, chops"),
                                     ("comps", "Summary(en_US)", "camps, chomps"),
                                     ("slurmd", "%description -l en_US", "slurm"),
                                     ("nodset", "%description -l en_US", "nodeset, nodes"),
                                     ("hpc", "Summary(en_US)", "")):
        detail = "{} {}".format(where, word) + (" -> " + suggestions if suggestions else "")
        output.add_info("E", Package, "spelling-error", (word, detail))
    assert output.results == [
        "cluster-node.noarch: E: spelling-error ('cmops', 'Summary(en_US) cmops -> comps, camps, chops')",
        "cluster-node.noarch: E: spelling-error ('nodset', '%description -l en_US nodset -> nodeset, nodes')"]

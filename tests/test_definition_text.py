"""Definitions never run code: every YAML text value reaches the spec as text (escaped)
or is refused with one line naming file:line. Proven with the real rpmbuild and rpm:
the built RPM's summary, description, license, URL, requires, scripts, changelog and
sysusers file are exactly what the YAML says, and no macro or command ran."""
import os
import re
import subprocess

import pytest

from conftest import cluster_repo
from cluster_repo.rpmbuild import rpmbuild
from dnf_plugin_cluster import yamlsrc
from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.names import check_dep_name, check_name

NAME = "cluster-hostile"
OWNER = "Cluster Packagers <cluster-packagers@example.org>"
# Everything here is allowed: rpm must read it as text. MARK is replaced by a path under
# the test's tmp dir; no marker file may ever appear.
HOSTILE = r"""name: cluster-hostile
version: "1.0"
release: "1"
summary: 'x %(touch MARK-summary) 100% %{lua: os.execute("touch MARK-summary-lua")} #not-a-comment \ ok'
owners:
  - Cluster Packagers <cluster-packagers@example.org>
  - jdoe
license: "MIT AND (Apache-2.0 OR GPL-2.0-or-later WITH Classpath-exception-2.0)"
url: "https://example.org/%(touch%20MARK-url)/a%20b?q=%{lua:x}"
description: |
  Mid-line %post -p <lua> and %(touch MARK-description) stay text: 100%.
    An indented line with %{lua: os.execute("touch MARK-description-lua")} inside.
  A line mentioning %changelog, %files and %if 0 in the middle; a trailing %

  After a blank line: Ünïcödé ✓, $HOME, `id`, "quotes" and 'single' ones.
requires:
  - chrony
  - {name: munge, version: ">= 0.5"}
sysusers:
  - {user: hostile, uid: 452, comment: "Svc (x) & <y> $HOME `id` ; ok", home: /var/lib/hostile}
  - {group: hostilegrp, gid: 453}
changelog:
  - date: 2026-11-25
    author: Jane Doe <jane@example.org>
    version: 1.0-1
    text:
      - "Escapes %(touch MARK-changelog) and 100%"
      - Second line
  - date: 2026-01-05
    author: jdoe
    version: 1.0-0
    text: First
"""

# the accounts as the sysusers scriptlets get them (templates/sysusers.lua follows)
ACCOUNTS = """local ACCOUNTS = {
  {name="hostile", uid=452, gid=452, gecos="Svc (x) & <y> $HOME `id` ; ok", home="/var/lib/hostile", \
shell="/sbin/nologin", paths={"/var/lib/hostile"}},
  {name="hostilegrp", gid=453, paths={}},
}"""


def hostile_text(tmp_path):
    return HOSTILE.replace("MARK", str(tmp_path / "marker"))


def markers(tmp_path):
    return sorted(name for name in os.listdir(str(tmp_path)) if name.startswith("marker"))


def add_definition(project, text, name=NAME):
    path = os.path.join(project, "metapackages", name + ".yaml")
    with open(path, "w") as handle:
        handle.write(text)
    return path


def rpm_query(path, *args):
    return subprocess.run(["rpm", "-qp", "--nosignature"] + list(args) + [path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=True).stdout


def test_hostile_text_is_built_as_text(project, tmp_path):
    """Through `cluster-repo build`: every value comes out of rpm as the YAML says."""
    text = hostile_text(tmp_path)
    yaml_path = add_definition(project, text)
    data = yamlsrc.load(text, yaml_path)
    out = str(tmp_path / "out")
    cluster_repo("-C", project, "build", out, "--arch", "x86_64")
    rpm = os.path.join(out, "9", "x86_64", "Packages", "cluster-hostile-1.0-1.el9.noarch.rpm")

    assert rpm_query(rpm, "--qf", "%{SUMMARY}") == data["summary"]
    assert rpm_query(rpm, "--qf", "%{LICENSE}") == data["license"]
    assert rpm_query(rpm, "--qf", "%{URL}") == data["url"]
    assert rpm_query(rpm, "--qf", "%{DESCRIPTION}") == data["description"].rstrip("\n")
    requires = [r for r in rpm_query(rpm, "--requires").splitlines() if not r.startswith("rpmlib(")]
    assert sorted(requires) == ["chrony", "munge >= 0.5", "setup", "shadow-utils"]
    scripts = rpm_query(rpm, "--scripts")
    from cluster_repo import metapkg
    for phase, heading in (("pretrans", "pretrans scriptlet"), ("pre", "preinstall scriptlet"),
                           ("posttrans", "posttrans scriptlet")):
        body = metapkg.sysusers_lua(metapkg.load(yaml_path), phase)
        assert "{} (using <lua>):\n{}\n".format(heading, body) in scripts, (phase, scripts[:2000])
        assert ACCOUNTS in body
    assert rpm_query(rpm, "--changelog") == (
        "* Wed Nov 25 2026 Jane Doe <jane@example.org> - 1.0-1\n"
        "- Escapes {}-changelog) and 100%\n- Second line\n\n"
        "* Mon Jan 05 2026 jdoe - 1.0-0\n- First\n\n").format("%(touch " + str(tmp_path / "marker"))
    sysusers = subprocess.run("rpm2cpio '{}' | cpio -i --quiet --to-stdout "
                              "./usr/lib/sysusers.d/cluster-hostile.conf".format(rpm), shell=True,
                              stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    assert sysusers == ("# Fixed ids: every node of the cluster must agree on these accounts.\n"
                        'u hostile 452 "Svc (x) & <y> $HOME `id` ; ok" /var/lib/hostile /sbin/nologin\n'
                        "g hostilegrp 453\n")
    srpm = os.path.join(out, "9", "SRPMS", "cluster-hostile-1.0-1.el9.src.rpm")
    assert rpm_query(srpm, "--qf", "%{SUMMARY}") == data["summary"]
    assert markers(tmp_path) == []


def test_rpm_reads_an_escaped_percent_at_line_start_as_a_directive(tmp_path):
    """Why description lines starting with '%' are refused rather than escaped: rpm
    expands `%%` before it decides what a line is, so `%%post` still opens a scriptlet."""
    spec = tmp_path / "probe.spec"
    spec.write_text("Name: probe\nVersion: 1\nRelease: 1\nSummary: probe\nLicense: MIT\nBuildArch: noarch\n\n"
                    "%description\nText\n%%post\necho escaped-but-still-a-scriptlet\n\n%files\n")
    written = rpmbuild(str(spec), "-bb", rpmdir=str(tmp_path / "rpms"))
    assert "escaped-but-still-a-scriptlet" in rpm_query(written[0], "--scripts")


def _yaml_with(tmp_path, start, new):
    """The hostile definition with its first line starting with `start` replaced by `new`."""
    lines = hostile_text(tmp_path).split("\n")
    index = [i for i, line in enumerate(lines) if line.startswith(start)][0]
    lines[index:index + 1] = new.split("\n")
    return "\n".join(lines)


USER = '  - {user: hostile, uid: 452, comment: %s, home: %s}'
# (what, start of the line replaced, its replacement, the line the error names, error pattern)
REFUSED = [
    ("summary runs past its line", "summary:", r'summary: "x\nRequires: evil"', 4, r"'summary' must be one line"),
    ("summary ends with a backslash", "summary:", r"summary: 'ends with \'", 4,
     r"'summary' must not end with a backslash"),
    ("summary control character", "summary:", r'summary: "bell \a"', 4, r"'summary' contains the control"),
    ("license adds a dependency", "license:", r'license: "MIT\nRequires: x"', 8, r"'license' must be one line"),
    ("license with a macro", "license:", 'license: "MIT AND %{lua: x}"', 8, r"license .* is not an SPDX expression"),
    ("license not SPDX", "license:", 'license: "MIT and BSD"', 8, r"license .* is not an SPDX expression"),
    ("license unbalanced", "license:", 'license: "(MIT AND BSD"', 8, r"unbalanced parentheses"),
    ("url with a line break", "url:", r'url: "https://x\nRequires: evil"', 9, r"'url' must be one line"),
    ("url not http", "url:", 'url: "javascript:alert(1)"', 9, r"'url' must be an http\(s\) or ftp URL"),
    ("description line %post", "  A line mentioning", "  %post -p <lua>\n  os.execute('touch MARK-post')", 13,
     r"description line 3 starts with '%'"),
    ("description line %%post", "  A line mentioning", "  %%post", 13, r"description line 3 starts with '%'"),
    ("description line indented %if", "  A line mentioning", "    %if 0", 13,
     r"description line 3 starts with '%'"),
    ("description line %changelog", "  A line mentioning", "  %changelog", 13,
     r"description line 3 starts with '%'"),
    ("description line %package", "  A line mentioning", "  %package -n evil", 13,
     r"description line 3 starts with '%'"),
    ("description comment line", "  A line mentioning", "  # dropped by rpm", 13,
     r"description line 3 starts with '#'"),
    ("description backslash", "  A line mentioning", "  joins the next \\", 13,
     r"description line 3 ends with a backslash"),
    ("sysusers comment breaks the heredoc", "  - {user:",
     USER % (r'"x\nCLUSTER_SYSUSERS_EOF\ntouch MARK-heredoc"', "/var/lib/hostile"), 20,
     r"sysusers comment .* must be one non-empty line"),
    ("sysusers comment quote", "  - {user:", USER % (r'"x\" /tmp 0 ; y"', "/var/lib/hostile"), 20,
     r"must not contain '\"'"),
    ("sysusers comment specifier", "  - {user:", USER % ('"%m"', "/var/lib/hostile"), 20, r"must not contain '%'"),
    ("sysusers comment backslash", "  - {user:", USER % (r'"a\\n b"', "/var/lib/hostile"), 20,
     r"must not contain '\\\\'"),
    ("sysusers comment colon", "  - {user:", USER % ('"a: b"', "/var/lib/hostile"), 20, r"must not contain ':'"),
    ("sysusers home with a space", "  - {user:", USER % ('"x"', '"/var/lib/a b"'), 20,
     r"sysusers home .* must be an absolute path"),
    ("sysusers home with a line break", "  - {user:", USER % ('"x"', r'"/var/lib/a\nEOF"'), 20,
     r"sysusers home .* must be an absolute path"),
    ("sysusers user with a trailing newline", "  - {user:",
     r'  - {user: "hostile\n", uid: 452, home: /var/lib/hostile}', 20, r"invalid account name"),
    ("sysusers path with a quote", "  - {user:", '  - {user: hostile, uid: 452, paths: [\'/var/lib/a"b\']}', 20,
     r"sysusers path .* must be an absolute path"),
    ("sysusers path that is not a string", "  - {user:", "  - {user: hostile, uid: 452, paths: [[/x]]}", 20,
     r"sysusers path .* must be an absolute path"),
    ("sysusers path is the root", "  - {user:", "  - {user: hostile, uid: 452, paths: [/var/lib/hostile, /]}", 20,
     r"paths: '/' would walk the whole system"),
    ("sysusers gid not a system id", "  - {user:", "  - {user: hostile, uid: 452, gid: 1000}", 20,
     r"fixed ids must be system ids between 1 and 999"),
    ("sysusers uid used twice", "  - {user:", "  - {user: hostile, uid: 452}\n  - {user: other, uid: 452, gid: 454}",
     21, r"sysusers: uid 452 is used twice \(also line 20\)"),
    ("sysusers gid used twice", "  - {group:", "  - {group: hostilegrp, gid: 452}", 21,
     r"sysusers: gid 452 is used twice \(also line 20\)"),
    ("name with a trailing newline", "name:", r'name: "cluster-hostile\n"', 1, r"invalid metapackage name"),
    ("requirement with a trailing newline", "  - chrony", r'  - {name: "chrony\n"}', 17,
     r"requires: invalid dependency name"),
    ("version constraint past its line", "  - {name: munge", r'  - {name: munge, version: ">=\nRequires:evil"}', 18,
     r"requires: version .* must look like"),
    ("version constraint with a trailing newline", "  - {name: munge", r'  - {name: munge, version: ">= 0.5\n"}',
     18, r"requires: version .* must look like"),
    ("version with a trailing newline", "version:", r'version: "1.0\n"', 2, r"'version' may contain only"),
    ("release with a macro", "release:", 'release: "1%{lua: x}"', 3, r"'release' may contain only"),
    ("changelog text past its line", "      - Second line", r'      - "x\n* Mon Jan 05 2026 evil"', 28,
     r"'changelog text' must be one line"),
    ("changelog author with a macro", "    author: Jane", "    author: Jane %(touch MARK-author) <jane@example.org>",
     24, r"'author': invalid owner"),
    ("owner with a line break", "  - jdoe", r'  - "jdoe\nRequires: x"', 7, r"invalid owner"),
]


@pytest.mark.parametrize("what,old,new,line,pattern", REFUSED, ids=[r[0] for r in REFUSED])
def test_text_rpm_would_not_read_as_text_is_refused(project, tmp_path, what, old, new, line, pattern):
    yaml_path = add_definition(project, _yaml_with(tmp_path, old, new).replace("MARK", str(tmp_path / "marker")))
    assert yamlsrc.load(open(yaml_path).read(), yaml_path) is not None     # the YAML itself is valid
    specs = os.path.join(project, "specs")
    before = dict((f, open(os.path.join(specs, f)).read()) for f in os.listdir(specs) if f.endswith(".spec"))
    for command in (["render"], ["lint"], ["build", os.path.join(project, "out"), "--arch", "x86_64"]):
        proc = cluster_repo("-C", project, *command, check=False)
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        assert proc.returncode == 1, (command, proc.stdout, proc.stderr)
        assert lines[0].startswith("{}:{}: ".format(yaml_path, line)) or \
            ": {}:{}: ".format(yaml_path, line) in lines[0], (command, lines[0])
        assert re.search(pattern, lines[0]), (command, lines[0])
        assert not any("Traceback" in l for l in lines)
    assert dict((f, open(os.path.join(specs, f)).read()) for f in os.listdir(specs) if f.endswith(".spec")) == before
    assert not os.path.exists(os.path.join(project, "out", "9", "x86_64", "Packages")) or \
        not os.listdir(os.path.join(project, "out", "9", "x86_64", "Packages"))
    assert markers(tmp_path) == []


def test_names_refuse_a_trailing_newline():
    """`$` matches before a final newline; names are checked with \\Z."""
    for check in (check_name, check_dep_name):
        assert check("htop") == "htop"
        with pytest.raises(ClusterError):
            check("htop\n")
    assert check_dep_name("environment(modules)") == "environment(modules)"
    with pytest.raises(ClusterError):
        check_dep_name("environment(modules)\n")

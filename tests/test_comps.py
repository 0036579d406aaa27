"""Comps as distributions write them, on real data (../shared/corpus/: Fedora 41's and
EPEL 9's comps and Fedora's comps.rng) and on tests/data/comps-every-feature.xml (every
construct comps.rng allows): nodes read every valid file and still refuse hostile
ones; the group commands work beside a distribution's comps; `cluster-repo fmt` is
lossless (libcomps reads the same before and after, xmllint --relaxng still
validates); the parser refuses what comps.rng refuses, the strict checks apply to
the project's own comps/ only; every comps file the build writes validates."""
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from cluster_testkit import REPO_ROOT, copy_project
from conftest import cluster_repo
from cluster_repo import compsfile
from dnf_plugin_cluster import comps
from dnf_plugin_cluster.errors import ClusterError

EVERY_FEATURE = os.path.join(REPO_ROOT, "tests", "data", "comps-every-feature.xml")
REAL = ("comps-f41.xml", "comps-epel9.xml")
ALL_FILES = REAL + ("every-feature",)

# libcomps' serializer with every option on writes all it read: explicit defaults,
# arch= lists, empty lists, langpacks, blacklist and whiteout.
FULL_XML = dict.fromkeys(("empty_groups", "empty_categories", "empty_environments", "empty_langpacks",
                          "empty_blacklist", "empty_whiteout", "empty_packages", "empty_grouplist",
                          "empty_optionlist", "uservisible_explicit", "biarchonly_explicit", "default_explicit",
                          "gid_default_explicit", "bao_explicit", "arch_output"), True)


def source(corpus, name):
    return EVERY_FEATURE if name == "every-feature" else os.path.join(corpus, name)


def _canonical(elem):
    """An element as comparable data: tag, attributes, text, children as a multiset
    (formatting orders siblings; comps gives their order no meaning)."""
    text = elem.text if len(elem) == 0 else (elem.text or "").strip()
    return (elem.tag, tuple(sorted(elem.attrib.items())), text or "", tuple(sorted(_canonical(c) for c in elem)))


def libcomps_view(path):
    """What libcomps (which dnf uses) reads from `path`: its complete serialization,
    and its parse log without positions. Lists are never iterated (see comps.py)."""
    import libcomps
    doc = libcomps.Comps()
    assert doc.fromxml_f(path) >= 0, path
    log = doc.get_last_errors()
    messages = sorted(re.sub(r"\s*at line\s*:\s*\d+\s*col(umn)?\s*:?\s*\d+", "", " ".join(str(log[i]).split()))
                      for i in range(len(log)))
    root = ET.fromstring(doc.xml_str(xml_options=FULL_XML).encode("utf-8"))
    return _canonical(root), messages


def relaxng(corpus, path):
    proc = subprocess.run(["xmllint", "--noout", "--relaxng", os.path.join(corpus, "comps.rng"), path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    return proc.returncode, proc.stderr


def comments(text):
    return sorted(re.findall(r"<!--(.*?)-->", text, re.S))


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


# --- the inputs are what they claim to be ------------------------------------------------

@pytest.mark.parametrize("name", ALL_FILES)
def test_inputs_validate_against_comps_rng(corpus, name):
    rc, err = relaxng(corpus, source(corpus, name))
    assert rc == 0, err


# --- nodes: libcomps reads every valid file, hostile ones are refused -----------------------

@pytest.mark.parametrize("name", ALL_FILES)
def test_node_reader_accepts_every_valid_comps(corpus, name):
    path = source(corpus, name)
    with open(path, "rb") as handle:
        data = handle.read()
    repo = comps.RepoComps().add(data, path)
    parsed = compsfile.parse(data, path)
    for arch in ("x86_64", "aarch64", "ppc64le"):
        for grp in parsed.groups:
            ours, theirs = grp.view(arch), repo.group_view(grp.id, arch)
            assert (ours is None) == (theirs is None), (grp.id, arch)
            if ours is not None:
                assert ours.tiers == theirs.tiers, (grp.id, arch)
        for cat in parsed.categories:
            assert parsed.category_groups(cat.id, arch) == repo.category_groups(cat.id, arch), (cat.id, arch)


def test_every_feature_file_reads_as_written():
    doc = compsfile.parse_file(EVERY_FEATURE)
    repo = comps.RepoComps().add(read(EVERY_FEATURE).encode("utf-8"), EVERY_FEATURE)
    x86, arm = repo.group_view("extra-tools", "x86_64"), repo.group_view("extra-tools", "aarch64")
    assert x86.tiers["default"] == ["cpuid"] and arm.tiers["default"] == ["dmidecode"]
    assert x86.tiers["conditional"] == ["bash-completion"] and x86.tiers["mandatory"] == ["bash", "htop"]
    assert repo.group_view("extra-tools", "ppc64le") is None              # arch= on the group
    assert repo.category_groups("tools", "x86_64") == ["extra-tools", "core"]
    assert repo.category_groups("tools", "aarch64") == ["core"]            # arch= on the groupid
    assert repo.category_groups("tools", "s390x") is None                  # arch= on the category
    assert x86.name == "Extra\u00a0 tools "                                  # text as written
    grp = doc.group("extra-tools")
    assert grp.names == {"": "Extra\u00a0 tools ", "de": "Zusätzliche Werkzeuge", "fr": "Outils supplémentaires"}
    env = doc.environments[0]
    assert [(r.name, r.default, r.arches) for r in env.option_ids] == [("extra-tools", True, ()),
                                                                        ("empty", False, ("aarch64",))]


HOSTILE = [
    (b'<?xml version="1.0"?>\n<!DOCTYPE comps [\n <!ENTITY a "aaaaaaaa">\n]>\n<comps><group><id>&a;</id>'
     b'</group></comps>\n', 3, "entity declarations are not allowed"),
    (b'<?xml version="1.0"?>\n<!DOCTYPE comps [\n<!ENTITY x SYSTEM "file:///etc/passwd">\n]>\n<comps>&x;</comps>\n',
     3, "entity declarations are not allowed"),
    (b"<html><body/></html>\n", None, "not a comps document (root element <html>)"),
    (b"", None, "malformed XML: no element found"),
    (b'<?xml version="1.0"?>\n\n', None, "malformed XML: no element found"),
    (b"<comps><group><id>cluster-x</id>", None, "malformed XML: no element found"),
]


@pytest.mark.parametrize("data,line,message", HOSTILE, ids=["entities", "external entity", "not comps", "empty",
                                                             "declaration only", "truncated"])
def test_hostile_comps_are_refused_by_both_readers(data, line, message):
    with pytest.raises(ClusterError) as node_side:
        comps.RepoComps().add(data, "repo.xml")
    assert message in str(node_side.value) and "\n" not in str(node_side.value)
    if line is not None:
        assert str(node_side.value).startswith("repo.xml:{}: ".format(line))
    with pytest.raises(ClusterError) as packager_side:
        compsfile.parse(data, "file.xml")
    assert str(packager_side.value).startswith("file.xml:") and "\n" not in str(packager_side.value)


# --- the group commands beside a distribution's comps, through real dnf ---------------------

@pytest.mark.parametrize("name", ALL_FILES)
def test_cluster_group_commands_beside_distribution_comps(site, corpus, name):
    """The base repository carries the distribution's comps (as Fedora's and EPEL's
    do), the cluster repository ours: list, info and install answer as without it."""
    plain = site.node("plain", "aarch64", role=None).dnf("cluster-group", "list", "--json").json
    for arch in ("x86_64", "aarch64"):
        repo = os.path.join(site.www, "base", arch)
        shutil.rmtree(os.path.join(repo, "repodata"))
        subprocess.run(["createrepo_c", "--quiet", "--no-database", "-g", source(corpus, name), repo], check=True)
    arm = site.node("arm", "aarch64", role=None)
    x86 = site.node("x86", "x86_64", role=None)
    listed = arm.dnf("cluster-group", "list", "--json").json
    assert listed == plain
    table = x86.dnf("cluster-group", "list").out
    assert "cluster-node" in table and "cluster-master" in table
    assert "3d-printing" not in table and "core" not in table.split()      # the cluster category only
    info = x86.dnf("cluster-group", "info", "cluster-node").out
    assert "opa-basic-tools" in info and "Status: not installed" in info

    arm.dnf("-y", "cluster-group", "install", "cluster-node")
    assert "cluster-node" in arm.installed() and "apptainer" not in arm.installed()
    x86.dnf("-y", "cluster-group", "install", "--with-optional", "cluster-node")
    assert {"cluster-node", "opa-basic-tools", "apptainer"} <= set(x86.installed())
    assert "Status: installed" in x86.dnf("cluster-group", "info", "cluster-node").out
    x86.dnf("-y", "cluster-group", "remove", "cluster-node")
    assert "cluster-node" not in x86.installed()


# --- fmt is lossless ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL_FILES)
def test_fmt_is_lossless_on_any_valid_comps(corpus, name, tmp_path):
    original = source(corpus, name)
    path = str(tmp_path / "comps.xml")
    shutil.copyfile(original, path)
    before = libcomps_view(original)

    out = cluster_repo("fmt", path).stdout
    assert out == "reformatted {}\n".format(path)
    formatted = read(path)
    assert libcomps_view(path) == before
    rc, err = relaxng(corpus, path)
    assert rc == 0, err
    assert comments(formatted) == comments(read(original))
    assert cluster_repo("fmt", "--check", path).stdout == ""                 # idempotent
    assert compsfile.to_xml(compsfile.parse(formatted, path)) == formatted

    groups, environments = before[0][3], [e for e in before[0][3] if e[0] == "environment"]
    assert len([g for g in groups if g[0] == "group"]) == len(compsfile.parse_file(original).groups) > 0
    if name == "comps-f41.xml":
        # what the strict formatter used to drop or change
        assert any(("default", "true") in gid[1] for env in environments for lst in env[3] for gid in lst[3])
        assert '<groupid default="true">firefox</groupid>' in formatted
        langpacks = [e for e in groups if e[0] == "langpacks"][0]
        assert len(langpacks[3]) == read(original).count("<match ") == 23
        assert '<match name="aspell" install="aspell-%s"/>' in formatted


def test_fmt_keeps_translations_and_text_character_for_character(tmp_path):
    path = str(tmp_path / "comps.xml")
    shutil.copyfile(EVERY_FEATURE, path)
    cluster_repo("fmt", path)
    text = read(path)
    for kept in ('<name>Extra\u00a0 tools </name>', '<name xml:lang="de">Zusätzliche Werkzeuge</name>',
                 '<description xml:lang="de">Beschreibung</description>',
                 "<description>No-break spaces: 10\u00a0GB, «\u00a0x\u00a0», tab\tinside,\n"
                 "      and a line break.</description>",
                 "<uservisible>True</uservisible>", '<packagereq>bash</packagereq>',
                 '<packagereq type="mandatory">glibc &amp; friends&#13;</packagereq>',
                 '<groupid default="true" arch="x86_64">extra-tools</groupid>',
                 '<package name="hal" arch="i386"/>', "<_name>From comps.xml.in</_name>",
                 '<ignoredep package="xorg-x11-server-Xorg" requires="xorg-x11-drv-ati"/>',
                 "<description></description>", "<packagelist/>", '<group arch="x86_64,aarch64" variant="Server">',
                 '<metapkg type="default">tmux</metapkg>', "<!-- epilog -->"):
        assert kept in text, kept
    # comps.rng's order where it has one: groupreq before metapkg, name before translations
    assert text.index("<groupreq>core</groupreq>") < text.index("<metapkg")
    assert text.index("<name>Extra") < text.index('<name xml:lang="de">Zus')


def test_fmt_of_a_file_that_is_not_valid_changes_nothing(tmp_path):
    good, bad = str(tmp_path / "good.xml"), str(tmp_path / "bad.xml")
    shutil.copyfile(EVERY_FEATURE, good)
    with open(bad, "w") as handle:
        handle.write(read(EVERY_FEATURE).replace("<langonly>de</langonly>", "<langonly>de</langonly>\n<biarchonly/>"))
    proc = cluster_repo("fmt", good, bad, check=False)
    assert proc.returncode == 1
    assert re.fullmatch(r"cluster-repo: error: {}:\d+: unknown element <biarchonly> in <group>\n".format(
        re.escape(bad)), proc.stderr), proc.stderr
    assert read(good) == read(EVERY_FEATURE)                                  # nothing written at all


# --- the parser refuses what comps.rng refuses ----------------------------------------------

MINIMAL = """<?xml version="1.0" encoding="UTF-8"?>
<comps>
  <group>
    <id>g</id>
    <name>G</name>
    <default>false</default>
    <display_order>1</display_order>
    <packagelist>
      <packagereq type="mandatory">bash</packagereq>
    </packagelist>
  </group>
  <category>
    <id>c</id>
    <name>C</name>
    <grouplist>
      <groupid>g</groupid>
    </grouplist>
  </category>
  <langpacks>
    <match name="a" install="a-%s"/>
  </langpacks>
</comps>
"""

INVALID = [
    ("unknown element", "<default>false</default>", "<default>false</default><biarchonly>x</biarchonly>",
     6, r"unknown element <biarchonly> in <group>"),
    ("unknown attribute", "<group>", '<group lang="de">', 3, r"unknown attribute 'lang' on <group>"),
    ("unknown type", 'type="mandatory"', 'type="required"', 9,
     r"group 'g', package 'bash': unknown type 'required'"),
    ("conditional without requires", 'type="mandatory"', 'type="conditional"', 9,
     r"conditional package needs requires="),
    ("requires without conditional", 'type="mandatory"', 'type="mandatory" requires="x"', 9,
     r"requires= goes with type=\"conditional\" only"),
    ("boolean", "<default>false</default>", "<default>yes</default>", 6, r"<default> must be true or false"),
    ("zero order", "<display_order>1</display_order>", "<display_order>0</display_order>", 7,
     r"<display_order> must be a positive number"),
    ("second id", "<id>g</id>", "<id>g</id><id>h</id>", 3, r"group 'g' has more than one <id>"),
    ("no name", "<name>G</name>", "", 3, r"group 'g' has no <name> without xml:lang"),
    ("no packagelist", "<packagelist>\n      <packagereq type=\"mandatory\">bash</packagereq>\n    </packagelist>",
     "", 3, r"group 'g' has no <packagelist>"),
    ("empty grouplist", "<groupid>g</groupid>", "", 15, r"category 'c': empty <grouplist>"),
    ("stray text", "<id>c</id>", "<id>c</id> stray", 13, r"text is not allowed in <category>: 'stray'"),
    ("text in an empty element", '<match name="a" install="a-%s"/>', '<match name="a" install="a-%s">x</match>',
     20, r"text is not allowed in <match>"),
    ("missing attribute", ' install="a-%s"', "", 20, r"<match> needs install="),
    ("two langpacks", "</langpacks>", "</langpacks><langpacks/>", 21, r"more than one <langpacks>"),
    ("element in text", "<name>C</name>", "<name>C<b>old</b></name>", 14,
     r"unknown element <b> in <name> \(it holds text only\)"),
    ("not comps", "<comps>", "<comp>", 2, r"root element must be <comps>"),
]


@pytest.mark.parametrize("what,old,new,line,pattern", INVALID, ids=[i[0] for i in INVALID])
def test_parser_refuses_what_comps_rng_refuses(corpus, tmp_path, what, old, new, line, pattern):
    assert old in MINIMAL
    path = str(tmp_path / "comps.xml")
    with open(path, "w") as handle:
        handle.write(MINIMAL.replace(old, new, 1))
    assert relaxng(corpus, path)[0] != 0                                    # comps.rng refuses it too
    with pytest.raises(ClusterError) as err:
        compsfile.parse_file(path)
    assert re.fullmatch(r"{}:{}: .*{}.*".format(re.escape(path), line, pattern), str(err.value)), str(err.value)
    proc = cluster_repo("fmt", path, check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_minimal_document_is_valid(corpus, tmp_path):
    path = str(tmp_path / "comps.xml")
    with open(path, "w") as handle:
        handle.write(MINIMAL)
    assert relaxng(corpus, path)[0] == 0
    compsfile.parse_file(path)


# --- strict checks for the project's own comps ------------------------------------------------

def test_lint_is_strict_on_the_projects_comps_and_fmt_keeps_what_it_refuses(tmp_path):
    project = copy_project(str(tmp_path / "project"))
    tools = os.path.join(project, "comps", "tools.xml")
    cats = os.path.join(project, "comps", "categories.xml")
    text = read(tools)
    text = text.replace("<group>", '<group variant="Server">', 1)
    text = text.replace("<uservisible>true</uservisible>", "<uservisible>True</uservisible>", 1)
    text = text.replace('<packagereq type="mandatory">pdsh</packagereq>', "<packagereq>pdsh</packagereq>")
    text = text.replace("</comps>", '  <langpacks>\n    <match name="pdsh" install="pdsh-%s"/>\n  </langpacks>\n'
                                    "</comps>")
    with open(tools, "w") as handle:
        handle.write(text)
    listed = read(cats).replace("<groupid>cluster-tools</groupid>", '<groupid arch="x86_64">cluster-tools</groupid>\n'
                                                                    "      <groupid>cluster-tools</groupid>")
    with open(cats, "w") as handle:
        handle.write(listed)
    cluster_repo("-C", project, "fmt")                                      # lossless: keeps all of it
    assert 'variant="Server"' in read(tools) and "<langpacks>" in read(tools)
    assert "<packagereq>pdsh</packagereq>" in read(tools) and "<uservisible>True</uservisible>" in read(tools)
    proc = cluster_repo("-C", project, "lint", check=False)
    assert proc.returncode == 1
    for pattern in (r"tools\.xml:\d+: group 'cluster-tools': variant= on <group> is not used in the project's comps",
                    r"tools\.xml:\d+: group 'cluster-tools': write <uservisible> as true or false",
                    r"tools\.xml:\d+: group 'cluster-tools', package 'pdsh': give type=",
                    r"tools\.xml:\d+: comps: <langpacks> is not used in the project's comps",
                    r"categories\.xml:\d+: category 'cluster': arch= on <groupid> is not used",
                    r"categories\.xml:\d+: category 'cluster' lists group 'cluster-tools' twice"):
        assert re.search(pattern, proc.stderr), (pattern, proc.stderr)
    assert "Traceback" not in proc.stderr


# --- what the build writes ----------------------------------------------------------------------

def test_every_comps_the_build_writes_validates(cluster_repo_el9, project_comps_xml, corpus, tmp_path):
    from dnf_plugin_cluster.head import repodata
    written = []
    for arch in ("x86_64", "aarch64"):
        md = os.path.join(cluster_repo_el9, "9", arch, "repodata")
        for mdtype in ("group", "group_gz", "group_zck"):
            data = repodata.read(md, mdtype, comps.MAX_BYTES)
            if data is not None:
                path = str(tmp_path / "{}-{}.xml".format(arch, mdtype))
                with open(path, "wb") as handle:
                    handle.write(data)
                written.append(path)
    assert len(written) >= 2
    path = str(tmp_path / "merged.xml")
    with open(path, "w") as handle:
        handle.write(project_comps_xml)
    for comps_file in written + [path]:
        rc, err = relaxng(corpus, comps_file)
        assert rc == 0, (comps_file, err)

"""Our own comps sources (comps/*.xml): a strict, safe parser with line numbers, the
canonical writer packagers run before committing (`cluster-repo fmt`), the lint, and the
merge that goes into the repository (`createrepo_c -g`).

Strict on purpose, for our own files only: every element and attribute we do not use
is an error naming file:line. Nodes read repositories' comps (Fedora's included) with
libcomps instead (dnf_plugin_cluster/comps.py). The parser is expat with entity
declarations refused (no "billion laughs", no external entities) and no DTD loading;
libcomps, which dnf uses, parses the merged result as a final check."""
import io
import os

from dnf_plugin_cluster.comps import expat_parser, parse_xml
from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.groups import TIERS, GroupView
from dnf_plugin_cluster.names import CLUSTER_ARCHES, KNOWN_BASEARCHES, NAME_RE

DOCTYPE = '<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">'
XML_LANG = "xml:lang"


class _Node(object):
    __slots__ = ("tag", "attrs", "text", "children", "line")

    def __init__(self, tag, attrs, line):
        self.tag, self.attrs, self.line = tag, attrs, line
        self.text, self.children = "", []


def _parse_xml(data, path):
    parser = expat_parser(path)
    stack, roots = [], []

    def start(tag, attrs):
        node = _Node(tag, attrs, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)

    def end(tag):
        stack.pop()

    def chars(text):
        if stack:
            stack[-1].text += text

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parse_xml(parser, data, path)
    if len(roots) != 1 or roots[0].tag != "comps":
        raise ClusterError("root element must be <comps>", path, roots[0].line if roots else 1)
    return roots[0]


class PackageReq(object):
    def __init__(self, name, tier, arches=(), requires=None, basearchonly=False, line=None):
        self.name, self.tier, self.arches = name, tier, tuple(arches)
        self.requires, self.basearchonly, self.line = requires, basearchonly, line

    def applies_to(self, arch):
        return not self.arches or arch in self.arches

    def sort_key(self):
        return (TIERS.index(self.tier), self.name, self.arches)


class _Entry(object):
    """Common parts of group, category and environment."""
    kind = None

    def __init__(self, path=None, line=None):
        self.id = None
        self.names = {}            # lang ("" = untranslated) -> text
        self.descriptions = {}
        self.display_order = None
        self.path, self.line = path, line

    @property
    def name(self):
        return self.names.get("", self.id)

    @property
    def description(self):
        return self.descriptions.get("", "")


class Group(_Entry):
    kind = "group"

    def __init__(self, path=None, line=None):
        super(Group, self).__init__(path, line)
        self.default = False
        self.uservisible = True
        self.langonly = None
        self.arches = ()
        self.packages = []

    def view(self, arch):
        """The GroupView of this group on `arch`, or None where the group does not apply."""
        if self.arches and arch not in self.arches:
            return None
        tiers = {}
        for req in self.packages:
            if req.applies_to(arch):
                tiers.setdefault(req.tier, []).append(req.name)
        return GroupView(self.id, self.name, self.description, tiers)


class Category(_Entry):
    kind = "category"

    def __init__(self, path=None, line=None):
        super(Category, self).__init__(path, line)
        self.group_ids = []


class Environment(_Entry):
    kind = "environment"

    def __init__(self, path=None, line=None):
        super(Environment, self).__init__(path, line)
        self.group_ids = []
        self.option_ids = []


class CompsDoc(object):
    def __init__(self, path=None, text=None):
        self.path = path
        self.text = text          # the source text, for the canonical-form check
        self.groups, self.categories, self.environments = [], [], []

    def group(self, gid):
        for grp in self.groups:
            if grp.id == gid:
                return grp
        return None

    # the catalog interface of dnf_plugin_cluster.groups (as comps.RepoComps has it)
    def has_group(self, gid):
        return self.group(gid) is not None

    def group_view(self, gid, arch):
        grp = self.group(gid)
        return grp.view(arch) if grp is not None else None

    def category_groups(self, cid, arch):
        for cat in self.categories:
            if cat.id == cid:
                return [gid for gid, _ in cat.group_ids]
        return None

    def entries(self):
        return self.groups + self.environments + self.categories


def _bool(node, path):
    value = node.text.strip().lower()
    if value not in ("true", "false"):
        raise ClusterError("<{}> must be true or false".format(node.tag), path, node.line)
    return value == "true"


def _int(node, path):
    try:
        return int(node.text.strip())
    except ValueError:
        raise ClusterError("<{}> must be a number".format(node.tag), path, node.line)


def _arch_list(value):
    return tuple(sorted(set(a for a in value.replace(",", " ").split() if a)))


def _no_attrs(node, path, allowed=()):
    for attr in node.attrs:
        if attr not in allowed:
            raise ClusterError("unknown attribute '{}' on <{}>".format(attr, node.tag), path, node.line)


def _text_field(entry, node, path):
    """name/description with optional xml:lang; True when the node was one of them."""
    if node.tag not in ("name", "description"):
        return False
    _no_attrs(node, path, (XML_LANG,))
    table = entry.names if node.tag == "name" else entry.descriptions
    lang = node.attrs.get(XML_LANG, "")
    if lang in table:
        raise ClusterError("duplicate <{}>{}".format(
            node.tag, " for language " + lang if lang else ""), path, node.line)
    table[lang] = " ".join(node.text.split())
    return True


def _id_list(node, path, child_tag):
    ids = []
    for child in node.children:
        if child.tag != child_tag:
            raise ClusterError("unexpected <{}> in <{}>".format(child.tag, node.tag), path, child.line)
        _no_attrs(child, path, ("default",) if child_tag == "groupid" else ())
        ids.append((child.text.strip(), child.line))
    return ids


def _parse_group(node, path):
    grp = Group(path, node.line)
    _no_attrs(node, path, ("arch",))
    grp.arches = _arch_list(node.attrs.get("arch", ""))
    for child in node.children:
        if _text_field(grp, child, path):
            continue
        _no_attrs(child, path)
        if child.tag == "id":
            grp.id = child.text.strip()
        elif child.tag == "default":
            grp.default = _bool(child, path)
        elif child.tag == "uservisible":
            grp.uservisible = _bool(child, path)
        elif child.tag == "display_order":
            grp.display_order = _int(child, path)
        elif child.tag == "langonly":
            grp.langonly = child.text.strip()
        elif child.tag == "packagelist":
            for req in child.children:
                if req.tag != "packagereq":
                    raise ClusterError("unexpected <{}> in <packagelist>".format(req.tag), path, req.line)
                _no_attrs(req, path, ("type", "arch", "requires", "basearchonly"))
                tier = req.attrs.get("type", "mandatory")
                if tier not in TIERS:
                    raise ClusterError("group '{}', package '{}': unknown type '{}' (one of {})".format(
                        grp.id, req.text.strip(), tier, ", ".join(TIERS)), path, req.line)
                grp.packages.append(PackageReq(
                    req.text.strip(), tier, _arch_list(req.attrs.get("arch", "")),
                    req.attrs.get("requires"), req.attrs.get("basearchonly", "false") == "true", req.line))
        else:
            raise ClusterError("unknown element <{}> in <group>".format(child.tag), path, child.line)
    return grp


def _parse_category(node, path, cls):
    entry = cls(path, node.line)
    _no_attrs(node, path)
    for child in node.children:
        if _text_field(entry, child, path):
            continue
        _no_attrs(child, path)
        if child.tag == "id":
            entry.id = child.text.strip()
        elif child.tag == "display_order":
            entry.display_order = _int(child, path)
        elif child.tag == "grouplist":
            entry.group_ids = _id_list(child, path, "groupid")
        elif child.tag == "optionlist" and cls is Environment:
            entry.option_ids = _id_list(child, path, "groupid")
        else:
            raise ClusterError("unknown element <{}> in <{}>".format(child.tag, node.tag), path, child.line)
    return entry


def parse(data, path):
    """Parse one comps document (bytes or str); raises ClusterError naming path:line."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    root = _parse_xml(data, path)
    _no_attrs(root, path)
    doc = CompsDoc(path, data.decode("utf-8", "replace"))
    for node in root.children:
        if node.tag == "group":
            doc.groups.append(_parse_group(node, path))
        elif node.tag == "category":
            doc.categories.append(_parse_category(node, path, Category))
        elif node.tag == "environment":
            doc.environments.append(_parse_category(node, path, Environment))
        else:
            raise ClusterError("unknown element <{}> in <comps>".format(node.tag), path, node.line)
    for entry in doc.entries():
        if not entry.id:
            raise ClusterError("<{}> without <id>".format(entry.kind), path, entry.line)
    return doc


def parse_file(path):
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise ClusterError("cannot read: {}".format(err.strerror), path)
    return parse(data, path)


def source_files(comps_dir):
    return sorted(os.path.join(comps_dir, f) for f in os.listdir(comps_dir) if f.endswith(".xml"))


def load_dir(comps_dir):
    return [parse_file(path) for path in source_files(comps_dir)]


# --- canonical writer --------------------------------------------------------------

def _esc(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _write_texts(out, entry, indent):
    for tag, table in (("name", entry.names), ("description", entry.descriptions)):
        for lang in sorted(table):
            attr = ' xml:lang="{}"'.format(_esc(lang)) if lang else ""
            out.append('{}<{}{}>{}</{}>'.format(indent, tag, attr, _esc(table[lang]), tag))


def _write_ids(out, tag, ids, indent):
    if ids:
        out.append("{}<{}>".format(indent, tag))
        out += ["{}  <groupid>{}</groupid>".format(indent, _esc(gid)) for gid in sorted(set(g for g, _ in ids))]
        out.append("{}</{}>".format(indent, tag))


def to_xml(doc):
    """The canonical text: fixed element order, two-space indent, entries sorted by id,
    package requirements by tier then name."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', DOCTYPE, "<comps>"]
    for grp in sorted(doc.groups, key=lambda g: g.id):
        arch = ' arch="{}"'.format(",".join(grp.arches)) if grp.arches else ""
        out.append("  <group{}>".format(arch))
        out.append("    <id>{}</id>".format(_esc(grp.id)))
        _write_texts(out, grp, "    ")
        out.append("    <default>{}</default>".format("true" if grp.default else "false"))
        out.append("    <uservisible>{}</uservisible>".format("true" if grp.uservisible else "false"))
        if grp.langonly:
            out.append("    <langonly>{}</langonly>".format(_esc(grp.langonly)))
        if grp.display_order is not None:
            out.append("    <display_order>{}</display_order>".format(grp.display_order))
        out.append("    <packagelist>")
        for req in sorted(grp.packages, key=PackageReq.sort_key):
            attrs = ' type="{}"'.format(req.tier)
            if req.arches:
                attrs += ' arch="{}"'.format(",".join(req.arches))
            if req.requires:
                attrs += ' requires="{}"'.format(_esc(req.requires))
            if req.basearchonly:
                attrs += ' basearchonly="true"'
            out.append("      <packagereq{}>{}</packagereq>".format(attrs, _esc(req.name)))
        out.append("    </packagelist>")
        out.append("  </group>")
    for entry in sorted(doc.environments, key=lambda e: e.id) + sorted(doc.categories, key=lambda c: c.id):
        out.append("  <{}>".format(entry.kind))
        out.append("    <id>{}</id>".format(_esc(entry.id)))
        _write_texts(out, entry, "    ")
        if entry.display_order is not None:
            out.append("    <display_order>{}</display_order>".format(entry.display_order))
        _write_ids(out, "grouplist", entry.group_ids, "    ")
        if isinstance(entry, Environment):
            _write_ids(out, "optionlist", entry.option_ids, "    ")
        out.append("  </{}>".format(entry.kind))
    out.append("</comps>")
    return "\n".join(out) + "\n"


def merge(docs):
    merged = CompsDoc("<merged>")
    for doc in docs:
        merged.groups += doc.groups
        merged.categories += doc.categories
        merged.environments += doc.environments
    return merged


def union(docs):
    """Merge comps from several repositories as dnf does: an id defined more than once
    keeps its first definition's texts and gets the union of package requirements
    (groups) or group ids (categories, environments)."""
    merged = CompsDoc("<union>")
    index = {}
    for doc in docs:
        for entry in doc.entries():
            key = (entry.kind, entry.id)
            first = index.get(key)
            if first is None:
                index[key] = entry
                {"group": merged.groups, "category": merged.categories,
                 "environment": merged.environments}[entry.kind].append(entry)
            elif entry.kind == "group":
                have = set((p.name, p.tier, p.arches) for p in first.packages)
                first.packages += [p for p in entry.packages if (p.name, p.tier, p.arches) not in have]
            else:
                first.group_ids += [g for g in entry.group_ids if g not in first.group_ids]
    return merged


def format_dir(comps_dir, check_only=False):
    """Rewrite every comps file in canonical form; returns the files that were (or,
    with check_only, would be) changed."""
    changed = []
    for path in source_files(comps_dir):
        doc = parse_file(path)
        canonical = to_xml(doc)
        if canonical != doc.text:
            changed.append(path)
            if not check_only:
                with io.open(path, "w", encoding="utf-8") as handle:
                    handle.write(canonical)
    return changed


# --- lint ----------------------------------------------------------------------------

def lint(docs, known, families=("rhel", "fedora"), arches=CLUSTER_ARCHES, category="cluster"):
    """Every problem as a ClusterError (file:line: message); empty when clean.

    `known(family, arch)` returns the set of package names and provides available
    there (our specs plus the known base)."""
    problems = []

    def report(message, path, line):
        problems.append(ClusterError(message, path, line))

    seen = {}
    for doc in docs:
        for entry in doc.entries():
            key = (entry.kind, entry.id)
            if not NAME_RE.match(entry.id):
                report("invalid {} id '{}'".format(entry.kind, entry.id), entry.path, entry.line)
            if key in seen:
                report("duplicate {} id '{}' (also {}:{})".format(entry.kind, entry.id, *seen[key]),
                       entry.path, entry.line)
            else:
                seen[key] = (entry.path, entry.line)
            if not entry.names.get(""):
                report("{} '{}' has no <name>".format(entry.kind, entry.id), entry.path, entry.line)
    merged = merge(docs)
    group_ids = set(g.id for g in merged.groups)
    known_sets = dict(((f, a), known(f, a)) for f in families for a in arches)
    for grp in merged.groups:
        for arch in grp.arches:
            if arch not in KNOWN_BASEARCHES:
                report("group '{}': unknown arch '{}'".format(grp.id, arch), grp.path, grp.line)
        names = set()
        for req in grp.packages:
            where = "group '{}', package '{}'".format(grp.id, req.name)
            if not NAME_RE.match(req.name) or ".." in req.name:
                report("{}: invalid package name".format(where), grp.path, req.line)
                continue
            if req.name in names:
                report("{}: listed twice".format(where), grp.path, req.line)
            names.add(req.name)
            if req.tier == "conditional" and not req.requires:
                report("{}: conditional package needs requires=".format(where), grp.path, req.line)
            bad = [a for a in req.arches if a not in KNOWN_BASEARCHES]
            if bad:
                report("{}: unknown arch '{}' (known: {})".format(where, bad[0], ", ".join(KNOWN_BASEARCHES)),
                       grp.path, req.line)
                continue
            missing = [(family, arch) for family in families for arch in arches
                       if (not grp.arches or arch in grp.arches) and req.applies_to(arch)
                       and req.name not in known_sets[(family, arch)]]
            if missing:
                report("{}: not provided on {}/{} by our specs or the known base{}".format(
                    where, missing[0][0], missing[0][1], "" if req.arches else " (limit it with arch=)"),
                    grp.path, req.line)
    for entry in merged.categories + merged.environments:
        for gid, line in entry.group_ids + getattr(entry, "option_ids", []):
            if gid not in group_ids:
                report("{} '{}' lists unknown group '{}'".format(entry.kind, entry.id, gid), entry.path, line)
    listed = set()
    for cat in merged.categories:
        if cat.id == category:
            listed = set(g for g, _ in cat.group_ids)
    for grp in merged.groups:
        if grp.id not in listed:
            report("group '{}' is not in the '{}' category".format(grp.id, category), grp.path, grp.line)
    for doc in docs:
        if doc.text is not None and doc.text != to_xml(doc):
            report("not in canonical form: run `cluster-repo fmt`", doc.path, None)
    if not problems:
        err = libcomps_check(to_xml(merged))
        if err:
            problems.append(ClusterError("libcomps: " + err, "comps (merged)"))
    return problems


def libcomps_check(text):
    """Parse with libcomps, as dnf will; returns its complaint or None."""
    import libcomps
    comps = libcomps.Comps()
    ret = comps.fromxml_str(text)
    errors = [str(e) for e in comps.get_last_errors()]
    if ret != 0 or errors:
        return "; ".join(errors) or "parse failed"
    return None

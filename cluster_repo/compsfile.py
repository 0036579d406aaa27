"""Comps files on the packager's side: a parser with line numbers for any comps file
Fedora's comps.rng allows, the lossless canonical writer (`cluster-repo fmt`), the
strict lint of the project's own comps/, and the merge the build puts into the
repository (`createrepo_c -g`).

Three levels, on purpose:

- parse() accepts what comps.rng allows: groups, environments and categories, names
  and descriptions with xml:lang translations (or the `_name`/`_description` of
  comps.xml.in), `arch=` on groups, environments, categories, packagereqs and
  groupids, `variant=`, `<groupid default="true">`, a group's deprecated <grouplist>
  of groupreq/metapkg, <langpacks>, <blacklist> and <whiteout>, comments, siblings in
  any order. What comps.rng does not allow (an unknown element or attribute, a value
  outside its choices, a second <id>, text between elements) is one error naming
  file:line. One deviation: a file may hold no <group> (the project keeps its
  category in a file of its own); the merged comps the build writes has groups and
  validates against comps.rng (tests check it with xmllint --relaxng).
- to_xml() writes the canonical form, losslessly: every element, attribute,
  translation, comment and processing instruction is kept, text and attribute values
  character for character (no-break spaces, tabs, line breaks, `True`, whitespace
  around a name). Only the layout changes: siblings in a fixed order (the comps.rng
  order; groups, environments and categories by id, packagereqs by type then name,
  groupids by name, translations by language; langpacks, blacklist and whiteout
  entries as they came), two-space indentation, a fixed attribute order, the XML
  declaration and the comps DOCTYPE. A comment moves with the element it precedes.
  So `cluster-repo fmt FILE...` may be pointed at any comps file, a distribution's
  included; without FILE it formats the project's comps/*.xml. libcomps reads the
  same groups, categories, environments, langpacks, blacklist and whiteout before
  and after (tests compare libcomps' full view on Fedora's and EPEL's comps).
- lint() is the strict part, for the project's comps/ only: elements and attributes
  the project does not use (variant=, langpacks, `_name`, arch= on groupids, ...)
  are errors, as are booleans libcomps would not read (`True`), packagereqs without
  an explicit type=, duplicates, unknown arches and packages, groups outside the
  `cluster` category, and text not in canonical form.

The parser is expat with entity declarations and external entities refused (no
"billion laughs") and no DTD loading. Nodes read repositories' comps with libcomps
instead (dnf_plugin_cluster/comps.py); libcomps also parses the merged result here as
a final check."""
import io
import os

from dnf_plugin_cluster.comps import expat_parser, parse_xml
from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.groups import TIERS, GroupView
from dnf_plugin_cluster.names import CLUSTER_ARCHES, KNOWN_BASEARCHES, NAME_RE

XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>'
DOCTYPE = '<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">'
XML_LANG = "xml:lang"

# --- what comps.rng allows -----------------------------------------------------------
# kind -> (attributes in the order the writer puts them, children)
# children: {tag: kind} for elements holding elements, TEXT for text, EMPTY for none.
TEXT, EMPTY = "text", "empty"
_ENTRY_TEXTS = {"id": "text", "name": "i18n", "description": "i18n", "_name": "text", "_description": "text"}
SCHEMA = {
    "comps": ((), {"group": "group", "environment": "environment", "category": "category",
                   "blacklist": "blacklist", "whiteout": "whiteout", "langpacks": "langpacks"}),
    "group": (("arch", "variant"), dict(_ENTRY_TEXTS, default="bool", uservisible="bool", langonly="text",
                                        display_order="int", grouplist="groupreqlist",
                                        packagelist="packagelist")),
    "environment": (("arch", "variant"), dict(_ENTRY_TEXTS, display_order="int", grouplist="idlist",
                                              optionlist="idlist")),
    "category": (("arch", "variant"), dict(_ENTRY_TEXTS, display_order="int", grouplist="idlist")),
    "groupreqlist": ((), {"groupreq": "text", "metapkg": "metapkg"}),
    "packagelist": ((), {"packagereq": "packagereq"}),
    "idlist": ((), {"groupid": "groupid"}),
    "langpacks": ((), {"match": "match"}),
    "blacklist": ((), {"package": "blpackage"}),
    "whiteout": ((), {"ignoredep": "ignoredep"}),
    "text": ((), TEXT),
    "i18n": ((XML_LANG,), TEXT),
    "bool": ((), TEXT),
    "int": ((), TEXT),
    "metapkg": (("type",), TEXT),
    "packagereq": (("type", "arch", "requires", "basearchonly", "variant"), TEXT),
    "groupid": (("default", "arch"), TEXT),
    "match": (("name", "install"), EMPTY),
    "blpackage": (("name", "arch"), EMPTY),
    "ignoredep": (("package", "requires"), EMPTY),
}
REQUIRED_ATTRS = {"match": ("name", "install"), "blpackage": ("name",), "ignoredep": ("package", "requires")}
RNG_BOOLEANS = ("true", "True", "false", "False")
METAPKG_TYPES = ("mandatory", "default", "optional")

# The canonical order of siblings (comps.rng's order where it has one).
CHILD_ORDER = {
    "comps": ("group", "environment", "category", "blacklist", "whiteout", "langpacks"),
    "group": ("id", "name", "_name", "description", "_description", "default", "uservisible", "langonly",
              "display_order", "grouplist", "packagelist"),
    "environment": ("id", "name", "_name", "description", "_description", "display_order", "grouplist",
                    "optionlist"),
    "category": ("id", "name", "_name", "description", "_description", "display_order", "grouplist"),
    "groupreqlist": ("groupreq", "metapkg"),
}

# What the project's own comps/ use (lint): the rest of comps.rng is for distributions.
PROJECT_ATTRS = {"group": ("arch",), "i18n": (XML_LANG,), "groupid": ("default",),
                 "packagereq": ("type", "arch", "requires", "basearchonly")}
PROJECT_CHILDREN = {
    "comps": ("group", "environment", "category"),
    "group": ("id", "name", "description", "default", "uservisible", "langonly", "display_order", "packagelist"),
    "environment": ("id", "name", "description", "display_order", "grouplist", "optionlist"),
    "category": ("id", "name", "description", "display_order", "grouplist"),
}


class _Node(object):
    """One element: attributes and text exactly as parsed, element children, and the
    comments/processing instructions before it (`before`) and after its last child
    (`after`)."""
    __slots__ = ("tag", "kind", "attrs", "text", "children", "line", "before", "after")

    def __init__(self, tag, kind, attrs, line):
        self.tag, self.kind, self.attrs, self.line = tag, kind, attrs, line
        self.text, self.children, self.before, self.after = "", [], [], []

    def find(self, tag):
        return [child for child in self.children if child.tag == tag]

    def first_text(self, tag, default=None):
        found = self.find(tag)
        return found[0].text if found else default


def _parse_tree(data, path):
    """The element tree of one comps document, checked against SCHEMA while parsing."""
    parser = expat_parser(path)
    stack, top = [], {"root": None, "pending": [], "epilog": []}

    def line():
        return parser.CurrentLineNumber

    def start(tag, attrs):
        if stack:
            parent = stack[-1]
            children = SCHEMA[parent.kind][1]
            if not isinstance(children, dict) or tag not in children:
                raise ClusterError("unknown element <{}> in <{}>{}".format(
                    tag, parent.tag, "" if isinstance(children, dict) else " (it holds text only)"), path, line())
            kind = children[tag]
        elif top["root"] is not None or tag != "comps":
            raise ClusterError("root element must be <comps>", path, line())
        else:
            kind = "comps"
        allowed = SCHEMA[kind][0]
        for attr in attrs:
            if attr not in allowed:
                raise ClusterError("unknown attribute '{}' on <{}>".format(attr, tag), path, line())
        node = _Node(tag, kind, dict(attrs), line())
        node.before, top["pending"] = top["pending"], []
        if stack:
            stack[-1].children.append(node)
        else:
            top["root"] = node
        stack.append(node)

    def end(tag):
        node = stack.pop()
        node.after, top["pending"] = top["pending"], []

    def chars(text):
        if not stack:
            return
        node = stack[-1]
        if SCHEMA[node.kind][1] == TEXT:
            node.text += text
        elif text.strip():
            raise ClusterError("text is not allowed in <{}>: {!r}".format(node.tag, text.strip()[:40]), path, line())

    def misc(item):
        (top["pending"] if stack else top["epilog"] if top["root"] is not None else top["pending"]).append(item)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.CommentHandler = lambda text: misc(("comment", text))
    parser.ProcessingInstructionHandler = lambda target, text: misc(("pi", target, text))
    parse_xml(parser, data, path)
    if top["root"] is None:
        raise ClusterError("root element must be <comps>", path, 1)
    return top["root"], top["epilog"]


# --- the typed view ----------------------------------------------------------------------

def _arch_list(value):
    """arch= as libcomps splits it (spaces and commas)."""
    return tuple(a for a in (value or "").replace(",", " ").split() if a)


def _applies(arches, arch):
    return not arches or arch in arches


class PackageReq(object):
    def __init__(self, name, tier, arches=(), requires=None, basearchonly=False, line=None, explicit=True):
        self.name, self.tier, self.arches = name, tier, tuple(arches)
        self.requires, self.basearchonly, self.line = requires, basearchonly, line
        self.explicit = explicit      # type= given (libcomps reads a missing one as mandatory)

    def applies_to(self, arch):
        return _applies(self.arches, arch)


class GroupRef(object):
    """A <groupid> of a category's or environment's list."""

    def __init__(self, name, line, default=False, arches=()):
        self.name, self.line, self.default, self.arches = name, line, default, tuple(arches)


class _Entry(object):
    """Common parts of group, category and environment."""
    kind = None

    def __init__(self, path=None, line=None):
        self.id = None
        self.names = {}            # lang ("" = untranslated) -> text, as written
        self.descriptions = {}
        self.display_order = None
        self.arches = ()
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
        self.packages = []

    def view(self, arch):
        """The GroupView of this group on `arch`, or None where the group does not apply."""
        if not _applies(self.arches, arch):
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
        self.group_ids = []        # [GroupRef]


class Environment(_Entry):
    kind = "environment"

    def __init__(self, path=None, line=None):
        super(Environment, self).__init__(path, line)
        self.group_ids = []
        self.option_ids = []


class CompsDoc(object):
    def __init__(self, path=None, text=None, root=None, epilog=()):
        self.path = path
        self.text = text          # the source text, for the canonical-form check
        self.root, self.epilog = root, list(epilog)
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
        """Group ids of category `cid` on `arch` (arch= on the category and its groupids
        applied, as libcomps' arch_filter does), or None without such a category."""
        found = None
        for cat in self.categories:
            if cat.id == cid and _applies(cat.arches, arch):
                found = found or []
                found += [ref.name for ref in cat.group_ids if _applies(ref.arches, arch) and ref.name not in found]
        return found

    def entries(self):
        return self.groups + self.environments + self.categories


def _entry_fields(entry, node):
    entry.arches = _arch_list(node.attrs.get("arch"))
    for child in node.children:
        if child.tag == "id":
            entry.id = child.text.strip()
        elif child.tag in ("name", "_name"):
            entry.names[child.attrs.get(XML_LANG, "")] = child.text
        elif child.tag in ("description", "_description"):
            entry.descriptions[child.attrs.get(XML_LANG, "")] = child.text
        elif child.tag == "display_order":
            entry.display_order = int(child.text.strip())


def _group_refs(node, tag):
    refs = []
    for lst in node.find(tag):
        for ref in lst.children:
            refs.append(GroupRef(ref.text.strip(), ref.line, ref.attrs.get("default", "false").lower() == "true",
                                 _arch_list(ref.attrs.get("arch"))))
    return refs


def _typed(node, path):
    if node.tag == "group":
        grp = Group(path, node.line)
        _entry_fields(grp, node)
        grp.default = node.first_text("default", "false").strip().lower() == "true"
        grp.uservisible = node.first_text("uservisible", "true").strip().lower() == "true"
        langonly = node.first_text("langonly")
        grp.langonly = langonly.strip() if langonly is not None else None
        for lst in node.find("packagelist"):
            for req in lst.children:
                grp.packages.append(PackageReq(
                    req.text.strip(), req.attrs.get("type", "mandatory"), _arch_list(req.attrs.get("arch")),
                    req.attrs.get("requires"), req.attrs.get("basearchonly", "false").lower() == "true", req.line,
                    explicit="type" in req.attrs))
        return grp
    entry = Category(path, node.line) if node.tag == "category" else Environment(path, node.line)
    _entry_fields(entry, node)
    entry.group_ids = _group_refs(node, "grouplist")
    if node.tag == "environment":
        entry.option_ids = _group_refs(node, "optionlist")
    return entry


# --- checks of what comps.rng allows -------------------------------------------------------

def _what(node):
    ident = node.first_text("id")
    return "{} '{}'".format(node.tag, ident.strip()) if ident is not None else "<{}>".format(node.tag)


def _check_entry(node, path):
    counts = {}
    for child in node.children:
        key = (child.tag, child.attrs.get(XML_LANG) if child.kind == "i18n" else None)
        counts[key] = counts.get(key, 0) + 1
    what = _what(node)
    if counts.get(("id", None), 0) != 1:
        raise ClusterError("<{}> without <id>".format(node.tag) if not counts.get(("id", None))
                           else "{} has more than one <id>".format(what), path, node.line)
    names = counts.get(("name", None), 0)
    if counts.get(("_name", None)):
        if names or any(tag in ("name", "description") for tag, _ in counts) or counts[("_name", None)] > 1:
            raise ClusterError("{}: <_name> (comps.xml.in) goes alone, without <name> or <description>".format(
                what), path, node.line)
    elif names != 1:
        raise ClusterError("{} {} <name> without xml:lang".format(what, "has no" if not names else "has more than one"),
                           path, node.line)
    elif counts.get(("_description", None)):
        raise ClusterError("{}: <_description> goes with <_name>, not <name>".format(what), path, node.line)
    if counts.get(("description", None), 0) > 1:
        raise ClusterError("{} has more than one <description> without xml:lang".format(what), path, node.line)
    if not counts.get(("description", None)) and any(tag == "description" for tag, _ in counts):
        raise ClusterError("{}: translated <description> without an untranslated one".format(what), path, node.line)
    singles = ("_description", "default", "uservisible", "langonly", "display_order", "grouplist", "optionlist",
               "packagelist")
    for child in node.children:
        if child.tag in singles and counts[(child.tag, None)] > 1:
            raise ClusterError("{} has more than one <{}>".format(what, child.tag), path, child.line)
    for tag in {"group": ("packagelist",), "environment": ("grouplist",), "category": ("grouplist",)}[node.tag]:
        if not counts.get((tag, None)):
            raise ClusterError("{} has no <{}>".format(what, tag), path, node.line)


def _check_value(node, path, where):
    if node.kind == "bool" and node.text.strip() not in RNG_BOOLEANS:
        raise ClusterError("{}: <{}> must be true or false".format(where, node.tag), path, node.line)
    if node.kind == "int":
        try:
            ok = int(node.text.strip()) > 0
        except ValueError:
            ok = False
        if not ok:
            raise ClusterError("{}: <{}> must be a positive number".format(where, node.tag), path, node.line)
    for attr in ("basearchonly", "default"):
        if attr in node.attrs and node.attrs[attr].strip() not in RNG_BOOLEANS:
            raise ClusterError("{}: {}= must be true or false".format(where, attr), path, node.line)
    for attr in REQUIRED_ATTRS.get(node.kind, ()):
        if attr not in node.attrs:
            raise ClusterError("<{}> needs {}=".format(node.tag, attr), path, node.line)
    if node.kind == "i18n" and XML_LANG in node.attrs and not node.attrs[XML_LANG].strip():
        raise ClusterError("{}: empty xml:lang on <{}>".format(where, node.tag), path, node.line)
    if node.kind == "metapkg" and node.attrs.get("type", "mandatory") not in METAPKG_TYPES:
        raise ClusterError("{}: metapkg '{}': unknown type '{}'".format(where, node.text.strip(), node.attrs["type"]),
                           path, node.line)
    if node.kind == "packagereq":
        tier, requires = node.attrs.get("type"), node.attrs.get("requires")
        pkg = "{}, package '{}'".format(where, node.text.strip())
        if tier is not None and tier not in TIERS:
            raise ClusterError("{}: unknown type '{}' (one of {})".format(pkg, tier, ", ".join(TIERS)), path, node.line)
        if tier == "conditional" and requires is None:
            raise ClusterError("{}: conditional package needs requires=".format(pkg), path, node.line)
        if tier != "conditional" and requires is not None:
            raise ClusterError("{}: requires= goes with type=\"conditional\" only".format(pkg), path, node.line)


def _check(node, path, where="comps"):
    if node.kind in ("group", "environment", "category"):
        _check_entry(node, path)
        where = _what(node)
    elif node.kind in ("groupreqlist", "idlist") and not node.children:
        raise ClusterError("{}: empty <{}>".format(where, node.tag), path, node.line)
    elif node.kind == "groupreqlist" and not node.find("groupreq"):
        raise ClusterError("{}: <grouplist> needs a <groupreq>".format(where), path, node.line)
    elif node.kind == "comps":
        for tag in ("langpacks", "blacklist", "whiteout"):
            extra = node.find(tag)[1:]
            if extra:
                raise ClusterError("more than one <{}>".format(tag), path, extra[0].line)
    _check_value(node, path, where)
    for child in node.children:
        _check(child, path, where)


def parse(data, path):
    """Parse one comps document (bytes or str); raises ClusterError naming path:line
    for anything comps.rng does not allow."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    root, epilog = _parse_tree(data, path)
    _check(root, path)
    doc = CompsDoc(path, data.decode("utf-8", "replace"), root, epilog)
    for node in root.children:
        if node.tag in ("group", "environment", "category"):
            {"group": doc.groups, "environment": doc.environments,
             "category": doc.categories}[node.tag].append(_typed(node, path))
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


# --- canonical writer ----------------------------------------------------------------

def _esc_text(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;"))


def _esc_attr(text):
    # tab, newline and carriage return would be read back as spaces (attribute-value
    # normalization): only character references keep them
    return (_esc_text(text).replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;"))


def _misc(item):
    if item[0] == "comment":
        return "<!--{}-->".format(item[1])
    return "<?{}{}?>".format(item[1], " " + item[2] if item[2] else "")


_TIER_ORDER = dict((tier, index) for index, tier in enumerate(TIERS))


def _sort_key(node):
    """Secondary order among siblings with the same tag."""
    if node.kind in ("group", "environment", "category"):
        return (node.first_text("id", "").strip(),)
    if node.kind == "i18n":
        return (node.attrs.get(XML_LANG, ""),)
    if node.kind == "packagereq":
        return (_TIER_ORDER.get(node.attrs.get("type", "mandatory"), len(TIERS)), node.text.strip(),
                node.attrs.get("arch", ""), node.attrs.get("variant", ""), node.attrs.get("requires", ""))
    if node.kind == "groupid":
        return (node.text.strip(),)
    return ()                  # langpacks, blacklist, whiteout, groupreqs: as they came


def _ordered(node):
    order = CHILD_ORDER.get(node.kind)
    rank = dict((tag, index) for index, tag in enumerate(order)) if order else {}
    return sorted(node.children, key=lambda child: (rank.get(child.tag, 0),) + _sort_key(child))


def _write(node, indent, out):
    out += [indent + _misc(item) for item in node.before]
    attr_order = SCHEMA[node.kind][0]
    attrs = "".join(' {}="{}"'.format(a, _esc_attr(node.attrs[a])) for a in attr_order if a in node.attrs)
    content = SCHEMA[node.kind][1]
    if content == TEXT:
        inner = "".join(_misc(item) for item in node.after)
        out.append("{}<{}{}>{}{}</{}>".format(indent, node.tag, attrs, _esc_text(node.text), inner, node.tag))
    elif not node.children and not node.after:
        out.append("{}<{}{}/>".format(indent, node.tag, attrs))
    else:
        out.append("{}<{}{}>".format(indent, node.tag, attrs))
        for child in _ordered(node):
            _write(child, indent + "  ", out)
        out += [indent + "  " + _misc(item) for item in node.after]
        out.append("{}</{}>".format(indent, node.tag))


def to_xml(doc):
    """The canonical text of `doc` (see the module docstring): lossless, layout only."""
    out = [XML_DECL, DOCTYPE]
    _write(doc.root, "", out)
    out += [_misc(item) for item in doc.epilog]
    return "\n".join(out) + "\n"


def merge(docs):
    """One document of all `docs`' entries (for the repository): their elements side by
    side, one <langpacks>, <blacklist> and <whiteout> holding all entries of each."""
    root = _Node("comps", "comps", {}, None)
    lists = {}
    merged = CompsDoc("<merged>", None, root)
    for doc in docs:
        merged.groups += doc.groups
        merged.categories += doc.categories
        merged.environments += doc.environments
        for node in doc.root.children:
            if node.tag in ("langpacks", "blacklist", "whiteout"):
                if node.tag not in lists:
                    lists[node.tag] = _Node(node.tag, node.kind, {}, node.line)
                    root.children.append(lists[node.tag])
                lists[node.tag].before += node.before
                lists[node.tag].children += node.children
                lists[node.tag].after += node.after
            else:
                root.children.append(node)
        root.after += doc.root.after
    return merged


def _write_if_changed(path, doc, check_only):
    canonical = to_xml(doc)
    if canonical == doc.text:
        return False
    if not check_only:
        with io.open(path, "w", encoding="utf-8") as handle:
            handle.write(canonical)
    return True


def format_files(paths, check_only=False):
    """Rewrite each comps file in canonical form (any file comps.rng allows); returns
    the files that were (or, with check_only, would be) changed. Every file is parsed
    before any is written: one that cannot be read stops the run with nothing changed."""
    docs = [(path, parse_file(path)) for path in paths]
    return [path for path, doc in docs if _write_if_changed(path, doc, check_only)]


def format_dir(comps_dir, check_only=False):
    """format_files() over the project's comps/*.xml."""
    return format_files(source_files(comps_dir), check_only)


# --- lint: the project's own comps ---------------------------------------------------

def _strict(node, path, report, where="comps"):
    """What the project's comps/ may use of comps.rng, and values libcomps reads."""
    if node.kind in ("group", "environment", "category"):
        where = _what(node)
    allowed = PROJECT_ATTRS.get(node.kind, ())
    for attr in sorted(node.attrs):
        if attr not in allowed:
            report("{}: {}= on <{}> is not used in the project's comps".format(where, attr, node.tag), path, node.line)
    if node.kind == "bool" and node.text.strip() not in ("true", "false"):
        report("{}: write <{}> as true or false (libcomps reads only those)".format(where, node.tag), path, node.line)
    for attr in ("basearchonly", "default"):
        if attr in node.attrs and node.attrs[attr] not in ("true", "false"):
            report("{}: write {}= as true or false (libcomps reads only those)".format(where, attr), path, node.line)
    if node.kind == "packagereq" and "type" not in node.attrs:
        report("{}, package '{}': give type= (libcomps reads a missing one as mandatory, comps.rng as "
               "optional)".format(where, node.text.strip()), path, node.line)
    children = PROJECT_CHILDREN.get(node.kind)
    seen = set()
    for child in node.children:
        if children is not None and child.tag not in children:
            report("{}: <{}> is not used in the project's comps".format(where, child.tag), path, child.line)
            continue
        if child.kind == "i18n":
            key = (child.tag, child.attrs.get(XML_LANG, ""))
            if key in seen:
                report("{}: duplicate <{}>{}".format(where, child.tag, " for language " + key[1] if key[1] else ""),
                       path, child.line)
            seen.add(key)
        _strict(child, path, report, where)


def lint(docs, known, families=("rhel", "fedora"), arches=CLUSTER_ARCHES, category="cluster"):
    """Every problem as a ClusterError (file:line: message); empty when clean.

    `known(family, arch)` returns the set of package names and provides available
    there (our specs plus the known base)."""
    problems = []

    def report(message, path, line):
        problems.append(ClusterError(message, path, line))

    for doc in docs:
        _strict(doc.root, doc.path, report)
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
            if not entry.names.get("", "").strip():
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
            bad = [a for a in req.arches if a not in KNOWN_BASEARCHES]
            if bad:
                report("{}: unknown arch '{}' (known: {})".format(where, bad[0], ", ".join(KNOWN_BASEARCHES)),
                       grp.path, req.line)
                continue
            missing = [(family, arch) for family in families for arch in arches
                       if _applies(grp.arches, arch) and req.applies_to(arch)
                       and req.name not in known_sets[(family, arch)]]
            if missing:
                report("{}: not provided on {}/{} by our specs or the known base{}".format(
                    where, missing[0][0], missing[0][1], "" if req.arches else " (limit it with arch=)"),
                    grp.path, req.line)
    for entry in merged.categories + merged.environments:
        listed = set()
        for ref in entry.group_ids + getattr(entry, "option_ids", []):
            if ref.name not in group_ids:
                report("{} '{}' lists unknown group '{}'".format(entry.kind, entry.id, ref.name), entry.path, ref.line)
            elif ref.name in listed:
                report("{} '{}' lists group '{}' twice".format(entry.kind, entry.id, ref.name), entry.path, ref.line)
            listed.add(ref.name)
    listed = set()
    for cat in merged.categories:
        if cat.id == category:
            listed = set(ref.name for ref in cat.group_ids)
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
    """Parse with libcomps, as dnf will; returns its complaint or None. Its lists are
    indexed, never iterated (see dnf_plugin_cluster/comps.py)."""
    import libcomps
    comps = libcomps.Comps()
    ret = comps.fromxml_str(text)
    log = comps.get_last_errors()
    errors = [" ".join(str(log[i]).split()) for i in range(len(log))]
    if ret != 0 or errors:
        return "; ".join(errors) or "parse failed"
    return None

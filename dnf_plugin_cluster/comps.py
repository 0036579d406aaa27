"""Comps from repository metadata, read on nodes and the head node through libcomps,
the parser dnf itself uses: every file dnf reads is read (Fedora's and EPEL's, with
langpacks, blacklists, environments, `variant=` and `arch=`), and `arch_filter` applies
the arch limits per basearch (dnf 4 discards its result, see docs/HACKING.md).

Two guards around libcomps: an expat pass first refuses entity declarations and
external entities (no "billion laughs"), names the line of malformed XML and refuses a
root other than <comps> (libcomps crashes on `<html/>` or an empty document); and
libcomps lists are only ever indexed, never iterated, because python3-libcomps 0.1.21
on Python 3.13 (Debian 13) crashes on iteration. The packager's strict, line-numbered
parser for our own comps/ is cluster_repo/compsfile.py."""
import xml.parsers.expat

from .errors import ClusterError
from .groups import GroupView

#: Fedora's comps with every translation is about 14 MB uncompressed.
MAX_BYTES = 64 * 1024 * 1024


def expat_parser(source):
    """An expat parser that refuses entity declarations and external entities."""
    parser = xml.parsers.expat.ParserCreate()
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse_entity(name, *args):
        raise ClusterError("entity declarations are not allowed ('{}')".format(name), source,
                           parser.CurrentLineNumber)

    def refuse_external(*args):
        raise ClusterError("external entities are not allowed", source, parser.CurrentLineNumber)

    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_external
    return parser


def parse_xml(parser, data, source):
    """Run `parser` over `data`; malformed XML is one line naming source:line."""
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as err:
        raise ClusterError("malformed XML: {}".format(xml.parsers.expat.ErrorString(err.code)), source, err.lineno)


def _items(sequence):
    """The items of a libcomps list, by index (iterating one can crash, see above)."""
    return [sequence[index] for index in range(len(sequence))]


# libcomps package types -> our tier names
def _tier(kind):
    import libcomps
    return {libcomps.PACKAGE_TYPE_MANDATORY: "mandatory", libcomps.PACKAGE_TYPE_DEFAULT: "default",
            libcomps.PACKAGE_TYPE_OPTIONAL: "optional",
            libcomps.PACKAGE_TYPE_CONDITIONAL: "conditional"}.get(kind, "mandatory")


class RepoComps(object):
    """The union of several repositories' comps, as dnf merges them, resolved per arch."""

    def __init__(self):
        import libcomps
        self._comps = libcomps.Comps()
        self._per_arch = {}
        self.warnings = []

    def add(self, data, source):
        """Add one comps document (bytes); refuse what dnf could not read either."""
        import libcomps
        parser, roots = expat_parser(source), []
        parser.StartElementHandler = lambda tag, attrs: roots.append(tag) if not roots else None
        parse_xml(parser, data, source)
        if roots != ["comps"]:
            # libcomps (0.1.19 and 0.1.21 alike) crashes on some such documents
            raise ClusterError("not a comps document (root element {})".format(
                "<{}>".format(roots[0]) if roots else "missing"), source)
        doc = libcomps.Comps()
        if doc.fromxml_str(data.decode("utf-8", "replace")) < 0:
            errors = [" ".join(str(e).split()) for e in _items(doc.get_last_errors())]
            raise ClusterError("libcomps cannot read it: {}".format("; ".join(errors[:3]) or "parse failed"),
                               source)
        self.warnings += ["{}: {}".format(source, " ".join(str(e).split())) for e in _items(doc.get_last_errors())]
        self._comps = self._comps + doc
        self._per_arch = {}
        return self

    def _for_arch(self, arch):
        if arch not in self._per_arch:
            filtered = self._comps.arch_filter([arch])
            groups = dict((g.id, g) for g in _items(filtered.groups))
            categories = dict((c.id, [i.name for i in _items(c.group_ids)]) for c in _items(filtered.categories))
            self._per_arch[arch] = (groups, categories)
        return self._per_arch[arch]

    def has_group(self, gid):
        return any(g.id == gid for g in _items(self._comps.groups))

    def group_view(self, gid, arch):
        group = self._for_arch(arch)[0].get(gid)
        if group is None:
            return None
        tiers = {}
        for req in _items(group.packages):
            tiers.setdefault(_tier(req.type), []).append(req.name)
        return GroupView(group.id, group.name or group.id, group.desc or "", tiers)

    def category_groups(self, cid, arch):
        return self._for_arch(arch)[1].get(cid)


def repo_comps(backend):
    """The comps of every enabled repository (through the backend), merged as dnf
    merges them: what cluster-group shows and what publish resolves role groups with."""
    from . import mdfile
    merged = RepoComps()
    for repoid in backend.enabled_repos():
        for mdtype in ("group_gz", "group"):
            path = backend.metadata_path(repoid, mdtype)
            if path:
                source = "comps of repository '{}'".format(repoid)
                merged.add(mdfile.read_bounded(path, MAX_BYTES, source), source)
                break
    return merged

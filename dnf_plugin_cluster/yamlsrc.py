"""YAML with line numbers: safe loading (never yaml.load), duplicate keys refused,
nesting bounded, and every mapping/sequence remembering where each item came from,
so that validation errors can say `file:line: ...`."""
import yaml

from .errors import ClusterError, cut_quoted, quote


class Map(dict):
    """A dict that knows the source line of each key (1-based) and of itself."""
    line = None
    path = None

    def key_line(self, key):
        return self.lines.get(key, self.line)


class Seq(list):
    """A list that knows the source line of each item (1-based) and of itself."""
    line = None
    path = None

    def item_line(self, index):
        return self.lines[index] if index < len(self.lines) else self.line


#: How deep mappings and sequences may nest. Definitions and roles need a handful of
#: levels; PyYAML composes nodes recursively, so a deeper text (`[[[[...` 600 deep)
#: would end in a RecursionError rather than a line naming the file.
MAX_DEPTH = 64


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses a collection nested more than MAX_DEPTH deep while
    composing, before the recursion gets anywhere near Python's limit."""

    def __init__(self, text, path):
        super(_Loader, self).__init__(text)
        self.path = path
        self.depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise ClusterError("invalid YAML: nested more than {} deep".format(MAX_DEPTH), self.path,
                                   self.peek_event().start_mark.line + 1)
            return super(_Loader, self).compose_node(parent, index)
        finally:
            self.depth -= 1


PLAIN_TAGS = {yaml.MappingNode: "tag:yaml.org,2002:map", yaml.SequenceNode: "tag:yaml.org,2002:seq"}


def _convert(node, loader, path, seen):
    line = node.start_mark.line + 1
    if type(node) in PLAIN_TAGS:
        if node.tag != PLAIN_TAGS[type(node)]:
            # SafeLoader refuses unknown tags on scalars; collections are walked here, so say it too
            raise ClusterError("invalid YAML: tag {} is not allowed".format(quote(node.tag)), path, line)
        if id(node) in seen:
            # an alias: refused, so nested aliases cannot expand exponentially ("billion laughs")
            raise ClusterError("invalid YAML: aliases (*name) are not allowed", path, line)
        seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        out = Map()
        out.line, out.path, out.lines, out.raw = line, path, {}, {}
        loader.flatten_mapping(node)
        for knode, vnode in node.value:
            key = _convert(knode, loader, path, seen)
            if isinstance(key, (Map, Seq)):
                raise ClusterError("mapping keys must be plain values", path, knode.start_mark.line + 1)
            if key in out:
                raise ClusterError("duplicate key {} (first at line {})".format(quote(key), out.lines[key]),
                                   path, knode.start_mark.line + 1)
            out[key] = _convert(vnode, loader, path, seen)
            out.lines[key] = knode.start_mark.line + 1
            if isinstance(vnode, yaml.ScalarNode):
                out.raw[key] = vnode.value
        return out
    if isinstance(node, yaml.SequenceNode):
        out = Seq()
        out.line, out.path = line, path
        out.lines = [item.start_mark.line + 1 for item in node.value]
        out.extend(_convert(item, loader, path, seen) for item in node.value)
        return out
    return loader.construct_object(node, deep=True)


def load(text, path):
    """Parse one YAML document from `text`; `path` is used in error messages only."""
    loader = _Loader(text, path)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _convert(node, loader, path, set())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = mark.line + 1 if mark is not None else None
        raise ClusterError("invalid YAML: {}".format(cut_quoted(err.problem or err.context or "")), path, where)
    except yaml.YAMLError as err:
        raise ClusterError("invalid YAML: {}".format(cut_quoted(str(err))), path)
    finally:
        loader.dispose()


def load_file(path):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as err:
        raise ClusterError("cannot read: {}".format(getattr(err, "strerror", None) or err), path)
    return load(text, path)


class Checker(object):
    """Validates one loaded mapping against an allowed key set, with file:line errors."""

    def __init__(self, data, path, what):
        if not isinstance(data, Map):
            line = getattr(data, "line", 1)
            raise ClusterError("{} must be a mapping".format(what), path, line)
        self.data, self.path, self.what = data, path, what

    def fail(self, message, key=None):
        line = self.data.key_line(key) if key is not None else self.data.line
        raise ClusterError(message, self.path, line)

    def keys(self, required=(), optional=()):
        allowed = set(required) | set(optional)
        for key in self.data:
            if key not in allowed:
                self.fail("unknown key {} in {} (allowed: {})".format(
                    quote(key), self.what, ", ".join(sorted(allowed))), key)
        for key in required:
            if key not in self.data:
                self.fail("missing key {} in {}".format(quote(key), self.what))

    def get(self, key, kind, default=None):
        if key not in self.data:
            return default
        value = self.data[key]
        if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = self.data.raw[key]  # `version: 1.10` means "1.10", not the float 1.1
        if not isinstance(value, kind):
            names = {str: "a string", list: "a list", dict: "a mapping", bool: "true or false"}
            kinds = kind if isinstance(kind, tuple) else (kind,)
            self.fail("{} must be {}".format(quote(key), " or ".join(names.get(k, k.__name__) for k in kinds)), key)
        return value

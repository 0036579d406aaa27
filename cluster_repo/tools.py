"""Tools built from upstream sources, in dist-git layout:

    specs/NAME/NAME.spec    the spec (`# Owners:` header as every hand-written spec)
    specs/NAME/sources      `SHA512 (FILE) = HEX` per tarball the tree does not hold
    specs/NAME/*.patch      patches and other small sources, beside the spec

Every Source and Patch of the spec is either a file beside it or has a `sources` line
(fetched into the lookaside cache by `cluster-repo sources`); lint checks both ways."""
import os
import re
import urllib.parse

from dnf_plugin_cluster.errors import ClusterError

from . import lookaside

TAG_RE = re.compile(r"^(?P<tag>(?:Source|Patch)\d*)\s*:\s*(?P<value>\S+)\s*$", re.I)
SCHEMES = ("http", "https", "file")


class SpecSource(object):
    def __init__(self, tag, value, line):
        self.tag, self.value, self.line = tag, value, line

    @property
    def filename(self):
        """The file name rpmbuild looks for in %_sourcedir: the URL's last part."""
        if "://" in self.value:
            path = urllib.parse.urlsplit(self.value).path
            return urllib.parse.unquote(path.rsplit("/", 1)[-1])
        return self.value.rsplit("/", 1)[-1]

    @property
    def url(self):
        return self.value if "://" in self.value else None

    @property
    def is_patch(self):
        return self.tag.lower().startswith("patch")


class Tool(object):
    """One tool's dist-git directory, specs/NAME/."""

    def __init__(self, specs_dir, name):
        self.name = name
        self.dir = os.path.join(specs_dir, name)
        self.spec = os.path.join(self.dir, name + ".spec")
        self.sources_file = os.path.join(self.dir, lookaside.SOURCES_FILE)

    def entries(self):
        return lookaside.parse(self.sources_file)

    def beside(self):
        """File names beside the spec that rpmbuild gets as sources (patches, ...)."""
        skip = (os.path.basename(self.spec), lookaside.SOURCES_FILE)
        return sorted(f for f in os.listdir(self.dir) if f not in skip and not f.startswith(".")
                      and os.path.isfile(os.path.join(self.dir, f)))

    def spec_sources(self, target):
        """[SpecSource] of the spec as parsed for `target` (macros expanded), each with
        the line of its tag in the spec file."""
        from .project import rpmspec_parsed
        raw_lines = {}
        with open(self.spec, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                match = TAG_RE.match(line)
                if match:
                    raw_lines.setdefault(match.group("tag").lower(), number)
        out = []
        for line in rpmspec_parsed(self.spec, target).splitlines():
            match = TAG_RE.match(line)
            if match:
                tag = match.group("tag")
                out.append(SpecSource(tag, match.group("value"), raw_lines.get(tag.lower())))
        return out

    def problems(self, target, sources=None):
        """ClusterErrors: bad sources lines, a Source with neither a file beside the
        spec nor a sources line, a sources line no Source names. `sources`: the spec's
        [SpecSource] when the caller parsed it already (spec_sources)."""
        try:
            entries = self.entries()
            if sources is None:
                sources = self.spec_sources(target)
        except ClusterError as err:
            return [err]
        listed = dict((e.filename, e) for e in entries)
        beside = set(self.beside())
        problems = []
        for src in sources:
            name = src.filename
            if name in beside or name in listed:
                continue
            where = "specs/{}/{}".format(self.name, lookaside.SOURCES_FILE)
            problems.append(ClusterError(
                "{} '{}' is neither beside the spec nor listed in {}: run `cluster-repo new-sources {} FILE`"
                .format(src.tag, name, where, self.name), self.spec, src.line))
        named = set(src.filename for src in sources)
        for entry in entries:
            if entry.filename not in named:
                problems.append(ClusterError("'{}' is named by no Source of {}.spec".format(
                    entry.filename, self.name), entry.path, entry.line))
            elif entry.filename in beside:
                problems.append(ClusterError("'{}' is both beside the spec and in the lookaside: keep one".format(
                    entry.filename), entry.path, entry.line))
        return problems

    def verified_files(self, cache):
        """{file name: path} of every sources line, each checked against its SHA512 in
        the cache; ClusterError for one that is missing or does not match."""
        out = {}
        for entry in self.entries():
            path = lookaside.verified(cache, self.name, entry)
            if path is None:
                raise ClusterError("{} is not in the lookaside cache {}: run `cluster-repo sources {}`".format(
                    entry.filename, cache, self.name), entry.path, entry.line)
            out[entry.filename] = path
        return out


def find(specs_dir):
    """[Tool] for every specs/NAME/NAME.spec."""
    out = []
    if not os.path.isdir(specs_dir):
        return out
    for name in sorted(os.listdir(specs_dir)):
        if os.path.isfile(os.path.join(specs_dir, name, name + ".spec")):
            out.append(Tool(specs_dir, name))
    return out

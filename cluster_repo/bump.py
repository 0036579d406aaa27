"""`cluster-repo bump NAME VERSION [--comment TEXT]`: the owner's update of a tool, as
`rpmdev-bumpspec` and `fedpkg new-sources` do it together.

It sets Version, resets Release to 1, fetches the new tarball from the spec's Source
URL (now naming the new version) into the lookaside cache, writes its `sources` line
and adds a `%changelog` entry in the owner's name. Nothing in the tree changes until the
download succeeded; the next `build --update` rebuilds that tool only."""
import datetime
import os
import re

from dnf_plugin_cluster.errors import ClusterError

from . import changelog, lookaside, owners, sources
from .project import FAMILY_TARGETS
from .targets import get_target

VERSION_RE = re.compile(r"[0-9A-Za-z._+~^]+\Z")
VERSION_LINE = re.compile(r"^(Version:\s*)(\S+)[ \t]*$", re.M)
RELEASE_LINE = re.compile(r"^(Release:\s*)(\S*?)(%\{\?dist\})[ \t]*$", re.M)
CHANGELOG_LINE = re.compile(r"^%changelog[ \t]*\n", re.M)


def _compare(a, b):
    import rpm
    return rpm.labelCompare(("0", a, "1"), ("0", b, "1"))


def changelog_entry(author, version, comment, day):
    text = comment or "Update to {}".format(version)
    entry = changelog.Entry(day, author, "{}-1".format(version), [text])
    return entry.render()


def bump(project, name, version, opts, comment=None, author=None, today=None):
    """Edit the tool's spec and sources for `version`; returns the new sources entries."""
    tool = project.tool(name)
    if not VERSION_RE.match(version or ""):
        raise ClusterError("'{}' is not an rpm version (letters, digits and . _ + ~ ^)".format(version))
    with open(tool.spec, encoding="utf-8") as handle:
        text = handle.read()
    current = VERSION_LINE.search(text)
    release = RELEASE_LINE.search(text)
    if not current or not release or not CHANGELOG_LINE.search(text):
        raise ClusterError("bump needs plain 'Version:', 'Release: N%{?dist}' and '%changelog' lines", tool.spec)
    if _compare(version, current.group(2)) <= 0:
        raise ClusterError("{} does not sort above the spec's Version {}".format(version, current.group(2)),
                           tool.spec, text[:current.start()].count("\n") + 1)
    author = owners.check_owner(author) if author else owners.spec_header(tool.spec)[0][0]
    day = today or datetime.datetime.utcnow().date()
    new = VERSION_LINE.sub(lambda m: m.group(1) + version, text, count=1)
    new = RELEASE_LINE.sub(lambda m: m.group(1) + "1" + m.group(3), new, count=1)
    new = CHANGELOG_LINE.sub(lambda m: m.group(0) + changelog_entry(author, version, comment, day) + "\n\n",
                             new, count=1)
    # the new Sources, as rpm reads the edited spec; fetched before anything is written
    edited = tool.spec + ".bump"
    try:
        with open(edited, "w", encoding="utf-8") as handle:
            handle.write(new)
        probe = type(tool)(project.specs_dir, name)
        probe.spec = edited
        srcs = probe.spec_sources(get_target(FAMILY_TARGETS["rhel"]))
    finally:
        if os.path.exists(edited):
            os.unlink(edited)
    beside = set(tool.beside())
    entries = []
    for src in srcs:
        if src.filename in beside or src.is_patch:
            continue
        if not src.url:
            raise ClusterError("{} '{}' has no URL to fetch the new version from".format(src.tag, src.value),
                               tool.spec, src.line)
        entries.append(sources.fetch_new(tool.name, src.filename, src.url, opts))
    with open(tool.spec + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(new)
    os.rename(tool.spec + ".tmp", tool.spec)
    lookaside.write(tool.sources_file, entries)
    return entries

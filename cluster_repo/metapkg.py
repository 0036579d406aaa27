"""Metapackage definitions (metapackages/*.yaml) and the specs rendered from them.

A metapackage is an empty RPM whose dependencies pull in the cluster's software.
Dependencies are either a string (`name` or `name >= version`) or a mapping:

    - name: libpsm2          # or  any_of: [cluster-mpi-openmpi, cluster-mpi-mpich]
      version: ">= 11"       # optional
      if: cluster-mpi-openmpi  # optional: rich conditional `(name if cond)`
      arch: [x86_64]         # optional: %ifarch; makes the package arch-specific
      distro: rhel           # optional: %if 0%{?rhel} / 0%{?fedora}

A tool built here per MPI family (specs/NAME/, subpackages NAME-openmpi and NAME-mpich)
is required in the family the site chose, the one whose cluster-mpi-FAMILY metapackage
the node has, with `mpi:` in place of `name:` (version, arch and distro as above):

    - mpi: netpipe           # (netpipe-openmpi if cluster-mpi-openmpi)
                             # (netpipe-mpich if cluster-mpi-mpich)

It becomes one rich conditional per family (cluster_repo.mpi.FAMILIES); a node without
either family metapackage gets none, so such a definition also requires cluster-mpi
(which pulls the default flavour). A family a target lacks is simply never chosen there:
its subpackage is not built for that target (see `cluster-repo lint`'s notes).

A package without arch-conditional dependencies is noarch. `sysusers` entries give
service accounts fixed ids, so head and compute nodes agree on them:

    sysusers:
      - {user: munge, uid: 451, comment: MUNGE authentication, home: /run/munge,
         gid: 451,                            # optional: default = uid
         paths: [/etc/munge, /var/lib/munge]} # optional: default [home]
      - {group: render, gid: 452}

They become a sysusers.d file (read at boot) and Lua %pretrans/%pre/%posttrans
scriptlets (templates/sysusers.lua) that make the ids win although the packages that
run as those accounts (munge, slurm) create them in their own %pre with dynamic ids:
accounts created earlier in the same transaction are renumbered and what they own
under `paths` re-owned, all through shadow-utils' tools (useradd, groupmod, usermod,
which take the account files' locks); accounts that existed before with other ids are
refused with the commands that fix them. The package then Requires(pre) setup and
shadow-utils. `owners`
(required) names who maintains it (owners.py); `changelog` is optional (changelog.py);
`license` is an SPDX expression (default MIT) and `url` the project's page (default
DEFAULT_URL).

Every text value is checked and escaped before it reaches the spec (spectext.py), and
the spec comes from templates/metapackage.spec.in."""
import base64
import os
import re

import dnf_plugin_cluster
from dnf_plugin_cluster import yamlsrc
from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.names import KNOWN_BASEARCHES, check_dep_name, check_name

from . import changelog, mpi, owners, spectext, template

FAMILIES = ("rhel", "fedora")
DEP_KINDS = ("requires", "recommends", "suggests", "supplements", "conflicts", "obsoletes", "provides")
TOP_KEYS = ("name", "version", "release", "summary", "description", "license", "url", "owners",
            "changelog", "sysusers") + DEP_KINDS
VERSION_RE = re.compile(r"(=|>=|<=|>|<) *([0-9A-Za-z._+~^:-]+)\Z")
#: the dependency kinds an `mpi:` entry may appear in (a family's build is pulled in, never provided)
MPI_KINDS = ("requires", "recommends", "suggests", "supplements")
EVR_FIELD_RE = re.compile(r"[0-9A-Za-z._+~^]+\Z")
GENERATED_MARK = "# Generated from "
SPEC_TEMPLATE = "metapackage.spec.in"
SYSUSERS_TEMPLATE = "sysusers.in"
SYSUSERS_LUA = "sysusers.lua"
SYSUSERS_EOF = "CLUSTER_SYSUSERS_EOF"
#: The URL: of a metapackage whose definition has no url: (the project's one URL).
DEFAULT_URL = dnf_plugin_cluster.__url__
#: Longest name, version and release. The RPM file name is NAME-VERSION-RELEASE.DIST.ARCH.rpm
#: and must stay under the 255-byte limit of a file name: 100 + 64 + 32, two dashes, a dist
#: tag of up to 16 (".el10", ".fc43", ".el9_4") and ".aarch64.rpm" make 226, which leaves room
#: for rpmbuild's own work names such as NAME-VERSION-RELEASE.DIST.ARCH under BUILDROOT/.
MAX_LENGTHS = {"name": 100, "version": 64, "release": 32}


class Dep(object):
    def __init__(self, names, version=None, cond=None, arches=(), distro=None, line=None, mpi_family=None):
        self.names = names          # one name, or the alternatives of any_of
        self.version = version
        self.cond = cond
        self.arches = tuple(arches)
        self.distro = distro
        self.line = line
        self.mpi_family = mpi_family    # the family of an `mpi:` entry's expansion

    def expression(self):
        if len(self.names) > 1:
            expr = "({})".format(" or ".join(self.names))
        else:
            expr = self.names[0] + (" " + self.version if self.version else "")
        if self.cond:
            expr = "({} if {})".format(expr, self.cond)
        return expr

    def applies(self, family, arch):
        return (self.distro is None or self.distro == family) and (not self.arches or arch in self.arches)

    def referenced(self):
        """Every name this dependency needs to exist (alternatives and condition)."""
        return list(self.names) + ([self.cond] if self.cond else [])


class SysUser(object):
    """One `sysusers:` entry: a user (kind "u", uid `ident`, primary group `gid` of the
    same name) or a group (kind "g", gid `ident`)."""

    def __init__(self, kind, name, ident, comment, home, gid=None, paths=None):
        self.kind, self.name, self.ident, self.comment, self.home = kind, name, ident, comment, home
        self.gid = ident if gid is None else gid
        if paths is None:
            paths = [home] if kind == "u" and home != "/" else []
        self.paths = list(paths)

    def lines(self):
        """The sysusers.d lines; every field was checked (spectext), none needs escaping."""
        if self.kind == "g":
            return ["g {} {}".format(self.name, self.ident)]
        if self.gid == self.ident:      # the group of the same name gets the same id
            return ['u {} {} "{}" {} /sbin/nologin'.format(self.name, self.ident, self.comment, self.home)]
        return ["g {} {}".format(self.name, self.gid),
                'u {} {}:{} "{}" {} /sbin/nologin'.format(self.name, self.ident, self.gid, self.comment, self.home)]

    def lua(self):
        """This account as an entry of the scriptlets' ACCOUNTS table (templates/sysusers.lua).
        Names, comments and paths were checked: no quote, backslash, % or line break."""
        paths = "{" + ", ".join('"{}"'.format(p) for p in self.paths) + "}"
        if self.kind == "g":
            return '{{name="{}", gid={}, paths={}}}'.format(self.name, self.ident, paths)
        return '{{name="{}", uid={}, gid={}, gecos="{}", home="{}", shell="/sbin/nologin", paths={}}}'.format(
            self.name, self.ident, self.gid, self.comment, self.home, paths)


class Metapackage(object):
    def __init__(self, path):
        self.path = path
        self.name = self.version = self.release = self.summary = self.description = None
        self.license, self.url = "MIT", None
        self.owners = []
        self.changelog = None           # entries from the YAML; None: one is generated
        self.deps = dict((kind, []) for kind in DEP_KINDS)
        self.sysusers = []
        self.lines = {}

    @property
    def evr(self):
        return "{}-{}".format(self.version, self.release)

    @property
    def noarch(self):
        return not any(dep.arches for deps in self.deps.values() for dep in deps)

    def line_of(self, key):
        return self.lines.get(key)

    def provided_names(self):
        return [self.name] + [n for dep in self.deps["provides"] for n in dep.names]

    @property
    def spec_name(self):
        return self.name + ".spec"


def _dep_from(item, path, line, kind):
    """The Deps of one entry: one, or one per MPI family for an `mpi:` entry."""
    if isinstance(item, str):
        parts = item.split(None, 1)
        if not parts:
            raise ClusterError("empty {} entry".format(kind), path, line)
        version = parts[1].strip() if len(parts) > 1 else None
        deps = [Dep([parts[0]], version, line=line)]
    elif isinstance(item, yamlsrc.Map):
        check = yamlsrc.Checker(item, path, "{} entry".format(kind))
        check.keys(optional=("name", "any_of", "mpi", "version", "if", "arch", "distro"))
        if len([key for key in ("name", "any_of", "mpi") if key in item]) != 1:
            check.fail("a {} entry needs exactly one of 'name', 'any_of' or 'mpi'".format(kind))
        if "any_of" in item:
            names = check.get("any_of", list)
            if len(names) < 2 or not all(isinstance(n, str) for n in names):
                check.fail("'any_of' needs two or more package names", "any_of")
            if "version" in item:
                check.fail("'version' cannot be combined with 'any_of'", "version")
        elif "mpi" in item:
            if kind not in MPI_KINDS:
                check.fail("'mpi' pulls in a tool's MPI build: {} only".format(", ".join(MPI_KINDS)), "mpi")
            if "if" in item:
                check.fail("'if' cannot be combined with 'mpi' (the condition is the site's MPI family)", "if")
            names = [check.get("mpi", str)]
        else:
            names = [check.get("name", str)]
        arch = check.get("arch", (str, list), [])
        arches = [arch] if isinstance(arch, str) else list(arch)
        for a in arches:
            if a not in KNOWN_BASEARCHES:
                check.fail("unknown arch '{}' (known: {})".format(a, ", ".join(KNOWN_BASEARCHES)), "arch")
        distro = check.get("distro", str)
        if distro is not None and distro not in FAMILIES:
            check.fail("'distro' must be one of {}".format(", ".join(FAMILIES)), "distro")
        version = check.get("version", str)
        if "mpi" in item:
            try:
                check_dep_name(names[0])
            except ClusterError as err:
                raise ClusterError("{}: {}".format(kind, err.bare), path, line)
            deps = [Dep([mpi.package(names[0], family)], version, mpi.CHOICE.format(family), arches, distro, line,
                        mpi_family=family) for family in mpi.FAMILIES]
        else:
            deps = [Dep(list(names), version, check.get("if", str), arches, distro, line)]
    else:
        raise ClusterError("{} entries are package names or mappings".format(kind), path, line)
    for dep in deps:
        for name in dep.referenced():
            try:
                check_dep_name(name)
            except ClusterError as err:
                raise ClusterError("{}: {}".format(kind, err.bare), path, line)
        if dep.version is not None and not VERSION_RE.match(dep.version):
            raise ClusterError("{}: version '{}' must look like '>= 1.2'".format(kind, dep.version), path, line)
    return deps


def _sysusers(items, path):
    users = []
    for index, item in enumerate(items):
        line = items.item_line(index)
        check = yamlsrc.Checker(item, path, "sysusers entry")
        if "user" in item:
            check.keys(required=("user", "uid"), optional=("comment", "home", "gid", "paths"))
            name, ident, kind = check.get("user", str), item["uid"], "u"
            gid = item.get("gid", ident)
        else:
            check.keys(required=("group", "gid"), optional=("paths",))
            name, ident, kind = check.get("group", str), item["gid"], "g"
            gid = ident
        for value in (ident, gid):
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < 1000:
                raise ClusterError("fixed ids must be system ids between 1 and 999", path, line)
        comment = check.get("comment", str, name)
        home = check.get("home", str, "/")
        paths = check.get("paths", list, None)
        checks = [("user" if kind == "u" else "group", name, spectext.account),
                  ("comment", comment, spectext.sysusers_comment),
                  ("home", home, spectext.sysusers_home)]
        checks += [("paths", p if isinstance(p, str) else repr(p), _sysusers_path) for p in paths or []]
        for key, value, checker in checks:
            try:
                checker(value)
            except ClusterError as err:
                check.fail(err.bare, key if key in item else None)
        if "/" in (paths or []):
            check.fail("paths: '/' would walk the whole system; name the account's own directories", "paths")
        users.append(SysUser(kind, name, ident, comment, home, gid, paths))
    _check_unique(users, path, items)
    return users


def _sysusers_path(value):
    """A directory the account's files are re-owned under: a plain absolute path."""
    try:
        return spectext.sysusers_home(value)
    except ClusterError:
        raise ClusterError("sysusers path {!r} must be an absolute path of letters, digits and ._+-".format(value))


def _check_unique(users, path, items):
    """Two entries may not claim one name or one id (a user's gid is its group's)."""
    names, uids, gids = {}, {}, {}
    for index, user in enumerate(users):
        line = items.item_line(index)
        for table, key, what in ((names, user.name, "name"), (gids, user.gid, "gid")) + (
                ((uids, user.ident, "uid"),) if user.kind == "u" else ()):
            if key in table:
                raise ClusterError("sysusers: {} {} is used twice (also line {})".format(what, key, table[key]),
                                   path, line)
            table[key] = line


def _load_yaml(path):
    """yamlsrc.load_file, plus a one-line error for a scalar YAML types but cannot
    construct (`date: 2026-02-30`), which the YAML library raises as a bare ValueError."""
    try:
        return yamlsrc.load_file(path)
    except (ValueError, OverflowError) as err:
        if isinstance(err, ClusterError):
            raise
        raise ClusterError("invalid YAML value: {}".format(err), path, _unconstructible_line(path))


def _unconstructible_line(path):
    """The line of the first scalar the safe loader cannot construct, or None."""
    import yaml
    with open(path, encoding="utf-8") as handle:
        loader = yaml.SafeLoader(handle.read())
    try:
        todo, seen = [loader.get_single_node()], set()
        while todo:
            node = todo.pop(0)
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.ScalarNode):
                try:
                    loader.construct_object(node)
                except (ValueError, OverflowError):
                    return node.start_mark.line + 1
            elif isinstance(node, yaml.MappingNode):
                todo += [n for pair in node.value for n in pair]
            else:
                todo += list(node.value)
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return None


def load(path):
    data = _load_yaml(path)
    check = yamlsrc.Checker(data, path, "metapackage definition")
    check.keys(required=("name", "version", "release", "summary", "description", "owners"), optional=TOP_KEYS)
    pkg = Metapackage(path)
    pkg.lines = dict((key, data.key_line(key)) for key in data)
    pkg.name = check.get("name", str)
    try:
        check_name(pkg.name, "metapackage name")
    except ClusterError as err:
        check.fail(err.bare, "name")
    expected = os.path.splitext(os.path.basename(path))[0]
    if pkg.name != expected:
        check.fail("name '{}' must match the file name '{}.yaml'".format(pkg.name, expected), "name")
    if len(pkg.name) > MAX_LENGTHS["name"]:
        check.fail("name is {} characters long; at most {}, so its RPM file names stay under 255 bytes".format(
            len(pkg.name), MAX_LENGTHS["name"]), "name")
    for key in ("version", "release"):
        value = check.get(key, str)
        if not EVR_FIELD_RE.match(value):
            check.fail("'{}' may contain only letters, digits and . _ + ~ ^".format(key), key)
        if len(value) > MAX_LENGTHS[key]:
            check.fail("'{}' is longer than {} characters".format(key, MAX_LENGTHS[key]), key)
        setattr(pkg, key, value)
    for key, checker in (("summary", lambda v: spectext.one_line(v, "summary")),
                         ("license", spectext.license_expression), ("url", spectext.url)):
        value = check.get(key, str)
        if value is None:
            continue
        try:
            setattr(pkg, key, checker(value.strip()))
        except ClusterError as err:
            check.fail(err.bare, key)
    try:
        pkg.description = spectext.description(check.get("description", str))
    except ClusterError as err:
        raise ClusterError(err.bare, path, _text_line(path, data.key_line("description"), err))
    items = check.get("owners", list)
    for index, item in enumerate(items):
        try:
            owners.check_owner(item)
        except ClusterError as err:
            raise ClusterError(err.bare, path, items.item_line(index))
    try:
        pkg.owners = owners.check_owners(items)
    except ClusterError as err:
        check.fail(err.bare, "owners")
    if "changelog" in data:
        pkg.changelog = changelog.load(check.get("changelog", list), path, pkg.evr)
    for kind in DEP_KINDS:
        items = check.get(kind, list, yamlsrc.Seq())
        pkg.deps[kind] = [dep for index, item in enumerate(items)
                          for dep in _dep_from(item, path, items.item_line(index), kind)]
        seen = {}
        for dep in pkg.deps[kind]:
            key = (dep.expression(), dep.arches, dep.distro)
            if key in seen:
                raise ClusterError("{} '{}' is listed twice (first at line {})".format(
                    kind, dep.expression(), seen[key]), path, dep.line)
            seen[key] = dep.line
    pkg.sysusers = _sysusers(check.get("sysusers", list, yamlsrc.Seq()), path)
    return pkg


def _text_line(path, key_line, err):
    """The file line of the description line `err` names (a block scalar's lines follow
    its key), found by its text; the key's own line when it cannot be told."""
    text = getattr(err, "text", "").strip()
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
    except OSError:
        return key_line
    for number in range(key_line + 1, len(lines) + 1):
        line = lines[number - 1]
        if line[:1] not in ("", " ", "\t"):
            break                       # the next top-level key: the block has ended
        if text and line.strip() == text:
            return number
    return key_line


def load_dir(directory):
    """All definitions in `directory`, checked together: unique names and provides,
    no dependency cycles among metapackages."""
    files = sorted(f for f in os.listdir(directory) if f.endswith((".yaml", ".yml")))
    pkgs = [load(os.path.join(directory, f)) for f in files]
    seen = {}
    for pkg in pkgs:
        if pkg.name in seen:
            raise ClusterError("duplicate metapackage name '{}' (also in {})".format(pkg.name, seen[pkg.name]),
                               pkg.path, pkg.line_of("name"))
        seen[pkg.name] = pkg.path
    _check_cycles(pkgs)
    return pkgs


def _check_cycles(pkgs):
    providers = {}
    for pkg in pkgs:
        for name in pkg.provided_names():
            providers.setdefault(name, set()).add(pkg.name)
    by_name = dict((p.name, p) for p in pkgs)
    edges = {}
    for pkg in pkgs:
        targets = []
        for dep in pkg.deps["requires"]:
            for name in dep.names:
                for provider in sorted(providers.get(name, ())):
                    if provider != pkg.name:
                        targets.append((provider, dep.line))
        edges[pkg.name] = targets
    state = {}

    def visit(name, trail):
        state[name] = "active"
        for target, line in edges[name]:
            if state.get(target) == "active":
                cycle = [n for n, _ in trail[[n for n, _ in trail].index(target):]] + [name, target]
                src = by_name[name]
                raise ClusterError("requires '{}': dependency cycle {}".format(target, " -> ".join(cycle)),
                                   src.path, line)
            if target not in state:
                visit(target, trail + [(name, line)])
        state[name] = "done"

    for pkg in pkgs:
        if pkg.name not in state:
            visit(pkg.name, [])


def check_known(pkgs, known, families=FAMILIES, arches=("x86_64", "aarch64")):
    """Every name a dependency references (alternatives and conditions included) must
    exist wherever the dependency applies. Returns a list of ClusterErrors.
    `known(family, arch)` gives the names and provides available there."""
    problems = []
    for pkg in pkgs:
        for kind in ("requires", "recommends", "suggests", "supplements"):
            for dep in pkg.deps[kind]:
                missing = [(name, family, arch) for family in families for arch in arches
                           if dep.applies(family, arch)
                           for name in dep.referenced() if name not in known(family, arch)]
                if missing:
                    name, family, arch = missing[0]
                    hint = "" if dep.arches or dep.distro else " (limit it with arch: or distro:)"
                    problems.append(ClusterError("{} '{}' is not provided on {}/{}{}".format(
                        kind, name, family, arch, hint), pkg.path, dep.line))
    return problems


# --- rendering ------------------------------------------------------------------------

def _guarded(lines, dep):
    out = []
    if dep.distro:
        out.append("%if 0%{{?{}}}".format(dep.distro))
    if dep.arches:
        out.append("%ifarch {}".format(" ".join(dep.arches)))
    out += lines
    out += ["%endif"] * ((1 if dep.distro else 0) + (1 if dep.arches else 0))
    return out


def _source_text(source_rel):
    """The definition's path as the spec's header comment names it (rpm expands macros
    in comments too)."""
    try:
        return spectext.escape(spectext.one_line(source_rel, "definition path"))
    except ClusterError as err:
        raise ClusterError(err.bare, source_rel)


def sysusers_lua(pkg, phase):
    """The Lua body of the %pretrans, %pre or %posttrans (`phase`) of a package with
    sysusers: its accounts, then templates/sysusers.lua without its comment lines."""
    with open(template.path_of(SYSUSERS_LUA), encoding="utf-8") as handle:
        code = [line for line in handle.read().splitlines() if line.strip() and not line.lstrip().startswith("--")]
    head = ['local PHASE = "{}"'.format(phase), 'local PACKAGE = "{}"'.format(pkg.name), "local ACCOUNTS = {"]
    head += ["  {},".format(u.lua()) for u in pkg.sysusers]
    body = "\n".join(head + ["}"] + code)
    if "%" in body:                     # rpm would expand it; the values cannot hold one
        raise ClusterError("the account scriptlets would contain '%'", template.path_of(SYSUSERS_LUA))
    return body


#: the spec condition for declaring user()/group() provides (sysusers_provides): a target
#: whose rpm generates them (Fedora 42 and later; EL10 and Fedora 41 patch the generator
#: out, see targets.USERGROUP_NONE) built where rpm has no generator (rpm < 4.19, which
#: has no fileattrs/sysusers.attr: Debian 12's 4.18). On a Fedora builder, or Debian 13's
#: rpm 4.20, rpm generates them from the sysusers.d file itself and the spec adds none.
SYSUSERS_PROVIDES_IF = ('%if 0%{?fedora} >= 42 && !0%{lua: if posix.access(rpm.expand('
                        '"%{_fileattrsdir}/sysusers.attr")) then print(1) end}')


def sysusers_provide_lines(pkg):
    """The provides rpm >= 4.19 generates from the package's sysusers.d lines (its
    fileattrs/sysusers.attr and %add_sysuser): `user(NAME) = DATA` for a u line and
    `group(NAME) = DATA` for a g line, DATA the line's fields joined by single spaces,
    NUL-padded to a multiple of 3 bytes and base64-encoded (no '=', no line break: rpm
    4.19+ decodes it and creates the account with systemd-sysusers on install), and
    `group(NAME)` for the group a u line creates alongside."""
    out = []
    for line in (line for u in pkg.sysusers for line in u.lines()):
        fields = line.split()
        data = " ".join(fields).encode("utf-8")
        data += b"\0" * (-len(data) % 3)
        kind = "user" if fields[0] == "u" else "group"
        out.append("{}({}) = {}".format(kind, fields[1], base64.b64encode(data).decode("ascii")))
        if kind == "user":
            out.append("group({})".format(fields[1]))
    return out


def _sysusers_install(pkg, sysusers_file):
    lines = [line for u in pkg.sysusers for line in u.lines()]
    if SYSUSERS_EOF in lines:           # cannot happen: every line starts with "u " or "g "
        raise ClusterError("a sysusers line would end the heredoc", pkg.path)
    return template.fill(SYSUSERS_TEMPLATE, {
        "file": sysusers_file, "eof": SYSUSERS_EOF, "lines": "\n".join(lines),
        "pretrans": sysusers_lua(pkg, "pretrans"), "pre": sysusers_lua(pkg, "pre"),
        "posttrans": sysusers_lua(pkg, "posttrans")}).rstrip("\n")


def render(pkg, source_rel):
    """The spec text for one metapackage (templates/metapackage.spec.in); `source_rel`
    names the YAML in the header. Every text value is escaped (spectext.escape) here."""
    deps = []
    for kind in DEP_KINDS:
        tag = kind.capitalize() + ":"
        for dep in pkg.deps[kind]:
            expression = dep.expression()
            if kind == "provides" and not dep.version and not dep.cond and len(dep.names) == 1:
                # versioned, as Fedora asks of explicit provides: `Requires: cluster-role(compute)
                # >= 1.0` can then tell builds apart
                expression += " = %{version}-%{release}"
            deps += _guarded(["{:<15} {}".format(tag, expression)], dep)
    if pkg.sysusers:
        # the account scriptlets read setup's /etc/passwd and /etc/group and change
        # accounts with shadow-utils' useradd, groupadd, usermod and groupmod
        deps.append("{:<15} setup".format("Requires(pre):"))
        deps.append("{:<15} shadow-utils".format("Requires(pre):"))
        deps += [SYSUSERS_PROVIDES_IF] + ["{:<15} {}".format("Provides:", p)
                                          for p in sysusers_provide_lines(pkg)] + ["%endif"]
    sysusers_file = "%{_sysusersdir}/" + pkg.name + ".conf"
    entries = pkg.changelog or changelog.generated(pkg.evr, pkg.owners, source_rel, pkg.deps)
    return template.fill(SPEC_TEMPLATE, {
        "source": _source_text(source_rel),
        "owners": ", ".join(pkg.owners),
        "name": pkg.name,
        "version": pkg.version,
        "release": pkg.release,
        "summary": spectext.escape(pkg.summary),
        "license": spectext.escape(pkg.license),
        "url": spectext.escape(pkg.url or DEFAULT_URL),
        "buildarch": "BuildArch:      noarch" if pkg.noarch else "",
        "dependencies": "\n".join(deps),
        "description": spectext.escape(pkg.description),
        "install": _sysusers_install(pkg, sysusers_file) if pkg.sysusers else "",
        "files": sysusers_file if pkg.sysusers else "",
        "changelog": changelog.render(entries),
    })


def render_dir(definitions_dir, specs_dir, check_only=False, project_root=None, pkgs=None):
    """Render every definition to specs_dir/<name>.spec. Returns (changed, stale):
    specs whose text differs from the rendering, and generated specs without a
    definition. With check_only nothing is written. `pkgs`: already loaded definitions."""
    if pkgs is None:
        pkgs = load_dir(definitions_dir)
    root = project_root or os.path.dirname(os.path.abspath(definitions_dir))
    rendered = [(os.path.join(specs_dir, pkg.spec_name), render(pkg, os.path.relpath(pkg.path, root)))
                for pkg in pkgs]              # all rendered before anything is written
    changed, wanted = [], set()
    for target, text in rendered:
        wanted.add(os.path.abspath(target))
        current = None
        if os.path.exists(target):
            with open(target, encoding="utf-8") as handle:
                current = handle.read()
        if current != text:
            changed.append(target)
            if not check_only:
                with open(target, "w", encoding="utf-8") as handle:
                    handle.write(text)
    stale = []
    for spec in sorted(os.listdir(specs_dir)) if os.path.isdir(specs_dir) else []:
        path = os.path.abspath(os.path.join(specs_dir, spec))
        if spec.endswith(".spec") and path not in wanted and is_generated(path):
            stale.append(path)
    return changed, stale


def is_generated(spec_path):
    with open(spec_path, encoding="utf-8", errors="replace") as handle:
        return handle.readline().startswith(GENERATED_MARK)

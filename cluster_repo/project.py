"""The packager's source tree: comps/, metapackages/, specs/, roles/ and base/, and the
lint that checks them together before anything is built."""
import os
import re
import subprocess

import dnf_plugin_cluster
from dnf_plugin_cluster.errors import ClusterError

from . import basepkgs, compsfile, metapkg, mpi, owners, tools
from .targets import TARGETS, get_target

# One target per distro family is enough to ask a hand-written spec what it provides.
FAMILY_TARGETS = {"rhel": "el9", "fedora": "fc41"}


def rpmspec_query(spec, target, queryformat=None, option=None, arch=None, srpm=False, defines=None):
    """Lines `rpmspec -q` prints for `spec` as built for `target` (a Target). `spec` may
    be a list: one rpmspec run for all (a run costs ~10 ms, hundreds of specs add up);
    when it fails, each is asked alone so the error names the spec at fault."""
    specs = [spec] if isinstance(spec, str) else list(spec)
    if not specs:
        return []
    args = (target, queryformat, option, arch, srpm, defines)
    try:
        return _rpmspec(specs, *args)
    except ClusterError:
        for one in specs if len(specs) > 1 else []:
            _rpmspec([one], *args)
        raise


def _rpmspec(specs, target, queryformat, option, arch, srpm, defines):
    # --builtrpms: the packages a build makes (a spec whose main package has no %files,
    # as dnf-plugin-cluster's, builds only its subpackages)
    cmd = ["rpmspec", "-q", "--srpm" if srpm else "--builtrpms"]
    if option:
        cmd.append(option)
    if queryformat:
        cmd += ["--qf", queryformat]
    if arch:
        cmd += ["--target", arch]
    for key, value in sorted(dict(target.macros, **(defines or {})).items()):
        cmd += ["--define", "{} {}".format(key, value)]
    cmd += specs
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        message = (proc.stderr.strip().splitlines() or ["rpmspec failed"])[-1]
        raise ClusterError("cannot parse spec: {}".format(message), specs[0] if len(specs) == 1 else None)
    return [line for line in proc.stdout.splitlines() if line.strip()]


URL_RE = re.compile(r"^URL\s*:\s*(.*?)\s*$", re.I)


def check_project_url(spec):
    """[ClusterError] unless the hand-written spec's URL: is the project's one URL
    (dnf_plugin_cluster.__url__, which a site changes in that one place)."""
    try:
        with open(spec, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
    except (OSError, UnicodeDecodeError) as err:
        return [ClusterError("cannot read: {}".format(getattr(err, "strerror", None) or err), spec)]
    want = dnf_plugin_cluster.__url__
    for number, line in enumerate(lines, 1):
        match = URL_RE.match(line)
        if match:
            if match.group(1) != want:
                return [ClusterError("URL: is '{}', not the project's URL '{}' (dnf_plugin_cluster.__url__): "
                                     "write that".format(match.group(1), want), spec, number)]
            return []
    return [ClusterError("no URL: line; write 'URL: {}' (dnf_plugin_cluster.__url__)".format(want), spec)]


def rpmspec_parsed(spec, target, defines=None):
    """The spec as rpmbuild reads it for `target` (`rpmspec -P`: macros expanded)."""
    cmd = ["rpmspec", "-P"]
    for key, value in sorted(dict(target.macros, **(defines or {})).items()):
        cmd += ["--define", "{} {}".format(key, value)]
    proc = subprocess.run(cmd + [spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8",
                          errors="replace")
    if proc.returncode != 0:
        message = (proc.stderr.strip().splitlines() or ["rpmspec failed"])[-1]
        raise ClusterError("cannot parse spec: {}".format(message), spec)
    return proc.stdout


class Project(object):
    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.comps_dir = os.path.join(self.root, "comps")
        self.metapackages_dir = os.path.join(self.root, "metapackages")
        self.specs_dir = os.path.join(self.root, "specs")
        self.roles_dir = os.path.join(self.root, "roles")
        self.base_file = os.path.join(self.root, "base", "packages.yaml")
        self._base = self._metapackages = None
        self._handwritten = {}
        self._known = {}
        if not os.path.isdir(self.comps_dir) or not os.path.isdir(self.metapackages_dir):
            raise ClusterError("not a cluster source tree (no comps/ and metapackages/)", self.root)

    @property
    def base(self):
        if self._base is None:
            self._base = basepkgs.load(self.base_file)
        return self._base

    @property
    def metapackages(self):
        if self._metapackages is None:
            self._metapackages = metapkg.load_dir(self.metapackages_dir)
        return self._metapackages

    def spec_files(self):
        """specs/*.spec (metapackages, the project's own) and every tool's specs/NAME/NAME.spec."""
        flat = [os.path.join(self.specs_dir, f) for f in os.listdir(self.specs_dir) if f.endswith(".spec")]
        return sorted(flat + [tool.spec for tool in self.tools()])

    def tools(self):
        """The tools built from upstream sources (cluster_repo.tools), dist-git layout."""
        return tools.find(self.specs_dir)

    def tool(self, name):
        for tool in self.tools():
            if tool.name == name:
                return tool
        raise ClusterError("no tool named '{}' (a tool is specs/NAME/NAME.spec)".format(name))

    @property
    def site_release_spec(self):
        """The head node's hand-written cluster-site-release spec (publish builds it)."""
        return os.path.join(self.root, "dnf_plugin_cluster", "head", "templates", "cluster-site-release.spec")

    def handwritten_specs(self):
        return [s for s in self.spec_files() if not metapkg.is_generated(s)]

    def owners(self):
        """[(package name, [owners], file, line)] for every metapackage and hand-written
        spec, sorted by name; a hand-written spec without its owners header is an error."""
        out = [(p.name, p.owners, p.path, p.line_of("owners")) for p in self.metapackages]
        for spec in self.handwritten_specs():
            names, line = owners.spec_header(spec)
            out.append((os.path.basename(spec)[:-len(".spec")], names, spec, line))
        return sorted(out)

    def handwritten_provides(self, family):
        """Names and provides of the hand-written specs' packages (noarch, so any arch)."""
        if family not in self._handwritten:
            target = get_target(FAMILY_TARGETS[family])
            specs = self.handwritten_specs()
            names = set(rpmspec_query(specs, target, "%{name}\\n"))
            names.update(line.split()[0] for line in rpmspec_query(specs, target, option="--provides"))
            self._handwritten[family] = names
        return self._handwritten[family]

    def known(self, family, arch):
        """Every name and provide available for that distro family and arch: the known
        base, our metapackages and our hand-written specs."""
        key = (family, arch)
        if key not in self._known:
            names = set(self.base.provides(arch, family))
            for pkg in self.metapackages:
                names.update(pkg.provided_names())
            names.update(self.handwritten_provides(family))
            self._known[key] = names
        return self._known[key]

    def render(self, check_only=False):
        """metapackages/*.yaml -> specs/*.spec: (changed, stale) as metapkg.render_dir."""
        return metapkg.render_dir(self.metapackages_dir, self.specs_dir, check_only=check_only,
                                  project_root=self.root, pkgs=self.metapackages)

    def comps_docs(self):
        return compsfile.load_dir(self.comps_dir)

    def merged_comps_xml(self):
        return compsfile.to_xml(compsfile.merge(self.comps_docs()))

    def lint(self, render_check=True):
        """All problems across the tree, each a ClusterError naming file and line.
        render_check=False skips "specs/ out of date" (for a build about to render)."""
        problems = []
        try:
            pkgs = self.metapackages
            base_names = set(self.base.packages)
            problems += [ClusterError("metapackage name '{}' is already a base distribution package".format(
                p.name), p.path, p.line_of("name")) for p in pkgs if p.name in base_names]
            for spec in self.handwritten_specs():
                try:
                    owners.spec_header(spec)
                except ClusterError as err:
                    problems.append(err)
                if os.path.dirname(spec) == self.specs_dir:   # the project's own, not a tool's
                    problems += check_project_url(spec)
            if os.path.isfile(self.site_release_spec):
                problems += check_project_url(self.site_release_spec)
            problems += self._lint_tools()
            problems += metapkg.check_known(pkgs, self.known)
            changed, stale = self.render(check_only=True)
            if render_check:
                problems += [ClusterError("out of date with its YAML: run `cluster-repo render`", p)
                             for p in changed]
            problems += [ClusterError("generated spec without a definition in metapackages/: delete it", p)
                         for p in stale]
            problems += compsfile.lint(self.comps_docs(), self.known)
        except ClusterError as err:
            problems.append(err)
        return problems

    def lint_notes(self):
        """What lint tells without calling it a problem: for every target that lacks an
        MPI family on a cluster arch (targets.Target.mpi), one line per tool built per
        family saying that subpackage is not built there, and why."""
        from dnf_plugin_cluster.names import CLUSTER_ARCHES
        lacking = []            # (target, family, [arches])
        for name in sorted(TARGETS):
            target = TARGETS[name]
            for family in mpi.FAMILIES:
                arches = [arch for arch in CLUSTER_ARCHES if family in target.mpi_missing(arch)]
                if arches:
                    lacking.append((target, family, arches))
        notes = []
        if not lacking:
            return notes
        probe = get_target(FAMILY_TARGETS["rhel"])
        for tool in self.tools():
            try:
                names = set(rpmspec_query(tool.spec, probe, "%{name}\\n"))
            except ClusterError:
                continue        # lint reports the spec itself
            for target, family, arches in lacking:
                package = mpi.package(tool.name, family)
                if package in names:
                    notes.append("{}: {} is not built for {} ({}): {} ships no {} there (cluster_repo/targets.py); "
                                 "nodes of that target choose another MPI family".format(
                                     os.path.relpath(tool.spec, self.root), package, target.name,
                                     ", ".join(arches), target.name, family))
        return notes

    def _lint_tools(self):
        problems = []
        target = get_target(FAMILY_TARGETS["rhel"])
        for tool in self.tools():
            if os.path.exists(os.path.join(self.specs_dir, tool.name + ".spec")):
                problems.append(ClusterError("two specs named {}: keep specs/{}/{}.spec only".format(
                    tool.name, tool.name, tool.name), os.path.join(self.specs_dir, tool.name + ".spec")))
            problems += tool.problems(target)
        return problems

    def check(self, render_check=True):
        problems = self.lint(render_check)
        if problems:
            raise ClusterError("{} problem{} (first: {})".format(
                len(problems), "s" if len(problems) > 1 else "", problems[0]))


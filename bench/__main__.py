"""`make bench`: the figures of bench/, each a ratio against plain dnf (or the plain tools)
measured in this run, on the same roots:

1. plugin load: `dnf -C repolist` with the plugin on the pluginpath vs an empty one;
2. a no-op `dnf -y cluster-node sync` (fast path, and --full) and the timer's `dnf-cluster
   -y node sync` (answered before dnf is imported) vs `dnf -C check-update` on a synced
   node, and the files a no-op sync fetches from the HTTP mirror;
3. planning on a ~20,000-package base: `dnf cluster-node sync --dry-run` vs
   `dnf --assumeno install` of the same packages, for the compute role and for a role
   of 1,000 packages;
4. `cluster-repo build` of the project plus N generated metapackages vs the same rpmbuild
   and createrepo_c runs, and `build --update` after one definition changed;
5. fleet status of 64 installroot nodes through ClusterShell (`dnf cluster-master status
   -w`) vs the same 64 node-side `status --json` runs launched by `xargs -P` with the same
   width, and the seconds per node at 16, 32 and 64 nodes;
6. the files and bytes a node fetches after a profile-only change, with the ~20,000-package
   base as the cluster repository: the profile in the site repository vs the same change
   made inside the package repository's metadata (as before the site repository);
8. lock resolution at publish on the ~20,000-package base: `dnf cluster-master publish
   --lock` of the project's 4 roles on x86_64 (each role's fresh-node set resolved in an
   empty root) vs the sum of `dnf --assumeno install` of the same sets into an empty root;
7. dnf5 hosts, inside the Debian sid chroot of the dnf5 tests: the no-op sync and the plan
   of figures 2 and 3 with the libdnf5 backend (`dnf-cluster`, and `dnf5 cluster-node`
   through the C++ plugin) vs dnf5 itself (`dnf5 -C check-upgrade`, `dnf5 --assumeno
   install`) on the same roots; the no-op sync by the fast path (answered before
   libdnf5 is imported) through both, and by the full path (`--full`);
9. tools from upstream sources, N generated small C tools (`cluster-repo new` from
   their release tarballs): `cluster-repo sources` of N tarballs already cached and
   verified vs `sha512sum` of the same files; and `build --update` after one tool's
   `bump` (how many specs it rebuilt: that tool only), its time against the full build
   of the project with the N tools. Figure 9 needs no site: `--only 9` sets none up;
10. the no-op fast path over the fleet: `dnf cluster-master status -w` of the largest
   fleet size of figure 5 (64) installroot nodes in sync (hard-linked copies of the synced
   compute node), answered by the nodes' fast path vs their full path (`--full`), beside
   the same ratio for one node's status (the very command line the fleet runs on each
   node); through the fleet's default node command `dnf-cluster -q node` and through
   `dnf -q cluster-node`.
11. the head node's side of a large fleet: `dnf cluster-master status` of 1,000, 3,000 and
   10,000 simulated nodes (the exec worker runs a script that prints the JSON status a
   real synced node gave): time per node must stay flat (linear in nodes), and the head
   process's peak memory (maxrss, ClusterShell's workers included).

Work goes to out/bench (rebuilt each run); the big base is cached under .cache/bench, the
sid chroot under .cache/sid."""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

from cluster_testkit import REPO_ROOT, bigbase, copy_project, standin
from cluster_testkit.dnfroot import PLUGIN_DIR, DnfRoot
from cluster_testkit.farm import Farm
from cluster_testkit.httpd import RepoServer
from cluster_repo import basepkgs
from cluster_repo.project import Project
from dnf_plugin_cluster.names import CLUSTER_ARCHES

from .timing import Sample, compare, run, timed

RESULTS = os.path.join(REPO_ROOT, "bench", "RESULTS.md")
NOTES_MARKER = "<!-- notes: kept by --record -->"
BIG_ROLE_SIZE = 1000


def log(message):
    print("bench: " + message, file=sys.stderr, flush=True)


class Row(object):
    def __init__(self, figure, what, ours, plain, target, met, note=""):
        self.figure, self.what, self.ours, self.plain = figure, what, ours, plain
        self.target, self.met, self.note = target, met, note

    @property
    def ratio(self):
        if isinstance(self.ours, Sample) and isinstance(self.plain, Sample):
            return self.ours.median / self.plain.median
        return None

    def cells(self):
        def show(value):
            if isinstance(value, Sample):
                return "{:.3f}s".format(value.median)
            return "" if value is None else str(value)
        ratio = "{:.3f}x".format(self.ratio) if self.ratio is not None else ""
        verdict = {True: "met", False: "MISSED", None: ""}[self.met]
        return [self.figure, self.what, show(self.ours), show(self.plain), ratio, self.target, verdict, self.note]


HEADERS = ["#", "measurement", "ours", "plain", "ratio", "target", "", "notes"]


def table(rows, markdown=False):
    cells = [HEADERS] + [r.cells() for r in rows]
    if markdown:
        lines = ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        lines.insert(1, "|" + "|".join("---" for _ in HEADERS) + "|")
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADERS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


# --- the site: base + cluster repository over HTTP, a head node, a synced compute node ----

class Site(object):
    def __init__(self, work):
        self.work = work
        self.www = os.path.join(work, "www")
        os.makedirs(self.www)
        self.server = RepoServer(self.www).start()
        self.no_plugins = os.path.join(work, "no-plugins")
        os.makedirs(self.no_plugins)

    def setup(self):
        log("stand-in base and the cluster repository (cluster-repo build), served at " + self.server.url)
        standin.build(os.path.join(self.www, "base"), "el9")
        self.project = copy_project(os.path.join(self.work, "project"))
        self.tree = os.path.join(self.www, "site", "9")          # the site repository
        subprocess.run([sys.executable, os.path.join(REPO_ROOT, "bin", "cluster-repo"), "-C", self.project,
                        "build", os.path.join(self.www, "cluster"), "--target", "el9"],
                       check=True, stdout=subprocess.DEVNULL)
        log("head node installs cluster-master and publishes the profile locked to its versions")
        self.head = self.node("head", "master", with_site=False)     # the site repository comes next
        self.head.dnf("-y", "-q", "install", "cluster-master")
        self.head.dnf("-q", "cluster-master", "publish", "--roles", os.path.join(self.project, "roles"),
                      "--repo-dir", self.tree, "--lock", "--baseurl", self.server.url + "/site")
        self.add_site(self.head)
        log("compute node syncs")
        self.compute = self.node("compute", "compute")
        self.compute.dnf("-y", "-q", "cluster-node", "sync")

    def node(self, name, role, base_url=None, with_site=True):
        root = DnfRoot(os.path.join(self.work, "roots", name))
        root.add_repo("base", base_url or "{}/base/$basearch/".format(self.server.url))
        root.add_repo("cluster", "{}/cluster/$releasever/$basearch/".format(self.server.url))
        if with_site:
            self.add_site(root)
        root.set_role(role)
        return root

    def add_site(self, root):
        root.add_repo("cluster-site", "{}/site/$releasever/$basearch/".format(self.server.url))

    def plain(self, args):
        """The same dnf invocation without our plugin: plain dnf (with the
        dnf-plugins-core plugins a node has, versionlock, as on the other side)."""
        def strip(arg):
            dirs = [d for d in arg.split("=", 2)[2].split(",") if d != PLUGIN_DIR]
            return "--setopt=pluginpath=" + ",".join(dirs or [self.no_plugins])
        return [strip(a) if a.startswith("--setopt=pluginpath=") else a for a in args]

    def close(self):
        self.server.stop()


def compared(figure, what, ours, plain, limit, extra=""):
    """The row of a timed pair against its target ratio, noting how it was measured and
    the ratio of CPU time beside the wall-clock one."""
    low, high = plain.quartiles()
    note = "median of {} runs (plain's IQR +-{:.0f}%); CPU time {:.3f}x{}".format(
        len(ours.times), 100.0 * (high - low) / 2 / plain.median, ours.cpu_median / plain.cpu_median, extra)
    return Row(figure, what, ours, plain, "<= {}x".format(limit), ours.median / plain.median <= limit, note)


def plugin_import_ms(env, reps=11):
    """Median import time of the plugin module with its library (after dnf.cli, which
    dnf has loaded before any plugin), from `python -X importtime`: the part of the
    overhead that is ours, free of the run-to-run noise of whole dnf runs."""
    code = "import sys, dnf.cli; sys.path.insert(0, {!r}); import cluster".format(PLUGIN_DIR)
    times = []
    for _ in range(reps):
        err = subprocess.run(["/usr/bin/python3", "-X", "importtime", "-c", code], env=env, check=True,
                             stderr=subprocess.PIPE, universal_newlines=True).stderr
        line = [l for l in err.splitlines() if l.rstrip().endswith("| cluster")][-1]
        times.append(int(line.split("|")[1]) / 1000.0)
    return Sample(times).median


def figure_1(site, reps):
    node = site.compute
    args = node.dnf_args("-C", "-q", "repolist")
    log("1: plugin load overhead, {} alternating runs each".format(reps))
    ours, plain = compare((args, node.env, (0,)), (site.plain(args), node.env, (0,)), reps)
    return [compared("1", "plugin load: `dnf -C repolist` with / without the plugin", ours, plain, 1.03,
                     "; plugin import {:.1f} ms".format(plugin_import_ms(node.env)))]


def figure_2(site, reps):
    node = site.compute
    sync = node.dnf_args("-y", "cluster-node", "sync")
    check = site.plain(node.dnf_args("-C", "check-update"))
    full = node.dnf_args("-y", "cluster-node", "sync", "--full")
    log("2: no-op sync (fast path, and --full) vs dnf -C check-update, {} alternating runs each".format(reps))
    run(sync, node.env, capture=True)            # a real no-op sync records the verification
    ours, plain = compare((sync, node.env, (0,)), (check, node.env, (0, 100)), reps)
    ours_full, plain_full = compare((full, node.env, (0,)), (check, node.env, (0, 100)), reps)
    # the timer's command (etc/systemd/cluster-node-sync.service), with the interpreter
    # /usr/bin/dnf-cluster has: answered before dnf is imported (fast4.py)
    timer = ["/usr/bin/python3"] + node.standalone_args("-y", "node", "sync")[1:]
    ours_timer, plain_timer = compare((timer, node.env, (0,)), (check, node.env, (0, 100)), reps)
    poison = os.path.join(site.work, "no-dnf", "dnf")        # a dnf that cannot be imported
    os.makedirs(poison, exist_ok=True)
    with open(os.path.join(poison, "__init__.py"), "w") as handle:
        handle.write("raise ImportError('dnf was imported')\n")
    no_dnf = dict(node.env, PYTHONPATH=os.pathsep.join([os.path.dirname(poison), node.env.get("PYTHONPATH", "")]))
    timer_fast = '"path": "fast"' in run(timer + ["--json"], no_dnf, ok=(0, 1), capture=True)[1]
    del site.server.requests[:]
    out = run(sync, node.env, capture=True)[1]
    if "In sync: nothing to do." not in out:
        raise RuntimeError("the compute node is not in sync:\n" + out)
    fetched = list(site.server.requests)
    only_repomd = bool(fetched) and all(path.endswith("/repodata/repomd.xml") for path in fetched)
    names = sorted(set(os.path.basename(p) for p in fetched))
    fast = '"path": "fast"' in run(node.dnf_args("-y", "cluster-node", "sync", "--json"), node.env, capture=True)[1]
    return [compared("2", "no-op `dnf -y cluster-node sync` (fast path) / `dnf -C check-update`", ours, plain, 0.5,
                     "; answered by the fast path: {}".format("yes" if fast else "NO")),
            compared("2", "no-op `dnf -y cluster-node sync --full` / `dnf -C check-update`", ours_full, plain_full,
                     1.2),
            compared("2", "no-op `dnf-cluster -y node sync` (the timer's command, fast path) / `dnf -C check-update`",
                     ours_timer, plain_timer, 0.5,
                     "; answered before dnf is imported: {}".format("yes" if timer_fast else "NO")),
            Row("2", "files a no-op sync fetches over HTTP", len(fetched), None, "repomd.xml only", only_repomd,
                "{} ({} repositories)".format(", ".join(names), len(set(os.path.dirname(p) for p in fetched))))]


def big_base(site, count, cache_dir):
    """The big base (built once, cached) and a role `big` of BIG_ROLE_SIZE of its packages
    published beside the others: (path, number of packages)."""
    path, built = bigbase.cached(count, "el9", ("x86_64",), cache_dir=cache_dir, log=log)
    if built is not None:
        log("big base built in {:.0f}s (cached for next runs)".format(built))
    total = len(os.listdir(os.path.join(path, "x86_64", "Packages")))
    roles = os.path.join(site.work, "roles-big")
    if not os.path.isdir(roles):
        shutil.copytree(os.path.join(site.project, "roles"), roles)
        fill = [p.name for p in bigbase.fillers(count) if not p.name.startswith("python3-")][:BIG_ROLE_SIZE]
        with open(os.path.join(roles, "big.yaml"), "w") as handle:
            handle.write("description: Compute node plus {} packages of the big base\nchannel: stable\n"
                         "groups: [cluster-node]\npackages: [{}]\n".format(len(fill), ", ".join(fill)))
        publisher = site.node("big-head", "master", "file://{}/$basearch/".format(path))
        publisher.dnf("-q", "cluster-master", "publish", "--roles", roles, "--repo-dir", site.tree)
    return path, total


def figure_3(site, reps, count, cache_dir):
    path, total = big_base(site, count, cache_dir)
    base_url = "file://{}/$basearch/".format(path)

    rows = []
    for role in ("compute", "big"):
        node = site.node("big-" + role, role, base_url)
        node.dnf("-q", "makecache")
        plan = node.dnf("cluster-node", "sync", "--dry-run", "--json").json["plan"]
        specs = ["{}-{}".format(i["name"], i["evr"]) if i["evr"] else i["name"] for i in plan["install"]]
        sync = node.dnf_args("cluster-node", "sync", "--dry-run")
        install = site.plain(node.dnf_args("--assumeno", "install", *specs))
        out = run(install, node.env, ok=(1,), capture=True)[1]
        if "Transaction Summary" not in out:
            raise RuntimeError("plain dnf did not resolve the install:\n" + out)
        log("3: plan for role {} ({} packages asked) on {} packages, {} alternating runs each".format(
            role, len(specs), total, reps))
        ours, plain = compare((sync, node.env, (0,)), (install, node.env, (1,)), reps)
        rows.append(compared("3", "plan role {} ({} asked) on {:,} packages: sync --dry-run / dnf --assumeno "
                             "install".format(role, len(specs), total), ours, plain, 1.5, "; warm cache"))
    return rows


def figure_8(site, reps, count, cache_dir):
    """Lock resolution: what `publish --lock` adds to a publish is one fresh-node resolution
    per role and arch; plain dnf does the same work as one `--assumeno install` of each
    role's set (the node floor and the role's packages) into an empty root."""
    from dnf_plugin_cluster.head.lock import FRESH_FLOOR
    path, total = big_base(site, count, cache_dir)
    base_url = "file://{}/$basearch/".format(path)
    roles = os.path.join(site.project, "roles")
    head = site.node("lock-head", "master", base_url, with_site=False)
    empty = site.node("lock-empty", "compute", base_url, with_site=False)
    for root in (head, empty):
        root.dnf("-q", "makecache")
    output = os.path.join(site.work, "locked-profile.json")
    lock = head.dnf_args("-q", "cluster-master", "publish", "--roles", roles, "--output", output, "--lock",
                         "--arch", "x86_64")
    run(lock, head.env)
    with open(output) as handle:
        prof = json.load(handle)
    installs, sizes = [], []
    for role in sorted(prof["roles"]):
        spec = prof["roles"][role]["arches"]["x86_64"]
        names = sorted(set(spec["packages"]) | set(FRESH_FLOOR))
        argv = site.plain(empty.dnf_args("--assumeno", "--setopt=strict=0", "install", *names))
        out = run(argv, empty.env, ok=(1,), capture=True)[1]
        if "Transaction Summary" not in out:
            raise RuntimeError("plain dnf did not resolve role {}:\n{}".format(role, out))
        installs.append(" ".join(shlex.quote(a) for a in argv) + " >/dev/null 2>&1; [ $? -eq 1 ] || exit 9")
        sizes.append("{} {}".format(role, len(spec["lock"])))
    plain = ["sh", "-c", "\n".join(installs)]
    log("8: lock resolution of {} roles on {} packages, {} alternating runs each".format(
        len(installs), total, reps))
    ours, theirs = compare((lock, head.env, (0,)), (plain, empty.env, (0,)), reps)
    return [compared("8", "lock resolution: `publish --lock` of {} roles on x86_64, {:,} packages / sum of `dnf "
                     "--assumeno install` of their sets".format(len(installs), total), ours, theirs, 1.5,
                     "; warm cache; locked: {}".format(", ".join(sizes)))]


def fetched_after_profile_change(site, node, publish, label):
    """(files, bytes, paths) the node fetches for `dnf cluster-node status` after
    publish() changed the profile and nothing else (its cache warm before)."""
    node.dnf("-q", "makecache")
    publish()
    del site.server.requests[:]
    out = node.dnf("cluster-node", "status", "--json", check=False)
    if out.rc not in (0, 100):
        raise RuntimeError("{}: status failed:\n{}".format(label, out))
    paths = list(site.server.requests)
    size = sum(os.path.getsize(os.path.join(site.www, p.lstrip("/"))) for p in paths)
    return len(paths), size, paths


def figure_6(site, count, cache_dir):
    """A profile-only change, with the big base as the cluster repository: what a node
    fetches when the profile lives in the site repository, and when it lives in the
    package repository's own metadata (what the site repository replaced)."""
    from dnf_plugin_cluster import profile
    from dnf_plugin_cluster.head import publish, repodata
    path, _ = bigbase.cached(count, "el9", ("x86_64",), cache_dir=cache_dir, log=log)
    total = len(os.listdir(os.path.join(path, "x86_64", "Packages")))
    fill = [p.name for p in bigbase.fillers(count) if not p.name.startswith("python3-")][:50]
    # the big base as the cluster repository (metadata only: status downloads no package)
    big = os.path.join(site.www, "bigcluster", "x86_64")
    shutil.copytree(os.path.join(path, "x86_64", "repodata"), os.path.join(big, "repodata"))
    primary = os.path.getsize(repodata.location(os.path.join(big, "repodata"), "primary"))
    roles = os.path.join(site.work, "roles-fig5")
    os.makedirs(roles)

    def write_role(names):
        with open(os.path.join(roles, "big.yaml"), "w") as handle:
            handle.write("description: {} packages of the big base\nchannel: stable\npackages: [{}]\n".format(
                len(names), ", ".join(names)))

    def root(name, with_site):
        node = DnfRoot(os.path.join(site.work, "roots", name))
        node.add_repo("cluster", "{}/bigcluster/$basearch/".format(site.server.url))
        if with_site:
            node.add_repo("cluster-site", "{}/bigsite/$releasever/$basearch/".format(site.server.url))
        node.set_role("big")
        return node

    tree = os.path.join(site.www, "bigsite", "9")
    head = root("fig5-head", False)
    write_role(fill[:40])
    head.dnf("-q", "cluster-master", "publish", "--roles", roles, "--repo-dir", tree)
    log("6: a profile-only change in the site repository, the cluster repository of {:,} packages".format(total))

    def site_change():
        write_role(fill[:41])
        head.dnf("-q", "cluster-master", "publish", "--roles", roles, "--repo-dir", tree)
    ours = fetched_after_profile_change(site, root("fig5-site", True), site_change, "site")

    # the same change inside the package repository's metadata (the profile as it was published before)
    text = publish.current(tree)
    md = os.path.join(big, "repodata")
    repodata.replace(md, "cluster", publish.PROFILE_FILE, profile.dumps(text).encode())
    changed = dict(text, generation=text["generation"] + 1)
    log("6: the same change inside the cluster repository's own metadata")
    plain = fetched_after_profile_change(
        site, root("fig5-plain", False),
        lambda: repodata.replace(md, "cluster", publish.PROFILE_FILE, profile.dumps(changed).encode()),
        "plain")
    site_files = sorted(set(os.path.basename(p) for p in ours[2] if p.startswith("/bigsite/")))
    other = [p for p in ours[2] if not p.startswith("/bigsite/") and not p.endswith("/repomd.xml")]
    show = lambda r: "{} files, {:.1f} kB".format(r[0], r[1] / 1024.0)
    return [Row("6", "fetched after a profile-only change, {:,}-package cluster repository: site repository / "
                "profile in the package repository".format(total), show(ours), show(plain), "<= 10 kB",
                ours[1] <= 10 * 1024 and not other,
                "site: {}; the cluster repository: repomd.xml only; its primary alone is {:.0f} kB".format(
                    ", ".join(re.sub(r"^[0-9a-f]{64}-", "", n) for n in site_files), primary / 1024.0))]


def bench_metapackages(project, count):
    """N generated metapackage definitions (every tenth with an x86_64-only requirement,
    so it is built per arch); returns their names."""
    # what lint accepts unconditionally: on every arch of both distribution families
    base = sorted(n for n, p in basepkgs.load(standin.BASE_FILE).packages.items()
                  if all(p.exists_for(arch, family) for arch in CLUSTER_ARCHES for family in ("rhel", "fedora")))
    names = []
    for index in range(count):
        name = "cluster-bench-{:04d}".format(index)
        requires = ["  - {}".format(base[(index * 7 + k * 13) % len(base)]) for k in range(3)]
        if index % 10 == 9:
            requires.append("  - {name: libpsm2, arch: x86_64}")
        with open(os.path.join(project, "metapackages", name + ".yaml"), "w") as handle:
            handle.write('name: {}\nversion: "1.0"\nrelease: "1"\nsummary: Generated benchmark metapackage {}\n'
                         "owners:\n  - Cluster Packagers <cluster-packagers@example.org>\n"
                         "description: |\n  Generated by bench/ to measure repository builds.\nrequires:\n{}\n"
                         .format(name, index, "\n".join(requires)))
        names.append(name)
    return names


def plain_build(project, outdir):
    """What the build costs with the plain tools: the same rpmbuild runs (sources put in
    place first, untimed) and createrepo_c per arch and for SRPMS; seconds."""
    from cluster_repo import build as repobuild
    from cluster_repo.rpmbuild import rpmbuild
    from cluster_repo import mpi
    options = repobuild.BuildOptions(outdir, target="el9")
    builder = repobuild.Builder(project, options)
    # the tools' MPI builds get the test world's MPI macros, as `cluster-repo build` gives them
    builder._mpi_macros = mpi.build_macros(os.path.join(outdir, "mpi"), lambda text: None) \
        if builder.project.tools() else {}
    jobs = []
    for spec in builder.project.spec_files():
        name = os.path.basename(spec)[:-len(".spec")]
        version, _, noarch = builder._spec_info(spec, name)
        arches = builder._build_arches(spec, noarch)[0]
        if not arches:                  # not for this target (the dnf5 plugin on el9)
            continue
        srcdir = os.path.join(outdir, "sources", name)
        os.makedirs(srcdir)
        builder._sources(name)[1](srcdir, version)
        jobs.append((spec, srcdir, arches))

    def build_all():
        for spec, srcdir, arches in jobs:
            defines = builder._defines(spec)
            rpmbuild(spec, "-bs", srpmdir=os.path.join(outdir, "SRPMS"), sourcedir=srcdir, defines=defines)
            for arch in arches:
                rpmbuild(spec, "-bb", rpmdir=os.path.join(outdir, "RPMS"), sourcedir=srcdir, target=arch,
                         defines=defines)
        for sub in ("RPMS", "SRPMS"):
            subprocess.run(["createrepo_c", "--quiet", "--no-database", os.path.join(outdir, sub)], check=True)
    return timed(build_all)[0]


def figure_4(site, sizes):
    rows = []
    cluster_repo = [sys.executable, os.path.join(REPO_ROOT, "bin", "cluster-repo")]
    base_repo = "file://{}/base/$basearch".format(site.www)
    for count in sizes:
        work = os.path.join(site.work, "build-{}".format(count))
        project = copy_project(os.path.join(work, "project"))
        names = bench_metapackages(project, count)
        out = os.path.join(work, "repo")
        build = cluster_repo + ["-C", project, "build", out, "--target", "el9", "--base-repo", base_repo]
        log("4: full build of the project + {} generated metapackages".format(count))
        full = run(build, site.compute.env)[0]
        specs = len(Project(project).spec_files())
        plain = plain_build(project, os.path.join(work, "plain"))
        rows.append(Row("4", "full `cluster-repo build` ({} specs, N={}) / same rpmbuild + createrepo_c runs"
                        .format(specs, count), Sample([full]), Sample([plain]), "", None,
                        "one run each; ours adds lint, render, closure"))

        changed = os.path.join(project, "metapackages", names[count // 2] + ".yaml")
        with open(changed) as handle:
            text = handle.read()
        with open(changed, "w") as handle:
            handle.write(text.replace('release: "1"', 'release: "2"').replace("requires:\n", "requires:\n  - chrony\n"))
        log("4: `build --update` after changing {}".format(os.path.basename(changed)))
        update, output, _ = run(build + ["--update"], site.compute.env, capture=True)
        summary = [l for l in output.splitlines() if " built, " in l]
        rebuilt = int(summary[-1].split("cluster-repo: ")[1].split()[0]) if summary else -1
        rows.append(Row("4", "`build --update` after one change (N={}) / full build".format(count),
                        Sample([update]), Sample([full]), "1 spec rebuilt", rebuilt == 1,
                        "{} spec(s) rebuilt".format(rebuilt)))
    return rows


BENCH_OWNER = "Cluster Packagers <cluster-packagers@example.org>"


def tool_tarball(www, name, version, pad):
    """A small C tool's release tarball, www/NAME-VERSION.tar.gz: a Makefile and one C
    file, and `pad` bytes of random (incompressible) data standing in for the rest of a
    real release. Returns its path."""
    import io
    import tarfile
    top = "{}-{}".format(name, version)
    members = {
        "Makefile": "{0}: {0}.c\n\t$(CC) $(CFLAGS) -o {0} {0}.c\n".format(name).encode(),
        name + ".c": '#include <stdio.h>\nint main(void) {{ puts("{} {}"); return 0; }}\n'.format(
            name, version).encode(),
    }
    if pad:
        members["data.bin"] = os.urandom(pad)
    path = os.path.join(www, top + ".tar.gz")
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for member, data in sorted(members.items()):
            info = tarfile.TarInfo("{}/{}".format(top, member))
            info.size, info.mtime, info.mode = len(data), 1700000000, 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def bench_tools(project, www, count, pad):
    """N generated tools in `project`, each written by `cluster-repo new` from its tarball
    (served as file:// URLs from `www`) into the lookaside cache; returns their names."""
    from cluster_repo import newtool, sources
    os.makedirs(www, exist_ok=True)
    names = []
    for index in range(count):
        name = "bench-tool-{:02d}".format(index)
        url = "file://" + tool_tarball(www, name, "1.0", pad)
        newtool.new(Project(project), name, url, sources.Options(), BENCH_OWNER, version="1.0")
        names.append(name)
    return names


def figure_9(work, count, pad_mib, reps, env):
    cluster_repo = [sys.executable, os.path.join(REPO_ROOT, "bin", "cluster-repo")]
    from cluster_repo import lookaside
    rows = []
    log("9: {} generated tools with {} MiB tarballs, cached and verified".format(count, pad_mib))
    big = copy_project(os.path.join(work, "tools-sources", "project"))
    names = bench_tools(big, os.path.join(work, "tools-sources", "www"), count, pad_mib << 20)
    cache = lookaside.default_cache()
    files = [lookaside.cache_path(cache, tool.name, entry) for tool in Project(big).tools() if tool.name in names
             for entry in tool.entries()]
    sources_cmd = cluster_repo + ["-C", big, "sources"] + names
    out = run(sources_cmd, env, capture=True)[1]
    if "0 fetched, {} already verified".format(len(files)) not in out:
        raise RuntimeError("`cluster-repo sources` did not find every tarball cached:\n" + out)
    log("9: `cluster-repo sources` vs sha512sum of the same {} files, {} alternating runs each".format(
        len(files), reps))
    ours, plain = compare((sources_cmd, env, (0,)), (["sha512sum"] + files, env, (0,)), reps)
    mib = sum(os.path.getsize(f) for f in files) / 1048576.0
    rows.append(compared("9", "`cluster-repo sources` of {} cached, verified tarballs / `sha512sum` of them".format(
        len(files)), ours, plain, 1.5, "; {:.0f} MiB in all".format(mib)))

    log("9: full build of the project + {} generated small C tools".format(count))
    small = copy_project(os.path.join(work, "tools-build", "project"))
    www = os.path.join(work, "tools-build", "www")
    names = bench_tools(small, www, count, 0)
    repo = os.path.join(work, "tools-build", "repo")
    build = cluster_repo + ["-C", small, "build", repo, "--target", "el9", "--arch", os.uname().machine]
    full = run(build, env)[0]
    specs = len(Project(small).spec_files())
    bumped = names[count // 2]
    tool_tarball(www, bumped, "1.1", 0)
    run(cluster_repo + ["-C", small, "bump", bumped, "1.1", "--comment", "New upstream release 1.1"], env)
    log("9: `build --update` after `cluster-repo bump {} 1.1`".format(bumped))
    update, output, _ = run(build + ["--update"], env, capture=True)
    summary = [l for l in output.splitlines() if " built, " in l]
    rebuilt = int(summary[-1].split("cluster-repo: ")[1].split()[0]) if summary else -1
    only = "built {}-1.1-1.el9 ".format(bumped) in output
    rows.append(Row("9", "`build --update` after one tool's `bump` / full build ({} specs, {} tools)".format(
        specs, count), Sample([update]), Sample([full]), "1 spec rebuilt", rebuilt == 1 and only,
        "{} spec(s) rebuilt{}; one run each".format(rebuilt, " ({})".format(bumped) if only else "")))
    return rows


def figure_7(site, reps, plan_reps, count, cache_dir):
    """Figures 2 and 3 on a dnf5 host: the sid chroot of the dnf5 tests, the same HTTP
    repositories, the libdnf5 backend against dnf5 itself."""
    from cluster_testkit.dnf5root import ENV as DNF5_ENV, Dnf5Root, Dnf5World
    from cluster_testkit.sidchroot import PATH
    path, total = big_base(site, count, cache_dir)
    world = Dnf5World(os.path.join(site.work, "dnf5"), binds=[(path, "/bigbase", True)], log=log)
    spent = world.chroot.ensure()
    if spent:
        log("7: the sid chroot was built in {:.0f}s (cached for next runs)".format(spent))
    world.start()
    host_env = {"PATH": PATH}
    rows = []
    try:
        world.build_plugin()

        def node(name, role, base_url):
            root = Dnf5Root(world, name)
            root.add_repo("base", base_url)
            root.add_repo("cluster", "{}/cluster/$releasever/$basearch/".format(site.server.url))
            site.add_site(root)
            root.set_role(role)
            return root

        def inside(argv, plugin=False):
            env = dict(DNF5_ENV)
            if plugin:
                env["DNF5_PLUGINS_DIR"] = world.plugins_dir
            return (world.chroot.command(argv, env), host_env)

        root = node("compute", "compute", "{}/base/$basearch/".format(site.server.url))
        root.cluster("-y", "-q", "node", "sync")
        root.cluster("-y", "-q", "node", "sync")        # a real no-op sync records the verification
        check = inside(root.dnf5_args("-C", "check-upgrade")) + ((0, 100),)
        for label, argv, plugin, limit in (
                ("dnf-cluster -y node sync", root.cluster_args("-y", "node", "sync"), False, 1.2),
                ("dnf5 -y cluster-node sync", root.dnf5_args("-y", "cluster-node", "sync"), True, 2),
                ("dnf-cluster -y node sync --full", root.cluster_args("-y", "node", "sync", "--full"), False, 1.2)):
            log("7: no-op `{}` vs dnf5 -C check-upgrade, {} alternating runs each".format(label, reps))
            ours, plain = compare(inside(argv, plugin) + ((0,),), check, reps)
            extra = ""
            if "--full" not in argv:
                answer = world.run(argv + ["--json"], env=root.env() if plugin else None).out
                extra = "; answered by the fast path: {}".format("yes" if '"path": "fast"' in answer else "NO")
            rows.append(compared("7", "dnf5 host: no-op `{}`{} / `dnf5 -C check-upgrade`".format(
                label, "" if "--full" in argv else " (fast path)"), ours, plain, limit, extra))
        del site.server.requests[:]
        out = root.cluster("-y", "node", "sync").out
        if "In sync: nothing to do." not in out:
            raise RuntimeError("the dnf5 compute node is not in sync:\n" + out)
        fetched = list(site.server.requests)
        rows.append(Row("7", "dnf5 host: files a no-op sync fetches over HTTP", len(fetched), None,
                        "repomd.xml only", bool(fetched) and all(p.endswith("/repodata/repomd.xml") for p in fetched),
                        ", ".join(sorted(set(os.path.basename(p) for p in fetched)))))

        for role in ("compute", "big"):
            root = node("big-" + role, role, "file:///bigbase/$basearch/")
            plan = root.cluster("node", "sync", "--dry-run", "--json").json["plan"]     # fills the cache
            specs = ["{}-{}".format(i["name"], i["evr"]) if i["evr"] else i["name"] for i in plan["install"]]
            sync = inside(root.cluster_args("node", "sync", "--dry-run")) + ((0,),)
            install = inside(root.dnf5_args("--assumeno", "install", *specs)) + ((1,),)
            log("7: plan for role {} ({} packages asked) on {} packages, {} alternating runs each".format(
                role, len(specs), total, plan_reps))
            ours, plain = compare(sync, install, plan_reps)
            rows.append(compared("7", "dnf5 host: plan role {} ({} asked) on {:,} packages: dnf-cluster sync "
                                 "--dry-run / dnf5 --assumeno install".format(role, len(specs), total),
                                 ours, plain, 1.5, "; warm cache"))
    finally:
        world.stop()
    return rows


# --- machine -----------------------------------------------------------------------------

def figure_5(site, reps, sizes, width):
    """The fleet: ClusterShell's fan-out against xargs -P of the very same node commands."""
    farm = Farm(os.path.join(site.work, "farm"))
    names = ["n{:03d}".format(i + 1) for i in range(max(sizes))]
    log("5: fleet status, {} installroot nodes cloned from the synced compute node".format(len(names)))
    for name in names:
        farm.clone(name, site.compute, os.path.join(site.work, "farm-roots", name))
    head = site.head

    def ours(count):
        return head.dnf_args(*farm.fleet_args("status", "n[001-{:03d}]".format(count), "--fanout", str(width)))

    plain = ["sh", "-c", "printf '%s\\n' {} | xargs -P {} -I@ {} @ cluster-node status --json >/dev/null".format(
        " ".join(names), width, os.path.join(farm.top, "node"))]
    log("5: {} nodes, {} alternating runs each, width {}".format(len(names), reps, width))
    mine, theirs = compare((ours(len(names)), head.env, (0,)), (plain, head.env, (0,)), reps, warmup=0)
    rows = [compared("5", "fleet status of {} nodes / the same runs by `xargs -P {}`".format(len(names), width),
                     mine, theirs, 1.1)]
    per_node = []
    for count in sizes:
        seconds = run(ours(count), head.env)[0]
        per_node.append("{} nodes: {:.3f} s/node".format(count, seconds / count))
    rows.append(Row("5", "fleet status, seconds per node (grows linearly when flat)", None, None, "", None,
                    "; ".join(per_node)))
    return rows


ANSWER_NODE = """#!/bin/sh
# A simulated node (figure 11): whatever the fleet asks, the recorded answer.
exec cat {answer}
"""


def figure_11(site, sizes, width):
    """The head node's side of a large fleet (issue 20): `cluster-master status` of up to
    10,000 simulated nodes, each answering (through the exec worker) with the JSON
    status a real synced compute node gave; wall time and the head process's peak
    memory (its maxrss, ClusterShell's workers included), per node at each size."""
    out = run(site.compute.dnf_args("cluster-node", "status", "--json"), site.compute.env, capture=True)[1]
    answer = os.path.join(site.work, "recorded-answer.json")
    with open(answer, "w") as handle:
        handle.write(out)
    script = os.path.join(site.work, "answer-node")
    with open(script, "w") as handle:
        handle.write(ANSWER_NODE.format(answer=answer))
    os.chmod(script, 0o755)
    head = site.head
    measured = []
    for count in sizes:
        argv = head.dnf_args("cluster-master", "status", "-w", "sim[1-{}]".format(count), "--worker", "exec",
                             "--node-command", script + " %h cluster-node", "--fanout", str(width))
        log("11: fleet status of {} simulated nodes (recorded answers), fan-out {}".format(count, width))
        with tempfile.TemporaryFile() as errors:     # a file, not a pipe nobody reads while it runs
            start = time.monotonic()
            proc = subprocess.Popen(argv, env=head.env, stdout=subprocess.DEVNULL, stderr=errors)
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.monotonic() - start
            errors.seek(0)
            err = errors.read().decode("utf-8", "replace")
        proc.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
        if proc.returncode != 0:
            raise RuntimeError("fleet status of {} simulated nodes failed ({}):\n{}".format(
                count, proc.returncode, err[-2000:]))
        measured.append((count, seconds, usage.ru_maxrss / 1024.0))
    small, large = measured[0], measured[-1]
    growth = (large[1] / large[0]) / (small[1] / small[0])
    notes = "; ".join("{:,} nodes: {:.1f} s ({:.2f} ms/node), peak {:.0f} MB".format(c, s, 1000.0 * s / c, m)
                      for c, s, m in measured)
    return [Row("11", "fleet status of {:,} simulated nodes: time per node at {:,} / at {:,} nodes".format(
                    large[0], large[0], small[0]), "{:.1f}s".format(large[1]), "{:.1f}s".format(small[1]),
                "<= 1.5x (linear)", growth <= 1.5, "growth {:.2f}x; {}".format(growth, notes)),
            Row("11", "head node's peak memory, {:,} simulated nodes".format(large[0]),
                "{:.0f} MB".format(large[2]), None, "", None,
                "{:.1f} kB more per node than at {:,} nodes".format(
                    1024.0 * (large[2] - small[2]) / max(1, large[0] - small[0]), small[0]))]


def figure_10(site, reps, node_reps, count, width):
    """Issue 24: the fleet view of nodes in sync, answered by the nodes' no-op fast path
    vs their full path (`cluster-master status --full`), on installroot nodes that share
    the synced compute node's files (Farm.clone(link=True)); the ratio of one node's
    `status` measured beside it is the proportion the fleet should keep. Through both
    node commands: `dnf-cluster -q node` (the fleet's default, the timer's command: a
    no-op node answers before dnf is imported) and `dnf -q cluster-node` (dnf starts
    first)."""
    rows = []
    for door, tag in (("dnf-cluster", "d"), ("dnf", "f")):
        rows += _figure_10_door(site, reps, node_reps, count, width, door, tag)
    return rows


def _figure_10_door(site, reps, node_reps, count, width, door, tag):
    farm = Farm(os.path.join(site.work, "farm-fast-" + door), door=door)
    names = ["{}{:03d}".format(tag, i + 1) for i in range(count)]
    log("10: {} installroot nodes linked from the synced compute node, node command {}".format(count, door))
    for name in names:
        farm.clone(name, site.compute, os.path.join(site.work, "farm-fast-roots", name), link=True)
    head = site.head
    nodes = "{}[001-{:03d}]".format(tag, count)
    fast = head.dnf_args(*farm.fleet_args("status", nodes, "--fanout", str(width)))
    full = fast + ["--full"]

    def paths(argv):
        """{"fast": n, "full": n} of the nodes' answers, all of them in sync."""
        report = json.loads(run(argv + ["--json"], head.env, capture=True)[1])
        found = {}
        for node, result in sorted(report["nodes"].items()):
            if result["state"] != "in-sync":
                raise RuntimeError("node {} is not in sync: {}".format(node, result["summary"]))
            found[result["answer"].get("path")] = found.get(result["answer"].get("path"), 0) + 1
        return found

    answered_full = paths(full)     # a full answer in sync records each node's verification
    # one node's status as the fleet runs it on every node: the same command line (the
    # farm's node script, then dnf-cluster or dnf), the same environment
    status = shlex.split(farm.node_command.replace("%h", names[0])) + ["status", "--json"]
    log("10: one node's status through {} (fast path, and --full), {} alternating runs each".format(
        door, node_reps))
    node_fast, node_full = compare((status, head.env, (0,)), (status + ["--full"], head.env, (0,)), node_reps)
    log("10: fleet status of {} nodes in sync, fast path vs --full, {} alternating runs each, width {}".format(
        count, reps, width))
    mine, theirs = compare((fast, head.env, (0,)), (full, head.env, (0,)), reps, warmup=0)
    answered = paths(fast)
    proportion = node_fast.median / node_full.median
    # what the nodes' path cannot shorten: the head's own start and fan-out, seen as the
    # fleet status of one node less that node's own answer
    single = head.dnf_args(*farm.fleet_args("status", names[0]))
    head_cost = Sample([run(single, head.env)[0] for _ in range(5)]).median - node_fast.median
    how = "`dnf-cluster -q node`" if door == "dnf-cluster" else "`dnf -q cluster-node`"
    return [compared("10", "one node's status through {} (fast path) / `status --full`".format(how), node_fast,
                     node_full, 1.0, "; the proportion the fleet keeps"),
            compared("10", "fleet status of {} nodes in sync through {} (fast path) / the same with "
                     "`--full`".format(count, how),
                     mine, theirs, round(proportion * 1.1, 2),
                     "; target: one node's ratio +10%; answered by the fast path: {} of {} nodes ({} with "
                     "--full: {}); the head's own part (fleet status of one node less its answer): {:.2f}s".format(
                         answered.get("fast", 0), count, answered_full.get("full", 0),
                         "all full" if answered_full.get("full") == count else "NOT all full", head_cost))]


def _first_line(argv):
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "not found"


def machine():
    info = {}
    with open("/proc/cpuinfo") as handle:
        models = [l.split(":", 1)[1].strip() for l in handle if l.startswith("model name")]
    with open("/proc/meminfo") as handle:
        mem = [int(l.split()[1]) for l in handle if l.startswith("MemTotal:")]
    osname = "unknown"
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as handle:
            for line in handle:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    info["os"] = "{} ({} {})".format(osname, platform.system(), platform.release())
    info["cpu"] = "{} x {}".format(len(models), models[0] if models else platform.machine())
    info["memory"] = "{:.1f} GiB".format(mem[0] / 1024.0 / 1024.0) if mem else "unknown"
    info["dnf"] = _first_line(["/usr/bin/dnf", "--version"])
    info["rpm"] = _first_line(["rpm", "--version"])
    info["createrepo_c"] = _first_line(["createrepo_c", "--version"])
    info["python"] = _first_line(["/usr/bin/python3", "--version"])
    return info


def record(rows, info, args):
    notes = ""
    if os.path.exists(RESULTS):
        with open(RESULTS) as handle:
            text = handle.read()
        if NOTES_MARKER in text:
            notes = text.split(NOTES_MARKER, 1)[1]
    lines = ["# Benchmark results", "",
             "Recorded by `.venv/bin/python -m bench --record` on {} (big base: {:,} generated packages; "
             "runs: {}/{}/{} for figures 1/2/3; build sizes: {}).".format(
                 datetime.date.today().isoformat(), args.count, args.load_reps, args.reps, args.plan_reps,
                                                  ", ".join(map(str, args.sizes))),
             "Ratios compare medians measured in the same run, on the same roots; `plain` is dnf with an "
             "empty pluginpath (figures 1-3), the plain rpmbuild + createrepo_c runs (figure 4), or the "
             "profile inside the package repository's metadata (figure 6).", "",
             "## Machine", ""]
    lines += ["- {}: {}".format(k, v) for k, v in info.items()]
    lines += ["", "## Results", "", table(rows, markdown=True), "", NOTES_MARKER]
    with open(RESULTS, "w") as handle:
        handle.write("\n".join(lines) + (notes if notes else "\n"))


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-reps", type=int, default=60, help="runs of each side for figure 1 (default 60)")
    parser.add_argument("--reps", type=int, default=15, help="runs of each side for figure 2 and one node in figure 10 "
                        "(default 15)")
    parser.add_argument("--plan-reps", type=int, default=5, help="runs of each side for figure 3 (default 5)")
    parser.add_argument("--count", type=int, default=20000, help="generated packages of the big base")
    parser.add_argument("--sizes", default="10,100,500", help="generated metapackages for figure 4")
    parser.add_argument("--fleet-reps", type=int, default=3, help="runs of each side for figures 5 and 10 "
                        "(default 3)")
    parser.add_argument("--fleet-sizes", default="16,32,64", help="node counts for figure 5 (figure 10: the largest)")
    parser.add_argument("--fleet-width", type=int, default=16, help="fan-out of both sides in figures 5 and 10")
    parser.add_argument("--tools", type=int, default=20, help="generated tools for figure 9 (default 20)")
    parser.add_argument("--tarball-mib", type=int, default=16,
                        help="MiB of each tarball `sources` verifies in figure 9 (default 16)")
    parser.add_argument("--sources-reps", type=int, default=15, help="runs of each side for figure 9's "
                        "`sources` (default 15)")
    parser.add_argument("--sim-sizes", default="1000,3000,10000",
                        help="simulated node counts for figure 11 (recorded answers through the exec worker)")
    parser.add_argument("--only", default="1,2,3,4,5,6,7,8,9,10,11", help="figures to run (default: all)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes and one run each: checks the benchmark works, measures nothing")
    parser.add_argument("--record", action="store_true", help="rewrite bench/RESULTS.md with this run")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON to FILE")
    parser.add_argument("--workdir", default=os.path.join(REPO_ROOT, "out", "bench"),
                        help="scratch directory, emptied first (default: out/bench)")
    parser.add_argument("--cache-dir", default=bigbase.CACHE_DIR, help="where the big base is kept between runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.load_reps, args.reps, args.plan_reps, args.count, args.sizes = 1, 1, 1, 200, "3"
        args.fleet_reps, args.fleet_sizes, args.fleet_width = 1, "2,4", 2
        args.sim_sizes = "10,30"
        args.tools, args.tarball_mib, args.sources_reps = 3, 1, 1
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.fleet_sizes = [int(s) for s in args.fleet_sizes.split(",") if s]
    args.sim_sizes = [int(s) for s in args.sim_sizes.split(",") if s]
    args.only = set(args.only.split(","))
    if args.smoke and args.record:
        parser.error("--smoke measures nothing worth recording")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        print("bench: dnf installs into throwaway roots: run as root", file=sys.stderr)
        return 2
    # installed, the plugin and its library come with bytecode (rpm byte-compiles them):
    # measure that, not a compile of the sources on every run
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    info = machine()
    # the tools' tarballs (specs/NAME/sources) from tests/data/upstream, never the network
    from cluster_testkit.upstream import use_test_cache
    use_test_cache(os.path.join(args.workdir, "cluster-repo-cache"))
    site = Site(args.workdir) if args.only - {"9"} else None     # figure 9 needs no site
    rows = []
    try:
        if site is not None:
            site.setup()
        if "9" in args.only:
            rows += figure_9(args.workdir, args.tools, args.tarball_mib, args.sources_reps, dict(os.environ))
        if "1" in args.only:
            rows += figure_1(site, args.load_reps)
        if "2" in args.only:
            rows += figure_2(site, args.reps)
        if "5" in args.only:
            rows += figure_5(site, args.fleet_reps, args.fleet_sizes, args.fleet_width)
        if "10" in args.only:
            rows += figure_10(site, args.fleet_reps, args.reps, max(args.fleet_sizes), args.fleet_width)
        if "11" in args.only:
            rows += figure_11(site, args.sim_sizes, args.fleet_width)
        if "4" in args.only:            # before 3: figure 3 republishes the profile
            rows += figure_4(site, args.sizes)
        if "3" in args.only:
            rows += figure_3(site, args.plan_reps, args.count, args.cache_dir)
        if "6" in args.only:
            rows += figure_6(site, args.count, args.cache_dir)
        if "8" in args.only:
            rows += figure_8(site, args.plan_reps, args.count, args.cache_dir)
        if "7" in args.only:
            rows += figure_7(site, args.reps, args.plan_reps, args.count, args.cache_dir)
    finally:
        if site is not None:
            site.close()
    rows.sort(key=lambda r: int(r.figure))
    print("\n".join("{}: {}".format(k, v) for k, v in info.items()))
    print()
    print(table(rows))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump([dict(zip(HEADERS[:2] + ["ours", "plain", "ratio", "target", "verdict", "notes"],
                                r.cells())) for r in rows], handle, indent=2)
    if args.record:
        record(rows, info, args)
        print("\nrecorded in " + os.path.relpath(RESULTS, REPO_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())

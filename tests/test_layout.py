"""The layout holds: the node-side package never imports the packager's, every module
says in its first docstring line what it holds, and the README's layout table names
every top-level part of the tree and nothing that is not there."""
import ast
import fnmatch
import os
import re
import subprocess

from cluster_testkit import REPO_ROOT

NODE_SIDE = ("dnf_plugin_cluster", "plugins", os.path.join("bin", "dnf-cluster"))


def python_files(*parts):
    for part in parts:
        path = os.path.join(REPO_ROOT, part)
        if os.path.isfile(path):
            yield path
            continue
        for top, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                if name.endswith(".py"):
                    yield os.path.join(top, name)


def imported(path):
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_node_side_never_imports_the_packager_toolchain():
    offenders = [(os.path.relpath(p, REPO_ROOT), name) for p in python_files(*NODE_SIDE) for name in imported(p)
                 if name == "cluster_repo" or name.startswith("cluster_repo.")]
    assert offenders == []


def test_every_module_says_what_it_holds():
    missing = []
    for path in python_files("dnf_plugin_cluster", "cluster_repo", "cluster_testkit", "plugins"):
        with open(path) as handle:
            text = handle.read()
        doc = ast.get_docstring(ast.parse(text, path))
        if not (doc and doc.strip().splitlines()[0].strip()) and not text.startswith("# "):
            missing.append(os.path.relpath(path, REPO_ROOT))
    assert missing == []


def top_level_entries():
    """What the tree has at its top: git's tracked files in a checkout; elsewhere (a copy
    without .git, or no git installed, as in a fresh Debian chroot) every entry but the
    hidden ones and what .gitignore keeps out."""
    try:
        proc = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, universal_newlines=True)
        if proc.returncode == 0 and proc.stdout.strip():
            return set(p.split("/")[0] for p in proc.stdout.split())
    except OSError:
        pass
    with open(os.path.join(REPO_ROOT, ".gitignore")) as handle:
        ignored = [l.strip().strip("/") for l in handle if l.strip() and not l.startswith("#")]
    return set(name for name in os.listdir(REPO_ROOT)
               if not name.startswith(".") and not any(fnmatch.fnmatch(name, pat) for pat in ignored))


def test_layout_table_matches_the_tree():
    """docs/HACKING.md's layout table names every top-level entry and every module."""
    with open(os.path.join(REPO_ROOT, "docs", "HACKING.md")) as handle:
        hacking = handle.read()
    table = hacking[hacking.index("## Layout"):].split("\n## ")[0]
    named = set()
    for row in table.splitlines():
        if row.startswith("| `"):
            named.update(p.rstrip("/") for p in re.findall(r"`([^`]+)`", row.split("|")[1]))
    top = top_level_entries() - {".gitignore", "LICENSE", "Makefile", "README.md", "pytest.ini", "docs",
                                                    "requirements-dev.txt", "setup.py", "pyproject.toml"}
    for path in sorted(named):
        candidates = [path, os.path.join("dnf_plugin_cluster", path)]
        assert any(os.path.exists(os.path.join(REPO_ROOT, c)) for c in candidates), path
    assert top <= set(p.split("/")[0] for p in named), sorted(top - set(p.split("/")[0] for p in named))
    for package in ("dnf_plugin_cluster", "cluster_repo"):
        modules = set(os.path.relpath(p, REPO_ROOT) for p in python_files(package)
                      if not p.endswith("__init__.py"))
        described = set(m for m in modules if os.path.basename(m) in table)
        assert described == modules, sorted(modules - described)


def module_name(path):
    rel = os.path.relpath(path, REPO_ROOT)[:-len(".py")].split(os.sep)
    return ".".join(rel[:-1] if rel[-1] == "__init__" else rel)


def internal_imports(path):
    """The project modules `path` imports, anywhere in it (function-level imports too),
    relative imports resolved; `from pkg import mod` counts as importing pkg.mod."""
    name = module_name(path)
    package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(module + "." + alias.name for alias in node.names)
    return found


def import_graph(package):
    modules = dict((module_name(p), p) for p in python_files(package))
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported_name in internal_imports(path):
            while imported_name and imported_name not in modules:
                imported_name = imported_name.rpartition(".")[0]
            if imported_name and imported_name != name and not name.startswith(imported_name + "."):
                targets.add(imported_name)
        graph[name] = targets
    return graph


def test_no_import_cycles_in_the_plugin_package():
    """Every module of dnf_plugin_cluster can be read before the ones that import it: no
    two modules import each other, directly or through others (lazy imports count)."""
    graph = import_graph("dnf_plugin_cluster")
    cycles, state = [], {}

    def visit(name, trail):
        state[name] = "open"
        for target in sorted(graph[name]):
            if target.startswith(name + "."):
                continue            # a package importing its own modules is no circle
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_node_side_never_loads_the_head_node_part():
    """Only cluster-master (commands/master.py and its subcommands' master_*.py) and the
    commands' registry reach into dnf_plugin_cluster.head; what every node runs does not."""
    graph = import_graph("dnf_plugin_cluster")
    allowed = ("dnf_plugin_cluster.head", "dnf_plugin_cluster.commands.master",
               "dnf_plugin_cluster.commands.master_site", "dnf_plugin_cluster.commands.master_history",
               "dnf_plugin_cluster.commands.master_kickstart", "dnf_plugin_cluster.commands.master_fleet")
    offenders = sorted((name, target) for name, targets in graph.items() for target in targets
                       if target.startswith("dnf_plugin_cluster.head")
                       and not any(name == a or name.startswith(a + ".") for a in allowed))
    assert offenders == []


def test_the_readme_starts_with_the_admin():
    """Who runs what comes first, then the two commands and a quick start per role; the
    developers' material lives in docs/HACKING.md."""
    with open(os.path.join(REPO_ROOT, "README.md")) as handle:
        readme = handle.read()
    headings = [l for l in readme.splitlines() if l.startswith("## ")]
    assert headings[:3] == ["## Who runs what, where", "## Trying it: two commands", "## Quick start"]
    assert "make demo" in readme and "make test" in readme and "systemctl enable --now cluster-node-sync.timer" in readme
    for moved in ("## Layout", "## Faults and hostile input", "## Benchmarks"):
        assert moved not in readme
    assert "docs/HACKING.md" in readme

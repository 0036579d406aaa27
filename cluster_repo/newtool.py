"""`cluster-repo new NAME --url TARBALL_URL [--mpi]`: a spec skeleton for a tool, from
its upstream release tarball, for a volunteer to finish.

The tarball is fetched into the lookaside cache (its `sources` line written), its build
system recognised from the top directory (CMakeLists.txt: CMake; configure: autotools;
a Makefile: plain make) and a spec written that lints and builds: it installs what the
build system installs (plain make: the executables it built) and lists the installed
files through a generated file list, which the volunteer replaces with explicit %files
before the tool is published. With --mpi, the build runs once per MPI family
(cluster_repo/mpi.py)."""
import os
import re
import tarfile
import urllib.parse

from dnf_plugin_cluster.errors import ClusterError
from dnf_plugin_cluster.names import check_name

from . import lookaside, owners, sources

VERSION_IN_FILE = re.compile(r"[-_](?P<version>\d[0-9A-Za-z.+~]*?)(?:\.orig)?\.(?:tar\.(?:gz|bz2|xz|zst)|tgz)\Z")

BUILD = {
    "cmake": ("cmake -S . -B build-cmake -DCMAKE_INSTALL_PREFIX=%{_prefix} -DCMAKE_BUILD_TYPE=RelWithDebInfo"
              " -DCMAKE_C_FLAGS=\"%{optflags}\"{mpi}\ncmake --build build-cmake %{?_smp_mflags}",
              "DESTDIR=%{buildroot}{dest} cmake --install build-cmake"),
    "autotools": ("%configure{mpi}\n%make_build", "%make_install{dest}"),
    "make": ("%make_build CFLAGS=\"%{optflags}\"",
             "for f in $(find . -maxdepth 2 -type f -perm -u+x); do\n"
             "    if head -c 4 \"$f\" | grep -q ELF; then\n"
             "        install -D -p -m 0755 \"$f\" %{buildroot}{bindir}/$(basename \"$f\"){suffix}\n"
             "    fi\n"
             "done"),
}


def detect(path):
    """(top directory, build system) of a release tarball."""
    try:
        with tarfile.open(path) as tar:
            names = [m.name.lstrip("./") for m in tar.getmembers()]
    except (tarfile.TarError, OSError) as err:
        raise ClusterError("not a tarball: {}".format(err), path)
    tops = set(n.split("/", 1)[0] for n in names if n)
    if len(tops) != 1:
        raise ClusterError("the tarball has no single top directory", path)
    top = tops.pop()
    inside = set(n.split("/", 1)[1] for n in names if "/" in n)
    for marker, kind in (("CMakeLists.txt", "cmake"), ("configure", "autotools"), ("Makefile", "make"),
                         ("makefile", "make"), ("GNUmakefile", "make")):
        if marker in inside:
            return top, kind
    raise ClusterError("no CMakeLists.txt, configure or Makefile at the top of the tarball", path)


def _sections(kind, mpi):
    build, install = BUILD[kind]
    if not mpi:
        return (build.replace("{mpi}", ""), install.replace("{dest}", "").replace("{bindir}", "%{_bindir}")
                .replace("{suffix}", ""))
    out_build, out_install = [], []
    for fam in ("openmpi", "mpich"):
        mpi_opts = " -DCMAKE_C_COMPILER=mpicc" if kind == "cmake" else (
            " --prefix=$MPI_HOME --bindir=$MPI_BIN --libdir=$MPI_LIB --program-suffix=$MPI_SUFFIX"
            if kind == "autotools" else "")
        body = build.replace("{mpi}", mpi_opts).replace("%configure", "%configure CC=mpicc").replace(
            "%make_build", "%make_build CC=mpicc" if kind == "make" else "%make_build")
        out_build.append("%if %{{with {fam}}}\n%{{_{fam}_load}}\nmkdir {fam} && cp -a $(ls -A | grep -v -x -e "
                         "openmpi -e mpich) {fam}/\ncd {fam}\n{body}\ncd ..\n%{{_{fam}_unload}}\n%endif".format(
                             fam=fam, body=body))
        inst = install.replace("{dest}", "").replace("{bindir}", "$MPI_BIN").replace("{suffix}", "$MPI_SUFFIX")
        out_install.append("%if %{{with {fam}}}\n%{{_{fam}_load}}\ncd {fam}\n{inst}\ncd ..\n%{{_{fam}_unload}}\n"
                           "%endif".format(fam=fam, inst=inst))
    return "\n".join(out_build), "\n".join(out_install)


def skeleton(name, version, url, top, kind, owner, mpi, today):
    from .changelog import Entry
    build, install = _sections(kind, mpi)
    source = url.replace(version, "%{version}")
    lines = ["# Owners: " + owner,
             "# Skeleton by `cluster-repo new` ({} build): write the %description and replace the".format(kind),
             "# generated file lists with explicit %files before publishing."]
    if mpi:
        lines += ["%bcond_without openmpi", "%bcond_without mpich"]
    lines += ["", "Name:           " + name, "Version:        " + version, "Release:        1%{?dist}",
              "Summary:        The {} tool".format(name), "License:        FIXME",
              "URL:            {}".format(urllib.parse.urljoin(url, "./")), "Source0:        " + source,
              "BuildRequires:  gcc", "BuildRequires:  make"]
    if kind == "cmake":
        lines.append("BuildRequires:  cmake")
    lines += ["", "%description", "The {} tool, built from its upstream release {}.".format(name, version)]
    for fam in ("openmpi", "mpich") if mpi else ():
        lines += ["", "%if %{{with {}}}".format(fam), "%package " + fam,
                  "Summary:        The {} tool for {}".format(name, fam), "BuildRequires:  {}-devel".format(fam),
                  "Requires:       {}%{{?_isa}}".format(fam), "", "%description " + fam,
                  "The {} tool built with {}.".format(name, fam), "%endif"]
    lines += ["", "%prep", "%autosetup -p1 -n " + top.replace(version, "%{version}"), "", "%build", build, "",
              "%install", install]
    packages = [("", "")] if not mpi else [("openmpi", " openmpi"), ("mpich", " mpich")]
    for fam, suffix in packages:
        listing = "files{}.list".format("-" + fam if fam else "")
        prefix = "%{_libdir}/" + fam if fam else "%{_prefix}"
        lines.append("(cd %{{buildroot}} && find .{} -type f -o -type l) | sed 's|^\\.||' > {}".format(
            prefix, listing))
    for fam, suffix in packages:
        listing = "files{}.list".format("-" + fam if fam else "")
        block = ["", "%files{} -f {}".format(suffix, listing)]
        if fam:
            block = ["", "%if %{{with {}}}".format(fam)] + block[1:] + ["%endif"]
        lines += block
    entry = Entry(today, owner, version + "-1", ["Skeleton for {} {} (cluster-repo new)".format(name, version)])
    lines += ["", "%changelog", entry.render(), ""]
    return "\n".join(lines)


def new(project, name, url, opts, owner, mpi=False, version=None, today=None):
    import datetime
    check_name(name)
    owners.check_owner(owner)
    tool_dir = os.path.join(project.specs_dir, name)
    if os.path.exists(tool_dir) or os.path.exists(tool_dir + ".spec"):
        raise ClusterError("specs/{} already exists".format(name))
    filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    if version is None:
        match = VERSION_IN_FILE.search(filename)
        if not match:
            raise ClusterError("no version in '{}': give --version".format(filename))
        version = match.group("version")
    entry = sources.fetch_new(name, filename, url, opts)
    top, kind = detect(lookaside.cache_path(opts.cache, name, entry))
    text = skeleton(name, version, url, top, kind, owner, mpi, today or datetime.datetime.utcnow().date())
    os.makedirs(tool_dir)
    with open(os.path.join(tool_dir, name + ".spec"), "w", encoding="utf-8") as handle:
        handle.write(text)
    lookaside.write(os.path.join(tool_dir, lookaside.SOURCES_FILE), [entry])
    return kind, entry

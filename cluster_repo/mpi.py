"""MPI families, the Fedora way (Fedora Packaging Guidelines, "MPI").

A tool's spec builds once per MPI implementation, each inside `%{_openmpi_load}` ...
`%{_openmpi_unload}` (or `_mpich_`), which load the environment module
`mpi/openmpi-%{_arch}`: `$MPI_BIN` is `%{_libdir}/openmpi/bin`, `$MPI_SUFFIX` is
`_openmpi`, `mpicc` is the family's compiler. Binaries go to `$MPI_BIN` named with
`$MPI_SUFFIX`, into the subpackages NAME-openmpi and NAME-mpich, under
`%bcond_without openmpi` / `%bcond_without mpich`.

On a Fedora/EL builder these macros come from openmpi-devel and mpich-devel (the
spec's BuildRequires). A Debian build host has neither: for the test world, the same
macros are defined here over Debian's libopenmpi-dev and libmpich-dev (`mpicc.openmpi`,
`mpicc.mpich`), setting the same variables Fedora's module files set; a family whose
Debian compiler is missing is built `--without` it, with a note. The binaries made so
link against Debian's MPI libraries: they serve the test world only (releases for
Fedora/EL are built on the target from the SRPMs, as rpmbuild does not cross-link)."""
import os
import shutil

from .rpmbuild import host_is_rpm_based

FAMILIES = ("openmpi", "mpich")
#: the metapackage by which a site chooses its family (metapackages/cluster-mpi-FAMILY.yaml)
CHOICE = "cluster-mpi-{}"
#: the family's programs as Debian names them (update-alternatives picks one unsuffixed)
DEBIAN_PROGRAMS = ("mpicc", "mpicxx", "mpifort", "mpif90", "mpirun", "mpiexec")
#: what `module load mpi/FAMILY-ARCH` sets on Fedora/EL (its module file), ARCH expanded by rpm
MODULE_VARS = (
    ("MPI_COMPILER", "{fam}-%{{_arch}}"),
    ("MPI_SUFFIX", "_{fam}"),
    ("MPI_HOME", "%{{_libdir}}/{fam}"),
    ("MPI_BIN", "%{{_libdir}}/{fam}/bin"),
    ("MPI_LIB", "%{{_libdir}}/{fam}/lib"),
    ("MPI_INCLUDE", "%{{_includedir}}/{fam}-%{{_arch}}"),
    ("MPI_MAN", "%{{_mandir}}/{fam}-%{{_arch}}"),
    ("MPI_SYSCONFIG", "%{{_sysconfdir}}/{fam}-%{{_arch}}"),
    ("MPI_FORTRAN_MOD_DIR", "%{{_libdir}}/gfortran/modules/{fam}"),
)
#: Automatic ELF dependencies of test-world binaries name Debian's libraries, which no
#: RPM provides: they are left out there (a target's builder keeps them).
TEST_WORLD_REQUIRES_EXCLUDE = r"^(lib.*\.so.*|ld-linux.*|rtld\(.*\))$"


def package(tool, family):
    """The subpackage of `tool` built with `family`, as the MPI guidelines name it."""
    return "{}-{}".format(tool, family)


def debian_compiler(family):
    return shutil.which("mpicc." + family)


def available_families():
    """The families this build host can build: all on Fedora/EL (BuildRequires decide),
    those whose Debian compiler is installed elsewhere."""
    if host_is_rpm_based():
        return list(FAMILIES)
    return [fam for fam in FAMILIES if debian_compiler(fam)]


def _shim_dir(root, family):
    """root/FAMILY/bin with the family's programs under their plain names."""
    bindir = os.path.join(root, family, "bin")
    os.makedirs(bindir, exist_ok=True)
    for prog in DEBIAN_PROGRAMS:
        real = shutil.which("{}.{}".format(prog, family))
        link = os.path.join(bindir, prog)
        if real and not os.path.lexists(link):
            os.symlink(real, link)
    return bindir


def load_macro(family, bindir):
    exports = " ".join("{}={}".format(k, v.format(fam=family)) for k, v in MODULE_VARS)
    return ("export {exports}; export PATH={bindir}:$PATH; export CFLAGS=\"$CFLAGS %{{optflags}}\";"
            .format(exports=exports, bindir=bindir))


def unload_macro(family, bindir):
    names = " ".join(k for k, _ in MODULE_VARS)
    return "export PATH=\"${{PATH#{bindir}:}}\"; unset {names};".format(bindir=bindir, names=names)


def build_macros(shim_root, log=None):
    """Macros a tool's rpmbuild needs on this host: none on Fedora/EL; on other hosts the
    test world's `_FAMILY_load`/`_FAMILY_unload` over Debian's MPI (programs linked under
    `shim_root`), `--without FAMILY` for a family not installed, and the test world's
    dependency filter."""
    if host_is_rpm_based():
        return {}
    macros = {"__requires_exclude": TEST_WORLD_REQUIRES_EXCLUDE}
    for family in FAMILIES:
        if debian_compiler(family):
            bindir = _shim_dir(shim_root, family)
            macros["_{}_load".format(family)] = load_macro(family, bindir)
            macros["_{}_unload".format(family)] = unload_macro(family, bindir)
        else:
            macros["_without_" + family] = "--without-" + family
            if log:
                log("MPI family {} not built on this host: mpicc.{} is missing (Debian: apt-get install "
                    "lib{}-dev)".format(family, family, family))
    return macros

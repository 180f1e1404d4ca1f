"""Build the compiled engine ``backprop._core`` and its kernels ``backprop._kernels_*``.

Metadata lives in ``pyproject.toml``; this file only describes the extensions.

The kernels (``src/backprop/_kernels.pyx``) are compiled once per SIMD level, as
separate modules from the same source: ``_kernels_baseline`` (the platform's
baseline: SSE2 on x86-64), and on x86-64 ``_kernels_avx2`` (``-mavx2``) and
``_kernels_avx512`` (``-mavx512f -mavx512dq -mavx512bw -mavx512vl``, 512-bit
vectors preferred).  ``_core`` picks the best one the CPU runs at import
(``BACKPROP_SIMD=baseline|avx2|avx512`` forces one); every level computes the
same bits.  A level the compiler does not take is left out of the build.

Environment switches (read at build time):

``BACKPROP_NATIVE=1``
    Tune for the building machine (gcc's native-architecture flag, BACKPROP_NATIVE
    only).  The default build is portable: it runs on any x86-64 or arm64 CPU.
``BACKPROP_DEBUG=1``
    Turn Cython's bounds and wrap-around checks back on and compile with ``-O0 -g``.
``BACKPROP_SANITIZE=1``
    Compile and link with AddressSanitizer and UndefinedBehaviorSanitizer
    (``-fsanitize=address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer -g -O1``; gcc and clang only).  Alone it keeps the
    release directives, so the sanitizers watch the kernels the release build
    runs; with BACKPROP_DEBUG=1 it adds them to the debug build (checks on,
    ``-O0``).  The module then imports only with the ASan runtime preloaded
    (``LD_PRELOAD=$(gcc -print-file-name=libasan.so)``): ``.ci/sanitize`` builds it
    and runs the suite so.
``BACKPROP_ANNOTATE=1``
    Also write Cython's annotated ``src/backprop/_core.html`` (yellow lines touch
    Python; the kernels must be white).
``BACKPROP_SIMD_LEVELS=baseline,avx2``
    Build the kernels of these SIMD levels only (the baseline always; default:
    every level of the architecture).  CI's debug and sanitizer builds use it to
    skip a level the machine cannot run.

Every build keeps IEEE semantics: no fast-math flags, and ``-ffp-contract=off`` so
that a compiler allowed to use FMA instructions (the AVX-512 level, or a
BACKPROP_NATIVE build) rounds exactly as the portable build does.  The tutorial's
figures are therefore the same bit for bit in every build and at every SIMD level.
gcc also gets ``-fno-trapping-math`` (clang's default): it changes no value, only
whether code may raise floating-point exception flags that nothing reads, and
without it gcc will not turn a compare-and-select (the clamps of the vector
``exp``, ``relu``) into vector blends.

A release build carries no debug information (``-g0`` after Python's own
flags, which may hold ``-g``): the module is a fifth of the size, and keeps its
symbol table for profilers.

Cython runs when the extension is built, not when this file is read (so making
an sdist or reading the metadata compiles nothing), and only when the C file it
would write differs from the last build's: pip (21.3 and later) builds in the
source tree, so a second ``pip install .`` finds the C file and the compiled
module of the first under ``build/`` and reuses them (see ``BuildExt.cythonize``).

The release directives (no bounds or wrap-around checks, C division) are in the
header of ``_core.pyx``, so that a plain ``cython -a src/backprop/_core.pyx``
shows exactly what the build compiles.  File directives beat the ones given to
``cythonize``, so a debug build compiles a copy of the source whose header turns
the checks back on.
"""

import hashlib
import multiprocessing
import os
import platform
import sys
from pathlib import Path

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


NATIVE = _flag("BACKPROP_NATIVE")
DEBUG = _flag("BACKPROP_DEBUG")
SANITIZE = _flag("BACKPROP_SANITIZE")
ANNOTATE = _flag("BACKPROP_ANNOTATE")

#: The SIMD levels of the kernels and their extra flags (gcc and clang, then MSVC).
SIMD_FLAGS = {
    "baseline": ([], []),
    "avx2": (["-mavx2"], ["/arch:AVX2"]),
    "avx512": (
        ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mprefer-vector-width=512"],
        ["/arch:AVX512"],
    ),
}
X86_64 = platform.machine().lower() in {"x86_64", "amd64", "x64", "em64t"}
LEVELS = list(SIMD_FLAGS) if X86_64 else ["baseline"]
# BACKPROP_SIMD_LEVELS=baseline,avx2 builds only those kernels (the baseline
# always): CI's debug and sanitizer builds skip a level the machine cannot run.
_WANTED = [w.strip() for w in os.environ.get("BACKPROP_SIMD_LEVELS", "").split(",") if w.strip()]
if _WANTED:
    _unknown = sorted(set(_WANTED) - set(SIMD_FLAGS))
    if _unknown:
        raise SystemExit(
            f"BACKPROP_SIMD_LEVELS: unknown level(s) {_unknown}; known: {list(SIMD_FLAGS)}"
        )
    LEVELS = [level for level in LEVELS if level == "baseline" or level in _WANTED]


# Cython translates the stale modules side by side where worker processes fork
CYTHON_JOBS = (os.cpu_count() or 1) if multiprocessing.get_start_method() == "fork" else 0


class BuildExt(build_ext):
    """Add compiler flags that depend on the compiler family."""

    def finalize_options(self) -> None:
        super().finalize_options()
        # the engine and the kernels' levels compile side by side (one per core)
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def _accepts(self, flag: str) -> bool:
        """Whether the C compiler takes ``flag`` (compiles an empty file with it)."""
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as fh:
                fh.write("int main(void) { return 0; }\n")
            try:
                self.compiler.compile([src], output_dir=tmp, extra_postargs=[flag, "-Werror"])
            except Exception:  # CompileError, or a compiler that rejects -Werror
                return False
        return True

    def cythonize(self, extensions: list[Extension]) -> None:
        """Turn each extension's .pyx source into C, unless the C file is the last build's.

        A C file depends only on its .pyx text (and ``_simd.pxd``, which every
        module cimports), the Cython and NumPy versions (the latter's .pxd) and the
        annotate switch; the key of those is kept under build/.  Cython's own check
        would regenerate it on every pip install: it compares dates, and pip's fresh
        isolated environment brings fresh copies of Cython's .pxd files (setuptools
        then recompiles the newer C file).  Left out of ``ext.depends`` for the same
        reason: the absolute paths of the isolated environment's NumPy headers (the
        NumPy version is in the key).  The stale ones are translated side by side.
        """
        import Cython
        from Cython.Build import cythonize

        kind = "debug" if DEBUG else "release"
        stale = []
        for ext in extensions:
            pyx = Path(ext.sources[0])
            if pyx.suffix != ".pyx":
                continue  # turned into C already
            c_file = pyx.with_suffix(".c")
            digest = hashlib.sha256(pyx.read_bytes() + SIMD_PXD.read_bytes()).hexdigest()
            key = repr((digest, Cython.__version__, np.__version__, ANNOTATE))
            stamp = Path(self.build_temp) / f"backprop-cython-{ext.name}-{kind}.txt"
            current = c_file.is_file() and stamp.is_file() and stamp.read_text("utf-8") == key
            if self.force or not current:
                stale.append((ext, stamp, key))
            else:
                print(f"reusing {c_file} (its .pyx, Cython and NumPy are the last build's)")
                ext.sources = [str(c_file)]
        if stale:
            # include_path: the kernels' copies under build/ find backprop/_simd.pxd
            cythonize(
                [ext for ext, _, _ in stale],
                annotate=ANNOTATE,
                force=True,
                include_path=["src"],
                nthreads=CYTHON_JOBS,
            )
        for ext, stamp, key in stale:
            ext.sources = [str(Path(ext.sources[0]).with_suffix(".c"))]
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(key, encoding="utf-8")

    def build_extensions(self) -> None:
        self.cythonize(self.extensions)
        link_flags = []
        if self.compiler.compiler_type == "msvc":
            if SANITIZE:
                raise SystemExit("BACKPROP_SANITIZE=1 needs gcc or clang")
            flags = ["/Od"] if DEBUG else ["/O2", "/fp:precise"]
        else:
            if DEBUG:
                flags = ["-O0", "-g"]
            elif SANITIZE:
                flags = ["-O1", "-g"]  # fast enough for the suite, exact stack traces
            else:
                flags = ["-O3", "-g0"]  # after Python's CFLAGS: no debug information
                if sys.platform.startswith("linux"):
                    link_flags.append("-s")  # nor a symbol table (the wheel: under 1 MB)
            if SANITIZE:
                sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
                flags += sanitize + ["-fno-omit-frame-pointer"]
                link_flags += sanitize
            flags.append("-ffp-contract=off")
            if self._accepts("-fno-trapping-math"):
                flags.append("-fno-trapping-math")
            # The kernels' loops read and write several rows at once; let gcc check
            # more pointer pairs for overlap at run time so that it still vectorises
            # them (its default gives up on the four-row sweeps).
            if self._accepts("--param=vect-max-version-for-alias-checks=64"):
                flags.append("--param=vect-max-version-for-alias-checks=64")
            if NATIVE:
                flags.append("-march=native")  # BACKPROP_NATIVE=1 only
        msvc = self.compiler.compiler_type == "msvc"
        kept = []
        for ext in self.extensions:
            level = ext.name.rpartition("_kernels_")[2] if "_kernels_" in ext.name else None
            extra = SIMD_FLAGS[level][1 if msvc else 0] if level else []
            if extra and not all(self._accepts(flag) for flag in extra):
                print(
                    f"backprop: the compiler does not take {' '.join(extra)}: "
                    f"no {level} kernels in this build"
                )
                continue
            ext.extra_compile_args = list(ext.extra_compile_args) + flags + extra
            ext.extra_link_args = list(ext.extra_link_args) + link_flags
            # what backprop.build_info() reports
            ext.define_macros = list(ext.define_macros) + [
                ("BACKPROP_BUILD_FLAGS", '"' + " ".join(flags + extra) + '"')
            ]
            kept.append(ext)
        self.extensions[:] = kept
        # setuptools compiles only what is older than the module in the build tree, so
        # a build after one of another kind (release after a debug or sanitizer build,
        # without pip's fresh build environment) would keep the other kind's module
        stamp = Path(self.build_temp) / "backprop-flags.txt"
        kind = repr((flags, link_flags))
        if not stamp.is_file() or stamp.read_text(encoding="utf-8") != kind:
            self.force = True
        super().build_extensions()
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(kind, encoding="utf-8")


RELEASE_HEADER = (
    "# cython: language_level=3, boundscheck=False, wraparound=False, "
    "initializedcheck=False\n# cython: cdivision=True, embedsignature=True"
)
SOURCE = Path("src/backprop/_core.pyx")
KERNELS = Path("src/backprop/_kernels.pyx")
SIMD_PXD = Path("src/backprop/_simd.pxd")


def _source_text(source: Path) -> str:
    """The text to compile: the source's, or for a debug build with a header that
    turns bounds, wrap-around and initialisation checks back on."""
    text = source.read_text(encoding="utf-8")
    if not DEBUG:
        return text
    if not text.startswith(RELEASE_HEADER):
        raise SystemExit(f"{source} must start with the release header:\n{RELEASE_HEADER}")
    return RELEASE_HEADER.replace("=False", "=True") + text[len(RELEASE_HEADER) :]


def _write(path: Path, text: str) -> str:
    """Write ``text`` to ``path`` unless it holds it already (keeps the timestamp
    Cython's dependency check reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return str(path)


def core_source() -> str:
    """The .pyx to compile: the source itself, or for a debug build a copy whose
    header turns bounds, wrap-around and initialisation checks back on."""
    if not DEBUG:
        return str(SOURCE)
    return _write(Path("build/debug-src/backprop/_core.pyx"), _source_text(SOURCE))


def kernels_source(level: str) -> str:
    """A copy of ``_kernels.pyx`` named for one SIMD level: Cython names a module
    after its file, so each level compiles its own copy of the one source."""
    kind = "debug-src" if DEBUG else "simd-src"
    return _write(Path(f"build/{kind}/backprop/_kernels_{level}.pyx"), _source_text(KERNELS))


numpy_macros = [("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")]
extensions = [
    Extension(
        "backprop._core",
        [core_source()],
        include_dirs=[np.get_include()],
        define_macros=numpy_macros,
    )
] + [
    Extension(f"backprop._kernels_{level}", [kernels_source(level)], define_macros=numpy_macros)
    for level in LEVELS
]

setup(ext_modules=extensions, cmdclass={"build_ext": BuildExt})

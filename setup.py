"""Build the compiled engine ``backprop._core``.

Metadata lives in ``pyproject.toml``; this file only describes the extension.

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

Every build keeps IEEE semantics: no fast-math flags, and ``-ffp-contract=off`` so
that a compiler allowed to use FMA instructions (a BACKPROP_NATIVE build) rounds
exactly as the portable build does.  The tutorial's figures are therefore the same
bit for bit in every build.

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
import os
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


class BuildExt(build_ext):
    """Add compiler flags that depend on the compiler family."""

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

    def cythonize(self, ext: Extension) -> None:
        """Turn ``ext``'s .pyx source into C, unless the C file is the last build's.

        The C file depends only on the .pyx text, the Cython and NumPy versions (the
        latter's .pxd) and the annotate switch; the key of those is kept under
        build/.  Cython's own check would regenerate it on every pip install: it
        compares dates, and pip's fresh isolated environment brings fresh copies of
        Cython's .pxd files (setuptools then recompiles the newer C file).  Left
        out of ``ext.depends`` for the same reason: the absolute paths of the
        isolated environment's NumPy headers (the NumPy version is in the key).
        """
        import Cython
        from Cython.Build import cythonize

        pyx = Path(ext.sources[0])
        if pyx.suffix != ".pyx":
            return  # turned into C already
        c_file = pyx.with_suffix(".c")
        digest = hashlib.sha256(pyx.read_bytes()).hexdigest()
        key = repr((digest, Cython.__version__, np.__version__, ANNOTATE))
        stamp = Path(self.build_temp) / f"backprop-cython-{'debug' if DEBUG else 'release'}.txt"
        current = c_file.is_file() and stamp.is_file() and stamp.read_text("utf-8") == key
        if self.force or not current:
            cythonize([ext], annotate=ANNOTATE, force=True)
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(key, encoding="utf-8")
        else:
            print(f"reusing {c_file} (its .pyx, Cython and NumPy are the last build's)")
        ext.sources = [str(c_file)]

    def build_extensions(self) -> None:
        for ext in self.extensions:
            self.cythonize(ext)
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
            if SANITIZE:
                sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
                flags += sanitize + ["-fno-omit-frame-pointer"]
                link_flags += sanitize
            flags.append("-ffp-contract=off")
            # The kernels' loops read and write several rows at once; let gcc check
            # more pointer pairs for overlap at run time so that it still vectorises
            # them (its default gives up on the four-row sweeps).
            if self._accepts("--param=vect-max-version-for-alias-checks=64"):
                flags.append("--param=vect-max-version-for-alias-checks=64")
            if NATIVE:
                flags.append("-march=native")  # BACKPROP_NATIVE=1 only
        for ext in self.extensions:
            ext.extra_compile_args = list(ext.extra_compile_args) + flags
            ext.extra_link_args = list(ext.extra_link_args) + link_flags
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


def core_source() -> str:
    """The .pyx to compile: the source itself, or for a debug build a copy whose
    header turns bounds, wrap-around and initialisation checks back on."""
    if not DEBUG:
        return str(SOURCE)
    text = SOURCE.read_text(encoding="utf-8")
    if not text.startswith(RELEASE_HEADER):
        raise SystemExit(f"{SOURCE} must start with the release header:\n{RELEASE_HEADER}")
    debug = Path("build/debug-src/backprop/_core.pyx")
    debug.parent.mkdir(parents=True, exist_ok=True)
    header = RELEASE_HEADER.replace("=False", "=True")
    debug.write_text(header + text[len(RELEASE_HEADER) :], encoding="utf-8")
    return str(debug)


extensions = [
    Extension(
        "backprop._core",
        [core_source()],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
    )
]

setup(ext_modules=extensions, cmdclass={"build_ext": BuildExt})

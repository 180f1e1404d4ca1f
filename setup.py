"""Build the compiled engine ``backprop._core``.

Metadata lives in ``pyproject.toml``; this file only describes the extension.

Environment switches (read at build time):

``BACKPROP_NATIVE=1``
    Tune for the building machine (gcc's native-architecture flag, BACKPROP_NATIVE
    only).  The default build is portable: it runs on any x86-64 or arm64 CPU.
``BACKPROP_DEBUG=1``
    Turn Cython's bounds and wrap-around checks back on and compile with ``-O0 -g``.
``BACKPROP_ANNOTATE=1``
    Also write Cython's annotated ``src/backprop/_core.html`` (yellow lines touch
    Python; the kernels must be white).

Every build keeps IEEE semantics: no fast-math flags, and ``-ffp-contract=off`` so
that a compiler allowed to use FMA instructions (a BACKPROP_NATIVE build) rounds
exactly as the portable build does.  The tutorial's figures are therefore the same
bit for bit in every build.

The release directives (no bounds or wrap-around checks, C division) are in the
header of ``_core.pyx``, so that a plain ``cython -a src/backprop/_core.pyx``
shows exactly what the build compiles.  File directives beat the ones given to
``cythonize``, so a debug build compiles a copy of the source whose header turns
the checks back on.
"""

import os
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


NATIVE = _flag("BACKPROP_NATIVE")
DEBUG = _flag("BACKPROP_DEBUG")
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

    def build_extensions(self) -> None:
        if self.compiler.compiler_type == "msvc":
            flags = ["/Od"] if DEBUG else ["/O2", "/fp:precise"]
        else:
            flags = ["-O0", "-g"] if DEBUG else ["-O3"]
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
        super().build_extensions()


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

setup(
    ext_modules=cythonize(extensions, annotate=ANNOTATE),
    cmdclass={"build_ext": BuildExt},
)

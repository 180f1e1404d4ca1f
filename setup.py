"""Build the compiled engine ``backprop._core``.

Metadata lives in ``pyproject.toml``; this file only describes the extension.

Environment switches (read at build time):

``BACKPROP_NATIVE=1``
    Tune for the building machine (``-march=native``).  The default build is
    portable: it runs on any x86-64 or arm64 CPU.
``BACKPROP_DEBUG=1``
    Turn Cython's bounds and wrap-around checks back on and compile with ``-O0 -g``.
``BACKPROP_ANNOTATE=1``
    Also write Cython's annotated ``src/backprop/_core.html`` (yellow lines touch
    Python; the kernels must be white).

Every build keeps IEEE semantics: no ``-ffast-math``, and ``-ffp-contract=off`` so
that a compiler allowed to use FMA instructions (``-march=native``) rounds exactly
as the portable build does.  The tutorial's figures are therefore the same bit for
bit in every build.
"""

import os

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

    def build_extensions(self) -> None:
        if self.compiler.compiler_type == "msvc":
            flags = ["/Od"] if DEBUG else ["/O2", "/fp:precise"]
        else:
            flags = ["-O0", "-g"] if DEBUG else ["-O3"]
            flags.append("-ffp-contract=off")
            if NATIVE:
                flags.append("-march=native")
        for ext in self.extensions:
            ext.extra_compile_args = list(ext.extra_compile_args) + flags
        super().build_extensions()


directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "embedsignature": True,
}

extensions = [
    Extension(
        "backprop._core",
        ["src/backprop/_core.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
    )
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=directives, annotate=ANNOTATE),
    cmdclass={"build_ext": BuildExt},
)

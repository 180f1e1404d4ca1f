"""``build_info()``: how the compiled engine was built and what it runs here."""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["build_info"]


def _blas_library() -> str | None:
    """Name and version of the BLAS SciPy was built with, if SciPy says."""
    try:
        import scipy

        blas = scipy.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # an older SciPy, or one that does not say
        return None
    name, version = blas.get("name"), blas.get("version")
    return f"{name} {version}" if name and version else name


def build_info() -> dict[str, Any]:
    """How the compiled engine was built and which kernels it runs.

    Keys: ``version``; ``compiled`` (whether ``backprop._core`` is built and
    imports) and ``compiled_error`` (why not, else None); ``default_engine``
    (None when the compiled engine is refused and ``BACKPROP_ENGINE`` does not
    name the twin); ``compiler`` and ``flags`` (the C compiler and
    the optimisation flags of the build); ``simd`` (the SIMD level whose kernels
    run now: ``"baseline"``, ``"avx2"`` or ``"avx512"``, chosen at import as the
    best this CPU runs, or forced by ``BACKPROP_SIMD``), ``simd_isa`` (the vector
    instructions that level was compiled for) and ``simd_flags`` (its flags),
    ``simd_levels`` (the levels usable
    here), ``simd_built`` (the levels built), ``simd_cpu`` (the levels this CPU
    runs); ``blas`` (where mini-batches of large layers find BLAS:
    ``"scipy.linalg.cython_blas"``, or ``None`` without SciPy or with
    ``BACKPROP_BLAS=0``) and ``blas_library`` (the BLAS SciPy was built with).
    Without the compiled engine the build keys are ``None``.
    """
    from .network import _CORE_ERROR, _core, default_engine

    try:
        engine: str | None = default_engine()
    except ValueError:
        if not isinstance(_CORE_ERROR, RuntimeError):
            raise  # (a bad BACKPROP_ENGINE)
        engine = None  # (BACKPROP_SIMD names a level that cannot run: in compiled_error)
    info: dict[str, Any] = {
        "version": __version__,
        "compiled": _core is not None,
        "compiled_error": None if _CORE_ERROR is None else str(_CORE_ERROR),
        "default_engine": engine,
    }
    keys = ("compiler", "flags", "simd", "simd_isa", "simd_flags", "simd_levels", "simd_built",
            "simd_cpu")  # fmt: skip
    if _core is None:
        info.update(dict.fromkeys(keys), blas=None, blas_library=None)
        return info
    info.update(_core.build_info())
    blas = _core.blas_available()
    info["blas"] = "scipy.linalg.cython_blas" if blas else None
    info["blas_library"] = _blas_library() if blas else None
    return info

"""The compiled engine's vector maths: exp and tanh in double and single precision.

``backprop/_simd.pxd`` states the method and the largest errors measured; here
each function, run by the kernels of every SIMD level this machine has
(``_core.map_values``, one vectorised loop as the kernels run it), is checked
against a correctly rounded reference:

* mpmath at 120 bits on grids over the whole domain, denser where it matters
  (around 0, the subnormal results, the edge of overflow, tanh's switch of
  method at 0.55), and long double (where it has 64 bits) on millions of points;
  the error, in units in the last place of the exact result, is at most 1 ulp;
* the edges exactly: 0 and -0, subnormal arguments and results, the last finite
  results and the first infinite ones, the first results that round to 0, +-inf
  and NaN;
* the levels against each other: the same bits for every input.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

mp = pytest.importorskip("mpmath")

pytestmark = pytest.mark.usefixtures("core", "simd_level")

#: The promise of ``_simd.pxd``: at most one ulp from the correctly rounded result.
MAX_ULP = 1.0

F64, F32 = np.float64, np.float32
MANT = {F64: 53, F32: 24}  # significand bits
EMIN = {F64: -1074, F32: -149}  # exponent of the smallest subnormal


def _grid(dtype, *pieces):
    """Sorted unique points of ``dtype``: ``(lo, hi, n)`` linspaces, arrays."""
    parts = [np.linspace(*p) if isinstance(p, tuple) else np.asarray(p) for p in pieces]
    return np.unique(np.concatenate(parts).astype(dtype))


def _ulp(hi, dtype):
    """The ulp of ``dtype`` at values ``hi`` (subnormal spacing below the normal range)."""
    exponent = np.frexp(np.where(np.isfinite(hi) & (hi != 0), hi, 1.0))[1]
    return np.ldexp(1.0, np.maximum(exponent - MANT[dtype], EMIN[dtype]))


def _reference(fn, x, dtype):
    """The exact ``fn(x)`` at 120 bits, as ``(hi, frac)``: the nearest double and
    what is left, in ulps of ``dtype`` (at ``hi``)."""
    mp.mp.prec = 120
    f = {"exp": mp.exp, "tanh": mp.tanh}[fn]
    hi = np.empty(len(x))
    frac = np.zeros(len(x))
    for i, v in enumerate(x.astype(np.float64)):
        exact = f(mp.mpf(float(v)))
        hi[i] = float(exact)  # rounds to nearest (inf beyond the double range)
        if np.isfinite(hi[i]):
            frac[i] = float((exact - mp.mpf(hi[i])) / mp.mpf(float(_ulp(hi[i], dtype))))
    return hi, frac


def _ulp_errors(y, hi, frac, dtype):
    """|y - exact| in ulps of ``dtype`` at the exact result ``hi + frac ulps``;
    ``inf`` where ``y`` is infinite and the correctly rounded result is not, or
    the other way round."""
    y = y.astype(np.float64)
    ulp = _ulp(hi, dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        rounded = hi.astype(dtype)  # the correctly rounded result (but for ties)
        err = np.abs((y - hi) / ulp - frac)
    infinite = np.isinf(rounded)
    err[infinite] = np.where(y[infinite] == rounded[infinite], 0.0, np.inf)
    err[np.isinf(y) & ~infinite] = np.inf
    return err


# The grids (mpmath's references are computed once per grid, for every level).
EXP64 = _grid(
    F64,
    (-745.2, 709.8, 40_001),
    np.random.default_rng(1).uniform(-2.0, 2.0, 20_000),
    (-1e-8, 1e-8, 2_001),
    (-745.2, -707.0, 10_001),  # subnormal results
    (708.0, 709.7827128933839, 5_001),  # the last finite results
)
EXP32 = _grid(
    F32,
    (-104.0, 88.8, 40_001),
    np.random.default_rng(2).uniform(-2.0, 2.0, 20_000),
    (-104.0, -86.0, 10_001),
    (87.0, 88.72283, 5_001),
)
TANH64 = _grid(
    F64,
    (-21.0, 21.0, 30_001),
    np.random.default_rng(3).uniform(-1.5, 1.5, 20_000),
    (0.5, 0.6, 10_001),  # where the method changes
    (-1e-6, 1e-6, 2_001),
)
TANH32 = _grid(
    F32,
    (-11.0, 11.0, 30_001),
    np.random.default_rng(4).uniform(-1.5, 1.5, 20_000),
    (0.5, 0.6, 10_001),
    (-1e-4, 1e-4, 2_001),
)
GRIDS = {("exp", F64): EXP64, ("exp", F32): EXP32, ("tanh", F64): TANH64, ("tanh", F32): TANH32}


@pytest.fixture(scope="module")
def references():
    """``{(fn, dtype): (x, hi, lo)}``, computed on first use."""
    cache = {}

    def get(fn, dtype):
        if (fn, dtype) not in cache:
            x = GRIDS[fn, dtype]
            cache[fn, dtype] = (x, *_reference(fn, x, dtype))
        return cache[fn, dtype]

    return get


@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
@pytest.mark.parametrize("fn", ["exp", "tanh"])
def test_within_one_ulp_of_mpmath(core, references, fn, dtype):
    x, hi, frac = references(fn, dtype)
    y = core.map_values(x, fn)
    assert y.dtype == dtype
    err = _ulp_errors(y, hi, frac, dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP, f"{fn}({x[worst]!r}) = {y[worst]!r}: {err[worst]:.3f} ulp"


LONG_DOUBLE = np.finfo(np.longdouble).nmant >= 63


@pytest.mark.skipif(not LONG_DOUBLE, reason="long double has no more bits than double here")
@pytest.mark.parametrize("fn", ["exp", "tanh"])
def test_within_one_ulp_of_long_double_on_millions_of_points(core, fn):
    """Double precision on 4 million points against glibc's long double functions
    (64 bits: their own error is below 1/1000 of a double's ulp)."""
    lo_x, hi_x = (-745.2, 709.78) if fn == "exp" else (-20.0, 20.0)
    x = np.linspace(lo_x, hi_x, 4_000_001)
    exact = getattr(np, fn)(x.astype(np.longdouble))
    hi = exact.astype(np.float64)
    frac = ((exact - hi) / _ulp(hi, F64)).astype(np.float64)
    err = _ulp_errors(core.map_values(x, fn), hi, frac, F64)
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP, f"{fn}({x[worst]!r}): {err[worst]:.3f} ulp"


@pytest.mark.parametrize("fn", ["exp", "tanh"])
def test_single_precision_on_millions_of_points(core, fn):
    """Single precision on 4 million points against double precision rounded
    (NumPy's float64 functions: their error is below 2**-28 of a float's ulp)."""
    lo_x, hi_x = (-104.0, 88.72) if fn == "exp" else (-10.0, 10.0)
    x = np.linspace(lo_x, hi_x, 4_000_001, dtype=F32)
    exact = getattr(np, fn)(x.astype(F64))
    err = _ulp_errors(core.map_values(x, fn), exact, np.zeros_like(exact), F32)
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP, f"{fn}({x[worst]!r}): {err[worst]:.3f} ulp"


def _bits_equal(actual, desired):
    """Equal bits (-0 and +0 told apart), every NaN equal to every NaN (which
    operand's payload and sign a NaN carries depends on operand order)."""
    a, d = np.asarray(actual), np.asarray(desired, dtype=np.asarray(actual).dtype)
    nan = np.isnan(a)
    return bool((nan == np.isnan(d)).all()) and a[~nan].tobytes() == d[~nan].tobytes()


INF, NAN = np.inf, np.nan
SMALLEST = {F64: 5e-324, F32: float(np.float32(1.4e-45))}


@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
def test_exp_edges(core, dtype):
    tiny, huge = SMALLEST[dtype], float(np.finfo(dtype).max)
    big, top, zero = (710.0, 709.78, -745.14) if dtype is F64 else (88.73, 88.72, -103.98)
    x = np.array([0.0, -0.0, tiny, -tiny, 1e-30, -1e-30, INF, -INF, NAN, big, huge, -huge,
                  zero, -2000.0], dtype=dtype)  # fmt: skip
    want = np.array([1, 1, 1, 1, 1, 1, INF, 0, NAN, INF, INF, 0, 0, 0], dtype=dtype)
    got = core.map_values(x, "exp")
    assert _bits_equal(got, want), dict(zip(x.tolist(), got.tolist()))
    # the last finite result and the first subnormal ones are within an ulp
    edge = np.array([top, -87.3 if dtype is F32 else -708.39], dtype=dtype)
    hi, frac = _reference("exp", edge, dtype)
    assert np.isfinite(core.map_values(edge, "exp")).all()
    assert _ulp_errors(core.map_values(edge, "exp"), hi, frac, dtype).max() <= MAX_ULP
    # exp(x) for x a little above the smallest result: the smallest subnormal
    last = np.array([-745.13 if dtype is F64 else -103.27], dtype=dtype)
    assert core.map_values(last, "exp")[0] == dtype(tiny)


@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
def test_tanh_edges(core, dtype):
    tiny, huge = SMALLEST[dtype], float(np.finfo(dtype).max)
    x = np.array([0.0, -0.0, tiny, -tiny, 1e-30, -1e-30, INF, -INF, NAN, 20.0, -25.0, huge,
                  -huge], dtype=dtype)  # fmt: skip
    want = np.array([0.0, -0.0, tiny, -tiny, 1e-30, -1e-30, 1, -1, NAN, 1, -1, 1, -1], dtype=dtype)
    got = core.map_values(x, "tanh")
    assert _bits_equal(got, want), dict(zip(x.tolist(), got.tolist()))


@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
def test_logistic_is_one_over_one_plus_exp(core, dtype):
    """The kernels' logistic is ``1 / (1 + exp(-x))`` with the vector exp, rounded
    in the network's precision: 1 at large inputs, 0 below exp's range, NaN kept."""
    x = np.array([-INF, -800.0, -30.0, -1.0, -0.0, 0.0, 0.5, 30.0, 800.0, INF, NAN], dtype=dtype)
    e = core.map_values(-x, "exp")
    one = dtype(1)
    with np.errstate(over="ignore"):
        want = one / (one + e)
    assert _bits_equal(core.map_values(x, "logistic"), want)


@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
@pytest.mark.parametrize("fn", ["exp", "tanh", "logistic"])
def test_every_level_gives_the_same_bits(core, fn, dtype):
    """Random values of every size and sign, the edges, and lengths that leave a
    vector loop's remainder: the same bits at each SIMD level as at baseline."""
    rng = np.random.default_rng(5)
    x = np.concatenate([
        rng.uniform(-30, 30, 10_001), rng.standard_normal(999) * 1e3,
        rng.uniform(-1e-3, 1e-3, 3), [0.0, -0.0, INF, -INF, NAN, 5e-324, -745.14, 709.8],
    ]).astype(dtype)  # fmt: skip
    here = core.map_values(x, fn)
    previous = core.use_simd("baseline")
    try:
        baseline = core.map_values(x, fn)
    finally:
        core.use_simd(previous)
    assert _bits_equal(here, baseline)


def test_exp_table_is_2_to_the_j_over_128():
    """The table of ``_simd.pxd`` (printed by tools/exp_table.py): for each j, the
    nearest double to 2^(j/128) and the relative error of that rounding."""
    from importlib import resources

    text = resources.files("backprop").joinpath("_simd.pxd").read_text(encoding="utf-8")
    body = text[text.index("backprop_exp_table[256] = {") :].split("};", 1)[0]
    words = [int(w, 16) for w in re.findall(r"\{(0x[0-9a-f]{16})ULL\}", body)]
    assert len(words) == 256
    mp.mp.prec = 200
    for j in range(128):
        exact = mp.power(2, mp.mpf(j) / 128)
        hi = float(exact)
        tail = float((exact - mp.mpf(hi)) / mp.mpf(hi))
        assert np.array(words[2 * j], dtype=np.uint64).view(np.float64) == tail, j
        bits = int(np.array(hi).view(np.uint64))
        assert words[2 * j + 1] == (bits - (j << 45)) % 2**64, j

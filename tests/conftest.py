"""Shared fixtures of the backprop test suite.

The suite runs twice in CI: once plainly and once with ``BACKPROP_ENGINE=python``.
Tests that build a network without ``engine=`` follow that choice; tests that
compare the engines, or pin a bug to one engine, name the engine explicitly.

The compiled engine is optional (``Network`` falls back to the twin without it),
so every test that names it goes through one of two fixtures, which skip where it
is not built:

* ``core``: the compiled module ``backprop._core``; a test that only names
  ``engine="cython"`` takes it with ``@pytest.mark.usefixtures("core")``;
* ``engine``: each engine by name, ``"cython"`` then ``"python"``.

The compiled engine's kernels come in SIMD levels (``baseline``, ``avx2``,
``avx512``) that must give the same bits; the ``simd_level`` fixture runs a test
once under each level this machine runs (the engine-agreement, seed, kernel and
float32 modules take it for every test), or, with the twin as the default
engine, under the level in use only (``SIMD_LEVELS``).

What the tests share is handed out by fixtures, not imported: ``from conftest
import ...`` picks up whichever ``conftest`` module was loaded last, which is
``benchmarks/conftest.py`` under ``pytest tests benchmarks``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import backprop as bp

try:
    from backprop import _core
except ImportError:  # only without a compiled build
    _core = None

#: The compiled engine against its twin, in float64: they do the same operations
#: in the same order except that the compiled ``dot`` sums long rows in eight
#: partial sums, which changes the last bits only.
ENGINE_RTOL, ENGINE_ATOL = 1e-12, 1e-15

#: Layer sizes of the random networks of the engine-agreement tests.  The 16-unit
#: layer feeds rows of 16 inputs, long enough for the compiled ``dot``'s partial
#: sums; (2, 1, 2) and (1, 1) are the narrowest.
SIZES = [(3, 5, 2), (4, 7, 6, 3), (2, 1, 2), (10, 16, 8, 4, 3), (1, 1)]

#: ``Trace`` fields that hold one array per weight layer.
TRACE_LAYER_FIELDS = (
    "net_inputs",
    "outputs",
    "d_error_d_output",
    "d_output_d_net",
    "deltas",
    "contributions",
    "weight_gradients",
    "bias_gradients",
    "new_weights",
    "new_biases",
)

#: Option sets of the random networks used by the engine and gradient tests:
#: every activation, every loss, cross-entropy only with a logistic or softmax
#: output layer.
NET_OPTIONS = {
    "logistic/half_sse": dict(activation="logistic", loss="half_sse"),
    "tanh>logistic/mse": dict(activation="tanh", output_activation="logistic", loss="mse"),
    "relu>linear/half_sse": dict(activation="relu", output_activation="linear", loss="half_sse"),
    "leaky_relu>tanh/mse": dict(activation="leaky_relu", output_activation="tanh", loss="mse"),
    "linear>softmax/half_sse": dict(
        activation="linear", output_activation="softmax", loss="half_sse"
    ),
    "tanh>softmax/cross_entropy": dict(
        activation="tanh", output_activation="softmax", loss="cross_entropy"
    ),
    "logistic/cross_entropy": dict(activation="logistic", loss="cross_entropy"),
    "leaky_relu>logistic/cross_entropy": dict(
        activation="leaky_relu", output_activation="logistic", loss="cross_entropy"
    ),
    "relu>softmax/mse": dict(activation="relu", output_activation="softmax", loss="mse"),
}


#: The SIMD levels the ``simd_level`` fixture runs tests under: every level of the
#: compiled engine this machine runs (none without it); with the twin as the
#: default engine (CI's second run of the suite) only the level in use, since
#: the first run covers the compiled engine at every level.
if _core is None:
    SIMD_LEVELS: tuple[str, ...] = ()
elif bp.default_engine() == "cython":
    SIMD_LEVELS = tuple(_core.simd_levels())
else:
    SIMD_LEVELS = (_core.simd_level(),)


def pytest_report_header(config):
    built = "built" if _core is not None else "NOT built: its tests are skipped"
    header = f"backprop default engine: {bp.default_engine()}; compiled engine {built}"
    if _core is not None:
        header += (
            f"; SIMD level {_core.simd_level()} (tests run under each of: "
            f"{', '.join(SIMD_LEVELS)}; built: {', '.join(_core.built_simd_levels())})"
        )
    return header


@pytest.fixture(params=SIMD_LEVELS or [None], ids=[f"simd-{x}" for x in SIMD_LEVELS] or ["-"])
def simd_level(request):
    """Run the test under each SIMD level of the compiled engine this machine runs
    (``_core.use_simd``), the level in use restored after; ``None`` without the
    compiled engine."""
    if request.param is None:
        yield None
        return
    previous = _core.use_simd(request.param)
    try:
        yield request.param
    finally:
        _core.use_simd(previous)


@pytest.fixture(scope="session")
def core():
    """The compiled engine's module ``backprop._core``; skips the test where it is
    not built."""
    if _core is None:
        pytest.skip("the compiled engine backprop._core is not built")
    return _core


@pytest.fixture(params=bp.ENGINES)
def engine(request) -> str:
    """Each engine by name (the compiled one skipped where it is not built)."""
    if request.param == "cython":
        request.getfixturevalue("core")
    return request.param


@pytest.fixture(scope="session")
def assert_engines_agree():
    """``assert_engines_agree(compiled, twin, what="")``: float64 results of the two
    engines within ``ENGINE_RTOL`` / ``ENGINE_ATOL``."""

    def check(actual, desired, what: str = "") -> None:
        np.testing.assert_allclose(
            np.asarray(actual, dtype=np.float64),
            np.asarray(desired, dtype=np.float64),
            rtol=ENGINE_RTOL,
            atol=ENGINE_ATOL,
            err_msg=what,
        )

    return check


#: ``BACKPROP_TEST_ENGINES=cython`` (or ``python``): run the tests that take the
#: ``engine`` fixture for that engine only.  CI's runs of the suite other than
#: the first cover one engine each (the twin as the default engine; the debug and
#: sanitizer builds of the compiled one), and a test's other engine variant there
#: repeats the first run exactly: it names its engine, and the code it runs on
#: the default engine is the same as in its variant for the run's engine.
TEST_ENGINES = [e for e in os.environ.get("BACKPROP_TEST_ENGINES", "").split(",") if e]


def pytest_collection_modifyitems(config, items):
    """Leave out the combinations of ``sizes`` and ``net_options`` that make no
    network (a softmax output layer of one unit is refused: its output is
    always 1), and the engines ``BACKPROP_TEST_ENGINES`` does not name."""
    kept, left = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        sizes, options = params.get("sizes"), params.get("net_options")
        if (isinstance(sizes, tuple) and isinstance(options, dict)
                and options.get("output_activation") == "softmax" and sizes[-1] < 2):  # fmt: skip
            left.append(item)
        elif TEST_ENGINES and params.get("engine", TEST_ENGINES[0]) not in TEST_ENGINES:
            left.append(item)
        else:
            kept.append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


@pytest.fixture(params=SIZES, ids=["-".join(map(str, s)) for s in SIZES])
def sizes(request) -> tuple:
    """Layer sizes of a random network (see ``SIZES``)."""
    return request.param


@pytest.fixture(scope="session")
def trace_layer_fields() -> tuple:
    """Names of the ``Trace`` fields that hold one array per weight layer."""
    return TRACE_LAYER_FIELDS


@pytest.fixture(params=list(NET_OPTIONS.values()), ids=list(NET_OPTIONS))
def net_options(request) -> dict:
    """Keyword arguments of ``bp.Network``: activations and loss."""
    return dict(request.param)


@pytest.fixture(params=bp.BIAS_MODES)
def bias_mode(request) -> str:
    return request.param


def _make_data(n_in: int, n_out: int, n_samples: int, options: dict, seed: int):
    """Random inputs in [-1, 1] and targets that suit the output layer and loss.

    Softmax outputs get probability rows (summing to 1), logistic outputs values
    in (0, 1), tanh outputs values in (-1, 1), other outputs any real.
    """
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, n_in))
    output = options.get("output_activation") or options.get("activation", "logistic")
    if output == "softmax":
        T = rng.uniform(0.05, 1.0, size=(n_samples, n_out))
        T /= T.sum(axis=1, keepdims=True)
    elif output == "logistic":
        T = rng.uniform(0.05, 0.95, size=(n_samples, n_out))
    else:
        T = rng.uniform(-0.9, 0.9, size=(n_samples, n_out))
    return X, T


@pytest.fixture
def make_data():
    """``make_data(n_in, n_out, n_samples, options, seed) -> (X, T)``."""
    return _make_data

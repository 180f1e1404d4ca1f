"""The compiled engine and its pure-Python twin compute the same numbers.

Every test here names both engines explicitly, so it means the same under
``BACKPROP_ENGINE=python``.  Agreement is to ``ENGINE_RTOL`` = 1e-12 relative
(``assert_engines_agree``, tests/conftest.py): the engines do the same operations
in the same order except that the compiled ``dot`` splits rows of 16 or more
inputs into eight partial sums, which changes the last bits only.  Tests that
need the compiled engine skip where it is not built (the ``core`` and ``engine``
fixtures).
"""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp

#: Every test runs under each SIMD level of the compiled engine (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("simd_level")


@pytest.fixture
def twins(core, sizes, bias_mode, net_options):
    """The same random network under each engine: ``{"cython": net, "python": net}``."""
    nets = {
        engine: bp.Network(sizes, seed=sum(sizes), bias=bias_mode, engine=engine, **net_options)
        for engine in bp.ENGINES
    }
    assert np.array_equal(nets["cython"].params, nets["python"].params)
    return nets


@pytest.fixture
def data(sizes, net_options, make_data):
    return make_data(sizes[0], sizes[-1], 4, net_options, seed=len(sizes))


def test_forward(twins, data, assert_engines_agree):
    X, _ = data
    assert_engines_agree(twins["cython"].forward(X), twins["python"].forward(X))


def test_total_error(twins, data, assert_engines_agree):
    X, T = data
    assert_engines_agree(twins["cython"].total_error(X, T), twins["python"].total_error(X, T))


@pytest.mark.usefixtures("core")
@pytest.mark.parametrize("update", bp.UPDATES)
@pytest.mark.parametrize("train_bias", [True, False], ids=["train_bias", "fixed_bias"])
def test_train(sizes, bias_mode, net_options, data, train_bias, update, assert_engines_agree):
    """History and final weights of a few epochs of online training."""
    X, T = data
    results = {}
    for engine in bp.ENGINES:
        net = bp.Network(
            sizes, seed=7, bias=bias_mode, train_bias=train_bias, engine=engine, **net_options
        )
        history = net.train(X, T, epochs=3, learning_rate=0.1, update=update)
        results[engine] = history, net.params
    assert_engines_agree(results["cython"][0], results["python"][0], "history")
    assert_engines_agree(results["cython"][1], results["python"][1], "params")


@pytest.mark.usefixtures("core")
@pytest.mark.parametrize("update", bp.UPDATES)
@pytest.mark.parametrize("train_bias", [True, False], ids=["train_bias", "fixed_bias"])
def test_trace(
    sizes,
    bias_mode,
    net_options,
    data,
    train_bias,
    update,
    trace_layer_fields,
    assert_engines_agree,
):
    """Every field of the trace of one step."""
    X, T = data
    traces = {
        engine: bp.Network(
            sizes, seed=11, bias=bias_mode, train_bias=train_bias, engine=engine, **net_options
        ).trace(X[0], T[0], 0.3, update)
        for engine in bp.ENGINES
    }
    fast, slow = traces["cython"], traces["python"]
    n_layers = len(sizes) - 1
    for field in trace_layer_fields:
        assert len(getattr(fast, field)) == len(getattr(slow, field)) == n_layers, field
        for layer in range(n_layers):
            a, b = getattr(fast, field)[layer], getattr(slow, field)[layer]
            assert np.shape(a) == np.shape(b), (field, layer)
            assert_engines_agree(a, b, f"{field}[{layer}]")
    assert_engines_agree(fast.errors, slow.errors, "errors")
    assert_engines_agree(fast.total_error, slow.total_error, "total_error")
    assert (fast.update, fast.learning_rate) == (slow.update, slow.learning_rate) == (update, 0.3)
    np.testing.assert_array_equal(fast.inputs, slow.inputs)
    np.testing.assert_array_equal(fast.targets, slow.targets)


# ---------------------------------------------------------------- engine codes
# The engines' codes, hyper-vector order and layout are tied to ``backprop._spec``
# by tests/test_spec.py.


# ---------------------------------------------------------------- selection
def test_explicit_engine(engine):
    assert bp.Network([2, 2], engine=engine).engine == engine
    assert bp.Network.tutorial(engine=engine).engine == engine


@pytest.mark.parametrize(
    "value, expected",
    [
        ("python", "python"),
        ("cython", "cython"),
        ("  Python ", "python"),
        ("CYTHON", "cython"),
    ],
)
def test_environment_variable_chooses_the_default(request, monkeypatch, value, expected):
    if expected == "cython":
        request.getfixturevalue("core")
    monkeypatch.setenv("BACKPROP_ENGINE", value)
    assert bp.default_engine() == expected
    assert bp.Network([2, 2]).engine == expected
    assert bp.Network.tutorial().engine == expected


@pytest.mark.parametrize("value", ["", "   "])
def test_unset_environment_variable_means_cython(monkeypatch, core, value):
    monkeypatch.setenv("BACKPROP_ENGINE", value)
    assert bp.default_engine() == "cython"
    monkeypatch.delenv("BACKPROP_ENGINE")
    assert bp.default_engine() == "cython"


def test_explicit_engine_beats_the_environment(monkeypatch, core):
    monkeypatch.setenv("BACKPROP_ENGINE", "python")
    assert bp.Network([2, 2], engine="cython").engine == "cython"


@pytest.mark.parametrize("value", ["numba", "c", "pyth0n"])
def test_bad_environment_variable(monkeypatch, value):
    monkeypatch.setenv("BACKPROP_ENGINE", value)
    with pytest.raises(ValueError, match="BACKPROP_ENGINE"):
        bp.default_engine()
    with pytest.raises(ValueError, match="BACKPROP_ENGINE"):
        bp.Network([2, 2])
    assert bp.Network([2, 2], engine="python").engine == "python"


# ------------------------------------------------------------ extreme values
# Saturated units and huge errors are ordinary floating-point results (0, 1, inf),
# not exceptions: both engines must give them.  Each case names its expected value,
# derived by hand in the comment.
def _logistic_saturates_to_zero(engine):
    # net = 1 * -1000: 1 / (1 + e^1000) is 0.0 in doubles
    assert (
        bp.Network([1, 1], weights=[[[1.0]]], bias="none", engine=engine).forward([-1000.0])[0]
        == 0.0
    )


def _huge_linear_error_is_refused(engine):
    # 0.5 * (0 - 1e200)^2 = 5e399 overflows to inf: an error, not a silent inf
    net = bp.Network([1, 1], weights=[[[1e200]]], bias="none", activation="linear", engine=engine)
    assert net.forward([1.0])[0] == 1e200
    with pytest.raises(bp.NonFiniteError, match="NaN or infinity in the error of sample 1"):
        net.total_error([[1e-150], [1.0]], [[0.0], [0.0]])


def _saturated_softmax_cross_entropy(engine):
    # nets +400 and -400, target class 1: loss = lse - net_1 = 400 - (-400) = 800
    net = bp.Network(
        [1, 2],
        weights=[[[400.0], [-400.0]]],
        bias="none",
        activation="softmax",
        loss="cross_entropy",
        engine=engine,
    )
    assert net.total_error([1.0], [0.0, 1.0]) == 800.0
    history = net.train([1.0], [0.0, 1.0], epochs=1, learning_rate=0.5)
    assert history[0] == 800.0
    # delta = o - t = (1, -1) exactly: each weight moves by 0.5 * 1 * x = 0.5 towards 0
    np.testing.assert_array_equal(net.weights[0], [[399.5], [-399.5]])


def _saturated_logistic_cross_entropy(engine):
    # net = 50, target 1: loss = log1p(exp(-50)); logistic(50) == 1.0 in doubles
    net = bp.Network([1, 1], weights=[[[50.0]]], bias="none", loss="cross_entropy", engine=engine)
    assert net.forward([1.0])[0] == 1.0
    np.testing.assert_allclose(
        net.train([1.0], [1.0], epochs=1)[0], np.log1p(np.exp(-50.0)), rtol=1e-15
    )


EXTREMES = [
    _logistic_saturates_to_zero,
    _huge_linear_error_is_refused,
    _saturated_softmax_cross_entropy,
    _saturated_logistic_cross_entropy,
]


@pytest.mark.parametrize("check", EXTREMES, ids=[f.__name__.strip("_") for f in EXTREMES])
def test_extreme_values(check, engine):
    check(engine)

"""Property-based tests of the contract (hypothesis): every call either raises
``ValueError``, ``TypeError`` or ``FloatingPointError`` with the network exactly
as it was, or succeeds with finite weights, the two engines agreeing.

The strategies mix ordinary values with the hostile ones found by fuzzing: huge
and tiny numbers, NaN, infinity, wrong shapes and types, impossible options.
Example counts are bounded so that the file runs in well under a minute.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import backprop as bp  # noqa: E402

#: The same 300 examples every run (derandomized: CI is not flaky); set
#: ``BACKPROP_EXAMPLES=5000`` to explore that many random ones instead.
_EXPLORE = int(os.environ.get("BACKPROP_EXAMPLES", "0"))
EXAMPLES = settings(
    max_examples=_EXPLORE or 300,
    derandomize=not _EXPLORE,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: The exceptions a call may raise; anything else (or a crash) is a bug.
CONTRACT = (ValueError, TypeError, FloatingPointError)


def _has_core() -> bool:
    try:
        from backprop import _core  # noqa: F401
    except ImportError:
        return False
    return True


#: Both engines where the compiled one is built: each example compares them.
ENGINES = ["cython", "python"] if _has_core() else ["python"]


#: Values found hostile by fuzzing: tiny, huge, NaN, infinite.
HOSTILE = [0.0, 1e-300, -1e-300, 1e200, -1e200, 1e308, np.nan, np.inf, -np.inf]


@st.composite
def networks(draw):
    """Options of a small network: sizes, activations, loss, bias, weights."""
    sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    hidden = draw(st.sampled_from(bp.ACTIVATIONS[:-1]))  # softmax: output only
    # (softmax: output only, and of two units or more)
    output = draw(st.sampled_from(bp.ACTIVATIONS if sizes[-1] > 1 else bp.ACTIVATIONS[:-1]))
    losses = ["half_sse", "mse"] + (["cross_entropy"] if output in ("logistic", "softmax") else [])
    options = dict(
        activation=hidden,
        output_activation=output,
        loss=draw(st.sampled_from(losses)),
        bias=draw(st.sampled_from(bp.BIAS_MODES)),
    )
    scale = draw(st.sampled_from([0.1, 1.0, 10.0, 1e100]))
    seed = draw(st.integers(0, 2**16))
    return sizes, options, scale, seed


def build(spec, engine):
    sizes, options, scale, seed = spec
    start = bp.Network(sizes, seed=seed, **options)
    weights = [w * scale for w in start.weights]
    biases = None if options["bias"] == "none" else [b[:1] if options["bias"] == "shared" else b
                                                    for b in start.biases]  # fmt: skip
    return bp.Network(sizes, weights=weights, biases=biases, engine=engine, **options)


@st.composite
def data(draw, n_in, n_out):
    """Data of the right shape mostly; sometimes one hostile value, a wrong shape,
    a list, one sample as a 1-D array."""
    n = draw(st.integers(1, 4))
    size = n * (n_in + n_out)
    flat = np.array(draw(st.lists(st.floats(-2.0, 2.0), min_size=size, max_size=size)))
    if draw(st.integers(0, 3)) == 0:
        flat[draw(st.integers(0, flat.size - 1))] = draw(st.sampled_from(HOSTILE))
    X, T = flat[: n * n_in].reshape(n, n_in), flat[n * n_in :].reshape(n, n_out)
    kind = draw(st.sampled_from(["array", "array", "array", "list", "1-D", "wrong"]))
    if kind == "list":
        return X.tolist(), T.tolist()
    if kind == "1-D":
        return X[0], T[0]
    if kind == "wrong":
        return X[:, :0] if n_in > 1 else X.T.tolist() + [[1.0]], T
    return X, T


VALID_OPTIONS = {
    "epochs": st.sampled_from([0, 1, 2, 3]),
    "learning_rate": st.sampled_from([0.5, 1e-3, 2.0]),
    "batch_size": st.sampled_from([None, 1, 2]),
    "optimizer": st.sampled_from(["sgd", "momentum", "nesterov", "adam", "rprop"]),
    "shuffle": st.booleans(),
    "record_every": st.sampled_from([1, 2]),
}
HOSTILE_OPTIONS = {
    "epochs": st.sampled_from([-1, 2.5, True, 2**63, 10**13, "3"]),
    "learning_rate": st.sampled_from([1e300, 1e-320, 0.0, -1.0, np.nan, np.inf, "0.5"]),
    "update": st.sampled_from(["simultaneous", "sequential", "both"]),
    "batch_size": st.sampled_from([0, -2, 1.5]),
    "optimizer": st.sampled_from(["lbfgs", None]),
    "seed": st.sampled_from([None, 0, 7, -1]),
    "momentum": st.sampled_from([0.9, 0.0, 1.0, np.nan]),
    "record_every": st.sampled_from([0, -1]),
}
#: Three draws in four take valid options only; the fourth adds a hostile one.
TRAIN_OPTIONS = st.one_of(
    *[st.fixed_dictionaries({}, optional=VALID_OPTIONS)] * 3,
    st.tuples(
        st.fixed_dictionaries({}, optional=VALID_OPTIONS),
        st.fixed_dictionaries({}, optional=HOSTILE_OPTIONS),
    ).map(lambda pair: {**pair[0], **pair[1]}),
)


def snapshot(net):
    return net._params.copy(), net._optimizer, net._shuffle


def assert_unchanged(net, before):
    np.testing.assert_array_equal(net._params, before[0])
    assert net._optimizer is before[1] and net._shuffle is before[2]


def outcome(net, method, *args, **kwargs):
    """(result, None) or (None, exception type); the contract's exceptions leave
    the network as it was."""
    before = snapshot(net)
    try:
        return getattr(net, method)(*args, **kwargs), None
    except CONTRACT as exc:
        assert_unchanged(net, before)
        return None, type(exc)


def agree(results, nets):
    """Both engines raised the same kind of error, or both succeeded with finite,
    agreeing results and weights."""
    kinds = {kind for _, kind in results}
    assert len(kinds) == 1, results
    hypothesis.event("outcome", "success" if kinds == {None} else next(iter(kinds)).__name__)
    if kinds == {None}:
        for net in nets:
            assert np.isfinite(net._params).all()
        if len(nets) == 2:
            a, b = (np.asarray(r if not hasattr(r, "total_error") else r.total_error, float)
                    for r, _ in results)  # fmt: skip
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(nets[0]._params, nets[1]._params, rtol=1e-12, atol=1e-15)


@EXAMPLES
@given(spec=networks(), draw=st.data(), options=TRAIN_OPTIONS)
def test_train_keeps_the_contract(spec, draw, options):
    nets = [build(spec, engine) for engine in ENGINES]
    X, T = draw.draw(data(spec[0][0], spec[0][-1]))
    if options.get("shuffle") is True and options.get("seed") is None:
        options["seed"] = 5  # the same stream for both engines (None: a random one each)
    results = [outcome(net, "train", X, T, **options) for net in nets]
    agree(results, nets)


@EXAMPLES
@given(spec=networks(), draw=st.data(), method=st.sampled_from(["forward", "total_error",
                                                                 "trace", "predict"]))  # fmt: skip
def test_evaluation_keeps_the_contract(spec, draw, method):
    nets = [build(spec, engine) for engine in ENGINES]
    X, T = draw.draw(data(spec[0][0], spec[0][-1]))
    args = (X,) if method in ("forward", "predict") else (X, T)
    results = [outcome(net, method, *args) for net in nets]
    kinds = {kind for _, kind in results}
    assert len(kinds) == 1, results
    hypothesis.event("outcome", "success" if kinds == {None} else next(iter(kinds)).__name__)
    if kinds == {None} and method != "predict":
        for result, _ in results:
            value = result.total_error if method == "trace" else result
            assert np.isfinite(value).all()
        if len(nets) == 2:
            agree(results, nets)

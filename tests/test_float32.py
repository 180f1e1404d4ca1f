"""float32 networks: dtype plumbing, inputs, engine agreement, precision, files.

A float32 network keeps its weights in single precision.  The compiled engine
also computes in single precision; the pure-Python twin computes in double and
rounds the weights to float32 after every update.  The two therefore agree to
float32 round-off, not bit for bit, and every tolerance below is counted in
float32 roundings: ``U32`` = eps / 2 = 2**-24 (about 6e-8) is the largest relative
error of one rounding, ``eps`` = 2**-23 = 1.19e-7.

Tests that compare the engines name both explicitly (so they mean the same under
``BACKPROP_ENGINE=python``) and skip when the compiled engine is not built (the
``core`` fixture of tests/conftest.py); the others follow the default engine, or
take the ``engine`` fixture (both engines by name).
"""

from __future__ import annotations

import fractions
import json
import math
import pickle
import re
from decimal import Decimal

import numpy as np
import pytest

import backprop as bp

#: Every test runs under each SIMD level of the compiled engine (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("simd_level")

EPS32 = float(np.finfo(np.float32).eps)  # 2**-23 = 1.19e-7
U32 = EPS32 / 2  # the largest relative error of one rounding
EPS64 = float(np.finfo(np.float64).eps)
F32_MAX = float(np.finfo(np.float32).max)


def bits(array) -> bytes:
    """The exact bytes of an array, to compare bit for bit (NaN included)."""
    array = np.asarray(array)
    return array.dtype.str.encode() + array.tobytes()


def mentions(message: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", message) is not None


# ------------------------------------------------------------ round-off budgets
def forward_roundings(sizes) -> int:
    """float32 roundings on the longest path of one forward pass.

    A unit's net input sums n_in products and a bias (at most n_in + 1
    roundings, each relative to O(1) terms: inputs in [-1, 1], weights in
    [-0.5, 0.5)); its activation adds at most 3 (exp or tanh, good to one ulp,
    an add and a divide).
    """
    return sum(n_in + 4 for n_in in sizes[:-1])


def step_roundings(sizes) -> int:
    """float32 roundings on the longest path of one training step on one sample:
    the forward pass, then each delta (a sum over the n_out units above, times a
    slope: n_out + 2) and its gradient product."""
    return sum(n_in + n_out + 6 for n_in, n_out in zip(sizes, sizes[1:]))


def one_step_tol(sizes) -> float:
    return step_roundings(sizes) * U32


def training_tol(sizes, updates: int, step: float) -> float:
    """Round-off budget of ``updates`` updates and a final forward pass.

    Each update rounds every stored weight once (U32 relative, the weights being
    O(1)) and adds at most ``step`` (the largest update factor: the learning
    rate, the momentum-summed rate, or rprop's largest step) times a gradient of
    size <= 1 that carries ``step_roundings`` roundings.  Differences already in
    the weights carry over unamplified: the learning rates are small, so an
    update's Jacobian is close to the identity.
    """
    per_step = step_roundings(sizes)
    return (updates * (1.0 + step * per_step) + per_step) * U32


def assert_f32_close(actual, desired, tol: float, what: str = "") -> None:
    """``actual`` within ``tol`` of ``desired``: relative for values above 1 and
    absolute below, since float32 round-off is relative to the O(1) magnitudes
    the quantities are computed from."""
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64),
        np.asarray(desired, dtype=np.float64),
        rtol=tol,
        atol=tol,
        err_msg=what,
    )


# ------------------------------------------------------------ 1. dtype plumbing
def _plumbing_params():
    for dtype in (np.float64, np.float32):
        for bias in bp.BIAS_MODES:
            yield pytest.param(dtype, bias, id=f"{np.dtype(dtype).name}-{bias}")


@pytest.mark.parametrize("dtype, bias", list(_plumbing_params()))
def test_weights_and_biases_have_the_network_dtype(engine, dtype, bias):
    net = bp.Network([3, 4, 2], seed=1, bias=bias, dtype=dtype, engine=engine)
    assert net.dtype == np.dtype(dtype)
    assert net.params.dtype == np.dtype(dtype)
    assert [w.dtype for w in net.weights] == [np.dtype(dtype)] * 2
    assert [b.dtype for b in net.biases] == [np.dtype(dtype)] * 2


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_computed_values_have_the_network_dtype(engine, dtype, trace_layer_fields):
    net = bp.Network([3, 4, 2], seed=1, dtype=dtype, engine=engine)
    x, t = [0.1, -0.2, 0.3], [0.2, 0.7]
    assert net.forward(x).dtype == np.dtype(dtype) and net.forward(x).shape == (2,)
    assert net.forward([x, x]).dtype == np.dtype(dtype)
    assert type(net.total_error(x, t)) is float
    trace = net.trace(x, t)
    for name in trace_layer_fields:
        assert [a.dtype for a in getattr(trace, name)] == [np.dtype(dtype)] * 2, name
    for name in ("inputs", "targets", "errors"):
        assert getattr(trace, name).dtype == np.dtype(dtype), name
    assert type(trace.total_error) is float and type(trace.learning_rate) is float
    history = net.train([x, x], [t, t], epochs=3)
    assert history.dtype == np.float64 and history.shape == (3,)


def test_float64_is_the_default():
    assert bp.Network([2, 2], seed=0).dtype == np.float64
    assert bp.Network([2, 2], seed=0).params.dtype == np.float64


@pytest.mark.parametrize(
    "spelling",
    [np.float32, "float32", np.dtype("float32"), "f4"],
    ids=["type", "name", "dtype", "code"],
)
def test_float32_spellings(spelling):
    net = bp.Network([2, 2], seed=0, dtype=spelling)
    assert net.dtype == np.dtype(np.float32)
    assert net.params.dtype == np.float32


@pytest.mark.parametrize(
    "dtype",
    [np.int32, np.float16, "complex128", "nonsense", object()],
    ids=["int32", "float16", "complex128", "nonsense", "object"],
)
def test_bad_dtype_is_refused(dtype):
    with pytest.raises((TypeError, ValueError)) as info:
        bp.Network([2, 2], seed=0, dtype=dtype)
    assert mentions(str(info.value), "dtype")


# ------------------------------------------------------------ 2. inputs
def test_data_of_any_type_is_converted_to_float32(engine):
    """Lists, ints and float64 give bitwise the results of their float32 rounding
    (0.1 is not a float32: a float64 0.1 must be rounded, not kept)."""
    X = [[0.1, -0.7, 1.0], [0.3, 0.2, -0.9]]
    T = [[0.2, 0.8], [0.6, 0.1]]
    X32, T32 = np.array(X, dtype=np.float32), np.array(T, dtype=np.float32)
    Xi, Ti = [[1, 0, -1], [0, 1, 1]], [[1, 0], [0, 1]]
    base = bp.Network([3, 4, 2], seed=3, dtype=np.float32, engine=engine)
    cases = [
        (X, T, X32, T32),
        (np.array(X), np.array(T), X32, T32),
        (Xi, Ti, np.array(Xi, np.float32), np.array(Ti, np.float32)),
    ]
    for given_x, given_t, x32, t32 in cases:
        out = base.forward(given_x)
        assert out.dtype == np.float32
        assert bits(out) == bits(base.forward(x32))
        assert base.total_error(given_x, given_t) == base.total_error(x32, t32)
        nets = base.copy(), base.copy()
        histories = nets[0].train(given_x, given_t, epochs=2), nets[1].train(x32, t32, epochs=2)
        assert bits(histories[0]) == bits(histories[1])
        assert bits(nets[0].params) == bits(nets[1].params)


def _overflowing_calls():
    """(argument name, call) pairs with one value beyond float32's range."""
    ok_x, ok_t = [[0.5, 0.5]], [[0.5, 0.5]]
    big_x, big_t = [[1e39, 0.5]], [[0.5, 1e39]]
    return {
        "forward": ("x", lambda n: n.forward(big_x[0])),
        "total_error-X": ("X", lambda n: n.total_error(big_x, ok_t)),
        "total_error-T": ("T", lambda n: n.total_error(ok_x, big_t)),
        "trace-x": ("x", lambda n: n.trace(big_x[0], ok_t[0])),
        "trace-t": ("t", lambda n: n.trace(ok_x[0], big_t[0])),
        "train-X-list": ("X", lambda n: n.train(big_x, ok_t)),
        "train-T-float64": ("T", lambda n: n.train(np.array(ok_x), np.array(big_t))),
        "train-X-1d-float64": ("X", lambda n: n.train(np.array(big_x[0]), np.array(ok_t[0]))),
        "train-X-float32-inf": (
            "X",
            lambda n: n.train(np.array([[np.inf, 0.5]], np.float32), np.array(ok_t, np.float32)),
        ),
        "train-T-float32-nan": (
            "T",
            lambda n: n.train(np.array(ok_x[0], np.float32), np.array([np.nan, 0.5], np.float32)),
        ),
        "validation": ("validation X", lambda n: n.train(ok_x, ok_t, validation=(big_x, ok_t))),
    }


OVERFLOWING = _overflowing_calls()


@pytest.mark.parametrize("name, call", list(OVERFLOWING.values()), ids=list(OVERFLOWING))
def test_values_beyond_float32_are_refused(engine, name, call):
    net = bp.Network([2, 3, 2], seed=4, dtype=np.float32, engine=engine)
    before = bits(net.params)
    with pytest.raises(ValueError) as info:
        call(net)
    assert mentions(str(info.value), name), str(info.value)
    assert bits(net.params) == before


@pytest.mark.parametrize("which", ["weights", "biases"])
def test_explicit_weights_beyond_float32_are_refused(which):
    weights = [[[1e39 if which == "weights" else 1.0, 0.5]]]
    biases = [[1e39 if which == "biases" else 0.25]]
    with pytest.raises(ValueError) as info:
        bp.Network([2, 1], weights=weights, biases=biases, dtype=np.float32)
    assert mentions(str(info.value), which)


def test_largest_float32_weight_is_accepted_exactly():
    net = bp.Network([1, 1], weights=[[[F32_MAX]]], bias="none", dtype=np.float32)
    assert net.weights[0][0, 0] == np.float32(F32_MAX)


def test_explicit_weights_are_rounded_to_nearest_float32(engine):
    net = bp.Network(
        [2, 2],
        weights=[[[0.1, 0.2], [1 / 3, -0.7]]],
        biases=[[0.35, 1e-40]],
        dtype=np.float32,
        engine=engine,
    )
    assert bits(net.weights[0]) == bits(np.array([[0.1, 0.2], [1 / 3, -0.7]], np.float32))
    assert bits(net.biases[0]) == bits(np.array([0.35, 1e-40], np.float32))


# ------------------------------------------------------------ 3. engine agreement
# (``sizes``: the layer sizes of tests/conftest.py's SIZES)
N_SAMPLES, EPOCHS = 6, 3


def twin_networks(sizes, seed=None, **options):
    """The same float32 network under each engine."""
    nets = {
        e: bp.Network(
            sizes, seed=sum(sizes) if seed is None else seed, dtype=np.float32, engine=e, **options
        )
        for e in bp.ENGINES
    }
    assert bits(nets["cython"].params) == bits(nets["python"].params)
    return nets


@pytest.mark.usefixtures("core")
def test_engines_agree_on_one_step(sizes, bias_mode, net_options, make_data, trace_layer_fields):
    """forward, total_error and every trace field, to one step's round-off."""
    X, T = make_data(sizes[0], sizes[-1], 4, net_options, seed=len(sizes))
    nets = twin_networks(sizes, bias=bias_mode, **net_options)
    fast, slow = nets["cython"], nets["python"]
    assert_f32_close(fast.forward(X), slow.forward(X), forward_roundings(sizes) * U32, "forward")
    tol = one_step_tol(sizes)
    # the error: the forward pass, then 3 roundings (difference, square or log, sum)
    assert_f32_close(fast.total_error(X, T), slow.total_error(X, T), tol, "total_error")
    a, b = fast.trace(X[0], T[0], 0.3), slow.trace(X[0], T[0], 0.3)
    assert bits(a.inputs) == bits(b.inputs) and bits(a.targets) == bits(b.targets)
    assert (a.learning_rate, a.update) == (b.learning_rate, b.update) == (0.3, "simultaneous")
    for name in trace_layer_fields:
        for layer, (x, y) in enumerate(zip(getattr(a, name), getattr(b, name), strict=True)):
            assert x.shape == y.shape, name
            assert_f32_close(x, y, tol, f"{name}[{layer}]")
    assert_f32_close(a.errors, b.errors, tol, "errors")
    assert_f32_close(a.total_error, b.total_error, tol, "trace.total_error")


#: Networks for the training comparisons: every activation, loss and bias mode.
#: No softmax output with a shared bias: its gradient is zero in exact arithmetic
#: (softmax ignores a shift), so adam and rprop would step by the sign of
#: round-off noise, which the engines legitimately differ on.
TRAIN_NETS = {
    "3-5-2 logistic/half_sse per-neuron": ((3, 5, 2), dict(activation="logistic"), "per-neuron"),
    "4-7-6-3 tanh>softmax/cross_entropy per-neuron": (
        (4, 7, 6, 3),
        dict(activation="tanh", output_activation="softmax", loss="cross_entropy"),
        "per-neuron",
    ),
    "10-16-8-4-3 leaky_relu>tanh/mse shared": (
        (10, 16, 8, 4, 3),
        dict(activation="leaky_relu", output_activation="tanh", loss="mse"),
        "shared",
    ),
    "2-3-2 relu>linear/half_sse none": (
        (2, 3, 2),
        dict(activation="relu", output_activation="linear"),
        "none",
    ),
    "3-4-1 tanh>logistic/cross_entropy shared": (
        (3, 4, 1),
        dict(activation="tanh", output_activation="logistic", loss="cross_entropy"),
        "shared",
    ),
    "2-4-3 linear>softmax/half_sse none": (
        (2, 4, 3),
        dict(activation="linear", output_activation="softmax"),
        "none",
    ),
}

#: (train options, learning rate, largest update factor for ``training_tol``).
TRAINING = {
    "online": (dict(), 0.1, 0.1),
    "online-sequential": (dict(update="sequential"), 0.1, 0.1),
    "batch-3": (dict(batch_size=3), 0.1, 0.1),
    "full-batch": (dict(batch_size=None), 0.2, 0.2),
    # the velocity sums past gradients: at most lr * (1 + 0.9 + 0.9**2 + ...) < 10 lr
    "momentum-batch-3": (dict(optimizer="momentum", batch_size=3), 0.05, 0.5),
    # adam's step lr * m / sqrt(v) is at most about lr per weight
    "adam-batch-3": (dict(optimizer="adam", batch_size=3), 0.01, 0.01),
    # rprop's steps start at 0.1 and grow by 1.2 per agreeing update (3 here)
    "rprop-full-batch": (dict(optimizer="rprop", batch_size=None), 0.1, 0.1 * 1.2**3),
    "shuffled-online": (dict(shuffle=True, seed=5), 0.1, 0.1),
    "shuffled-batch-3-momentum": (
        dict(shuffle=True, seed=9, batch_size=3, optimizer="momentum"),
        0.05,
        0.5,
    ),
}


def _updates(options) -> int:
    batch = options.get("batch_size", 1) or N_SAMPLES
    return EPOCHS * math.ceil(N_SAMPLES / batch)


@pytest.mark.usefixtures("core")
@pytest.mark.parametrize("net_case", list(TRAIN_NETS.values()), ids=list(TRAIN_NETS))
@pytest.mark.parametrize("training", list(TRAINING.values()), ids=list(TRAINING))
def test_engines_agree_on_training(net_case, training, make_data):
    sizes, options, bias = net_case
    train_options, lr, step = training
    X, T = make_data(sizes[0], sizes[-1], N_SAMPLES, options, seed=sum(sizes))
    results = {}
    for name, net in twin_networks(sizes, seed=11, bias=bias, **options).items():
        history = net.train(X, T, epochs=EPOCHS, learning_rate=lr, **train_options)
        assert history.dtype == np.float64 and history.shape == (EPOCHS,)
        assert net.params.dtype == np.float32
        results[name] = history, net.params
    tol = training_tol(sizes, _updates(train_options), step)
    assert_f32_close(results["cython"][0], results["python"][0], tol, "history")
    assert_f32_close(results["cython"][1], results["python"][1], tol, "params")


# ------------------------------------------------------------ 4. float32 vs float64
def test_float32_tracks_float64_on_a_well_conditioned_problem(make_data):
    """Same starting weights (float32 values, exact in float64), same data.

    tanh hidden units and logistic outputs with lr = 0.1: every slope is <= 1
    and an update's Jacobian is close to the identity, so round-off is not
    amplified and the budget of ``training_tol`` holds: 3 epochs of 4 samples
    (12 updates) on a 3-5-2 network, (12 * (1 + 0.1 * 27) + 27) * eps / 2 = 4.2e-6.
    """
    sizes, options = (3, 5, 2), dict(activation="tanh", output_activation="logistic")
    X, T = make_data(3, 2, 4, options, seed=2)
    single = bp.Network(sizes, seed=6, dtype=np.float32, **options)
    double = bp.Network(sizes, weights=single.weights, biases=single.biases, **options)
    assert double.dtype == np.float64
    np.testing.assert_array_equal(double.params, single.params)
    assert_f32_close(
        single.forward(X), double.forward(X), forward_roundings(sizes) * U32, "forward"
    )
    histories = [net.train(X, T, epochs=3, learning_rate=0.1) for net in (single, double)]
    tol = training_tol(sizes, 12, 0.1)
    assert tol < 1e-5
    assert_f32_close(histories[0], histories[1], tol, "history")
    assert_f32_close(single.params, double.params, tol, "params")
    # ... and the float32 run is not secretly a float64 run
    assert not np.array_equal(single.params, double.params)


def test_updates_below_half_an_ulp_are_lost_in_float32(engine):
    """w = 1, x = 2**-12, t = 0, lr = 1/4: each update subtracts exactly 2**-26,
    under half the float32 spacing below 1 (2**-24 / 2), so a float32 weight stays
    exactly 1 (rounded after every update, as float32 arithmetic would), while a
    float64 weight moves down by about 2**-26 per epoch."""
    x, t = np.float32(2.0**-12), np.float32(0.0)
    epochs = 64
    nets = {
        dtype: bp.Network(
            [1, 1], weights=[[[1.0]]], bias="none", activation="linear", dtype=dtype, engine=engine
        )
        for dtype in (np.float32, np.float64)
    }
    histories = {
        dtype: net.train([[x]], [[t]], epochs=epochs, learning_rate=0.25)
        for dtype, net in nets.items()
    }
    assert nets[np.float32].params[0] == np.float32(1.0)
    # every epoch's error is 1/2 (2**-12)**2 = 2**-25 exactly
    np.testing.assert_array_equal(histories[np.float32], np.full(epochs, 2.0**-25))
    # float64: w_e = (1 - 2**-26)**e, so after 64 epochs 1 - 64 * 2**-26 to O(2**-40)
    np.testing.assert_allclose(
        nets[np.float64].params[0], 1.0 - epochs * 2.0**-26, rtol=0, atol=2.0**-40
    )


#: The seed's figures, typed in as it prints them, with the float32 roundings
#: that can reach each one (see test_tutorial_in_float32).  One figure is the
#: correctly rounded value: the seed prints dE_o2/dout_h1 as -0.019049119 from a
#: rounded intermediate; exactly, delta_o2 * w7 = -0.0190491183 (test_tutorial.py).
TUTORIAL_FIGURES = {
    # name: (trace field, layer, index, as printed, roundings)
    "net_h1": ("net_inputs", 0, (0,), "0.3775", 10),
    "out_h1": ("outputs", 0, (0,), "0.593269992", 10),
    "out_h2": ("outputs", 0, (1,), "0.596884378", 10),
    "dout_h1/dnet_h1": ("d_output_d_net", 0, (0,), "0.241300709", 20),
    "net_o1": ("net_inputs", 1, (0,), "1.105905967", 20),
    "out_o1": ("outputs", 1, (0,), "0.75136507", 20),
    "out_o2": ("outputs", 1, (1,), "0.772928465", 20),
    "dE/dout_o1": ("d_error_d_output", 1, (0,), "0.74136507", 20),
    "dout_o1/dnet_o1": ("d_output_d_net", 1, (0,), "0.186815602", 60),
    "E_o1": ("errors", None, (0,), "0.274811083", 40),
    "E_o2": ("errors", None, (1,), "0.023560026", 160),
    "dE_o1/dnet_o1": ("deltas", 1, (0,), "0.138498562", 90),
    "dE/dw5": ("weight_gradients", 1, (0, 0), "0.082167041", 90),
    "dE_o1/dout_h1": ("contributions", 1, (0, 0), "0.055399425", 90),
    "dE_o2/dout_h1": ("contributions", 1, (1, 0), "-0.019049118", 160),
    "dE/dout_h1": ("d_error_d_output", 0, (0,), "0.036350306", 320),
    "dE/dw1": ("weight_gradients", 0, (0, 0), "0.000438568", 360),
    "w5+": ("new_weights", 1, (0, 0), "0.35891648", 20),
    "w6+": ("new_weights", 1, (0, 1), "0.408666186", 20),
    "w7+": ("new_weights", 1, (1, 0), "0.511301270", 20),
    "w8+": ("new_weights", 1, (1, 1), "0.561370121", 20),
    "w1+": ("new_weights", 0, (0, 0), "0.149780716", 20),
    "w2+": ("new_weights", 0, (0, 1), "0.19956143", 20),
    "w3+": ("new_weights", 0, (1, 0), "0.24975114", 20),
    "w4+": ("new_weights", 0, (1, 1), "0.29950229", 20),
}


@pytest.fixture(scope="module")
def tutorial_trace_f32():
    """The seed's 2-2-2 network in float32 (default engine), traced on its sample."""
    net = bp.Network(
        [2, 2, 2],
        weights=[[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]],
        biases=[0.35, 0.60],
        bias="shared",
        train_bias=False,
        dtype=np.float32,
    )
    assert bits(net.weights[1]) == bits(np.array([[0.40, 0.45], [0.50, 0.55]], np.float32))
    return net.trace([0.05, 0.10], [0.01, 0.99], learning_rate=0.5)


@pytest.mark.parametrize(
    "field, layer, index, printed, roundings",
    list(TUTORIAL_FIGURES.values()),
    ids=list(TUTORIAL_FIGURES),
)
def test_tutorial_in_float32(tutorial_trace_f32, field, layer, index, printed, roundings):
    """Each figure to half a unit of its last printed digit plus its float32 budget.

    ``roundings`` counts the float32 roundings (U32 relative each) that reach the
    figure: 10 for the hidden layer (the inputs, w1..w4 and b1 rounded to float32,
    two products and two sums, then the logistic's three, damped by its slope
    0.24), 20 once the output layer's net input and logistic are added, and more
    where a subtraction magnifies relative error: 1 - out_o1 by 0.75 / 0.25 = 3
    (60), out_o1 - t1 and the delta's products (90), out_o2 - t2 by 0.77 / 0.22
    (< 4) doubled by the square or the slope (160), dE/dout_h1's sum of terms of
    opposite sign by 0.074 / 0.036 (about 2: 320).  The new weights are
    w - 0.5 * gradient with the gradient's error scaled down by its size: the
    rounding of w dominates (20).  For out_h1 that is 10 * 6e-8 * 0.59 = 3.5e-7.
    """
    values = getattr(tutorial_trace_f32, field)
    value = float(np.asarray(values if layer is None else values[layer])[index])
    exponent = Decimal(printed).as_tuple().exponent
    tolerance = float(Decimal(5).scaleb(exponent - 1)) + roundings * U32 * abs(float(printed))
    assert abs(value - float(printed)) <= tolerance, (value, printed, tolerance)


def test_tutorial_total_error_in_float32(tutorial_trace_f32):
    # E_o1 + E_o2, dominated by E_o1 (40 roundings)
    assert abs(tutorial_trace_f32.total_error - 0.298371109) <= 0.5e-9 + 40 * U32 * 0.2984


# ------------------------------------------------------------ 5. the fast path
@pytest.mark.parametrize("update", bp.UPDATES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_loop_of_one_sample_calls_equals_one_call(engine, dtype, update):
    """k calls of ``train(x, t)`` on 1-D arrays of the network's dtype, one call
    with ``epochs=k``, one call on k copies of the sample, and the loop with
    arrays of the other dtype (converted) all give the same bits; the epoch total
    of the k-row call is the float64 sum of the loop's errors."""
    k = 25
    base = bp.Network([3, 8, 2], seed=4, dtype=dtype, engine=engine)
    # multiples of 1/8: exact in both precisions, so converting changes no value
    x, t = np.array([0.375, -0.625, 0.875], dtype=dtype), np.array([0.25, 0.75], dtype=dtype)
    other = np.float64 if dtype == np.float32 else np.float32
    x_other, t_other = x.astype(other), t.astype(other)
    runs = {}
    for name, train in {
        "loop": lambda n: np.array([n.train(x, t, update=update)[0] for _ in range(k)]),
        "epochs": lambda n: n.train(x, t, epochs=k, update=update),
        "rows": lambda n: n.train(np.tile(x, (k, 1)), np.tile(t, (k, 1)), update=update),
        "loop-converted": lambda n: np.array(
            [n.train(x_other, t_other, update=update)[0] for _ in range(k)]
        ),
    }.items():
        net = base.copy()
        runs[name] = train(net), net.params
        assert runs[name][1].dtype == np.dtype(dtype)
    for name in ("epochs", "rows", "loop-converted"):
        assert bits(runs[name][1]) == bits(runs["loop"][1]), name
    assert bits(runs["epochs"][0]) == bits(runs["loop"][0])
    assert bits(runs["loop-converted"][0]) == bits(runs["loop"][0])
    assert not np.array_equal(runs["loop"][1], base.params)
    # k float64 additions of positive terms: at most k * eps64 relative
    np.testing.assert_allclose(runs["rows"][0], [runs["loop"][0].sum()], rtol=k * EPS64, atol=0)


@pytest.mark.usefixtures("core")
def test_float32_arrays_take_the_compiled_fast_path(monkeypatch):
    """float32, float64 and strided 1-D arrays and a memoryview on a compiled
    float32 network all skip the checked Python path (converted in C) and give
    the same bits; a learning rate the fast path does not take (a Fraction) goes
    through the checked path, with the same result."""
    from backprop import _validation

    calls = []
    rule = _validation.learning_rate

    def spy(rate, dtype):
        calls.append(rate)
        return rule(rate, dtype)

    # only the checked path checks the learning rate in Python
    monkeypatch.setattr(_validation, "learning_rate", spy)
    nets = [bp.Network([3, 5, 2], seed=8, dtype=np.float32, engine="cython") for _ in range(4)]
    x, t = np.array([0.5, -0.25, 0.75]), np.array([0.125, 0.875])
    for _ in range(5):
        nets[0].train(x.astype(np.float32), t.astype(np.float32))
        nets[1].train(x, t)
        nets[2].train(np.repeat(x, 2)[::2], memoryview(t))
    assert calls == []
    for _ in range(5):
        nets[3].train(x, t, learning_rate=fractions.Fraction(1, 2))
    assert calls == [fractions.Fraction(1, 2)] * 5
    for net in nets[1:]:
        assert bits(nets[0].params) == bits(net.params)
    assert bits(nets[0].params) == bits(nets[1].params)


# ------------------------------------------------------------ 6. files, pickle, copy
@pytest.fixture
def trained_f32(engine, make_data):
    options = dict(activation="tanh", output_activation="logistic", loss="cross_entropy")
    net = bp.Network([3, 4, 2], seed=12, bias="shared", dtype=np.float32, engine=engine, **options)
    data = make_data(3, 2, 5, options, seed=12)
    net.train(*data, epochs=2)
    return net, data


def _assert_same_network(clone, net, data):
    assert clone.dtype == np.float32
    assert repr(clone) == repr(net)
    assert bits(clone.params) == bits(net.params)
    # the clone trains on its own float32 buffer exactly as the original does
    assert bits(clone.train(*data, epochs=2)) == bits(net.train(*data, epochs=2))
    assert bits(clone.params) == bits(net.params)


def test_save_and_load_keep_dtype_and_bits(trained_f32, tmp_path):
    net, data = trained_f32
    path = tmp_path / "net.npz"
    net.save(path)
    with np.load(path, allow_pickle=False) as archive:
        assert json.loads(bytes(archive["header"]))["dtype"] == "float32"
        assert archive["weights_0"].dtype == np.float32
    _assert_same_network(bp.load(path, engine=net.engine), net, data)


def test_pickle_keeps_dtype_and_bits(trained_f32):
    net, data = trained_f32
    _assert_same_network(pickle.loads(pickle.dumps(net)), net, data)


def test_copy_keeps_dtype_and_is_independent(trained_f32):
    net, data = trained_f32
    clone = net.copy()
    before = bits(net.params)
    clone.train(*data, epochs=1)
    assert bits(net.params) == before
    _assert_same_network(net.copy(), net, data)


# ------------------------------------------------------------ 7. non-finite training
def _diverging_network(engine):
    """1-1 linear network, w = 2**-120, trained on x = 1, t = 0 with lr = 2**64.

    All the arithmetic is exact in both precisions until it overflows: each epoch
    multiplies w by 1 - 2**64, which rounds to -2**64, so the output in epoch e is
    +-2**(64 e - 120).  In epoch 3 the output is 2**72, its error 2**143 and its
    update 2**136: both beyond float32's 2**128, while in epochs 0-2 everything is
    below 2**72.  So training diverges in epoch 3 (counting from 0), whether an
    engine notices the error (float32 arithmetic) or the weight (float64
    arithmetic, weights rounded to float32).
    """
    return bp.Network(
        [1, 1],
        weights=[[[2.0**-120]]],
        bias="none",
        activation="linear",
        dtype=np.float32,
        engine=engine,
    )


DIVERGING = {
    "online-lists": (lambda v: v, dict()),
    "online-float32": (lambda v: np.array(v, np.float32), dict()),
    "full-batch": (lambda v: v, dict(batch_size=None)),
    "momentum-0": (lambda v: np.array(v, np.float32), dict(optimizer="momentum", momentum=0.0)),
}


@pytest.mark.parametrize("form, options", list(DIVERGING.values()), ids=list(DIVERGING))
def test_divergence_names_the_epoch_and_changes_nothing(engine, form, options):
    net = _diverging_network(engine)
    before = bits(net.params)
    with pytest.raises(bp.TrainingError) as info:
        net.train(form([[1.0]]), form([[0.0]]), epochs=10, learning_rate=2.0**64, **options)
    assert re.search(r"\bepoch 3\b", str(info.value)), str(info.value)
    assert bits(net.params) == before
    # the network still trains normally afterwards
    assert np.isfinite(net.train([[1.0]], [[0.0]], epochs=2, learning_rate=0.5)).all()


def test_divergence_is_named_when_the_error_leaves_float32(engine):
    """w = 1, x = 1, t = 0, lr = 1e6: w_e = (1 - 1e6)**e.  The error 1/2 w_e**2
    exceeds float32 in epoch 4 (5e47); the weight only in epoch 6 (1e42).  So an
    engine must check the error, not only the weights, in float32's range (the
    twin computes it in double, where 5e47 is finite)."""
    net = bp.Network(
        [1, 1], weights=[[[1.0]]], bias="none", activation="linear", dtype=np.float32, engine=engine
    )
    before = bits(net.params)
    with pytest.raises(bp.TrainingError) as info:
        net.train([[1.0]], [[0.0]], epochs=20, learning_rate=1e6)
    assert re.search(r"\bepoch 4\b", str(info.value)), str(info.value)
    assert bits(net.params) == before


# ------------------------------------------------------------ 8. learning rates
#: Learning rates that a float32 network cannot hold: 1e300 is beyond float32's
#: range (3.4e38), 1e-50 below its smallest subnormal (1.4e-45), so it rounds to
#: zero.  Both are fine float64 numbers, so only the network's dtype rules them out.
F32_UNUSABLE_RATES = {"beyond-float32": 1e300, "rounds-to-zero-in-float32": 1e-50}


@pytest.fixture(params=list(F32_UNUSABLE_RATES.values()), ids=list(F32_UNUSABLE_RATES))
def f32_unusable_rate(request) -> float:
    rate = request.param
    assert rate > F32_MAX or np.float32(rate) == 0.0  # the premise, checked in NumPy
    return rate


def test_trace_refuses_a_learning_rate_float32_cannot_hold(engine, f32_unusable_rate):
    net = bp.Network([2, 2, 2], seed=0, dtype=np.float32, engine=engine)
    before = bits(net.params)
    with pytest.raises(ValueError) as info:
        net.trace([0.5, -0.25], [0.25, 0.75], learning_rate=f32_unusable_rate)
    assert mentions(str(info.value), "learning_rate"), str(info.value)
    assert bits(net.params) == before


#: The data as lists (the checked path) and as float32 arrays (the compiled fast
#: path's input on a float32 network).
F32_DATA_FORMS = {"lists": lambda a: a, "float32-arrays": lambda a: np.array(a, np.float32)}


@pytest.mark.parametrize("form", list(F32_DATA_FORMS.values()), ids=list(F32_DATA_FORMS))
def test_train_refuses_a_learning_rate_float32_cannot_hold(engine, f32_unusable_rate, form):
    net = bp.Network([2, 2, 2], seed=0, dtype=np.float32, engine=engine)
    before = bits(net.params)
    X, T = form([[0.5, -0.25], [0.75, 0.125]]), form([[0.25, 0.75], [0.5, 0.5]])
    with pytest.raises(ValueError) as info:
        net.train(X, T, epochs=2, learning_rate=f32_unusable_rate)
    assert mentions(str(info.value), "learning_rate"), str(info.value)
    assert bits(net.params) == before


@pytest.mark.parametrize("rate", [1e30, 1e-30], ids=["1e30", "1e-30"])
def test_float32_network_takes_large_and_small_learning_rates_it_can_hold(engine, rate):
    """The refusal is float32's range, not a bound of its own: rates far from 1 but
    inside that range are taken (the gradients here are below 1, so the new weights
    stay below 1e30 and finite)."""
    net = bp.Network([2, 2, 2], seed=0, dtype=np.float32, engine=engine)
    trace = net.trace([0.5, -0.25], [0.25, 0.75], learning_rate=rate)
    assert trace.learning_rate == rate
    assert all(np.isfinite(w).all() for w in trace.new_weights)

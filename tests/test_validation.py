"""Bad input is rejected with a clear error that names the argument, and a
rejected call changes nothing.

Every error message is matched from its start (``^name``): the message must begin
with the name of the argument it rejects.  After a rejected call the network's
weights and biases (``net.params``) are compared bitwise with those before it.
"""

from __future__ import annotations

import math
import re
import sys
import warnings

import numpy as np
import pytest

import backprop as bp

GOOD_X = np.array([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6], [-0.7, 0.8]])
GOOD_T = np.array([[0.2, 0.9], [0.4, 0.6], [0.1, 0.3], [0.8, 0.5]])


def _with(array, row, column, value):
    bad = array.copy()
    bad[row, column] = value
    return bad


@pytest.fixture
def net():
    return bp.Network([2, 3, 2], seed=0)


def assert_unchanged(net, before):
    assert np.array_equal(net.params, before), "a rejected call changed the network"


# --------------------------------------------------------------- data arguments
# (id, X, T, which argument is bad: "x" or "t", exception, message after the name)
DATA_CASES = [
    ("x-3-features", np.ones((4, 3)), GOOD_T, "x", ValueError, r" must have 2 values per sample"),
    ("t-3-outputs", GOOD_X, np.ones((4, 3)), "t", ValueError, r" must have 2 values per sample"),
    ("x-3-d", np.ones((4, 2, 2)), GOOD_T, "x", ValueError, r" must be 1-D .* got 3 dimensions"),
    ("t-3-d", GOOD_X, np.ones((4, 2, 1)), "t", ValueError, r" must be 1-D .* got 3 dimensions"),
    ("x-scalar", 0.5, GOOD_T, "x", ValueError, r" must be 1-D .* got 0 dimensions"),
    ("x-nan", _with(GOOD_X, 2, 1, np.nan), GOOD_T, "x", ValueError, r" contains NaN or infinity"),
    ("x-inf", _with(GOOD_X, 0, 0, -np.inf), GOOD_T, "x", ValueError, r" contains NaN or infinity"),
    ("t-inf", GOOD_X, _with(GOOD_T, 3, 1, np.inf), "t", ValueError, r" contains NaN or infinity"),
    ("t-nan", GOOD_X, _with(GOOD_T, 0, 0, np.nan), "t", ValueError, r" contains NaN or infinity"),
    ("x-strings", [["a", "b"]] * 4, GOOD_T, "x", TypeError, r" must hold real numbers"),
    ("t-strings", GOOD_X, "0.1 0.2", "t", TypeError, r" must hold real numbers"),
    ("x-object-array", GOOD_X.astype(object), GOOD_T, "x", TypeError, r" must hold real numbers"),
    ("x-complex", GOOD_X + 1j, GOOD_T, "x", TypeError, r" must hold real numbers"),
    ("t-none", GOOD_X, None, "t", TypeError, r" must hold real numbers"),
    ("x-ragged", [[0.1, 0.2], [0.3]], GOOD_T[:2], "x", ValueError, r" must be a rectangular"),
    ("x-empty", np.zeros((0, 2)), np.zeros((0, 2)), "x", ValueError, r" is empty"),
    ("t-empty", GOOD_X[:1], np.zeros((0, 2)), "t", ValueError, r" is empty"),
]

#: The names a method gives its data arguments, or None when it has no such argument.
DATA_NAMES = {
    "forward": ("x", None),
    "total_error": ("X", "T"),
    "train": ("X", "T"),
    "trace": ("x", "t"),
}


def _call(net, method, X, T):
    if method == "forward":
        return net.forward(X)
    return getattr(net, method)(X, T)


def _data_params():
    for method, (x_name, t_name) in DATA_NAMES.items():
        for case_id, X, T, bad, exc, message in DATA_CASES:
            name = x_name if bad == "x" else t_name
            if name is not None:
                yield pytest.param(
                    method, X, T, exc, "^" + re.escape(name) + message, id=f"{method}-{case_id}"
                )


@pytest.mark.parametrize("method, X, T, exc, pattern", list(_data_params()))
def test_bad_data(net, method, X, T, exc, pattern):
    before = net.params
    with pytest.raises(exc, match=pattern):
        _call(net, method, X, T)
    assert_unchanged(net, before)


@pytest.mark.parametrize("method", ["total_error", "train", "trace"])
@pytest.mark.parametrize("n_x, n_t", [(4, 3), (1, 2), (3, 1)])
def test_sample_count_mismatch(net, method, n_x, n_t):
    x_name, t_name = DATA_NAMES[method]
    before = net.params
    with pytest.raises(
        ValueError,
        match=f"^{x_name} and {t_name} must hold the same number of samples, got {n_x} and {n_t}",
    ):
        _call(net, method, GOOD_X[:n_x], GOOD_T[:n_t])
    assert_unchanged(net, before)


def test_trace_takes_one_sample(net):
    before = net.params
    with pytest.raises(ValueError, match="^x must be one sample, got 4"):
        net.trace(GOOD_X, GOOD_T)
    assert_unchanged(net, before)


@pytest.mark.parametrize("form", ["ndarray", "list"])
@pytest.mark.parametrize("method", ["train", "total_error"])
def test_bad_data_in_plain_float64_arrays(net, method, form):
    """The checks hold for plain arrays of the network's dtype (float64 here: the
    compiled fast path's input) and for lists."""
    bad_x = _with(GOOD_X, 1, 1, np.nan)
    before = net.params
    with pytest.raises(ValueError, match="^X contains NaN"):
        _call(net, method, bad_x if form == "ndarray" else bad_x.tolist(), GOOD_T)
    with pytest.raises(ValueError, match="^X must have 2 values"):
        _call(net, method, np.ones((4, 3)) if form == "ndarray" else [[1.0] * 3] * 4, GOOD_T)
    assert_unchanged(net, before)


# ------------------------------------------------------ options of train/trace
OPTION_CASES = [
    ("learning_rate", math.nan, ValueError, "must be finite and > 0"),
    ("learning_rate", math.inf, ValueError, "must be finite and > 0"),
    ("learning_rate", -math.inf, ValueError, "must be finite and > 0"),
    ("learning_rate", 0.0, ValueError, "must be finite and > 0"),
    ("learning_rate", 0, ValueError, "must be finite and > 0"),
    ("learning_rate", -0.5, ValueError, "must be finite and > 0"),
    ("learning_rate", np.float64(np.nan), ValueError, "must be finite and > 0"),
    ("learning_rate", "0.5", TypeError, "must be a real number"),
    ("learning_rate", None, TypeError, "must be a real number"),
    ("learning_rate", True, TypeError, "must be a real number"),
    ("learning_rate", 0.5 + 0j, TypeError, "must be a real number"),
    ("learning_rate", np.array([0.5]), TypeError, "must be a real number"),
    ("update", "parallel", ValueError, "must be one of 'simultaneous', 'sequential'"),
    ("update", "Sequential", ValueError, "must be one of"),
    ("update", None, ValueError, "must be one of"),
]
EPOCH_CASES = [
    (-1, ValueError, "must be >= 0"),
    (1.5, TypeError, "must be an integer"),
    (2.0, TypeError, "must be an integer"),
    (True, TypeError, "must be an integer"),
    (False, TypeError, "must be an integer"),
    ("3", TypeError, "must be an integer"),
    (None, TypeError, "must be an integer"),
    (np.float64(3.0), TypeError, "must be an integer"),
]


@pytest.mark.parametrize("method", ["train", "trace"])
@pytest.mark.parametrize("argument, value, exc, message", OPTION_CASES)
def test_bad_option(net, method, argument, value, exc, message):
    X, T = (GOOD_X, GOOD_T) if method == "train" else (GOOD_X[0], GOOD_T[0])
    before = net.params
    with pytest.raises(exc, match=f"^{argument} {re.escape(message)}"):
        getattr(net, method)(X, T, **{argument: value})
    assert_unchanged(net, before)


@pytest.mark.parametrize("value, exc, message", EPOCH_CASES)
def test_bad_epochs(net, value, exc, message):
    before = net.params
    with pytest.raises(exc, match=f"^epochs {re.escape(message)}"):
        net.train(GOOD_X, GOOD_T, epochs=value)
    assert_unchanged(net, before)


def test_zero_epochs_change_nothing(net):
    before = net.params
    history = net.train(GOOD_X, GOOD_T, epochs=0)
    assert isinstance(history, np.ndarray)
    assert history.shape == (0,)
    assert history.dtype == np.float64
    assert_unchanged(net, before)


# ----------------------------------------------------------------- constructor
W_232 = [np.full((3, 2), 0.1), np.full((2, 3), 0.2)]
B_232 = [np.full(3, 0.3), np.full(2, 0.4)]
W_22 = [np.full((2, 2), 0.1)]

# (id, sizes, keyword arguments, exception, pattern)
CONSTRUCTOR_CASES = [
    ("one-layer", [2], {}, ValueError, r"^sizes must name at least an input and an output"),
    ("no-layers", [], {}, ValueError, r"^sizes must name at least"),
    ("zero-units", [2, 0], {}, ValueError, r"^sizes must be >= 1"),
    ("negative-units", [2, -3, 1], {}, ValueError, r"^sizes must be >= 1"),
    ("float-size", [2.0, 2], {}, TypeError, r"^sizes must hold integers"),
    ("string-size", [2, "3"], {}, TypeError, r"^sizes must hold integers"),
    ("bool-size", [True, 2], {}, TypeError, r"^sizes must hold integers"),
    ("int-sizes", 3, {}, TypeError, r"^sizes must be a sequence"),
    ("string-sizes", "22", {}, TypeError, r"^sizes must be a sequence of integers"),
    ("dict-sizes", {2: "a", 3: "b"}, {}, TypeError, r"^sizes must be a sequence of integers"),
    ("set-sizes", {2, 3}, {}, TypeError, r"^sizes must be a sequence of integers"),
    ("2-D-sizes", np.array([[2, 3]]), {}, ValueError, r"^sizes must be 1-D"),
    ("huge-size", [2**63, 1], {}, ValueError, r"^sizes: a network of 9223372036854775809 par"),
    ("bias", [2, 2], dict(bias="both"), ValueError, r"^bias must be one of"),
    ("bias-underscore", [2, 2], dict(bias="per_neuron"), ValueError, r"^bias must be one of"),
    ("engine", [2, 2], dict(engine="numba"), ValueError, r"^engine must be one of"),
    ("activation", [2, 2], dict(activation="sigmoid"), ValueError, r"^activation must be one of"),
    (
        "activation-list-entry",
        [2, 2, 2],
        dict(activation=["tanh", "sigmoid"]),
        ValueError,
        r"^activation must be one of",
    ),
    (
        "activation-list-length",
        [2, 2, 2],
        dict(activation=["tanh"]),
        ValueError,
        r"^activation must be one name or a list of 2",
    ),
    (
        "output_activation",
        [2, 2],
        dict(output_activation="step"),
        ValueError,
        r"^output_activation must be one of",
    ),
    (
        "output_activation-with-list",
        [2, 2],
        dict(activation=["tanh"], output_activation="linear"),
        ValueError,
        r"^(give )?output_activation",
    ),
    (
        "hidden-softmax",
        [2, 3, 2],
        dict(activation="softmax"),
        ValueError,
        r"^activation 'softmax' is only allowed on the output layer",
    ),
    (
        "hidden-softmax-list",
        [2, 3, 2],
        dict(activation=["softmax", "softmax"]),
        ValueError,
        r"^activation 'softmax' is only allowed on the output layer",
    ),
    (
        "softmax-of-one-unit",
        [2, 3, 1],
        dict(output_activation="softmax"),
        ValueError,
        r"^output_activation 'softmax' needs at least 2 output units",
    ),
    (
        "softmax-of-one-unit-list",
        [2, 1],
        dict(activation=["softmax"], loss="cross_entropy"),
        ValueError,
        r"^activation 'softmax' needs at least 2 output units",
    ),
    ("loss", [2, 2], dict(loss="l2"), ValueError, r"^loss must be one of"),
    (
        "cross-entropy-relu",
        [2, 2],
        dict(activation="relu", loss="cross_entropy"),
        ValueError,
        r"^loss='cross_entropy' needs a 'logistic' or 'softmax' output layer",
    ),
    (
        "cross-entropy-linear-output",
        [2, 3, 2],
        dict(output_activation="linear", loss="cross_entropy"),
        ValueError,
        r"^loss='cross_entropy'",
    ),
    ("init", [2, 2], dict(init="normal"), ValueError, r"^init must be one of"),
    ("train_bias", [2, 2], dict(train_bias="yes"), TypeError, r"^train_bias must be True or False"),
    ("seed-float", [2, 2], dict(seed=1.5), TypeError, r"^seed must be None, an integer"),
    ("seed-string", [2, 2], dict(seed="1"), TypeError, r"^seed must be None, an integer"),
    (
        "weights-count",
        [2, 3, 2],
        dict(weights=W_232[:1], biases=B_232[:1]),
        ValueError,
        r"^weights must be a list of 2 matrices",
    ),
    (
        "weights-one-array",
        [2, 2],
        dict(weights=np.zeros((1, 2, 2)), biases=[np.zeros(2)]),
        ValueError,
        r"^weights must be a list of 1 matrices",
    ),
    (
        "weights-transposed",
        [2, 3, 2],
        dict(weights=[W_232[0].T, W_232[1]], biases=B_232),
        ValueError,
        r"^weights\[0\] must have shape \(3, 2\), got \(2, 3\)",
    ),
    (
        "weights-shape",
        [2, 3, 2],
        dict(weights=[W_232[0], np.zeros(6)], biases=B_232),
        ValueError,
        r"^weights\[1\] must have shape \(2, 3\)",
    ),
    (
        "weights-nan",
        [2, 3, 2],
        dict(weights=[_with(W_232[0], 1, 1, np.nan), W_232[1]], biases=B_232),
        ValueError,
        r"^weights\[0\] contains NaN",
    ),
    (
        "weights-inf",
        [2, 3, 2],
        dict(weights=[W_232[0], _with(W_232[1], 0, 2, -np.inf)], biases=B_232),
        ValueError,
        r"^weights\[1\] contains NaN",
    ),
    (
        "weights-strings",
        [2, 2],
        dict(weights=[[["a", "b"], ["c", "d"]]], biases=[[0.0, 0.0]]),
        TypeError,
        r"^weights\[0\] must hold real numbers",
    ),
    (
        "weights-ragged",
        [2, 2],
        dict(weights=[[[0.1, 0.2], [0.3]]], biases=[[0.0, 0.0]]),
        ValueError,
        r"^weights\[0\] must be a rectangular array",
    ),
    (
        "biases-nan",
        [2, 3, 2],
        dict(weights=W_232, biases=[B_232[0], np.array([0.1, np.nan])]),
        ValueError,
        r"^biases\[1\] contains NaN",
    ),
    (
        "biases-inf",
        [2, 3, 2],
        dict(weights=W_232, biases=[np.array([0, np.inf, 0]), B_232[1]]),
        ValueError,
        r"^biases\[0\] contains NaN or infinity",
    ),
    (
        "biases-count",
        [2, 3, 2],
        dict(weights=W_232, biases=B_232[:1]),
        ValueError,
        r"^biases must hold 2 entries",
    ),
    (
        "biases-length",
        [2, 3, 2],
        dict(weights=W_232, biases=[np.zeros(2), B_232[1]]),
        ValueError,
        r"^biases\[0\] must hold 3 values",
    ),
    (
        "biases-flat-array",
        [2, 3, 2],
        dict(weights=W_232, biases=np.zeros(5)),
        ValueError,
        r"^biases must be a list of 2 arrays",
    ),
    (
        "biases-strings",
        [2, 2],
        dict(weights=W_22, biases=[["x", "y"]]),
        TypeError,
        r"^biases\[0\] must hold real numbers",
    ),
    (
        "shared-unequal",
        [2, 3, 2],
        dict(weights=W_232, biases=[[0.1, 0.2, 0.1], [0.4]], bias="shared"),
        ValueError,
        r"^biases\[0\] must be one value",
    ),
    (
        "shared-empty",
        [2, 3, 2],
        dict(weights=W_232, biases=[[], [0.4]], bias="shared"),
        ValueError,
        r"^biases\[0\] must be one value",
    ),
    (
        "none-with-biases",
        [2, 3, 2],
        dict(weights=W_232, biases=B_232, bias="none"),
        ValueError,
        r"^biases must be None when bias='none'",
    ),
    (
        "weights-without-biases",
        [2, 3, 2],
        dict(weights=W_232),
        ValueError,
        r"^biases must be given with weights",
    ),
    (
        "biases-without-weights",
        [2, 3, 2],
        dict(biases=B_232),
        ValueError,
        r"^biases were given without weights",
    ),
    (
        "seed-with-weights",
        [2, 3, 2],
        dict(weights=W_232, biases=B_232, seed=1),
        ValueError,
        r"^seed only applies to a random start",
    ),
    ("activation-none", [2, 2], dict(activation=None), TypeError, r"^activation"),
    ("seed-negative", [2, 2], dict(seed=-1), ValueError, r"^seed"),
    (
        "shared-biases-scalar",
        [2, 2],
        dict(weights=W_22, biases=0.5, bias="shared"),
        (TypeError, ValueError),
        r"^biases",
    ),
]


@pytest.mark.parametrize(
    "sizes, kwargs, exc, pattern",
    [case[1:] for case in CONSTRUCTOR_CASES],
    ids=[case[0] for case in CONSTRUCTOR_CASES],
)
def test_bad_constructor_argument(sizes, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        bp.Network(sizes, **kwargs)


# ------------------------------------------------------------------ divergence
def _linear(engine):
    """A one-weight linear network without bias: out = 1.0 * x to start with."""
    return bp.Network([1, 1], weights=[[[1.0]]], bias="none", activation="linear", engine=engine)


def _epoch_the_error_overflows():
    """First epoch whose error overflows in ``_linear`` trained on x = 1, t = 0
    with learning rate 6: each step multiplies the weight by 1 - 6 = -5, so epoch e
    has error 0.5 * 25**e, which exceeds the largest double once
    e > log(2 * max) / log(25) (about 220.7); the weight itself stays finite."""
    return math.ceil((math.log(2) + math.log(sys.float_info.max)) / math.log(25))


# (id, x, learning rate, epochs, epoch that diverges)
DIVERGING_RUNS = [
    # x = 1e10: the first step moves the weight by 1e300 * 1e10 * 1e10 = inf while
    # the error of epoch 0 (0.5e20) is finite; the error turns infinite in epoch 1
    ("weight-overflows-in-the-only-epoch", 1e10, 1e300, 1, 0),
    ("weight-overflows-before-the-error", 1e10, 1e300, 3, 0),
    ("error-overflows-after-220-good-epochs", 1.0, 6.0, 300, _epoch_the_error_overflows()),
]


@pytest.mark.parametrize("form", [list, np.array], ids=["list", "ndarray"])
@pytest.mark.parametrize(
    "x, learning_rate, epochs, epoch",
    [case[1:] for case in DIVERGING_RUNS],
    ids=[case[0] for case in DIVERGING_RUNS],
)
def test_diverging_training_raises_and_changes_nothing(
    engine, x, learning_rate, epochs, epoch, form
):
    """Plain arrays of the network's dtype, float64 here (which the compiled fast path
    takes), and lists alike."""
    net = _linear(engine)
    before = net.params
    with pytest.raises(bp.TrainingError, match=rf"\bepoch {epoch}\b"):
        net.train(form([x]), form([0.0]), epochs=epochs, learning_rate=learning_rate)
    assert_unchanged(net, before)


@pytest.mark.parametrize("form", [list, np.array], ids=["list", "ndarray"])
def test_a_network_that_overflows_before_training_is_not_blamed_on_the_rate(engine, form):
    """x = 1e200: the error 0.5 * 1e400 of the very first sample overflows with the
    starting weights.  The message says so (the network overflowed before this
    call), not that training diverged or that the learning rate is too large."""
    net = _linear(engine)
    before = net.params
    with pytest.raises(bp.TrainingError) as info:
        net.train(form([1e200]), form([0.0]), epochs=4, learning_rate=1.0)
    message = str(info.value)
    assert "overflowed on this data before this call" in message
    assert "NaN or infinity in the error of sample 0" in message
    assert "outputs (largest 1e+200" in message  # (the weight is 1: outputs = inputs)
    assert "diverged" not in message and "smaller learning_rate" not in message
    assert_unchanged(net, before)
    with pytest.raises(bp.NonFiniteError, match="error of sample 0"):
        net.total_error(form([1e200]), form([0.0]))


def test_targets_too_large_to_square_are_named(engine):
    """Finite outputs, targets of 1e300: the squared error overflows because of
    the targets, which are named (a ValueError, as for a NaN in them), not the
    weights or the inputs."""
    net = _linear(engine)
    before = net.params
    X, T = [[0.5], [1.0]], [[0.0], [1e300]]
    with pytest.raises(ValueError, match=r"^T: NaN or infinity in the error of sample 1, ") as info:
        net.train(X, T, epochs=2, learning_rate=0.1)
    assert "targets (largest 1e+300)" in str(info.value)
    assert not isinstance(info.value, bp.TrainingError)
    assert_unchanged(net, before)
    with pytest.raises(bp.NonFiniteError, match="targets .largest 1e.300. too far apart"):
        net.total_error(X, T)


@pytest.mark.parametrize(
    "validation, error, message",
    [(([[1e210]], [[0.0]]), bp.TrainingError, "^the error on the validation data became NaN"),
     (([[1.0]], [[1e300]]), ValueError, "^validation: NaN or infinity in the error of sample 0")],
    ids=["outputs", "targets"],
)  # fmt: skip
@pytest.mark.parametrize("patience", [None, 2])
def test_a_validation_error_that_overflows_stops_training(
    engine, validation, error, message, patience
):
    """Validation data whose error overflows is not measured as infinity (a
    curve of inf that patience would stop on): the call raises, the network
    unchanged; targets larger than the outputs are bad data (a ValueError),
    outputs that overflow the loss are the network's (a TrainingError)."""
    net = _linear(engine)
    before = net.params
    with pytest.raises(error, match=message) as info:
        net.train([[1.0]], [[1.0]], epochs=3, learning_rate=0.5, validation=validation,
                  patience=patience)  # fmt: skip
    if error is bp.TrainingError:
        assert info.value.epoch == 0
    assert_unchanged(net, before)


def test_a_total_error_that_overflows_its_sum_is_refused(engine):
    net = _linear(engine)
    T = np.full((4, 1), 1.5e154)  # each (t - o)^2 / 2 finite, their sum not
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(bp.NonFiniteError, match="the sum of 4 finite sample errors"):
            net.total_error(np.zeros((4, 1)), T)
        before = net.params
        for options in ({}, dict(optimizer="momentum")):
            with pytest.raises(bp.TrainingError, match="the sum of 4 finite sample errors") as e:
                net.train(np.zeros((4, 1)), T, 3, 0.001, **options)
            assert e.value.epoch is None and "learning rate is not the cause" in str(e.value)
            assert_unchanged(net, before)


def test_overflow_epoch_derivation():
    """The arithmetic behind ``_epoch_the_error_overflows``, checked in exact
    integers: 0.5 * 25**220 is a double, 0.5 * 25**221 is not."""
    assert _epoch_the_error_overflows() == 221
    largest = int(sys.float_info.max)
    assert 25**220 // 2 < largest < 25**221 // 2


@pytest.mark.parametrize("form", [list, np.array], ids=["list", "ndarray"])
def test_diverging_run_with_a_saturated_unit(form):
    """A hidden weight overflows while the logistic unit it feeds saturates, so the
    error stays finite: the infinite weight alone must stop training."""
    net = bp.Network([1, 1, 1], weights=[[[0.0]], [[1.0]]], bias="none")
    before = net.params
    with pytest.raises(bp.TrainingError, match=r"\bepoch 0\b"):
        net.train(form([1e10]), form([0.0]), epochs=3, learning_rate=1e300)
    assert_unchanged(net, before)


def test_training_error_is_a_floating_point_error():
    assert issubclass(bp.TrainingError, FloatingPointError)


def test_predict_and_accuracy_name_their_argument():
    net = bp.Network([2, 3, 2], seed=0)
    for call in (lambda X: net.predict(X), lambda X: net.accuracy(X, [])):
        with pytest.raises(ValueError, match=r"^X is empty"):
            call(np.zeros((0, 2)))
        with pytest.raises(ValueError, match=r"^X must have 2 values per sample"):
            call(np.zeros((3, 3)))

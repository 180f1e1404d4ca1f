"""1-D data: the shapes that inputs and targets may take.

A 1-D array of as many values as the layer is wide is one sample.  For a layer of
width 1 (one input for ``X``, one output for ``T``), a 1-D array of ``n`` values is
``n`` samples, as scikit-learn users pass targets.  Every other shape is refused
with a message that names the shape and, where it helps, the ``reshape`` to use.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import backprop as bp
from backprop import _validation as check

N = 200
X1 = np.linspace(-1.0, 1.0, N)  # one input per sample, 1-D
T1 = 0.5 + 0.4 * np.sin(3.0 * X1)  # one target per sample, 1-D


def regressor(engine, dtype=np.float64):
    return bp.Network([1, 5, 1], seed=3, engine=engine, dtype=dtype)


# ------------------------------------------------------------ accepted forms
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "update, options",
    [("simultaneous", {}), ("sequential", {}), ("simultaneous", dict(batch_size=16))],
    ids=["online", "sequential", "mini-batch"],
)
def test_training_on_1d_data_equals_training_on_columns(engine, dtype, update, options):
    a, b = regressor(engine, dtype), regressor(engine, dtype)
    history_1d = a.train(X1, T1, epochs=4, learning_rate=0.5, update=update, **options)
    history_2d = b.train(
        X1.reshape(-1, 1), T1.reshape(-1, 1), epochs=4, learning_rate=0.5, update=update, **options
    )
    np.testing.assert_array_equal(history_1d, history_2d)
    np.testing.assert_array_equal(a.params, b.params)
    assert a.total_error(X1, T1) == b.total_error(X1.reshape(-1, 1), T1.reshape(-1, 1))


def test_mixed_1d_and_2d_forms_agree(engine):
    net = regressor(engine)
    expected = net.total_error(X1.reshape(-1, 1), T1.reshape(-1, 1))
    assert net.total_error(X1, T1.reshape(-1, 1)) == expected
    assert net.total_error(X1.reshape(-1, 1), T1) == expected
    assert net.total_error(X1.tolist(), T1.tolist()) == expected


def test_1d_validation_data(engine):
    a, b = regressor(engine), regressor(engine)
    a.train(X1, T1, epochs=3, validation=(X1[::2], T1[::2]), patience=5)
    b.train(
        X1.reshape(-1, 1),
        T1.reshape(-1, 1),
        epochs=3,
        validation=(X1[::2].reshape(-1, 1), T1[::2].reshape(-1, 1)),
        patience=5,
    )
    np.testing.assert_array_equal(a.params, b.params)


def test_scikit_learn_targets_for_a_multi_input_network(engine):
    """X of shape (n, 3), T of shape (n,): one output per sample."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1.0, 1.0, (50, 3))
    T = (X.sum(axis=1) > 0).astype(float)
    a = bp.Network([3, 4, 1], seed=1, engine=engine)
    b = a.copy()
    np.testing.assert_array_equal(a.train(X, T, epochs=3), b.train(X, T[:, None], epochs=3))
    np.testing.assert_array_equal(a.params, b.params)
    assert a.total_error(X, T) == a.total_error(X, T[:, None])
    assert a.predict(X).shape == (50,)
    assert a.accuracy(X, T.astype(int)) == a.accuracy(X, T[:, None])


def test_a_1d_sample_of_the_layer_width_is_still_one_sample(engine):
    net = bp.Network([3, 4, 2], seed=0, engine=engine)
    x, t = np.array([0.1, -0.2, 0.3]), np.array([0.2, 0.7])
    assert net.forward(x).shape == (2,)
    np.testing.assert_array_equal(net.forward(x), net.forward(x[None])[0])
    assert net.total_error(x, t) == net.total_error(x[None], t[None])
    assert net.trace(x, t).inputs.shape == (3,)


def test_one_value_is_one_sample_for_a_one_input_network(engine):
    net = regressor(engine)
    assert net.forward([0.5]).shape == (1,)
    assert net.total_error([0.5], [0.2]) == net.total_error([[0.5]], [[0.2]])
    assert net.trace([0.5], [0.2]).inputs.shape == (1,)


# ------------------------------------------------------------ forward, predict
def test_forward_shapes(engine):
    net = bp.Network([1, 4, 3], seed=0, engine=engine)
    out = net.forward(X1)
    assert out.shape == (N, 3)
    np.testing.assert_array_equal(out, net.forward(X1.reshape(-1, 1)))
    np.testing.assert_array_equal(out[7], net.forward(X1[7:8]))
    assert net.forward(X1[7:8]).shape == (3,)  # one value: one sample, 1-D result
    assert net.forward(X1[:2]).shape == (2, 3)


def test_predict_and_accuracy_shapes(engine):
    net = bp.Network([1, 4, 3], seed=0, engine=engine)
    labels = net.predict(X1)
    assert labels.shape == (N,)
    np.testing.assert_array_equal(labels, net.predict(X1.reshape(-1, 1)))
    assert np.ndim(net.predict(X1[5:6])) == 0
    assert net.predict(X1[5:6]) == labels[5]
    assert net.accuracy(X1, labels) == 1.0
    assert net.accuracy(X1, labels.tolist()) == 1.0

    one_out = regressor(engine)
    labels = one_out.predict(X1)
    assert labels.shape == (N,)
    np.testing.assert_array_equal(labels, (one_out.forward(X1)[:, 0] >= 0.5).astype(int))
    assert np.ndim(one_out.predict([0.3])) == 0
    assert one_out.accuracy(X1, labels) == 1.0


# ------------------------------------------------------------ no extra copies
def test_conversion_makes_no_copy():
    X = np.ascontiguousarray(X1)
    for width, value in [(1, X), (N, X), (1, X.reshape(1, -1).T.copy())]:
        rows = check.samples("X", value, width, "input")
        assert rows.ndim == 2 and rows.flags.c_contiguous
        assert np.shares_memory(rows, value)


# ------------------------------------------------------------ refusals
REFUSED = [
    # (id, layers, X, T, argument, message after the name)
    (
        "x-1d-wrong-length",
        [3, 2, 1],
        np.ones(5),
        np.ones(5),
        "X",
        r" must be 1-D \(one sample of 3 values\) or 2-D \(one row per sample, 3 columns\), "
        r"got shape \(5,\)$",
    ),
    (
        "t-1d-wrong-length",
        [2, 2, 3],
        np.ones((4, 2)),
        np.ones(4),
        "T",
        r" must be 1-D \(one sample of 3 values\) or 2-D \(one row per sample, 3 columns\), "
        r"got shape \(4,\)$",
    ),
    (
        "t-row-for-one-output",
        [3, 2, 1],
        np.ones((N, 3)),
        np.ones((1, N)),
        "T",
        r" must have 1 value per sample \(the network's output layer\), got 200 "
        r"\(shape \(1, 200\)\); for 200 samples of one value each, pass a 1-D array "
        r"or a column: \.reshape\(-1, 1\)$",
    ),
    (
        "x-row-for-one-input",
        [1, 2, 1],
        np.ones((1, 7)),
        np.ones(7),
        "X",
        r" must have 1 value per sample \(the network's input layer\), got 7 \(shape \(1, 7\)\); "
        r".*\.reshape\(-1, 1\)$",
    ),
    (
        "x-column-for-one-sample",
        [3, 2, 1],
        np.ones((3, 1)),
        np.ones(1),
        "X",
        r" must have 3 values per sample \(the network's input layer\), got 1 "
        r"\(shape \(3, 1\)\); for one sample, pass a 1-D array or a row: \.reshape\(1, -1\)$",
    ),
    (
        "x-wrong-columns",
        [3, 2, 1],
        np.ones((4, 2)),
        np.ones(4),
        "X",
        r" must have 3 values per sample \(the network's input layer\), got 2 \(shape \(4, 2\)\)$",
    ),
    (
        "t-wrong-columns-for-one-output",
        [3, 2, 1],
        np.ones((4, 3)),
        np.ones((4, 2)),
        "T",
        r" must have 1 value per sample \(the network's output layer\), got 2 \(shape \(4, 2\)\)$",
    ),
    (
        "t-3-d",
        [1, 2, 1],
        X1,
        np.ones((N, 1, 1)),
        "T",
        r" must be 1-D \(one value per sample\) or 2-D \(one row per sample, 1 column\), "
        r"got 3 dimensions \(shape \(200, 1, 1\)\)$",
    ),
    (
        "t-scalar",
        [1, 2, 1],
        [0.5],
        0.5,
        "T",
        r" must be 1-D .* got 0 dimensions \(a single number\)$",
    ),
    ("x-1d-empty", [1, 2, 1], np.ones(0), np.ones(0), "X", r" is empty: .* got shape \(0,\)$"),
]


@pytest.mark.parametrize(
    "layers, X, T, argument, message", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
@pytest.mark.parametrize("method", ["train", "total_error"])
def test_refused_shapes(engine, method, layers, X, T, argument, message):
    net = bp.Network(layers, seed=0, engine=engine)
    before = net.params
    with pytest.raises(ValueError, match="^" + argument + message):
        getattr(net, method)(X, T)
    np.testing.assert_array_equal(net.params, before)


def test_forward_names_x_and_predict_names_X(engine):
    net = bp.Network([3, 2, 1], seed=0, engine=engine)
    with pytest.raises(ValueError, match=r"^x must be 1-D .* got shape \(5,\)$"):
        net.forward(np.ones(5))
    with pytest.raises(ValueError, match=r"^X must be 1-D .* got shape \(5,\)$"):
        net.predict(np.ones(5))


def test_trace_still_takes_exactly_one_sample(engine):
    net = regressor(engine)
    with pytest.raises(ValueError, match=f"^x must be one sample, got {N}$"):
        net.trace(X1, T1)
    with pytest.raises(ValueError, match="^x and t must hold the same number of samples"):
        net.trace([0.5], T1)


def test_message_grammar():
    """'1 value per sample', 'n values per sample'."""
    for width, words in [(1, "1 value per sample"), (2, "2 values per sample")]:
        with pytest.raises(ValueError, match=re.escape(f"X must have {words} ")):
            check.samples("X", np.ones((4, 5)), width, "input")
    with pytest.raises(ValueError) as info:
        check.samples("T", np.ones((4, 5)), 1, "output")
    assert "1 values" not in str(info.value)

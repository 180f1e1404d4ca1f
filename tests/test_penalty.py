"""The L2 penalty on the weights: ``train(weight_decay=...)`` (PyTorch's
convention: added to the mean gradient) and ``train(alpha=...)`` (scikit-learn's:
added to the batch's summed gradient before the division), in both engines, for
every optimizer, checked against scikit-learn's MLPRegressor and against the
formulas of PyTorch's optimizers written out in NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
from backprop._spec import TRAIN

RNG = np.random.default_rng(7)
X = RNG.uniform(-1.0, 1.0, (10, 3))
Y = RNG.uniform(-0.5, 0.5, (10, 2))
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "rprop"]


def regressor(engine="cython", dtype=np.float64):
    return bp.Network([3, 4, 2], seed=3, output_activation="linear", engine=engine, dtype=dtype)


@pytest.mark.parametrize("batch_size", [1, 4, None], ids=["online", "batches-of-4", "full"])
def test_alpha_is_scikit_learns(batch_size):
    """MLPRegressor (SGD without momentum, constant rate, alpha > 0), started from
    the same weights, ends where ``train(alpha=...)`` does, to round-off: its
    gradient is (sum over the batch + alpha * W) / batch size, the last, shorter
    batch (10 = 4 + 4 + 2) by its own size."""
    neural = pytest.importorskip("sklearn.neural_network")
    net = regressor()
    alpha, rate, epochs = 0.3, 0.05, 6
    sk = neural.MLPRegressor(
        hidden_layer_sizes=(4,),
        activation="logistic",
        solver="sgd",
        alpha=alpha,
        batch_size=len(X) if batch_size is None else batch_size,
        learning_rate_init=rate,
        momentum=0.0,
        nesterovs_momentum=False,
        shuffle=False,
    )
    sk.partial_fit(X, Y)  # to build its arrays; the weights are set next
    sk.coefs_ = [w.T.copy() for w in net.weights]
    sk.intercepts_ = [b.copy() for b in net.biases]
    for _ in range(epochs):
        sk.partial_fit(X, Y)  # one epoch over X, in order
    net.train(X, Y, epochs=epochs, learning_rate=rate, batch_size=batch_size, alpha=alpha)
    for ours, theirs in zip(net.weights, sk.coefs_):
        np.testing.assert_allclose(ours, theirs.T, rtol=1e-13, atol=1e-15)
    for ours, theirs in zip(net.biases, sk.intercepts_):
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)


def _gradient(net, X, Y):
    """The mean gradient of one batch (no penalty), read from one plain SGD step
    of rate 1 on a copy: w - (w - g) = g, exact for these magnitudes to round-off."""
    probe = net.copy()
    probe.train(X, Y, learning_rate=1.0, batch_size=None, optimizer="sgd")
    return net.params - probe.params


def _weight_mask(net):
    mask = np.zeros(net.params.size, dtype=bool)
    for w0, b0, _ in net._shape[1].tolist():
        mask[w0:b0] = True
    return mask


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_weight_decay_is_pytorchs(engine, optimizer):
    """One full-batch step: PyTorch's optimizers add weight_decay * w to the
    gradient of every penalised parameter (here the weights, not the biases)
    before the step: SGD moves by lr * (g + wd w); Adam's first step by
    lr * g' / (|g'| + eps) with g' = g + wd w."""
    net = regressor(engine)
    wd, lr = 0.2, 0.01
    w = net.params
    g = _gradient(net, X, Y) + wd * w * _weight_mask(net)
    if optimizer == "sgd":
        expected = w - lr * g
    else:
        eps = TRAIN.epsilon  # train()'s default
        expected = w - lr * g / (np.sqrt(g * g) + eps)
    net.train(X, Y, learning_rate=lr, batch_size=None, optimizer=optimizer, weight_decay=wd)
    np.testing.assert_allclose(net.params, expected, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("penalty", ["weight_decay", "alpha"])
def test_engines_agree_with_a_penalty(optimizer, penalty, assert_engines_agree, core):
    a, b = regressor("cython"), regressor("python")
    options = dict(epochs=3, batch_size=3, optimizer=optimizer, learning_rate=0.05,
                   shuffle=True, seed=2, **{penalty: 0.1})  # fmt: skip
    assert_engines_agree(a.train(X, Y, **options), b.train(X, Y, **options))
    assert_engines_agree(a.params, b.params)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_chunked_training_with_a_penalty_equals_one_call(engine, optimizer):
    options = dict(batch_size=4, optimizer=optimizer, learning_rate=0.05, weight_decay=0.01,
                   alpha=0.02, shuffle=True)  # fmt: skip
    one, chunked = regressor(engine), regressor(engine)
    one.train(X, Y, epochs=6, seed=4, **options)
    chunked.train(X, Y, epochs=2, seed=4, **options)
    chunked.train(X, Y, epochs=4, **options)
    np.testing.assert_array_equal(one.params, chunked.params)


def test_a_penalty_shrinks_the_weights_not_the_biases(engine):
    """With no data gradient to speak of (targets equal to the outputs), the
    penalty alone moves the weights towards zero and leaves the biases."""
    net = regressor(engine)
    T = net.forward(X)
    before = net.params
    net.train(X, T, epochs=1, batch_size=None, learning_rate=0.1, weight_decay=0.5)
    mask = _weight_mask(net)
    np.testing.assert_allclose(net.params[~mask], before[~mask], rtol=0, atol=1e-12)
    assert np.all(np.abs(net.params[mask]) < np.abs(before[mask]))


def test_float32_with_a_penalty(engine):
    a, b = regressor(engine, np.float32), regressor(engine)
    a.train(X, Y, epochs=3, batch_size=2, weight_decay=0.1, learning_rate=0.05)
    b.train(X, Y, epochs=3, batch_size=2, weight_decay=0.1, learning_rate=0.05)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(weight_decay=-0.1), "weight_decay must be >= 0"),
        (dict(alpha=float("nan")), "alpha must be finite"),
        (dict(weight_decay="0.1"), "weight_decay must be a real number"),
        (dict(alpha=True), "alpha must be a real number"),
    ],
)
def test_bad_penalties_are_refused(engine, options, match):
    net = regressor(engine)
    before = net.params
    with pytest.raises((ValueError, TypeError), match=match):
        net.train(X, Y, **options)
    np.testing.assert_array_equal(net.params, before)


def test_a_zero_penalty_is_the_plain_call(engine):
    a, b = regressor(engine), regressor(engine)
    np.testing.assert_array_equal(
        a.train(X, Y, epochs=2, weight_decay=0.0, alpha=0), b.train(X, Y, epochs=2)
    )
    np.testing.assert_array_equal(a.params, b.params)

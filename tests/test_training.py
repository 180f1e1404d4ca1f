"""Training options against an independent NumPy statement of the maths.

The NumPy functions below restate, from the documentation of ``Network`` and
``backprop._reference``, the forward pass, the losses, the mean gradient of a
batch and the update rule of every optimizer.  The networks start from explicit
weights drawn here, so every expected value is computed in this file.

Tests that build a network without ``engine=`` follow ``$BACKPROP_ENGINE``; they
are kept small enough for the pure-Python engine.  The digits test and the
engine comparison under shuffling need the compiled engine, name it, and skip
where it is not built (the ``core`` fixture of tests/conftest.py).
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

import backprop as bp

RTOL = 1e-10  # NumPy restatement against either engine
LEAKY_SLOPE = 0.01
HIDDEN_ACTIVATIONS = ["logistic", "tanh", "relu", "leaky_relu", "linear"]
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "rprop"]
INITS = ["uniform", "xavier", "he", "nguyen_widrow"]


# ============================================================ NumPy restatement
def _softmax(s):
    e = np.exp(s - s.max())
    return e / e.sum()


ACTIVATE = {
    "logistic": lambda s: 1.0 / (1.0 + np.exp(-s)),
    "tanh": np.tanh,
    "relu": lambda s: np.maximum(s, 0.0),
    "leaky_relu": lambda s: np.where(s > 0.0, s, LEAKY_SLOPE * s),
    "linear": lambda s: s.copy(),
    "softmax": _softmax,
}

#: d out / d net, element by element (not used for softmax)
SLOPE = {
    "logistic": lambda s, o: o * (1.0 - o),
    "tanh": lambda s, o: 1.0 - o * o,
    "relu": lambda s, o: (s > 0.0).astype(float),
    "leaky_relu": lambda s, o: np.where(s > 0.0, 1.0, LEAKY_SLOPE),
    "linear": lambda s, o: np.ones_like(s),
}


def np_loss(loss, o, t, output):
    """The error of one sample."""
    if loss == "half_sse":
        return 0.5 * np.sum((t - o) ** 2)
    if loss == "mse":
        return np.mean((t - o) ** 2)
    if output == "softmax":
        return -np.sum(t * np.log(o))
    return -np.sum(t * np.log(o) + (1.0 - t) * np.log(1.0 - o))


def np_loss_slope(loss, o, t, output):
    """dE/do of one sample."""
    if loss == "half_sse":
        return o - t
    if loss == "mse":
        return 2.0 * (o - t) / o.size
    if output == "softmax":
        return -t / o
    return (o - t) / (o * (1.0 - o))


def np_output_delta(loss, s, o, t, output):
    """dE/dnet of the output layer: dE/do through the activation's Jacobian (a
    softmax layer's written out in full)."""
    g = np_loss_slope(loss, o, t, output)
    if output == "softmax":
        return (np.diag(o) - np.outer(o, o)).T @ g
    return g * SLOPE[output](s, o)


def n_bias(n_out, bias):
    return {"per-neuron": n_out, "shared": 1, "none": 0}[bias]


def layers_of(flat, sizes, bias):
    """Views ``(W, b)`` per weight layer into a flat buffer laid out as documented:
    each layer's row-major ``W`` (n_out x n_in), then its biases."""
    layers, pos = [], 0
    for n_in, n_out in zip(sizes, sizes[1:]):
        w = flat[pos : pos + n_in * n_out].reshape(n_out, n_in)
        pos += n_in * n_out
        b = flat[pos : pos + n_bias(n_out, bias)]
        pos += b.size
        layers.append((w, b))
    assert pos == flat.size
    return layers


def np_forward(layers, acts, x):
    """Net inputs and outputs of every layer (``outs[0]`` is ``x``)."""
    nets, outs = [], [np.asarray(x, dtype=float)]
    for (w, b), act in zip(layers, acts):
        s = w @ outs[-1] + (b if b.size else 0.0)  # one shared bias broadcasts
        nets.append(s)
        outs.append(ACTIVATE[act](s))
    return nets, outs


def np_gradient(flat, spec, x, t):
    """``(error, dE/dparams)`` of one sample: plain chain rule, the Jacobian of a
    softmax layer written out in full."""
    sizes, acts, bias = spec["sizes"], spec["acts"], spec["bias"]
    layers = layers_of(flat, sizes, bias)
    nets, outs = np_forward(layers, acts, x)
    o = outs[-1]
    delta = np_output_delta(spec["loss"], nets[-1], o, t, acts[-1])
    grad = np.zeros_like(flat)
    for l in range(len(layers) - 1, -1, -1):
        (w, b), (gw, gb) = layers[l], layers_of(grad, sizes, bias)[l]
        gw[:] = np.outer(delta, outs[l])
        if spec["train_bias"] and b.size:
            gb[:] = delta if b.size == delta.size else delta.sum()
        if l:
            delta = (w.T @ delta) * SLOPE[acts[l - 1]](nets[l - 1], outs[l])
    return np_loss(spec["loss"], o, t, acts[-1]), grad


DEFAULTS = dict(
    momentum=0.9,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-8,
    rprop_increase=1.2,
    rprop_decrease=0.5,
    rprop_initial_step=0.1,
    rprop_min_step=1e-6,
    rprop_max_step=50.0,
)


class NumpyOptimizer:
    """The documented update rules, applied to the mean gradient ``g`` of a batch."""

    def __init__(self, name, lr, n_params, **settings):
        self.name, self.lr = name, lr
        self.h = {**DEFAULTS, **settings}
        self.v = np.zeros(n_params)  # velocity / first moment
        self.s = np.zeros(n_params)  # second moment
        self.t = 0  # adam's step count
        self.step_size = np.full(n_params, self.h["rprop_initial_step"])
        self.previous = np.zeros(n_params)  # rprop's last (possibly zeroed) gradient

    def __call__(self, p, g):
        h, lr = self.h, self.lr
        if self.name == "sgd":
            return p - lr * g
        if self.name in ("momentum", "nesterov"):
            self.v = h["momentum"] * self.v - lr * g
            return p + (self.v if self.name == "momentum" else h["momentum"] * self.v - lr * g)
        if self.name == "adam":
            self.t += 1
            self.v = h["beta1"] * self.v + (1.0 - h["beta1"]) * g
            self.s = h["beta2"] * self.s + (1.0 - h["beta2"]) * g * g
            m_hat = self.v / (1.0 - h["beta1"] ** self.t)
            s_hat = self.s / (1.0 - h["beta2"] ** self.t)
            return p - lr * m_hat / (np.sqrt(s_hat) + h["epsilon"])
        # iRPROP-: grow the step while the sign holds; on a flip shrink it and skip
        same = g * self.previous
        grown = np.minimum(self.step_size * h["rprop_increase"], h["rprop_max_step"])
        shrunk = np.maximum(self.step_size * h["rprop_decrease"], h["rprop_min_step"])
        self.step_size = np.where(same > 0, grown, np.where(same < 0, shrunk, self.step_size))
        g = np.where(same < 0, 0.0, g)
        self.previous = g
        return p - np.sign(g) * self.step_size


def np_train(flat, spec, X, T, epochs, lr, batch_size=1, optimizer="sgd", orders=None, **settings):
    """Final parameters and per-epoch error history of ``Network.train``."""
    p = np.array(flat, dtype=float)
    n = len(X)
    size = n if batch_size is None else batch_size
    step = NumpyOptimizer(optimizer, lr, p.size, **settings)
    history = []
    for epoch in range(epochs):
        order = range(n) if orders is None else orders[epoch]
        total, acc, count = 0.0, np.zeros_like(p), 0
        for k, r in enumerate(order):
            error, g = np_gradient(p, spec, X[r], T[r])
            total += error
            acc += g
            count += 1
            if count == size or k == n - 1:
                p = step(p, acc / count)
                acc, count = np.zeros_like(p), 0
        history.append(total)
    return p, np.array(history)


# ============================================================ test networks
def make_spec(sizes, activation, output, loss, bias="per-neuron", train_bias=True):
    """A network description shared by the NumPy side and ``bp.Network``."""
    acts = (
        list(activation)
        if isinstance(activation, (list, tuple))
        else [activation] * (len(sizes) - 2) + [output]
    )
    return dict(sizes=list(sizes), acts=acts, loss=loss, bias=bias, train_bias=train_bias)


def start_params(spec, seed):
    """An explicit random start, flat in the documented layout."""
    rng = np.random.default_rng(seed)
    sizes = spec["sizes"]
    count = sum(i * o + n_bias(o, spec["bias"]) for i, o in zip(sizes, sizes[1:]))
    return rng.uniform(-0.8, 0.8, count)


def build(spec, flat, engine=None):
    """``bp.Network`` with the spec's options, started from ``flat``."""
    layers = layers_of(np.array(flat, dtype=float), spec["sizes"], spec["bias"])
    biases = None if spec["bias"] == "none" else [b.copy() for _, b in layers]
    return bp.Network(
        spec["sizes"],
        weights=[w.copy() for w, _ in layers],
        biases=biases,
        bias=spec["bias"],
        train_bias=spec["train_bias"],
        activation=spec["acts"],
        loss=spec["loss"],
        engine=engine,
    )


def make_targets(output, n_samples, n_out, rng):
    if output == "softmax":
        T = rng.uniform(0.05, 1.0, (n_samples, n_out))
        return T / T.sum(axis=1, keepdims=True)
    if output == "logistic":
        return rng.uniform(0.05, 0.95, (n_samples, n_out))
    if output == "tanh":
        return rng.uniform(-0.9, 0.9, (n_samples, n_out))
    return rng.uniform(-1.5, 1.5, (n_samples, n_out))


def make_samples(spec, n_samples, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, (n_samples, spec["sizes"][0]))
    return X, make_targets(spec["acts"][-1], n_samples, spec["sizes"][-1], rng)


def assert_close(actual, desired, rtol=RTOL, what=""):
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=1e-14, err_msg=what)


# ============================================================ 1. forward, losses
FORWARD_ACTS = [
    [hidden, output] for hidden, output in itertools.product(HIDDEN_ACTIVATIONS, bp.ACTIVATIONS)
] + [
    ["relu", "tanh", "softmax"],
    ["leaky_relu", "logistic", "linear"],
    ["linear", "relu", "leaky_relu"],
]


@pytest.mark.parametrize("acts", FORWARD_ACTS, ids=[">".join(a) for a in FORWARD_ACTS])
def test_forward_matches_numpy(acts, bias_mode):
    sizes = [3] + [4] * (len(acts) - 1) + [3]
    spec = make_spec(sizes, acts, None, "half_sse", bias=bias_mode)
    flat = start_params(spec, seed=len(acts))
    X, _ = make_samples(spec, 5, seed=1)
    layers = layers_of(flat, sizes, bias_mode)
    expected = np.array([np_forward(layers, acts, x)[1][-1] for x in X])
    assert_close(build(spec, flat).forward(X), expected)
    assert_close(build(spec, flat).forward(X[2]), expected[2])


LOSS_CASES = [
    (output, loss)
    for output in bp.ACTIVATIONS
    for loss in bp.LOSSES
    if loss != "cross_entropy" or output in ("logistic", "softmax")
]


@pytest.mark.parametrize("output, loss", LOSS_CASES, ids=[f"{o}/{l}" for o, l in LOSS_CASES])
def test_total_error_matches_numpy(output, loss):
    spec = make_spec([3, 4, 3], "tanh", output, loss)
    flat = start_params(spec, seed=3)
    X, T = make_samples(spec, 6, seed=4)
    layers = layers_of(flat, spec["sizes"], "per-neuron")
    per_sample = [
        np_loss(loss, np_forward(layers, spec["acts"], x)[1][-1], t, output) for x, t in zip(X, T)
    ]
    net = build(spec, flat)
    assert_close(net.total_error(X, T), np.sum(per_sample))
    assert_close(net.total_error(X[1], T[1]), per_sample[1])


CE_CASES = {
    "softmax-one-hot": ("softmax", [0.0, 1.0, 0.0]),
    "softmax-soft": ("softmax", [0.2, 0.5, 0.3]),
    "logistic": ("logistic", [0.0, 1.0, 0.25]),
}


def cross_entropy_step(output, targets):
    """``(trace, numpy_delta)`` of one step of a [2, 3, 3] cross-entropy network."""
    spec = make_spec([2, 3, 3], "tanh", output, "cross_entropy")
    flat = start_params(spec, seed=5)
    x, t = np.array([0.3, -0.7]), np.array(targets)
    nets, outs = np_forward(layers_of(flat, spec["sizes"], "per-neuron"), spec["acts"], x)
    trace = build(spec, flat).trace(x, t)
    assert_close(trace.outputs[-1], outs[-1])
    return trace, np_output_delta("cross_entropy", nets[-1], outs[-1], t, output)


@pytest.mark.parametrize("output, targets", list(CE_CASES.values()), ids=list(CE_CASES))
def test_cross_entropy_output_delta_is_output_minus_target(output, targets):
    trace, expected = cross_entropy_step(output, targets)
    np.testing.assert_array_equal(trace.deltas[-1], trace.outputs[-1] - np.array(targets))
    # and o - t is the chain rule's delta
    assert_close(trace.deltas[-1], expected, rtol=1e-12)


def test_softmax_cross_entropy_targets_not_summing_to_one_get_their_true_gradient():
    """Multi-label or unnormalised targets: delta = o * sum(t) - t, not o - t."""
    trace, expected = cross_entropy_step("softmax", [1.0, 1.0, 0.0])
    assert_close(trace.deltas[-1], expected, rtol=1e-12)


# ============================================================ 2. optimizers, batches
TRAIN_SPECS = {
    "tanh>logistic/half_sse": make_spec([3, 4, 2], "tanh", "logistic", "half_sse"),
    "relu>softmax/cross_entropy": make_spec([3, 5, 3], "relu", "softmax", "cross_entropy"),
    # (not shared biases on a softmax layer: their true gradient is 0, leaving only
    # round-off for adam and rprop to amplify)
    "logistic/cross_entropy,shared": make_spec(
        [3, 4, 2], "logistic", "logistic", "cross_entropy", bias="shared"
    ),
    "leaky_relu>linear/mse,fixed_bias": make_spec(
        [3, 4, 2], "leaky_relu", "linear", "mse", train_bias=False
    ),
}
LEARNING_RATES = {"sgd": 0.3, "momentum": 0.05, "nesterov": 0.05, "adam": 0.05, "rprop": 0.5}
SETTINGS = {
    "defaults": {},
    # max 0.2 and min 0.08 are reached from 0.15 after one or two steps: both clips act
    "custom": dict(
        momentum=0.7,
        beta1=0.8,
        beta2=0.95,
        epsilon=1e-3,
        rprop_increase=1.3,
        rprop_decrease=0.4,
        rprop_initial_step=0.15,
        rprop_min_step=0.08,
        rprop_max_step=0.2,
    ),
}


@pytest.fixture(params=list(TRAIN_SPECS.values()), ids=list(TRAIN_SPECS))
def spec(request):
    return request.param


@pytest.fixture
def problem(spec):
    """``(spec, start, X, T)`` with 7 samples: batches of 3 leave a last one of 1."""
    return (
        spec,
        start_params(spec, seed=len(spec["acts"]) + spec["sizes"][1]),
        *make_samples(spec, 7, seed=spec["sizes"][1]),
    )


@pytest.mark.parametrize("settings", list(SETTINGS.values()), ids=list(SETTINGS))
@pytest.mark.parametrize("batch_size", [1, 3, None, 10])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_training_matches_numpy(problem, optimizer, batch_size, settings):
    spec, start, X, T = problem
    lr = LEARNING_RATES[optimizer]
    net = build(spec, start)
    history = net.train(
        X, T, epochs=4, learning_rate=lr, batch_size=batch_size, optimizer=optimizer, **settings
    )
    params, expected_history = np_train(start, spec, X, T, 4, lr, batch_size, optimizer, **settings)
    assert_close(history, expected_history, what="history")
    assert_close(net.params, params, what="params")


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "adam", "rprop"])
def test_optimizer_state_carries_over_between_calls(problem, optimizer):
    """Two calls of 2 epochs are one of 4 (the NumPy restatement keeps its state
    through one call); ``reset_optimizer`` makes each call start afresh."""
    spec, start, X, T = problem
    net = build(spec, start)
    for _ in range(2):
        net.train(X, T, epochs=2, learning_rate=0.1, batch_size=3, optimizer=optimizer)
    expected, _ = np_train(start, spec, X, T, 4, 0.1, 3, optimizer)
    assert_close(net.params, expected)
    net = build(spec, start)
    expected = start
    for _ in range(2):
        net.reset_optimizer()
        net.train(X, T, epochs=2, learning_rate=0.1, batch_size=3, optimizer=optimizer)
        expected, _ = np_train(expected, spec, X, T, 2, 0.1, 3, optimizer)
    assert_close(net.params, expected)


def test_rprop_ignores_the_learning_rate(problem):
    spec, start, X, T = problem
    results = [build(spec, start) for _ in range(2)]
    for net, lr in zip(results, [0.5, 0.001]):
        net.train(X, T, epochs=3, learning_rate=lr, batch_size=None, optimizer="rprop")
    np.testing.assert_array_equal(results[0].params, results[1].params)


@pytest.mark.parametrize("dtype, tiny", [("float64", 1e-100), ("float32", 1e-13)])
def test_rprop_follows_the_gradients_signs_however_small(engine, dtype, tiny):
    """iRPROP- looks at signs only: data scaled down until the product of two
    successive gradients underflows still takes the same steps."""
    finals = []
    for scale in (1.0, tiny):
        net = bp.Network([1, 1], activation="linear", bias="none", weights=[[[0.5]]],
                         dtype=dtype, engine=engine)  # fmt: skip
        net.train([[scale]], [[0.0]], epochs=12, batch_size=None, optimizer="rprop")
        finals.append(net.weights[0][0, 0])
    assert finals[0] == finals[1]
    assert abs(finals[0]) < 0.05  # (it went down from 0.5: steps grew, then shrank)


# ---------------------------------------------------------------- shuffling
SHUFFLE_SPEC = TRAIN_SPECS["tanh>logistic/half_sse"]


def shuffled_run(seed, engine=None, epochs=3, batch_size=1, optimizer="sgd", **options):
    """``(params, history)`` of a shuffled run on the 7-sample problem."""
    X, T = make_samples(SHUFFLE_SPEC, 7, seed=8)
    net = build(SHUFFLE_SPEC, start_params(SHUFFLE_SPEC, seed=9), engine)
    history = net.train(
        X,
        T,
        epochs=epochs,
        learning_rate=0.2,
        batch_size=batch_size,
        optimizer=optimizer,
        shuffle=True,
        seed=seed,
        **options,
    )
    return net.params, history


@pytest.mark.parametrize("batch_size", [1, 3])
def test_same_seed_same_result_other_seed_other_result(batch_size):
    params, history = shuffled_run(5, batch_size=batch_size)
    again, again_history = shuffled_run(5, batch_size=batch_size)
    np.testing.assert_array_equal(again, params)
    np.testing.assert_array_equal(again_history, history)
    others = [shuffled_run(seed, batch_size=batch_size)[0] for seed in [6, 0]]
    assert not any(np.allclose(other, params, rtol=1e-6) for other in others)


def test_unseeded_shuffles_differ():
    first, second = shuffled_run(None)[0], shuffled_run(None)[0]
    assert not np.allclose(first, second, rtol=1e-6)


def test_shuffling_changes_the_online_result():
    X, T = make_samples(SHUFFLE_SPEC, 7, seed=8)
    start = start_params(SHUFFLE_SPEC, seed=9)
    in_order, _ = np_train(start, SHUFFLE_SPEC, X, T, 3, 0.2)
    assert not np.allclose(shuffled_run(5)[0], in_order, rtol=1e-6)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_shuffled_full_batch_equals_the_ordered_full_batch(optimizer):
    """Every sample is visited once per epoch: the full-batch mean gradient (and
    the epoch's error) only changes by the order of summation."""
    params, history = shuffled_run(3, batch_size=None, optimizer=optimizer)
    X, T = make_samples(SHUFFLE_SPEC, 7, seed=8)
    expected, expected_history = np_train(
        start_params(SHUFFLE_SPEC, seed=9), SHUFFLE_SPEC, X, T, 3, 0.2, None, optimizer
    )
    assert_close(history, expected_history)
    assert_close(params, expected)


def test_each_epoch_is_a_permutation_of_the_samples():
    """Online SGD on 4 samples for 2 epochs ends where the NumPy restatement does
    for exactly one pair of sample orders; the orders vary with the seed."""
    spec = make_spec([2, 3, 1], "tanh", "logistic", "half_sse")
    start = start_params(spec, seed=10)
    X, T = make_samples(spec, 4, seed=11)
    perms = list(itertools.permutations(range(4)))
    after_one = {p: np_train(start, spec, X, T, 1, 0.5, orders=[p])[0] for p in perms}
    found = []
    for seed in [1, 2, 3, 4]:
        net = build(spec, start)
        net.train(X, T, epochs=2, learning_rate=0.5, shuffle=True, seed=seed)
        matches = [
            (p, q)
            for p in perms
            for q in perms
            if np.allclose(
                np_train(after_one[p], spec, X, T, 1, 0.5, orders=[q])[0],
                net.params,
                rtol=RTOL,
                atol=1e-14,
            )
        ]
        assert len(matches) == 1, (seed, matches)
        found.append(matches[0])
    assert len(set(found)) > 1  # the seed matters
    assert any(p != q for p, q in found)  # each epoch is shuffled afresh


@pytest.mark.usefixtures("core")
@pytest.mark.parametrize("batch_size", [1, 3, None])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_engines_agree_under_shuffling(optimizer, batch_size, assert_engines_agree):
    fast = shuffled_run(12, "cython", batch_size=batch_size, optimizer=optimizer)
    slow = shuffled_run(12, "python", batch_size=batch_size, optimizer=optimizer)
    assert_engines_agree(fast[1], slow[1], "history")
    assert_engines_agree(fast[0], slow[0], "params")


def test_reporting_in_chunks_changes_nothing():
    """Reports split training into chunks; optimizer and shuffling state carry
    over, so the result is the one of an uninterrupted run."""
    options = dict(epochs=6, batch_size=3, optimizer="adam")
    plain = shuffled_run(4, **options)
    X, T = make_samples(SHUFFLE_SPEC, 3, seed=13)
    reported = shuffled_run(
        4, callback=lambda epoch, error: None, report_every=2, validation=(X, T), **options
    )
    np.testing.assert_array_equal(reported[1], plain[1])
    np.testing.assert_array_equal(reported[0], plain[0])


# ============================================================ 3. option errors
BAD_OPTIONS = [
    (dict(update="sequential", batch_size=2), ValueError, "update"),
    (dict(update="sequential", batch_size=None), ValueError, "update"),
    (dict(update="sequential", optimizer="momentum"), ValueError, "update"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=-1), ValueError, "batch_size"),
    (dict(batch_size=1.5), TypeError, "batch_size"),
    (dict(optimizer="foo"), ValueError, "optimizer"),
    (dict(optimizer="SGD"), ValueError, "optimizer"),
    (dict(momentum=1.0), ValueError, "momentum"),
    (dict(momentum=-0.1), ValueError, "momentum"),
    (dict(beta1=1.0), ValueError, "beta1"),
    (dict(beta2=1.0), ValueError, "beta2"),
    (dict(epsilon=0), ValueError, "epsilon"),
    (dict(epsilon=-1e-8), ValueError, "epsilon"),
    (dict(rprop_increase=1.0), ValueError, "rprop_increase"),
    (dict(rprop_decrease=1.0), ValueError, "rprop_decrease"),
    (dict(rprop_initial_step=0.0), ValueError, "rprop_initial_step"),
    (dict(rprop_min_step=-1.0), ValueError, "rprop_min_step"),
    (dict(rprop_min_step=2.0, rprop_max_step=1.0), ValueError, "rprop_min_step"),
    (dict(patience=3), ValueError, "patience"),
    (dict(patience=0, validation=([[0.0, 0.0, 0.0]], [[0.5, 0.5]])), ValueError, "patience"),
    (dict(validation=[[0.0, 0.0, 0.0]]), TypeError, "validation"),
    (dict(validation=([[0.0, 0.0]], [[0.5, 0.5]])), ValueError, "validation X"),
    (dict(callback=42), TypeError, "callback"),
    (dict(report_every=0), ValueError, "report_every"),
    (dict(seed=3), ValueError, "seed"),
    (dict(seed=-1, shuffle=True), ValueError, "seed"),
    (dict(shuffle="yes"), TypeError, "shuffle"),
    (dict(bogus_option=1), TypeError, "bogus_option"),
]


@pytest.mark.parametrize(
    "options, exc, name",
    BAD_OPTIONS,
    ids=[",".join(map(str, o.items())) for o, _, _ in BAD_OPTIONS],
)
def test_bad_training_option(engine, options, exc, name):
    net = bp.Network([3, 2, 2], seed=1, engine=engine)
    before = net.params
    X, T = make_samples(make_spec([3, 2, 2], "logistic", "logistic", "half_sse"), 4, seed=0)
    with pytest.raises(exc, match=re.escape(name)):
        net.train(X, T, epochs=2, **options)
    np.testing.assert_array_equal(net.params, before)


# ============================================================ 4. early stopping, callbacks
def overfit_problem():
    """Outputs start near 0.5 and training drives them to 0.05 and 0.95; the
    validation targets 0.3 and 0.7 lie on the way, so the validation error falls
    and then rises."""
    X = np.array([[0.0], [1.0]])
    return X, np.array([[0.05], [0.95]]), (X, np.array([[0.3], [0.7]]))


class Recorder:
    """A callback keeping every call, the validation error and weights at it."""

    def __init__(self, net, validation, stop_at=None):
        self.net, self.validation, self.stop_at = net, validation, stop_at
        self.calls, self.val_errors, self.params = [], [], []

    def __call__(self, epoch, error):
        self.calls.append((epoch, error))
        self.val_errors.append(self.net.total_error(*self.validation))
        self.params.append(self.net.params)
        return False if epoch == self.stop_at else None


@pytest.mark.parametrize("report_every", [1, 3])
@pytest.mark.parametrize("patience", [1, 5])
def test_early_stopping_keeps_the_best_weights(patience, report_every):
    X, T, validation = overfit_problem()
    net = bp.Network([1, 2, 1], seed=3)
    record = Recorder(net, validation)
    epochs = 3000
    history = net.train(
        X,
        T,
        epochs=epochs,
        learning_rate=2.0,
        validation=validation,
        patience=patience,
        callback=record,
        report_every=report_every,
    )
    assert len(history) < epochs
    assert len(history) == report_every * len(record.calls)
    best = int(np.argmin(record.val_errors))
    assert best > 0  # the validation error did fall first
    assert len(record.val_errors) - 1 - best == patience
    assert net.total_error(*validation) == min(record.val_errors)
    np.testing.assert_array_equal(net.params, record.params[best])


def test_validation_without_patience_runs_every_epoch_and_keeps_the_last_weights():
    X, T, validation = overfit_problem()
    net, plain = bp.Network([1, 2, 1], seed=3), bp.Network([1, 2, 1], seed=3)
    history = net.train(X, T, epochs=400, learning_rate=2.0, validation=validation)
    np.testing.assert_array_equal(history, plain.train(X, T, epochs=400, learning_rate=2.0))
    np.testing.assert_array_equal(net.params, plain.params)


def test_patience_with_improving_validation_runs_to_the_end():
    X, T, _ = overfit_problem()
    net = bp.Network([1, 2, 1], seed=3)
    record = Recorder(net, (X, T))
    history = net.train(
        X, T, epochs=50, learning_rate=2.0, validation=(X, T), patience=2, callback=record
    )
    assert len(history) == 50
    assert np.all(np.diff(record.val_errors) < 0)
    np.testing.assert_array_equal(net.params, record.params[-1])


@pytest.mark.parametrize("report_every", [1, 2, 3, 6])
def test_callback_gets_epoch_and_its_error(report_every):
    X, T, _ = overfit_problem()
    net = bp.Network([1, 2, 1], seed=3)
    record = Recorder(net, (X, T))
    history = net.train(X, T, epochs=6, callback=record, report_every=report_every)
    assert len(history) == 6
    assert [epoch for epoch, _ in record.calls] == list(range(report_every - 1, 6, report_every))
    for epoch, error in record.calls:
        assert isinstance(error, float)
        assert error == history[epoch]


@pytest.mark.parametrize("report_every, stop_at", [(1, 0), (1, 4), (2, 3), (3, 5)])
def test_callback_returning_false_stops_training(report_every, stop_at):
    X, T, _ = overfit_problem()
    net, plain = bp.Network([1, 2, 1], seed=3), bp.Network([1, 2, 1], seed=3)
    history = net.train(
        X, T, epochs=20, callback=Recorder(net, (X, T), stop_at=stop_at), report_every=report_every
    )
    assert len(history) == stop_at + 1
    np.testing.assert_array_equal(history, plain.train(X, T, epochs=stop_at + 1))
    np.testing.assert_array_equal(net.params, plain.params)


# ============================================================ 5. predict, accuracy
def classifier():
    """Softmax of the scores (x0, x1, (x0 + x1) / 2 + 0.1): the class is the
    largest score."""
    return bp.Network(
        [2, 3],
        weights=[[[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]],
        biases=[[0.0, 0.0, 0.1]],
        activation="softmax",
    )


CLASS_X = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [-1.0, -2.0], [0.3, 0.2]])
CLASS_LABELS = np.array([0, 1, 2, 0, 2])


def test_predict_gives_the_index_of_the_largest_output():
    net = classifier()
    predicted = net.predict(CLASS_X)
    np.testing.assert_array_equal(predicted, CLASS_LABELS)
    assert np.issubdtype(predicted.dtype, np.integer)
    assert net.predict(CLASS_X[1]) == 1


def test_single_output_predicts_one_from_one_half_up():
    net = bp.Network([1, 1], weights=[[[1.0]]], biases=[[0.0]])  # logistic(x)
    np.testing.assert_array_equal(
        net.predict([[0.0], [-1e-9], [1e-9], [3.0], [-3.0]]), [1, 0, 1, 1, 0]
    )
    assert net.accuracy([[0.0], [-1.0]], [1, 0]) == 1.0
    assert net.accuracy([[0.0], [-1.0]], [[1.0], [1.0]]) == 0.5


LABEL_FORMS = {
    "indices": lambda idx: idx,
    "list": lambda idx: idx.tolist(),
    "one-hot": lambda idx: np.eye(3)[idx],
    "soft-one-hot": lambda idx: np.eye(3)[idx] * 0.8 + 0.1,
}


@pytest.mark.parametrize("form", list(LABEL_FORMS.values()), ids=list(LABEL_FORMS))
def test_accuracy(form):
    net = classifier()
    assert net.accuracy(CLASS_X, form(CLASS_LABELS)) == 1.0
    wrong = CLASS_LABELS.copy()
    wrong[[1, 3]] = [2, 1]
    assert net.accuracy(CLASS_X, form(wrong)) == 3 / 5


def test_accuracy_needs_one_label_per_sample():
    with pytest.raises(ValueError, match="labels"):
        classifier().accuracy(CLASS_X, CLASS_LABELS[:3])


# ============================================================ 6, 7. learning problems
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_T = np.array([[0.0], [1.0], [1.0], [0.0]])


@pytest.mark.parametrize(
    "options",
    [
        dict(epochs=1500, learning_rate=2.0),
        dict(epochs=150, optimizer="rprop", batch_size=None),
    ],
    ids=["sgd", "rprop-full-batch"],
)
def test_xor_is_learned(options):
    net = bp.Network([2, 4, 1], seed=1)
    assert net.accuracy(XOR_X, XOR_T[:, 0]) < 1.0
    history = net.train(XOR_X, XOR_T, **options)
    assert net.accuracy(XOR_X, XOR_T[:, 0]) == 1.0
    assert net.accuracy(XOR_X, XOR_T) == 1.0
    assert history[-1] < 0.1 * history[0]


@pytest.mark.usefixtures("core")
def test_digits_reach_95_percent():
    datasets = pytest.importorskip("sklearn.datasets")
    model_selection = pytest.importorskip("sklearn.model_selection")
    digits = datasets.load_digits()
    X, X_test, labels, test_labels = model_selection.train_test_split(
        digits.data / 16.0, digits.target, test_size=0.2, random_state=0
    )
    net = bp.Network(
        [64, 32, 10],
        seed=0,
        activation="logistic",
        output_activation="softmax",
        loss="cross_entropy",
        engine="cython",
    )
    history = net.train(X, np.eye(10)[labels], epochs=30, learning_rate=0.2, shuffle=True, seed=0)
    assert history[-1] < history[0]
    assert net.accuracy(X_test, test_labels) >= 0.95


# ============================================================ 8. random starts
def init_bound(init, n_in, n_out):
    return {
        "uniform": 0.5,
        "xavier": np.sqrt(6.0 / (n_in + n_out)),
        "he": np.sqrt(6.0 / n_in),
        "nguyen_widrow": 0.7 * n_out ** (1.0 / n_in),
    }[init]


@pytest.mark.parametrize("init", INITS)
def test_init_is_seeded(init):
    nets = [bp.Network([4, 6, 2], seed=seed, init=init) for seed in [17, 17, 18]]
    np.testing.assert_array_equal(nets[0].params, nets[1].params)
    assert not np.allclose(nets[0].params, nets[2].params)


def test_generator_seed():
    a = bp.Network([5, 6, 3], seed=np.random.default_rng(9))
    b = bp.Network([5, 6, 3], seed=np.random.default_rng(9))
    c = bp.Network([5, 6, 3], seed=np.random.default_rng(10))
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.allclose(a.params, c.params)


def test_unseeded_inits_differ():
    assert not np.array_equal(bp.Network([5, 6, 3]).params, bp.Network([5, 6, 3]).params)


#: A narrow input and a wide hidden layer, and wide layers throughout.
INIT_SIZES = [[2, 50, 3], [30, 20, 10]]


@pytest.mark.parametrize("sizes", INIT_SIZES, ids=["-".join(map(str, s)) for s in INIT_SIZES])
@pytest.mark.parametrize("init", INITS)
def test_init_ranges_follow_each_layer(init, sizes):
    net = bp.Network(sizes, seed=4, init=init)
    for w, b, n_in, n_out in zip(net.weights, net.biases, sizes[:-1], sizes[1:], strict=True):
        bound = init_bound(init, n_in, n_out)
        if init == "nguyen_widrow":
            assert_close(np.linalg.norm(w, axis=1), np.full(n_out, bound), rtol=1e-12)
        else:
            assert np.abs(w).max() <= bound
            assert np.abs(w).max() > 0.8 * bound  # spread over the range, not squeezed
        if init in ("xavier", "he"):
            assert np.all(b == 0.0)
        else:
            assert np.abs(b).max() <= bound
    # the hidden biases (20 or 50) spread over their range
    if init in ("uniform", "nguyen_widrow"):
        assert np.abs(net.biases[0]).max() > 0.8 * init_bound(init, sizes[0], sizes[1])


@pytest.mark.parametrize("init", ["foo", "Xavier", None, 3])
def test_bad_init(init):
    with pytest.raises(ValueError, match="^init must be one of"):
        bp.Network([2, 2], init=init)


# ============================================================ callbacks that misbehave
def _callback_data():
    rng = np.random.default_rng(21)
    return rng.uniform(size=(7, 3)), rng.uniform(0.1, 0.9, size=(7, 2))


@pytest.mark.parametrize(
    "callback, error",
    [
        (lambda epoch: None, TypeError),  # wrong signature
        (lambda epoch, err: 1 / (epoch - 2), ZeroDivisionError),  # raises at the third report
    ],
    ids=["wrong-signature", "raises-mid-run"],
)
def test_a_callback_that_raises_leaves_the_network_unchanged(callback, error):
    X, T = _callback_data()
    net = bp.Network([3, 4, 2], seed=1)
    before = net.params
    with pytest.raises(error):
        net.train(X, T, epochs=10, callback=callback)
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("answer", [False, np.False_], ids=["python-false", "numpy-false"])
def test_a_false_answer_stops_training(answer):
    X, T = _callback_data()
    history = bp.Network([3, 4, 2], seed=1).train(X, T, epochs=10, callback=lambda e, err: answer)
    assert len(history) == 1


def test_copy_keeps_the_subclass():
    class Mine(bp.Network):
        pass

    assert type(Mine([2, 2], seed=0).copy()) is Mine

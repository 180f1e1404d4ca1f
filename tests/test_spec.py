"""``backprop._spec`` is the one source of names, codes, defaults and the layout.

The compiled engine's ``cdef enum`` values are the only other statement of the
codes; these tests tie them to the spec.  ``Network.train``'s signature (and the
compiled method that replaces its body) must show the spec's defaults.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import backprop as bp
from backprop import _reference, _spec


@pytest.mark.parametrize("kind", sorted(_spec.CODED))
def test_compiled_codes_are_the_spec_positions(core, kind):
    assert core.CODES[kind] == {name: i for i, name in enumerate(_spec.CODED[kind])}


def test_compiled_hyper_vector_is_in_spec_order(core):
    assert core.CODES["hyper"] == {name: i for i, name in enumerate(_spec.HYPER)}
    assert core.CODES["hyper_size"] == len(_spec.HYPER)


def test_compiled_leaky_slope_is_the_spec_one(core):
    assert core.CODES["leaky_slope"] == _spec.LEAKY_SLOPE


def test_compiled_batch_rows_are_the_spec_ones(core):
    assert core.CODES["batch_rows"] == _spec.BATCH_ROWS


def test_compiled_simd_levels_are_the_spec_ones(core):
    assert core.SIMD_LEVELS == _spec.SIMD_LEVELS


def test_public_names_are_the_spec_tables():
    assert bp.ACTIVATIONS is _spec.ACTIVATIONS
    assert bp.LOSSES is _spec.LOSSES
    assert bp.BIAS_MODES is _spec.BIAS_MODES
    assert bp.UPDATES is _spec.UPDATES
    assert bp.ENGINES is _spec.ENGINES


def test_twin_codes_are_the_spec_positions():
    assert [
        _reference.LOGISTIC,
        _reference.TANH,
        _reference.RELU,
        _reference.LEAKY_RELU,
        _reference.LINEAR,
        _reference.SOFTMAX,
    ] == list(range(len(_spec.ACTIVATIONS)))
    assert [
        _reference.SGD,
        _reference.MOMENTUM,
        _reference.NESTEROV,
        _reference.ADAM,
        _reference.RPROP,
    ] == [_spec.code("optimizer", o) for o in _spec.OPTIMIZERS]


def test_train_signature_shows_the_spec_defaults():
    params = inspect.signature(bp.Network.train).parameters
    names = [n for n in params if n not in ("self", "X", "T")]
    assert names == list(_spec.TRAIN_DEFAULTS)
    for name, default in _spec.TRAIN_DEFAULTS.items():
        assert params[name].default == default, name
        kind = (
            inspect.Parameter.POSITIONAL_OR_KEYWORD
            if name in _spec.TRAIN_POSITIONAL
            else inspect.Parameter.KEYWORD_ONLY
        )
        assert params[name].kind == kind, name


def test_trace_defaults_are_trains():
    params = inspect.signature(bp.Network.trace).parameters
    assert params["learning_rate"].default == _spec.TRAIN.learning_rate
    assert params["update"].default == _spec.TRAIN.update


def test_defaults_are_used_on_every_path(engine):
    """A call with no arguments trains as one spelling out the spec's defaults,
    on the compiled fast path (plain arrays) and on the checked path (lists)."""
    x, t = np.array([0.05, 0.10]), np.array([0.01, 0.99])
    for args in ((x, t), (x.tolist(), t.tolist())):
        implicit = bp.Network.tutorial(engine=engine)
        explicit = bp.Network.tutorial(engine=engine)
        h1 = implicit.train(*args)
        h2 = explicit.train(
            *args, _spec.TRAIN.epochs, _spec.TRAIN.learning_rate, _spec.TRAIN.update
        )
        assert h1.shape == (_spec.TRAIN.epochs,)
        np.testing.assert_array_equal(h1, h2)
        np.testing.assert_array_equal(implicit.params, explicit.params)
        assert not np.array_equal(implicit.params, bp.Network.tutorial().params)


@pytest.mark.parametrize("bias", _spec.BIAS_MODES)
def test_layout_places_every_weight_and_bias(bias):
    sizes = (3, 4, 2)
    net = bp.Network(list(sizes), seed=1, bias=bias, train_bias=bias != "none")
    table = _spec.layout(sizes, bias)
    assert table.shape == (2, 3)
    assert _spec.param_count(sizes, bias) == net.params.size == _spec.layout_size(table)
    expected_biases = {"per-neuron": [4, 2], "shared": [1, 1], "none": [0, 0]}[bias]
    assert table[:, 2].tolist() == expected_biases
    params = net.params
    for (w0, b0, nb), w, b in zip(table.tolist(), net.weights, net.biases):
        np.testing.assert_array_equal(params[w0:b0].reshape(w.shape), w)
        if nb:
            np.testing.assert_array_equal(np.broadcast_to(params[b0 : b0 + nb], b.shape), b)
    # the layers tile the buffer with no gap
    starts = table[:, 0].tolist() + [params.size]
    assert all(b0 + nb == nxt for (_, b0, nb), nxt in zip(table.tolist(), starts[1:]))


@pytest.mark.parametrize(
    "optimizer, per_param, extra",
    [("sgd", 0, 0), ("momentum", 1, 0), ("nesterov", 1, 0), ("adam", 2, 1), ("rprop", 2, 0)],
)
def test_state_sizes(optimizer, per_param, extra):
    assert _spec.state_size(optimizer, 10) == per_param * 10 + extra

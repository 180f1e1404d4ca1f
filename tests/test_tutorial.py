"""The seed's worked example, figure by figure.

Every figure below is typed in as the seed prints it and asserted at the
precision it is printed with (see ``assert_printed``).  The values are read from
``Network.trace`` / ``Network.train`` on ``bp.Network.tutorial()`` (default
engine), never recomputed here.

Weight names: ``weights[0] == [[w1, w2], [w3, w4]]`` and
``weights[1] == [[w5, w6], [w7, w8]]``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

import backprop as bp

#: Every test runs under each SIMD level of the compiled engine (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("simd_level")

X = [0.05, 0.10]
T = [0.01, 0.99]


def assert_printed(value, printed: str) -> None:
    """Assert that ``value`` agrees with ``printed`` to the printed precision.

    The tolerance is half a unit in the last printed digit: "0.593269992" allows
    0.5e-9, "0.3775" 0.5e-4, and "3.5101877830e-05" (11 significant digits)
    0.5e-15.  The comparison is done in exact decimal arithmetic.
    """
    last_digit = Decimal(printed).as_tuple().exponent
    tolerance = Decimal(5).scaleb(last_digit - 1)
    difference = abs(Decimal(float(value)) - Decimal(printed))
    assert difference <= tolerance, (
        f"{float(value)!r} does not round to the printed {printed} "
        f"(off by {difference:.3e}, allowed {tolerance:.1e})"
    )


@pytest.mark.parametrize(
    "value, printed, ok",
    [
        (0.5932699921, "0.593269992", True),
        (0.59326999249, "0.593269992", True),
        (0.5932699926, "0.593269992", False),
        (0.37749, "0.3775", True),
        (0.37744, "0.3775", False),
        (3.51018778304e-05, "3.5101877830e-05", True),
        (3.51018778306e-05, "3.5101877830e-05", False),
        (-0.0190491194, "-0.019049119", True),
        (-0.0190491196, "-0.019049119", False),
    ],
)
def test_assert_printed_uses_the_printed_precision(value, printed, ok):
    """The helper itself: half a unit in the last printed place, no more."""
    if ok:
        assert_printed(value, printed)
    else:
        with pytest.raises(AssertionError):
            assert_printed(value, printed)


@pytest.fixture
def net():
    return bp.Network.tutorial()


@pytest.fixture
def trace(net):
    return net.trace(X, T)


# (name in the seed, Trace field, weight layer, index within the layer, as printed)
TRACE_FIGURES = [
    ("net_h1", "net_inputs", 0, (0,), "0.3775"),
    ("out_h1", "outputs", 0, (0,), "0.593269992"),
    ("out_h2", "outputs", 0, (1,), "0.596884378"),
    ("net_o1", "net_inputs", 1, (0,), "1.105905967"),
    ("out_o1", "outputs", 1, (0,), "0.75136507"),
    ("out_o2", "outputs", 1, (1,), "0.772928465"),
    ("dE/dout_o1", "d_error_d_output", 1, (0,), "0.74136507"),
    ("dout_o1/dnet_o1", "d_output_d_net", 1, (0,), "0.186815602"),
    ("dE/dw5", "weight_gradients", 1, (0, 0), "0.082167041"),
    ("w5+", "new_weights", 1, (0, 0), "0.35891648"),
    ("w6+", "new_weights", 1, (0, 1), "0.408666186"),
    ("w7+", "new_weights", 1, (1, 0), "0.511301270"),
    ("w8+", "new_weights", 1, (1, 1), "0.561370121"),
    ("dE_o1/dnet_o1", "deltas", 1, (0,), "0.138498562"),
    ("dE_o1/dout_h1", "contributions", 1, (0, 0), "0.055399425"),
    ("dE_o2/dout_h1", "contributions", 1, (1, 0), "-0.019049119"),
    ("dE/dout_h1", "d_error_d_output", 0, (0,), "0.036350306"),
    ("dout_h1/dnet_h1", "d_output_d_net", 0, (0,), "0.241300709"),
    ("dE/dw1", "weight_gradients", 0, (0, 0), "0.000438568"),
    ("w1+", "new_weights", 0, (0, 0), "0.149780716"),
    ("w2+", "new_weights", 0, (0, 1), "0.19956143"),
    ("w3+", "new_weights", 0, (1, 0), "0.24975114"),
    ("w4+", "new_weights", 0, (1, 1), "0.29950229"),
]

#: The updated weights as the seed prints them, by (layer, j, i).
NEW_WEIGHTS = {
    name: (layer, *index, printed)
    for name, field, layer, index, printed in TRACE_FIGURES
    if field == "new_weights"
}


def _at(values, index):
    # np.asarray: read the figure whether the engine hands back arrays or lists
    return np.asarray(values)[index]


#: Figures the seed derives from rounded intermediate values, so that they are
#: off by more than half a unit in their last printed digit.
SEED_ROUNDING = {
    "dE_o2/dout_h1": "the seed's slip: exactly, delta_o2 * w7 = -0.01904911826 (checked "
    "with mpmath), which rounds to -0.019049118; the seed's figure comes "
    "from rounded intermediates, see "
    "test_seed_rounds_dE_o2_dout_h1_from_the_rounded_delta",
}


def _figure_params():
    for name, field, layer, index, printed in TRACE_FIGURES:
        marks = (
            [pytest.mark.xfail(strict=True, reason=SEED_ROUNDING[name])]
            if name in SEED_ROUNDING
            else []
        )
        yield pytest.param(field, layer, index, printed, id=name, marks=marks)


@pytest.mark.parametrize("field, layer, index, printed", list(_figure_params()))
def test_trace_figure(trace, field, layer, index, printed):
    assert_printed(_at(getattr(trace, field)[layer], index), printed)


def test_seed_rounds_dE_o2_dout_h1_from_the_rounded_delta(trace):
    """The seed's -0.019049119 follows from delta_o2 rounded first.

    Rounded to 9 places, the engine's delta_o2 is -0.038098237; times w7 = 0.50
    that is -0.0190491185, which rounds (half away from zero) to the seed's
    figure, while the unrounded product rounds to -0.019049118.
    """
    nine_places = Decimal("1e-9")
    delta_o2 = Decimal(float(_at(trace.deltas[1], 1))).quantize(nine_places, ROUND_HALF_UP)
    w7 = Decimal("0.50")
    assert (delta_o2 * w7).quantize(nine_places, ROUND_HALF_UP) == Decimal("-0.019049119")


@pytest.mark.parametrize(
    "index, printed", [(0, "0.274811083"), (1, "0.023560026")], ids=["E_o1", "E_o2"]
)
def test_output_error_terms(trace, index, printed):
    assert_printed(_at(trace.errors, index), printed)


def test_total_error_of_the_trace(trace):
    assert_printed(trace.total_error, "0.298371109")


def test_total_error_method(net):
    assert_printed(net.total_error(X, T), "0.298371109")


@pytest.mark.parametrize(
    "index, printed", [(0, "0.75136507"), (1, "0.772928465")], ids=["out_o1", "out_o2"]
)
def test_forward(net, index, printed):
    assert_printed(net.forward(X)[index], printed)


def test_starting_weights_and_biases(net):
    """The seed's w1..w8 in the documented layout, and its shared biases."""
    np.testing.assert_array_equal(net.weights[0], [[0.15, 0.20], [0.25, 0.30]])
    np.testing.assert_array_equal(net.weights[1], [[0.40, 0.45], [0.50, 0.55]])
    np.testing.assert_array_equal(net.biases[0], [0.35, 0.35])
    np.testing.assert_array_equal(net.biases[1], [0.60, 0.60])
    assert net.layers == (2, 2, 2)
    assert net.bias == "shared"
    assert net.train_bias is False
    assert net.activations == ("logistic", "logistic")
    assert net.loss == "half_sse"


def test_trace_leaves_the_network_unchanged(net):
    before = net.params
    net.trace(X, T)
    net.trace(X, T, update="sequential")
    assert np.array_equal(net.params, before)


def test_tutorial_biases_are_not_trained(net, trace):
    np.testing.assert_array_equal(np.asarray(trace.new_biases[0]), [0.35])
    np.testing.assert_array_equal(np.asarray(trace.new_biases[1]), [0.60])
    net.train(X, T, epochs=3)
    np.testing.assert_array_equal(net.biases[0], [0.35, 0.35])
    np.testing.assert_array_equal(net.biases[1], [0.60, 0.60])


@pytest.mark.parametrize("layer, j, i, printed", NEW_WEIGHTS.values(), ids=NEW_WEIGHTS.keys())
def test_one_training_step_gives_the_seeds_new_weights(net, layer, j, i, printed):
    net.train(X, T, epochs=1)
    assert_printed(net.weights[layer][j, i], printed)


@pytest.mark.parametrize("update", bp.UPDATES)
def test_train_and_trace_take_the_same_step(net, update):
    """The weights after ``train(epochs=1)`` are exactly the trace's new weights."""
    trace = net.trace(X, T, update=update)
    net.train(X, T, epochs=1, update=update)
    for layer in range(2):
        np.testing.assert_array_equal(net.weights[layer], np.asarray(trace.new_weights[layer]))


def test_update_orders_differ(net):
    """Sequential back-propagates through the already updated output weights."""
    simultaneous = np.asarray(net.trace(X, T).new_weights[0])
    sequential = np.asarray(net.trace(X, T, update="sequential").new_weights[0])
    assert not np.array_equal(simultaneous, sequential)


def test_default_update_is_simultaneous(net):
    assert net.trace(X, T).update == "simultaneous"
    assert np.array_equal(
        net.train(X, T, epochs=2),
        bp.Network.tutorial().train(X, T, epochs=2, update="simultaneous"),
    )


@pytest.mark.parametrize(
    "update, printed",
    [
        ("simultaneous", "0.29102777369"),
        ("sequential", "0.291027924"),
    ],
)
def test_error_after_one_update(net, update, printed):
    net.train(X, T, epochs=1, update=update)
    assert_printed(net.total_error(X, T), printed)


@pytest.mark.parametrize("update", bp.UPDATES)
def test_first_history_entry_is_the_starting_error(net, update):
    history = net.train(X, T, epochs=2, update=update)
    assert_printed(history[0], "0.298371109")


@pytest.fixture(scope="module")
def trained():
    """``trained(update) -> (net, history)``: the tutorial network after 10,000
    updates (computed once per update order)."""
    runs = {}

    def run(update):
        if update not in runs:
            net = bp.Network.tutorial()
            runs[update] = net, net.train(X, T, epochs=10_000, update=update)
        return runs[update]

    return run


# (update order, what, printed)
AFTER_10000 = [
    ("simultaneous", "error", "3.5101877830e-05"),
    ("simultaneous", "history[9999]", "0.0000351085"),
    ("simultaneous", "out_o1", "0.0159136204"),
    ("simultaneous", "out_o2", "0.9840642735"),
    ("sequential", "out_o1", "0.015912196"),
    ("sequential", "out_o2", "0.984065734"),
]


@pytest.mark.parametrize(
    "update, what, printed", AFTER_10000, ids=[f"{u}-{w}" for u, w, _ in AFTER_10000]
)
def test_after_10000_updates(trained, update, what, printed):
    net, history = trained(update)
    value = {
        "error": lambda: net.total_error(X, T),
        "history[9999]": lambda: history[9999],
        "out_o1": lambda: net.forward(X)[0],
        "out_o2": lambda: net.forward(X)[1],
    }[what]()
    assert_printed(value, printed)


@pytest.mark.parametrize("update", bp.UPDATES)
def test_error_falls_steadily(trained, update):
    _, history = trained(update)
    assert history.shape == (10_000,)
    assert np.all(np.diff(history) < 0)

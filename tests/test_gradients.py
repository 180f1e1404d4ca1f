"""The trace's gradients are the derivatives of the error: a finite-difference check.

For one sample, every weight and bias value is nudged by +-h through the
constructor (``bp.Network(sizes, weights=..., biases=..., ...)``) and the central
difference (E(p + h) - E(p - h)) / 2h of ``total_error`` is compared with
``Trace.weight_gradients`` / ``Trace.bias_gradients``.  Only the simultaneous
update is checked: it back-propagates through the weights of the forward pass,
so its gradients are those of the error (sequential ones are not, by design).

Tolerance: the central difference has a truncation error O(h^2 E''') ~ 1e-12 and
a round-off error O(eps E / h) ~ 1e-16 / 1e-6 = 1e-10 for errors of order one, so
rtol=1e-6 with atol=1e-9 leaves a wide margin and still catches any wrong factor
or missing term (which would be of the order of the gradient itself).
"""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp

H = 1e-6
RTOL, ATOL = 1e-6, 1e-9

SIZES = [(3, 5, 2), (4, 7, 6, 3), (2, 1, 2), (1, 1), (5, 4, 4, 4, 2)]
KINKED = ("relu", "leaky_relu")


def _rebuild(net, weights, biases):
    """A network with ``net``'s options and the given weights and biases."""
    if net.bias == "none":
        biases = None
    elif net.bias == "shared":
        biases = [float(b[0]) for b in biases]  # one value per layer
    return bp.Network(
        net.layers,
        weights=weights,
        biases=biases,
        bias=net.bias,
        activation=list(net.activations),
        loss=net.loss,
        engine=net.engine,
    )


def _central_difference(net, x, t, nudge):
    """(E(p + h) - E(p - h)) / 2h where ``nudge(weights, biases, step)`` moves p."""
    errors = []
    for step in (H, -H):
        weights, biases = net.weights, net.biases
        nudge(weights, biases, step)
        errors.append(_rebuild(net, weights, biases).total_error(x, t))
    return (errors[0] - errors[1]) / (2 * H)


def _numerical_gradients(net, x, t):
    """Finite-difference dE/dw (per matrix) and dE/db (per bias value) of one sample."""
    weight_grads = [np.zeros_like(w) for w in net.weights]
    bias_grads = []
    for layer, w in enumerate(net.weights):
        for j, i in np.ndindex(w.shape):

            def nudge_weight(weights, biases, step, layer=layer, j=j, i=i):
                weights[layer][j, i] += step

            weight_grads[layer][j, i] = _central_difference(net, x, t, nudge_weight)

        n_values = {"none": 0, "shared": 1, "per-neuron": w.shape[0]}[net.bias]
        grads = np.zeros(n_values)
        for j in range(n_values):

            def nudge_bias(weights, biases, step, layer=layer, j=j):
                if net.bias == "shared":
                    biases[layer] += step  # the one shared value, repeated per unit
                else:
                    biases[layer][j] += step

            grads[j] = _central_difference(net, x, t, nudge_bias)
        bias_grads.append(grads)
    return weight_grads, bias_grads


@pytest.mark.parametrize("sizes", SIZES, ids=["-".join(map(str, s)) for s in SIZES])
def test_gradients_match_finite_differences(sizes, bias_mode, net_options, engine, make_data):
    net = bp.Network(
        sizes, seed=3 * len(sizes) + sizes[0], bias=bias_mode, engine=engine, **net_options
    )
    X, T = make_data(sizes[0], sizes[-1], 1, net_options, seed=sum(sizes))
    x, t = X[0], T[0]
    trace = net.trace(x, t)

    # A piecewise-linear unit within h of its kink has no central difference to
    # compare with.  A nudge of h moves a net input by about h times an input or
    # weight (all below ~1 here); the seeds above keep every such net input more
    # than 100 h away from 0.
    for layer, activation in enumerate(net.activations):
        if activation in KINKED:
            assert np.min(np.abs(trace.net_inputs[layer])) > 100 * H, "choose another seed"

    weight_grads, bias_grads = _numerical_gradients(net, x, t)
    for layer in range(len(sizes) - 1):
        np.testing.assert_allclose(
            trace.weight_gradients[layer],
            weight_grads[layer],
            rtol=RTOL,
            atol=ATOL,
            err_msg=f"weights[{layer}]",
        )
        np.testing.assert_allclose(
            trace.bias_gradients[layer],
            bias_grads[layer],
            rtol=RTOL,
            atol=ATOL,
            err_msg=f"biases[{layer}]",
        )


@pytest.mark.parametrize("bias_mode, n_values", [("per-neuron", 3), ("shared", 1), ("none", 0)])
def test_bias_gradient_layout(bias_mode, n_values):
    """One value per unit, one per layer (the sum of the layer's deltas), or none."""
    net = bp.Network([2, 3, 3], seed=5, bias=bias_mode)
    trace = net.trace([0.3, -0.2], [0.1, 0.5, 0.9])
    for layer in range(2):
        gradients = np.asarray(trace.bias_gradients[layer])
        assert gradients.shape == (n_values,)
        deltas = np.asarray(trace.deltas[layer])
        if bias_mode == "shared":
            np.testing.assert_allclose(gradients, [deltas.sum()], rtol=1e-15)
        elif bias_mode == "per-neuron":
            np.testing.assert_array_equal(gradients, deltas)


def test_weight_gradient_is_delta_times_input():
    """dE/dw[j, i] = delta_j * a_i: the delta rule of the seed."""
    net = bp.Network([3, 4, 2], seed=9)
    x = np.array([0.2, -0.7, 0.4])
    trace = net.trace(x, [0.3, 0.6])
    inputs = [x, np.asarray(trace.outputs[0])]
    for layer in range(2):
        np.testing.assert_array_equal(
            np.asarray(trace.weight_gradients[layer]), np.outer(trace.deltas[layer], inputs[layer])
        )

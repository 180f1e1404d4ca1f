"""Shared fixtures of the backprop test suite.

The suite runs twice in CI: once plainly and once with ``BACKPROP_ENGINE=python``.
Tests that build a network without ``engine=`` follow that choice; tests that
compare the engines, or pin a bug to one engine, name the engine explicitly.
"""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp

#: Option sets of the random networks used by the engine and gradient tests:
#: every activation, every loss, cross-entropy only with a logistic or softmax
#: output layer.
NET_OPTIONS = {
    "logistic/half_sse": dict(activation="logistic", loss="half_sse"),
    "tanh>logistic/mse": dict(activation="tanh", output_activation="logistic", loss="mse"),
    "relu>linear/half_sse": dict(activation="relu", output_activation="linear", loss="half_sse"),
    "leaky_relu>tanh/mse": dict(activation="leaky_relu", output_activation="tanh", loss="mse"),
    "linear>softmax/half_sse": dict(activation="linear", output_activation="softmax",
                                    loss="half_sse"),
    "tanh>softmax/cross_entropy": dict(activation="tanh", output_activation="softmax",
                                       loss="cross_entropy"),
    "logistic/cross_entropy": dict(activation="logistic", loss="cross_entropy"),
    "leaky_relu>logistic/cross_entropy": dict(activation="leaky_relu",
                                              output_activation="logistic",
                                              loss="cross_entropy"),
    "relu>softmax/mse": dict(activation="relu", output_activation="softmax", loss="mse"),
}


def pytest_report_header(config):
    return f"backprop default engine: {bp.default_engine()}"


@pytest.fixture(params=list(NET_OPTIONS.values()), ids=list(NET_OPTIONS))
def net_options(request) -> dict:
    """Keyword arguments of ``bp.Network``: activations and loss."""
    return dict(request.param)


@pytest.fixture(params=bp.BIAS_MODES)
def bias_mode(request) -> str:
    return request.param


def _make_data(n_in: int, n_out: int, n_samples: int, options: dict, seed: int):
    """Random inputs in [-1, 1] and targets that suit the output layer and loss.

    Softmax outputs get probability rows (summing to 1), logistic outputs values
    in (0, 1), tanh outputs values in (-1, 1), other outputs any real.
    """
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, n_in))
    output = options.get("output_activation") or options.get("activation", "logistic")
    if output == "softmax":
        T = rng.uniform(0.05, 1.0, size=(n_samples, n_out))
        T /= T.sum(axis=1, keepdims=True)
    elif output == "logistic":
        T = rng.uniform(0.05, 0.95, size=(n_samples, n_out))
    else:
        T = rng.uniform(-0.9, 0.9, size=(n_samples, n_out))
    return X, T


@pytest.fixture
def make_data():
    """``make_data(n_in, n_out, n_samples, options, seed) -> (X, T)``."""
    return _make_data

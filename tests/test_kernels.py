"""The compiled engine's specialised kernels give the generic kernels' bits.

The seed's shape (2-2-2, logistic, half-SSE) trains in a loop that keeps every
value in a register (``train_loop_seed``); plain online SGD otherwise runs the
generic fused loop.  Online SGD with ``shuffle=True`` goes through the general
plan loop, one generic step per sample; with a single sample the shuffled order
is the plain order, so the two calls below must agree bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp

# skipped where the compiled engine is not built; run under each of its SIMD levels
pytestmark = pytest.mark.usefixtures("core", "simd_level")


@pytest.mark.parametrize(
    "sizes", [(2, 2, 2), (2, 3, 2), (3, 2, 2, 2)], ids=["seed-shape", "wider", "deeper"]
)
@pytest.mark.parametrize("update", ["simultaneous", "sequential"])
@pytest.mark.parametrize(
    "bias, train_bias", [("per-neuron", True), ("shared", True), ("shared", False), ("none", False)]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_loops_match_the_generic_step(sizes, update, bias, train_bias, dtype):
    rng = np.random.default_rng(sum(sizes))
    x = rng.uniform(0.0, 1.0, sizes[0]).astype(dtype)
    t = rng.uniform(0.05, 0.95, sizes[-1]).astype(dtype)
    fast = bp.Network(
        list(sizes), seed=3, bias=bias, train_bias=train_bias, dtype=dtype, engine="cython"
    )
    generic = fast.copy()
    # learning rate 0.7: not a power of two, so every product's rounding shows
    h_fast = fast.train(x, t, epochs=300, learning_rate=0.7, update=update)
    h_generic = generic.train(
        x, t, epochs=300, learning_rate=0.7, update=update, shuffle=True, seed=0
    )
    np.testing.assert_array_equal(h_fast, h_generic)
    np.testing.assert_array_equal(fast.params, generic.params)
    assert not np.array_equal(
        fast.params,
        bp.Network(list(sizes), seed=3, bias=bias, train_bias=train_bias, dtype=dtype).params,
    )

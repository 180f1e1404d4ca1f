"""Correctness guard of the benchmark: every engine computes the same thing.

Not timed (no ``benchmark`` fixture); marked ``benchmark_guard`` so that it runs
in the benchmark session, ``--benchmark-only`` included.
"""

from __future__ import annotations

import numpy as np
import pytest

from backprop import _peers, bench

pytestmark = pytest.mark.benchmark_guard

SIZES = (3, 5, 4, 2)
EPOCHS = 4
LEARNING_RATE = 0.7


def _peer_or_skip(name: str, *args, **kwargs) -> _peers.Peer:
    if not _peers.available(name):
        pytest.skip(f"peer {name!r} unavailable")
    return _peers.make_peer(name, *args, **kwargs)


def _forward(weights: list[np.ndarray], biases: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    for w, b in zip(weights, biases):
        a = 1.0 / (1.0 + np.exp(-(w @ a + b)))
    return a


@pytest.mark.parametrize("name", _peers.PEERS)
def test_peer_reproduces_tutorial(name: str) -> None:
    """The seed's 2-2-2 network, biases untrained, 10,000 updates at lr 0.5."""
    x, t = np.array(bench.SEED_X), np.array(bench.SEED_T)
    peer = _peer_or_skip(
        name, (2, 2, 2), bench.TUTORIAL_WEIGHTS, bench.TUTORIAL_BIASES, x, t, 0.5, train_bias=False
    )
    history = peer.train(10_000)
    assert history.shape == (10_000,)
    assert history[0] == pytest.approx(0.298371109, abs=1e-9)
    assert history[9999] == pytest.approx(3.51085481e-05, rel=1e-8)
    out = _forward(peer.weights, peer.biases, x)
    assert 0.5 * float(((t - out) ** 2).sum()) == pytest.approx(3.5101877830e-05, rel=1e-9)
    np.testing.assert_allclose(out, [0.0159136204, 0.9840642735], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(np.concatenate(peer.biases), [0.35, 0.35, 0.60, 0.60])


@pytest.mark.parametrize("engine", bench.LIBRARY_ENGINES)
@pytest.mark.parametrize("name", _peers.PEERS)
def test_peer_agrees_with_library(name: str, engine: str) -> None:
    """Final weights, biases and history agree with ``Network`` to 1e-9 relative."""
    if not bench.engine_available(engine):
        pytest.skip(f"engine {engine!r} unavailable")
    from backprop import Network

    # numba_222 and c_222 know one shape, numba_2d one hidden layer
    sizes = {"numba_222": (2, 2, 2), "c_222": (2, 2, 2), "numba_2d": SIZES[:2] + SIZES[-1:]}.get(
        name, SIZES
    )
    rng = np.random.default_rng(7)
    weights, biases = bench.init_params(sizes, seed=11)
    X = rng.uniform(0.0, 1.0, (6, sizes[0]))
    T = rng.uniform(0.05, 0.95, (6, sizes[-1]))
    peer = _peer_or_skip(name, sizes, weights, biases, X, T, LEARNING_RATE)
    net = Network(list(sizes), weights=weights, biases=biases, engine=engine)
    peer_history = peer.train(EPOCHS)
    net_history = net.train(X, T, epochs=EPOCHS, learning_rate=LEARNING_RATE)
    np.testing.assert_allclose(peer_history, net_history, rtol=1e-9, atol=0)
    for got, want in zip(peer.weights + peer.biases, list(net.weights) + list(net.biases)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)
    # The network did move: the check is not vacuous.
    assert not np.allclose(peer.weights[0], weights[0])


@pytest.mark.parametrize("engine", bench.LIBRARY_ENGINES)
@pytest.mark.parametrize("name", _peers.BATCH_PEERS)
def test_batch_peer_agrees_with_library(name: str, engine: str) -> None:
    """Mini-batches of 3 over 10 samples (a last batch of 1): the peer and
    ``Network.train(..., batch_size=3)`` agree to 1e-10 relative."""
    if not bench.engine_available(engine):
        pytest.skip(f"engine {engine!r} unavailable")
    from backprop import Network

    rng = np.random.default_rng(5)
    weights, biases = bench.init_params(SIZES, seed=13)
    X = rng.uniform(0.0, 1.0, (10, SIZES[0]))
    T = rng.uniform(0.05, 0.95, (10, SIZES[-1]))
    peer = _peer_or_skip(name, SIZES, weights, biases, X, T, LEARNING_RATE, batch_size=3)
    net = Network(list(SIZES), weights=weights, biases=biases, engine=engine)
    peer_history = peer.train(EPOCHS)
    net_history = net.train(X, T, epochs=EPOCHS, learning_rate=LEARNING_RATE, batch_size=3)
    np.testing.assert_allclose(peer_history, net_history, rtol=1e-10, atol=0)
    for got, want in zip(peer.weights + peer.biases, list(net.weights) + list(net.biases)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15)
    # Mini-batches are not online SGD: the check tells them apart.
    online = Network(list(SIZES), weights=weights, biases=biases, engine=engine)
    online.train(X, T, epochs=EPOCHS, learning_rate=LEARNING_RATE)
    assert not np.allclose(peer.weights[0], online.weights[0], rtol=1e-6, atol=0)


def test_online_only_peer_rejects_batches() -> None:
    x, t = np.array(bench.SEED_X), np.array(bench.SEED_T)
    with pytest.raises(ValueError, match="online"):
        _peers.make_peer(
            "python_loop", (2, 2, 2), bench.TUTORIAL_WEIGHTS, bench.TUTORIAL_BIASES, x, t,
            batch_size=2,
        )  # fmt: skip

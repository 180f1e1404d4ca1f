"""Independent implementations of backprop's maths: what users would pick instead.

These "peers" are used only by the benchmarks (``benchmarks/``) and by
``backprop bench``.  Each one re-implements, without sharing any code with the
package core, the same online training rule:

* a fully-connected network with layer sizes ``[n0, n1, ..., nL]``;
  ``weights[l]`` has shape ``(n_{l+1}, n_l)`` (``weights[l][j, i]`` connects
  unit ``i`` of layer ``l`` to unit ``j`` of layer ``l+1``) and ``biases[l]``
  has shape ``(n_{l+1},)``;
* the logistic activation ``1 / (1 + exp(-net))`` on every layer and the
  per-sample loss ``E = sum_k 1/2 (t_k - o_k)**2``;
* one update per sample, samples in order.  Per sample: forward pass, record
  ``E``; output delta ``d_L = (o - t) * o * (1 - o)``; hidden deltas
  ``d_l = (W_l^T d_{l+1}) * a_l * (1 - a_l)`` with the *pre-update* weights;
  then every ``W_l -= lr * outer(d_{l+1}, a_l)`` and ``b_l -= lr * d_{l+1}``
  (the biases only when ``train_bias`` is true);
* the history entry of an epoch is the sum of the per-sample ``E`` measured in
  the forward pass just before that sample's update.

Peers (see :data:`PEERS`):

``numpy``
    a per-sample Python loop over NumPy arrays, as a user writes it by hand;
``numba``
    the whole epoch/sample loop compiled with ``numba.njit`` over flat arrays;
``torch``
    PyTorch eager mode: ``nn.Linear`` + ``torch.sigmoid``, autograd and
    ``torch.optim.SGD``, float64, one thread;
``python_loop``
    a compact pure-Python loop over lists with ``math.exp``, in the style of
    the seed's original script.

NumPy is the only hard dependency; Numba and PyTorch are imported lazily, so
this module imports without them.  Use :func:`available` to ask whether a peer
can run and :func:`make_peer` to build one.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "PEERS",
    "Peer",
    "PeerUnavailableError",
    "available",
    "has_module",
    "make_peer",
    "numpy_peer",
    "numba_peer",
    "torch_peer",
    "python_loop_peer",
]

FloatArray = NDArray[np.float64]

#: Names of all peers, in the order the benchmarks list them.
PEERS: tuple[str, ...] = ("numpy", "numba", "torch", "python_loop")

#: Third-party module each peer needs beyond NumPy.
_REQUIRES: dict[str, str | None] = {
    "numpy": None,
    "numba": "numba",
    "torch": "torch",
    "python_loop": None,
}


class PeerUnavailableError(ImportError):
    """Raised when a peer's optional dependency (Numba, PyTorch) is missing."""


class Peer(Protocol):
    """What every peer factory returns."""

    def train(self, epochs: int = 1) -> FloatArray:
        """Run ``epochs`` epochs over the peer's samples; one error per epoch."""
        ...

    @property
    def weights(self) -> list[FloatArray]:
        """Current weight matrices, ``weights[l]`` of shape ``(n_{l+1}, n_l)``."""
        ...

    @property
    def biases(self) -> list[FloatArray]:
        """Current bias vectors, ``biases[l]`` of shape ``(n_{l+1},)``."""
        ...


def has_module(module: str) -> bool:
    """Whether top-level ``module`` is importable, without importing it."""
    if module in sys.modules:
        return sys.modules[module] is not None  # None: import blocked
    return importlib.util.find_spec(module) is not None


def available(name: str) -> bool:
    """Return whether peer ``name`` can run here (its dependency is importable)."""
    if name not in _REQUIRES:
        raise ValueError(f"unknown peer {name!r}; expected one of {PEERS}")
    module = _REQUIRES[name]
    return module is None or has_module(module)


def _require(name: str) -> None:
    """Raise :class:`PeerUnavailableError` unless peer ``name`` is available."""
    if not available(name):
        raise PeerUnavailableError(
            f"peer {name!r} is unavailable: the {_REQUIRES[name]!r} package is not installed"
        )


def _prepare(
    sizes: Sequence[int],
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike],
    X: ArrayLike,
    T: ArrayLike,
) -> tuple[list[int], list[FloatArray], list[FloatArray], FloatArray, FloatArray]:
    """Validate the arguments and return private float64 C-contiguous copies.

    ``X`` and ``T`` may be 1-D (a single sample) or 2-D ``(n_samples, n)``.
    """
    sizes = [int(n) for n in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least two positive layer sizes, got {sizes}")
    n_layers = len(sizes) - 1
    if len(weights) != n_layers or len(biases) != n_layers:
        raise ValueError(f"expected {n_layers} weight matrices and bias vectors")
    ws = [np.array(w, dtype=np.float64, order="C", copy=True) for w in weights]
    bs = [np.array(b, dtype=np.float64, order="C", copy=True) for b in biases]
    for layer, (w, b) in enumerate(zip(ws, bs)):
        if w.shape != (sizes[layer + 1], sizes[layer]) or b.shape != (sizes[layer + 1],):
            raise ValueError(
                f"layer {layer}: weights {w.shape} / biases {b.shape} do not match sizes {sizes}"
            )
    x = np.array(np.atleast_2d(X), dtype=np.float64, order="C", copy=True)
    t = np.array(np.atleast_2d(T), dtype=np.float64, order="C", copy=True)
    if x.shape[1] != sizes[0] or t.shape[1] != sizes[-1] or x.shape[0] != t.shape[0]:
        raise ValueError(f"X {x.shape} / T {t.shape} do not match sizes {sizes}")
    return sizes, ws, bs, x, t


# --------------------------------------------------------------------------- numpy


class _NumpyPeer:
    """Per-sample Python loop over NumPy arrays (``W @ a``, ``np.outer``, ``-=``)."""

    def __init__(
        self,
        sizes: list[int],
        weights: list[FloatArray],
        biases: list[FloatArray],
        X: FloatArray,
        T: FloatArray,
        learning_rate: float,
        train_bias: bool,
    ) -> None:
        self._w, self._b, self._x, self._t = weights, biases, X, T
        self._lr = float(learning_rate)
        self._train_bias = train_bias

    @property
    def weights(self) -> list[FloatArray]:
        return self._w

    @property
    def biases(self) -> list[FloatArray]:
        return self._b

    def train(self, epochs: int = 1) -> FloatArray:
        ws, bs, lr, train_bias = self._w, self._b, self._lr, self._train_bias
        history = np.empty(epochs)
        for epoch in range(epochs):
            total = 0.0
            for x, t in zip(self._x, self._t):
                acts = [x]
                for w, b in zip(ws, bs):
                    acts.append(1.0 / (1.0 + np.exp(-(w @ acts[-1] + b))))
                out = acts[-1]
                diff = out - t
                total += 0.5 * float(diff @ diff)
                delta = diff * out * (1.0 - out)
                for layer in range(len(ws) - 1, -1, -1):
                    a = acts[layer]
                    # Delta of the layer below, from the weights *before* their update.
                    below = (ws[layer].T @ delta) * a * (1.0 - a) if layer else None
                    ws[layer] -= lr * np.outer(delta, a)
                    if train_bias:
                        bs[layer] -= lr * delta
                    delta = below
            history[epoch] = total
        return history


def numpy_peer(
    sizes: Sequence[int],
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike],
    X: ArrayLike,
    T: ArrayLike,
    learning_rate: float = 0.5,
    *,
    train_bias: bool = True,
) -> Peer:
    """Build the hand-written NumPy peer (a per-sample Python loop)."""
    return _NumpyPeer(*_prepare(sizes, weights, biases, X, T), learning_rate, train_bias)


# --------------------------------------------------------------------------- numba

_numba_kernel: Callable[..., None] | None = None


def _get_numba_kernel() -> Callable[..., None]:
    """Compile (once per process) and return the Numba training kernel."""
    global _numba_kernel
    if _numba_kernel is not None:
        return _numba_kernel
    import numba

    @numba.njit(cache=False, fastmath=False)
    def train_kernel(  # type: ignore[no-untyped-def]
        sizes, w, w_off, b, b_off, a_off, X, T, lr, epochs, train_bias, act, delta, history
    ):
        """Whole training loop over flat arrays.

        Layer ``l``'s weights are ``w[w_off[l]:w_off[l+1]]`` (row-major, rows of
        length ``sizes[l]``), its biases and deltas live at ``b_off[l]`` in
        ``b`` and ``delta``; activations of layer ``l`` start at ``a_off[l]``.
        """
        n_layers = sizes.shape[0] - 1
        n_out = sizes[n_layers]
        for epoch in range(epochs):
            total = 0.0
            for s in range(X.shape[0]):
                for i in range(sizes[0]):
                    act[i] = X[s, i]
                # Forward pass.
                for l in range(n_layers):
                    n_in = sizes[l]
                    a_in = a_off[l]
                    a_out = a_off[l + 1]
                    for j in range(sizes[l + 1]):
                        row = w_off[l] + j * n_in
                        net = b[b_off[l] + j]
                        for i in range(n_in):
                            net += w[row + i] * act[a_in + i]
                        act[a_out + j] = 1.0 / (1.0 + np.exp(-net))
                # Error and output delta.
                a_out = a_off[n_layers]
                d_out = b_off[n_layers - 1]
                for k in range(n_out):
                    o = act[a_out + k]
                    diff = o - T[s, k]
                    total += 0.5 * diff * diff
                    delta[d_out + k] = diff * o * (1.0 - o)
                # Hidden deltas, with the weights still untouched.
                for l in range(n_layers - 1, 0, -1):
                    n_in = sizes[l]
                    d_in = b_off[l - 1]
                    d_above = b_off[l]
                    for i in range(n_in):
                        delta[d_in + i] = 0.0
                    for j in range(sizes[l + 1]):
                        dj = delta[d_above + j]
                        row = w_off[l] + j * n_in
                        for i in range(n_in):
                            delta[d_in + i] += w[row + i] * dj
                    a_in = a_off[l]
                    for i in range(n_in):
                        a = act[a_in + i]
                        delta[d_in + i] *= a * (1.0 - a)
                # Simultaneous update of every layer.
                for l in range(n_layers):
                    n_in = sizes[l]
                    a_in = a_off[l]
                    for j in range(sizes[l + 1]):
                        step = lr * delta[b_off[l] + j]
                        row = w_off[l] + j * n_in
                        for i in range(n_in):
                            w[row + i] -= step * act[a_in + i]
                        if train_bias:
                            b[b_off[l] + j] -= step
            history[epoch] = total

    _numba_kernel = train_kernel
    return train_kernel


class _NumbaPeer:
    """The training loop compiled by Numba over flat, contiguous arrays."""

    def __init__(
        self,
        sizes: list[int],
        weights: list[FloatArray],
        biases: list[FloatArray],
        X: FloatArray,
        T: FloatArray,
        learning_rate: float,
        train_bias: bool,
    ) -> None:
        self._kernel = _get_numba_kernel()
        self._sizes = np.asarray(sizes, dtype=np.int64)
        self._w_off = np.concatenate(([0], np.cumsum([w.size for w in weights]))).astype(np.int64)
        self._b_off = np.concatenate(([0], np.cumsum(sizes[1:]))).astype(np.int64)
        self._a_off = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        self._w = np.concatenate([w.ravel() for w in weights])
        self._b = np.concatenate(biases)
        self._act = np.zeros(int(self._a_off[-1]))
        self._delta = np.zeros(int(self._b_off[-1]))
        self._x, self._t = X, T
        self._lr = float(learning_rate)
        self._train_bias = bool(train_bias)
        self._shapes = [w.shape for w in weights]
        # Compile now (zero epochs trains nothing) so that timings exclude it.
        self._run(0)

    def _run(self, epochs: int) -> FloatArray:
        history = np.empty(epochs)
        self._kernel(
            self._sizes, self._w, self._w_off, self._b, self._b_off, self._a_off,
            self._x, self._t, self._lr, epochs, self._train_bias,
            self._act, self._delta, history,
        )  # fmt: skip
        return history

    def train(self, epochs: int = 1) -> FloatArray:
        return self._run(epochs)

    @property
    def weights(self) -> list[FloatArray]:
        return [
            self._w[self._w_off[l] : self._w_off[l + 1]].reshape(shape)
            for l, shape in enumerate(self._shapes)
        ]

    @property
    def biases(self) -> list[FloatArray]:
        return [self._b[self._b_off[l] : self._b_off[l + 1]] for l in range(len(self._shapes))]


def numba_peer(
    sizes: Sequence[int],
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike],
    X: ArrayLike,
    T: ArrayLike,
    learning_rate: float = 0.5,
    *,
    train_bias: bool = True,
) -> Peer:
    """Build the Numba peer; compiles the kernel on first use (excluded from timings)."""
    _require("numba")
    return _NumbaPeer(*_prepare(sizes, weights, biases, X, T), learning_rate, train_bias)


# --------------------------------------------------------------------------- torch


class _TorchPeer:
    """PyTorch eager: ``nn.Linear`` layers, autograd and ``torch.optim.SGD``."""

    def __init__(
        self,
        sizes: list[int],
        weights: list[FloatArray],
        biases: list[FloatArray],
        X: FloatArray,
        T: FloatArray,
        learning_rate: float,
        train_bias: bool,
    ) -> None:
        import torch

        torch.set_num_threads(1)
        self._torch = torch
        self._layers: list[Any] = []
        for n_in, n_out, w, b in zip(sizes, sizes[1:], weights, biases):
            layer = torch.nn.Linear(n_in, n_out, dtype=torch.float64)
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(w))
                layer.bias.copy_(torch.from_numpy(b))
            layer.bias.requires_grad_(train_bias)
            self._layers.append(layer)
        params = [p for layer in self._layers for p in layer.parameters() if p.requires_grad]
        self._opt = torch.optim.SGD(params, lr=float(learning_rate))
        self._x = torch.from_numpy(X)
        self._t = torch.from_numpy(T)

    def train(self, epochs: int = 1) -> FloatArray:
        history = np.empty(epochs)
        for epoch in range(epochs):
            total = 0.0
            for x, t in zip(self._x, self._t):
                out = x
                for layer in self._layers:
                    out = self._torch.sigmoid(layer(out))
                loss = 0.5 * ((out - t) ** 2).sum()
                self._opt.zero_grad()
                loss.backward()
                self._opt.step()
                total += loss.item()
            history[epoch] = total
        return history

    @property
    def weights(self) -> list[FloatArray]:
        return [layer.weight.detach().numpy().copy() for layer in self._layers]

    @property
    def biases(self) -> list[FloatArray]:
        return [layer.bias.detach().numpy().copy() for layer in self._layers]


def torch_peer(
    sizes: Sequence[int],
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike],
    X: ArrayLike,
    T: ArrayLike,
    learning_rate: float = 0.5,
    *,
    train_bias: bool = True,
) -> Peer:
    """Build the PyTorch peer (eager, float64, ``torch.set_num_threads(1)``)."""
    _require("torch")
    return _TorchPeer(*_prepare(sizes, weights, biases, X, T), learning_rate, train_bias)


# --------------------------------------------------------------------------- python_loop


class _PythonLoopPeer:
    """Pure Python over nested lists with ``math.exp``, like the seed's script."""

    def __init__(
        self,
        sizes: list[int],
        weights: list[FloatArray],
        biases: list[FloatArray],
        X: FloatArray,
        T: FloatArray,
        learning_rate: float,
        train_bias: bool,
    ) -> None:
        self._w: list[list[list[float]]] = [w.tolist() for w in weights]
        self._b: list[list[float]] = [b.tolist() for b in biases]
        self._samples = list(zip(X.tolist(), T.tolist()))
        self._lr = float(learning_rate)
        self._train_bias = train_bias

    def train(self, epochs: int = 1) -> FloatArray:
        exp, lr, ws, bs = math.exp, self._lr, self._w, self._b
        history = []
        for _ in range(epochs):
            total = 0.0
            for x, t in self._samples:
                acts = [x]
                for w, b in zip(ws, bs):
                    a = acts[-1]
                    acts.append(
                        [1.0 / (1.0 + exp(-(sum(wi * ai for wi, ai in zip(row, a)) + bj)))
                         for row, bj in zip(w, b)]
                    )  # fmt: skip
                out = acts[-1]
                total += sum(0.5 * (tk - ok) ** 2 for tk, ok in zip(t, out))
                deltas = [[(ok - tk) * ok * (1.0 - ok) for ok, tk in zip(out, t)]]
                for layer in range(len(ws) - 1, 0, -1):
                    d, a = deltas[0], acts[layer]
                    deltas.insert(
                        0,
                        [sum(row[i] * dj for row, dj in zip(ws[layer], d)) * ai * (1.0 - ai)
                         for i, ai in enumerate(a)],
                    )  # fmt: skip
                for w, b, d, a in zip(ws, bs, deltas, acts):
                    for j, dj in enumerate(d):
                        row = w[j]
                        for i, ai in enumerate(a):
                            row[i] -= lr * dj * ai
                        if self._train_bias:
                            b[j] -= lr * dj
            history.append(total)
        return np.array(history, dtype=np.float64)

    @property
    def weights(self) -> list[FloatArray]:
        return [np.array(w, dtype=np.float64) for w in self._w]

    @property
    def biases(self) -> list[FloatArray]:
        return [np.array(b, dtype=np.float64) for b in self._b]


def python_loop_peer(
    sizes: Sequence[int],
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike],
    X: ArrayLike,
    T: ArrayLike,
    learning_rate: float = 0.5,
    *,
    train_bias: bool = True,
) -> Peer:
    """Build the pure-Python list-and-``math.exp`` peer."""
    return _PythonLoopPeer(*_prepare(sizes, weights, biases, X, T), learning_rate, train_bias)


# --------------------------------------------------------------------------- registry

_FACTORIES: dict[str, Callable[..., Peer]] = {
    "numpy": numpy_peer,
    "numba": numba_peer,
    "torch": torch_peer,
    "python_loop": python_loop_peer,
}


def make_peer(
    name: str,
    sizes: Sequence[int],
    weights: Sequence[ArrayLike],
    biases: Sequence[ArrayLike],
    X: ArrayLike,
    T: ArrayLike,
    learning_rate: float = 0.5,
    *,
    train_bias: bool = True,
) -> Peer:
    """Build peer ``name`` (one of :data:`PEERS`).

    Raises :class:`PeerUnavailableError` when its dependency is not installed.
    """
    if name not in _FACTORIES:
        raise ValueError(f"unknown peer {name!r}; expected one of {PEERS}")
    return _FACTORIES[name](sizes, weights, biases, X, T, learning_rate, train_bias=train_bias)

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

With ``batch_size`` ``B > 1`` (the ``numpy``, ``numba`` and ``torch`` peers)
training is mini-batch SGD instead, as ``Network.train(..., batch_size=B)``:
the per-sample gradients of ``B`` consecutive samples (all computed with the
weights of the batch's forward pass) are summed and divided by their count (a
last, shorter batch by its own count), then one plain step
``W -= lr * mean_grad`` (and ``b``) is taken per batch; each sample's ``E`` is
measured in the forward pass of its batch.  ``batch_size=1`` is the online
rule above, computed exactly as before.

Peers (see :data:`PEERS`):

``numpy``
    a per-sample Python loop over NumPy arrays, as a user writes it by hand;
    with mini-batches, a per-batch loop of matrix products (``A @ W.T + b``,
    ``D.T @ A``, ``D @ W``), which NumPy hands to its BLAS;
``numba``
    the whole epoch/sample loop compiled with ``numba.njit`` over flat arrays
    (mini-batches: gradients accumulated sample by sample in the same loops);
``torch``
    PyTorch eager mode: ``nn.Linear`` + ``torch.sigmoid``, autograd and
    ``torch.optim.SGD``, float64, one thread; a mini-batch is one forward pass
    of the ``(B, n)`` batch and one ``step()``;
``numba_2d``
    the plain Numba loop a Numba user writes for one hidden layer: one
    ``@njit`` function over the 2-D weight arrays ``W1``, ``W2`` (shapes from
    the arrays), ``math.exp``, no fastmath; online SGD only;
``numba_222``
    Numba written for the seed's 2-2-2 shape only, every weight in a local;
``c_222``
    the same 2-2-2 loop in plain C, compiled with ``cc -O3`` (no other flag) the
    first time it is used and loaded with ``ctypes``; needs a C compiler;
``python_loop``
    a compact pure-Python loop over lists with ``math.exp``, in the style of
    the seed's original script.

NumPy is the only hard dependency; Numba and PyTorch are imported lazily, so
this module imports without them.  Use :func:`available` to ask whether a peer
can run and :func:`make_peer` to build one.
"""

from __future__ import annotations

import ctypes
import importlib.util
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BATCH_PEERS",
    "PEERS",
    "Peer",
    "PeerUnavailableError",
    "available",
    "has_module",
    "make_peer",
]

FloatArray = NDArray[np.float64]

#: Names of all peers, in the order the benchmarks list them.
PEERS: tuple[str, ...] = (
    "numpy",
    "numba",
    "numba_2d",
    "numba_222",
    "c_222",
    "torch",
    "python_loop",
)

#: Peers that take ``batch_size`` (mini-batch SGD) besides online SGD.
BATCH_PEERS: tuple[str, ...] = ("numpy", "numba", "torch")

#: Third-party module each peer needs beyond NumPy.
_REQUIRES: dict[str, str | None] = {
    "numpy": None,
    "numba": "numba",
    "numba_2d": "numba",
    "numba_222": "numba",
    "c_222": None,  # a C compiler (see ``available``)
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
    if name == "c_222":
        return _c_compiler() is not None
    module = _REQUIRES[name]
    return module is None or has_module(module)


def _require(name: str) -> None:
    """Raise :class:`PeerUnavailableError` unless peer ``name`` is available."""
    if not available(name):
        if name == "c_222":
            why = "no C compiler found ($CC or cc)"
        else:
            why = f"the {_REQUIRES[name]!r} package is not installed"
        raise PeerUnavailableError(f"peer {name!r} is unavailable: {why}")


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


def _batch(batch_size: int) -> int:
    """Validate a ``batch_size`` (a positive integer)."""
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


# --------------------------------------------------------------------------- numpy


class _NumpyPeer:
    """Per-sample Python loop over NumPy arrays (``W @ a``, ``np.outer``, ``-=``);
    per-batch matrix products for mini-batches."""

    def __init__(
        self,
        sizes: list[int],
        weights: list[FloatArray],
        biases: list[FloatArray],
        X: FloatArray,
        T: FloatArray,
        learning_rate: float,
        train_bias: bool,
        batch_size: int = 1,
    ) -> None:
        self._w, self._b, self._x, self._t = weights, biases, X, T
        self._lr = float(learning_rate)
        self._train_bias = train_bias
        self._batch_size = batch_size

    @property
    def weights(self) -> list[FloatArray]:
        return self._w

    @property
    def biases(self) -> list[FloatArray]:
        return self._b

    def train(self, epochs: int = 1) -> FloatArray:
        if self._batch_size > 1:
            return self._train_batches(epochs)
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

    def _train_batches(self, epochs: int) -> FloatArray:
        """Mini-batch SGD: one forward/backward pass of matrix products per batch."""
        ws, bs, lr, train_bias = self._w, self._b, self._lr, self._train_bias
        size, n = self._batch_size, len(self._x)
        history = np.empty(epochs)
        for epoch in range(epochs):
            total = 0.0
            for start in range(0, n, size):
                A, T = self._x[start : start + size], self._t[start : start + size]
                acts = [A]
                for w, b in zip(ws, bs):
                    acts.append(1.0 / (1.0 + np.exp(-(acts[-1] @ w.T + b))))
                out = acts[-1]
                diff = out - T
                total += 0.5 * float(np.sum(diff * diff))
                # Deltas of the mean loss: each row is one sample's delta / count.
                delta = diff * out * (1.0 - out) / len(A)
                for layer in range(len(ws) - 1, -1, -1):
                    a = acts[layer]
                    below = (delta @ ws[layer]) * a * (1.0 - a) if layer else None
                    ws[layer] -= lr * (delta.T @ a)
                    if train_bias:
                        bs[layer] -= lr * delta.sum(axis=0)
                    delta = below
            history[epoch] = total
        return history


# --------------------------------------------------------------------------- numba

_numba_kernels: tuple[Callable[..., None], Callable[..., None]] | None = None


def _get_numba_kernels() -> tuple[Callable[..., None], Callable[..., None]]:
    """Compile (once per process) and return the online and mini-batch kernels."""
    global _numba_kernels
    if _numba_kernels is not None:
        return _numba_kernels
    import numba

    @numba.njit(cache=False, fastmath=False)
    def sample_pass(  # type: ignore[no-untyped-def]
        sizes, w, w_off, b, b_off, a_off, X, T, s, act, delta
    ):
        """Forward and backward pass of sample ``s``; returns its error.

        Leaves the activations in ``act`` and every layer's delta in ``delta``
        (computed with the weights as they are: nothing is updated).  Layer
        ``l``'s weights are ``w[w_off[l]:w_off[l+1]]`` (row-major, rows of
        length ``sizes[l]``), its biases and deltas live at ``b_off[l]`` in
        ``b`` and ``delta``; activations of layer ``l`` start at ``a_off[l]``.
        """
        n_layers = sizes.shape[0] - 1
        n_out = sizes[n_layers]
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
        error = 0.0
        a_out = a_off[n_layers]
        d_out = b_off[n_layers - 1]
        for k in range(n_out):
            o = act[a_out + k]
            diff = o - T[s, k]
            error += 0.5 * diff * diff
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
        return error

    @numba.njit(cache=False, fastmath=False)
    def train_kernel(  # type: ignore[no-untyped-def]
        sizes, w, w_off, b, b_off, a_off, X, T, lr, epochs, train_bias, act, delta, history
    ):
        """Online SGD over flat arrays (layout: see ``sample_pass``)."""
        n_layers = sizes.shape[0] - 1
        for epoch in range(epochs):
            total = 0.0
            for s in range(X.shape[0]):
                total += sample_pass(sizes, w, w_off, b, b_off, a_off, X, T, s, act, delta)
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

    @numba.njit(cache=False, fastmath=False)
    def train_batch_kernel(  # type: ignore[no-untyped-def]
        sizes, w, w_off, b, b_off, a_off, X, T, lr, epochs, train_bias, batch_size,
        act, delta, grad_w, grad_b, history,
    ):  # fmt: skip
        """Mini-batch SGD: gradients summed over a batch into ``grad_w``/``grad_b``,
        divided by the batch's count, one step per batch."""
        n_layers = sizes.shape[0] - 1
        n = X.shape[0]
        for epoch in range(epochs):
            total = 0.0
            for start in range(0, n, batch_size):
                stop = min(start + batch_size, n)
                grad_w[:] = 0.0
                grad_b[:] = 0.0
                for s in range(start, stop):
                    total += sample_pass(sizes, w, w_off, b, b_off, a_off, X, T, s, act, delta)
                    for l in range(n_layers):
                        n_in = sizes[l]
                        a_in = a_off[l]
                        for j in range(sizes[l + 1]):
                            dj = delta[b_off[l] + j]
                            row = w_off[l] + j * n_in
                            for i in range(n_in):
                                grad_w[row + i] += dj * act[a_in + i]
                            grad_b[b_off[l] + j] += dj
                count = float(stop - start)
                for k in range(w.shape[0]):
                    w[k] -= lr * (grad_w[k] / count)
                if train_bias:
                    for k in range(b.shape[0]):
                        b[k] -= lr * (grad_b[k] / count)
            history[epoch] = total

    _numba_kernels = (train_kernel, train_batch_kernel)
    return _numba_kernels


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
        batch_size: int = 1,
    ) -> None:
        self._online_kernel, self._batch_kernel = _get_numba_kernels()
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
        self._batch_size = batch_size
        if batch_size > 1:
            self._grad_w = np.zeros_like(self._w)
            self._grad_b = np.zeros_like(self._b)
        self._shapes = [w.shape for w in weights]
        # Compile now (zero epochs trains nothing) so that timings exclude it.
        self._run(0)

    def _run(self, epochs: int) -> FloatArray:
        history = np.empty(epochs)
        common = (
            self._sizes, self._w, self._w_off, self._b, self._b_off, self._a_off,
            self._x, self._t, self._lr, epochs, self._train_bias,
        )  # fmt: skip
        if self._batch_size > 1:
            self._batch_kernel(
                *common, self._batch_size, self._act, self._delta, self._grad_w, self._grad_b,
                history,
            )  # fmt: skip
        else:
            self._online_kernel(*common, self._act, self._delta, history)
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
        batch_size: int = 1,
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
        self._batch_size = batch_size

    def train(self, epochs: int = 1) -> FloatArray:
        if self._batch_size > 1:
            return self._train_batches(epochs)
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

    def _train_batches(self, epochs: int) -> FloatArray:
        """One forward pass of each ``(B, n)`` batch, the mean loss, one ``step()``."""
        size, n = self._batch_size, len(self._x)
        history = np.empty(epochs)
        for epoch in range(epochs):
            total = 0.0
            for start in range(0, n, size):
                x, t = self._x[start : start + size], self._t[start : start + size]
                out = x
                for layer in self._layers:
                    out = self._torch.sigmoid(layer(out))
                error = 0.5 * ((out - t) ** 2).sum()  # sum of the samples' errors
                loss = error / len(x)  # their mean: its gradient is the mean gradient
                self._opt.zero_grad()
                loss.backward()
                self._opt.step()
                total += error.item()
            history[epoch] = total
        return history

    @property
    def weights(self) -> list[FloatArray]:
        return [layer.weight.detach().numpy().copy() for layer in self._layers]

    @property
    def biases(self) -> list[FloatArray]:
        return [layer.bias.detach().numpy().copy() for layer in self._layers]


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


# --------------------------------------------------------------------------- numba_222

_numba_222_kernel: Callable[..., None] | None = None


def _get_numba_222_kernel() -> Callable[..., None]:
    """Compile (once per process) Numba's best shot at the seed's 2-2-2 network."""
    global _numba_222_kernel
    if _numba_222_kernel is None:
        import numba

        @numba.njit(cache=False, fastmath=False)
        def train_222(w, b, X, T, lr, epochs, train_bias, history):  # type: ignore[no-untyped-def]
            """Every weight in a local, every loop unrolled: the latency-bound chain
            of one step and nothing else.  ``w``: w1..w8, ``b``: the 4 biases."""
            w1, w2, w3, w4, w5, w6, w7, w8 = w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]
            b1, b2, b3, b4 = b[0], b[1], b[2], b[3]
            for epoch in range(epochs):
                total = 0.0
                for s in range(X.shape[0]):
                    x1, x2, t1, t2 = X[s, 0], X[s, 1], T[s, 0], T[s, 1]
                    h1 = 1.0 / (1.0 + math.exp(-(w1 * x1 + w2 * x2 + b1)))
                    h2 = 1.0 / (1.0 + math.exp(-(w3 * x1 + w4 * x2 + b2)))
                    o1 = 1.0 / (1.0 + math.exp(-(w5 * h1 + w6 * h2 + b3)))
                    o2 = 1.0 / (1.0 + math.exp(-(w7 * h1 + w8 * h2 + b4)))
                    total += 0.5 * (t1 - o1) * (t1 - o1) + 0.5 * (t2 - o2) * (t2 - o2)
                    d1 = (o1 - t1) * o1 * (1.0 - o1)
                    d2 = (o2 - t2) * o2 * (1.0 - o2)
                    e1 = (d1 * w5 + d2 * w7) * h1 * (1.0 - h1)
                    e2 = (d1 * w6 + d2 * w8) * h2 * (1.0 - h2)
                    w5 -= lr * d1 * h1
                    w6 -= lr * d1 * h2
                    w7 -= lr * d2 * h1
                    w8 -= lr * d2 * h2
                    w1 -= lr * e1 * x1
                    w2 -= lr * e1 * x2
                    w3 -= lr * e2 * x1
                    w4 -= lr * e2 * x2
                    if train_bias:
                        b1 -= lr * e1
                        b2 -= lr * e2
                        b3 -= lr * d1
                        b4 -= lr * d2
                history[epoch] = total
            w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7] = w1, w2, w3, w4, w5, w6, w7, w8
            b[0], b[1], b[2], b[3] = b1, b2, b3, b4

        _numba_222_kernel = train_222
    return _numba_222_kernel


class _Numba222Peer:
    """``numba`` written for one shape: the 2-2-2 network, fully unrolled."""

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
        if list(sizes) != [2, 2, 2]:
            raise ValueError(f"peer 'numba_222' is written for sizes [2, 2, 2], got {sizes}")
        self._kernel = _get_numba_222_kernel()
        self._w = np.concatenate([w.ravel() for w in weights])
        self._b = np.concatenate(biases)
        self._X, self._T = X, T
        self._lr, self._train_bias = float(learning_rate), bool(train_bias)
        # compile now, on a copy, so that timings exclude compilation
        self._kernel(
            self._w.copy(), self._b.copy(), X, T, self._lr, 1, self._train_bias, np.zeros(1)
        )

    def train(self, epochs: int = 1) -> FloatArray:
        history = np.zeros(epochs)
        self._kernel(
            self._w, self._b, self._X, self._T, self._lr, epochs, self._train_bias, history
        )
        return history

    @property
    def weights(self) -> list[FloatArray]:
        return [self._w[:4].reshape(2, 2).copy(), self._w[4:].reshape(2, 2).copy()]

    @property
    def biases(self) -> list[FloatArray]:
        return [self._b[:2].copy(), self._b[2:].copy()]


# --------------------------------------------------------------------------- numba_2d

_numba_2d_kernel: Callable[..., None] | None = None


def _get_numba_2d_kernel() -> Callable[..., None]:
    """Compile (once per process) the plain 2-D Numba loop."""
    global _numba_2d_kernel
    if _numba_2d_kernel is None:
        import numba

        @numba.njit(cache=False, fastmath=False)
        def train_2d(W1, b1, W2, b2, X, T, lr, epochs, train_bias, history):  # type: ignore[no-untyped-def]
            """One hidden layer, as a Numba user writes it: 2-D weights, shapes
            from the arrays, ``math.exp``, the deltas from the pre-update weights."""
            n_hidden, n_in = W1.shape
            n_out = W2.shape[0]
            h = np.empty(n_hidden)
            o = np.empty(n_out)
            d2 = np.empty(n_out)
            d1 = np.empty(n_hidden)
            for epoch in range(epochs):
                total = 0.0
                for s in range(X.shape[0]):
                    for j in range(n_hidden):
                        net = b1[j]
                        for i in range(n_in):
                            net += W1[j, i] * X[s, i]
                        h[j] = 1.0 / (1.0 + math.exp(-net))
                    for k in range(n_out):
                        net = b2[k]
                        for j in range(n_hidden):
                            net += W2[k, j] * h[j]
                        o[k] = 1.0 / (1.0 + math.exp(-net))
                    for k in range(n_out):
                        diff = o[k] - T[s, k]
                        total += 0.5 * diff * diff
                        d2[k] = diff * o[k] * (1.0 - o[k])
                    for j in range(n_hidden):
                        g = 0.0
                        for k in range(n_out):
                            g += W2[k, j] * d2[k]
                        d1[j] = g * h[j] * (1.0 - h[j])
                    for k in range(n_out):
                        step = lr * d2[k]
                        for j in range(n_hidden):
                            W2[k, j] -= step * h[j]
                        if train_bias:
                            b2[k] -= step
                    for j in range(n_hidden):
                        step = lr * d1[j]
                        for i in range(n_in):
                            W1[j, i] -= step * X[s, i]
                        if train_bias:
                            b1[j] -= step
                history[epoch] = total

        _numba_2d_kernel = train_2d
    return _numba_2d_kernel


class _Numba2dPeer:
    """``numba`` as a user writes it for one hidden layer: 2-D weight arrays."""

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
        if len(sizes) != 3:
            raise ValueError(f"peer 'numba_2d' is written for one hidden layer, got sizes {sizes}")
        self._kernel = _get_numba_2d_kernel()
        self._w, self._b = weights, biases
        self._X, self._T = X, T
        self._lr, self._train_bias = float(learning_rate), bool(train_bias)
        # compile now (zero epochs trains nothing) so that timings exclude it
        self._kernel(*self._w[:1], *self._b[:1], *self._w[1:], *self._b[1:], X, T, 0.0, 0,
                     False, np.zeros(0))  # fmt: skip

    def train(self, epochs: int = 1) -> FloatArray:
        history = np.zeros(epochs)
        (W1, W2), (b1, b2) = self._w, self._b
        self._kernel(W1, b1, W2, b2, self._X, self._T, self._lr, epochs, self._train_bias, history)
        return history

    @property
    def weights(self) -> list[FloatArray]:
        return [w.copy() for w in self._w]

    @property
    def biases(self) -> list[FloatArray]:
        return [b.copy() for b in self._b]


# --------------------------------------------------------------------------- c_222

#: ``numba_222``'s loop in C: what a C programmer writes for the seed's shape.
_C_222 = r"""
#include <math.h>

void train_222(double *w, double *b, const double *X, const double *T, long n,
               double lr, long epochs, int train_bias, double *history)
{
    double w1 = w[0], w2 = w[1], w3 = w[2], w4 = w[3];
    double w5 = w[4], w6 = w[5], w7 = w[6], w8 = w[7];
    double b1 = b[0], b2 = b[1], b3 = b[2], b4 = b[3];
    for (long epoch = 0; epoch < epochs; epoch++) {
        double total = 0.0;
        for (long s = 0; s < n; s++) {
            double x1 = X[2 * s], x2 = X[2 * s + 1], t1 = T[2 * s], t2 = T[2 * s + 1];
            double h1 = 1.0 / (1.0 + exp(-(w1 * x1 + w2 * x2 + b1)));
            double h2 = 1.0 / (1.0 + exp(-(w3 * x1 + w4 * x2 + b2)));
            double o1 = 1.0 / (1.0 + exp(-(w5 * h1 + w6 * h2 + b3)));
            double o2 = 1.0 / (1.0 + exp(-(w7 * h1 + w8 * h2 + b4)));
            total += 0.5 * (t1 - o1) * (t1 - o1) + 0.5 * (t2 - o2) * (t2 - o2);
            double d1 = (o1 - t1) * o1 * (1.0 - o1);
            double d2 = (o2 - t2) * o2 * (1.0 - o2);
            double e1 = (d1 * w5 + d2 * w7) * h1 * (1.0 - h1);
            double e2 = (d1 * w6 + d2 * w8) * h2 * (1.0 - h2);
            w5 -= lr * d1 * h1;
            w6 -= lr * d1 * h2;
            w7 -= lr * d2 * h1;
            w8 -= lr * d2 * h2;
            w1 -= lr * e1 * x1;
            w2 -= lr * e1 * x2;
            w3 -= lr * e2 * x1;
            w4 -= lr * e2 * x2;
            if (train_bias) {
                b1 -= lr * e1;
                b2 -= lr * e2;
                b3 -= lr * d1;
                b4 -= lr * d2;
            }
        }
        history[epoch] = total;
    }
    w[0] = w1; w[1] = w2; w[2] = w3; w[3] = w4;
    w[4] = w5; w[5] = w6; w[6] = w7; w[7] = w8;
    b[0] = b1; b[1] = b2; b[2] = b3; b[3] = b4;
}
"""

_c_library: Any = None


def _c_compiler() -> list[str] | None:
    """The C compiler command (``$CC``, else ``cc``), or ``None`` if there is none."""
    command = shlex.split(os.environ.get("CC", "cc"))
    return command if command and shutil.which(command[0]) else None


def _get_c_222() -> Any:
    """Compile (once per process) ``_C_222`` with ``cc -O3`` and load it."""
    global _c_library
    if _c_library is None:
        compiler = _c_compiler()
        if compiler is None:
            raise PeerUnavailableError("peer 'c_222' is unavailable: no C compiler found")
        with tempfile.TemporaryDirectory(prefix="backprop-c222-") as tmp:
            source, library = os.path.join(tmp, "c222.c"), os.path.join(tmp, "c222.so")
            with open(source, "w", encoding="utf-8") as fh:
                fh.write(_C_222)
            cmd = [*compiler, "-O3", "-shared", "-fPIC", source, "-o", library, "-lm"]
            subprocess.run(cmd, check=True, capture_output=True)
            lib = ctypes.CDLL(library)  # mapped: the file may go
        double_p = ctypes.POINTER(ctypes.c_double)
        lib.train_222.argtypes = [
            double_p, double_p, double_p, double_p, ctypes.c_long, ctypes.c_double,
            ctypes.c_long, ctypes.c_int, double_p,
        ]  # fmt: skip
        lib.train_222.restype = None
        _c_library = lib
    return _c_library


class _C222Peer:
    """``numba_222``'s loop in plain C (``cc -O3``), called through ``ctypes``."""

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
        if list(sizes) != [2, 2, 2]:
            raise ValueError(f"peer 'c_222' is written for sizes [2, 2, 2], got {sizes}")
        self._lib = _get_c_222()
        self._w = np.concatenate([w.ravel() for w in weights])
        self._b = np.concatenate(biases)
        self._X, self._T = X, T
        self._lr, self._train_bias = float(learning_rate), bool(train_bias)

    def train(self, epochs: int = 1) -> FloatArray:
        history = np.zeros(epochs)
        p = ctypes.POINTER(ctypes.c_double)
        self._lib.train_222(
            self._w.ctypes.data_as(p), self._b.ctypes.data_as(p), self._X.ctypes.data_as(p),
            self._T.ctypes.data_as(p), len(self._X), self._lr, epochs, int(self._train_bias),
            history.ctypes.data_as(p),
        )  # fmt: skip
        return history

    @property
    def weights(self) -> list[FloatArray]:
        return [self._w[:4].reshape(2, 2).copy(), self._w[4:].reshape(2, 2).copy()]

    @property
    def biases(self) -> list[FloatArray]:
        return [self._b[:2].copy(), self._b[2:].copy()]


# --------------------------------------------------------------------------- registry

#: The class behind each peer; those of BATCH_PEERS take ``batch_size`` last.
_CLASSES: dict[str, Callable[..., Peer]] = {
    "numpy": _NumpyPeer,
    "numba": _NumbaPeer,
    "numba_2d": _Numba2dPeer,
    "numba_222": _Numba222Peer,
    "c_222": _C222Peer,
    "torch": _TorchPeer,
    "python_loop": _PythonLoopPeer,
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
    batch_size: int = 1,
) -> Peer:
    """Build peer ``name`` (one of :data:`PEERS`).

    ``batch_size`` above 1 (mini-batch SGD) is supported by the peers of
    :data:`BATCH_PEERS`.  Raises :class:`PeerUnavailableError` when the peer's
    dependency is not installed.
    """
    if name not in _CLASSES:
        raise ValueError(f"unknown peer {name!r}; expected one of {PEERS}")
    _require(name)
    batch = [_batch(batch_size)] if name in BATCH_PEERS else []
    if batch_size != 1 and not batch:
        raise ValueError(f"peer {name!r} does online SGD only (batch_size 1)")
    return _CLASSES[name](
        *_prepare(sizes, weights, biases, X, T), learning_rate, train_bias, *batch
    )

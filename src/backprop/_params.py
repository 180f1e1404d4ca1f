"""A network's starting parameters: a seeded random draw, or weights given by the caller.

Both build the flat parameter buffer laid out by ``_spec.layout`` and check
everything they are given, naming the argument at fault, before ``Network``
keeps the buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _validation as check
from ._spec import layout_size


def initial_layer(
    init: str, rng: np.random.Generator, n_in: int, n_out: int, n_bias: int
) -> tuple[np.ndarray, np.ndarray]:
    """Random starting weights ``(n_out, n_in)`` and ``n_bias`` biases of one layer.

    uniform: U(-0.5, 0.5) for both.  xavier (Glorot): U(-r, r), r = sqrt(6 / (n_in
    + n_out)), zero biases.  he: U(-r, r), r = sqrt(6 / n_in), zero biases.
    nguyen_widrow (Nguyen and Widrow 1990, as FANN does): each unit's weight
    vector drawn from U(-0.5, 0.5) and scaled to length 0.7 * n_out ** (1 / n_in),
    biases from U(-that, that), spreading the units' active regions over the input.
    """
    if init == "uniform":
        return rng.uniform(-0.5, 0.5, (n_out, n_in)), rng.uniform(-0.5, 0.5, n_bias)
    if init in ("xavier", "he"):
        limit = np.sqrt(6.0 / ((n_in + n_out) if init == "xavier" else n_in))
        return rng.uniform(-limit, limit, (n_out, n_in)), np.zeros(n_bias)
    beta = 0.7 * n_out ** (1.0 / n_in)
    w = rng.uniform(-0.5, 0.5, (n_out, n_in))
    norms = np.linalg.norm(w, axis=1, keepdims=True)
    w = beta * w / np.where(norms > 0.0, norms, 1.0)
    return w, rng.uniform(-beta, beta, n_bias)


def start_params(
    weights: Any,
    biases: Any,
    seed: Any,
    init: str,
    sizes: Sequence[int],
    layout: np.ndarray,
    bias: str,
    dtype: np.dtype,
) -> np.ndarray:
    """``Network``'s starting buffer: the caller's weights and biases if given,
    else a random draw by ``init`` from ``seed``."""
    if weights is None:
        if biases is not None:
            raise ValueError(
                "biases were given without weights: give both, or neither for a random start"
            )
        return random_params(sizes, layout, init, seed, dtype)
    if seed is not None:
        raise ValueError("seed only applies to a random start; weights were given")
    return given_params(weights, biases, sizes, layout, bias, dtype)


def random_params(
    sizes: Sequence[int], layout: np.ndarray, init: str, seed: Any, dtype: np.dtype
) -> np.ndarray:
    """A new buffer drawn by ``init`` from ``seed`` (None, an int >= 0 or a Generator)."""
    if isinstance(seed, bool) or (
        seed is not None and not isinstance(seed, (np.random.Generator, int, np.integer))
    ):
        raise TypeError(
            f"seed must be None, an integer or a numpy Generator, got {type(seed).__name__}"
        )
    if isinstance(seed, (int, np.integer)) and seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    rng = np.random.default_rng(seed)
    params = np.zeros(layout_size(layout), dtype=dtype)
    for (w0, b0, nb), n_in, n_out in zip(layout.tolist(), sizes, sizes[1:]):
        w, b = initial_layer(init, rng, n_in, n_out, nb)
        params[w0:b0] = w.ravel()
        params[b0 : b0 + nb] = b
    return params


def given_params(
    weights: Any, biases: Any, sizes: Sequence[int], layout: np.ndarray, bias: str, dtype: np.dtype
) -> np.ndarray:
    """A new buffer holding the caller's ``weights`` and ``biases``, checked."""
    n_layers = len(sizes) - 1
    if isinstance(weights, (str, bytes)) or not isinstance(weights, (Sequence, np.ndarray)):
        raise TypeError(
            f"weights must be a list of {n_layers} matrices (one per weight "
            f"layer), got {type(weights).__name__}"
        )
    if isinstance(weights, np.ndarray) or len(weights) != n_layers:
        got = "one array" if isinstance(weights, np.ndarray) else len(weights)
        raise ValueError(
            f"weights must be a list of {n_layers} matrices (one per weight layer), got {got}"
        )
    params = np.zeros(layout_size(layout), dtype=np.float64)
    rows = layout.tolist()
    for l, ((w0, b0, _), n_in, n_out) in enumerate(zip(rows, sizes, sizes[1:])):
        w = check.as_float_array(f"weights[{l}]", weights[l])
        if w.shape != (n_out, n_in):
            raise ValueError(f"weights[{l}] must have shape ({n_out}, {n_in}), got {w.shape}")
        params[w0:b0] = w.ravel()
    if bias == "none":
        if biases is not None:
            raise ValueError("biases must be None when bias='none'")
    elif biases is None:
        raise ValueError(
            f"biases must be given with weights (bias={bias!r}): one array per weight layer"
        )
    else:
        _copy_biases(biases, params, rows, sizes, bias)
    if dtype != np.float64:
        with np.errstate(over="ignore"):
            params = params.astype(dtype)
        if not np.isfinite(params).all():
            raise ValueError(f"weights and biases must fit in {dtype}")
    return params


def _copy_biases(
    biases: Any, params: np.ndarray, rows: list, sizes: Sequence[int], bias: str
) -> None:
    n_layers = len(sizes) - 1
    if isinstance(biases, (str, bytes)) or not isinstance(biases, (Sequence, np.ndarray)):
        raise TypeError(
            f"biases must be a list of {n_layers} entries (one per weight "
            f"layer), got {type(biases).__name__}"
        )
    if isinstance(biases, np.ndarray) and biases.ndim < 2 and bias == "per-neuron":
        raise ValueError(f"biases must be a list of {n_layers} arrays (one per weight layer)")
    if len(biases) != n_layers:
        raise ValueError(
            f"biases must hold {n_layers} entries (one per weight layer), got {len(biases)}"
        )
    for l, ((_, b0, nb), n_out) in enumerate(zip(rows, sizes[1:])):
        b = check.as_float_array(f"biases[{l}]", biases[l]).ravel()
        if bias == "shared":
            if b.size == 0 or np.any(b != b[0]) or b.size not in (1, n_out):
                raise ValueError(
                    f"biases[{l}] must be one value (or {n_out} equal "
                    f"values) with bias='shared', got {b.tolist()}"
                )
            params[b0] = b[0]
        else:
            if b.size != n_out:
                raise ValueError(
                    f"biases[{l}] must hold {n_out} values (one per unit), got {b.size}"
                )
            params[b0 : b0 + nb] = b

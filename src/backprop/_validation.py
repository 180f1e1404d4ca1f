"""Input checks shared by the public API.

Every check names the argument it rejects and says what was expected.  They run
before any engine is entered, so a rejected call never changes a network.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

_NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float


def as_float_array(name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 array, or a TypeError/ValueError naming ``name``."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists, odd objects
        raise ValueError(f"{name} must be a rectangular array of numbers ({exc})") from None
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")
    arr = arr.astype(np.float64, order="C", copy=False)  # keeps 0-d input 0-d
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def samples(name: str, value: Any, n_features: int, what: str) -> np.ndarray:
    """A 2-D C-contiguous float64 array with one row per sample.

    A 1-D ``value`` is one sample.  ``what`` names the layer the columns feed
    ("input" or "output") for the error message.
    """
    arr = as_float_array(name, value)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D (one sample) or 2-D (one row per sample), "
                         f"got {arr.ndim} dimensions")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it must hold at least one sample")
    if arr.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} values per sample (the network's "
                         f"{what} layer), got {arr.shape[1]}")
    return arr


def paired(X: np.ndarray, T: np.ndarray, x_name: str = "X", t_name: str = "T") -> None:
    if X.shape[0] != T.shape[0]:
        raise ValueError(f"{x_name} and {t_name} must hold the same number of samples, "
                         f"got {X.shape[0]} and {T.shape[0]}")


def positive_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return value


def real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def positive_int(name: str, value: Any) -> int:
    value = non_negative_int(name, value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def non_negative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def choice(name: str, value: Any, options: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


def layer_sizes(value: Any) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        try:
            value = list(value)
        except TypeError:
            raise TypeError(f"sizes must be a sequence of layer sizes, got "
                            f"{type(value).__name__}") from None
    sizes = []
    for s in value:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"sizes must hold integers, got {s!r}")
        if s < 1:
            raise ValueError(f"sizes must be >= 1 (every layer needs a unit), got {list(value)}")
        sizes.append(int(s))
    if len(sizes) < 2:
        raise ValueError(f"sizes must name at least an input and an output layer, got {sizes}")
    return tuple(sizes)

"""Input checks shared by the public API.

Every check names the argument it rejects and says what was expected.  They run
before any engine is entered, so a rejected call never changes a network.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

_NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float
_FLOAT64 = np.dtype(np.float64)


def as_float_array(name: str, value: Any, dtype: np.dtype = _FLOAT64) -> np.ndarray:
    """``value`` as an aligned C-contiguous array of ``dtype`` (float64 or float32),
    converted in one pass and scanned once for NaN and infinity; else a
    TypeError/ValueError naming ``name``.  An array already in that form is used
    as it is, without a copy."""
    if type(value) is np.ndarray:
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as exc:  # ragged nested lists, odd objects
            raise ValueError(f"{name} must be a rectangular array of numbers ({exc})") from None
    found = arr.dtype
    if found is dtype or found == dtype:
        flags = arr.flags
        if flags.c_contiguous and flags.aligned:
            if all_finite(arr):  # ready as it is: no conversion, no copy
                return arr
            raise ValueError(f"{name} contains NaN or infinity")
    if found.kind not in _NUMERIC_KINDS:
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {found}")
    if found.kind == "f" and found.itemsize > np.dtype(dtype).itemsize:
        with np.errstate(over="ignore"):  # too large for float32: inf, refused below
            converted = arr.astype(dtype, order="C", copy=False)
    else:
        converted = arr.astype(dtype, order="C", copy=False)  # keeps 0-d input 0-d
    if not converted.flags.aligned:
        converted = converted.copy()
    if not all_finite(converted):
        if converted.dtype != arr.dtype and np.isfinite(arr).all():
            raise ValueError(f"{name} has values too large for {np.dtype(dtype).name}")
        raise ValueError(f"{name} contains NaN or infinity")
    return converted


def all_finite(arr: np.ndarray) -> bool:
    """Whether every value is finite (one pass; in Python for a handful of values,
    where a NumPy reduction costs more than the loop)."""
    if arr.size <= 16:
        return all(map(math.isfinite, arr.tolist() if arr.ndim == 1 else arr.ravel().tolist()))
    return bool(np.isfinite(arr).all())


def samples(
    name: str, value: Any, n_features: int, what: str, dtype: np.dtype = _FLOAT64
) -> np.ndarray:
    """A 2-D C-contiguous array of ``dtype`` with one row per sample.

    A 1-D ``value`` of ``n_features`` values is one sample; for a layer of width 1,
    a 1-D ``value`` of any other length ``n`` is ``n`` samples (shape ``(n, 1)``,
    as scikit-learn passes one target per sample).  ``what`` names the layer the
    columns feed ("input" or "output") for the error message.
    """
    return sample_rows(name, value, n_features, what, dtype)[0]


def sample_rows(
    name: str, value: Any, n_features: int, what: str, dtype: np.dtype = _FLOAT64
) -> tuple[np.ndarray, bool]:
    """``samples``, and whether ``value`` was one sample given as a 1-D array (the
    caller then returns 1-D results).  The rows are a view of the converted array:
    no copy beyond ``as_float_array``'s one pass."""
    arr = as_float_array(name, value, dtype)
    shape = arr.shape  # as given, for the messages
    ndim = len(shape)
    if ndim == 2 and shape[0] > 0 and shape[1] == n_features:
        return arr, False  # the common case, checked in one go
    single = ndim == 1 and shape[0] == n_features
    if single:
        return arr.reshape(1, n_features), True  # one sample (checked: not empty)
    if ndim == 1 and n_features == 1:
        arr = arr.reshape(-1, 1)
    elif ndim != 2:
        if arr.ndim == 1:
            got = f"shape {shape}"
        elif arr.ndim == 0:
            got = "0 dimensions (a single number)"
        else:
            got = f"{arr.ndim} dimensions (shape {shape})"
        raise ValueError(f"{name} must be {_accepted_shapes(n_features)}, got {got}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it must hold at least one sample, got shape {shape}")
    if arr.shape[1] != n_features:
        hint = ""
        if n_features == 1 and arr.shape[0] == 1 and arr.shape[1] > 1:
            hint = (
                f"; for {arr.shape[1]} samples of one value each, pass a 1-D array "
                f"or a column: .reshape(-1, 1)"
            )
        elif arr.shape[1] == 1 and arr.shape[0] == n_features:
            hint = "; for one sample, pass a 1-D array or a row: .reshape(1, -1)"
        raise ValueError(
            f"{name} must have {_values(n_features)} per sample (the network's "
            f"{what} layer), got {arr.shape[1]} (shape {arr.shape}){hint}"
        )
    return arr, False


def _values(n: int) -> str:
    return f"{n} value" if n == 1 else f"{n} values"


def _accepted_shapes(n_features: int) -> str:
    """The data shapes a layer of ``n_features`` units accepts, in words."""
    if n_features == 1:
        return "1-D (one value per sample) or 2-D (one row per sample, 1 column)"
    return (
        f"1-D (one sample of {n_features} values) or 2-D (one row per sample, {n_features} columns)"
    )


def paired(X: np.ndarray, T: np.ndarray, x_name: str = "X", t_name: str = "T") -> None:
    if X.shape[0] != T.shape[0]:
        raise ValueError(
            f"{x_name} and {t_name} must hold the same number of samples, "
            f"got {X.shape[0]} and {T.shape[0]}"
        )


def _as_float(name: str, value: Any) -> float:
    """A real number as a float; an integer too large for one is a ValueError."""
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got a number too large for a float") from None


def positive_real(name: str, value: Any) -> float:
    if type(value) is not float and (
        isinstance(value, bool) or not isinstance(value, numbers.Real)
    ):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = _as_float(name, value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return value


def learning_rate(value: Any, dtype: np.dtype) -> float:
    """The one learning-rate rule of ``train``, ``trace`` and the compiled fast path:
    a real number, finite and > 0, that stays finite and non-zero when rounded to
    the network's ``dtype``."""
    lr = positive_real("learning_rate", value)
    if dtype != _FLOAT64:
        with np.errstate(over="ignore", under="ignore"):
            rounded = float(np.asarray(lr, dtype=dtype))
        if not math.isfinite(rounded):
            raise ValueError(
                f"learning_rate must be representable in {np.dtype(dtype).name} "
                f"(at most {float(np.finfo(dtype).max):.7g}), got {lr!r}"
            )
        if rounded == 0.0:
            raise ValueError(
                f"learning_rate rounds to zero in {np.dtype(dtype).name} "
                f"(the smallest is {float(np.finfo(dtype).smallest_subnormal):.3g}),"
                f" got {lr!r}"
            )
    return lr


def real(name: str, value: Any) -> float:
    if type(value) is not float and (
        isinstance(value, bool) or not isinstance(value, numbers.Real)
    ):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = _as_float(name, value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def positive_int(name: str, value: Any) -> int:
    value = _integer(name, value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def _integer(name: str, value: Any) -> int:
    if type(value) is not int and (
        isinstance(value, bool) or not isinstance(value, numbers.Integral)
    ):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    return int(value)


def non_negative_int(name: str, value: Any) -> int:
    value = _integer(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def choice(name: str, value: Any, options: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


def layer_sizes(value: Any) -> tuple[int, ...]:
    """Units per layer: a sequence (list, tuple, range, 1-D integer array) of at
    least two integers >= 1; anything else is refused, naming ``sizes``."""
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise ValueError(f"sizes must be 1-D (units per layer), got shape {value.shape}")
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(
            f"sizes must be a sequence of integers (units per layer, input first), "
            f"got {type(value).__name__}"
        )
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


def available_memory() -> int:
    """Bytes of memory available to a new allocation now: Linux's MemAvailable
    (free memory plus reclaimable caches), else the free physical pages, else a
    generous guess (16 GiB) where neither is known."""
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 1 << 34


def gib(n_bytes: int) -> str:
    """``n_bytes`` in words for a message: "3.2 GiB", "512 MiB", "12 KiB"."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n_bytes >= 1 << shift:
            return f"{n_bytes / (1 << shift):.3g} {unit}"
    return f"{n_bytes} bytes"


def fits_in_memory(name: str, n_bytes: int, what: str, share: float = 1.0) -> None:
    """Refuse, before allocating, ``n_bytes`` of ``what`` (a ValueError naming
    ``name``) when they exceed ``share`` of the memory available now."""
    available = available_memory()
    if n_bytes > share * available:
        limit = "the" if share == 1.0 else f"{share:.0%} of the"
        raise ValueError(
            f"{name}: {what} would need {gib(n_bytes)}, more than {limit} "
            f"{gib(available)} of memory available"
        )


def activations(
    activation: Any, output_activation: Any, sizes: Sequence[int], names: Sequence[str]
) -> tuple[str, ...]:
    """One activation name per weight layer of a network of layers ``sizes``,
    from ``Network``'s two arguments."""
    n_layers = len(sizes) - 1
    if not isinstance(activation, (str, Sequence)):
        raise TypeError(
            f"activation must be a name or a list of names (one per weight "
            f"layer), got {type(activation).__name__}"
        )
    if isinstance(activation, str):
        acts = [choice("activation", activation, names)] * n_layers
        if output_activation is not None:
            acts[-1] = choice("output_activation", output_activation, names)
    else:
        acts = [choice("activation", a, names) for a in activation]
        if len(acts) != n_layers:
            raise ValueError(
                f"activation must be one name or a list of {n_layers} "
                f"(one per weight layer), got {len(acts)}"
            )
        if output_activation is not None:
            raise ValueError("give output_activation only with a single activation name")
    if "softmax" in acts[:-1]:
        raise ValueError("activation 'softmax' is only allowed on the output layer")
    if acts[-1] == "softmax" and sizes[-1] < 2:
        name = "activation" if output_activation is None else "output_activation"
        raise ValueError(
            f"{name} 'softmax' needs at least 2 output units (one per class; a single "
            f"unit's softmax is always 1): for one output use 'logistic'"
        )
    return tuple(acts)


def flag(name: str, value: Any) -> bool:
    """True or False (Python's or NumPy's), else a TypeError naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def float_dtype(value: Any) -> np.dtype:
    """float64 or float32, else a TypeError/ValueError naming ``dtype``."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"dtype must be numpy.float64 or numpy.float32, got {value!r}") from None
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be numpy.float64 or numpy.float32, got {dtype}")
    return dtype


def loss(value: Any, output_activation: str, names: Sequence[str]) -> str:
    """A loss name that suits the output layer (cross-entropy: logistic or softmax)."""
    value = choice("loss", value, names)
    if value == "cross_entropy" and output_activation not in ("logistic", "softmax"):
        raise ValueError(
            f"loss='cross_entropy' needs a 'logistic' or 'softmax' output "
            f"layer, got output activation {output_activation!r}"
        )
    return value

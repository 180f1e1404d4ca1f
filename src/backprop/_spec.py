"""One source of truth: option names, engine codes, ``train``'s defaults and the layout.

Everything that more than one module needs to agree on is stated here once:

* the names of every option (activations, losses, bias modes, optimizers, ...);
  an option's *engine code* is its position in its tuple (``code``), and the
  compiled engine's ``cdef enum`` values are tied to these positions by
  ``tests/test_spec.py``;
* the order of the optimizer settings in the engines' ``hyper`` vector;
* the defaults of ``Network.train`` (``TRAIN_DEFAULTS``), which its signature
  reads (a test checks ``inspect.signature(Network.train)`` against them);
* the flat parameter layout (``layout``, ``param_count``) and the size of each
  optimizer's state (``state_size``).

The parameter buffer holds, for each weight layer ``l`` in turn, the weight
matrix ``W[l]`` (``sizes[l+1]`` rows of ``sizes[l]`` columns, row-major:
``W[l][j, i]`` goes from unit ``i`` of layer ``l`` to unit ``j`` of layer
``l + 1``), then that layer's biases: one per unit (``"per-neuron"``), one for
the whole layer (``"shared"``) or none (``"none"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

ENGINES = ("cython", "python")
#: Rows of a mini-batch the compiled engine computes at once (its workspace holds
#: every unit's values for this many rows; ``_core.BATCH_ROWS``).
BATCH_ROWS = 256
#: The compiled engine's SIMD levels, lowest first (``BACKPROP_SIMD``, ``build_info``).
SIMD_LEVELS = ("baseline", "avx2", "avx512")
ACTIVATIONS = ("logistic", "tanh", "relu", "leaky_relu", "linear", "softmax")
LOSSES = ("half_sse", "mse", "cross_entropy")
BIAS_MODES = ("per-neuron", "shared", "none")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rprop")
UPDATES = ("simultaneous", "sequential")
INITS = ("uniform", "xavier", "he", "nguyen_widrow")

#: The option tables whose names the engines see as integer codes.  (The bias
#: mode reaches them through the layout table instead: its third column.)
CODED = {
    "activation": ACTIVATIONS,
    "loss": LOSSES,
    "optimizer": OPTIMIZERS,
}

#: Slope of ``leaky_relu`` for negative net input.
LEAKY_SLOPE = 0.01

#: ``train`` options that set the optimizers ...
_OPTIMIZER_HYPER = (
    "momentum",
    "beta1",
    "beta2",
    "epsilon",
    "rprop_increase",
    "rprop_decrease",
    "rprop_min_step",
    "rprop_max_step",
)
#: ... and the L2 penalty on the weights (PyTorch's ``weight_decay``: added to the
#: mean gradient; scikit-learn's ``alpha``: added to the batch's summed gradient),
#: in the order of the engines' ``hyper`` vector.
HYPER = (*_OPTIMIZER_HYPER, "weight_decay", "alpha")


#: The settings that define an optimizer's state, in a fixed order: training
#: continues an optimizer's state only while all of them stay the same.  (The
#: penalty is not one: it changes the gradient, not the state's meaning.)
OPTIMIZER_SETTINGS = (*_OPTIMIZER_HYPER, "rprop_initial_step")


#: Learning-rate schedules (``train(schedule=...)``), each stepping once per
#: epoch, and their parameters with defaults (``None``: none, the parameter must
#: be given): scikit-learn's ``"invscaling"`` and ``"adaptive"`` (its
#: ``power_t``, ``n_iter_no_change`` and ``tol`` defaults), PyTorch's
#: ``StepLR``, ``ExponentialLR`` and ``CosineAnnealingLR`` (its ``T_max`` as
#: ``t_max``).
SCHEDULES: dict[str, dict[str, float | int | None]] = {
    "constant": {},
    "invscaling": {"power_t": 0.5},
    "adaptive": {"n_iter_no_change": 10, "tol": 1e-4},
    "step": {"step_size": None, "gamma": 0.1},
    "exponential": {"gamma": None},
    "cosine": {"t_max": None, "eta_min": 0.0},
}
#: The integer parameters of the schedules (the others are real numbers).
SCHEDULE_INT_PARAMS = ("n_iter_no_change", "step_size", "t_max")
#: scikit-learn's "adaptive" rule: the rate is divided by this factor ...
ADAPTIVE_FACTOR = 5.0
#: ... unless it is at most this already (where scikit-learn stops training).
ADAPTIVE_MIN_RATE = 1e-6


def code(kind: str, name: str) -> int:
    """The engine code of option ``name`` of ``kind`` ("activation", "loss", ...)."""
    return CODED[kind].index(name)


# --------------------------------------------------------------- train defaults
@dataclass(frozen=True)
class TrainDefaults:
    """The defaults of ``Network.train``: the seed's online SGD, one epoch."""

    epochs: int = 1
    learning_rate: float = 0.5
    update: str = "simultaneous"
    batch_size: int | None = 1
    shuffle: bool = False
    seed: int | None = None
    optimizer: str = "sgd"
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    rprop_increase: float = 1.2
    rprop_decrease: float = 0.5
    rprop_initial_step: float = 0.1
    rprop_min_step: float = 1e-6
    rprop_max_step: float = 50.0
    weight_decay: float = 0.0
    alpha: float = 0.0
    schedule: Any = "constant"
    validation: tuple[Any, Any] | None = None
    patience: int | None = None
    callback: Callable[..., Any] | None = None
    report_every: int = 1
    progress: bool = False
    record_every: int = 1
    checkpoint: str | None = None
    checkpoint_every: int | None = None


#: ``Network.train``'s defaults, by attribute (``TRAIN.epochs``) ...
TRAIN = TrainDefaults()
#: ... and by name.
TRAIN_DEFAULTS: dict[str, Any] = asdict(TRAIN)
#: The arguments of ``train`` that may be given positionally, in order.
TRAIN_POSITIONAL = ("epochs", "learning_rate", "update")
#: The keyword-only options of ``train``.
TRAIN_OPTIONS = tuple(k for k in TRAIN_DEFAULTS if k not in TRAIN_POSITIONAL)


def recorded(first: int, epochs: int, total: int, every: int) -> int:
    """How many of epochs ``first`` ... ``first + epochs - 1`` of a run of ``total``
    epochs the history keeps, when it keeps every ``every``-th epoch's error
    (epochs ``every - 1``, ``2 every - 1``, ...) and the run's last."""
    end = first + epochs
    last = 1 if end == total and total % every != 0 else 0
    return end // every - first // every + last


# ---------------------------------------------------------------------- layout
def bias_count(n_out: int, bias: str) -> int:
    """Biases of a layer of ``n_out`` units: one each, one shared, or none."""
    return {"per-neuron": n_out, "shared": 1, "none": 0}[bias]


def layout(sizes: Sequence[int], bias: str) -> np.ndarray:
    """Where each weight layer lives in the flat parameter buffer.

    Row ``l`` holds ``(weights start, biases start, number of biases)``: the
    weights of layer ``l`` are ``params[w0:b0]``, its biases ``params[b0:b0 + nb]``.
    Both engines and every Python module read the buffer through this table.
    """
    rows = []
    pos = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        nb = bias_count(n_out, bias)
        rows.append((pos, pos + n_in * n_out, nb))
        pos += n_in * n_out + nb
    return np.array(rows, dtype=np.intp).reshape(len(rows), 3)


def layout_size(table: np.ndarray) -> int:
    """Length of the parameter buffer that a ``layout`` table describes."""
    return int(table[-1, 1] + table[-1, 2])


def param_count(sizes: Sequence[int], bias: str) -> int:
    """Number of values in the parameter buffer of a network (Python integers:
    exact for any sizes, so that a hostile or mistaken size is measured before
    anything is allocated)."""
    return sum(n_in * n_out + bias_count(n_out, bias) for n_in, n_out in zip(sizes, sizes[1:]))


def state_size(optimizer: str, n_params: int) -> int:
    """Length of an optimizer's state vector.

    momentum, nesterov: the velocity of every parameter; adam: first moments,
    second moments, then the step count; rprop: step sizes, then the signs of
    the previous gradients (-1, 0 or 1: the product of two tiny gradients would
    underflow to 0 and hide their signs; a state that holds the gradients
    themselves, as files of 0.1.0 hold, still works).  Plain SGD keeps none.
    """
    return {
        "sgd": 0,
        "momentum": n_params,
        "nesterov": n_params,
        "adam": 2 * n_params + 1,
        "rprop": 2 * n_params,
    }[optimizer]

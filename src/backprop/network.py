"""The ``Network`` class: the public face of both engines.

Data flows one way: the caller's input is checked and converted here, an engine
computes, and the network commits the new weights only when the engine reports
success.  A call that raises leaves the network exactly as it was.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Sequence

import numpy as np

from . import _reference, _validation as check
from . import tutorial as _tutorial
from .trace import Trace

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - only without a compiled build
    _core = None
    _CORE_ERROR: ImportError | None = exc
else:
    _CORE_ERROR = None

ENGINES = ("cython", "python")
ACTIVATIONS = ("logistic", "tanh", "relu", "leaky_relu", "linear", "softmax")
LOSSES = ("half_sse", "mse", "cross_entropy")
BIAS_MODES = ("per-neuron", "shared", "none")
UPDATES = ("simultaneous", "sequential")
INITS = ("uniform", "xavier", "he")

_ACT_CODE = {name: code for code, name in enumerate(ACTIVATIONS)}
_LOSS_CODE = {name: code for code, name in enumerate(LOSSES)}
_BIAS_CODE = {"none": _reference.NONE, "shared": _reference.SHARED,
              "per-neuron": _reference.PER_NEURON}


class TrainingError(FloatingPointError):
    """Training produced a non-finite error or weight; the network is unchanged."""


def default_engine() -> str:
    """The engine a new network uses: ``$BACKPROP_ENGINE``, else "cython" if built."""
    name = os.environ.get("BACKPROP_ENGINE", "").strip().lower()
    if name:
        return check.choice("BACKPROP_ENGINE (environment variable)", name, ENGINES)
    return "cython" if _core is not None else "python"


def _engine_module(name: str):
    if name == "python":
        return _reference
    if _core is None:
        raise ImportError(f"engine='cython' needs the compiled extension backprop._core, "
                          f"which failed to import ({_CORE_ERROR}); reinstall with "
                          f"'pip install .' or use engine='python'")
    return _core


class Network:
    """A fully-connected feed-forward network trained by backpropagation.

    Parameters
    ----------
    sizes
        Units per layer, input layer first: ``[2, 2, 2]`` is the seed's network.
    weights, biases
        Optional explicit start: ``weights[l]`` of shape ``(sizes[l+1], sizes[l])``
        (``weights[l][j, i]`` from unit i of layer l to unit j of layer l+1) and
        ``biases[l]`` with one value per unit of layer l+1 (with ``bias="shared"``,
        one value, or equal values; with ``bias="none"``, omitted).  Without them the
        network starts from a seeded random draw (see ``init``).
    seed
        Seed (or ``numpy.random.Generator``) of the random start.
    bias
        ``"per-neuron"`` (default): every unit has its own bias; ``"shared"``: one
        bias per layer, as in the seed; ``"none"``.
    train_bias
        Whether training updates the biases (the seed's do not).
    activation, output_activation
        Activation of the hidden layers and of the output layer (default: the
        same as ``activation``); ``activation`` may instead be a list with one
        entry per weight layer.  One of ``ACTIVATIONS``; "softmax" only on the
        output layer.
    loss
        ``"half_sse"`` (default: E = sum 1/2 (t - o)^2, the seed's E_total),
        ``"mse"`` (mean over outputs of (t - o)^2) or ``"cross_entropy"`` (with a
        logistic or softmax output layer).
    init
        Random start: ``"uniform"`` in [-0.5, 0.5) (default), ``"xavier"``, ``"he"``.
    engine
        ``"cython"`` (compiled, default) or ``"python"`` (the pure-Python twin);
        ``$BACKPROP_ENGINE`` changes the default.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        weights: Sequence[Any] | None = None,
        biases: Sequence[Any] | None = None,
        seed: int | np.random.Generator | None = None,
        bias: str = "per-neuron",
        train_bias: bool = True,
        activation: str | Sequence[str] = "logistic",
        output_activation: str | None = None,
        loss: str = "half_sse",
        init: str = "uniform",
        engine: str | None = None,
    ) -> None:
        self._sizes = check.layer_sizes(sizes)
        n_layers = len(self._sizes) - 1
        self._bias = check.choice("bias", bias, BIAS_MODES)
        if not isinstance(train_bias, (bool, np.bool_)):
            raise TypeError(f"train_bias must be True or False, got {train_bias!r}")
        self._train_bias = bool(train_bias)
        self._activations = self._check_activations(activation, output_activation, n_layers)
        self._loss = check.choice("loss", loss, LOSSES)
        if self._loss == "cross_entropy" and self._activations[-1] not in ("logistic", "softmax"):
            raise ValueError(f"loss='cross_entropy' needs a 'logistic' or 'softmax' output "
                             f"layer, got output activation {self._activations[-1]!r}")
        check.choice("init", init, INITS)
        self._engine_name = (default_engine() if engine is None
                             else check.choice("engine", engine, ENGINES))
        self._engine = _engine_module(self._engine_name)

        self._sizes_arr = np.array(self._sizes, dtype=np.intp)
        self._acts_arr = np.array([_ACT_CODE[a] for a in self._activations], dtype=np.intc)
        self._bias_code = _BIAS_CODE[self._bias]
        self._loss_code = _LOSS_CODE[self._loss]
        n_params = _reference.param_count(self._sizes, self._bias_code)
        self._params = np.zeros(n_params, dtype=np.float64)
        if weights is None:
            if biases is not None:
                raise ValueError("biases were given without weights: give both, or neither "
                                 "for a random start")
            self._random_init(init, seed)
        else:
            if seed is not None:
                raise ValueError("seed only applies to a random start; weights were given")
            self._set_params(weights, biases)
        self._bind()

    def _bind(self) -> None:
        """Attach the compiled engine's fast path to the current parameter buffer.

        Must run whenever ``_params`` is replaced: the fast path trains it in place.
        """
        self._trainer = None
        if self._engine_name == "cython":
            self._trainer = _core.Trainer(self._params, self._sizes_arr, self._acts_arr,
                                          self._bias_code, self._train_bias, self._loss_code)

    # ------------------------------------------------------------ constructors
    @classmethod
    def tutorial(cls, engine: str | None = None) -> "Network":
        """The seed's 2-2-2 network: shared, untrained biases b1 = 0.35, b2 = 0.60."""
        return cls(
            _tutorial.SIZES,
            weights=[np.array(w) for w in _tutorial.WEIGHTS],
            biases=list(_tutorial.BIASES),
            bias="shared",
            train_bias=False,
            engine=engine,
        )

    def copy(self) -> "Network":
        """An independent network with the same options and weights."""
        new = object.__new__(Network)
        new.__dict__.update(self.__dict__)
        new._params = self._params.copy()
        new._bind()
        return new

    # ------------------------------------------------------------ properties
    @property
    def layers(self) -> tuple[int, ...]:
        """Units per layer, input layer first."""
        return self._sizes

    @property
    def engine(self) -> str:
        """The engine this network trains with: "cython" or "python"."""
        return self._engine_name

    @property
    def bias(self) -> str:
        return self._bias

    @property
    def train_bias(self) -> bool:
        return self._train_bias

    @property
    def activations(self) -> tuple[str, ...]:
        """Activation of each weight layer (index -1: the output layer)."""
        return self._activations

    @property
    def loss(self) -> str:
        return self._loss

    @property
    def weights(self) -> list[np.ndarray]:
        """Copies of the weight matrices; ``weights[l][j, i]``: unit i of layer l to
        unit j of layer l + 1."""
        return [self._params[w0:w1].reshape(n_out, n_in).copy()
                for (w0, w1, _), n_in, n_out in zip(self._offsets(), self._sizes, self._sizes[1:])]

    @property
    def biases(self) -> list[np.ndarray]:
        """Copies of the biases, one value per unit (a shared bias is repeated,
        and ``bias="none"`` gives zeros)."""
        out = []
        for (_, b0, b1), n_out in zip(self._offsets(), self._sizes[1:]):
            out.append(np.broadcast_to(self._params[b0:b1], (n_out,)).copy() if b1 > b0
                       else np.zeros(n_out))
        return out

    @property
    def params(self) -> np.ndarray:
        """A copy of the flat parameter buffer (each layer's weights, then biases)."""
        return self._params.copy()

    def _offsets(self) -> list[tuple[int, int, int]]:
        """(weights start, biases start, biases end) of each layer in the buffer."""
        offsets, pos = [], 0
        for n_in, n_out in zip(self._sizes, self._sizes[1:]):
            b0 = pos + n_in * n_out
            b1 = b0 + _reference._n_bias(n_out, self._bias_code)
            offsets.append((pos, b0, b1))
            pos = b1
        return offsets

    # ------------------------------------------------------------ maths
    def forward(self, x: Any) -> np.ndarray:
        """Outputs of the network: a 1-D ``x`` (one sample) gives a 1-D result,
        a 2-D ``x`` (one row per sample) gives one row per sample."""
        X = check.samples("x", x, self._sizes[0], "input")
        out = self._engine.forward(self._params, self._sizes_arr, self._acts_arr,
                                   self._bias_code, X)
        return out[0] if np.ndim(x) == 1 else out

    def total_error(self, X: Any, T: Any) -> float:
        """Sum over samples of the loss (``half_sse``: sum of 1/2 (t - o)^2 over
        samples and outputs, the seed's E_total)."""
        X, T = self._data(X, T)
        errors = self._engine.sample_errors(self._params, self._sizes_arr, self._acts_arr,
                                            self._bias_code, self._loss_code, X, T)
        return float(errors.sum())

    def trace(self, x: Any, t: Any, learning_rate: float = 0.5,
              update: str = "simultaneous") -> Trace:
        """Every quantity of one training step on one sample; the network is unchanged."""
        X, T = self._data(x, t, "x", "t")
        if X.shape[0] != 1:
            raise ValueError(f"x must be one sample, got {X.shape[0]}")
        lr = check.positive_real("learning_rate", learning_rate)
        update = check.choice("update", update, UPDATES)
        record = self._engine.trace_step(
            self._params, self._sizes_arr, self._acts_arr, self._bias_code,
            self._train_bias, self._loss_code, X[0], T[0], lr, update == "sequential")
        return Trace(inputs=X[0].copy(), targets=T[0].copy(), learning_rate=lr,
                     update=update, **record)

    def train(self, X: Any, T: Any, epochs: int = 1, learning_rate: float = 0.5,
              update: str = "simultaneous") -> np.ndarray:
        """Online SGD: one update per sample, samples in order, for ``epochs`` epochs.

        Returns one float64 per epoch: the total error of that epoch's samples,
        each measured in the forward pass just before its own update.  If an error
        or a weight becomes non-finite, raises ``TrainingError`` naming the epoch
        and leaves the network as it was before the call.
        """
        return self._train_checked(X, T, epochs, learning_rate, update)

    if _core is not None:
        # The same method entered in C: plain arguments (float64 arrays, an int, a
        # float) go straight to the compiled loop, anything else to _train_checked.
        train = functools.wraps(train)(_core.network_train)

    def _train_checked(self, X: Any, T: Any, epochs: int, learning_rate: float,
                       update: str) -> np.ndarray:
        """``train`` with every argument checked and converted."""
        X, T = self._data(X, T)
        epochs = check.non_negative_int("epochs", epochs)
        lr = check.positive_real("learning_rate", learning_rate)
        update = check.choice("update", update, UPDATES)
        history, failed = self._engine.train(
            self._params, self._sizes_arr, self._acts_arr, self._bias_code,
            self._train_bias, self._loss_code, X, T, epochs, lr, update == "sequential")
        if failed >= 0:
            raise TrainingError(
                f"training diverged in epoch {failed} (counting from 0): the error or a "
                f"weight became NaN or infinite (try a smaller learning_rate, now {lr!r}); "
                f"the network is unchanged")
        return history

    # ------------------------------------------------------------ helpers
    def _data(self, X: Any, T: Any, x_name: str = "X", t_name: str = "T"):
        X = check.samples(x_name, X, self._sizes[0], "input")
        T = check.samples(t_name, T, self._sizes[-1], "output")
        check.paired(X, T, x_name, t_name)
        return X, T

    @staticmethod
    def _check_activations(activation, output_activation, n_layers) -> tuple[str, ...]:
        if not isinstance(activation, (str, Sequence)):
            raise TypeError(f"activation must be a name or a list of names (one per weight "
                            f"layer), got {type(activation).__name__}")
        if isinstance(activation, str):
            acts = [check.choice("activation", activation, ACTIVATIONS)] * n_layers
            if output_activation is not None:
                acts[-1] = check.choice("output_activation", output_activation, ACTIVATIONS)
        else:
            acts = [check.choice("activation", a, ACTIVATIONS) for a in activation]
            if len(acts) != n_layers:
                raise ValueError(f"activation must be one name or a list of {n_layers} "
                                 f"(one per weight layer), got {len(acts)}")
            if output_activation is not None:
                raise ValueError("give output_activation only with a single activation name")
        if "softmax" in acts[:-1]:
            raise ValueError("activation 'softmax' is only allowed on the output layer")
        return tuple(acts)

    def _random_init(self, init: str, seed) -> None:
        if isinstance(seed, bool) or (seed is not None and not isinstance(
                seed, (np.random.Generator, int, np.integer))):
            raise TypeError(f"seed must be None, an integer or a numpy Generator, got "
                            f"{type(seed).__name__}")
        if isinstance(seed, (int, np.integer)) and seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        rng = np.random.default_rng(seed)
        for (w0, b0, b1), n_in, n_out in zip(self._offsets(), self._sizes, self._sizes[1:]):
            if init == "uniform":
                limit = 0.5
            elif init == "xavier":
                limit = np.sqrt(6.0 / (n_in + n_out))
            else:  # he
                limit = np.sqrt(6.0 / n_in)
            self._params[w0:b0] = rng.uniform(-limit, limit, size=b0 - w0)
            self._params[b0:b1] = rng.uniform(-limit, limit, size=b1 - b0) if init == "uniform" else 0.0

    def _set_params(self, weights, biases) -> None:
        """Validate and copy explicit weights and biases into a new buffer."""
        n_layers = len(self._sizes) - 1
        if isinstance(weights, (str, bytes)) or not isinstance(weights, (Sequence, np.ndarray)):
            raise TypeError(f"weights must be a list of {n_layers} matrices (one per weight "
                            f"layer), got {type(weights).__name__}")
        if isinstance(weights, np.ndarray) or len(weights) != n_layers:
            raise ValueError(f"weights must be a list of {n_layers} matrices (one per weight "
                             f"layer), got {len(weights) if not isinstance(weights, np.ndarray) else 'one array'}")
        params = np.zeros_like(self._params)
        offsets = self._offsets()
        for l, ((w0, b0, b1), n_in, n_out) in enumerate(zip(offsets, self._sizes, self._sizes[1:])):
            w = check.as_float_array(f"weights[{l}]", weights[l])
            if w.shape != (n_out, n_in):
                raise ValueError(f"weights[{l}] must have shape ({n_out}, {n_in}), got {w.shape}")
            params[w0:b0] = w.ravel()
        if self._bias == "none":
            if biases is not None:
                raise ValueError("biases must be None when bias='none'")
        elif biases is None:
            raise ValueError(f"biases must be given with weights (bias={self._bias!r}): one "
                             f"array per weight layer")
        else:
            if isinstance(biases, (str, bytes)) or not isinstance(biases, (Sequence, np.ndarray)):
                raise TypeError(f"biases must be a list of {n_layers} entries (one per weight "
                                f"layer), got {type(biases).__name__}")
            if isinstance(biases, np.ndarray) and biases.ndim < 2 and self._bias == "per-neuron":
                raise ValueError(f"biases must be a list of {n_layers} arrays (one per weight layer)")
            if len(biases) != n_layers:
                raise ValueError(f"biases must hold {n_layers} entries (one per weight layer), "
                                 f"got {len(biases)}")
            for l, ((w0, b0, b1), n_out) in enumerate(zip(offsets, self._sizes[1:])):
                b = check.as_float_array(f"biases[{l}]", biases[l]).ravel()
                if self._bias == "shared":
                    if b.size == 0 or np.any(b != b[0]) or b.size not in (1, n_out):
                        raise ValueError(f"biases[{l}] must be one value (or {n_out} equal "
                                         f"values) with bias='shared', got {b.tolist()}")
                    params[b0] = b[0]
                else:
                    if b.size != n_out:
                        raise ValueError(f"biases[{l}] must hold {n_out} values (one per unit), "
                                         f"got {b.size}")
                    params[b0:b1] = b
        self._params = params

    def __repr__(self) -> str:
        extra = "" if self._bias == "per-neuron" else f", bias={self._bias!r}"
        if not self._train_bias:
            extra += ", train_bias=False"
        if set(self._activations) != {"logistic"}:
            extra += f", activation={list(self._activations)!r}"
        if self._loss != "half_sse":
            extra += f", loss={self._loss!r}"
        return f"Network({list(self._sizes)}{extra}, engine={self._engine_name!r})"

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_engine"]  # a module and a compiled method: rebuilt on unpickling
        del state["_trainer"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._engine = _engine_module(self._engine_name)
        self._bind()

"""The ``Network`` class: the public face of both engines.

Data flows one way: the caller's input is checked and converted here, an engine
computes, and the network commits the new weights only when the engine reports
success.  A call that raises leaves the network exactly as it was.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any, Callable, Sequence

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
INITS = ("uniform", "xavier", "he", "nguyen_widrow")

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


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rprop")
#: train()'s names for the engines' rprop settings (``_reference.HYPER``).
_HYPER_OPTION = {"eta_plus": "rprop_increase", "eta_minus": "rprop_decrease",
                 "delta_min": "rprop_min_step", "delta_max": "rprop_max_step"}
_TRAIN_OPTIONS = {"batch_size", "shuffle", "seed", "optimizer", "momentum", "beta1", "beta2",
                  "epsilon", "rprop_increase", "rprop_decrease", "rprop_initial_step",
                  "rprop_min_step", "rprop_max_step", "validation", "patience", "callback",
                  "report_every"}


class _TrainingPlan:
    """The checked options of one ``train`` call, in the engines' terms."""

    def __init__(self) -> None:
        self.batch_size = 1
        self.optimizer = _reference.SGD
        self.hyper: np.ndarray | None = None
        self.state: np.ndarray | None = None
        self.perm: np.ndarray | None = None
        self.rng: np.ndarray | None = None
        self.validation: tuple[Any, Any] | None = None
        self.patience: int | None = None
        self.callback: Callable[[int, float], Any] | None = None
        self.report_every = 1

    @property
    def online(self) -> bool:
        return self.batch_size == 1 and self.optimizer == _reference.SGD

    @property
    def reports(self) -> bool:
        return self.validation is not None or self.callback is not None

    @classmethod
    def from_options(cls, options: dict, n_samples: int, n_params: int,
                     dtype: np.dtype) -> "_TrainingPlan":
        unknown = sorted(set(options) - _TRAIN_OPTIONS)
        if unknown:
            raise TypeError(f"train() got unexpected keyword argument(s): {', '.join(unknown)}")
        plan = cls()
        batch = options.get("batch_size", 1)
        plan.batch_size = n_samples if batch is None else min(
            check.positive_int("batch_size", batch), n_samples)
        name = check.choice("optimizer", options.get("optimizer", "sgd"), OPTIMIZERS)
        plan.optimizer = OPTIMIZERS.index(name)
        defaults = dict(momentum=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8,
                        rprop_increase=1.2, rprop_decrease=0.5, rprop_initial_step=0.1,
                        rprop_min_step=1e-6, rprop_max_step=50.0)
        h = {k: options.get(k, v) for k, v in defaults.items()}
        for key in ("momentum", "beta1", "beta2"):
            value = check.real(key, h[key])
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{key} must be in [0, 1), got {value!r}")
            h[key] = value
        for key in ("epsilon", "rprop_increase", "rprop_decrease", "rprop_initial_step",
                    "rprop_max_step"):
            h[key] = check.positive_real(key, h[key])
        h["rprop_min_step"] = check.real("rprop_min_step", h["rprop_min_step"])
        if not 0.0 <= h["rprop_min_step"] <= h["rprop_max_step"]:
            raise ValueError("rprop_min_step must be in [0, rprop_max_step]")
        if not (h["rprop_decrease"] < 1.0 < h["rprop_increase"]):
            raise ValueError("rprop_decrease must be < 1 and rprop_increase > 1")
        plan.hyper = np.array([h[_HYPER_OPTION.get(name, name)] for name in _reference.HYPER],
                              dtype=np.float64)
        plan.state = np.zeros(_reference.state_size(plan.optimizer, n_params), dtype=dtype)
        if plan.optimizer == _reference.RPROP:
            plan.state[:n_params] = h["rprop_initial_step"]
        shuffle = options.get("shuffle", False)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        seed = options.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}")
        if shuffle:
            plan.perm = np.arange(n_samples, dtype=np.intp)
            start = np.random.SeedSequence(seed).generate_state(1, np.uint64)
            plan.rng = np.array(start, dtype=np.uint64)
        elif seed is not None:
            raise ValueError("seed only applies with shuffle=True")
        validation = options.get("validation")
        if validation is not None:
            if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                raise TypeError("validation must be a pair (X, T) of held-out data")
            plan.validation = (validation[0], validation[1])
        patience = options.get("patience")
        if patience is not None:
            if validation is None:
                raise ValueError("patience needs validation data")
            plan.patience = check.positive_int("patience", patience)
        callback = options.get("callback")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        plan.callback = callback
        plan.report_every = check.positive_int("report_every", options.get("report_every", 1))
        return plan


def _check_dtype(dtype: Any) -> np.dtype:
    """float64 or float32, else a TypeError/ValueError naming ``dtype``."""
    try:
        value = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be numpy.float64 or numpy.float32, got {dtype!r}") from None
    if value not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be numpy.float64 or numpy.float32, got {value}")
    return value


def _initial_layer(init: str, rng: np.random.Generator, n_in: int, n_out: int,
                   n_bias: int) -> tuple[np.ndarray, np.ndarray]:
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
        Random start: ``"uniform"`` in [-0.5, 0.5) (default), ``"xavier"``, ``"he"``
        or ``"nguyen_widrow"`` (see ``_initial_layer``).
    dtype
        ``numpy.float64`` (default) or ``numpy.float32``: the precision of the
        weights, the data and the arithmetic.  (The pure-Python twin computes a
        float32 network in double precision and rounds the weights to float32
        after every update, so the engines agree to float32 round-off.)
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
        dtype: Any = np.float64,
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
        self._dtype = _check_dtype(dtype)
        self._engine_name = (default_engine() if engine is None
                             else check.choice("engine", engine, ENGINES))
        self._engine = _engine_module(self._engine_name)

        self._sizes_arr = np.array(self._sizes, dtype=np.intp)
        self._acts_arr = np.array([_ACT_CODE[a] for a in self._activations], dtype=np.intc)
        self._bias_code = _BIAS_CODE[self._bias]
        self._loss_code = _LOSS_CODE[self._loss]
        n_params = _reference.param_count(self._sizes, self._bias_code)
        self._params = np.zeros(n_params, dtype=self._dtype)
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
    def tutorial(cls, engine: str | None = None, dtype: Any = np.float64) -> "Network":
        """The seed's 2-2-2 network: shared, untrained biases b1 = 0.35, b2 = 0.60."""
        return cls(
            _tutorial.SIZES,
            weights=[np.array(w) for w in _tutorial.WEIGHTS],
            biases=list(_tutorial.BIASES),
            bias="shared",
            train_bias=False,
            dtype=dtype,
            engine=engine,
        )

    def copy(self) -> "Network":
        """An independent network with the same options and weights."""
        new = object.__new__(type(self))
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
    def dtype(self) -> np.dtype:
        """Precision of the weights and of training: float64 or float32."""
        return self._dtype

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
                       else np.zeros(n_out, dtype=self._dtype))
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
        X = self._samples("x", x, self._sizes[0], "input")
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

    def train(
        self,
        X: Any,
        T: Any,
        epochs: int = 1,
        learning_rate: float = 0.5,
        update: str = "simultaneous",
        *,
        batch_size: int | None = 1,
        shuffle: bool = False,
        seed: int | None = None,
        optimizer: str = "sgd",
        momentum: float = 0.9,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        rprop_increase: float = 1.2,
        rprop_decrease: float = 0.5,
        rprop_initial_step: float = 0.1,
        rprop_min_step: float = 1e-6,
        rprop_max_step: float = 50.0,
        validation: tuple[Any, Any] | None = None,
        patience: int | None = None,
        callback: Callable[[int, float], Any] | None = None,
        report_every: int = 1,
    ) -> np.ndarray:
        """Train on the rows of ``X`` (inputs) and ``T`` (targets).

        The defaults are the seed's online SGD: one update per sample, samples in
        order, for ``epochs`` epochs.

        Parameters
        ----------
        update
            ``"simultaneous"``: every delta uses the weights of the forward pass
            (the seed's hand-worked maths); ``"sequential"``: layers are updated
            from the output down and each hidden delta uses the updated weights
            above it (the seed's script).  Sequential needs plain online SGD.
        batch_size
            Samples per update (their mean gradient); ``None``: the whole data set.
        shuffle, seed
            Visit the samples in a new random order every epoch, reproducibly for
            a given ``seed``.
        optimizer
            ``"sgd"``, ``"momentum"``, ``"nesterov"`` (``momentum``), ``"adam"``
            (``beta1``, ``beta2``, ``epsilon``) or ``"rprop"`` (iRPROP-, FANN's
            default; ``rprop_*`` settings, ``learning_rate`` unused).  Optimizer
            state starts afresh on every call.
        validation, patience
            Held-out ``(X, T)``, measured every ``report_every`` epochs; with
            ``patience``, training stops after that many measurements without a
            new best, and the network keeps the weights of the best one.
        callback
            Called as ``callback(epoch, error)`` after every ``report_every``
            epochs, and after the last epoch (``epoch`` counts from 0); returning
            ``False`` (Python's or NumPy's) stops training.  If it raises, the
            exception propagates and the network is left as before the call.

        Returns one float64 per epoch run: the total error of that epoch's samples,
        each measured in the forward pass before its own update.  If an error or a
        weight becomes non-finite, raises ``TrainingError`` naming the epoch and
        leaves the network as it was before the call.
        """
        options = {name: value for name, value in locals().items()
                   if name not in ("self", "X", "T", "epochs", "learning_rate", "update")}
        return self._train_checked(X, T, epochs, learning_rate, update, **options)

    if _core is not None:
        # The same method entered in C: plain arguments (float64 arrays, an int, a
        # float, no options) go straight to the compiled loop, anything else to
        # _train_checked.
        train = functools.wraps(train)(_core.network_train)

    def _train_checked(self, X: Any, T: Any, epochs: Any = 1, learning_rate: Any = 0.5,
                       update: Any = "simultaneous", **options: Any) -> np.ndarray:
        """``train`` with every argument checked and converted."""
        X, T = self._data(X, T)
        epochs = check.non_negative_int("epochs", epochs)
        lr = check.positive_real("learning_rate", learning_rate)
        if lr > float(np.finfo(self._dtype).max):
            raise ValueError(f"learning_rate must fit in {self._dtype}, got {lr!r}")
        update = check.choice("update", update, UPDATES)
        plan = _TrainingPlan.from_options(options, X.shape[0], self._params.size,
                                          self._dtype)
        if update == "sequential" and not plan.online:
            raise ValueError("update='sequential' needs plain online SGD (batch_size=1, "
                             "optimizer='sgd')")
        if plan.validation is not None:
            plan.validation = self._data(*plan.validation, "validation X", "validation T")
        start = self._params.copy()
        try:
            return self._run_plan(X, T, epochs, lr, update, plan)
        except BaseException:
            # a failed epoch, a callback that raised, an interrupt: the network is
            # left exactly as it was before the call
            self._params[:] = start
            raise

    def _run_plan(self, X: np.ndarray, T: np.ndarray, epochs: int, lr: float, update: str,
                  plan: "_TrainingPlan") -> np.ndarray:
        """Run ``epochs`` epochs in chunks of ``plan.report_every`` when reporting."""
        histories: list[np.ndarray] = []
        done = 0
        best_error, best_params, misses = math.inf, None, 0
        while done < epochs:
            chunk = min(plan.report_every if plan.reports else epochs, epochs - done)
            history, failed = self._engine.train(
                self._params, self._sizes_arr, self._acts_arr, self._bias_code,
                self._train_bias, self._loss_code, X, T, chunk, lr, update == "sequential",
                plan.batch_size, plan.optimizer, plan.hyper, plan.state, plan.perm, plan.rng)
            if failed >= 0:
                raise TrainingError(
                    f"training diverged in epoch {done + failed} (counting from 0): the error "
                    f"or a weight became NaN or infinite (try a smaller learning_rate, now "
                    f"{lr!r}); the network is unchanged")
            histories.append(history)
            done += chunk
            stop = False
            if plan.validation is not None:
                error = self.total_error(*plan.validation)
                if error < best_error:
                    best_error, best_params, misses = error, self._params.copy(), 0
                else:
                    misses += 1
                    stop = plan.patience is not None and misses >= plan.patience
            if plan.callback is not None:
                answer = plan.callback(done - 1, float(history[-1]))
                if isinstance(answer, (bool, np.bool_)) and not answer:
                    stop = True
            if stop:
                break
        if plan.patience is not None and best_params is not None:
            self._params[:] = best_params
        return np.concatenate(histories) if histories else np.zeros(0)

    # ------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the network to ``path`` in backprop's documented file format (an
        ``.npz`` archive that loads without running code; see ``backprop.io``).
        ``backprop.load(path)`` reads it back bit for bit."""
        from . import io

        io.save(self, path)

    # ------------------------------------------------------------ classifiers
    def predict(self, X: Any) -> np.ndarray:
        """Class index of each sample: the largest output (one output: output >= 0.5)."""
        out = np.atleast_2d(self.forward(X))
        if out.shape[1] == 1:
            labels = (out[:, 0] >= 0.5).astype(np.intp)
        else:
            labels = np.argmax(out, axis=1)
        return labels[0] if np.ndim(X) == 1 else labels

    def accuracy(self, X: Any, labels: Any) -> float:
        """Fraction of samples whose ``predict`` equals ``labels`` (class indices,
        or one-hot rows)."""
        predicted = np.atleast_1d(self.predict(X))
        labels = np.asarray(labels)
        if labels.ndim == 2:
            labels = (labels[:, 0] >= 0.5).astype(np.intp) if labels.shape[1] == 1 \
                else np.argmax(labels, axis=1)
        labels = np.atleast_1d(labels)
        if labels.shape != predicted.shape:
            raise ValueError(f"labels must hold one class per sample ({predicted.shape[0]}), "
                             f"got shape {labels.shape}")
        return float(np.mean(predicted == labels))

    # ------------------------------------------------------------ helpers
    def _data(self, X: Any, T: Any, x_name: str = "X", t_name: str = "T"):
        X = self._samples(x_name, X, self._sizes[0], "input")
        T = self._samples(t_name, T, self._sizes[-1], "output")
        check.paired(X, T, x_name, t_name)
        return X, T

    def _samples(self, name: str, value: Any, width: int, what: str) -> np.ndarray:
        """``check.samples`` in the network's dtype (float32 data must stay finite)."""
        arr = check.samples(name, value, width, what)
        if self._dtype != np.float64:
            with np.errstate(over="ignore"):
                arr = arr.astype(self._dtype)
            if not np.isfinite(arr).all():
                raise ValueError(f"{name} has values too large for {self._dtype}")
        return arr

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
            w, b = _initial_layer(init, rng, n_in, n_out, b1 - b0)
            self._params[w0:b0] = w.ravel()
            self._params[b0:b1] = b

    def _set_params(self, weights, biases) -> None:
        """Validate and copy explicit weights and biases into a new buffer."""
        n_layers = len(self._sizes) - 1
        if isinstance(weights, (str, bytes)) or not isinstance(weights, (Sequence, np.ndarray)):
            raise TypeError(f"weights must be a list of {n_layers} matrices (one per weight "
                            f"layer), got {type(weights).__name__}")
        if isinstance(weights, np.ndarray) or len(weights) != n_layers:
            raise ValueError(f"weights must be a list of {n_layers} matrices (one per weight "
                             f"layer), got {len(weights) if not isinstance(weights, np.ndarray) else 'one array'}")
        params = np.zeros(self._params.size, dtype=np.float64)
        offsets = self._offsets()
        for l, ((w0, b0, _), n_in, n_out) in enumerate(zip(offsets, self._sizes, self._sizes[1:])):
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
            for l, ((_, b0, b1), n_out) in enumerate(zip(offsets, self._sizes[1:])):
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
        if self._dtype != np.float64:
            with np.errstate(over="ignore"):
                params = params.astype(self._dtype)
            if not np.isfinite(params).all():
                raise ValueError(f"weights and biases must fit in {self._dtype}")
        self._params = params

    def __repr__(self) -> str:
        extra = "" if self._bias == "per-neuron" else f", bias={self._bias!r}"
        if not self._train_bias:
            extra += ", train_bias=False"
        if set(self._activations) != {"logistic"}:
            extra += f", activation={list(self._activations)!r}"
        if self._loss != "half_sse":
            extra += f", loss={self._loss!r}"
        if self._dtype != np.float64:
            extra += f", dtype={self._dtype.name}"
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

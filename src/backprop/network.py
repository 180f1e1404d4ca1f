"""The ``Network`` class: the public face of both engines.

Data flows one way: the caller's input is checked and converted here (and in
``_training`` for ``train``), an engine computes over the flat parameter buffer,
and the result goes back to the caller.  The engines train the buffer in place;
a call that raises restores it, so that it leaves the network exactly as it was.
(The one exception is an interrupt, documented with ``train``.)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _reference, _spec, _training
from . import _validation as check
from . import tutorial as _tutorial
from ._params import start_params
from ._spec import ACTIVATIONS, BIAS_MODES, ENGINES, INITS, LOSSES, TRAIN, TRAIN_OPTIONS, UPDATES
from ._training import NonFiniteError
from ._version import DISTRIBUTION
from .columns import Columns
from .schedule import Schedule, ScheduleState
from .trace import Trace

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - only without a compiled build
    _core = None
    _CORE_ERROR: Exception | None = exc
except RuntimeError as exc:  # BACKPROP_SIMD names a level this CPU (or build) cannot run:
    _core = None  # the compiled engine is refused with it, the twin still works
    _CORE_ERROR = exc
else:
    _CORE_ERROR = None

__all__ = ["Network", "default_engine"]


def default_engine() -> str:
    """The engine a new network uses: ``$BACKPROP_ENGINE``, else "cython" if built."""
    name = os.environ.get("BACKPROP_ENGINE", "").strip().lower()
    if name:
        name = check.choice("BACKPROP_ENGINE (environment variable)", name, ENGINES)
    if name == "python":
        return name
    if isinstance(_CORE_ERROR, RuntimeError):  # (not the twin in the compiled one's place)
        raise ValueError(str(_CORE_ERROR))
    return "cython" if _core is not None else "python"


def _classes(rows: np.ndarray) -> np.ndarray:
    """Class index of each row of outputs or one-hot targets (one column: >= 0.5)."""
    if rows.shape[1] == 1:
        return (rows[:, 0] >= 0.5).astype(np.intp)
    return np.argmax(rows, axis=1)


def _engine_module(name: str):
    if name == "python":
        return _reference
    if isinstance(_CORE_ERROR, RuntimeError):
        raise ImportError(
            f"engine='cython' cannot run: {_CORE_ERROR}; unset BACKPROP_SIMD (the best level "
            f"this CPU runs is chosen) or use engine='python'"
        )
    if _core is None:
        raise ImportError(
            f"engine='cython' needs the compiled extension backprop._core, "
            f"which failed to import ({_CORE_ERROR}); reinstall it ('pip install "
            f"--force-reinstall {DISTRIBUTION}', or 'pip install .' in a checkout) or use "
            f"engine='python'"
        )
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
        Random start: ``"uniform"`` in [-0.5, 0.5) (default), ``"xavier"``, ``"he"``
        or ``"nguyen_widrow"`` (see ``backprop._params.initial_layer``).
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
        self._configure(sizes, bias, train_bias, activation, output_activation, loss, dtype, engine)
        check.choice("init", init, INITS)
        self._params = start_params(
            weights, biases, seed, init, self._sizes, self._shape[1], self._bias, self._dtype
        )
        self._bind()

    def _configure(
        self,
        sizes: Any,
        bias: Any,
        train_bias: Any,
        activation: Any,
        output_activation: Any,
        loss: Any,
        dtype: Any,
        engine: Any,
    ) -> None:
        """Check and keep every option but the starting parameters (shared by the
        constructor and ``io``, which fills the parameter buffer itself); a network
        too large for the memory available is refused here, before any buffer
        is allocated."""
        self._sizes = check.layer_sizes(sizes)
        self._bias = check.choice("bias", bias, BIAS_MODES)
        self._train_bias = check.flag("train_bias", train_bias)
        self._activations = check.activations(
            activation, output_activation, self._sizes, ACTIVATIONS
        )
        self._loss = check.loss(loss, self._activations[-1], LOSSES)
        self._dtype = check.float_dtype(dtype)
        self._engine_name = (
            default_engine() if engine is None else check.choice("engine", engine, ENGINES)
        )
        self._engine = _engine_module(self._engine_name)
        n_params = _spec.param_count(self._sizes, self._bias)
        check.fits_in_memory(
            "sizes", n_params * self._dtype.itemsize, f"a network of {n_params} parameters"
        )
        # the network as the engines see it: sizes, layout, activation codes
        self._shape = (
            np.array(self._sizes, dtype=np.intp),
            _spec.layout(self._sizes, self._bias),
            np.array([_spec.code("activation", a) for a in self._activations], dtype=np.intc),
        )
        self._loss_code = _spec.code("loss", self._loss)
        self._optimizer: _training.OptimizerState | None = None
        self._shuffle: _training.ShuffleState | None = None
        self._schedule: ScheduleState | None = None
        self._owner = self._engine.Owner()  # the thread training it, if any

    def _bind(self) -> None:
        """Attach the compiled engine's fast path to the current parameter buffer.

        Must run whenever ``_params`` is replaced: the fast path trains it in place.
        """
        self._trainer = None
        if self._engine_name == "cython":
            self._trainer = _core.Trainer(
                self._params, *self._shape, self._train_bias, self._loss_code, self._owner
            )

    # ------------------------------------------------------------ constructors
    @classmethod
    def tutorial(cls, engine: str | None = None, dtype: Any = np.float64) -> Network:
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

    def copy(self) -> Network:
        """An independent network with the same options, weights and training state."""
        with _training.reading(self._owner, self._engine, "copy it"):
            return self._copy()

    def _copy(self) -> Network:
        """``copy``, the network being read."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._owner = self._engine.Owner()
        new._params = self._params.copy()
        new._optimizer = self._optimizer and self._optimizer.copy()
        new._shuffle = self._shuffle and self._shuffle.copy()
        new._schedule = self._schedule  # immutable
        new._bind()
        return new

    def reset_optimizer(self) -> None:
        """Forget the optimizer's state and the learning-rate schedule's position:
        the next ``train`` call starts both afresh."""
        _training.guard(self, "reset its optimizer")
        self._optimizer = None
        self._schedule = None

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

    #: The data's column names, if recorded (see ``columns``).
    _columns: Columns | None = None

    @property
    def columns(self) -> Columns | None:
        """The names of the data it was trained on (``backprop train`` records
        them; ``save`` keeps them): a ``backprop.columns.Columns`` with
        ``inputs``, ``targets`` and, for a classifier of labels, ``classes``;
        ``None`` if not recorded.  Set it to a ``Columns`` that fits the layers."""
        return self._columns

    @columns.setter
    def columns(self, value: Columns | None) -> None:
        if value is not None and not isinstance(value, Columns):
            raise TypeError(f"columns must be a backprop Columns or None, got {value!r}"[:200])
        self._columns = None if value is None else value.check(self._sizes)

    @property
    def weights(self) -> list[np.ndarray]:
        """Copies of the weight matrices; ``weights[l][j, i]``: unit i of layer l to
        unit j of layer l + 1."""
        with _training.reading(self._owner, self._engine, "read its weights"):
            return [
                self._params[w0:b0].reshape(n_out, n_in).copy()
                for (w0, b0, _), n_in, n_out in zip(
                    self._shape[1].tolist(), self._sizes, self._sizes[1:]
                )
            ]

    @property
    def biases(self) -> list[np.ndarray]:
        """Copies of the biases, one value per unit (a shared bias is repeated,
        and ``bias="none"`` gives zeros)."""
        with _training.reading(self._owner, self._engine, "read its biases"):
            return [
                np.broadcast_to(self._params[b0 : b0 + nb], (n_out,)).copy()
                if nb
                else np.zeros(n_out, dtype=self._dtype)
                for (_, b0, nb), n_out in zip(self._shape[1].tolist(), self._sizes[1:])
            ]

    @property
    def params(self) -> np.ndarray:
        """A copy of the flat parameter buffer (each layer's weights, then biases)."""
        with _training.reading(self._owner, self._engine, "read its parameters"):
            return self._params.copy()

    # ------------------------------------------------------------ maths
    def forward(self, x: Any) -> np.ndarray:
        """Outputs of the network: a 1-D ``x`` of one value per input (one sample)
        gives a 1-D result; a 2-D ``x`` (one row per sample) gives one row per
        sample, and so does a 1-D ``x`` of ``n`` values for a one-input network
        (``n`` samples: an ``(n, outputs)`` result).

        Raises ``NonFiniteError`` (a ``FloatingPointError``) naming the first
        sample whose output is NaN or infinite: the input is checked finite, so
        the network overflowed on it."""
        return self._forward(x, "x")

    def _forward(self, x: Any, name: str) -> np.ndarray:
        """``forward``, its input's errors naming it ``name``."""
        with _training.reading(self._owner, self._engine, "run it forward"):
            X, single = check.sample_rows(name, x, self._sizes[0], "input", self._dtype)
            out = self._engine.forward(self._params, *self._shape, X)
            bad = _training.first_bad_sample(out)
            if bad is not None:
                raise NonFiniteError(_training.overflow_message(self, "the output", bad))
            return out[0] if single else out

    def total_error(self, X: Any, T: Any) -> float:
        """Sum over samples of the loss (``half_sse``: sum of 1/2 (t - o)^2 over
        samples and outputs, the seed's E_total).  ``NonFiniteError`` names the
        first sample whose error is not finite."""
        with _training.reading(self._owner, self._engine, "measure its error"):
            X, T = self._data(X, T)
            errors = self._engine.sample_errors(self._params, *self._shape, self._loss_code, X, T)
            total, message, _ = _training.summed_errors(self, X, T, errors)
            if message is not None:
                raise NonFiniteError(message)
            return total

    def trace(
        self, x: Any, t: Any, learning_rate: float = TRAIN.learning_rate, update: str = TRAIN.update
    ) -> Trace:
        """Every quantity of one training step on one sample; the network is unchanged.
        ``NonFiniteError`` if any of them is NaN or infinite (an overflow)."""
        with _training.reading(self._owner, self._engine, "trace a step"):
            X, T = self._data(x, t, "x", "t")
            if X.shape[0] != 1:
                raise ValueError(f"x must be one sample, got {X.shape[0]}")
            lr = check.learning_rate(learning_rate, self._dtype)
            update = check.choice("update", update, UPDATES)
            step = (self._train_bias, self._loss_code, X[0], T[0], lr, update == "sequential")
            record = self._engine.trace_step(self._params, *self._shape, *step)
            for name, value in record.items():
                values = value if isinstance(value, list) else [value]
                if any(not check.all_finite(np.asarray(v)) for v in values):
                    raise NonFiniteError(
                        _training.overflow_message(
                            self,
                            f"the step's {name.replace('_', ' ')}",
                            0,
                            "weights or learning rate too large for inputs of this size",
                        )
                    )
            return Trace(
                inputs=X[0].copy(), targets=T[0].copy(), learning_rate=lr, update=update, **record
            )

    def train(
        self,
        X: Any,
        T: Any,
        epochs: int = TRAIN.epochs,
        learning_rate: float = TRAIN.learning_rate,
        update: str = TRAIN.update,
        *,
        batch_size: int | None = TRAIN.batch_size,
        shuffle: bool = TRAIN.shuffle,
        seed: int | None = TRAIN.seed,
        optimizer: str = TRAIN.optimizer,
        momentum: float = TRAIN.momentum,
        beta1: float = TRAIN.beta1,
        beta2: float = TRAIN.beta2,
        epsilon: float = TRAIN.epsilon,
        rprop_increase: float = TRAIN.rprop_increase,
        rprop_decrease: float = TRAIN.rprop_decrease,
        rprop_initial_step: float = TRAIN.rprop_initial_step,
        rprop_min_step: float = TRAIN.rprop_min_step,
        rprop_max_step: float = TRAIN.rprop_max_step,
        weight_decay: float = TRAIN.weight_decay,
        alpha: float = TRAIN.alpha,
        schedule: str | Schedule = TRAIN.schedule,
        validation: tuple[Any, Any] | None = TRAIN.validation,
        patience: int | None = TRAIN.patience,
        callback: Callable[..., Any] | None = TRAIN.callback,
        report_every: int = TRAIN.report_every,
        progress: bool = TRAIN.progress,
        record_every: int = TRAIN.record_every,
        checkpoint: str | os.PathLike[str] | None = TRAIN.checkpoint,
        checkpoint_every: int | None = TRAIN.checkpoint_every,
    ) -> np.ndarray:
        """Train on the rows of ``X`` (inputs) and ``T`` (targets); the defaults
        are the seed's online SGD, one update per sample, samples in order.

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
            Visit the samples in a new random order every epoch.  The stream
            continues from call to call; a ``seed`` restarts it reproducibly.
        optimizer
            ``"sgd"``, ``"momentum"``, ``"nesterov"`` (``momentum``), ``"adam"``
            (``beta1``, ``beta2``, ``epsilon``) or ``"rprop"`` (iRPROP-, FANN's
            default; ``rprop_*``; ``learning_rate`` unused).  Its state carries
            over while optimizer and settings stay the same (calls of ``a`` and
            ``b`` epochs equal one of ``a + b``); ``reset_optimizer()`` resets it.
        weight_decay, alpha
            An L2 penalty on the weights (never the biases), for every optimizer:
            ``weight_decay * w`` added to each batch's mean gradient (PyTorch's
            ``weight_decay``), ``alpha * w`` added to its summed gradient before
            it is divided by the batch's size (scikit-learn's ``alpha``).  A call
            with a penalty takes the mini-batch loop (``batch_size=1``: one
            update per sample).
        schedule
            The learning rate of each epoch, starting from ``learning_rate``:
            ``"constant"``, scikit-learn's ``"invscaling"`` and ``"adaptive"``,
            PyTorch's ``"step"``, ``"exponential"`` and ``"cosine"``; a name
            takes the schedule's defaults, ``backprop.Schedule(name, ...)`` sets
            its parameters (see ``backprop.schedule``).  Its position carries
            over while the schedule and ``learning_rate`` stay the same.
        validation, patience
            Held-out ``(X, T)``, measured every ``report_every`` epochs (the
            result is then a ``History`` with ``.validation``); with ``patience``,
            training stops after that many measurements without a new best, and
            the network keeps the weights of the best one.
        callback
            ``callback(epoch, error[, validation_error])`` after every
            ``report_every`` epochs and the last; returning ``False`` stops.
            The network then holds that epoch's weights and training state:
            ``save`` or ``copy`` in the callback resumes as a checkpoint does.
        progress
            Show a progress bar on stderr (``tqdm`` if installed, else one line).
        record_every
            Keep every k-th epoch's error in the result (and the last's: the
            run's, or the one it stopped after, by ``patience`` or a callback).
        checkpoint, checkpoint_every
            Save the network with its training state to this file every
            ``checkpoint_every`` epochs, at the end and at an interrupt.

        Returns the recorded epochs' errors: each the sum of the epoch's sample
        errors, measured before each sample's own update.  A call that raises
        leaves the network (and its training state) as it was, except Ctrl-C:
        ``TrainingInterrupted`` (a ``KeyboardInterrupt``) keeps every completed
        update and carries ``history`` and ``epochs_completed``.
        """
        options = {name: value for name, value in locals().items() if name in TRAIN_OPTIONS}
        return _training.train_checked(self, X, T, epochs, learning_rate, update, **options)

    # ------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the network to ``path`` in backprop's documented file format (an
        ``.npz`` archive that loads without running code; see ``backprop.io``).
        ``backprop.load(path)`` reads it back bit for bit."""
        from . import io

        io.save(self, path)

    # ------------------------------------------------------------ classifiers
    def predict(self, X: Any) -> np.ndarray:
        """Class index of each sample: the largest output (one output: output >= 0.5).
        One sample (as ``forward`` reads ``X``) gives a scalar, else a 1-D array.
        Only for classifiers (a logistic or softmax output layer): a regression
        network's outputs are values, not classes (use ``forward``)."""
        self._classifier("predict")
        out = self._forward(X, "X")
        labels = _classes(np.atleast_2d(out))
        return labels[0] if out.ndim == 1 else labels

    def accuracy(self, X: Any, labels: Any) -> float:
        """Fraction of samples whose ``predict`` equals ``labels``: one class index
        per sample (integers from 0 to the number of classes - 1; a one-output
        network has classes 0 and 1), or target rows (one-hot, or any rows of one
        value per output, read as ``predict`` reads outputs)."""
        self._classifier("accuracy")
        predicted = np.atleast_1d(self.predict(X))
        n_classes = max(2, self._sizes[-1])
        try:
            given = np.asarray(labels)
        except (ValueError, TypeError) as exc:  # ragged lists, odd objects
            raise ValueError(f"labels must be a 1-D array of class indices ({exc})") from None
        if given.dtype.kind not in "biuf":
            raise TypeError(f"labels must be class indices (integers), got dtype {given.dtype}")
        if given.ndim == 2:
            rows = check.as_float_array("labels", given)
            if rows.shape[1] != self._sizes[-1]:
                raise ValueError(
                    f"labels given as rows must have one column per output "
                    f"({self._sizes[-1]}), got shape {rows.shape}"
                )
            given = _classes(rows)
        elif given.ndim <= 1:
            given = np.atleast_1d(given)
            if given.dtype.kind == "f":
                if not check.all_finite(given) or np.any(given != np.round(given)):
                    raise ValueError(
                        "labels must be class indices: whole numbers, got values such as "
                        f"{given[(~np.isfinite(given)) | (given != np.round(given))][0]!r}"
                    )
            if given.size and (given.min() < 0 or given.max() >= n_classes):
                raise ValueError(
                    f"labels must be class indices from 0 to {n_classes - 1}, got values "
                    f"from {given.min()} to {given.max()}"
                )
        else:
            raise ValueError(f"labels must be 1-D (one class per sample), got shape {given.shape}")
        if given.shape != predicted.shape:
            raise ValueError(
                f"labels must hold one class per sample ({predicted.shape[0]}), "
                f"got shape {given.shape}"
            )
        return float(np.mean(predicted == given))

    def _classifier(self, what: str) -> None:
        """Refuse ``what`` on a regression network (an output layer that is neither
        logistic nor softmax): its outputs are values, not class scores."""
        if self._activations[-1] not in ("logistic", "softmax"):
            raise ValueError(
                f"{what} needs a classifier (a 'logistic' or 'softmax' output layer); this "
                f"network's output layer is {self._activations[-1]!r}, a regression: use "
                f"forward() for its outputs"
            )

    # ------------------------------------------------------------ helpers
    def _data(self, X: Any, T: Any, x_name: str = "X", t_name: str = "T"):
        """Inputs and targets checked and converted to the network's dtype."""
        X = check.sample_rows(x_name, X, self._sizes[0], "input", self._dtype)[0]
        T = check.sample_rows(t_name, T, self._sizes[-1], "output", self._dtype)[0]
        if X.shape[0] != T.shape[0]:
            check.paired(X, T, x_name, t_name)
        return X, T

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

    # ------------------------------------------------------------ pictures
    def draw(self, ax: Any = None, **options: Any) -> Any:
        """Draw the network with matplotlib (the seed's diagram for small
        networks); returns the axes.  ``options``: ``trace``, ``show``, ``view``,
        ``labels``, ``fmt``, as for ``backprop.plot.draw_network``.  Needs
        matplotlib: ``pip install "backprop-nn[plot]"``."""
        from .plot import draw_network

        return draw_network(self, ax, **options)

    def _repr_html_(self) -> str:
        """Jupyter's view: the layers, options and parameter counts as a table."""
        from ._html import network_html

        return network_html(self)

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled as a network file is saved, and checked as one is loaded
        from . import io

        return io.from_pickle_state, (io.pickle_state(self), type(self))

    def __setstate__(self, state: Any) -> None:
        raise ValueError(
            "cannot unpickle a backprop Network: the pickle was not written by "
            "this version of backprop (save() files load across versions)"
        )


if _core is not None:
    # The same method entered in C: plain arguments (arrays of the network's
    # dtype, an int, a float, no options) go straight to the compiled loop,
    # anything else to the fully checked ``_training.train_checked``.
    Network.train = functools.wraps(Network.train)(  # type: ignore[method-assign]
        _core.train_method(
            _training.train_checked,
            _training.diverged,
            _training.interrupted,
            "_trainer",
            TRAIN.epochs,
            TRAIN.learning_rate,
            TRAIN.update,
        )
    )

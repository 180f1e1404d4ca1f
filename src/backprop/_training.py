"""Training orchestration: from ``Network.train``'s arguments to engine calls.

``train_checked`` is ``Network.train`` with every argument checked: it turns the
options into a ``Plan`` (the engines' terms: codes, the ``hyper`` vector, the
optimizer state), runs the engine in chunks when it must report (validation,
patience, callbacks), keeps the best weights for ``patience``, and restores the
network when anything goes wrong.  The rule: a call either succeeds, or raises
with the network exactly as it was before the call (one backup per call).

``diverged`` is what the compiled fast path calls when a plain call diverged.
"""

from __future__ import annotations

import inspect
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _signals, _spec
from . import _validation as check
from ._progress import make_progress
from .schedule import Schedule, ScheduleState, as_schedule

if TYPE_CHECKING:
    from .network import Network


class TrainingError(FloatingPointError):
    """Training produced a non-finite error or weight; the network is unchanged.

    ``epoch`` is the epoch that diverged, counted from the call's first (None
    when the network overflowed on the data before the call); an ensemble's
    error also names its ``member``."""

    epoch: int | None = None
    member: int | None = None


class TargetsError(ValueError):
    """Targets too far from the network's outputs for the loss to square (a
    ``ValueError``: bad data, found when training cannot start); an ensemble's
    names its ``member`` (``epoch`` is None: before the call)."""

    epoch: int | None = None
    member: int | None = None


def training_error(message: str, epoch: int | None, member: int | None = None) -> TrainingError:
    """A ``TrainingError`` with its ``epoch`` (and ``member``)."""
    error = TrainingError(message)
    error.epoch = epoch
    error.member = member
    return error


def shifted(
    message: str, epoch: int | None, offset: int, learning_rate: float
) -> tuple[str, int | None]:
    """The message and epoch of a ``TrainingError`` of a call that began
    ``offset`` epochs into a run (a chunk of it, at ``learning_rate``), for the
    run: its epoch counted from the run's first; a network that overflowed on
    the data before a later chunk (``epoch`` None) diverged in that chunk's
    first epoch."""
    if not offset:
        return message, epoch
    if epoch is None:
        return str(diverged_in(offset, learning_rate)), offset
    old = f"in epoch {epoch} (counting from 0)"
    return message.replace(old, f"in epoch {epoch + offset} (counting from 0)", 1), epoch + offset


class NonFiniteError(FloatingPointError):
    """A computation on finite input gave NaN or infinity (the network overflows
    on that input); the message names the first sample at fault."""


def first_bad_sample(values: np.ndarray) -> int | None:
    """Index of the first row (sample) of ``values`` holding NaN or infinity, or
    None when every value is finite (one cheap pass when all are)."""
    if check.all_finite(values):
        return None
    rows = values.reshape(values.shape[0], -1) if values.ndim else values.reshape(1, 1)
    return int(np.flatnonzero(~np.isfinite(rows).all(axis=1))[0])


def overflow_message(
    net: Network, what: str, sample: int, cause: str = "weights too large for inputs of this size"
) -> str:
    """Why ``what`` of finite input gave NaN or infinity at ``sample``."""
    precision = f" in {net.dtype.name}" if net.dtype != np.float64 else ""
    return (
        f"NaN or infinity in {what} of sample {sample}, although the input is finite: "
        f"the network overflows on it{precision} ({cause}; scale the inputs down or "
        f"train from smaller weights)"
    )


def error_overflow(net: Network, X: np.ndarray, T: np.ndarray, sample: int) -> tuple[str, bool]:
    """Why the error of ``sample`` (a row of ``X`` and ``T``) is NaN or infinite:
    the message, and whether the targets are to blame (the network's outputs for
    it are finite and smaller than the targets, and a squared loss overflows on
    their distance) rather than the network."""
    engine, (sizes, layout, acts) = net._engine, net._shape
    out = engine.forward(net._params, sizes, layout, acts, X[sample : sample + 1])
    if net.loss != "cross_entropy" and check.all_finite(out):
        precision = f" in {net.dtype.name}" if net.dtype != np.float64 else ""
        largest_out, largest_t = float(np.abs(out).max()), float(np.abs(T[sample]).max())
        return (
            f"NaN or infinity in the error of sample {sample}{precision}, although the "
            f"network's outputs for it are finite: outputs (largest {largest_out:.3g}) and "
            f"targets (largest {largest_t:.3g}) too far apart to square",
            largest_t >= largest_out,
        )
    return overflow_message(net, "the error", sample), False


def summed_errors(
    net: Network, X: np.ndarray, T: np.ndarray, errors: np.ndarray
) -> tuple[float, str | None, bool]:
    """The total of the sample ``errors`` of ``X`` and ``T``, and when it is not
    finite why (else None), and whether the targets are to blame: a sample's
    error (``error_overflow``), or a sum of finite errors that overflows."""
    bad = first_bad_sample(errors)
    if bad is not None:
        message, targets = error_overflow(net, X, T, bad)
        return math.inf, message, targets
    with np.errstate(over="ignore"):
        total = float(errors.sum())
    if math.isfinite(total):
        return total, None, False
    return total, f"the sum of {errors.size} finite sample errors overflows", False


class TrainingInterrupted(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C): the network keeps every completed update.

    ``history`` holds the recorded errors of the completed epochs,
    ``epochs_completed`` counts them, and ``samples_completed`` counts the samples
    of the interrupted epoch whose updates were applied (the network stopped at a
    sample or batch boundary, never inside an update).
    """

    def __init__(
        self, message: str, history: np.ndarray, epochs_completed: int, samples_completed: int
    ) -> None:
        super().__init__(message)
        self.history = history
        self.epochs_completed = epochs_completed
        self.samples_completed = samples_completed

    def __reduce__(self) -> tuple[Any, ...]:
        # (an exception pickles its args, here the message only: a worker process's
        # interrupt reaches its parent whole)
        return (
            type(self),
            (str(self), self.history, self.epochs_completed, self.samples_completed),
            self.__dict__,
        )


class History(np.ndarray):
    """``train``'s result when it measured validation data: the recorded training
    errors (an ndarray, as always), plus ``validation``, the validation error at
    each measurement, and ``validation_epochs``, the epoch (counting from 0) after
    which each was measured."""

    validation: np.ndarray
    validation_epochs: np.ndarray

    def __new__(cls, errors: np.ndarray, validation: list[float],
                epochs: list[int]) -> History:  # fmt: skip
        obj = np.asarray(errors, dtype=np.float64).view(cls)
        obj.validation = np.array(validation, dtype=np.float64)
        obj.validation_epochs = np.array(epochs, dtype=np.intp)
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self.validation = getattr(obj, "validation", np.zeros(0))
        self.validation_epochs = getattr(obj, "validation_epochs", np.zeros(0, np.intp))

    def __reduce__(self) -> tuple[Any, ...]:
        return History, (np.asarray(self), self.validation.tolist(),
                         self.validation_epochs.tolist())  # fmt: skip


@dataclass(frozen=True)
class OptimizerState:
    """An optimizer's state between ``train`` calls (see ``_spec.state_size``).

    ``settings`` are the values of ``_spec.OPTIMIZER_SETTINGS``; ``fast_calls``
    counts the network's compiled fast-path calls (plain SGD) when the state was
    kept: a plain call in between changes the optimizer, so the state restarts.
    """

    name: str
    settings: tuple[float, ...]
    state: np.ndarray
    fast_calls: int = 0

    def copy(self) -> OptimizerState:
        return OptimizerState(self.name, self.settings, self.state.copy(), self.fast_calls)


@dataclass(frozen=True)
class ShuffleState:
    """The shuffling stream between ``train(shuffle=True)`` calls: the splitmix64
    generator's state (``rng``, one uint64) and the last epoch's sample order."""

    rng: np.ndarray
    perm: np.ndarray

    def copy(self) -> ShuffleState:
        return ShuffleState(self.rng.copy(), self.perm.copy())


@dataclass
class Plan:
    """The checked options of one ``train`` call, in the engines' terms."""

    epochs: int
    learning_rate: float
    sequential: bool
    batch_size: int
    optimizer: str
    settings: tuple[float, ...]
    hyper: np.ndarray
    state: np.ndarray
    shuffle: ShuffleState | None
    schedule: ScheduleState | None
    validation: tuple[np.ndarray, np.ndarray] | None
    patience: int | None
    callback: Callable[..., Any] | None
    callback_gets_validation: bool
    report_every: int
    record_every: int
    progress: bool
    checkpoint: str | None
    checkpoint_every: int | None

    @property
    def reports(self) -> bool:
        return self.validation is not None or self.callback is not None


def make_plan(
    net: Network, n_samples: int, epochs: Any, learning_rate: Any, update: Any,
    options: dict[str, Any],
) -> Plan:  # fmt: skip
    """Check every argument of ``train`` (beyond the data) and build its ``Plan``.

    The optimizer's state continues from the network's (``net._optimizer``) when
    the optimizer and its settings are the same and no plain call came between;
    the shuffling stream continues from ``net._shuffle`` unless ``seed`` is given.
    The plan holds copies: the network's training state changes when the call
    ends, and before each callback (``_commit``: a callback may save or copy the
    network), and is put back if the call fails.
    """
    unknown = sorted(set(options) - set(_spec.TRAIN_OPTIONS))
    if unknown:
        raise TypeError(f"train() got unexpected keyword argument(s): {', '.join(unknown)}")
    o = {**_spec.TRAIN_DEFAULTS, **options}
    epochs = check.non_negative_int("epochs", epochs)
    if epochs > sys.maxsize:
        raise ValueError(f"epochs must be at most {sys.maxsize}, got {epochs}")
    lr = check.learning_rate(learning_rate, net.dtype)
    update = check.choice("update", update, _spec.UPDATES)
    batch = (
        n_samples
        if o["batch_size"] is None
        else min(check.positive_int("batch_size", o["batch_size"]), n_samples)
    )
    optimizer = check.choice("optimizer", o["optimizer"], _spec.OPTIMIZERS)
    if update == "sequential" and (batch != 1 or optimizer != "sgd"):
        raise ValueError(
            "update='sequential' needs plain online SGD (batch_size=1, optimizer='sgd')"
        )
    h = {name: o[name] for name in _spec.OPTIMIZER_SETTINGS}
    for key in ("momentum", "beta1", "beta2"):
        value = check.real(key, h[key])
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{key} must be in [0, 1), got {value!r}")
        h[key] = value
    for key in ("epsilon", "rprop_increase", "rprop_decrease", "rprop_initial_step",
                "rprop_max_step"):  # fmt: skip
        h[key] = check.positive_real(key, h[key])
    h["rprop_min_step"] = check.real("rprop_min_step", h["rprop_min_step"])
    if not 0.0 <= h["rprop_min_step"] <= h["rprop_max_step"]:
        raise ValueError("rprop_min_step must be in [0, rprop_max_step]")
    if not (h["rprop_decrease"] < 1.0 < h["rprop_increase"]):
        raise ValueError("rprop_decrease must be < 1 and rprop_increase > 1")
    settings = tuple(h[name] for name in _spec.OPTIMIZER_SETTINGS)
    schedule = as_schedule(o["schedule"])
    if schedule.name != "constant" and optimizer == "rprop":
        raise ValueError(
            f"schedule={schedule.name!r} sets a learning rate, which optimizer='rprop' "
            f"does not use: use schedule='constant' with rprop"
        )
    for key in ("weight_decay", "alpha"):  # the L2 penalty on the weights
        h[key] = check.real(key, o[key])
        if h[key] < 0.0:
            raise ValueError(f"{key} must be >= 0, got {h[key]!r}")
    if net.dtype != np.float64:
        _check_precision(h, net.dtype)
    validation = o["validation"]
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError("validation must be a pair (X, T) of held-out data")
        validation = net._data(validation[0], validation[1], "validation X", "validation T")
    patience = o["patience"]
    if patience is not None:
        if validation is None:
            raise ValueError("patience needs validation data")
        patience = check.positive_int("patience", patience)
    callback = o["callback"]
    check_callback(callback, ("epoch", "error"))
    record_every = min(check.positive_int("record_every", o["record_every"]), max(1, epochs))
    report_every = min(check.positive_int("report_every", o["report_every"]), max(1, epochs))
    _check_history_fits(epochs, record_every, report_every if validation is not None else 0)
    _check_buffers_fit(net, n_samples, batch, optimizer)
    progress = check.flag("progress", o["progress"])
    checkpoint, checkpoint_every = checkpoint_options(o["checkpoint"], o["checkpoint_every"])
    return Plan(
        epochs=epochs,
        learning_rate=lr,
        sequential=update == "sequential",
        batch_size=batch,
        optimizer=optimizer,
        settings=settings,
        hyper=np.array([h[name] for name in _spec.HYPER], dtype=np.float64),
        state=_optimizer_state(net, optimizer, settings, h["rprop_initial_step"]),
        shuffle=_shuffle_state(net, n_samples, o["shuffle"], o["seed"]),
        schedule=_schedule_state(net, schedule, lr),
        validation=validation,
        patience=patience,
        callback=callback,
        callback_gets_validation=callback is not None and takes_positional(callback, 3),
        report_every=report_every,
        record_every=record_every,
        progress=progress,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
    )


def checkpoint_options(checkpoint: Any, checkpoint_every: Any) -> tuple[str | None, int | None]:
    """``train``'s ``checkpoint`` (a file in an existing, writable directory) and
    ``checkpoint_every`` (a positive number of epochs, with a checkpoint), checked."""
    if checkpoint is not None:
        if not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(f"checkpoint must be a file path, got {type(checkpoint).__name__}")
        checkpoint = os.fsdecode(os.fspath(checkpoint))
        folder = os.path.dirname(checkpoint) or "."
        if not checkpoint or os.path.isdir(checkpoint) or not os.path.isdir(folder):
            raise ValueError(
                f"checkpoint must be a file in an existing directory, got {checkpoint!r}"
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ValueError(f"checkpoint {checkpoint!r}: cannot write to {folder!r}")
    if checkpoint_every is not None:
        if checkpoint is None:
            raise ValueError("checkpoint_every needs a checkpoint file (checkpoint=...)")
        checkpoint_every = check.positive_int("checkpoint_every", checkpoint_every)
    return checkpoint, checkpoint_every


def _check_precision(h: dict[str, float], dtype: np.dtype) -> None:
    """Refuse settings that a float32 network's arithmetic would turn into infinity
    (or, for ``epsilon``, into zero)."""
    for key in (*_spec.OPTIMIZER_SETTINGS, "weight_decay", "alpha"):
        with np.errstate(over="ignore", under="ignore"):
            rounded = float(np.asarray(h[key], dtype=dtype))
        if not math.isfinite(rounded):
            raise ValueError(f"{key} must be representable in {dtype.name}, got {h[key]!r}")
        if key == "epsilon" and rounded == 0.0:
            raise ValueError(f"epsilon rounds to zero in {dtype.name}, got {h[key]!r}")


def _optimizer_state(net: Network, name: str, settings: tuple[float, ...],
                     initial_step: float) -> np.ndarray:  # fmt: skip
    """A working copy of the network's optimizer state, or a fresh one."""
    n_params = _spec.param_count(net.layers, net.bias)
    kept = net._optimizer
    if (kept is not None and kept.name == name and kept.settings == settings
            and kept.fast_calls == _fast_calls(net)
            and kept.state.shape == (_spec.state_size(name, n_params),)):  # fmt: skip
        return kept.state.copy()
    state = np.zeros(_spec.state_size(name, n_params), dtype=net.dtype)
    if name == "rprop":
        state[:n_params] = initial_step
    return state


def _schedule_state(net: Network, schedule: Schedule, lr: float) -> ScheduleState | None:
    """Where ``schedule`` starting from ``lr`` stands: the network's kept position
    when it ran the same schedule from the same rate with no plain call since,
    else its start (``None`` for "constant", which has no position)."""
    if schedule.name == "constant":
        return None
    kept = net._schedule
    if (
        kept is not None
        and kept.schedule == schedule
        and kept.base == lr
        and kept.fast_calls == _fast_calls(net)
    ):
        return kept
    return ScheduleState.start(schedule, lr, _fast_calls(net))


def _shuffle_state(net: Network, n_samples: int, shuffle: Any, seed: Any) -> ShuffleState | None:
    """A working copy of the shuffling stream: restarted by ``seed``, else the
    network's, else a fresh random one."""
    shuffle = check.flag("shuffle", shuffle)
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
    ):
        raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}")
    if not shuffle:
        if seed is not None:
            raise ValueError("seed only applies with shuffle=True")
        return None
    kept = net._shuffle
    if seed is None and kept is not None:
        # the stream goes on; for data of another size, from the identity order
        perm = kept.perm.copy() if kept.perm.shape == (n_samples,) else np.arange(n_samples)
        return ShuffleState(kept.rng.copy(), perm.astype(np.intp, copy=False))
    rng = np.array(np.random.SeedSequence(seed).generate_state(1, np.uint64), dtype=np.uint64)
    return ShuffleState(rng, np.arange(n_samples, dtype=np.intp))


def _fast_calls(net: Network) -> int:
    trainer = net._trainer
    return 0 if trainer is None else trainer.calls


def check_callback(callback: Any, arguments: tuple[str, ...]) -> None:
    """Refuse, before training, a ``callback`` that is not callable or cannot
    take ``arguments`` (its first positional arguments; one more, the
    validation error, is passed when it takes one more).  A callable whose
    signature Python cannot tell is taken as it is."""
    if callback is None:
        return
    if not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):
        return
    params = signature.parameters.values()
    required = sum(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        for p in params
    )
    keywords = any(p.kind is p.KEYWORD_ONLY and p.default is p.empty for p in params)
    if not takes_positional(callback, len(arguments)) or required > len(arguments) + 1 or keywords:
        names = ", ".join(arguments)
        name = getattr(callback, "__name__", None) or type(callback).__name__
        raise TypeError(
            f"callback must take ({names}) or ({names}, validation_error) as positional "
            f"arguments; {name}{signature} does not"
        )


def takes_positional(callback: Callable[..., Any], count: int) -> bool:
    """Whether ``callback`` accepts ``count`` positional arguments."""
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):
        return False
    positional = 0
    for p in signature.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= count


def _check_history_fits(epochs: int, record_every: int, report_every: int) -> None:
    """Refuse a run whose history would not fit in memory, before allocating it
    (8 bytes per recorded error, about 40 per validation error, measured every
    ``report_every`` epochs; 0: none).  Histories under 64 MiB are not measured
    against the memory available: asking the system costs more than a small call."""
    needed = 8 * _spec.recorded(0, epochs, epochs, record_every)
    if report_every:
        needed += 40 * (-(-epochs // report_every))
    if needed < _SMALL_ALLOCATION:
        return
    try:
        check.fits_in_memory(f"epochs={epochs}", needed, "the history", share=0.5)
    except ValueError as exc:
        raise ValueError(
            f"{exc} (one float64 per recorded epoch): keep every k-th epoch's error with "
            f"record_every=k (and, with validation, measure it every k epochs with "
            f"report_every=k)"
        ) from None


def _check_buffers_fit(net: Network, n_samples: int, batch: int, optimizer: str) -> None:
    """Refuse a call whose working buffers would not fit in memory, before allocating
    any: the gradient and a copy of the parameters, the optimizer's state, and the
    values of every unit for the mini-batch rows computed at once (at most
    ``_spec.BATCH_ROWS``).  Under 64 MiB they are not measured."""
    sizes = net.layers
    n_params = _spec.param_count(sizes, net.bias)
    rows = min(batch, n_samples, _spec.BATCH_ROWS)
    parts = {  # what each argument asks for, in reals; the largest is named
        f"sizes {list(sizes)}": 2 * n_params,
        f"optimizer={optimizer!r}": _spec.state_size(optimizer, n_params),
        f"batch_size={batch}": rows * (3 * sum(sizes[1:]) + max(sizes) + sizes[0] + sizes[-1]),
    }
    needed = sum(parts.values()) * net.dtype.itemsize
    if needed >= _SMALL_ALLOCATION:
        check.fits_in_memory(
            max(parts, key=parts.__getitem__),
            needed,
            f"training a network of {n_params:,} parameters and {sum(sizes[1:]):,} units",
        )


#: Bytes below which ``_check_history_fits`` and ``_check_buffers_fit`` do not ask
#: the system for the memory available (asking costs more than a small call).
_SMALL_ALLOCATION = 64 << 20


# ------------------------------------------------------------------ the call
class _Stop(Exception):
    """Training stopped at an interrupt: the exception a signal handler raised,
    in the engine or in the code between its calls."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc


class _StateOverflow(Exception):
    """The optimizer's state became infinite in one of epochs ``first`` to
    ``epoch`` (counting from the call's first; the engine looks after a chunk of
    epochs); reported as a ``TrainingError`` once the network is restored."""

    def __init__(self, first: int, epoch: int) -> None:
        super().__init__(first, epoch)
        self.first = first
        self.epoch = epoch


class _Diverged(Exception):
    """An epoch of the run failed (``epoch``, counting from the call's first);
    reported as a ``TrainingError`` once the weights are restored."""

    def __init__(self, epoch: int, rate: float) -> None:
        super().__init__(epoch)
        self.epoch = epoch
        self.rate = rate


class _Record:
    """What a call has done so far.  The engines write the epochs' errors into
    ``errors`` and the count of complete epochs (and samples of the next) into
    ``counts`` as they go, so that the record is right whenever an exception
    (an interrupt between two statements) stops the call."""

    def __init__(self, plan: Plan) -> None:
        k = plan.record_every
        self.errors = np.empty(_spec.recorded(0, plan.epochs, plan.epochs, k))
        self.counts = np.zeros(2, dtype=np.longlong)
        self.every = k
        self.total = plan.epochs
        self.stopped = 0  # 1 once a stop before the end recorded its last epoch
        self.validation: list[float] = []
        self.validation_epochs: list[int] = []
        self.restored = False  # the best epoch's weights put back (patience)
        # where the network was when the checkpoint was last saved: epochs and
        # samples of the next done, the best epoch's weights put back
        self.saved_at: tuple[int, int, bool] | None = None

    def saved_now(self) -> bool:
        """Whether the checkpoint holds the network as it is now."""
        return self.saved_at == (self.done, self.samples, self.restored)

    @property
    def done(self) -> int:
        return int(self.counts[0])

    @property
    def samples(self) -> int:
        return int(self.counts[1])

    def stop(self, last_error: float) -> None:
        """The run stops before its end (patience, a callback): its last epoch is
        the run's last, kept like the last of a run that ends (there is room: a
        run that stops early recorded fewer errors than planned)."""
        n = _spec.recorded(0, self.done, self.total, self.every)
        if self.done < self.total and self.done % self.every:  # (the end: kept already)
            self.errors[n] = last_error
            self.stopped = 1

    def history(self, validated: bool = False) -> np.ndarray:
        errors = self.errors[: _spec.recorded(0, self.done, self.total, self.every) + self.stopped]
        if validated:
            return History(errors, self.validation, self.validation_epochs)
        return errors


@contextmanager
def reading(owner: Any, engine: Any, what: str, thing: str = "network",
            allowed: bool = False) -> Iterator[None]:  # fmt: skip
    """Read the ``thing`` whose ``Owner`` is ``owner`` in the block (``what``: for
    the message): refused with a RuntimeError while another thread trains it
    (unless ``allowed``: its own call's callback), and after it if another thread
    began training it meanwhile (the engine reads with the GIL released: the
    result could mix old and new weights).  Nothing is held: an interrupt cannot
    leave it claimed."""
    if owner.holder() == engine.OTHER and not allowed:
        raise RuntimeError(
            f"cannot {what}: this {thing} is being trained in another thread "
            f"(wait for its train() call to return, or work on a copy)"
        )
    claims = owner.claims
    yield
    if owner.claims != claims:
        raise RuntimeError(
            f"cannot {what}: another thread began training this {thing} during the "
            f"read (its result would mix old and new weights); read it again"
        )


@contextmanager
def training(owner: Any, engine: Any, thing: str = "network") -> Iterator[None]:
    """Train the ``thing`` whose ``Owner`` is ``owner`` in the block: claimed for
    this thread, or refused with a RuntimeError (another thread trains it, or
    this one does: a callback).  The claim is given back whenever this block took
    it: an interrupt can arrive between ``take()`` and any line after it, so the
    claim is read from the owner, not remembered."""
    held = owner.holder() == engine.SELF  # (a callback: refused below, its claim kept)
    try:
        taken = owner.take()
        if taken == engine.SELF:
            raise RuntimeError(
                f"cannot train this {thing} from inside its own train() call (a callback "
                f"or a signal handler): train a copy, or stop the call and train again"
            )
        if taken != engine.FREE:
            raise RuntimeError(
                f"this {thing} is being trained in another thread: one thread trains a "
                f"{thing} at a time (train a copy in each thread to train in parallel)"
            )
        yield
    finally:
        if not held and owner.holder() == engine.SELF:
            owner.give_back()


def guard(net: Network, what: str) -> None:
    """Refuse ``what`` with a RuntimeError while another thread trains ``net``
    (the training thread itself, in a callback, may go on)."""
    with reading(net._owner, net._engine, what):
        pass


def train_checked(
    net: Network, X: Any, T: Any, epochs: Any = _spec.TRAIN.epochs,
    learning_rate: Any = _spec.TRAIN.learning_rate, update: Any = _spec.TRAIN.update,
    **options: Any,
) -> np.ndarray:  # fmt: skip
    """``Network.train`` with every argument checked and converted.

    A call succeeds, or raises with the network (weights and training state)
    exactly as it was; an interrupt (``TrainingInterrupted``) instead keeps every
    completed update, as a checkpoint does.  One thread trains a network at a
    time: a second ``train`` call (from another thread, or from a callback of
    the running one) gets a RuntimeError at once.
    """
    with training(net._owner, net._engine):
        return _train(net, X, T, epochs, learning_rate, update, options)


def _plain(name: str, value: Any) -> bool:
    """Whether option ``name`` given as ``value`` leaves a call plain online SGD in
    order, recorded every epoch, with nothing to report (the fast path's loop):
    ``shuffle=False``, ``optimizer="sgd"``, ``batch_size=1``, ``seed=None`` ...
    (``progress`` is checked by the caller)."""
    if name == "progress":
        return True
    if name in _NONE_WHEN_PLAIN:
        return value is None
    if name == "shuffle":
        return value is False or value is np.False_
    if name == "optimizer":
        return type(value) is str and value == "sgd"
    if name in ("batch_size", "record_every", "report_every"):
        return type(value) is int and value == 1
    if name in ("weight_decay", "alpha"):
        return type(value) in (int, float) and value == 0
    if name == "schedule":
        return type(value) is str and value == "constant"
    return False


#: Options that leave a call plain when None.
_NONE_WHEN_PLAIN = frozenset(
    ("validation", "callback", "patience", "checkpoint", "checkpoint_every", "seed")
)


def _train(
    net: Network, X: Any, T: Any, epochs: Any, learning_rate: Any, update: Any,
    options: dict[str, Any],
) -> np.ndarray:  # fmt: skip
    """``train_checked`` once the network is claimed by this thread."""
    trainer = net._trainer
    if trainer is not None and all(_plain(name, value) for name, value in options.items()):
        # plain online SGD in an argument form the fast path did not take (a
        # Fraction, a progress display for a run too short to show one ...): the
        # other arguments checked here, the data converted by the fast path's
        # loop (it takes any numeric array-like; for anything else it answers
        # None and the data's checks below say what is wrong)
        epochs = check.non_negative_int("epochs", epochs)
        lr = check.learning_rate(learning_rate, net.dtype)
        sequential = check.choice("update", update, _spec.UPDATES) == "sequential"
        shown = "progress" in options and check.flag("progress", options["progress"])
        if shown:  # shown only for a run long enough to show a display
            X, T = net._data(X, T)
            shown = epochs * X.shape[0] * net._params.size >= _FIRST_CHUNK_WORK
        # (a run too long for the fast path's history gets None: planned in full)
        result = trainer.train_plain(X, T, epochs, lr, sequential) if epochs and not shown else None
        if result is not None:
            if type(result) is not tuple:
                return result
            if result[0] == "diverged":
                X, T = net._data(X, T)  # non-finite data are named as such
                raise divergence(net, X, T, result[1], lr)
            return interrupted(net, *result[1:])
    X, T = net._data(X, T)
    plan = make_plan(net, X.shape[0], epochs, learning_rate, update, options)
    start = (net._params.copy(), net._optimizer, net._shuffle, net._schedule)
    record = _Record(plan)
    try:
        _run(net, X, T, plan, record)
    except _Stop as stop:
        if not isinstance(stop.exc, KeyboardInterrupt):
            # another exception from a signal handler is an error like any other
            _restore(net, start)
            raise stop.exc from None
        _commit(net, plan)
        if plan.checkpoint is not None and not record.saved_now():
            _save_checkpoint(net, plan.checkpoint, record)
        history = record.history(plan.validation is not None)
        interrupted(net, history, record.done, record.samples, stop.exc)
    except BaseException as exc:
        # a failed epoch, a callback that raised: the network is left exactly as it
        # was before the call
        _restore(net, start)
        if isinstance(exc, _Diverged):
            raise divergence(net, X, T, exc.epoch, exc.rate) from None
        if isinstance(exc, _StateOverflow):
            before = exc.epoch - exc.first
            squares = " (adam averages their squares)" if plan.optimizer == "adam" else ""
            raise training_error(
                f"the {plan.optimizer} optimizer's state overflowed {net.dtype.name} in "
                f"epoch {exc.epoch} (counting from 0)"
                + (f" or in one of the {before} before it" if before else "")
                + f": the gradients are too large for it{squares}; scale the inputs and "
                f"targets down; the network is unchanged",
                exc.epoch,
            ) from None
        raise
    _commit(net, plan)
    return record.history(plan.validation is not None)


def _restore(net: Network, start: tuple[Any, ...]) -> None:
    """Put back the weights and training state a call started from."""
    net._params[:] = start[0]
    net._optimizer, net._shuffle, net._schedule = start[1:]


def _commit(net: Network, plan: Plan) -> None:
    """Keep the plan's optimizer state, schedule position and shuffling stream
    in the network."""
    net._optimizer = OptimizerState(plan.optimizer, plan.settings, plan.state, _fast_calls(net))
    net._schedule = plan.schedule
    if plan.shuffle is not None:
        net._shuffle = plan.shuffle


def _save_checkpoint(net: Network, path: str, record: _Record) -> None:
    """Save a checkpoint and note it in ``record``; Ctrl-C during the write waits
    for its end (an interrupt inside ``zipfile`` could turn into another error,
    and would lose the file)."""
    from . import _signals, io

    with _signals.held():
        io.save(net, path)
        record.saved_at = (record.done, record.samples, record.restored)


#: Epochs whose learning rates a schedule computes ahead, for one engine call.
_RATES_AHEAD = 4096

#: Work (parameter updates) the first chunk of a run with a progress display
#: does before it shows anything: about a tenth of a second.  (A shorter run
#: shows none.)
_FIRST_CHUNK_WORK = 50_000_000


def _run(net: Network, X: np.ndarray, T: np.ndarray, plan: Plan, record: _Record) -> None:
    """Run the plan's epochs in chunks: one chunk unless it must report (validation,
    callbacks), save checkpoints or show progress between them."""
    engine, (sizes, layout, acts) = net._engine, net._shape
    total = plan.epochs
    best_error, best_params, best_at, misses = math.inf, None, -1, 0
    display = None
    work = max(1, X.shape[0] * net._params.size)  # parameter updates per epoch
    timed = plan.progress and total > 0
    started = time.perf_counter()
    scheduled = record.done  # the epochs the schedule's position counts
    try:
        while record.done < total:
            done = record.done
            chunk = total - done
            if plan.reports:
                chunk = min(chunk, plan.report_every)
            if plan.checkpoint_every is not None:
                chunk = min(chunk, plan.checkpoint_every - done % plan.checkpoint_every)
            if timed:
                elapsed = time.perf_counter() - started
                per_epoch = elapsed / done if done else 0.1 * work / _FIRST_CHUNK_WORK
                chunk = min(chunk, max(1, int(0.1 / max(per_epoch, 1e-12))))
            rate, rates, after = plan.learning_rate, None, None
            if plan.schedule is not None:
                if plan.schedule.schedule.name == "adaptive":  # its rates follow the errors
                    chunk, rate = 1, plan.schedule.rate
                else:  # each epoch's rate, computed ahead
                    chunk = min(chunk, _RATES_AHEAD)
                    ahead, after = plan.schedule.rates(chunk, X.shape[0])
                    rates = np.array(ahead, dtype=np.float64)
            failed, last_error, interrupt = engine.train(
                net._params, sizes, layout, acts, net.train_bias, net._loss_code, X, T, chunk,
                rate, plan.sequential, record.errors, record.counts, total,
                plan.record_every,
                plan.batch_size, _spec.code("optimizer", plan.optimizer), plan.hyper,
                plan.state, None if plan.shuffle is None else plan.shuffle.perm,
                None if plan.shuffle is None else plan.shuffle.rng, True, rates,
            )  # fmt: skip
            if failed >= 0:
                raise _Diverged(done + failed, rate if rates is None else float(rates[failed]))
            if plan.state.size and not np.isfinite(plan.state).all():
                # (adam's average of squared gradients can overflow while the
                # weights stay finite: every step after it is 0)
                raise _StateOverflow(done, done + chunk - 1)
            if interrupt is not None:
                if plan.schedule is not None and record.done > scheduled:
                    # the epochs completed before the interrupt count
                    plan.schedule = plan.schedule.after(
                        record.done - scheduled, X.shape[0], float(last_error)
                    )
                    scheduled = record.done
                raise _Stop(interrupt[0])
            if plan.schedule is not None:
                plan.schedule = after or plan.schedule.after(1, X.shape[0], float(last_error))
                scheduled = record.done
            stop = False
            validation_error = None
            if plan.validation is not None:
                validation_error = measure_validation(net, plan.validation, record.done - 1)
                record.validation.append(validation_error)
                record.validation_epochs.append(record.done - 1)
                if validation_error < best_error:
                    best_error, best_params, misses = validation_error, net._params.copy(), 0
                    best_at = record.done
                else:
                    misses += 1
                    stop = plan.patience is not None and misses >= plan.patience
            if plan.callback is not None:
                args = (record.done - 1, float(last_error))
                if plan.callback_gets_validation:
                    args += (validation_error,)
                _commit(net, plan)  # its state as of now, for a save or copy in the callback
                answer = plan.callback(*args)
                if isinstance(answer, (bool, np.bool_)) and not answer:
                    stop = True
            if plan.checkpoint_every is not None and record.done % plan.checkpoint_every == 0:
                _commit(net, plan)
                _save_checkpoint(net, plan.checkpoint, record)
            if timed:
                now = time.perf_counter()
                if display is None and now - started >= 0.1:
                    display = make_progress(True, total, X.shape[0])
                if display is not None:
                    display.update(record.done, float(last_error), validation_error)
            if stop:
                record.stop(float(last_error))
                break
        if plan.patience is not None and best_params is not None and best_at != record.done:
            net._params[:] = best_params
            record.restored = True
        # the last checkpoint, unless the last epoch's just wrote it (Ctrl-C in it:
        # the run keeps its epochs)
        if plan.checkpoint is not None and not record.saved_now():
            _commit(net, plan)
            _save_checkpoint(net, plan.checkpoint, record)
    except KeyboardInterrupt as exc:  # raised between engine calls (a callback ...)
        raise _Stop(exc) from None
    finally:
        if plan.schedule is not None and record.done > scheduled:
            # Ctrl-C between the engine's return and the line that counts its
            # epochs: count them (an adaptive schedule's epoch as not improving)
            plan.schedule = plan.schedule.after(record.done - scheduled, X.shape[0], math.inf)
        if display is not None:
            display.close()


def measure_validation(net: Network, data: tuple[np.ndarray, np.ndarray], epoch: int) -> float:
    """The total error on held-out data after ``epoch``, in blocks of a few
    milliseconds of work so that Ctrl-C is seen between them; when it is not
    finite, a ``TargetsError`` if the targets are to blame, else a
    ``TrainingError`` (the call then leaves the network as it was)."""
    engine, (sizes, layout, acts) = net._engine, net._shape
    X, T = data
    block = max(1, (1 << 21) // net._params.size)
    errors = []
    for i in range(0, X.shape[0], block):
        _signals.look()  # (see backprop._signals)
        errors.append(
            engine.sample_errors(
                net._params, sizes, layout, acts, net._loss_code, X[i : i + block],
                T[i : i + block],
            )
        )  # fmt: skip
    total, message, targets = summed_errors(net, X, T, np.concatenate(errors))
    if message is None:
        return total
    if targets:  # (larger than the outputs: the data's fault, whatever the weights)
        raise TargetsError(
            f"validation: {message} (scale the targets down); the network is unchanged"
        )
    raise training_error(
        f"the error on the validation data became NaN or infinite after epoch {epoch} "
        f"(counting from 0): {message}; the network is unchanged",
        epoch,
    )


def diverged(
    net: Network, X: Any, T: Any, epochs: Any, learning_rate: Any, update: Any, epoch: int
) -> np.ndarray:
    """Report a plain call that diverged on the compiled fast path (the weights are
    already restored): bad data is named as such, anything else is a
    ``TrainingError`` for ``epoch``."""
    X, T = net._data(X, T)  # the fast path took the other arguments by the same rules
    raise divergence(net, X, T, epoch, float(learning_rate))


def interrupted(
    net: Network, history: np.ndarray, epochs: int, samples: int, exc: BaseException
) -> np.ndarray:
    """Raise ``TrainingInterrupted`` for a call stopped by Ctrl-C (``exc``) after
    ``epochs`` epochs and ``samples`` samples of the next, its updates kept (the
    fast path calls it too)."""
    raise TrainingInterrupted(
        f"training interrupted after {epochs} complete epoch(s) and {samples} sample(s) "
        f"of the next; the network keeps every completed update",
        history, epochs, samples,
    ) from exc  # fmt: skip


def divergence(net: Network, X: np.ndarray, T: np.ndarray, epoch: int,
                learning_rate: float) -> TrainingError | TargetsError:  # fmt: skip
    """Why training failed, the weights already restored: the network overflowed
    on this data before the call (``epoch`` None), or its targets are too large
    for the loss (``TargetsError``), or this call diverged in ``epoch``."""
    engine, (sizes, layout, acts) = net._engine, net._shape
    errors = engine.sample_errors(net._params, sizes, layout, acts, net._loss_code, X, T)
    _, message, targets = summed_errors(net, X, T, errors)
    if message is None:
        return diverged_in(epoch, learning_rate)
    if targets:  # bad data, as a NaN in it would be
        return TargetsError(f"T: {message} (scale the targets down); the network is unchanged")
    return training_error(
        f"the network overflowed on this data before this call: {message}; training "
        f"cannot start from there (the learning rate is not the cause); the network "
        f"is unchanged",
        None,
    )


def diverged_in(epoch: int, learning_rate: float) -> TrainingError:
    """The ``TrainingError`` of a run that diverged in ``epoch``."""
    return training_error(
        f"training diverged in epoch {epoch} (counting from 0): the error or a weight "
        f"became NaN or infinite (try a smaller learning_rate, now {learning_rate!r}); "
        f"the network is unchanged",
        epoch,
    )

"""Learning-rate schedules: the rate of each epoch of ``Network.train``.

``train(..., learning_rate=r, schedule=s)`` trains epoch ``e`` (counting every
epoch trained under the schedule, across calls) at the rate ``s`` gives it,
starting from ``r``.  Every schedule steps once per epoch, as its source does:

``"constant"``
    ``r`` every epoch (the default).
``"invscaling"`` (scikit-learn's; ``power_t=0.5``)
    ``r / (t + 1) ** power_t``, ``t`` the samples trained on before the epoch
    (scikit-learn's ``t_``: ``e`` times the training set's size).
``"adaptive"`` (scikit-learn's; ``n_iter_no_change=10``, ``tol=1e-4``)
    ``r`` while the epochs' mean sample error keeps improving: after more than
    ``n_iter_no_change`` epochs in a row that did not improve on the best by
    ``tol``, the rate is divided by 5 and the count starts again (at a rate of
    at most 1e-6 it is no longer divided: scikit-learn stops training there).
``"step"`` (PyTorch's ``StepLR``; ``step_size``, ``gamma=0.1``)
    multiplied by ``gamma`` every ``step_size`` epochs.
``"exponential"`` (PyTorch's ``ExponentialLR``; ``gamma``)
    multiplied by ``gamma`` every epoch.
``"cosine"`` (PyTorch's ``CosineAnnealingLR``; ``t_max``, ``eta_min=0``)
    ``eta_min + (r - eta_min) * (1 + cos(pi * e / t_max)) / 2``, computed by
    PyTorch's recursive rule (the same numbers, bit for bit).

The recursive rules (step, exponential, cosine, adaptive) are PyTorch's and
scikit-learn's own, so a run gives the rates theirs give, to the last bit.
Give a schedule by name (its defaults) or as ``Schedule(name, **parameters)``.
The rate multiplies the optimizer's step; "rprop" has no learning rate and takes
no schedule.  With momentum, the velocity takes each epoch's rate as
scikit-learn's does (``v = momentum * v - rate * gradient``).

The schedule's position (its epoch, the samples seen, the current rate and the
adaptive rule's counters) is part of the network's training state: it carries
over from one ``train`` call to the next while the schedule and
``learning_rate`` stay the same (so ``a`` epochs and then ``b`` equal ``a + b``
in one call, bit for bit), is saved with the network, and starts afresh on a
call with another schedule or rate, or after ``reset_optimizer()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from . import _spec
from . import _validation as check

__all__ = ["Schedule"]


class Schedule:
    """A learning-rate schedule: ``Schedule("step", step_size=30, gamma=0.5)``.

    ``name`` is one of ``"constant"``, ``"invscaling"``, ``"adaptive"``,
    ``"step"``, ``"exponential"`` and ``"cosine"``; the keyword arguments are
    that schedule's parameters (see ``backprop.schedule``), checked here:
    an unknown or missing parameter is a ``TypeError``, a bad value a
    ``TypeError`` or ``ValueError`` naming it.  Schedules are immutable and
    compare equal when their names and parameters are equal.
    """

    __slots__ = ("_name", "_params")

    def __init__(self, name: str = "constant", **params: Any) -> None:
        name = check.choice("schedule", name, tuple(_spec.SCHEDULES))
        allowed = _spec.SCHEDULES[name]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            takes = ", ".join(allowed) if allowed else "none"
            raise TypeError(
                f"schedule {name!r} has no parameter {unknown[0]!r} (its parameters: {takes})"
            )
        values: dict[str, float | int] = {}
        for key, default in allowed.items():
            value = params.get(key, default)
            if value is None:
                raise TypeError(
                    f"schedule {name!r} needs {key}: give Schedule({name!r}, {key}=...)"
                )
            values[key] = _check_param(key, value)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_params", tuple(values.items()))

    @property
    def name(self) -> str:
        return self._name

    @property
    def params(self) -> dict[str, float | int]:
        """The parameters, defaults filled in (a new dict)."""
        return dict(self._params)

    def __getattr__(self, key: str) -> Any:
        # only called for names that are not attributes: the parameters
        if not key.startswith("_"):
            for name, value in self._params:
                if name == key:
                    return value
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("a Schedule cannot be changed (make a new one)")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return (self._name, self._params) == (other._name, other._params)

    def __hash__(self) -> int:
        return hash((self._name, self._params))

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self._params)
        return f"Schedule({self._name!r}{args})"

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (self._name, self._params)


def _rebuild(name: str, params: tuple[tuple[str, Any], ...]) -> Schedule:
    return Schedule(name, **dict(params))


def _check_param(key: str, value: Any) -> float | int:
    """One schedule parameter, checked as its source checks it."""
    if key in _spec.SCHEDULE_INT_PARAMS:
        return check.positive_int(key, value)
    if key == "gamma":
        return check.positive_real(key, value)
    number = check.real(key, value)
    if number < 0.0:  # power_t, tol, eta_min
        raise ValueError(f"{key} must be >= 0, got {number!r}")
    return number


def as_schedule(value: Any) -> Schedule:
    """``train``'s ``schedule`` argument as a ``Schedule`` (a name gets its defaults)."""
    if isinstance(value, Schedule):
        return value
    if isinstance(value, str):
        return Schedule(value)
    raise TypeError(
        f"schedule must be a schedule's name or a backprop.Schedule, got {type(value).__name__}"
    )


@dataclass(frozen=True)
class ScheduleState:
    """A schedule's position between epochs: the rate of the next epoch.

    ``base`` is the ``learning_rate`` the schedule started from, ``epochs`` the
    epochs trained under it, ``samples`` the samples trained on (scikit-learn's
    ``t_``); ``rate`` is the next epoch's rate; ``best`` and ``bad`` are the
    adaptive rule's best epoch error (per sample) and its count of epochs
    without improvement.  ``fast_calls`` is as in ``OptimizerState``: a plain
    call of the compiled fast path in between starts the schedule afresh.
    """

    schedule: Schedule
    base: float
    epochs: int = 0
    samples: int = 0
    rate: float = math.nan
    best: float = math.inf
    bad: int = 0
    fast_calls: int = 0

    @classmethod
    def start(cls, schedule: Schedule, base: float, fast_calls: int = 0) -> ScheduleState:
        return cls(schedule, base, rate=base, fast_calls=fast_calls)

    def rates(self, epochs: int, samples_per_epoch: int) -> tuple[list[float], ScheduleState]:
        """The rates of the next ``epochs`` epochs of ``samples_per_epoch`` samples
        each, and the state after them (not for "adaptive", whose rates depend on
        the epochs' errors: one epoch at a time, with ``after``)."""
        kind, p = self.schedule.name, self.schedule.params
        rates: list[float] = []
        rate, e, t, base = self.rate, self.epochs, self.samples, self.base
        if kind == "invscaling":  # scikit-learn's SGDOptimizer.iteration_ends
            power_t = p["power_t"]
            for _ in range(epochs):
                rates.append(rate)
                t += samples_per_epoch
                rate = base / (t + 1) ** power_t
        elif kind == "step":  # PyTorch's StepLR.get_lr, last_epoch = e
            step_size, gamma = p["step_size"], p["gamma"]
            for _ in range(epochs):
                rates.append(rate)
                e += 1
                if e % step_size == 0:
                    rate = rate * gamma
        elif kind == "exponential":  # ExponentialLR
            gamma = p["gamma"]
            for _ in range(epochs):
                rates.append(rate)
                rate = rate * gamma
        elif kind == "cosine":  # CosineAnnealingLR
            t_max, eta_min = p["t_max"], p["eta_min"]
            for i in range(epochs):
                rates.append(rate)
                rate = _cosine_step(rate, base, eta_min, t_max, e + i + 1)
        else:
            raise ValueError(f"schedule {kind!r} has no rates computed ahead")
        e = self.epochs + epochs
        t = self.samples + epochs * samples_per_epoch
        return rates, replace(self, epochs=e, samples=t, rate=rate)

    def after(self, epochs: int, samples_per_epoch: int, error: float) -> ScheduleState:
        """The state after ``epochs`` more epochs of ``samples_per_epoch`` samples
        each (for "adaptive": one epoch, whose error, the sum over its samples,
        is ``error``)."""
        s = self.schedule
        if s.name != "adaptive":
            return self.rates(epochs, samples_per_epoch)[1]
        # scikit-learn's _update_no_improvement_count, on the mean sample error
        loss = error / samples_per_epoch
        bad = self.bad + 1 if loss > self.best - s.tol else 0
        best = min(self.best, loss)
        rate = self.rate
        if bad > s.n_iter_no_change:  # its trigger_stopping
            if rate > _spec.ADAPTIVE_MIN_RATE:
                rate = rate / _spec.ADAPTIVE_FACTOR
            bad = 0
        return replace(
            self,
            epochs=self.epochs + epochs,
            samples=self.samples + epochs * samples_per_epoch,
            rate=rate,
            best=best,
            bad=bad,
        )


def _cosine_step(rate: float, base: float, eta_min: float, t_max: int, e: int) -> float:
    """PyTorch's ``CosineAnnealingLR.get_lr`` for ``last_epoch = e >= 1``, from the
    previous epoch's ``rate``."""
    if (e - 1 - t_max) % (2 * t_max) == 0:
        return rate + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
    return (1 + math.cos(math.pi * e / t_max)) / (1 + math.cos(math.pi * (e - 1) / t_max)) * (
        rate - eta_min
    ) + eta_min

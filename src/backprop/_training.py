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

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _spec
from . import _validation as check

if TYPE_CHECKING:
    from .network import Network


class TrainingError(FloatingPointError):
    """Training produced a non-finite error or weight; the network is unchanged."""


@dataclass
class Plan:
    """The checked options of one ``train`` call, in the engines' terms."""

    epochs: int
    learning_rate: float
    sequential: bool
    batch_size: int
    optimizer: int
    hyper: np.ndarray
    state: np.ndarray
    perm: np.ndarray | None
    rng: np.ndarray | None
    validation: tuple[np.ndarray, np.ndarray] | None
    patience: int | None
    callback: Callable[[int, float], Any] | None
    report_every: int

    @property
    def reports(self) -> bool:
        return self.validation is not None or self.callback is not None


def make_plan(
    net: Network,
    n_samples: int,
    epochs: Any,
    learning_rate: Any,
    update: Any,
    options: dict[str, Any],
) -> Plan:
    """Check every argument of ``train`` (beyond the data) and build its ``Plan``."""
    unknown = sorted(set(options) - set(_spec.TRAIN_OPTIONS))
    if unknown:
        raise TypeError(f"train() got unexpected keyword argument(s): {', '.join(unknown)}")
    o = {**_spec.TRAIN_DEFAULTS, **options}
    epochs = check.non_negative_int("epochs", epochs)
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
    h = {name: o[name] for name in (*_spec.HYPER, "rprop_initial_step")}
    for key in ("momentum", "beta1", "beta2"):
        value = check.real(key, h[key])
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{key} must be in [0, 1), got {value!r}")
        h[key] = value
    for key in (
        "epsilon",
        "rprop_increase",
        "rprop_decrease",
        "rprop_initial_step",
        "rprop_max_step",
    ):
        h[key] = check.positive_real(key, h[key])
    h["rprop_min_step"] = check.real("rprop_min_step", h["rprop_min_step"])
    if not 0.0 <= h["rprop_min_step"] <= h["rprop_max_step"]:
        raise ValueError("rprop_min_step must be in [0, rprop_max_step]")
    if not (h["rprop_decrease"] < 1.0 < h["rprop_increase"]):
        raise ValueError("rprop_decrease must be < 1 and rprop_increase > 1")
    n_params = _spec.param_count(net.layers, net.bias)
    state = np.zeros(_spec.state_size(optimizer, n_params), dtype=net.dtype)
    if optimizer == "rprop":
        state[:n_params] = h["rprop_initial_step"]
    shuffle = check.flag("shuffle", o["shuffle"])
    seed = o["seed"]
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
    ):
        raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}")
    perm = rng = None
    if shuffle:
        perm = np.arange(n_samples, dtype=np.intp)
        rng = np.array(np.random.SeedSequence(seed).generate_state(1, np.uint64), dtype=np.uint64)
    elif seed is not None:
        raise ValueError("seed only applies with shuffle=True")
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
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    return Plan(
        epochs=epochs,
        learning_rate=lr,
        sequential=update == "sequential",
        batch_size=batch,
        optimizer=_spec.code("optimizer", optimizer),
        hyper=np.array([h[name] for name in _spec.HYPER], dtype=np.float64),
        state=state,
        perm=perm,
        rng=rng,
        validation=validation,
        patience=patience,
        callback=callback,
        report_every=check.positive_int("report_every", o["report_every"]),
    )


def train_checked(
    net: Network,
    X: Any,
    T: Any,
    epochs: Any = _spec.TRAIN.epochs,
    learning_rate: Any = _spec.TRAIN.learning_rate,
    update: Any = _spec.TRAIN.update,
    **options: Any,
) -> np.ndarray:
    """``Network.train`` with every argument checked and converted."""
    X, T = net._data(X, T)
    plan = make_plan(net, X.shape[0], epochs, learning_rate, update, options)
    params = net._params
    start = params.copy()
    try:
        return _run(net, X, T, plan)
    except BaseException:
        # a failed epoch, a callback that raised, an interrupt: the network is
        # left exactly as it was before the call
        params[:] = start
        raise


def _run(net: Network, X: np.ndarray, T: np.ndarray, plan: Plan) -> np.ndarray:
    """Run the plan's epochs, in chunks of ``plan.report_every`` when reporting."""
    engine, (sizes, layout, acts) = net._engine, net._shape
    histories: list[np.ndarray] = []
    done = 0
    best_error, best_params, misses = math.inf, None, 0
    while done < plan.epochs:
        chunk = min(plan.report_every if plan.reports else plan.epochs, plan.epochs - done)
        history, failed = engine.train(
            net._params,
            sizes,
            layout,
            acts,
            net.train_bias,
            net._loss_code,
            X,
            T,
            chunk,
            plan.learning_rate,
            plan.sequential,
            plan.batch_size,
            plan.optimizer,
            plan.hyper,
            plan.state,
            plan.perm,
            plan.rng,
            True,
        )
        if failed >= 0:
            raise TrainingError(_divergence(done + failed, plan.learning_rate))
        histories.append(history)
        done += chunk
        stop = False
        if plan.validation is not None:
            error = float(
                engine.sample_errors(
                    net._params, sizes, layout, acts, net._loss_code, *plan.validation
                ).sum()
            )
            if error < best_error:
                best_error, best_params, misses = error, net._params.copy(), 0
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
        net._params[:] = best_params
    return np.concatenate(histories) if histories else np.zeros(0)


def diverged(
    net: Network, X: Any, T: Any, epochs: Any, learning_rate: Any, update: Any, epoch: int
) -> np.ndarray:
    """Report a plain call that diverged on the compiled fast path (the weights are
    already restored): bad data is named as such, anything else is a
    ``TrainingError`` for ``epoch``."""
    X, T = net._data(X, T)
    make_plan(net, X.shape[0], epochs, learning_rate, update, {})
    raise TrainingError(_divergence(epoch, float(learning_rate)))


def _divergence(epoch: int, learning_rate: float) -> str:
    return (
        f"training diverged in epoch {epoch} (counting from 0): the error or a weight "
        f"became NaN or infinite (try a smaller learning_rate, now {learning_rate!r}); "
        f"the network is unchanged"
    )

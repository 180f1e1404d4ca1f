"""Hyper-parameter sweeps: ``sweep`` trains every combination of a grid.

Configurations that make networks of one shape and options and train with the
same options apart from ``learning_rate``, ``momentum``, ``beta1``, ``beta2``,
``epsilon`` and ``seed`` are trained together as one ``Ensemble`` (side by side
in vector lanes where the options allow).  Locally the ensembles run one after
the other, each on ``n_jobs`` threads; given a Dask ``client``, they are split
into chunks of members that run as tasks on the cluster's workers.  Every member
is trained exactly as it would be alone, so a configuration's row is the same,
bit for bit, however the work was split.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _spec
from ._training import TargetsError, TrainingError, measure_validation, shifted, training_error
from .ensemble import PER_MEMBER, Ensemble, n_jobs_value
from .network import Network

__all__ = ["sweep", "SweepResult"]

#: The ``Network`` options a grid or ``options`` may set (``sizes`` too).
NETWORK_OPTIONS = ("sizes", "bias", "train_bias", "activation", "output_activation", "loss",
                   "init", "dtype", "engine", "seed")  # fmt: skip
#: The ``train`` options (``seed`` is the network's: the shuffling seed is
#: ``shuffle_seed``).
TRAIN_KEYS = tuple(k for k in ("learning_rate", "update", *_spec.TRAIN_OPTIONS) if k != "seed")
#: ``train`` options that do not apply to a sweep, and why.
_NOT_IN_SWEEPS = {
    "callback": "a sweep reports its rows at the end; train one configuration to follow it",
    "checkpoint": "a sweep trains many networks; save result.network(i)",
    "checkpoint_every": "a sweep trains many networks; save result.network(i)",
    "progress": "a sweep trains its configurations in ensembles, in chunks, perhaps on a "
    "cluster; follow one ensemble with Ensemble.train(progress=True)",
}
#: What varies between the members of one ensemble.
_MEMBER_KEYS = ("seed", *PER_MEMBER)


@dataclass
class SweepResult:
    """``sweep``'s result: one row per configuration, in the grid's order.

    Each row is a dict of the configuration's options, then ``train_error``
    (the last epoch's), ``validation_error`` (after the last epoch; NaN without
    validation data), ``best_epoch`` (counting from 0: the epoch with the lowest
    validation error, or training error without validation data) and
    ``best_error`` (that error)."""

    rows: list[dict[str, Any]]
    _params: list[np.ndarray]
    _networks: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows[i]

    @property
    def best(self) -> dict[str, Any]:
        """The row of the lowest ``best_error``."""
        return min(self.rows, key=lambda r: (math.isnan(r["best_error"]), r["best_error"]))

    @property
    def best_index(self) -> int:
        return self.rows.index(self.best)

    def network(self, i: int) -> Network:
        """The network configuration ``i`` trained, with its final weights."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"configuration index must be an integer, got {type(i).__name__}")
        if not -len(self.rows) <= i < len(self.rows):
            raise IndexError(
                f"configuration {i} out of range for a sweep of {len(self.rows)} configurations"
            )
        options = dict(self._networks[i])
        sizes = options.pop("sizes")
        net = Network(sizes, **options)
        net._params[:] = self._params[i]
        return net

    def to_pandas(self) -> Any:
        """The rows as a ``pandas.DataFrame`` (pandas must be installed)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "SweepResult.to_pandas needs pandas, which is not installed"
            ) from None
        return pd.DataFrame(self.rows)


def _configurations(grid: Mapping[str, Sequence[Any]], options: dict[str, Any]
                    ) -> list[dict[str, Any]]:  # fmt: skip
    if not isinstance(grid, Mapping):
        raise TypeError(f"grid must be a mapping of option names to lists of values, got "
                        f"{type(grid).__name__}")  # fmt: skip
    known = set(NETWORK_OPTIONS) | set(TRAIN_KEYS) | {"shuffle_seed"}
    for name in (*grid, *options):
        if name not in known:
            raise TypeError(f"sweep: unknown option {name!r} (Network and train options only)")
    both = sorted(set(grid) & set(options))
    if both:
        raise TypeError(f"sweep: {both[0]!r} is given both in the grid and as an option")
    values = []
    for name, choices in grid.items():
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence | np.ndarray):
            raise TypeError(f"grid[{name!r}] must be a list of values, got {choices!r}")
        if len(choices) == 0:
            raise ValueError(f"grid[{name!r}] is empty")
        values.append(list(choices))
    return [{**options, **dict(zip(grid, combo))} for combo in itertools.product(*values)]


def _check_configurations(
    configs: list[dict[str, Any]], groups: dict[str, list[int]], X: np.ndarray, T: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray] | None, epochs: int, report_every: int,
) -> None:  # fmt: skip
    """Every configuration's options and the data checked as its network and its
    ``train`` call will check them, before any trains (a bad value in the last
    group would otherwise stop the sweep after the others trained): the error
    names the configuration.  One network per group (its members share every
    network option but the seed)."""
    from . import _training

    for indices in groups.values():
        i = indices[0]
        try:
            options = {k: v for k, v in configs[i].items() if k in NETWORK_OPTIONS}
            net = Network(options.pop("sizes"), **options)
            net._data(X, T)
            if validation is not None:
                net._data(*validation, "validation X", "validation T")
            for i in indices:
                train = {k: v for k, v in configs[i].items() if k in TRAIN_KEYS}
                lr = train.pop("learning_rate", _spec.TRAIN.learning_rate)
                update = train.pop("update", _spec.TRAIN.update)
                if validation is not None:
                    train.update(validation=validation, report_every=report_every)
                train["seed"] = configs[i].get("shuffle_seed")
                _training.make_plan(net, X.shape[0], epochs, lr, update, train)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"configuration {i}: {exc}") from None


def _group_key(config: dict[str, Any]) -> str:
    return repr(sorted((k, repr(v)) for k, v in config.items() if k not in _MEMBER_KEYS))


def _validation_errors(
    ens: Ensemble, validation: tuple[np.ndarray, np.ndarray], epoch: int, indices: list[int]
) -> np.ndarray:
    """Each member's validation error after ``epoch``, measured as a network's
    own training measures it: one that is not finite is an error naming the
    configuration (``TargetsError``, a ``ValueError``, when the targets are to
    blame, else ``TrainingError``)."""
    out = np.empty(len(ens))
    for k, member in enumerate(ens._members):
        try:
            out[k] = measure_validation(member, validation, epoch)
        except (TargetsError, TrainingError) as exc:
            message = f"configuration {indices[k]}: " + str(exc).replace(
                "; the network is unchanged", ""
            )
            if isinstance(exc, TargetsError):
                raise TargetsError(message) from None
            raise training_error(message, exc.epoch) from None
    return out


def _run_unit(unit: dict[str, Any]) -> list[tuple[int, dict[str, Any], np.ndarray]]:
    """Train one chunk of one ensemble: ``unit`` holds the configurations (with
    their indices), the data and the run's settings; returns each configuration's
    index, its row's results and its final parameters.  Runs locally or as a
    Dask task (it needs nothing but its argument)."""
    configs, indices = unit["configs"], unit["indices"]
    X, T, validation = unit["X"], unit["T"], unit["validation"]
    epochs, every, jobs = unit["epochs"], unit["report_every"], unit["n_jobs"]
    first = configs[0]
    net_options = {k: v for k, v in first.items() if k in NETWORK_OPTIONS and k != "seed"}
    sizes = net_options.pop("sizes")
    members = [Network(sizes, seed=c.get("seed"), **net_options) for c in configs]
    ens = Ensemble.from_networks(members)
    ens._members = members
    train = {k: v for k, v in first.items() if k in TRAIN_KEYS and k not in PER_MEMBER}
    for key in PER_MEMBER:
        if any(key in c for c in configs):
            train[key] = np.array([c.get(key, getattr(_spec.TRAIN, key)) for c in configs])
    lr = train.pop("learning_rate", _spec.TRAIN.learning_rate)
    update = train.pop("update", _spec.TRAIN.update)
    record = train.pop("record_every", 1)  # (checked by sweep)
    shuffle_seed = first.get("shuffle_seed")
    n = len(configs)
    # errors[k, i]: the training error after epoch (i + 1) * step - 1 (and the last)
    errors = np.full((n, 0), np.nan)
    step = record
    val = np.full((n, 0), np.nan)
    val_epochs = np.zeros(0, np.intp)
    offset = 0  # the epochs done before the ensemble's call in flight
    try:
        if epochs and (validation is None or train.get("patience") is not None):
            options = dict(train)
            if validation is not None:  # early stopping: each member on its own
                options.update(validation=validation, report_every=every)
            errors = ens.train(X, T, epochs, lr, update, n_jobs=jobs, seed=shuffle_seed,
                               record_every=record, **options)  # fmt: skip
            if validation is not None:
                val, val_epochs = errors.validation, errors.validation_epochs
            errors = np.asarray(errors)
        elif epochs:
            measured, last = [], []
            done = 0
            while done < epochs:
                size = min(every, epochs - done)
                offset = done
                h = ens.train(X, T, size, lr, update, n_jobs=jobs,
                              seed=shuffle_seed if done == 0 else None, record_every=size,
                              **train)  # fmt: skip
                done += size
                last.append(h[:, -1])
                measured.append(_validation_errors(ens, validation, done - 1, indices))
            errors, step = np.stack(last, axis=1), every
            val = np.stack(measured, axis=1)
            val_epochs = np.minimum(np.arange(1, val.shape[1] + 1) * every, epochs) - 1
    except TargetsError as exc:
        if exc.member is None:
            raise
        message = str(exc).removeprefix(f"member {exc.member}: ")
        message = message.replace("; the ensemble is unchanged", "")
        raise TargetsError(f"configuration {indices[exc.member]}: {message}") from None
    except TrainingError as exc:
        k = exc.member
        if k is None:
            raise
        rate = configs[k].get("learning_rate", _spec.TRAIN.learning_rate)
        message = str(exc).removeprefix(f"member {k}: ")
        message, epoch = shifted(message, exc.epoch, offset, rate)
        for unchanged in ("; the ensemble is unchanged", "; the network is unchanged"):
            message = message.replace(unchanged, "")
        raise training_error(f"configuration {indices[k]}: {message}", epoch) from None
    out = []
    for k in range(n):
        trained = errors[k][np.isfinite(errors[k])] if errors.shape[1] else errors[k]
        if val.shape[1]:
            b = int(np.nanargmin(val[k])) if np.isfinite(val[k]).any() else 0
            best_epoch = int(val_epochs[b])
            best_error = float(val[k, b])
            if train.get("patience") is not None:  # it keeps the weights of its best
                final_val = best_error
            else:
                final_val = float(val[k, -1])
        else:
            b = int(np.nanargmin(errors[k])) if epochs and np.isfinite(errors[k]).any() else 0
            best_epoch = min(epochs - 1, (b + 1) * step - 1) if epochs else -1
            best_error = float(errors[k, b]) if epochs else math.nan
            final_val = math.nan
        result = {
            "train_error": float(trained[-1]) if trained.size else math.nan,
            "validation_error": final_val,
            "best_epoch": best_epoch,
            "best_error": best_error,
        }
        out.append((indices[k], result, ens._members[k]._params.copy()))
    return out


def sweep(sizes: Sequence[int], X: Any, T: Any, grid: Mapping[str, Sequence[Any]], *,
          epochs: int = _spec.TRAIN.epochs, validation: tuple[Any, Any] | None = None,
          report_every: int = 1, n_jobs: int | None = -1, client: Any = None,
          **options: Any) -> SweepResult:  # fmt: skip
    """Train a network for every combination of ``grid`` and report each.

    ``grid`` maps option names to lists of values: any ``Network`` option
    (``sizes`` too, replacing the first argument, which may then be None;
    ``seed`` for the starting weights, by default each configuration's index in
    the grid) and any ``train`` option (``learning_rate``, ``momentum``,
    ``optimizer``, ``batch_size``, ``patience`` ...; ``shuffle_seed`` is
    ``train``'s ``seed``, 0 by default with ``shuffle=True``, so that rows are
    reproducible), but ``callback`` and checkpoints.  ``options`` fixes other
    options for every configuration.  With ``validation=(Xv, Tv)`` the
    validation error is measured every ``report_every`` epochs and
    ``best_epoch`` is where it was lowest (with ``patience``, each network
    stops on its own and keeps the weights of that epoch).  A network whose
    training diverges stops the sweep with a ``TrainingError`` naming its
    configuration; every configuration's options are checked, with the data,
    before any trains (a ``ValueError`` or ``TypeError`` naming it).

    ``n_jobs`` threads (-1: every core) train each ensemble locally; with a Dask
    ``client`` (``dask.distributed.Client``) the ensembles are split into chunks
    that run as tasks on its workers (which need backprop installed), and the
    rows are the same, bit for bit, as a local run's.

    Ctrl-C stops a local sweep with a ``KeyboardInterrupt`` that says how many
    configurations were trained; it returns nothing.
    """
    from . import _validation as check

    epochs = check.non_negative_int("epochs", epochs)
    report_every = check.positive_int("report_every", report_every)
    jobs = n_jobs_value(n_jobs)
    for name in _NOT_IN_SWEEPS:
        value = options.get(name)
        given = value is not None and not (isinstance(value, (bool, np.bool_)) and not value)
        if given or (isinstance(grid, Mapping) and name in grid):
            raise TypeError(f"sweep: {name!r} is not a sweep's option ({_NOT_IN_SWEEPS[name]})")
    if client is not None and not (hasattr(client, "map") and hasattr(client, "gather")
                                   and hasattr(client, "scheduler_info")):  # fmt: skip
        raise TypeError(f"client must be a dask.distributed.Client, got {type(client).__name__}")
    base = dict(options) if isinstance(grid, Mapping) and "sizes" in grid else {
        "sizes": sizes, **options}  # fmt: skip
    configs = _configurations(grid, base)
    for c in configs:  # (the ensembles' own checks would come after some training)
        check.positive_int("record_every", c.get("record_every", 1))
    # the data: converted once, as a first network would (the checks say what is wrong)
    probe = dict(configs[0])
    probe_sizes = probe.pop("sizes")
    probe_net = Network(probe_sizes, **{k: v for k, v in probe.items() if k in NETWORK_OPTIONS})
    X, T = probe_net._data(X, T)
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError("validation must be a pair (X, T) of held-out data")
        validation = probe_net._data(*validation, "validation X", "validation T")
    for i, c in enumerate(configs):
        c.setdefault("seed", i)  # reproducible starts: the configuration's index
        if c.get("shuffle"):  # and a reproducible order of the samples
            c.setdefault("shuffle_seed", 0)
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(configs):
        groups.setdefault(_group_key(c), []).append(i)
    _check_configurations(configs, groups, X, T, validation, epochs, report_every)
    units = []
    chunks = 1
    if client is not None:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        chunks = 2 * workers
    for indices in groups.values():
        size = max(1, math.ceil(len(indices) / chunks)) if client is not None else len(indices)
        for start in range(0, len(indices), size):
            part = indices[start : start + size]
            units.append({
                "configs": [configs[i] for i in part], "indices": part, "X": X, "T": T,
                "validation": validation, "epochs": epochs, "report_every": report_every,
                "n_jobs": 1 if client is not None else jobs,
            })  # fmt: skip
    if client is None:
        results = []
        try:
            for u in units:
                results.append(_run_unit(u))
        except KeyboardInterrupt as exc:
            done = sum(len(u["indices"]) for u in units[: len(results)])
            raise KeyboardInterrupt(
                f"sweep interrupted: {done} of {len(configs)} configurations trained, "
                f"the rest not; a sweep returns all its rows or none (run it again: "
                f"its rows are reproducible)"
            ) from exc
    else:
        futures = client.map(_run_unit, units, pure=False)
        results = client.gather(futures)
    rows: list[dict[str, Any] | None] = [None] * len(configs)
    params: list[np.ndarray | None] = [None] * len(configs)
    for batch in results:
        for i, result, p in batch:
            shown = {k: v for k, v in configs[i].items() if k in grid or k == "sizes"}
            rows[i] = {**shown, **result}
            params[i] = p
    networks = [{k: v for k, v in c.items() if k in NETWORK_OPTIONS} for c in configs]
    return SweepResult(rows, params, networks)  # type: ignore[arg-type]

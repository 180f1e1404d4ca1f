"""``BackpropClassifier`` against scikit-learn's ``MLPClassifier`` on the digits data.

Both estimators get the same configuration (:data:`CONFIG`): architecture,
activation, solver (SGD with scikit-learn's Nesterov momentum), batch size,
learning rate, number of epochs, shuffling, no weight penalty and no early
stopping (``tol=0`` with ``n_iter_no_change`` equal to the epochs, so that both
train every epoch).  They fit the same 75 % of ``load_digits()`` (pixels / 16)
and are scored on the held-out 25 %.  :func:`run` times the two fits side by side
in one run, alternating which goes first, and reports the ratio of their times
and both accuracies; the target is a ratio of at least 5 at an accuracy of at
least 0.97.  Used by ``benchmarks/test_bench_sklearn.py``; ``backprop bench``
can print :func:`format_result` of :func:`run`.

Needs scikit-learn; the timings mean something with the compiled engine only
(:func:`skip_reason`).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

__all__ = [
    "CONFIG",
    "ESTIMATORS",
    "TARGET_ACCURACY",
    "TARGET_RATIO",
    "digits_split",
    "fit",
    "fit_and_score",
    "format_result",
    "make_estimator",
    "run",
    "skip_reason",
]

#: The configuration both estimators train with (MLPClassifier's names).
CONFIG: dict[str, Any] = dict(
    hidden_layer_sizes=(32,),
    activation="relu",
    batch_size=10,
    learning_rate_init=0.05,
    momentum=0.9,
    nesterovs_momentum=True,
    alpha=0.0,
    max_iter=50,
    shuffle=True,
    tol=0.0,
    n_iter_no_change=50,
    early_stopping=False,
    random_state=0,
)
#: The solver: ``BackpropClassifier(optimizer=...)``, ``MLPClassifier(solver=...)``.
SOLVER = "sgd"
#: The two estimators, by name: this library's first (the ratio is theirs / ours).
ESTIMATORS = ("backprop", "sklearn")
#: Seed of the train/test split.
SPLIT_SEED = 0
#: The issue's targets.
TARGET_RATIO = 5.0
TARGET_ACCURACY = 0.97


def skip_reason() -> str | None:
    """Why the comparison cannot run here, or ``None``."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return "scikit-learn is not installed"
    from .network import default_engine

    if default_engine() != "cython":
        return "the estimators would train on the pure-Python engine (BACKPROP_ENGINE=python)"
    return None


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``load_digits()`` (pixels / 16) split 75/25, stratified:
    ``X_train, X_test, y_train, y_test``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    return train_test_split(
        digits.data / 16.0,
        digits.target,
        test_size=0.25,
        random_state=SPLIT_SEED,
        stratify=digits.target,
    )


def make_estimator(name: str, **changes: Any) -> Any:
    """A new, unfitted estimator: ``"backprop"`` or ``"sklearn"``, with :data:`CONFIG`
    (and ``changes`` to it)."""
    config = {**CONFIG, **changes}
    if name == "backprop":
        from .sklearn import BackpropClassifier

        return BackpropClassifier(optimizer=SOLVER, **config)
    if name == "sklearn":
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(solver=SOLVER, **config)
    raise ValueError(f"name must be one of {ESTIMATORS}, got {name!r}")


def fit(name: str, X_train: np.ndarray, y_train: np.ndarray, **changes: Any) -> tuple[Any, float]:
    """A new ``name`` estimator (``make_estimator(name, **changes)``) fitted on
    ``X_train``, ``y_train``, and the seconds its ``fit`` took."""
    from sklearn.exceptions import ConvergenceWarning

    estimator = make_estimator(name, **changes)
    with warnings.catch_warnings():
        # every epoch is trained on purpose: with tol=0 neither estimator converges
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X_train, y_train)
        seconds = time.perf_counter() - start
    return estimator, seconds


def fit_and_score(name: str, data: tuple[np.ndarray, ...] | None = None) -> tuple[float, float]:
    """Fit a new ``name`` estimator on the training split: ``(seconds, held-out accuracy)``."""
    X_train, X_test, y_train, y_test = digits_split() if data is None else data
    estimator, seconds = fit(name, X_train, y_train)
    return seconds, float(estimator.score(X_test, y_test))


def run(repeat: int = 3) -> dict[str, Any]:
    """Fit both estimators ``repeat`` times each, interleaved (the order reversed
    every other round), after a one-epoch warm-up fit of each.

    Returns a JSON-ready dict: ``config`` (:data:`CONFIG` and the solver),
    ``samples`` (training, held-out), ``repeat``, for each estimator its fastest
    ``time`` (seconds), its held-out ``accuracy`` (the same in every round: the
    fits are seeded), ``n_iter`` (epochs trained) and ``coef_shapes``, then
    ``ratio`` (scikit-learn's time / ours) and whether each ``target`` was met.
    """
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be a positive integer, got {repeat!r}")
    reason = skip_reason()
    if reason is not None:
        raise RuntimeError(f"cannot run the scikit-learn comparison: {reason}")
    data = digits_split()
    X_train, X_test, y_train, y_test = data
    for name in ESTIMATORS:  # warm-up: imports, caches
        fit(name, X_train, y_train, max_iter=1)
    times: dict[str, list[float]] = {name: [] for name in ESTIMATORS}
    rows: dict[str, dict[str, Any]] = {}
    for r in range(repeat):
        for name in ESTIMATORS if r % 2 == 0 else reversed(ESTIMATORS):
            estimator, seconds = fit(name, X_train, y_train)
            times[name].append(seconds)
            rows[name] = {
                "accuracy": float(estimator.score(X_test, y_test)),
                "n_iter": int(estimator.n_iter_),
                "coef_shapes": [list(c.shape) for c in estimator.coefs_],
            }
    for name in ESTIMATORS:
        rows[name]["time"] = min(times[name])
    ratio = rows["sklearn"]["time"] / rows["backprop"]["time"]
    accuracy = rows["backprop"]["accuracy"]
    return {
        "config": {**CONFIG, "solver": SOLVER},
        "samples": [len(X_train), len(X_test)],
        "repeat": repeat,
        **rows,
        "ratio": ratio,
        "target": {
            "ratio": ratio >= TARGET_RATIO,
            "accuracy": accuracy >= max(TARGET_ACCURACY, rows["sklearn"]["accuracy"]),
        },
    }


def format_result(result: dict[str, Any]) -> str:
    """A few lines for ``backprop bench``: the ratio, both times and accuracies."""
    c = result["config"]
    lines = [
        f"scikit-learn comparison: digits, {result['samples'][0]} training / "
        f"{result['samples'][1]} held-out samples; hidden {list(c['hidden_layer_sizes'])}, "
        f"{c['activation']}, {c['solver']} (Nesterov {c['momentum']}), batch "
        f"{c['batch_size']}, {c['max_iter']} epochs, best of {result['repeat']}",
    ]
    for name, label in (("backprop", "BackpropClassifier"), ("sklearn", "MLPClassifier")):
        row = result[name]
        lines.append(f"  {label:<19} {row['time']:8.3f} s   accuracy {row['accuracy']:.4f}")
    met = "met" if all(result["target"].values()) else "NOT met"
    lines.append(
        f"  ratio {result['ratio']:.1f}x (target >= {TARGET_RATIO:g}x at accuracy >= "
        f"{TARGET_ACCURACY:g} and >= MLPClassifier's: {met})"
    )
    return "\n".join(lines)

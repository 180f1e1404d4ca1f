"""Benchmark workloads shared by ``backprop bench`` and the pytest-benchmark suite.

A *workload* is a fixed amount of training (one-sample SGD updates, or
mini-batch SGD for ``minibatch-784``); an *engine* is what does it: this
package's ``Network(engine="cython")`` and its pure-Python twin
``engine="python"``, or one of the independent peers of :mod:`backprop._peers`
(``numpy``, ``numba``, ``torch``, ``python_loop``).
Every (workload, engine) pair is a :class:`Case`; ``case.setup()`` builds the
network and returns a zero-argument ``run()`` that does the work once.

Workloads
---------
``seed-library-loop``
    ``net.train(x, t, epochs=10_000)`` on ``Network.tutorial()``.
``seed-python-loop``
    10,000 Python-level calls ``net.train(x, t)`` (one sample, one epoch each).
``digits``
    one epoch of one-sample SGD of a ``[64, 32, 10]`` network on scikit-learn's
    ``load_digits`` (1,797 samples, pixels / 16, one-hot targets).
``width-sweep-<n>``
    one epoch over random samples of an ``[n, n, n]`` network, for ``n`` in
    :data:`WIDTHS`; the engine ``numpy-matvec`` times NumPy's ``W @ v`` on the
    same ``(n, n)`` shape for comparison (one product per "step").
``minibatch-784``
    one epoch of mini-batch SGD (batches of 64, learning rate 0.1) of a
    ``[784, 256, 10]`` logistic network on 4,096 random samples (inputs in
    [0, 1), one-hot targets of random classes); one "step" is one sample.

In quick mode (the default of :func:`run_all`) slow engines run only part of a
long workload and their time is extrapolated to the whole of it; such rows
carry ``scaled=True`` and are starred in :func:`format_table`.  The
pure-Python engine runs only a few samples of ``minibatch-784`` in every mode
(about 0.1 s each); its figure is extrapolated too.

NumPy (and SciPy) hand matrix products to a BLAS that may use several
threads; every engine runs under the same setting.  :func:`run_all`'s
``blas_threads`` limits them (with ``threadpoolctl``, when installed), and the
BLAS thread count in force is recorded in each row and in :func:`machine_info`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fractions
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache, partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _peers, _spec, tutorial

__all__ = [
    "Case",
    "ENGINES",
    "LIBRARY_ENGINES",
    "REFERENCE_ENGINE",
    "WIDTHS",
    "WORKLOADS",
    "build_cases",
    "engine_available",
    "blas_summary",
    "format_header",
    "format_rows",
    "format_table",
    "get_case",
    "machine_info",
    "report",
    "run_all",
    "select_workloads",
    "sgd_step_flops",
    "table_notes",
    "table_widths",
    "workload_names",
    "write_json",
]

FloatArray = NDArray[np.float64]
Run = Callable[[], object]

#: This package's engines; ratios are measured against :data:`REFERENCE_ENGINE`.
LIBRARY_ENGINES: tuple[str, ...] = ("cython", "python")
REFERENCE_ENGINE = "cython"
#: The compiled engine on a float32 network (width sweep and mini-batches; data in
#: float32 too).
FLOAT32_ENGINE = "cython-float32"
#: The compiled engine on the same network and work, called another way: the
#: argument forms of a Python loop's calls (seed-python-loop) and the cost of a
#: long run's features (seed-library-loop, digits).
VARIANTS: dict[str, str] = {
    "cython-lists": "net.train(x, t) with Python lists (the fast path converts them)",
    "cython-numpy-scalars": "net.train(x, t, np.int64(1), np.float64(0.5))",
    "cython-checked": "net.train(x, t, learning_rate=Fraction(1, 2)): the full checks in Python",
    "cython-progress": "train(..., progress=True)",
    "cython-nosignals": "train() with the looks for Ctrl-C turned off (watch_signals)",
}
CALL_VARIANTS = ("cython-lists", "cython-numpy-scalars", "cython-checked")
RUN_VARIANTS = ("cython-progress", "cython-nosignals")
#: The compiled engine (and on float32) run by the kernels of one SIMD level:
#: ``cython@avx2`` is ``cython`` with ``_core.use_simd("avx2")`` in force (plain
#: ``cython`` runs the best level the CPU has).
SIMD_ENGINES: tuple[str, ...] = tuple(
    f"{engine}@{level}" for engine in (REFERENCE_ENGINE, FLOAT32_ENGINE)
    for level in _spec.SIMD_LEVELS
)  # fmt: skip
#: Every engine, in table order (``numpy-matvec`` and ``cython-float32`` only run in
#: the width sweep and mini-batches, the variants in their workloads).
ENGINES: tuple[str, ...] = (
    *LIBRARY_ENGINES, *VARIANTS, FLOAT32_ENGINE, *SIMD_ENGINES, *_peers.PEERS, "numpy-matvec",
)  # fmt: skip
#: Workload families; the width sweep expands to one workload per width.
WORKLOADS: tuple[str, ...] = (
    "seed-library-loop", "seed-python-loop", "digits", "width-sweep", "minibatch-784",
)  # fmt: skip
WIDTHS: tuple[int, ...] = (2, 8, 32, 128, 512)

LEARNING_RATE = tutorial.LEARNING_RATE
SEED_STEPS = 10_000
SEED_X = tutorial.INPUTS
SEED_T = tutorial.TARGETS
#: The tutorial network for the peers (the library uses ``Network.tutorial()``):
#: its shared, untrained biases written out per neuron.
TUTORIAL_WEIGHTS = tutorial.WEIGHTS
TUTORIAL_BIASES = tuple((b,) * n for b, n in zip(tutorial.BIASES, tutorial.SIZES[1:]))
DIGITS_SIZES = (64, 32, 10)
DIGITS_SAMPLES = 1797  # scikit-learn's load_digits()
DATA_SEED = 20240601
MINIBATCH_SIZES = (784, 256, 10)
MINIBATCH_BATCH = 64
MINIBATCH_LEARNING_RATE = 0.1
MINIBATCH_SAMPLES = 4096
#: Samples of ``minibatch-784`` per run in quick mode (eight batches).
MINIBATCH_QUICK_SAMPLES = 512
#: Samples of ``minibatch-784`` the pure-Python engine runs: (quick, full) mode.
MINIBATCH_PYTHON_SAMPLES = (4, 16)

#: Rough seconds per step (``overhead + per_flop * flops``) of each engine; only
#: used in quick mode, to decide how much of a long workload a slow engine runs.
_COST_MODEL: dict[str, tuple[float, float]] = {
    "cython": (2e-7, 1e-9),
    "cython-lists": (1e-6, 1e-9),
    "cython-numpy-scalars": (1e-6, 1e-9),
    "cython-checked": (1e-5, 1e-9),
    "cython-progress": (2e-7, 1e-9),
    "cython-nosignals": (2e-7, 1e-9),
    "cython-float32": (2e-7, 1e-9),
    "numba": (2e-7, 1e-9),
    "numba_2d": (2e-7, 1e-9),
    "numba_222": (2e-7, 1e-9),
    "c_222": (2e-7, 1e-9),
    "python": (1e-5, 6e-8),
    "python_loop": (1e-5, 6e-8),
    "numpy": (3e-5, 1e-9),
    "torch": (3e-4, 1e-9),
    "numpy-matvec": (1e-6, 1e-9),
}
#: Longest a single quick-mode run of one case should take, in seconds.
_QUICK_RUN_BUDGET = 0.08


def sgd_step_flops(sizes: Sequence[int]) -> int:
    """Floating-point operations of one online SGD step of a network ``sizes``.

    Per layer of ``n_in -> n_out`` units: forward ``2 n_in n_out``, update
    ``2 n_in n_out`` and, except for the first layer, the back-propagated delta
    ``2 n_in n_out``.  Activations, biases and the error are not counted.
    An ``[n, n, n]`` network thus costs ``10 n**2``.
    """
    pairs = [2 * n_in * n_out for n_in, n_out in zip(sizes, sizes[1:])]
    return 2 * sum(pairs) + sum(pairs[1:])


def width_steps(n: int) -> int:
    """Samples per run of ``width-sweep-<n>``: about 4 Mflop, 16 to 4,096 steps
    (at least 16, so that one call's fixed costs do not swamp the steps)."""
    return max(16, min(4096, 2**22 // sgd_step_flops((n, n, n))))


def init_params(
    sizes: Sequence[int], seed: int = DATA_SEED
) -> tuple[list[FloatArray], list[FloatArray]]:
    """Seeded uniform(+-1/sqrt(n_in)) weights and biases, shared by all engines."""
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for n_in, n_out in zip(sizes, sizes[1:]):
        limit = 1.0 / math.sqrt(n_in)
        weights.append(rng.uniform(-limit, limit, (n_out, n_in)))
        biases.append(rng.uniform(-limit, limit, n_out))
    return weights, biases


def _simd_split(engine: str) -> tuple[str, str | None]:
    """``("cython", "avx2")`` for ``"cython@avx2"``, ``(engine, None)`` otherwise."""
    base, _, level = engine.partition("@")
    return base, level or None


def _simd_reason(level: str) -> str | None:
    """Why SIMD ``level`` cannot run here, or ``None`` when it can."""
    try:
        from . import _core
    except ImportError:
        return "the compiled engine is not built"
    if level in _core.simd_levels():
        return None
    if level not in _core.cpu_simd_levels():
        return f"this CPU has no {level} (it runs {', '.join(_core.cpu_simd_levels())})"
    return f"no {level} kernels in this build"


def engine_available(engine: str) -> bool:
    """Whether ``engine`` can run here (package importable, peer installed)."""
    base, level = _simd_split(engine)
    if level is not None:
        return engine in SIMD_ENGINES and engine_available(base) and _simd_reason(level) is None
    if engine == "numpy-matvec":
        return True
    if engine in _peers.PEERS:
        return _peers.available(engine)
    if engine == FLOAT32_ENGINE or engine in VARIANTS:
        return engine_available(REFERENCE_ENGINE)
    if engine not in LIBRARY_ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {ENGINES}")
    try:
        from . import Network

        Network([1, 1], seed=0, engine=engine)
    except (ImportError, ValueError, RuntimeError, NotImplementedError):
        return False
    return True


# --------------------------------------------------------------------------- trainers


@dataclasses.dataclass(frozen=True)
class _Problem:
    """A network and its data: what every engine trains in one workload."""

    sizes: tuple[int, ...]
    X: FloatArray
    T: FloatArray
    weights: Sequence[Any] | None = None  # None: the tutorial network
    biases: Sequence[Any] | None = None
    learning_rate: float = LEARNING_RATE
    batch_size: int = 1  # 1: online SGD

    def head(self, n_samples: int) -> _Problem:
        """The same problem restricted to its first ``n_samples`` samples."""
        if n_samples >= len(self.X):
            return self
        return dataclasses.replace(self, X=self.X[:n_samples], T=self.T[:n_samples])


def _trainer(engine: str, problem: _Problem, single: bool) -> Callable[[int], object]:
    """Build ``engine``'s network for ``problem``; return ``train(epochs)``.

    ``single`` passes the (one) sample to the library as 1-D ``x, t`` arrays.
    """
    tutorial = problem.weights is None
    if engine in RUN_VARIANTS:
        return _variant_trainer(engine, problem, single)
    if engine in (*LIBRARY_ENGINES, FLOAT32_ENGINE):
        from . import Network

        dtype = np.float32 if engine == FLOAT32_ENGINE else np.float64
        engine = REFERENCE_ENGINE if engine == FLOAT32_ENGINE else engine
        if tutorial:
            net = Network.tutorial(engine=engine, dtype=dtype)
        else:
            net = Network(
                list(problem.sizes),
                weights=problem.weights,
                biases=problem.biases,
                engine=engine,
                dtype=dtype,
            )
        X, T = (problem.X[0], problem.T[0]) if single else (problem.X, problem.T)
        X, T = X.astype(dtype), T.astype(dtype)
        lr = problem.learning_rate
        if problem.batch_size == 1:
            return lambda epochs: net.train(X, T, epochs=epochs, learning_rate=lr)
        batch = problem.batch_size
        return lambda epochs: net.train(X, T, epochs=epochs, learning_rate=lr, batch_size=batch)
    weights = TUTORIAL_WEIGHTS if tutorial else problem.weights
    biases = TUTORIAL_BIASES if tutorial else problem.biases
    assert weights is not None and biases is not None
    peer = _peers.make_peer(
        engine, problem.sizes, weights, biases, problem.X, problem.T, problem.learning_rate,
        train_bias=not tutorial, batch_size=problem.batch_size,
    )  # fmt: skip
    return peer.train


def _variant_trainer(engine: str, problem: _Problem, single: bool) -> Callable[[int], object]:
    """``train(epochs)`` of a run variant (:data:`RUN_VARIANTS`) of the compiled engine."""
    from . import Network, _core

    if problem.weights is None:
        net = Network.tutorial(engine=REFERENCE_ENGINE)
    else:
        net = Network(list(problem.sizes), weights=problem.weights, biases=problem.biases)
    X, T = (problem.X[0], problem.T[0]) if single else (problem.X, problem.T)
    lr = problem.learning_rate
    if engine == "cython-progress":
        return lambda epochs: net.train(X, T, epochs=epochs, learning_rate=lr, progress=True)

    def train_unwatched(epochs: int) -> object:
        previous = _core.watch_signals(False)
        try:
            return net.train(X, T, epochs=epochs, learning_rate=lr)
        finally:
            _core.watch_signals(previous)

    return train_unwatched


def _epochs_run(engine: str, problem: _Problem, epochs: int, single: bool = False) -> Run:
    """``run()`` = one ``train(epochs)`` call."""
    train = _trainer(engine, problem, single)
    return partial(train, epochs)


def _calls_run(engine: str, problem: _Problem, calls: int) -> Run:
    """``run()`` = ``calls`` Python-level one-sample ``train`` calls.

    This project's engines are called exactly as a user's loop would:
    ``net.train(x, t)`` with 1-D arrays and the default learning rate (the
    tutorial's 0.5); the peers through their ``train(1)``.
    """
    if engine in (*LIBRARY_ENGINES, *CALL_VARIANTS) and problem.weights is None:
        from . import Network

        net = Network.tutorial(engine=REFERENCE_ENGINE if engine in CALL_VARIANTS else engine)
        x, t = problem.X[0], problem.T[0]
        assert problem.learning_rate == 0.5  # train()'s default
        if engine == "cython-numpy-scalars":
            epochs, lr = np.int64(1), np.float64(0.5)

            def run_scalars() -> None:
                for _ in range(calls):
                    net.train(x, t, epochs, lr)

            return run_scalars
        if engine == "cython-checked":
            rate = fractions.Fraction(1, 2)  # a real number the fast path leaves to Python

            def run_checked() -> None:
                for _ in range(calls):
                    net.train(x, t, learning_rate=rate)

            return run_checked
        if engine == "cython-lists":
            x, t = x.tolist(), t.tolist()

        def run_library() -> None:
            for _ in range(calls):
                net.train(x, t)

        return run_library
    train = _trainer(engine, problem, single=True)

    def run() -> None:
        for _ in range(calls):
            train(1)

    return run


def _matvec_run(n: int, products: int) -> Run:
    """``run()`` = ``products`` NumPy products ``W @ v`` with ``W`` of shape ``(n, n)``."""
    rng = np.random.default_rng(DATA_SEED)
    W = rng.random((n, n))
    V = list(rng.random((products, n)))

    def run() -> None:
        for v in V:
            W @ v

    return run


# --------------------------------------------------------------------------- cases


@dataclasses.dataclass(frozen=True)
class Case:
    """One engine on one workload.

    ``steps`` one-sample updates (matrix-vector products for ``numpy-matvec``)
    are done by each ``run()``; the workload itself is ``workload_steps`` of
    them, more when a slow engine runs only part of it (``scaled``).
    """

    workload: str
    engine: str
    steps: int
    workload_steps: int
    build: Callable[[int], Run] = dataclasses.field(repr=False, compare=False)
    flops_per_step: int | None = None
    requires: tuple[str, ...] = ()

    @property
    def scaled(self) -> bool:
        """Whether a run covers only part of the workload."""
        return self.steps != self.workload_steps

    @property
    def name(self) -> str:
        """``workload/engine``."""
        return f"{self.workload}/{self.engine}"

    def skip_reason(self) -> str | None:
        """Why this case cannot run here, or ``None`` when it can."""
        level = _simd_split(self.engine)[1]
        if level is not None and engine_available(_simd_split(self.engine)[0]):
            reason = _simd_reason(level)
            if reason is not None:
                return reason
        if not engine_available(self.engine):
            return f"engine {self.engine!r} unavailable"
        missing = [module for module in self.requires if not _peers.has_module(module)]
        if missing:
            return f"{', '.join(missing)} not installed"
        return None

    def setup(self) -> Run:
        """Build the network and data; return ``run()``, which does ``steps`` steps once."""
        return self.build(self.steps)


def _quick_steps(engine: str, workload_steps: int, flops: int) -> int:
    """How many of ``workload_steps`` steps ``engine`` runs in quick mode."""
    overhead, per_flop = _COST_MODEL[_simd_split(engine)[0]]
    affordable = int(_QUICK_RUN_BUDGET / (overhead + per_flop * flops))
    return max(1, min(workload_steps, affordable))


def _seed_problem() -> _Problem:
    return _Problem(tutorial.SIZES, np.array([SEED_X]), np.array([SEED_T]))


@lru_cache(maxsize=1)
def _digits_problem() -> _Problem:
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = np.ascontiguousarray(digits.data / 16.0, dtype=np.float64)
    T = np.eye(DIGITS_SIZES[-1])[digits.target]
    assert X.shape == (DIGITS_SAMPLES, DIGITS_SIZES[0])
    return _Problem(DIGITS_SIZES, X, T, *init_params(DIGITS_SIZES))


def _width_problem(n: int, samples: int) -> _Problem:
    rng = np.random.default_rng(DATA_SEED + n)
    # Keep inputs and targets strictly inside (0, 1).
    X = rng.uniform(0.05, 0.95, (samples, n))
    T = rng.uniform(0.05, 0.95, (samples, n))
    return _Problem((n, n, n), X, T, *init_params((n, n, n), DATA_SEED + n))


@lru_cache(maxsize=1)
def _minibatch_problem() -> _Problem:
    """``minibatch-784``'s network and its 4,096 samples (about 26 MB)."""
    n_in, n_out = MINIBATCH_SIZES[0], MINIBATCH_SIZES[-1]
    rng = np.random.default_rng(DATA_SEED + n_in)
    X = rng.random((MINIBATCH_SAMPLES, n_in))
    T = np.eye(n_out)[rng.integers(0, n_out, MINIBATCH_SAMPLES)]
    weights, biases = init_params(MINIBATCH_SIZES, DATA_SEED + n_in)
    return _Problem(
        MINIBATCH_SIZES, X, T, weights, biases, MINIBATCH_LEARNING_RATE, MINIBATCH_BATCH
    )


@dataclasses.dataclass(frozen=True)
class _Workload:
    """One workload: its engines, size and how to build a run of it."""

    name: str
    family: str
    engines: tuple[str, ...]
    steps: int
    sizes: tuple[int, ...]
    requires: tuple[str, ...] = ()
    #: Steps per quick-mode run (``None``: from the engine's cost model).
    quick_steps: int | None = None
    #: ``(engine, quick, full)``: engines that run only that many steps, in every mode.
    slow_steps: tuple[tuple[str, int, int], ...] = ()

    def run_steps(self, engine: str, quick: bool) -> int:
        """Steps of one run of ``engine`` (fewer than :attr:`steps`: a scaled case)."""
        for name, quick_steps, full_steps in self.slow_steps:
            if name == engine:
                return min(self.steps, quick_steps if quick else full_steps)
        if not quick:
            return self.steps
        if self.quick_steps is not None:
            return min(self.steps, self.quick_steps)
        return _quick_steps(engine, self.steps, self.flops_per_step(engine))

    def flops_per_step(self, engine: str) -> int:
        """Flops of one step: an SGD step, or one ``W @ v`` for ``numpy-matvec``."""
        if engine == "numpy-matvec":
            return 2 * self.sizes[0] * self.sizes[1]
        return sgd_step_flops(self.sizes)

    def builder(self, engine: str) -> Callable[[int], Run]:
        """``build(steps) -> run`` for ``engine``; data are made lazily, in ``setup()``."""
        base, level = _simd_split(engine)
        if level is not None:
            build = self.builder(base)
            return lambda steps: _at_level(build(steps), level)
        if self.family == "seed-library-loop":
            return lambda steps: _epochs_run(engine, _seed_problem(), steps, single=True)
        if self.family == "seed-python-loop":
            return lambda steps: _calls_run(engine, _seed_problem(), steps)
        if self.family == "digits":
            return lambda steps: _epochs_run(engine, _digits_problem().head(steps), 1)
        if self.family == "minibatch-784":
            return lambda steps: _epochs_run(engine, _minibatch_problem().head(steps), 1)
        n = self.sizes[0]
        if engine == "numpy-matvec":
            return partial(_matvec_run, n)
        return lambda steps: _epochs_run(engine, _width_problem(n, steps), 1)


def _at_level(run: Run, level: str) -> Run:
    """``run`` with the kernels of SIMD ``level`` in force (the level before restored)."""
    from . import _core

    def run_at_level() -> object:
        previous = _core.use_simd(level)
        try:
            return run()
        finally:
            _core.use_simd(previous)

    return run_at_level


def _at_levels(engine: str) -> tuple[str, ...]:
    """``engine`` at each SIMD level (``cython@baseline``, ...)."""
    return tuple(f"{engine}@{level}" for level in _spec.SIMD_LEVELS)


def _workloads(family: str) -> list[_Workload]:
    """The workloads of a family (the width sweep has one per width)."""
    model_engines = (*LIBRARY_ENGINES, "numpy", "numba", "torch")
    levels = _at_levels(REFERENCE_ENGINE)
    f32_levels = (FLOAT32_ENGINE, *_at_levels(FLOAT32_ENGINE))
    if family in ("seed-library-loop", "seed-python-loop"):
        variants = RUN_VARIANTS if family == "seed-library-loop" else CALL_VARIANTS
        engines = (
            *model_engines[:2], *levels, *variants, *model_engines[2:], "numba_222", "c_222",
            "python_loop",
        )  # fmt: skip
        return [_Workload(family, family, engines, SEED_STEPS, tutorial.SIZES)]
    if family == "digits":
        engines = (*model_engines[:2], *levels, *RUN_VARIANTS, *model_engines[2:], "numba_2d")
        return [_Workload(family, family, engines, DIGITS_SAMPLES, DIGITS_SIZES, ("sklearn",))]
    if family == "width-sweep":
        return [
            _Workload(f"width-sweep-{n}", family,
                      (*model_engines[:2], *levels, *model_engines[2:], "numba_2d", *f32_levels,
                       "numpy-matvec"),
                      width_steps(n), (n, n, n))
            for n in WIDTHS
        ]  # fmt: skip
    if family == "minibatch-784":
        return [
            _Workload(family, family,
                      (*model_engines[:2], *levels, *model_engines[2:], *f32_levels),
                      MINIBATCH_SAMPLES, MINIBATCH_SIZES,
                      quick_steps=MINIBATCH_QUICK_SAMPLES,
                      slow_steps=(("python", *MINIBATCH_PYTHON_SAMPLES),))
        ]  # fmt: skip
    raise ValueError(f"unknown workload {family!r}; expected one of {WORKLOADS}")


def workload_names(families: Iterable[str] | None = None) -> list[str]:
    """Expanded workload names (``width-sweep`` becomes ``width-sweep-2``, ...)."""
    return [w.name for family in (families or WORKLOADS) for w in _workloads(family)]


def select_workloads(patterns: Iterable[str], extra: Sequence[str] = ()) -> list[str]:
    """The expanded workload names (and ``extra`` names) that ``patterns`` select:
    a whole name, or a prefix (``seed`` selects both seed workloads,
    ``width-sweep`` every width), in the order of :func:`workload_names`.
    ``ValueError`` for a pattern that selects nothing."""
    names = [*workload_names(), *extra]
    chosen: set[str] = set()
    for pattern in patterns:
        found = [n for n in names if n == pattern] or [n for n in names if n.startswith(pattern)]
        if not pattern or not found:
            raise ValueError(
                f"no workload is named or begins with {pattern!r} "
                f"(the workloads: {', '.join(names)})"
            )
        chosen.update(found)
    return [n for n in names if n in chosen]


def build_cases(
    quick: bool = True,
    engines: Iterable[str] | None = None,
    workloads: Iterable[str] | None = None,
) -> list[Case]:
    """All cases of the selected workload families and engines, available or not.

    ``workloads`` names families (``width-sweep``) or single workloads
    (``width-sweep-32``); ``engines`` filters :data:`ENGINES`.  With ``quick``,
    slow engines run only part of long workloads (see :attr:`Case.scaled`).
    """
    wanted_engines = set(ENGINES if engines is None else engines)
    unknown = wanted_engines - set(ENGINES)
    if unknown:
        raise ValueError(f"unknown engines {sorted(unknown)}; expected some of {ENGINES}")
    wanted = None if workloads is None else set(workloads)
    if wanted is not None:
        missing = wanted - set(WORKLOADS) - set(workload_names())
        if missing:
            raise ValueError(f"unknown workloads {sorted(missing)}; expected some of {WORKLOADS}")
    cases = []
    for family in WORKLOADS:
        for work in _workloads(family):
            if wanted is not None and family not in wanted and work.name not in wanted:
                continue
            for engine in work.engines:
                if engine not in wanted_engines:
                    continue
                cases.append(
                    Case(work.name, engine, work.run_steps(engine, quick), work.steps,
                         work.builder(engine), work.flops_per_step(engine), work.requires)
                )  # fmt: skip
    return cases


def get_case(workload: str, engine: str, quick: bool = False) -> Case:
    """The case of ``engine`` on the (expanded) ``workload``."""
    for case in build_cases(quick, engines=[engine], workloads=[workload]):
        if case.workload == workload:
            return case
    raise ValueError(f"engine {engine!r} does not run workload {workload!r}")


# --------------------------------------------------------------------------- timing


def _blas_info() -> list[dict[str, Any]] | None:
    """``threadpoolctl.threadpool_info()`` (the loaded BLAS and OpenMP pools), or
    ``None`` when threadpoolctl is not installed."""
    if not _peers.has_module("threadpoolctl"):
        return None
    from threadpoolctl import threadpool_info

    keys = (
        "user_api", "internal_api", "prefix", "filepath", "version", "num_threads",
        "threading_layer",
    )  # fmt: skip
    return [{k: pool.get(k) for k in keys} for pool in threadpool_info()]


def _blas_threads() -> int | None:
    """The most threads of any loaded BLAS, or ``None`` if unknown."""
    counts = [p["num_threads"] for p in _blas_info() or () if p["user_api"] == "blas"]
    return max(counts) if counts else None


@contextlib.contextmanager
def _blas_limit(threads: int | None) -> Iterator[int | None]:
    """Limit every loaded BLAS to ``threads`` threads (``None``: no limit);
    yields the BLAS thread count in force."""
    if threads is None:
        yield _blas_threads()
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield _blas_threads()


def _time_once(run: Run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def run_all(
    quick: bool = True,
    repeat: int | None = None,
    engines: Iterable[str] | None = None,
    workloads: Iterable[str] | None = None,
    *,
    statistic: str = "min",
    progress: Callable[[str], None] | None = None,
    blas_threads: int | None = None,
) -> list[dict[str, Any]]:
    """Time every selected case; return one JSON-ready dict per case.

    Within a workload, the engines' runs are interleaved (the order reversed on
    every other round) so that their ratio is measured side by side; each case
    is set up and run once untimed first.  ``repeat`` defaults to 3 rounds in
    quick mode and 7 otherwise; the reported time is the ``statistic``
    (``"min"`` or ``"median"``) over rounds.  Keys of each dict: ``workload``,
    ``engine``, ``steps`` (per run), ``workload_steps``, ``scaled``, ``time``
    (seconds for the whole workload, extrapolated when scaled), ``per_step``,
    ``ratio`` (per-step time / cython's on the same workload), ``gflops``,
    ``repeat``, ``skipped`` (a reason, or ``None``), ``blas_threads`` (the
    most threads of any loaded BLAS during the timings, ``None`` if unknown)
    and ``blas_limit`` (``blas_threads`` when it was applied, else ``None``).

    ``blas_threads`` limits the threads of every loaded BLAS (NumPy's, SciPy's)
    to that many during the timed rounds of every workload, for all engines
    alike; it needs ``threadpoolctl`` (without it, a warning and no limit).
    """
    if statistic not in ("min", "median"):
        raise ValueError("statistic must be 'min' or 'median'")
    if blas_threads is not None and (isinstance(blas_threads, bool) or blas_threads < 1):
        raise ValueError("blas_threads must be a positive integer or None")
    if blas_threads is not None and not _peers.has_module("threadpoolctl"):
        warnings.warn(
            "blas_threads ignored: threadpoolctl is not installed", RuntimeWarning, stacklevel=2
        )
        blas_threads = None
    reduce = min if statistic == "min" else statistics.median
    rounds = repeat if repeat is not None else (3 if quick else 7)
    if rounds < 1:
        raise ValueError("repeat must be at least 1")
    cases = build_cases(quick, engines, workloads)
    results: list[dict[str, Any]] = []
    for workload in dict.fromkeys(c.workload for c in cases):
        group = [c for c in cases if c.workload == workload]
        runs: dict[Case, Run] = {}
        rows: dict[Case, dict[str, Any]] = {}
        for case in group:
            reason = case.skip_reason()
            rows[case] = {
                "workload": case.workload,
                "engine": case.engine,
                "steps": case.steps,
                "workload_steps": case.workload_steps,
                "scaled": case.scaled,
                "time": None,
                "per_step": None,
                "ratio": None,
                "gflops": None,
                "repeat": 0 if reason else rounds,
                "skipped": reason,
                "blas_threads": None,
                "blas_limit": None,
            }
            if reason is None:
                if progress:
                    progress(f"setting up {case.name}")
                runs[case] = run = case.setup()
                run()  # warm-up
        timings: dict[Case, list[float]] = {case: [] for case in runs}
        order = list(runs)
        # Entered after the set-ups: a BLAS they load is limited too.
        with _blas_limit(blas_threads) as in_force:
            for r in range(rounds):
                if progress:
                    progress(f"{workload}: round {r + 1}/{rounds}")
                for case in order if r % 2 == 0 else reversed(order):
                    timings[case].append(_time_once(runs[case]))
        for case, times in timings.items():
            per_step = reduce(times) / case.steps
            row = rows[case]
            row["blas_threads"] = in_force
            row["blas_limit"] = blas_threads
            row["per_step"] = per_step
            row["time"] = per_step * case.workload_steps
            if case.flops_per_step:
                row["gflops"] = case.flops_per_step / per_step / 1e9
        ref = next((rows[c] for c in runs if c.engine == REFERENCE_ENGINE), None)
        for case in runs:
            if ref is not None and case.engine != "numpy-matvec":
                rows[case]["ratio"] = rows[case]["per_step"] / ref["per_step"]
        results.extend(rows[case] for case in group)
    return results


# --------------------------------------------------------------------------- reporting


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU, OS and library versions, for the JSON report."""
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "numpy": np.__version__,
    }
    for dist in ("backprop", "numba", "torch", "scikit-learn", "scipy", "Cython", "threadpoolctl"):
        try:
            info[dist] = version(dist)
        except PackageNotFoundError:
            info[dist] = None
    # The thread pools loaded now (numpy's BLAS at least), at their default sizes
    # unless a limit is in force; None when threadpoolctl is not installed.
    info["threadpools"] = _blas_info()
    # compiler, flags, the SIMD level in use and the levels built and run here
    from ._build import build_info

    info["build"] = build_info()
    return info


def _machine_note() -> str:
    """Footer line: the CPU, and the SIMD level the compiled engine runs."""
    note = f"CPU: {_cpu_model()}"
    try:
        from . import _core
    except ImportError:
        return note
    return (
        f"{note}; cython runs the {_core.simd_level()} kernels (this CPU runs: "
        f"{', '.join(_core.cpu_simd_levels())}; built: {', '.join(_core.built_simd_levels())}); "
        f"cython@LEVEL runs that level's"
    )


def report(results: list[dict[str, Any]], quick: bool | None = None) -> dict[str, Any]:
    """The JSON document of a benchmark run: machine info plus the result rows."""
    return {"machine": machine_info(), "quick": quick, "results": results}


def write_json(
    results: list[dict[str, Any]], path: str | os.PathLike[str], quick: bool | None = None
) -> None:
    """Write :func:`report` of ``results`` to ``path`` as indented JSON."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(report(results, quick), fh, indent=2)
        fh.write("\n")


def _fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _blas_note(rows: list[dict[str, Any]]) -> str:
    """Footer line: the BLAS threads the timings ran with."""
    limits = {row.get("blas_limit") for row in rows} - {None}
    counts = {row.get("blas_threads") for row in rows} - {None}
    if limits:
        return f"BLAS limited to {', '.join(map(str, sorted(limits)))} thread(s) (threadpoolctl)"
    if counts:
        threads = ", ".join(map(str, sorted(counts)))
        return (
            f"BLAS threads: {threads} (not limited: --blas-threads N, or run_all(blas_threads=N))"
        )
    return "BLAS threads: unknown (threadpoolctl not installed)"


#: The columns of :func:`format_table`; all but the first two are right-aligned.
TABLE_COLUMNS = ("workload", "engine", "time", "per step", "vs cython", "GFLOP/s")


def _cells(row: dict[str, Any]) -> tuple[str, ...]:
    """One result row's cells in :func:`format_table` (a row that ran)."""
    time_text = _fmt_seconds(row["time"])
    if row["scaled"]:
        time_text += " *"
    ratio = f"{row['ratio']:.3g}x" if row["ratio"] is not None else "-"
    gflops = f"{row['gflops']:.3g}" if row["gflops"] is not None else "-"
    return (row["workload"], row["engine"], time_text, _fmt_seconds(row["per_step"]), ratio, gflops)


def format_line(cells: Sequence[str], widths: Sequence[int]) -> str:
    """One line of :func:`format_table` with the given column widths."""
    return "  ".join(
        c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
    ).rstrip()


def table_widths(workloads: Iterable[str], engines: Iterable[str]) -> list[int]:
    """Column widths that fit every row of these workloads and engines, for a table
    printed a workload at a time (:func:`format_rows`)."""
    numbers = [10, 10, 9, 7]  # "123 ms *", "12.3 us", "1.23e+03x", "12.3"
    return [
        max(len(TABLE_COLUMNS[0]), *(len(w) for w in workloads)),
        max(len(TABLE_COLUMNS[1]), *(len(e) for e in engines)),
        *(max(len(h), n) for h, n in zip(TABLE_COLUMNS[2:], numbers)),
    ]


def format_header(widths: Sequence[int]) -> str:
    """The heading and rule of a table of ``widths``."""
    return "\n".join(
        [format_line(TABLE_COLUMNS, widths), format_line(tuple("-" * w for w in widths), widths)]
    )


def format_rows(results: list[dict[str, Any]], widths: Sequence[int]) -> list[str]:
    """The lines of the rows that ran (skipped rows go to :func:`table_notes`)."""
    return [format_line(_cells(row), widths) for row in results if not row["skipped"]]


def table_notes(results: list[dict[str, Any]]) -> list[str]:
    """The footnotes of a table of ``results``: what the marks and engines mean,
    the skipped rows, the BLAS threads."""
    notes: list[str] = []
    for row in results:
        if row["skipped"]:
            notes.append(f"skipped {row['workload']}/{row['engine']}: {row['skipped']}")
    ran = [row for row in results if not row["skipped"]]
    if any(row["scaled"] for row in ran):
        notes.insert(0, "* extrapolated from a run of part of the workload")
    if any(row["engine"] == "numpy-matvec" for row in ran):
        notes.insert(0, "numpy-matvec: one step = one product W @ v of the layer's shape")
    if any(row["workload"] == "minibatch-784" for row in ran):
        notes.insert(
            0, f"minibatch-784: one step = one sample (batches of {MINIBATCH_BATCH}, plain SGD)"
        )
    for engine, meaning in VARIANTS.items():
        if any(row["engine"] == engine for row in ran):
            notes.insert(0, f"{engine}: {meaning}")
    if ran:
        notes.append(_blas_note(ran))
        notes.append(_machine_note())
    return notes


def format_table(results: list[dict[str, Any]]) -> str:
    """A plain-text table of :func:`run_all`'s rows; scaled and skipped rows are footnoted.

    ``time`` is for the whole workload, ``per step`` for one update (one
    product for ``numpy-matvec``), ``vs cython`` the per-step time ratio.
    """
    lines = [_cells(row) for row in results if not row["skipped"]]
    widths = [max(len(r[i]) for r in (TABLE_COLUMNS, *lines)) for i in range(len(TABLE_COLUMNS))]
    out = [format_header(widths), *(format_line(r, widths) for r in lines)]
    notes = table_notes(results)
    return "\n".join(out + [""] + notes if notes else out)


#: Workloads whose compiled runs hand their large layers' batch products to BLAS
#: (mini-batches, layers of at least ``_core.BLAS_MIN_WEIGHTS`` weights).
BLAS_WORKLOADS = ("minibatch-784",)
#: The engines of this package that use that BLAS.
BLAS_ENGINES = ("cython", FLOAT32_ENGINE)


def blas_summary(results: list[dict[str, Any]]) -> str:
    """Whether the compiled engine used BLAS in these results, and which one:
    SciPy's (found at run time), with the library and thread count that
    threadpoolctl reports; and NumPy's, which the NumPy peers use."""
    try:
        from . import _core
    except ImportError:
        return "BLAS: not used (the compiled engine is not built)"
    ran = {
        row["workload"]
        for row in results
        if not row["skipped"]
        and row["engine"] in BLAS_ENGINES
        and row["workload"] in BLAS_WORKLOADS
    }
    available = _core.blas_available()  # (loads SciPy's BLAS, to be listed below)
    pools = [p for p in _blas_info() or () if p.get("user_api") == "blas"]

    def which(pool: dict[str, Any]) -> str:
        return (
            f"{pool.get('internal_api')} {pool.get('version') or ''}".rstrip()
            + f", {pool.get('num_threads')} thread(s)"
        )

    def owner(pool: dict[str, Any]) -> str:  # the folder it was loaded from: scipy.libs ...
        return os.path.basename(os.path.dirname(str(pool.get("filepath") or ""))).lower()

    scipy_pools = [p for p in pools if owner(p).startswith("scipy")]
    numpy_pools = [p for p in pools if owner(p).startswith("numpy")]
    if len(pools) == 1:  # one BLAS serves both (a shared system library)
        scipy_pools = numpy_pools = pools
    if not available:
        why = (
            "turned off by BACKPROP_BLAS=0"
            if os.environ.get("BACKPROP_BLAS", "1").strip().lower() in ("0", "false", "no", "off")
            else "SciPy is not installed"
        )
        used = f"BLAS: not used by the compiled engine ({why}: hand-written loops throughout)"
    elif not ran:
        used = (
            f"BLAS: not used by the workloads run (only {', '.join(BLAS_WORKLOADS)} has "
            f"layers large enough; SciPy's BLAS is available)"
        )
    else:
        lib = which(scipy_pools[0]) if scipy_pools else "library unknown: install threadpoolctl"
        used = f"BLAS: used by the compiled engine in {', '.join(sorted(ran))} (SciPy's: {lib})"
    if numpy_pools:
        used += f"; NumPy's BLAS ({which(numpy_pools[0])}) serves the NumPy peers"
    return used

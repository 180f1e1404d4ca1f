"""Ensembles against the alternatives (issue 12's workloads).

The comparisons live in :mod:`backprop._ensemble_bench` (shared with ``backprop
bench --workload ensembles``).  Group ``ensemble-tutorial`` times 256 tutorial
networks x 2,000 steps as one ``Ensemble.train`` call (one thread, two threads)
and as a Python loop of ``Network.train`` calls; ``test_figures`` runs the
module's side-by-side comparison once and records its ratios in
``extra_info``.
"""

from __future__ import annotations

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import backprop as bp
from backprop import _ensemble_bench

X, T = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
N, STEPS = 256, 2000


@pytest.fixture(scope="module")
def tutorial() -> bp.Ensemble:
    try:
        from backprop import _core  # noqa: F401
    except ImportError:
        pytest.skip("the compiled engine is not built")
    return bp.Ensemble.from_networks([bp.Network.tutorial()] * N)


@pytest.mark.benchmark(group="ensemble-tutorial")
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_ensemble(benchmark: BenchmarkFixture, tutorial: bp.Ensemble, n_jobs: int) -> None:
    ens = tutorial.copy()
    benchmark(ens.train, X, T, STEPS, 0.5, n_jobs=n_jobs)


@pytest.mark.benchmark(group="ensemble-tutorial")
def test_python_loop(benchmark: BenchmarkFixture, tutorial: bp.Ensemble) -> None:
    nets = [tutorial[k] for k in range(N)]

    def loop() -> None:
        for net in nets:
            net.train(X, T, STEPS, 0.5)

    benchmark(loop)


@pytest.mark.benchmark(group="ensemble-figures")
def test_figures(benchmark: BenchmarkFixture, tutorial: bp.Ensemble) -> None:
    result = benchmark.pedantic(_ensemble_bench.run, kwargs={"quick": True}, rounds=1)
    benchmark.extra_info.update(result["tutorial"])
    benchmark.extra_info.update({f"digits_{k}": v for k, v in result["digits"].items()})
    assert result["tutorial"]["ns_per_step"] > 0

"""Timed workloads: one pytest-benchmark group per workload, every engine in it.

The workloads themselves live in :mod:`backprop.bench` (shared with
``backprop bench``); here each engine runs the whole workload, unscaled, so
that the times within a group compare like with like - except the pure-Python
engine on ``minibatch-784``, which runs only a few of its samples (about 0.1 s
each; ``extra_info["scaled"]`` is true): compare its ``per_step``.
``extra_info`` records the steps per round and the per-step time and GFLOP/s
of the fastest round.
"""

from __future__ import annotations

from functools import partial

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from backprop import bench


def _engines(workload: str) -> list[str]:
    return [case.engine for case in bench.build_cases(quick=False, workloads=[workload])]


def _benchmark_case(benchmark: BenchmarkFixture, workload: str, engine: str) -> None:
    """Set up ``engine`` on ``workload`` (skipping if unavailable) and time ``run()``."""
    case = bench.get_case(workload, engine, quick=False)
    reason = case.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    run = case.setup()
    benchmark.extra_info.update(
        steps=case.steps, flops_per_step=case.flops_per_step, scaled=case.scaled
    )
    benchmark(run)
    if benchmark.stats is not None:  # None under --benchmark-disable
        per_step = benchmark.stats.stats.min / case.steps
        benchmark.extra_info["per_step"] = per_step
        if case.flops_per_step:
            benchmark.extra_info["gflops"] = case.flops_per_step / per_step / 1e9


@pytest.mark.benchmark(group="seed-library-loop", min_rounds=3)
@pytest.mark.parametrize("engine", _engines("seed-library-loop"))
def test_seed_library_loop(benchmark: BenchmarkFixture, engine: str) -> None:
    """``net.train(x, t, epochs=10_000)`` on the tutorial network."""
    _benchmark_case(benchmark, "seed-library-loop", engine)


@pytest.mark.benchmark(group="seed-python-loop", min_rounds=3)
@pytest.mark.parametrize("engine", _engines("seed-python-loop"))
def test_seed_python_loop(benchmark: BenchmarkFixture, engine: str) -> None:
    """10,000 Python-level ``net.train(x, t)`` calls on the tutorial network."""
    _benchmark_case(benchmark, "seed-python-loop", engine)


@pytest.mark.benchmark(group="digits", min_rounds=3)
@pytest.mark.parametrize("engine", _engines("digits"))
def test_digits(benchmark: BenchmarkFixture, engine: str) -> None:
    """One epoch of one-sample SGD of a [64, 32, 10] network on sklearn's digits."""
    _benchmark_case(benchmark, "digits", engine)


@pytest.mark.benchmark(group="width-sweep", min_rounds=3)
@pytest.mark.parametrize(
    "workload, engine",
    [
        pytest.param(workload, engine, id=f"{workload.rsplit('-', 1)[1]}-{engine}")
        for workload in bench.workload_names(["width-sweep"])
        for engine in _engines(workload)
    ],
)
def test_width_sweep(benchmark: BenchmarkFixture, workload: str, engine: str) -> None:
    """One epoch on random data of an [n, n, n] network (group ``width-sweep-<n>``)."""
    benchmark.group = workload
    _benchmark_case(benchmark, workload, engine)


@pytest.mark.benchmark(group="minibatch-784", min_rounds=3)
@pytest.mark.parametrize("engine", _engines("minibatch-784"))
def test_minibatch_784(benchmark: BenchmarkFixture, engine: str) -> None:
    """One epoch of mini-batch SGD (batch 64, lr 0.1) of a [784, 256, 10] network."""
    _benchmark_case(benchmark, "minibatch-784", engine)


def test_blas_threads_knob() -> None:
    """``run_all(blas_threads=1)`` limits BLAS during the timings and says so."""
    pytest.importorskip("threadpoolctl")
    rows = bench.run_all(
        quick=True, repeat=1, engines=["numpy"], workloads=["width-sweep-2"], blas_threads=1
    )
    assert [(row["blas_limit"], row["blas_threads"]) for row in rows] == [(1, 1)]
    assert "BLAS limited to 1 thread(s)" in bench.format_table(rows)
    with pytest.raises(ValueError, match="blas_threads"):
        bench.run_all(blas_threads=0)


def test_simd_engines_run_their_level() -> None:
    """``cython@LEVEL`` runs with that level's kernels in force (and restores the
    level before); levels this machine lacks are skipped with the reason; the
    table names the CPU and the level in use."""
    _core = pytest.importorskip("backprop._core")
    before = _core.simd_level()
    for level in bench._spec.SIMD_LEVELS:
        case = bench.get_case("width-sweep-8", f"cython@{level}", quick=True)
        if level not in _core.simd_levels():
            assert case.skip_reason() is not None
            continue
        seen: list[str] = []
        bench._at_level(partial(seen.append, "run"), level)()
        assert seen == ["run"] and _core.simd_level() == before
        assert bench._at_level(_core.simd_level, level)() == level
        case.setup()()  # and the real case runs
    rows = bench.run_all(quick=True, repeat=1, engines=["cython"], workloads=["width-sweep-2"])
    assert f"cython runs the {before} kernels" in bench.format_table(rows)
    assert "CPU: " in bench.format_table(rows)

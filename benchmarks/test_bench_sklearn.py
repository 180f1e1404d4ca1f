"""``BackpropClassifier`` against scikit-learn's ``MLPClassifier`` on the digits data.

The comparison itself lives in :mod:`backprop._sklearn_bench` (shared with
``backprop bench``): the same architecture, activation, solver, batch size and
epochs, no early stopping, scored on a held-out quarter.  Group
``sklearn-digits`` times one ``fit`` of each (``extra_info["accuracy"]``: its
held-out accuracy); ``test_ratio`` fits the two side by side in one run and
records the ratio of their times and both accuracies in ``extra_info``, and
checks that the two trained the same model to the target accuracy.
"""

from __future__ import annotations

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from backprop import _sklearn_bench as sk_bench


@pytest.fixture(scope="module")
def digits() -> list:
    reason = sk_bench.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    return sk_bench.digits_split()


@pytest.mark.benchmark(group="sklearn-digits", min_rounds=3)
@pytest.mark.parametrize("name", sk_bench.ESTIMATORS)
def test_fit(benchmark: BenchmarkFixture, digits: list, name: str) -> None:
    """One ``fit`` of each estimator on the training split."""
    _, accuracy = benchmark(sk_bench.fit_and_score, name, digits)
    benchmark.extra_info["accuracy"] = accuracy


@pytest.mark.benchmark(group="sklearn-ratio")
def test_ratio(benchmark: BenchmarkFixture, digits: list) -> None:
    """Both fits interleaved in one run: the ratio of their times and both
    accuracies (``extra_info``).  Both train networks of one shape for every
    epoch; ours reaches the target accuracy on the held-out split, MLPClassifier
    a comparable one (the configuration is a fair one for both)."""
    result = benchmark.pedantic(sk_bench.run, kwargs={"repeat": 1}, rounds=1, iterations=1)
    ours, theirs = result["backprop"], result["sklearn"]
    benchmark.extra_info.update(
        ratio=result["ratio"],
        backprop_time=ours["time"],
        sklearn_time=theirs["time"],
        backprop_accuracy=ours["accuracy"],
        sklearn_accuracy=theirs["accuracy"],
    )
    assert ours["coef_shapes"] == theirs["coef_shapes"] == [[64, 32], [32, 10]]
    assert ours["n_iter"] == theirs["n_iter"] == sk_bench.CONFIG["max_iter"]
    assert ours["accuracy"] >= sk_bench.TARGET_ACCURACY
    assert theirs["accuracy"] >= sk_bench.TARGET_ACCURACY - 0.02
    assert f"{result['ratio']:.1f}x" in sk_bench.format_result(result)

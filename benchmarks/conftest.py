"""pytest-benchmark suite of backprop: shared configuration.

Run with ``pytest benchmarks/ --benchmark-only`` (or ``pytest benchmarks``).
Tests marked ``benchmark_guard`` check that the benchmark's engines compute the
same thing; they do not time anything, yet they run under ``--benchmark-only``
too, so that no benchmark session goes unchecked.
"""

from __future__ import annotations

import pytest

_GUARD = "benchmark_guard"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_GUARD}: correctness check of the benchmark engines; runs even with --benchmark-only",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Undo pytest-benchmark's ``--benchmark-only`` skip for guard tests."""
    for item in items:
        # pytest >= 9.2 dropped the private ``Node._nodeid`` that pytest-benchmark
        # (<= 5.3) reads when it builds the ``benchmark`` fixture; alias the public
        # id under the old name (a no-op on the pytest versions that have it).
        if not hasattr(item, "_nodeid"):
            item._nodeid = item.nodeid
        if item.get_closest_marker(_GUARD) is None:
            continue
        item.own_markers[:] = [mark for mark in item.own_markers if not _benchmark_only_skip(mark)]


def _benchmark_only_skip(mark: pytest.Mark) -> bool:
    """Whether ``mark`` is the skip that pytest-benchmark adds for ``--benchmark-only``."""
    return mark.name == "skip" and "--benchmark-only" in str(mark.kwargs.get("reason", ""))

"""The ``backprop`` command: the demo prints the seed's figures; bench is wired up."""

from __future__ import annotations

import subprocess
import sys

import pytest

import backprop as bp
from backprop import bench, cli


def test_demo_prints_every_figure_beside_the_seeds(capsys):
    assert cli.main(["demo", "--epochs", "10000"]) == 0
    out = capsys.readouterr().out
    for printed in ("0.593269992", "0.298371109", "0.082167041", "0.35891648",
                    "0.149780716", "0.29950229", "0.291027924", "0.015912196",
                    "0.984065734", "0.0000351085"):
        assert printed in out
    assert "DIFFERS" not in out
    # one line per seed figure marked ok; the rounded one explained
    assert out.count(" ok") >= 25
    assert "the seed rounded delta_o2 first" in out
    assert "faster than the pure-Python twin" in out or bp.default_engine() == "python"


def test_demo_with_few_epochs_skips_the_10000_round_figures(capsys):
    assert cli.main(["demo", "--epochs", "5", "--engine", "python"]) == 0
    out = capsys.readouterr().out
    assert "0.593269992" in out and "history[9999]" not in out


@pytest.mark.parametrize("argv", [["demo", "--epochs", "0"], ["demo", "--engine", "gpu"], []])
def test_bad_arguments_exit_with_usage(argv):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2


def test_the_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "backprop.cli", "--version"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"backprop {bp.__version__}"


def test_every_bench_case_can_be_planned_in_quick_mode():
    """build_cases sizes every (workload, engine) pair without running it."""
    cases = bench.build_cases(quick=True, engines=None, workloads=None)
    engines = {case.engine for case in cases}
    assert {"cython", "python"} <= engines
    assert all(case.steps >= 1 for case in cases)

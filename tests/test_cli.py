"""The ``backprop`` command: the demo prints the seed's figures; bench is wired up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import backprop as bp
from backprop import bench, cli


def test_demo_prints_every_figure_beside_the_seeds(capsys):
    assert cli.main(["demo", "--epochs", "10000"]) == 0
    out = capsys.readouterr().out
    for printed in (
        "0.593269992",
        "0.298371109",
        "0.082167041",
        "0.35891648",
        "0.149780716",
        "0.29950229",
        "0.291027924",
        "0.015912196",
        "0.984065734",
        "0.0000351085",
    ):
        assert printed in out
    assert "DIFFERS" not in out
    # one line per seed figure marked ok; the rounded one explained
    assert out.count(" ok") >= 25
    assert "the seed rounded delta_o2 first" in out


def test_demo_with_few_epochs_skips_the_10000_round_figures(capsys):
    assert cli.main(["demo", "--epochs", "5", "--engine", "python"]) == 0
    out = capsys.readouterr().out
    assert "0.593269992" in out and "history[9999]" not in out


@pytest.mark.parametrize("argv", [["demo", "--epochs", "0"], ["demo", "--engine", "gpu"], []])
def test_bad_arguments_exit_with_usage(argv):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2


def test_demo_times_the_compiled_engine_against_the_twin(core, capsys):
    """With the compiled engine built, the demo times both engines and compares them
    (whichever engine works the example)."""
    assert cli.main(["demo", "--epochs", "5", "--engine", "python"]) == 0
    out = capsys.readouterr().out
    timings = [line.split()[0] for line in out.splitlines() if line.endswith(" ns")]
    assert timings == ["cython", "python"]
    assert "faster than the pure-Python twin" in out


def test_python_dash_m_backprop_cli_prints_the_version():
    result = subprocess.run(
        [sys.executable, "-m", "backprop.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == f"backprop {bp.__version__}"


@pytest.fixture(scope="module")
def console_script() -> Path:
    """The ``backprop`` command that installing the package put beside this Python."""
    script = Path(sys.executable).parent / "backprop"
    if not script.is_file():
        pytest.skip(f"no console script {script}: the package is not installed here")
    return script


def test_the_console_script_prints_the_version(console_script):
    result = subprocess.run(
        [str(console_script), "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"backprop {bp.__version__}"


def test_the_console_script_runs_the_demo(console_script):
    result = subprocess.run(
        [str(console_script), "demo", "--epochs", "5"], capture_output=True, text=True, check=True
    )
    assert "0.298371109" in result.stdout and "DIFFERS" not in result.stdout


def test_the_console_script_exits_with_usage_on_bad_arguments(console_script):
    result = subprocess.run(
        [str(console_script), "demo", "--engine", "gpu"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.startswith("usage: backprop")


def test_every_bench_case_can_be_planned_in_quick_mode():
    """build_cases sizes every (workload, engine) pair without running it."""
    cases = bench.build_cases(quick=True, engines=None, workloads=None)
    engines = {case.engine for case in cases}
    assert {"cython", "python"} <= engines
    assert all(case.steps >= 1 for case in cases)

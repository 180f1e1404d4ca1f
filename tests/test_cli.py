"""The ``backprop`` command: the demo prints the seed's figures, every command has
help, bad input is one line on stderr with status 2, a closed pipe ends the
command quietly, bench runs what it is asked to and checks its options first.
(train, predict, info and draw on files: test_cli_files.py.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
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


@pytest.mark.parametrize(
    "argv, start",
    [(["demo", "--engine", "gpu"], "backprop demo: error: argument --engine: invalid choice"),
     (["demo", "--epochs", "0"], "backprop demo: error: argument --epochs: must be at least 1"),
     (["draw", "--tutorial", "-o", "x.png", "--dpi", "0"], "backprop draw: error: argument --dpi"),
     (["train", "x.csv", "-t", "y", "-o", "m.npz", "--validation-split", "1.0"],
      "backprop train: error: argument --validation-split: must be from 0 up to"),
     (["train", "x.csv", "-t", "y", "-o", "m.npz", "--seed", "-1"],
      "backprop train: error: argument --seed: must be at least 0, got -1"),
     (["train", "x.csv", "-t", "y", "-o", "m.npz", "--layers", "a,b"],
      "backprop train: error: argument --layers: must be hidden layer sizes such as 16,8"),
     (["train", "x.csv", "-t", "y", "-o", "m.npz", "--layers", ""],
      "backprop train: error: argument --layers: must be hidden layer sizes such as 16,8"),
     (["train", "x.csv", "-t", "y", "-o", "m.npz", "--layers", "4,0"],
      "backprop train: error: argument --layers: every size must be at least 1"),
     (["draw", "--tutorial", "-o", "x.png", "--dpi", "3"],
      "backprop draw: error: argument --dpi: must be at least 10, got 3"),
     (["demo", "--epochs", str(2**63)],
      "backprop demo: error: argument --epochs: must be at most 9223372036854775807"),
     (["bench", "--blas-threads", "5000"],
      "backprop bench: error: argument --blas-threads: must be at most 1024"),
     (["frob"], "backprop: error: argument COMMAND: invalid choice: 'frob'")],
)  # fmt: skip
def test_the_console_script_refuses_bad_arguments_in_one_line(console_script, argv, start):
    result = subprocess.run([str(console_script), *argv], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith(start)
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("--help)\n")


@pytest.mark.parametrize(
    "argv, option",
    [(["train", "x.csv", "-t", "y", "-o", "m.npz", "--plot", ""], "--plot"),
     (["demo", "--plot", ""], "--plot"),
     (["predict", "m.npz", "x.csv", "-o", ""], "-o"),
     (["bench", "--json", ""], "--json")],
)  # fmt: skip
def test_an_empty_file_name_is_refused_not_ignored(argv, option, capsys):
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.startswith(
        f"backprop {argv[0]}: error: {option}: empty file name"
    )


def test_every_bench_case_can_be_planned_in_quick_mode():
    """build_cases sizes every (workload, engine) pair without running it."""
    cases = bench.build_cases(quick=True, engines=None, workloads=None)
    engines = {case.engine for case in cases}
    assert {"cython", "python"} <= engines
    assert all(case.steps >= 1 for case in cases)


# ------------------------------------------------------------------ every command
COMMANDS = ("demo", "train", "predict", "info", "draw", "bench")


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"] if command else ["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: backprop{' ' + command if command else ''}")
    if command is None:
        assert all(c in out for c in COMMANDS)


def test_python_dash_m_backprop_runs_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "backprop", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"backprop {bp.__version__}"


def test_demo_piped_into_head_exits_0(console_script):
    """``backprop demo | head -1`` in a real shell: the demo's status is 0 (pipefail)
    and it prints nothing on stderr."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash for a pipeline")
    result = subprocess.run(
        [bash, "-c", f"set -o pipefail; '{console_script}' demo | head -1"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("The seed's 2-2-2 network")
    assert result.stdout.count("\n") == 1
    assert result.stderr == ""


def test_output_to_a_closed_pipe_ends_quietly(console_script):
    """The reader closes the pipe before the command writes (it is still importing
    NumPy): every write fails with EPIPE, and the command ends with status 0 and
    nothing on stderr."""
    proc = subprocess.Popen(
        [str(console_script), "demo", "--json", "--epochs", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err == b""


def test_a_bad_engine_in_the_environment_is_one_line_not_a_traceback(console_script):
    env = {**os.environ, "BACKPROP_ENGINE": "cuda"}
    result = subprocess.run([str(console_script), "demo"], capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("backprop demo: error: BACKPROP_ENGINE")
    assert "'cuda'" in result.stderr


@pytest.mark.parametrize("command", [["demo"], ["info", "x.npz"], ["bench"]])
def test_a_bad_engine_is_refused_by_every_command(command, monkeypatch, capsys):
    monkeypatch.setenv("BACKPROP_ENGINE", "gpu")
    assert cli.main(command) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "BACKPROP_ENGINE" in err


def test_demo_json_holds_every_figure_and_the_trace(capsys):
    assert cli.main(["demo", "--json", "--epochs", "3"]) == 0
    document = json.loads(capsys.readouterr().out)
    figures = {f["name"]: f for f in document["figures"]}
    assert figures["out_h1"]["seed"] == "0.593269992" and figures["out_h1"]["agrees"]
    assert figures["w5+"]["value"] == pytest.approx(0.35891648, abs=5e-9)
    disagree = [f["name"] for f in document["figures"] if f["agrees"] is False]
    assert disagree == ["dE_o2/dout_h1"]  # the seed's one rounding slip
    assert document["trace"]["total_error"] == pytest.approx(0.298371109, abs=5e-10)
    assert len(document["training"]["sequential"]["history"]) == 3
    assert set(document["seconds_per_step"]) <= set(bp.ENGINES)


def test_demo_plots_the_error_of_both_update_orders(tmp_path, capsys):
    image = pytest.importorskip("matplotlib.image")
    path = tmp_path / "loss.png"
    assert cli.main(["demo", "--epochs", "50", "--plot", str(path)]) == 0
    picture = image.imread(path)
    assert picture.shape[:2] == (380, 640) and picture[..., :3].std() > 0.05


# ------------------------------------------------------------------ bench
def test_bench_selects_workloads_by_name_or_prefix():
    assert bench.select_workloads(["seed"]) == ["seed-library-loop", "seed-python-loop"]
    assert bench.select_workloads(["width-sweep-5", "digits"]) == ["digits", "width-sweep-512"]
    assert bench.select_workloads(["width-sweep-2"]) == ["width-sweep-2"]  # whole name first
    assert bench.select_workloads(["skl"], extra=["sklearn"]) == ["sklearn"]
    with pytest.raises(ValueError, match="begins with 'gpu'"):
        bench.select_workloads(["gpu"])


def test_bench_table_is_the_same_printed_at_once_or_a_workload_at_a_time():
    rows = [
        {
            "workload": "seed-library-loop",
            "engine": e,
            "steps": 10,
            "workload_steps": 10,
            "scaled": e == "python",
            "time": t,
            "per_step": t / 10,
            "ratio": r,
            "gflops": None,
            "repeat": 3,
            "skipped": None,
            "blas_threads": 2,
            "blas_limit": None,
        }
        for e, t, r in (("cython", 6e-4, 1.0), ("python", 0.3, 500.0))
    ]
    rows.append({**rows[0], "engine": "torch", "skipped": "torch not installed"})
    table = bench.format_table(rows).splitlines()
    widths = [len(c) for c in table[1].split("  ")]
    assert bench.format_header(widths).splitlines() == table[:2]
    assert bench.format_rows(rows, widths) == table[2:4]
    assert table[5:] == bench.table_notes(rows)
    assert "skipped seed-library-loop/torch: torch not installed" in table


def test_bench_says_whether_the_compiled_engine_used_blas(core):
    used = [{"workload": "minibatch-784", "engine": "cython", "skipped": None}]
    summary = bench.blas_summary(used)
    if core.blas_available():
        assert summary.startswith("BLAS: used by the compiled engine in minibatch-784")
        assert "not used" in bench.blas_summary([{**used[0], "workload": "digits"}])
    else:
        assert summary.startswith("BLAS: not used by the compiled engine")


def test_bench_prints_a_workload_at_a_time_and_keeps_json_and_a_plot(core, tmp_path, capsys):
    image = pytest.importorskip("matplotlib.image")
    out_json, out_png = tmp_path / "bench.json", tmp_path / "bench.png"
    argv = [
        "bench",
        "--workload",
        "seed-lib",
        "--engine",
        "cython",
        "--json",
        str(out_json),
        "--plot",
        str(out_png),
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "workload",
        "engine",
        "time",
        "per",
        "step",
        "vs",
        "cython",
        "GFLOP/s",
    ]
    assert out[2].split()[:2] == ["seed-library-loop", "cython"]
    assert any(line.startswith("BLAS: ") for line in out)
    assert "MLPClassifier" not in "\n".join(out)  # a chosen workload: no estimator run
    rows = json.loads(out_json.read_text())["results"]
    assert [(r["workload"], r["engine"]) for r in rows] == [("seed-library-loop", "cython")]
    assert image.imread(out_png).shape[:2] == (440, 640)


@pytest.mark.parametrize(
    "argv, engines, extras",
    [([], None, True), (["--workload", "seed-lib"], None, False)],
)  # fmt: skip
def test_bench_without_engines_times_every_engine(argv, engines, extras, monkeypatch, capsys):
    """No --engine: every engine (and, with no workload chosen, the estimator's
    and the ensembles' sections too); a command's own default engine is not
    taken for bench's list."""
    from backprop import _ensemble_bench, _sklearn_bench
    from backprop import bench as _bench

    seen = {}

    def cases(quick, engines=None, workloads=None):
        seen["engines"] = engines
        return []

    monkeypatch.setenv("BACKPROP_ENGINE", "python")
    monkeypatch.setattr(_bench, "build_cases", cases)
    monkeypatch.setattr(_sklearn_bench, "run", lambda **k: seen.setdefault("sklearn", None))
    monkeypatch.setattr(_sklearn_bench, "format_result", lambda r: "")
    monkeypatch.setattr(_ensemble_bench, "run", lambda **k: seen.setdefault("ensembles", None))
    monkeypatch.setattr(_ensemble_bench, "format_result", lambda r: "")
    monkeypatch.setattr(_sklearn_bench, "skip_reason", lambda: None)
    assert cli.main(["bench", *argv]) == 0
    assert seen["engines"] == engines
    assert ("sklearn" in seen, "ensembles" in seen) == (extras, extras)
    capsys.readouterr()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--workload", "gpu"], "no workload is named or begins with 'gpu'"),
        (["--json", "{missing}/out.json"], "no such directory"),
        (["--json", "{tmp}"], "is a directory"),
        (["--plot", "{tmp}/bench.gif"], "name a .png, .svg or .pdf file"),
        (
            ["--workload", "minibatch", "--engine", "numba_222"],
            "engine 'numba_222' does not run workloads minibatch-784",
        ),
    ],
)
def test_bench_refuses_bad_options_before_running_anything(argv, message, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, missing=tmp_path / "missing") for a in argv]
    start = time.perf_counter()
    assert cli.main(["bench", *argv]) == 2
    assert time.perf_counter() - start < 5  # nothing was timed
    err = capsys.readouterr().err
    assert err.startswith("backprop bench: error: ") and err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize(
    "argv", [["--blas-threads", "0"], ["--blas-threads", "x"], ["--engine", "gpu"]]
)
def test_bench_option_values_are_checked_by_the_parser(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["bench", *argv])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_bench_blas_threads_needs_threadpoolctl(monkeypatch, capsys):
    from backprop import _peers

    monkeypatch.setattr(_peers, "has_module", lambda name: name != "threadpoolctl")
    assert cli.main(["bench", "--blas-threads", "1"]) == 2
    assert "needs threadpoolctl" in capsys.readouterr().err


def test_running_out_of_memory_is_one_line_and_status_1(monkeypatch, capsys):
    def exhausted(args):
        raise MemoryError

    monkeypatch.setattr(cli, "info", exhausted)  # (the parser binds the module's function)
    assert cli.main(["info", "model.npz"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("backprop info: error: out of memory") and err.count("\n") == 1

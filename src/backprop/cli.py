"""The ``backprop`` command: ``backprop demo`` and ``backprop bench``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

from . import __version__, tutorial
from ._spec import ENGINES
from .network import Network, default_engine


def _row(name: str, value: float, seed: str | None = None) -> str:
    """One figure: the engine's value to 9 decimals, and the seed's where it prints one."""
    line = f"  {name:<22}{value: .9f}"
    if seed is not None:
        if _agrees(value, seed):
            mark = "ok"
        elif name in tutorial.SLIPS and _agrees(value, tutorial.SLIPS[name]):
            mark = "the seed rounded delta_o2 first; exactly " + tutorial.SLIPS[name]
        else:
            mark = "DIFFERS"
        line += f"    seed: {seed:<13} {mark}"
    return line


def _agrees(value: float, printed: str) -> bool:
    """Whether ``value`` rounds to ``printed`` at the precision it is printed with."""
    mantissa = printed.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    if "e" in printed.lower():
        exp = int(printed.lower().split("e")[1])
        return abs(value - float(printed)) <= 0.5 * 10.0 ** (exp - decimals)
    return abs(value - float(printed)) <= 0.5 * 10.0**-decimals


def worked_example(engine: str) -> list[str]:
    """The seed's worked example, figure by figure, from one traced step."""
    net = Network.tutorial(engine=engine)
    tr = net.trace(tutorial.INPUTS, tutorial.TARGETS, learning_rate=tutorial.LEARNING_RATE)
    f = tutorial.FIGURES
    hid, out = 0, 1
    w = net.weights
    lines = [
        f"The seed's 2-2-2 network, one step of backpropagation (engine: {engine})",
        f"inputs {tutorial.INPUTS}, targets {tutorial.TARGETS}, learning rate "
        f"{tutorial.LEARNING_RATE}, shared biases b1 = {tutorial.BIASES[0]}, "
        f"b2 = {tutorial.BIASES[1]} (not trained)",
        "",
        "The forward pass",
        _row("net_h1", tr.net_inputs[hid][0], f["net_h1"]),
        _row("out_h1", tr.outputs[hid][0], f["out_h1"]),
        _row("out_h2", tr.outputs[hid][1], f["out_h2"]),
        _row("net_o1", tr.net_inputs[out][0], f["net_o1"]),
        _row("out_o1", tr.outputs[out][0], f["out_o1"]),
        _row("out_o2", tr.outputs[out][1], f["out_o2"]),
        "",
        "The total error",
        _row("E_o1", tr.errors[0], f["E_o1"]),
        _row("E_o2", tr.errors[1], f["E_o2"]),
        _row("E_total", tr.total_error, f["E_total"]),
        "",
        "The backwards pass: output layer",
        _row("dE/dout_o1", tr.d_error_d_output[out][0], f["dE/dout_o1"]),
        _row("dout_o1/dnet_o1", tr.d_output_d_net[out][0], f["dout_o1/dnet_o1"]),
        _row("dnet_o1/dw5 = out_h1", tr.outputs[hid][0], f["out_h1"]),
        _row("dE/dw5", tr.weight_gradients[out][0, 0], f["dE/dw5"]),
    ]
    for name in ("w5", "w6", "w7", "w8"):
        _, j, i = tutorial.WEIGHT_NAMES[name]
        lines.append(_row(name + "+", tr.new_weights[out][j, i], f[name + "+"]))
    lines += [
        "",
        "The backwards pass: hidden layer",
        _row("dE_o1/dnet_o1", tr.deltas[out][0], f["dE_o1/dnet_o1"]),
        _row("dnet_o1/dout_h1 = w5", w[out][0, 0]),
        _row("dE_o1/dout_h1", tr.contributions[out][0, 0], f["dE_o1/dout_h1"]),
        _row("dE_o2/dout_h1", tr.contributions[out][1, 0], f["dE_o2/dout_h1"]),
        _row("dE/dout_h1", tr.d_error_d_output[hid][0], f["dE/dout_h1"]),
        _row("dout_h1/dnet_h1", tr.d_output_d_net[hid][0], f["dout_h1/dnet_h1"]),
        _row("dnet_h1/dw1 = i1", tr.inputs[0]),
        _row("dE/dw1", tr.weight_gradients[hid][0, 0], f["dE/dw1"]),
    ]
    for name in ("w1", "w2", "w3", "w4"):
        _, j, i = tutorial.WEIGHT_NAMES[name]
        lines.append(_row(name + "+", tr.new_weights[hid][j, i], f[name + "+"]))
    return lines


def training_run(engine: str, epochs: int) -> tuple[list[str], dict[str, float]]:
    """Train the tutorial network under both update orders; time both engines."""
    x, t = np.array(tutorial.INPUTS), np.array(tutorial.TARGETS)
    lines = ["", f"Training: {epochs:,} rounds of the same sample"]
    f = tutorial.FIGURES
    sim = Network.tutorial(engine=engine)
    history = sim.train(x, t, epochs=epochs)
    seq = Network.tutorial(engine=engine)
    seq_history = seq.train(x, t, epochs=epochs, update="sequential")
    marks = sorted({e for e in (0, 1, 10, 100, 1000, epochs - 1) if 0 <= e < epochs})
    lines.append("  error before update   simultaneous     sequential")
    for e in marks:
        lines.append(f"  {e + 1:>19,}  {history[e]: .10e}  {seq_history[e]: .10e}")
    lines.append(
        f"  {'after the last':>19}  {sim.total_error(x, t): .10e}  {seq.total_error(x, t): .10e}"
    )
    if epochs == 10_000:
        lines += [
            "",
            "The seed's reported figures (its script updated the output layer first,",
            "then back-propagated through the updated weights: update='sequential'):",
            _row("E after 1 round", seq_history[1], f["E after 1 round (sequential)"]),
            _row("out_o1 after 10,000", seq.forward(x)[0], f["out_o1 after 10,000 (sequential)"]),
            _row("out_o2 after 10,000", seq.forward(x)[1], f["out_o2 after 10,000 (sequential)"]),
            "and its 0.0000351085 is the simultaneous error after 9,999 rounds:",
            f"  {'history[9999]':<22}{history[9999]: .10e}    seed: 0.0000351085",
            f"  simultaneous outputs after 10,000: {sim.forward(x)[0]:.10f} "
            f"{sim.forward(x)[1]:.10f}",
        ]

    timings: dict[str, float] = {}
    for name in ENGINES:
        try:
            net = Network.tutorial(engine=name)
        except ImportError:
            continue
        n = epochs if name == "cython" else min(epochs, 10_000)
        best = float("inf")
        for _ in range(3 if name == "cython" else 1):
            net = Network.tutorial(engine=name)
            start = time.perf_counter()
            net.train(x, t, epochs=n)
            best = min(best, time.perf_counter() - start)
        timings[name] = best / n
    lines += ["", f"Time per training step ({epochs:,} one-sample steps, best of runs):"]
    for name, per_step in timings.items():
        lines.append(f"  {name:<8}{per_step * 1e9:>12,.0f} ns")
    if len(timings) == 2:
        lines.append(
            f"  the compiled engine is {timings['python'] / timings['cython']:,.0f}x "
            f"faster than the pure-Python twin"
        )
    return lines, timings


def demo(args: argparse.Namespace) -> int:
    lines = worked_example(args.engine)
    more, _ = training_run(args.engine, args.epochs)
    print("\n".join(lines + more))
    return 0


def bench(args: argparse.Namespace) -> int:
    from . import bench as _bench

    results = _bench.run_all(quick=not args.full, blas_threads=args.blas_threads)
    print(_bench.format_table(results))
    from . import _sklearn_bench

    skipped = _sklearn_bench.skip_reason()
    if skipped is None:  # the estimator against MLPClassifier, side by side
        print("\n" + _sklearn_bench.format_result(_sklearn_bench.run(repeat=3 if args.full else 1)))
    else:
        print(f"\nBackpropClassifier vs MLPClassifier: skipped ({skipped})")
    if args.json:
        _bench.write_json(results, args.json, quick=not args.full)
        print(f"figures written to {args.json}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="backprop", description="Backpropagation for small networks, with a Cython core."
    )
    parser.add_argument("--version", action="version", version=f"backprop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="print the seed's worked example, computed by the engine")
    p_demo.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="engine for the worked example (default: $BACKPROP_ENGINE or cython)",
    )
    p_demo.add_argument("--epochs", type=int, default=10_000, help="training rounds (10000)")
    p_demo.set_defaults(func=demo)
    p_bench = sub.add_parser("bench", help="time this engine against its peers (under a minute)")
    p_bench.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    p_bench.add_argument("--full", action="store_true", help="longer runs, steadier figures")
    p_bench.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        metavar="N",
        help="limit BLAS threads (NumPy's, SciPy's, PyTorch's) to N during "
        "the timed runs; needs threadpoolctl",
    )
    p_bench.set_defaults(func=bench)
    args = parser.parse_args(argv)
    if getattr(args, "engine", "") is None:
        args.engine = default_engine()
    if getattr(args, "epochs", 1) < 1:
        parser.error("--epochs must be >= 1")
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``backprop`` command: demo, train, predict, info, draw and bench.

Every command exits with status 0 on success and 2, with a one-line message on
stderr (no traceback), on bad input: a missing or unreadable file, an unknown
column, a file that is not a network, a bad ``BACKPROP_ENGINE``, a bad option.
Output that stops being read (``backprop demo | head -1``) ends the command
quietly, with status 0.  ``python -m backprop`` runs the same command.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, NoReturn

import numpy as np

from . import __version__, tutorial
from ._spec import ACTIVATIONS, ENGINES, INITS, LOSSES, OPTIMIZERS
from .network import Network, default_engine

#: Suffixes ``draw`` and ``--plot`` write, by matplotlib format.
PICTURES = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
#: Exit status for bad input, as argparse uses for bad arguments.
USAGE = 2
#: The largest picture ``draw`` writes: pixels in all (400 MB of RGBA) and a side.
MAX_PIXELS = 100_000_000
MAX_SIDE_PX = 32_768
#: Pixels per inch of the pictures written (``draw --dpi`` changes it), and the
#: fewest that ``--dpi`` takes (below it a label's font is under a pixel high:
#: FreeType refuses it).
DPI = 100
MIN_DPI = 10
#: The most threads ``bench --blas-threads`` takes.
MAX_THREADS = 1024


class CommandError(Exception):
    """Bad input: the command prints the message on one line and exits with 2."""


# ------------------------------------------------------------------ demo
def _row(name: str, value: float, seed: str | None = None) -> str:
    """One figure: the engine's value to 9 decimals, and the seed's where it prints one."""
    line = f"  {name:<22}{value: .9f}"
    if seed is not None:
        line += f"    seed: {seed:<13} {_mark(name, value, seed)}"
    return line


def _mark(name: str, value: float, seed: str) -> str:
    if _agrees(value, seed):
        return "ok"
    if name in tutorial.SLIPS and _agrees(value, tutorial.SLIPS[name]):
        return "the seed rounded delta_o2 first; exactly " + tutorial.SLIPS[name]
    return "DIFFERS"


def _agrees(value: float, printed: str) -> bool:
    """Whether ``value`` rounds to ``printed`` at the precision it is printed with."""
    mantissa = printed.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    if "e" in printed.lower():
        exp = int(printed.lower().split("e")[1])
        return abs(value - float(printed)) <= 0.5 * 10.0 ** (exp - decimals)
    return abs(value - float(printed)) <= 0.5 * 10.0**-decimals


def worked_entries(engine: str) -> list[Any]:
    """The seed's worked example, figure by figure, from one traced step:
    headings (str) and figures ``(name, value, seed's printed value or None)``."""
    net = Network.tutorial(engine=engine)
    tr = net.trace(tutorial.INPUTS, tutorial.TARGETS, learning_rate=tutorial.LEARNING_RATE)
    f = tutorial.FIGURES
    hid, out = 0, 1
    w = net.weights
    entries: list[Any] = [
        "The forward pass",
        ("net_h1", tr.net_inputs[hid][0], f["net_h1"]),
        ("out_h1", tr.outputs[hid][0], f["out_h1"]),
        ("out_h2", tr.outputs[hid][1], f["out_h2"]),
        ("net_o1", tr.net_inputs[out][0], f["net_o1"]),
        ("out_o1", tr.outputs[out][0], f["out_o1"]),
        ("out_o2", tr.outputs[out][1], f["out_o2"]),
        "The total error",
        ("E_o1", tr.errors[0], f["E_o1"]),
        ("E_o2", tr.errors[1], f["E_o2"]),
        ("E_total", tr.total_error, f["E_total"]),
        "The backwards pass: output layer",
        ("dE/dout_o1", tr.d_error_d_output[out][0], f["dE/dout_o1"]),
        ("dout_o1/dnet_o1", tr.d_output_d_net[out][0], f["dout_o1/dnet_o1"]),
        ("dnet_o1/dw5 = out_h1", tr.outputs[hid][0], f["out_h1"]),
        ("dE/dw5", tr.weight_gradients[out][0, 0], f["dE/dw5"]),
    ]
    for name in ("w5", "w6", "w7", "w8"):
        _, j, i = tutorial.WEIGHT_NAMES[name]
        entries.append((name + "+", tr.new_weights[out][j, i], f[name + "+"]))
    entries += [
        "The backwards pass: hidden layer",
        ("dE_o1/dnet_o1", tr.deltas[out][0], f["dE_o1/dnet_o1"]),
        ("dnet_o1/dout_h1 = w5", w[out][0, 0], None),
        ("dE_o1/dout_h1", tr.contributions[out][0, 0], f["dE_o1/dout_h1"]),
        ("dE_o2/dout_h1", tr.contributions[out][1, 0], f["dE_o2/dout_h1"]),
        ("dE/dout_h1", tr.d_error_d_output[hid][0], f["dE/dout_h1"]),
        ("dout_h1/dnet_h1", tr.d_output_d_net[hid][0], f["dout_h1/dnet_h1"]),
        ("dnet_h1/dw1 = i1", tr.inputs[0], None),
        ("dE/dw1", tr.weight_gradients[hid][0, 0], f["dE/dw1"]),
    ]
    for name in ("w1", "w2", "w3", "w4"):
        _, j, i = tutorial.WEIGHT_NAMES[name]
        entries.append((name + "+", tr.new_weights[hid][j, i], f[name + "+"]))
    return [e if isinstance(e, str) else (e[0], float(e[1]), e[2]) for e in entries]


def worked_example(engine: str) -> list[str]:
    """The seed's worked example as printed lines."""
    lines = [
        f"The seed's 2-2-2 network, one step of backpropagation (engine: {engine})",
        f"inputs {tutorial.INPUTS}, targets {tutorial.TARGETS}, learning rate "
        f"{tutorial.LEARNING_RATE}, shared biases b1 = {tutorial.BIASES[0]}, "
        f"b2 = {tutorial.BIASES[1]} (not trained)",
    ]
    for entry in worked_entries(engine):
        if isinstance(entry, str):
            lines += ["", entry]
        else:
            lines.append(_row(*entry))
    return lines


def _train_tutorial(engine: str, epochs: int) -> dict[str, Any]:
    """The tutorial network trained under both update orders."""
    x, t = np.array(tutorial.INPUTS), np.array(tutorial.TARGETS)
    runs: dict[str, Any] = {}
    for update in ("simultaneous", "sequential"):
        net = Network.tutorial(engine=engine)
        history = net.train(x, t, epochs=epochs, update=update)
        runs[update] = {
            "history": history,
            "final_error": net.total_error(x, t),
            "outputs": net.forward(x).tolist(),
        }
    return runs


def _time_engines(epochs: int) -> dict[str, float]:
    """Seconds per one-sample training step of each engine built here."""
    x, t = np.array(tutorial.INPUTS), np.array(tutorial.TARGETS)
    timings: dict[str, float] = {}
    for name in ENGINES:
        try:
            Network.tutorial(engine=name)
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
    return timings


def _training_lines(runs: dict[str, Any], epochs: int) -> list[str]:
    f = tutorial.FIGURES
    history, seq_history = runs["simultaneous"]["history"], runs["sequential"]["history"]
    lines = ["", f"Training: {epochs:,} rounds of the same sample"]
    marks = sorted({e for e in (0, 1, 10, 100, 1000, epochs - 1) if 0 <= e < epochs})
    lines.append("  error before update   simultaneous     sequential")
    for e in marks:
        lines.append(f"  {e + 1:>19,}  {history[e]: .10e}  {seq_history[e]: .10e}")
    sim_final, seq_final = runs["simultaneous"]["final_error"], runs["sequential"]["final_error"]
    lines.append(f"  {'after the last':>19}  {sim_final: .10e}  {seq_final: .10e}")
    if epochs == 10_000:
        seq_out, sim_out = runs["sequential"]["outputs"], runs["simultaneous"]["outputs"]
        lines += [
            "",
            "The seed's reported figures (its script updated the output layer first,",
            "then back-propagated through the updated weights: update='sequential'):",
            _row("E after 1 round", seq_history[1], f["E after 1 round (sequential)"]),
            _row("out_o1 after 10,000", seq_out[0], f["out_o1 after 10,000 (sequential)"]),
            _row("out_o2 after 10,000", seq_out[1], f["out_o2 after 10,000 (sequential)"]),
            "and its 0.0000351085 is the simultaneous error after 9,999 rounds:",
            f"  {'history[9999]':<22}{history[9999]: .10e}    seed: 0.0000351085",
            f"  simultaneous outputs after 10,000: {sim_out[0]:.10f} {sim_out[1]:.10f}",
        ]
    return lines


def _timing_lines(epochs: int) -> list[str]:
    timings = _time_engines(epochs)
    lines = ["", f"Time per training step ({epochs:,} one-sample steps, best of runs):"]
    for name, per_step in timings.items():
        lines.append(f"  {name:<8}{per_step * 1e9:>12,.0f} ns")
    if len(timings) == 2:
        lines.append(
            f"  the compiled engine is {timings['python'] / timings['cython']:,.0f}x "
            f"faster than the pure-Python twin"
        )
    return lines


def demo(args: argparse.Namespace) -> int:
    if args.plot is not None:
        _check_picture_path(args.plot, "--plot")
    if args.json:
        return _demo_json(args)
    _emit("\n".join(worked_example(args.engine)))
    runs = _train_tutorial(args.engine, args.epochs)
    _emit("\n".join(_training_lines(runs, args.epochs)))
    _emit("\n".join(_timing_lines(args.epochs)))
    if args.plot:
        _plot_demo(runs, args.plot)
    return 0


def _demo_json(args: argparse.Namespace) -> int:
    engine, epochs = args.engine, args.epochs
    net = Network.tutorial(engine=engine)
    trace = net.trace(tutorial.INPUTS, tutorial.TARGETS, learning_rate=tutorial.LEARNING_RATE)
    runs = _train_tutorial(engine, epochs)
    document = {
        "engine": engine,
        "network": {
            "layers": list(tutorial.SIZES),
            "weights": [list(map(list, w)) for w in tutorial.WEIGHTS],
            "biases": list(tutorial.BIASES),
            "inputs": list(tutorial.INPUTS),
            "targets": list(tutorial.TARGETS),
            "learning_rate": tutorial.LEARNING_RATE,
        },
        "figures": [
            {
                "name": e[0],
                "value": e[1],
                "seed": e[2],
                "agrees": None if e[2] is None else _mark(e[0], e[1], e[2]) == "ok",
            }
            for e in worked_entries(engine)
            if not isinstance(e, str)
        ],
        "trace": trace.as_dict(),
        "training": {
            "epochs": epochs,
            **{
                update: {
                    "history": [float(v) for v in run["history"]],
                    "final_error": run["final_error"],
                    "outputs": run["outputs"],
                }
                for update, run in runs.items()
            },
        },
        "seconds_per_step": _time_engines(epochs),
    }
    _emit(json.dumps(document, indent=1))
    if args.plot:
        _plot_demo(runs, args.plot)
    return 0


def _plot_demo(runs: dict[str, Any], path: str) -> None:
    """The error of every round (the seed's update order: simultaneous), with the
    seed's first and last figures marked."""
    from . import plot

    history = runs["simultaneous"]["history"]
    fig, ax = _figure((6.4, 3.8))
    plot.plot_history(history, ax=ax, label="E_total before each update")
    marks = [(1, tutorial.FIGURES["E_total"], "round 1")]
    if history.size >= 10_000:
        marks.append(
            (10_000, tutorial.FIGURES["E after 10,000 rounds (history[9999])"], "round 10,000")
        )
    for epoch, printed, where in marks:
        value = history[epoch - 1]
        decimals = len(printed.split(".")[1])
        first = epoch == 1
        ax.plot([epoch], [value], "o", color="#c0392b", ms=5)
        ax.annotate(
            f"{where}: {value:.{decimals}f}\n(the seed: {printed})",
            (epoch, value),
            xytext=(1.0, -0.8) if first else (-0.5, 0.8),
            textcoords="offset fontsize",
            ha="left" if first else "right",
            va="top" if first else "bottom",
            fontsize=8,
        )
    ax.set_title(
        f"The seed's network on its one sample: {history.size:,} rounds, "
        f"learning rate {tutorial.LEARNING_RATE}",
        fontsize=10,
    )
    ax.set_ylabel("E_total")
    ax.legend().remove()
    _save(fig, path, option="--plot")


# ------------------------------------------------------------------ train
def _names(value: Sequence[str] | None) -> list[str]:
    """Column names given as ``A,B`` (the option may be repeated)."""
    names = [n.strip() for v in value or () for n in v.split(",")]
    if any(not n for n in names):
        raise CommandError(f"empty column name in {','.join(value or ())!r}")
    return names


def _hidden_layers(text: str) -> list[int]:
    """``--layers``: hidden layer sizes such as ``16,8``; ``0`` or ``none``: none."""
    if text.strip() in ("0", "none"):
        return []
    try:
        sizes = [int(n) for n in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be hidden layer sizes such as 16,8 (or 0 for none), got {text!r}"
        ) from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"every size must be at least 1, got {text!r}")
    return sizes


def train(args: argparse.Namespace) -> int:
    from . import _table
    from .columns import Columns

    targets = _names(args.target)
    if args.plot is not None:
        _check_picture_path(args.plot, "--plot")
    _check_writable(args.output, "-o", regular=True)
    hidden = args.layers
    table = _table.read_csv(args.data)
    for name in targets:
        table.index(name)
    if len(set(targets)) != len(targets):
        raise CommandError("--target names a column twice")
    if args.inputs:
        inputs = _names(args.inputs)
        if len(set(inputs)) != len(inputs):
            raise CommandError("--inputs names a column twice")
        both = [n for n in inputs if n in targets]
        if both:
            raise CommandError(f"column {both[0]!r} cannot be both an input and a target")
    else:
        inputs = [n for n in table.names if n not in targets]
    if not inputs:
        raise CommandError(f"{table.path} has no columns left for the inputs")
    classify = args.classes or (len(targets) == 1 and not table.is_numeric(targets[0]))
    if classify and len(targets) != 1:
        raise CommandError(
            f"class labels come from one target column; --target names {len(targets)} "
            f"(numeric targets of several columns are a regression)"
        )
    X = table.numbers(inputs)
    classes = None
    if classify:
        labels = _same_numbers_once(table.texts(targets[0]))
        classes = _sorted_labels(set(labels))
        if len(classes) < 2:
            raise CommandError(
                f"column {targets[0]!r} holds one class only ({classes[0]!r}): nothing to learn"
            )
        index = {c: k for k, c in enumerate(classes)}
        label_idx = np.array([index[c] for c in labels])
        T = np.eye(len(classes))[label_idx]
        output, loss = "softmax", args.loss or "cross_entropy"
    else:
        T = table.numbers(targets)
        output, loss = "linear", args.loss or "mse"
    n = X.shape[0]
    train_rows, val_rows = _split(n, args.validation_split, args.seed)
    net = Network(
        [X.shape[1], *hidden, T.shape[1]],
        activation=args.activation,
        output_activation=output,
        loss=loss,
        init=args.init,
        seed=args.seed,
    )
    validation = (X[val_rows], T[val_rows]) if val_rows.size else None
    batch = None if args.batch_size in ("all", "full", "0") else int(args.batch_size)
    history = net.train(
        X[train_rows],
        T[train_rows],
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=batch,
        optimizer=args.optimizer,
        shuffle=True,
        seed=args.seed,
        validation=validation,
        progress=args.progress,
    )
    net.columns = Columns(tuple(inputs), tuple(targets), None if classes is None else classes)
    with _writing("-o", args.output):
        net.save(args.output)

    what = (
        f"a classifier of {len(classes)} classes ({_listing(classes)})"
        if classes is not None
        else f"a regression of {_listing(targets)}"
    )
    _emit(
        f"trained {list(net.layers)}, {what}: {net.activations[0] if hidden else 'no'} hidden "
        f"activation, {output} output, {loss} loss, {args.optimizer}, {args.epochs} epochs"
    )
    for label, rows in (("training", train_rows), ("validation", val_rows)):
        if rows.size == 0:
            continue
        error = net.total_error(X[rows], T[rows]) / rows.size
        line = f"{label} error {error:.6g} per row ({rows.size} rows)"
        if classes is not None:
            line += f", accuracy {net.accuracy(X[rows], label_idx[rows]):.4f}"
        _emit(line)
    _emit(f"saved {args.output}")
    if args.plot:
        from . import plot

        fig, ax = _figure((6.4, 3.8))
        errors = np.asarray(history, dtype=np.float64) / train_rows.size
        val = getattr(history, "validation", None)
        plot.plot_history(
            errors,
            None if val is None or not len(val) else np.asarray(val) / val_rows.size,
            ax=ax,
            title=f"{os.path.basename(table.path)}: error per row",
        )
        _save(fig, args.plot, option="--plot")
        _emit(f"plotted {args.plot}")
    return 0


#: A label written as a plain decimal number ("1", "-0.5", "1e3", "01"), whose
#: value makes its class ("1" and "1.0" are one); anything else is text.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _label_values(labels: Iterable[str]) -> list[Decimal] | None:
    """The exact values of labels that are all plain decimal numbers, else None."""
    if not all(_NUMBER.fullmatch(label) for label in labels):
        return None
    return [Decimal(label) for label in labels]


def _same_numbers_once(labels: list[str]) -> list[str]:
    """Labels that are all numbers, each written as the column first writes its value
    ("1" and "1.0" are one class); other labels as they are."""
    values = _label_values(labels)
    if values is None:
        return labels
    first: dict[Decimal, str] = {}
    for label, value in zip(labels, values):
        first.setdefault(value, label)
    return [first[value] for value in values]


def _sorted_labels(labels: set[str]) -> tuple[str, ...]:
    """Class labels in order: as numbers if they all are, else as text."""
    ordered = sorted(labels)
    values = _label_values(ordered)
    if values is None:
        return tuple(ordered)
    return tuple(label for _, label in sorted(zip(values, ordered)))


def _split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows to train on and rows held out (a seeded random ``fraction`` of them)."""
    if fraction == 0:
        return np.arange(n), np.arange(0)
    held = int(round(n * fraction))
    if held < 1 or held > n - 1:
        raise CommandError(
            f"--validation-split {fraction} of {n} rows leaves "
            f"{'no rows to validate on' if held < 1 else 'no rows to train on'}"
        )
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[held:]), np.sort(order[:held])


def _listing(names: Sequence[str], most: int = 6) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" ... ({len(names)} in all)" if len(names) > most else "")


# ------------------------------------------------------------------ predict
def _load_network(path: str) -> Network:
    """The network in the file ``path``; a ``CommandError`` for an ensemble's."""
    from . import io

    loaded = io.load(path)
    if not isinstance(loaded, Network):
        raise CommandError(
            f"{path} holds an ensemble of {len(loaded)} networks, not one network: "
            f"load it in Python (backprop.load) and save one member (ens[k].save(path))"
        )
    return loaded


def predict(args: argparse.Namespace) -> int:
    from . import _table

    if args.output is not None:
        _check_writable(args.output, "-o")
    net = _load_network(args.model)
    table = _table.read_csv(args.data)
    columns = net.columns
    n_in = net.layers[0]
    if columns is None:
        if len(table.names) != n_in:
            raise CommandError(
                f"{args.model} records no column names (it was not trained by "
                f"'backprop train'): give a table of exactly its {n_in} input column(s); "
                f"{table.path} has {len(table.names)}"
            )
        inputs: Sequence[str] = table.names
        out_names = [f"o{k + 1}" for k in range(net.layers[-1])]
    else:
        missing = [c for c in columns.inputs if c not in table.names]
        if missing:
            raise CommandError(
                f"{table.path} has no column {missing[0]!r}, an input of {args.model} "
                f"(its inputs: {_listing(columns.inputs)}; the file's columns: "
                f"{_listing(table.names)})"
            )
        inputs = columns.inputs
        out_names = list(columns.targets)
        ignored = [c for c in table.names if c not in inputs and c not in columns.targets]
        if ignored:
            print(f"backprop predict: ignoring column(s) {_listing(ignored)}", file=sys.stderr)
    X = table.numbers(inputs)
    if columns is not None and columns.classes is not None:
        classes = columns.classes
        found = np.atleast_1d(net.predict(X))
        rows: list[list[str]] = [[classes[int(k)]] for k in found]
    else:
        out = np.atleast_2d(net.forward(X))
        rows = [[repr(float(v)) for v in row] for row in out]
    if args.output:
        with (
            _writing("-o", args.output),
            open(args.output, "w", newline="", encoding="utf-8") as fh,
        ):
            _table.write_csv(fh, out_names, rows)
        print(f"wrote {len(rows)} predictions to {args.output}", file=sys.stderr)
    else:
        _table.write_csv(sys.stdout, out_names, rows)
    return 0


# ------------------------------------------------------------------ info
def info(args: argparse.Namespace) -> int:
    from . import _spec, io

    loaded = io.load(args.model)  # the whole file checked: a network, or an ensemble's
    if isinstance(loaded, Network):
        net, header = loaded, io.read_header(args.model)
        title = f"{args.model}: backprop network file, format version {header['version']}"
        each = ""
    else:  # the members share every line below but their weights and state
        net, header = loaded[0], {}
        members = loaded._members
        states = {m._optimizer.name for m in members if m._optimizer is not None}
        if states:
            held = sum(m._optimizer is not None for m in members)
            header["optimizer"] = {"name": "/".join(sorted(states))}
            header["optimizer_of"] = f" ({held:,} of {len(members):,} members)"
        shuffled = [m._shuffle for m in members if m._shuffle is not None]
        if shuffled:
            header["shuffle"] = {"samples": int(shuffled[0].perm.size)}
            header["shuffle_of"] = f" ({len(shuffled):,} of {len(members):,} members)"
        seeds = "seeds recorded" if loaded.seeds is not None else "no seeds recorded"
        title = (
            f"{args.model}: backprop ensemble file, format version {io.ENSEMBLE_VERSION}: "
            f"{len(loaded):,} networks of one shape ({seeds})"
        )
        each = " each"
    layers = net.layers
    weights = sum(a * b for a, b in zip(layers, layers[1:]))
    biases = _spec.param_count(layers, net.bias) - weights
    lines = [
        title,
        f"  layers        {' -> '.join(map(str, layers))}",
        f"  activations   {', '.join(net.activations)}",
        f"  loss          {net.loss}",
        f"  bias          {net.bias}"
        + ("" if net.bias == "none" else f" ({'trained' if net.train_bias else 'not trained'})"),
        f"  dtype         {np.dtype(net.dtype).name}",
        f"  parameters    {weights + biases:,}{each} ({weights:,} weights, {biases:,} biases)",
    ]
    for l, (n_in, n_out) in enumerate(zip(layers, layers[1:])):
        n_b = _spec.bias_count(n_out, net.bias)
        lines.append(
            f"    layer {l + 1}: {n_in} -> {n_out} {net.activations[l]}: "
            f"{n_in * n_out:,} weights + {n_b:,} biases"
        )
    if "optimizer" in header:
        lines.append(
            f"  training state: {header['optimizer']['name']} optimizer"
            + header.get("optimizer_of", "")
        )
    if "shuffle" in header:
        lines.append(
            f"  shuffling stream over {header['shuffle']['samples']:,} samples"
            + header.get("shuffle_of", "")
        )
    columns = net.columns
    if columns is None:
        lines.append("  columns       not recorded")
    else:
        lines.append(f"  inputs        {_listing(columns.inputs, 20)}")
        lines.append(f"  targets       {_listing(columns.targets, 20)}")
        if columns.classes is not None:
            lines.append(f"  classes       {_listing(columns.classes, 20)}")
    _emit("\n".join(lines))
    return 0


# ------------------------------------------------------------------ draw
def draw(args: argparse.Namespace) -> int:
    from . import plot

    if (args.model is None) == (not args.tutorial):
        raise CommandError("give a MODEL file or --tutorial (one of them)")
    _check_picture_path(args.output, "-o")
    if args.show != "weight" and not args.tutorial:
        raise CommandError(
            f"--show {args.show} needs --tutorial: a model file holds no sample to trace"
        )
    net = Network.tutorial() if args.tutorial else _load_network(args.model)
    trace = None
    if args.show != "weight":
        trace = net.trace(tutorial.INPUTS, tutorial.TARGETS, learning_rate=tutorial.LEARNING_RATE)
    fig = plot.network_figure(
        net, args.size, trace=trace, show=args.show, view=args.view, labels=args.labels
    )
    dpi = args.dpi or DPI
    w, h = fig.get_size_inches()
    if max(w, h) * dpi > MAX_SIDE_PX or w * h * dpi * dpi > MAX_PIXELS:
        import matplotlib.pyplot as plt

        plt.close(fig)
        raise CommandError(
            f"--dpi {dpi} makes a picture of {w * dpi:,.0f} x {h * dpi:,.0f} pixels ({w:.3g} x "
            f"{h:.3g} in): at most {MAX_PIXELS:,} pixels, {MAX_SIDE_PX:,} a side"
        )
    _save(fig, args.output, dpi, option="-o")
    size = f"{w:.3g} x {h:.3g} in"
    if args.output.lower().endswith(".png"):
        size += f", {int(w * dpi)} x {int(h * dpi)} px"
    _emit(
        f"drew {'the tutorial network' if args.tutorial else args.model} to {args.output} ({size})"
    )
    return 0


def _size(text: str) -> tuple[float, float]:
    try:
        w, h = (float(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be WIDTHxHEIGHT in inches, such as 8x5, got {text!r}"
        ) from None
    if not (0.5 <= w <= 100 and 0.5 <= h <= 100):
        raise argparse.ArgumentTypeError(f"inches from 0.5 to 100 each, got {text!r}")
    return (w, h)


# ------------------------------------------------------------------ bench
def bench(args: argparse.Namespace) -> int:
    from . import _peers
    from . import bench as _bench

    # everything that can be checked is checked before anything runs
    workloads = None
    if args.workload:
        try:
            workloads = _bench.select_workloads(args.workload, extra=("sklearn", "ensembles"))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    run_sklearn = workloads is None and not args.engine or "sklearn" in (workloads or ())
    run_ensembles = workloads is None and not args.engine or "ensembles" in (workloads or ())
    timed = (
        None if workloads is None else [w for w in workloads if w not in ("sklearn", "ensembles")]
    )
    engines = None
    if args.engine:
        engines = list(dict.fromkeys([_bench.REFERENCE_ENGINE, *args.engine]))
    if args.blas_threads is not None and not _peers.has_module("threadpoolctl"):
        raise CommandError('--blas-threads needs threadpoolctl: pip install "backprop-nn[bench]"')
    if args.json is not None:
        _check_writable(args.json, "--json")
    if args.plot is not None:
        _check_picture_path(args.plot, "--plot")
    quick = not args.full
    cases = [] if timed == [] else _bench.build_cases(quick, engines, timed)
    for engine in args.engine or ():
        if timed != [] and not any(c.engine == engine for c in cases):
            raise CommandError(
                f"engine {engine!r} does not run "
                + (f"workloads {', '.join(timed)}" if timed else "any workload")
            )

    results: list[dict[str, Any]] = []
    if cases:
        order = list(dict.fromkeys(c.workload for c in cases))
        widths = _bench.table_widths(order, {c.engine for c in cases})
        _emit(_bench.format_header(widths))
        for workload in order:
            rows = _bench.run_all(
                quick, engines=engines, workloads=[workload], blas_threads=args.blas_threads
            )
            results += rows
            lines = _bench.format_rows(rows, widths)
            _emit("\n".join(lines) if lines else f"{workload}: every engine skipped")
        notes = _bench.table_notes(results)
        _emit("\n".join(["", *notes, _bench.blas_summary(results)]))
    if run_sklearn:
        from . import _sklearn_bench

        skipped = _sklearn_bench.skip_reason()
        if skipped is None:  # the estimator against MLPClassifier, side by side
            result = _sklearn_bench.run(repeat=3 if args.full else 1)
            _emit("\n" + _sklearn_bench.format_result(result))
        else:
            _emit(f"\nBackpropClassifier vs MLPClassifier: skipped ({skipped})")
    if run_ensembles:  # ensembles against a loop of networks, threads, PyTorch, JAX
        from . import _ensemble_bench

        _emit("\n" + _ensemble_bench.format_result(_ensemble_bench.run(quick=quick)))
    if args.json:
        with _writing("--json", args.json):
            _bench.write_json(results, args.json, quick=quick)
        _emit(f"figures written to {args.json}")
    if args.plot:
        if not any(r["ratio"] is not None for r in results):
            raise CommandError("--plot: no timed results with a ratio to the compiled engine")
        from . import plot

        rows = [r for r in results if not r["skipped"]]
        fig, ax = _figure((max(6.4, 1.2 + 0.25 * len(rows)), 4.4))
        plot.plot_bench(results, ax=ax)
        _save(fig, args.plot, option="--plot")
        _emit(f"plotted {args.plot}")
    return 0


def _whole(text: str, least: int, most: int | None = sys.maxsize) -> int:
    """A whole number from ``least`` to ``most`` (None: no limit) for argparse."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
    if most is not None and value > most:
        raise argparse.ArgumentTypeError(f"must be at most {most}, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _whole(text, 1)


def _dpi(text: str) -> int:
    return _whole(text, MIN_DPI)  # the labels' fonts need a pixel or more


def _threads(text: str) -> int:
    return _whole(text, 1, MAX_THREADS)


def _seed(text: str) -> int:
    return _whole(text, 0, None)  # (NumPy takes any size)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 up to (not including) 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not (value > 0.0 and np.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _batch(text: str) -> str:
    if text in ("all", "full"):
        return text
    _positive_int(text)
    return text


# ------------------------------------------------------------------ files, output
def _emit(text: str) -> None:
    """Print a block of output, flushed, so that a reader sees each as it comes."""
    print(text, flush=True)


def _check_writable(path: str, option: str, regular: bool = False) -> None:
    """Refuse, before any work, an output path that cannot be written (``regular``:
    one that is there but not a regular file, which a network file replaces only)."""
    if not path:
        raise CommandError(f"{option}: empty file name")
    if os.path.isdir(path):
        raise CommandError(f"{option} {path}: is a directory")
    if regular and os.path.exists(path) and not os.path.isfile(path):
        raise CommandError(f"{option} {path}: not a regular file (a network is saved to one)")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CommandError(f"{option} {path}: no such directory {directory}")
    if os.path.exists(path):
        if not os.access(path, os.W_OK):
            raise CommandError(f"{option} {path}: permission denied")
    elif not os.access(directory, os.W_OK | os.X_OK):
        raise CommandError(f"{option} {path}: cannot create files in {directory}")
    else:  # the permission bits may allow what the file system refuses (sysfs, ...)
        import tempfile

        try:
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as exc:
            raise CommandError(
                f"{option} {path}: cannot create files in {directory} ({exc.strerror or exc})"
            ) from None


def _check_picture_path(path: str, option: str) -> None:
    """A picture's path: a known suffix, a writable place, matplotlib installed."""
    if not path:
        raise CommandError(f"{option}: empty file name")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in PICTURES:
        raise CommandError(
            f"{option} {path}: name a .png, .svg or .pdf file (got {suffix or 'no suffix'})"
        )
    _check_writable(path, option)
    from .plot import require_matplotlib

    try:
        require_matplotlib(f"{option} {path}:")
    except ImportError as exc:
        raise CommandError(str(exc)) from None


def _figure(size: tuple[float, float]) -> tuple[Any, Any]:
    """A figure of ``size`` inches, not registered with pyplot, and its axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="tight")
    return fig, fig.add_subplot()


def _save(fig: Any, path: str, dpi: int = DPI, *, option: str) -> None:
    """Write ``fig`` to ``path``, given by ``option`` (format from the suffix;
    ``dpi`` pixels per inch of a PNG); SVG text stays text, and no date is
    written, so the same picture gives the same file."""
    import matplotlib

    fmt = PICTURES[os.path.splitext(path)[1].lower()]
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
    with (
        _writing(option, path),
        matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "backprop"}),
    ):
        fig.savefig(path, format=fmt, metadata=metadata[fmt], dpi=dpi)


@contextmanager
def _writing(option: str, path: str) -> Iterator[None]:
    """An output file that cannot be written, found only in the write (a full
    disk, a file system that refuses it): one line naming the option and file."""
    try:
        yield
    except OSError as exc:
        raise CommandError(f"{option} {path}: {exc.strerror or exc}") from None


# ------------------------------------------------------------------ the parser
class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line on stderr (status 2), as
    every other error of the command is, with where to find the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="backprop",
        description="Backpropagation for small networks, with a Cython core: the seed's "
        "worked example (demo), training and prediction from CSV files, pictures.",
    )
    parser.add_argument("--version", action="version", version=f"backprop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "demo",
        help="print the seed's worked example, computed by the engine",
        description="The seed's 2-2-2 network: every figure of one step of "
        "backpropagation beside the seed's own, then training and timing.",
    )
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="engine for the worked example (default: $BACKPROP_ENGINE or cython)",
    )
    p.add_argument(
        "--epochs", type=_positive_int, default=10_000, help="training rounds (default 10000)"
    )
    p.add_argument(
        "--json", action="store_true", help="print the figures, the trace and the run as JSON"
    )
    p.add_argument(
        "--plot",
        metavar="FILE",
        help="also plot the error of both update orders (.png, .svg or .pdf)",
    )
    p.set_defaults(func=demo)

    p = sub.add_parser(
        "train",
        help="train a network on a CSV file and save it",
        description="Train a network on a CSV file with a header row and save it. A "
        "target column of labels makes a classifier (softmax output, cross-entropy); "
        "numeric targets a regression (linear output, mse). Every other column is an "
        "input and must be numeric (scale inputs to about [-1, 1] for the logistic "
        "and tanh activations). The column names and class labels are saved with the "
        "network, for 'backprop predict'.",
    )
    p.add_argument("data", metavar="DATA.csv", help="the training data")
    p.add_argument(
        "--target",
        "-t",
        action="append",
        required=True,
        metavar="COL[,COL...]",
        help="the target column(s)",
    )
    p.add_argument(
        "--inputs",
        action="append",
        metavar="COL[,COL...]",
        help="the input columns (default: every column but the targets)",
    )
    p.add_argument(
        "--classes", action="store_true", help="read a numeric target column as class labels"
    )
    p.add_argument(
        "--layers",
        type=_hidden_layers,
        default=[16],
        metavar="N[,N...]",
        help="hidden layer sizes, input side first (default 16; 0: none)",
    )
    p.add_argument(
        "--activation",
        choices=[a for a in ACTIVATIONS if a != "softmax"],
        default="logistic",
        help="activation of the hidden layers (logistic)",
    )
    p.add_argument(
        "--loss",
        choices=LOSSES,
        default=None,
        help="loss (default: cross_entropy for classes, mse for values)",
    )
    p.add_argument(
        "--init", choices=INITS, default="xavier", help="random start of the weights (xavier)"
    )
    p.add_argument("--epochs", type=_positive_int, default=200, help="epochs (200)")
    p.add_argument(
        "--batch-size",
        type=_batch,
        default="32",
        metavar="K",
        help="samples per update, or 'all' (32)",
    )
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="optimizer (adam)")
    p.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=0.01,
        metavar="R",
        help="learning rate (0.01)",
    )
    p.add_argument(
        "--validation-split",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="hold out this fraction of the rows, chosen at random (0)",
    )
    p.add_argument(
        "--seed", type=_seed, default=0, help="seed of the start, the shuffling and the split (0)"
    )
    p.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    p.add_argument("--plot", metavar="FILE", help="plot the error per epoch (.png, .svg or .pdf)")
    p.add_argument(
        "-o", "--output", required=True, metavar="MODEL.npz", help="where to save the network"
    )
    p.set_defaults(func=train)

    p = sub.add_parser(
        "predict",
        help="predict from a CSV file with a saved network",
        description="One prediction per row of DATA.csv, as CSV with a header naming "
        "the target column(s): the class label for a classifier, the values for a "
        "regression. Inputs are matched by column name; the target column may be "
        "present and is ignored, and so are other columns (with a note on stderr).",
    )
    p.add_argument("model", metavar="MODEL.npz")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("-o", "--output", metavar="OUT.csv", help="write here (default: stdout)")
    p.set_defaults(func=predict)

    p = sub.add_parser(
        "info",
        help="describe a saved network (or ensemble)",
        description="Layers, options, parameter counts, training state, "
        "column names and the file's format version; of an ensemble's file, the "
        "number of networks and what they share.",
    )
    p.add_argument("model", metavar="MODEL.npz")
    p.set_defaults(func=info)

    p = sub.add_parser(
        "draw",
        help="draw a network (.png, .svg or .pdf)",
        description="Draw a saved network, or the seed's (--tutorial), as the seed does: "
        "units in columns, bias units, every edge labelled with its weight (up to 10 "
        "units per layer); larger networks with edges coloured by sign and as thick as "
        "they are large, or as weight matrices (--view hinton).",
    )
    p.add_argument("model", metavar="MODEL.npz", nargs="?")
    p.add_argument("--tutorial", action="store_true", help="draw the seed's 2-2-2 network")
    p.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="the picture: .png, .svg or .pdf"
    )
    p.add_argument(
        "--view",
        choices=("graph", "hinton"),
        default="graph",
        help="units and edges (graph), or each layer's weight matrix (hinton)",
    )
    p.add_argument(
        "--show",
        choices=("weight", "new_weight", "gradient"),
        default="weight",
        help="with --tutorial: label edges with the weights, the weights after "
        "one step of the seed's example, or the step's gradients",
    )
    p.add_argument(
        "--labels",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write each edge's value on it (default: up to 10 units per layer)",
    )
    p.add_argument(
        "--size",
        type=_size,
        default=None,
        metavar="WxH",
        help="size in inches, such as 8x5 (default: sized to fit)",
    )
    p.add_argument(
        "--dpi", type=_dpi, default=None, help="pixels per inch of a .png (100; at least 10)"
    )
    p.set_defaults(func=draw)

    from .bench import ENGINES as BENCH_ENGINES

    p = sub.add_parser(
        "bench",
        help="time this engine against its peers (under a minute)",
        description="Time each workload with each engine installed, side by side, and "
        "print each one's time relative to the compiled engine's, a workload at a time.",
    )
    p.add_argument(
        "--workload",
        action="append",
        metavar="NAME",
        help="run this workload only (repeatable); a prefix selects every "
        "workload that begins with it (seed, width-sweep); 'sklearn' is the "
        "estimator against MLPClassifier, 'ensembles' the ensembles against a loop "
        "of networks",
    )
    p.add_argument(
        "--engine",
        action="append",
        choices=BENCH_ENGINES,
        metavar="NAME",
        help="time this engine only (repeatable; the compiled engine always "
        f"runs, the ratios are to it): {', '.join(BENCH_ENGINES)}",
    )
    p.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    p.add_argument("--plot", metavar="FILE", help="also plot the ratios (.png, .svg or .pdf)")
    p.add_argument("--full", action="store_true", help="longer runs, steadier figures")
    p.add_argument(
        "--blas-threads",
        type=_threads,
        default=None,
        metavar="N",
        help="limit BLAS threads (NumPy's, SciPy's, PyTorch's) to N during "
        "the timed runs; needs threadpoolctl",
    )
    p.set_defaults(func=bench)
    return parser


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        engine = default_engine()  # a bad BACKPROP_ENGINE is refused before any work
        Network([1, 1], seed=0, engine=engine)
    except (ValueError, ImportError) as exc:
        raise CommandError(str(exc)) from None
    if args.func is demo and args.engine is None:  # (bench's --engine is a list, None: all)
        args.engine = engine
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``backprop`` command; returns its exit status."""
    from . import _table
    from ._training import TrainingError, TrainingInterrupted

    command = _command_name(argv)
    try:
        status = _run(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``backprop demo | head -1``): what it read is what
        # it wanted.  Point stdout at devnull so that the interpreter's last flush
        # does not fail again, and end quietly (the Python docs' recipe).
        _quiet_stdout()
        return 0
    except TrainingInterrupted as exc:
        _say(command, f"interrupted after {exc.epochs_completed} epoch(s); nothing saved")
        return 130
    except KeyboardInterrupt:
        _say(command, "interrupted")
        return 130
    except TrainingError as exc:
        _say(command, f"training failed: {exc}")
        return 1
    except MemoryError:
        _say(command, "out of memory (a smaller network, batch or data set may fit)")
        return 1
    except (CommandError, _table.TableError, ValueError, OSError, ImportError) as exc:
        _say(command, _one_line(exc))
        return USAGE
    return status


def _command_name(argv: Sequence[str] | None) -> str:
    words = list(sys.argv[1:] if argv is None else argv)
    known = ("demo", "train", "predict", "info", "draw", "bench")
    return next((f"backprop {w}" for w in words if w in known), "backprop")


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _say(command: str, message: str) -> None:
    try:
        print(f"{command}: error: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed as well
        pass


def _quiet_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file behind sys.stdout
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""HTML tables of a ``Network`` and a ``Trace``: their view in Jupyter (``_repr_html_``).

A trace is shown layer by layer with the seed's names: each unit's net input
(net), output (out), dE/dout, dout/dnet and delta; each weight's gradient and new
value, named w1, w2 ... as the seed numbers them.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _spec
from .plot import unit_names, weight_names

if TYPE_CHECKING:  # pragma: no cover
    from .network import Network
    from .trace import Trace

_STYLE = "border-collapse:collapse;margin:0.3em 0"
_CELL = "padding:0.1em 0.6em;text-align:right;font-family:monospace"
_HEAD = "padding:0.1em 0.6em;text-align:left"


def _table(caption: str, header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f'<th style="{_HEAD}">{escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="{_HEAD if k == 0 else _CELL}">{escape(_text(v))}</td>'
            for k, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<table style="{_STYLE}"><caption style="text-align:left;font-weight:bold">'
        f"{escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _text(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.9f}"
    return str(value)


def _layer_name(l: int, n_layers: int) -> str:
    """``"input"``, ``"hidden"`` (``"hidden 1"`` ... when several) or ``"output"``."""
    if l == 0:
        return "input"
    if l == n_layers - 1:
        return "output"
    return "hidden" if n_layers == 3 else f"hidden {l}"


def network_html(net: Network) -> str:
    """The network as tables: its layers with their parameter counts, its options."""
    layers, bias = net.layers, net.bias
    rows: list[list[Any]] = [["input", layers[0], "", "", "", ""]]
    total = 0
    for l, (n_in, n_out) in enumerate(zip(layers, layers[1:])):
        n_b = _spec.bias_count(n_out, bias)
        total += n_in * n_out + n_b
        rows.append(
            [
                _layer_name(l + 1, len(layers)),
                n_out,
                net.activations[l],
                n_in * n_out,
                n_b,
                n_in * n_out + n_b,
            ]
        )
    rows.append(["total", sum(layers), "", total - _biases(net), _biases(net), total])
    parts = [
        _table(
            f"Network {list(layers)}",
            ["layer", "units", "activation", "weights", "biases", "parameters"],
            rows,
        )
    ]
    options = [
        ["bias", f"{bias}{'' if net.train_bias or bias == 'none' else ' (not trained)'}"],
        ["loss", net.loss],
        ["dtype", np.dtype(net.dtype).name],
        ["engine", net.engine],
    ]
    optimizer = getattr(net, "_optimizer", None)
    if optimizer is not None:
        options.append(["optimizer state", optimizer.name])
    columns = net.columns
    if columns is not None:
        options.append(["input columns", ", ".join(columns.inputs)])
        options.append(["target columns", ", ".join(columns.targets)])
        if columns.classes is not None:
            options.append(["classes", ", ".join(columns.classes)])
    parts.append(_table("Options", ["option", "value"], options))
    return "<div>" + "".join(parts) + "</div>"


def _biases(net: Network) -> int:
    return sum(_spec.bias_count(n, net.bias) for n in net.layers[1:])


def trace_html(trace: Trace) -> str:
    """The trace layer by layer, with the seed's names."""
    n_layers = len(trace.net_inputs) + 1
    layers = [len(trace.inputs), *(len(o) for o in trace.outputs)]
    units = unit_names(layers)
    wnames = weight_names(layers)
    parts = [
        _table(
            f"One {trace.update} step, learning rate {trace.learning_rate:g}: "
            f"E_total = {trace.total_error:.9f}",
            ["unit", "input"],
            [[name, float(v)] for name, v in zip(units[0], trace.inputs)],
        )
    ]
    for l in range(n_layers - 1):
        output = l == n_layers - 2
        header = ["unit", "net", "out", "dE/dout", "dout/dnet", "delta"]
        if output:
            header += ["target", "E"]
        rows = []
        for j, name in enumerate(units[l + 1]):
            row = [
                name,
                float(trace.net_inputs[l][j]),
                float(trace.outputs[l][j]),
                float(trace.d_error_d_output[l][j]),
                float(trace.d_output_d_net[l][j]),
                float(trace.deltas[l][j]),
            ]
            if output:
                row += [float(trace.targets[j]), float(trace.errors[j])]
            rows.append(row)
        parts.append(_table(f"{_layer_name(l + 1, n_layers)} layer: units", header, rows))
        grads, new = trace.weight_gradients[l], trace.new_weights[l]
        wrows: list[list[Any]] = [
            [
                wnames[l][j, i],
                f"{units[l][i]} \u2192 {units[l + 1][j]}",
                float(grads[j, i]),
                float(new[j, i]),
            ]
            for j in range(grads.shape[0])
            for i in range(grads.shape[1])
        ]
        b_grads = np.ravel(trace.bias_gradients[l])
        b_new = np.ravel(trace.new_biases[l])
        if b_new.size == 1 and grads.shape[0] > 1:  # one bias shared by the layer
            wrows.append(
                [
                    f"b{l + 1}",
                    f"\u2192 {', '.join(units[l + 1])}",
                    _maybe(b_grads, 0),
                    float(b_new[0]),
                ]
            )
        else:
            for j in range(b_new.size):
                wrows.append(
                    [
                        f"b{l + 1}[{units[l + 1][j]}]",
                        f"\u2192 {units[l + 1][j]}",
                        _maybe(b_grads, j),
                        float(b_new[j]),
                    ]
                )
        parts.append(
            _table(
                f"{_layer_name(l + 1, n_layers)} layer: weights",
                ["weight", "edge", "gradient dE/dw", "new weight"],
                wrows,
            )
        )
    return "<div>" + "".join(parts) + "</div>"


def _maybe(values: np.ndarray, k: int) -> Any:
    return float(values[k]) if k < values.size else "-"

"""``Trace``: every quantity of one training step, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

Arrays = list  # list[np.ndarray], one entry per weight layer


@dataclass(frozen=True, repr=False)
class Trace:
    """The record of one backpropagation step on one sample.

    Every list has one entry per weight layer: index 0 is the first hidden layer,
    -1 the output layer.  Unit quantities are 1-D arrays over the layer's units;
    weight quantities are ``(n_out, n_in)`` matrices laid out like
    ``Network.weights``.  For the seed's network, ``trace.outputs[0][0]`` is
    out_h1 and ``trace.new_weights[1][0, 0]`` is w5+.
    """

    inputs: np.ndarray
    targets: np.ndarray
    learning_rate: float
    update: str
    net_inputs: Arrays
    """Total net input of each unit (net_h1, net_o1 ...)."""
    outputs: Arrays
    """Output of each unit after its activation (out_h1, out_o1 ...)."""
    errors: np.ndarray
    """Error term of each output unit (E_o1, E_o2: 1/2 (target - out)^2)."""
    total_error: float
    """Sum of ``errors`` (E_total)."""
    d_error_d_output: Arrays
    """dE_total/dout of each unit."""
    d_output_d_net: Arrays
    """dout/dnet of each unit (the activation's slope)."""
    deltas: Arrays
    """dE_total/dnet of each unit: the node deltas."""
    contributions: Arrays
    """``contributions[l][k, j]`` = delta_k * w_kj: dE_ok/dout_j, the share of unit k
    of layer l + 1 in dE/dout of unit j of layer l (index 0: w.r.t. the inputs)."""
    weight_gradients: Arrays
    """dE_total/dw for every weight."""
    bias_gradients: Arrays
    """dE_total/db for every trainable bias value (one per layer when shared)."""
    new_weights: Arrays
    """The weights after the step (w1+ ...)."""
    new_biases: Arrays
    """The bias values after the step (unchanged when biases are not trained)."""

    def __repr__(self) -> str:
        return (
            f"Trace(layers={len(self.net_inputs)}, total_error={self.total_error!r}, "
            f"update={self.update!r}, learning_rate={self.learning_rate!r})"
        )

    def __str__(self) -> str:
        lines = [
            f"Trace of one {self.update} step, learning rate {self.learning_rate:g}",
            f"  inputs  {_fmt(self.inputs)}",
            f"  targets {_fmt(self.targets)}",
        ]
        n_layers = len(self.net_inputs)
        for l in range(n_layers):
            name = "output layer" if l == n_layers - 1 else f"hidden layer {l + 1}"
            lines.append(f"{name} (weight layer {l}):")
            for label, values in (
                ("net input", self.net_inputs[l]),
                ("output", self.outputs[l]),
                ("dE/dout", self.d_error_d_output[l]),
                ("dout/dnet", self.d_output_d_net[l]),
                ("delta", self.deltas[l]),
            ):
                lines.append(f"  {label:<17}{_fmt(values)}")
            for label, matrix in (
                ("dE/dw", self.weight_gradients[l]),
                ("new weights", self.new_weights[l]),
            ):
                for j, row in enumerate(matrix):
                    lines.append(f"  {label if j == 0 else '':<17}{_fmt(row)}")
            lines.append(f"  {'dE/db':<17}{_fmt(self.bias_gradients[l])}")
            lines.append(f"  {'new biases':<17}{_fmt(self.new_biases[l])}")
        lines.append(f"errors {_fmt(self.errors)}   total error {self.total_error:.9f}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Jupyter's view: layer by layer, with the seed's names (net, out,
        dE/dout, dout/dnet, delta; each weight's gradient and new value)."""
        from ._html import trace_html

        return trace_html(self)

    def as_dict(self) -> dict:
        """The trace as a dict of plain Python lists and floats (JSON-ready)."""

        def plain(v):
            if isinstance(v, np.ndarray):
                return v.tolist()
            if isinstance(v, list):
                return [plain(x) for x in v]
            return v

        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


def _fmt(values) -> str:
    values = np.asarray(values)
    if values.size == 0:
        return "-"
    return "  ".join(f"{v: .9f}" for v in values.ravel())

"""Notebook display: ``Trace`` and ``Network`` render as HTML tables."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np

import backprop as bp


class _Cells(HTMLParser):
    """The text of every table cell, table by table, and a check that tags nest."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.captions: list[str] = []
        self.open: list[str] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.open.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th", "caption"):
            self._text = []

    def handle_endtag(self, tag):
        assert self.open.pop() == tag, f"</{tag}> closes another tag"
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._text))
            self._text = None
        elif tag == "caption":
            self.captions.append("".join(self._text))
            self._text = None

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def parse(html: str) -> _Cells:
    cells = _Cells()
    cells.feed(html)
    cells.close()
    assert not cells.open
    return cells


def test_a_trace_shows_each_layer_with_the_seeds_names_and_figures():
    trace = bp.Network.tutorial().trace([0.05, 0.10], [0.01, 0.99], learning_rate=0.5)
    page = parse(trace._repr_html_())
    headers = [table[0] for table in page.tables]
    assert ["unit", "net", "out", "dE/dout", "dout/dnet", "delta"] in headers
    assert ["unit", "net", "out", "dE/dout", "dout/dnet", "delta", "target", "E"] in headers
    assert ["weight", "edge", "gradient dE/dw", "new weight"] in headers
    rows = {row[0]: row for table in page.tables for row in table[1:]}
    # the seed's figures, as it prints them, at their precision
    assert rows["h1"][1:3] == ["0.377500000", "0.593269992"]
    assert rows["o1"][3:6] == ["0.741365070", "0.186815602", "0.138498562"]
    assert rows["w5"][1:] == ["h1 \u2192 o1", "0.082167041", "0.358916480"]
    assert rows["w1"][1:] == ["i1 \u2192 h1", "0.000438568", "0.149780716"]
    assert {f"w{k}" for k in range(1, 9)} <= set(rows)
    assert rows["b1"][-1] == "0.350000000"  # not trained
    assert "E_total = 0.298371109" in page.captions[0]


def test_a_network_shows_its_layers_options_and_parameter_counts():
    net = bp.Network([4, 5, 3], output_activation="softmax", loss="cross_entropy", seed=0)
    page = parse(net._repr_html_())
    layers, options = page.tables
    assert layers[0] == ["layer", "units", "activation", "weights", "biases", "parameters"]
    assert layers[1:] == [
        ["input", "4", "", "", "", ""],
        ["hidden", "5", "logistic", "20", "5", "25"],
        ["output", "3", "softmax", "15", "3", "18"],
        ["total", "12", "", "35", "8", "43"],
    ]
    assert net.params.size == 43
    values = dict(options[1:])
    assert values["loss"] == "cross_entropy" and values["engine"] == net.engine
    net.columns = bp.Columns(["a<b", "c", "d", "e"], ["kind"], ["x", "y", "z"])
    page = parse(net._repr_html_())  # names are escaped
    assert dict(page.tables[1][1:])["input columns"] == "a<b, c, d, e"


def test_a_deeper_networks_trace_names_each_hidden_layers_units():
    net = bp.Network([3, 4, 3, 2], bias="shared", seed=3)
    trace = net.trace([0.1, -0.2, 0.3], [0.2, 0.7])
    page = parse(trace._repr_html_())
    rows = {row[0]: row for table in page.tables for row in table[1:]}
    np.testing.assert_allclose(float(rows["h2.3"][2]), trace.outputs[1][2], atol=1e-9)
    assert rows["w13"][1] == "h1.1 \u2192 h2.1"  # numbered on from layer to layer
    assert rows["b3"][1] == "\u2192 o1, o2"  # one shared bias per layer

"""Pictures: the network as the seed draws it, a run's error, a benchmark's ratios.

Every picture is rendered with matplotlib's Agg backend and checked: the file
decodes, has the size asked for and is not blank; the tutorial diagram's edge
labels carry the seed's weights, and no two labels overlap.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import backprop as bp
from backprop import plot

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

#: The seed's weights and biases, as its diagram prints them.
SEED_LABELS = {
    "w1": "0.15",
    "w2": "0.20",
    "w3": "0.25",
    "w4": "0.30",
    "w5": "0.40",
    "w6": "0.45",
    "w7": "0.50",
    "w8": "0.55",
    "b1": "0.35",
    "b2": "0.60",
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _axes(size=(6.0, 4.0)):
    fig = Figure(figsize=size)
    return fig.add_subplot()


def edge_labels(ax) -> dict[str, str]:
    """The edge labels ``name = value`` drawn on ``ax``, by name."""
    out = {}
    for text in ax.texts:
        if " = " in text.get_text():
            name, value = text.get_text().split(" = ")
            out[name] = value.split()[0]
    return out


def assert_picture(path, width_px, height_px):
    """A PNG that decodes, of the size asked for, and not blank."""
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == (height_px, width_px)
    rgb = image[..., :3]
    assert rgb.std() > 0.05  # not one colour
    assert (rgb.min(axis=2) < 0.5).mean() > 0.005  # some dark ink


def test_the_tutorial_network_is_drawn_with_the_seeds_weights(tmp_path):
    fig = plot.network_figure(bp.Network.tutorial(), size=(6.0, 3.5))
    ax = fig.axes[0]
    assert edge_labels(ax) == SEED_LABELS
    names = {t.get_text() for t in ax.texts}
    assert {"i1", "i2", "h1", "h2", "o1", "o2", "b1", "b2"} <= names
    assert plot.label_overlaps(ax) == 0
    fig.savefig(tmp_path / "seed.png", dpi=80)
    assert_picture(tmp_path / "seed.png", 480, 280)


def test_net_draw_returns_its_axes_on_a_new_pyplot_figure():
    ax = bp.Network.tutorial().draw()
    assert ax.figure in [plt.figure(n) for n in plt.get_fignums()]
    assert edge_labels(ax)["w5"] == "0.40"
    mine = _axes()
    assert bp.Network.tutorial().draw(mine) is mine


@pytest.mark.parametrize(
    "show, figures",
    [
        # w1+ ... w8+ and dE/dw1, dE/dw5 as the seed prints them, to 4 digits
        (
            "new_weight",
            {"w1+": "0.149780716", "w4+": "0.29950229", "w5+": "0.35891648", "w8+": "0.561370121"},
        ),
        ("gradient", {"w1": "0.000438568", "w5": "0.082167041"}),
    ],
)
def test_a_trace_labels_edges_with_new_weights_or_gradients(show, figures):
    net = bp.Network.tutorial()
    trace = net.trace([0.05, 0.10], [0.01, 0.99], learning_rate=0.5)
    ax = net.draw(_axes(), trace=trace, show=show)
    texts = [t.get_text() for t in ax.texts]
    for name, printed in figures.items():
        sep = ": " if show == "gradient" else " = "
        assert f"{name}{sep}{float(printed):.4g}" in texts, (name, texts)
    assert "one step" in ax.get_title()


def test_bad_options_are_refused():
    net = bp.Network.tutorial()
    with pytest.raises(ValueError, match="needs a trace"):
        net.draw(_axes(), show="gradient")
    other = bp.Network([2, 3, 2], seed=0).trace([0.1, 0.2], [0.3, 0.4])
    with pytest.raises(ValueError, match="another network"):
        net.draw(_axes(), trace=other, show="new_weight")
    with pytest.raises(ValueError, match="view"):
        net.draw(_axes(), view="3d")
    with pytest.raises(ValueError, match="fmt"):
        net.draw(_axes(), fmt="q")
    with pytest.raises(TypeError, match="Network"):
        plot.draw_network("net")


@pytest.mark.parametrize("sizes", [(10, 10, 10), (3, 5, 2), (4, 10, 3, 2)])
def test_labels_do_not_overlap_up_to_ten_units_per_layer(sizes):
    """At the default size every edge (and per-unit bias) is labelled, and no two
    labels' text boxes overlap."""
    net = bp.Network(sizes, seed=1)
    fig = plot.network_figure(net)
    ax = fig.axes[0]
    n_edges = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    assert sum(t.get_gid() == "edge-label" for t in ax.texts) == n_edges
    assert plot.label_overlaps(ax) == 0


def test_label_overlaps_finds_overlapping_labels():
    ax = _axes()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    for x, angle in ((0.5, 0), (0.52, 30), (0.9, 0)):
        ax.text(x, 0.5, "-0.123", rotation=angle, gid="edge-label", ha="center", va="center")
    assert plot.label_overlaps(ax) == 1


def test_larger_networks_colour_edges_by_sign(tmp_path):
    net = bp.Network([30, 12, 5], seed=2)
    fig = plot.network_figure(net, size=(5.0, 6.0))
    ax = fig.axes[0]
    assert not [t for t in ax.texts if t.get_gid() == "edge-label"]
    lines = ax.collections[-1]
    assert len(lines.get_segments()) == 30 * 12 + 12 * 5 + 12 + 5
    assert len({tuple(c) for c in lines.get_colors()}) == 2  # red and blue
    assert len(set(np.round(lines.get_linewidths(), 3))) > 10  # width from size
    assert ax.get_legend() is not None
    fig.savefig(tmp_path / "big.png", dpi=50)
    assert_picture(tmp_path / "big.png", 250, 300)


@pytest.mark.parametrize("sizes", [(2, 2, 2), (784, 16, 10)])
def test_the_hinton_view_draws_each_layers_matrix(tmp_path, sizes):
    net = bp.Network.tutorial() if sizes == (2, 2, 2) else bp.Network(sizes, seed=0)
    fig = plot.network_figure(net, size=(6.0, 3.0), view="hinton")
    ax = fig.axes[0]
    if sizes == (2, 2, 2):  # a square per weight and bias, area as the value
        squares = ax.collections
        assert sum(len(c.get_paths()) for c in squares) == 12
    else:  # a heat map for the large layer
        assert len(ax.images) == 1 and ax.images[0].get_array().shape == (16, 785)
    fig.savefig(tmp_path / "hinton.png", dpi=60)
    assert_picture(tmp_path / "hinton.png", 360, 180)


def test_a_network_with_column_names_shows_them():
    net = bp.Network([2, 3, 2], output_activation="softmax", seed=0)
    net.columns = bp.Columns(["height", "weight"], ["kind"], ["cat", "dog"])
    ax = net.draw(_axes())
    names = {t.get_text() for t in ax.texts}
    assert {"height", "weight", "cat", "dog"} <= names


# ------------------------------------------------------------------ a run
def test_plot_history_draws_the_error_on_a_log_scale(tmp_path):
    net = bp.Network.tutorial()
    history = net.train([0.05, 0.10], [0.01, 0.99], epochs=200)
    ax = bp.plot_history(history, ax=_axes())
    assert ax.get_yscale() == "log"
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 201))
    np.testing.assert_array_equal(line.get_ydata(), history)
    ax.figure.savefig(tmp_path / "loss.png", dpi=50)
    assert_picture(tmp_path / "loss.png", 300, 200)


def test_plot_history_shows_a_historys_validation_at_its_epochs():
    rng = np.random.default_rng(0)
    X, T = rng.uniform(-1, 1, (20, 2)), rng.uniform(0.1, 0.9, (20, 1))
    net = bp.Network([2, 3, 1], seed=0)
    history = net.train(X[:15], T[:15], epochs=30, validation=(X[15:], T[15:]), report_every=5)
    ax = bp.plot_history(history, ax=_axes())
    train_line, val_line = ax.get_lines()
    np.testing.assert_array_equal(val_line.get_xdata(), [5, 10, 15, 20, 25, 30])
    np.testing.assert_array_equal(val_line.get_ydata(), history.validation)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation"]


def test_plot_history_checks_its_input():
    with pytest.raises(ValueError, match="one error per recorded epoch"):
        bp.plot_history([1.0, 0.5], validation=[1.0], ax=_axes())
    with pytest.raises(ValueError, match="non-empty"):
        bp.plot_history([], ax=_axes())
    with pytest.raises(ValueError, match="one epoch per error"):
        bp.plot_history([1.0, 0.5], epochs=[10], ax=_axes())
    ax = bp.plot_history([0.0, 0.0], ax=_axes())  # nothing to log: a linear scale, no warning
    assert ax.get_yscale() == "linear"
    ax = bp.plot_history([3.0, 2.0, 1.0], epochs=[10, 20, 25], ax=_axes())
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [10, 20, 25])


def test_plot_bench_draws_a_bar_per_engine_from_the_compiled_engines_line():
    rows = [
        {"workload": w, "engine": e, "ratio": r, "skipped": None}
        for w, e, r in [
            ("seed", "cython", 1.0),
            ("seed", "python", 400.0),
            ("seed", "numba", 0.8),
            ("digits", "cython", 1.0),
            ("digits", "python", 300.0),
        ]
    ] + [{"workload": "digits", "engine": "torch", "ratio": None, "skipped": "absent"}]
    ax = plot.plot_bench(rows, ax=_axes())
    assert ax.get_yscale() == "log"
    bars = [p for p in ax.patches]
    assert len(bars) == 3  # python twice, numba once: the compiled engine is the line
    tops = sorted(round(b.get_y() + b.get_height(), 6) for b in bars)
    assert tops == [0.8, 300.0, 400.0]
    with pytest.raises(ValueError, match="no benchmark results"):
        plot.plot_bench(rows[-1:], ax=_axes())


# ------------------------------------------------------------------ without matplotlib
def test_without_matplotlib_the_error_names_the_extra(monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    with pytest.raises(ImportError, match=r'pip install "backprop-nn\[plot\]"'):
        bp.Network.tutorial().draw()
    with pytest.raises(ImportError, match=r"backprop-nn\[plot\]"):
        bp.plot_history([1.0, 0.5])

"""Pictures: the network as the seed draws it, a run's error, a benchmark's ratios.

Three functions, each drawing on a matplotlib ``Axes`` (a new figure when ``ax``
is ``None``) and returning it:

* :func:`draw_network` (also ``Network.draw``): the seed's diagram for small
  networks (units in columns, bias units, every edge labelled with its weight,
  or, for a ``Trace``, its new weight or gradient); for larger ones, edges
  coloured by sign and drawn as thick as they are large; and ``view="hinton"``,
  each layer's weights as a matrix of squares (a heat map for large layers);
* :func:`plot_history`: the error of each epoch, on a log scale, with the
  validation error beside it;
* :func:`plot_bench`: ``backprop bench``'s results, each engine's time relative
  to the compiled engine's, on a log scale.

matplotlib is optional (``pip install "backprop-nn[plot]"``) and is imported only
when a picture is drawn: ``import backprop`` does not import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from .network import Network
    from .trace import Trace

__all__ = ["draw_network", "plot_history", "plot_bench", "SHOW", "VIEWS"]

#: What an edge label of ``draw_network`` shows.
SHOW = ("weight", "new_weight", "gradient")
#: The two views of ``draw_network``.
VIEWS = ("graph", "hinton")
#: Most units in a layer for which edges are labelled by default (``labels=None``).
LABEL_MAX_UNITS = 10
#: Most units in a layer whose names are written in their circles.
NAME_MAX_UNITS = 24
#: Most edges (weights and biases) the graph view draws, one line each (about
#: 10 s here); larger networks: ``view="hinton"``.
GRAPH_MAX_EDGES = 100_000

POSITIVE = "#c0392b"  # red: a positive weight
NEGATIVE = "#2166ac"  # blue: a negative one
_UNIT_FACE = "#fdf6e3"
_BIAS_FACE = "#e8e8e8"
_EDGE = "#555555"

_MISSING = 'needs matplotlib, an optional dependency: pip install "backprop-nn[plot]"'


def require_matplotlib(what: str = "drawing") -> Any:
    """The ``matplotlib`` module, or an ``ImportError`` that names the extra to install."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(f"{what} {_MISSING}") from exc
    return matplotlib


def _new_axes(figsize: tuple[float, float]) -> Axes:
    """A new figure's axes, through pyplot (so that notebooks show it and
    ``plt.show()`` works); ``Figure`` objects made directly can be passed as ``ax``."""
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


# ------------------------------------------------------------------ the network
def unit_names(layers: Sequence[int]) -> list[list[str]]:
    """The seed's names of the units: ``i1 i2 | h1 h2 | o1 o2``; with several
    hidden layers, ``h1.1`` is unit 1 of hidden layer 1."""
    n_hidden = len(layers) - 2
    names = [[f"i{k + 1}" for k in range(layers[0])]]
    for l, n in enumerate(layers[1:-1]):
        prefix = "h" if n_hidden == 1 else f"h{l + 1}."
        names.append([f"{prefix}{k + 1}" for k in range(n)])
    names.append([f"o{k + 1}" for k in range(layers[-1])])
    return names


def weight_names(layers: Sequence[int]) -> list[np.ndarray]:
    """``w1, w2, ...`` numbered as the seed numbers them: layer by layer, each
    layer row by row (``weights[l][j, i]``): w1 = i1 -> h1, w2 = i2 -> h1 ..."""
    names, k = [], 1
    for n_in, n_out in zip(layers, layers[1:]):
        count = n_in * n_out
        names.append(np.array([f"w{k + m}" for m in range(count)]).reshape(n_out, n_in))
        k += count
    return names


def _labelled(net: Network, labels: bool | None) -> bool:
    return max(net.layers) <= LABEL_MAX_UNITS if labels is None else bool(labels)


def _label_format(values: Sequence[np.ndarray], fmt: str | None, show: str) -> Any:
    """The formatter of edge labels: ``fmt`` if given; for weights, two decimals
    (the seed's 0.15, 0.20 ...) when they say every value exactly or when the
    labels must be short, else about three significant digits; for new weights
    and gradients, four significant digits."""
    if fmt is not None:
        return lambda v: format(v, fmt)
    if show != "weight":
        return lambda v: format(v, ".4g")
    flat = np.concatenate([np.ravel(v) for v in values]) if values else np.zeros(0)
    if np.all(np.round(flat, 2) == flat) and np.all(np.abs(flat) < 1000):
        return lambda v: format(v, ".2f")

    def three(v: float) -> str:
        return format(v, ".2f") if 0.1 <= abs(v) < 100 else format(v, ".2g")

    return three


def draw_network(
    net: Network,
    ax: Axes | None = None,
    *,
    trace: Trace | None = None,
    show: str = "weight",
    view: str = "graph",
    labels: bool | None = None,
    fmt: str | None = None,
) -> Axes:
    """Draw ``net`` on ``ax`` (a new figure, sized to fit, when ``None``); returns
    the axes.

    ``view="graph"`` (default) draws the units in columns, input layer on the
    left, named as the seed names them (i1, h1, o1; b1 for the bias unit that
    feeds the first hidden layer); ``"hinton"`` draws each layer's weights (and
    biases, the last column) as a matrix of squares, as large as the weights and
    coloured by sign, or as a heat map for large layers.

    ``labels`` writes each edge's value on it (default: for networks of at most
    ``LABEL_MAX_UNITS`` units per layer); on a new figure no two labels overlap.
    Without labels, edges are coloured by sign (red positive, blue negative)
    and drawn as thick as they are large.  ``show`` is what the labels (or
    colours) show: ``"weight"``; with ``trace``, a ``Trace`` of one step of
    ``net`` (``net.trace(x, t)``), ``"new_weight"`` (the weights after the step)
    or ``"gradient"`` (dE/dw).  ``fmt`` is a format spec for the values
    (``".3f"``); by default two decimals when they say every weight exactly, as
    the seed writes them, else about three digits.
    """
    return _draw(net, ax, True, None, trace=trace, show=show, view=view, labels=labels, fmt=fmt)


def network_figure(net: Network, size: tuple[float, float] | None = None, **options: Any) -> Any:
    """A new matplotlib ``Figure`` (not registered with pyplot: for files) with
    ``net`` drawn on it, ``size`` inches (default: sized to fit); ``options`` as
    for :func:`draw_network`."""
    return _draw(net, None, False, size, **options).figure


def graph_edges(net: Network) -> int:
    """Lines the graph view draws: one per weight and per bias."""
    return sum(a * b for a, b in zip(net.layers, net.layers[1:])) + sum(b.size for b in net.biases)


def _draw(
    net: Network,
    ax: Axes | None,
    pyplot: bool,
    size: tuple[float, float] | None,
    *,
    trace: Trace | None = None,
    show: str = "weight",
    view: str = "graph",
    labels: bool | None = None,
    fmt: str | None = None,
) -> Axes:
    require_matplotlib("Network.draw")
    from .network import Network

    if not isinstance(net, Network):
        raise TypeError(f"net must be a backprop Network, got {type(net).__name__}")
    if show not in SHOW:
        raise ValueError(f"show must be one of {SHOW}, got {show!r}")
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    if labels is not None and not isinstance(labels, (bool, np.bool_)):
        raise TypeError(f"labels must be True, False or None, got {labels!r}")
    if fmt is not None:
        try:
            format(0.5, fmt)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"fmt must be a format spec for numbers such as '.3f' ({exc})"
            ) from None
    if view == "graph":
        edges = graph_edges(net)
        if edges > GRAPH_MAX_EDGES:
            raise ValueError(
                f"view='graph' draws a line per weight and bias: {edges:,} of them, more "
                f"than {GRAPH_MAX_EDGES:,}; draw this network with view='hinton' (the "
                f"command's --view hinton)"
            )
    weights, biases = _shown_values(net, trace, show)
    if view == "hinton":
        if ax is None:
            ax = _fresh_axes(pyplot, size or _hinton_size(net), title=True)
        _draw_hinton(net, ax, weights, biases, show)
        return ax
    graph = _Graph(net, weights, biases, show, _labelled(net, labels), fmt)
    if ax is not None:
        graph.draw(ax)
        return ax
    scale = 1.0
    ax = _fresh_axes(pyplot, size or graph.size(scale), title=bool(graph.title))
    graph.draw(ax)
    # sized to fit: a picture whose labels still collide is drawn larger (rarely)
    while size is None and graph.labelled and scale < 2.0 and label_overlaps(ax):
        scale *= 1.25
        ax.figure.set_size_inches(graph.size(scale))
        ax.clear()
        graph.draw(ax)
    return ax


def _fresh_axes(pyplot: bool, size: tuple[float, float], title: bool) -> Axes:
    """Axes filling a new figure of ``size`` inches (room at the top for a title)."""
    if pyplot:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=size)
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=size)
    top = 1.0 - (0.4 / size[1] if title else 0.0)
    return fig.add_axes((0.0, 0.0, 1.0, top))


def _shown_values(
    net: Network, trace: Trace | None, show: str
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The weights and the bias values the picture shows (per unit for biases;
    a shared bias's one value repeated; no biases: zeros, unused)."""
    if trace is None:
        if show != "weight":
            raise ValueError(f"show={show!r} needs a trace: net.draw(trace=net.trace(x, t))")
        return net.weights, net.biases
    from .trace import Trace

    if not isinstance(trace, Trace):
        raise TypeError(f"trace must be a backprop Trace, got {type(trace).__name__}")
    shapes = [w.shape for w in net.weights]
    if [np.shape(w) for w in trace.new_weights] != shapes:
        raise ValueError(
            f"the trace is of another network: its weight shapes "
            f"{[np.shape(w) for w in trace.new_weights]}, the network's {shapes}"
        )
    if show == "weight":
        return net.weights, net.biases
    w = trace.new_weights if show == "new_weight" else trace.weight_gradients
    b = trace.new_biases if show == "new_weight" else trace.bias_gradients
    out_biases = []
    for l, n_out in enumerate(net.layers[1:]):
        values = np.asarray(b[l], dtype=np.float64).ravel()
        if net.bias == "none" or values.size == 0:
            out_biases.append(np.zeros(n_out))
        else:
            out_biases.append(np.broadcast_to(values, (n_out,)).copy())
    return [np.asarray(x, dtype=np.float64) for x in w], out_biases


#: Inches above the top unit and below the lowest; and for the shared biases' note.
_MARGIN, _NOTE = 0.4, 0.2


class _Graph:
    """The graph view of a network: where everything goes (x in layers, y in unit
    spacings, the top unit of each layer first), what each edge says, and how
    large the picture must be for its labels."""

    def __init__(
        self,
        net: Network,
        weights: list[np.ndarray],
        biases: list[np.ndarray],
        show: str,
        labelled: bool,
        fmt: str | None,
    ) -> None:
        layers = self.layers = net.layers
        self.bias = net.bias
        self.with_bias = with_bias = net.bias != "none"
        self.show, self.labelled = show, labelled
        self.columns = getattr(net, "columns", None)
        self.widest = widest = max(layers)
        self.ys = [(n - 1) / 2.0 - np.arange(n, dtype=np.float64) for n in layers]
        self.bias_y = -(widest - 1) / 2.0 - 1.0
        self.bias_x = [l + 0.3 for l in range(len(layers) - 1)] if with_bias else []
        self.names = unit_names(layers)
        self.title = {
            "weight": "",
            "new_weight": "weights after one step",
            "gradient": "gradients dE/dw of one step",
        }[show]
        segments, values = [], []
        for l, w in enumerate(weights):
            for j, y1 in enumerate(self.ys[l + 1]):
                for i, y0 in enumerate(self.ys[l]):
                    segments.append(((float(l), float(y0)), (float(l + 1), float(y1))))
                    values.append(float(w[j, i]))
        self.n_weights = len(segments)
        if with_bias:
            for l, b in enumerate(biases):
                for j, y1 in enumerate(self.ys[l + 1]):
                    segments.append(((self.bias_x[l], self.bias_y), (float(l + 1), float(y1))))
                    values.append(float(b[j]))
        self.segments, self.values = segments, np.array(values)
        self.font = 8.0 if widest <= 4 else 7.0
        # the labels: one per edge (a shared bias: one beside its unit)
        self.items: list[tuple[Any, str]] = []
        self.bias_notes: list[str] = []
        if labelled:
            say = _label_format(weights + (biases if with_bias else []), fmt, show)
            wnames = [n for w in weight_names(layers) for n in w.ravel()]
            named = widest <= 3
            mark = "+" if show == "new_weight" else ""
            sep = ": " if show == "gradient" else " = "
            for k, (seg, v) in enumerate(zip(segments, values)):
                if k < self.n_weights:
                    text = f"{wnames[k]}{mark}{sep}{say(v)}" if named else say(v)
                    self.items.append((seg, text))
                elif net.bias == "per-neuron":
                    self.items.append((seg, say(v)))
            if net.bias == "shared":
                for l, b in enumerate(biases):
                    note = f"b{l + 1}{mark}{sep}{say(float(b[0]))}"
                    if show == "weight" and not net.train_bias:
                        note += " (not trained)"
                    self.bias_notes.append(note)

    def size(self, scale: float = 1.0) -> tuple[float, float]:
        """Figure size in inches: room for the labels at about a quarter of the
        area between two layers (times ``scale``)."""
        rows = self.widest + (1 if self.with_bias else 0)
        if self.labelled:
            spacing = float(np.clip(3.2 / rows, 0.55, 1.0))
            longest = max((len(t) for _, t in self.items), default=4)
            label_w = (0.6 * longest + 0.8) * self.font / 72.0
            label_h = 1.8 * self.font / 72.0
            per_gap = max(
                n_in * n_out + (n_out if self.bias == "per-neuron" else 0)
                for n_in, n_out in zip(self.layers, self.layers[1:])
            )
            gap = max(2.4, 4.0 * per_gap * label_w * label_h / (spacing * rows), 2.2 * label_w)
        else:
            spacing = float(np.clip(7.0 / rows, 0.01, 0.45))
            gap = 2.0
        side = 0.5 + (self._side_names() * 0.6 * self.font / 72.0)
        width = gap * (len(self.layers) - 1) + 2 * side
        height = spacing * (rows - 1) + 2 * _MARGIN + (0.4 if self.title else 0.0)
        height += _NOTE if self.bias_notes else 0.0
        height += 0.0 if self.labelled else 0.6  # the legend
        return (min(width * scale, 40.0), min(height * scale, 30.0))

    def _side_names(self) -> int:
        """Characters of the longest column name written beside the units."""
        if self.columns is None or self.widest > NAME_MAX_UNITS:
            return 0
        outputs = self.columns.classes or self.columns.targets
        return max(len(_short(n)) for n in (*self.columns.inputs, *outputs))

    def draw(self, ax: Axes) -> None:
        from matplotlib.collections import LineCollection

        fig = ax.figure
        layers, ys = self.layers, self.ys
        box = ax.get_window_extent()
        width_in, height_in = box.width / fig.dpi, box.height / fig.dpi
        top = (self.widest - 1) / 2.0
        bottom = self.bias_y if self.with_bias else -top
        side_in = 0.5 + self._side_names() * 0.6 * self.font / 72.0
        gaps = len(layers) - 1
        gap_in = max(1e-3, (width_in - 2 * side_in) / gaps)
        margin_x = side_in / gap_in
        extra_bottom = _NOTE if self.bias_notes else 0.0
        extra_legend = 0.0 if self.labelled else 0.6
        usable = max(1e-3, height_in - 2 * _MARGIN - extra_bottom - extra_legend)
        spacing_in = usable / max(1.0, top - bottom)
        ax.set_xlim(-margin_x, gaps + margin_x)
        ax.set_ylim(
            bottom - (_MARGIN + extra_bottom + extra_legend) / spacing_in,
            top + _MARGIN / spacing_in,
        )
        ax.set_axis_off()
        if self.title and not ax.get_title():
            ax.set_title(self.title, fontsize=10)

        # units: circles sized in points, so that they stay round
        radius = float(np.clip(0.36 * spacing_in * 72.0, 1.0, 13.0))
        font = self.font if radius >= 9 else max(4.0, 0.75 * radius)
        nodes = [(float(l), float(y)) for l, col in enumerate(ys) for y in col]
        bias_nodes = [(x, self.bias_y) for x in self.bias_x]
        for points, face in ((nodes, _UNIT_FACE), (bias_nodes, _BIAS_FACE)):
            if points:
                xy = np.array(points)
                ax.scatter(
                    xy[:, 0],
                    xy[:, 1],
                    s=(2 * radius) ** 2,
                    c=face,
                    edgecolors="#333333",
                    linewidths=0.9,
                    zorder=3,
                )
        if self.widest <= NAME_MAX_UNITS:
            for l, col in enumerate(ys):
                for name, y in zip(self.names[l], col):
                    ax.text(l, y, name, ha="center", va="center", fontsize=font + 1, zorder=4)
            for l, x in enumerate(self.bias_x):
                ax.text(
                    x,
                    self.bias_y,
                    f"b{l + 1}",
                    ha="center",
                    va="center",
                    fontsize=font + 1,
                    zorder=4,
                )
            if self.columns is not None:
                _column_names(ax, self.columns, ys, gaps, radius, font)
        for x, note in zip(self.bias_x, self.bias_notes):
            ax.annotate(
                note,
                (x, self.bias_y),
                xytext=(0, -(radius + 4)),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=font + 1,
            )
        if not self.segments:
            return
        if self.labelled:
            ax.add_collection(LineCollection(self.segments, colors=_EDGE, linewidths=0.8, zorder=1))
            _place_labels(ax, self.items, [*nodes, *bias_nodes], radius, font)
            return
        vals = self.values
        big = float(np.max(np.abs(vals))) or 1.0
        size = np.abs(vals) / big
        order = np.argsort(size, kind="stable")  # the largest on top
        colors = np.where(vals >= 0, POSITIVE, NEGATIVE)
        ax.add_collection(
            LineCollection(
                [self.segments[k] for k in order],
                colors=[colors[k] for k in order],
                linewidths=0.2 + 2.8 * size[order],
                alpha=0.75 if len(vals) < 400 else 0.45,
                zorder=1,
            )
        )
        what = {"weight": "weight", "new_weight": "new weight", "gradient": "gradient"}[self.show]
        _sign_legend(ax, what, big)


def _hinton_size(net: Network) -> tuple[float, float]:
    layers = net.layers
    cols = sum(n_in + (2.5 if net.bias != "none" else 1.5) for n_in in layers[:-1])
    rows = max(layers[1:]) + 3
    scale = min(0.4, 12.0 / cols, 7.0 / rows)
    return (max(4.5, 0.6 + scale * cols), max(2.8, 1.0 + scale * rows))


def _column_names(
    ax: Axes, columns: Any, ys: list[np.ndarray], last: int, radius: float, font: float
) -> None:
    """The data's column names beside the input and output units."""
    from matplotlib.transforms import offset_copy

    left = offset_copy(ax.transData, fig=ax.figure, x=-(radius + 3), y=0, units="points")
    right = offset_copy(ax.transData, fig=ax.figure, x=radius + 3, y=0, units="points")
    for name, y in zip(columns.inputs, ys[0]):
        ax.text(0, y, _short(name), ha="right", va="center", fontsize=font, transform=left)
    outputs = columns.classes or columns.targets
    for name, y in zip(outputs, ys[-1]):
        ax.text(last, y, _short(name), ha="left", va="center", fontsize=font, transform=right)


def _short(name: str, most: int = 14) -> str:
    return name if len(name) <= most else name[: most - 1] + "\u2026"


def _sign_legend(ax: Axes, what: str, big: float) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=POSITIVE, lw=2.5, label=f"positive {what}"),
        Line2D([], [], color=NEGATIVE, lw=2.5, label=f"negative {what}"),
    ]
    ax.legend(
        handles=handles,
        loc="lower center",
        ncol=2,
        fontsize=8,
        frameon=False,
        title=f"line width: |{what}| (largest {big:.3g})",
        title_fontsize=8,
    )


def _place_labels(
    ax: Axes,
    items: list[tuple[tuple[tuple[float, float], tuple[float, float]], str]],
    obstacles: list[tuple[float, float]],
    radius: float,
    font: float,
) -> None:
    """Write each label on its edge, turned along it, where it overlaps no label
    placed before it and no unit.

    The candidate points along an edge are tried from the one nearest
    ``_PREFER`` of the way from its source (the seed writes its labels there)
    outwards; an edge with no free point takes the one of least overlap.  In
    display coordinates, a label is a chain of discs covering its padded box
    (:func:`_discs`) and a unit is a disc.
    """
    if not items:
        return
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    fig = ax.figure
    to_display = ax.transData.transform
    px = fig.dpi / 72.0  # pixels per point
    measure = RendererAgg(8, 8, fig.dpi)
    prop = FontProperties(size=font)
    height = font * px  # one line of text
    pad = _PAD * height
    ts = np.linspace(0.1, 0.9, 41)
    ts = ts[np.argsort(np.abs(ts - _PREFER), kind="stable")]
    obs = to_display(np.array(obstacles, dtype=np.float64)) if obstacles else np.zeros((0, 2))
    centres = [obs]
    radii = [np.full(len(obs), (radius + 1.5) * px)]
    reach = max(radii[0].max(initial=0.0), height / 2.0 + pad)  # the largest disc
    box = dict(boxstyle=f"round,pad={_PAD:.2f}", fc="white", ec="none", alpha=0.85)
    widths: dict[str, float] = {}
    for (p0, p1), text in items:
        width = widths.get(text)
        if width is None:
            width = widths[text] = measure.get_text_width_height_descent(text, prop, False)[0]
        a, b = to_display(np.array([p0, p1], dtype=np.float64))
        u = (b - a) / (np.hypot(*(b - a)) or 1.0)
        if u[0] < 0:  # keep the text upright
            u = -u
        angle = float(np.degrees(np.arctan2(u[1], u[0])))
        offsets, r = _discs(width, height, pad)
        points = a + ts[:, None] * (b - a)  # (candidates, 2)
        discs = points[:, None, :] + offsets[None, :, None] * u  # (candidates, discs, 2)
        taken_c, taken_r = np.concatenate(centres), np.concatenate(radii)
        if taken_c.size:  # only those near this edge's candidates can touch them
            lo, hi = discs.min(axis=(0, 1)) - r - reach, discs.max(axis=(0, 1)) + r + reach
            near = np.all((taken_c >= lo) & (taken_c <= hi), axis=1)
            taken_c, taken_r = taken_c[near], taken_r[near]
        if taken_c.size:
            gap = np.linalg.norm(discs[:, :, None, :] - taken_c[None, None], axis=3)
            depth = np.clip(r + taken_r[None, None] - gap, 0.0, None).sum(axis=(1, 2))
        else:
            depth = np.zeros(len(ts))
        free = np.flatnonzero(depth == 0)
        k = int(free[0]) if free.size else int(np.argmin(depth))
        t = ts[k]
        xy = (p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1]))
        ax.text(
            *xy,
            text,
            ha="center",
            va="center",
            fontsize=font,
            rotation=angle,
            rotation_mode="anchor",
            zorder=2,
            bbox=box,
            gid="edge-label",
        )
        centres.append(discs[k])
        radii.append(np.full(len(offsets), r))


#: Where along an edge its label is wanted (fraction of the way from its source).
_PREFER = 0.3
#: Padding around a label, in lines of text (also its box's padding).
_PAD = 0.3


def _discs(width: float, height: float, pad: float) -> tuple[np.ndarray, float]:
    """Discs covering a label's box (``width`` x ``height``, padded by ``pad``):
    their centres' offsets along the label's direction, and their radius.  With
    ``pad >= 0.21 height`` the union covers the unpadded box, corners included."""
    r = height / 2.0 + pad
    half = max(0.0, width / 2.0 - height / 2.0)
    n = max(1, int(np.ceil(2 * half / r)) + 1)
    return np.linspace(-half, half, n), r


def label_overlaps(ax: Axes) -> int:
    """How many pairs of the edge labels that ``draw_network`` wrote on ``ax``
    overlap, each label's text taken as a turned rectangle (also what the tests
    check)."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    labels = [t for t in ax.texts if t.get_gid() == "edge-label"]
    if len(labels) < 2:
        return 0
    dpi = ax.figure.dpi
    measure = RendererAgg(8, 8, dpi)
    half = np.array(
        [
            (
                measure.get_text_width_height_descent(
                    t.get_text(), FontProperties(size=t.get_fontsize()), ismath=False
                )[0]
                / 2.0,
                t.get_fontsize() * dpi / 72.0 / 2.0,
            )
            for t in labels
        ]
    )
    centre = ax.transData.transform(np.array([t.get_position() for t in labels], dtype=float))
    angle = np.radians([t.get_rotation() for t in labels])
    u = np.column_stack([np.cos(angle), np.sin(angle)])
    v = np.column_stack([-u[:, 1], u[:, 0]])
    d = centre[None, :, :] - centre[:, None, :]  # (i, j): from label i to label j
    separated = np.zeros((len(labels), len(labels)), dtype=bool)
    for axes in (u, v):  # each label's two axes, for both of a pair
        for first in (True, False):
            n = axes[:, None, :] if first else axes[None, :, :]  # the axis, per pair
            reach = np.zeros(separated.shape)
            for m, w in ((u, half[:, 0]), (v, half[:, 1])):
                reach += w[:, None] * np.abs((m[:, None, :] * n).sum(axis=2))
                reach += w[None, :] * np.abs((m[None, :, :] * n).sum(axis=2))
            separated |= np.abs((d * n).sum(axis=2)) >= reach
    pairs = ~separated
    return int(np.triu(pairs, k=1).sum())


def _draw_hinton(
    net: Network, ax: Axes, weights: list[np.ndarray], biases: list[np.ndarray], show: str
) -> None:
    """Each layer's matrix (rows: the units it feeds, columns: the units feeding
    them, then the bias) side by side; squares of area proportional to |value|."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    layers = net.layers
    names = unit_names(layers)
    hidden = len(layers) - 2
    layer_names = ["i", *(["h"] if hidden == 1 else [f"h{l + 1}" for l in range(hidden)]), "o"]
    with_bias = net.bias != "none"
    mats = [np.column_stack([w, b]) if with_bias else w for w, b in zip(weights, biases)]
    big = max(float(np.max(np.abs(m))) if m.size else 0.0 for m in mats) or 1.0
    rows = max(layers[1:])
    x = 0.0
    ax.set_aspect("equal")
    ax.set_axis_off()
    what = {"weight": "weights", "new_weight": "new weights", "gradient": "gradients"}[show]
    for l, m in enumerate(mats):
        n_out, n_cols = m.shape
        top = (rows - n_out) / 2.0  # centred vertically
        ax.add_patch(
            Rectangle(
                (x, -top - n_out), n_cols, n_out, fc="#f2f2f2", ec="#999999", lw=0.6, zorder=0
            )
        )
        if n_out * n_cols <= 2500:
            squares, colours = [], []
            for j in range(n_out):
                for i in range(n_cols):
                    side = 0.92 * np.sqrt(abs(m[j, i]) / big)
                    if side > 0:
                        cx, cy = x + i + 0.5, -top - j - 0.5
                        squares.append(Rectangle((cx - side / 2, cy - side / 2), side, side))
                        colours.append(POSITIVE if m[j, i] >= 0 else NEGATIVE)
            ax.add_collection(PatchCollection(squares, facecolors=colours, edgecolors="none"))
        else:
            ax.imshow(
                m,
                cmap="RdBu_r",
                vmin=-big,
                vmax=big,
                interpolation="nearest",
                extent=(x, x + n_cols, -top - n_out, -top),
                zorder=1,
            )
        if with_bias:
            ax.plot([x + n_cols - 1] * 2, [-top - n_out, -top], color="#999999", lw=0.6)
        src, dst = names[l], names[l + 1]
        ax.text(
            x + n_cols / 2,
            -top + 0.4,
            f"{layer_names[l]}\u2192{layer_names[l + 1]}  ({n_out}\u00d7{layers[l]}"
            f"{' + bias' if with_bias else ''})",
            ha="center",
            va="bottom",
            fontsize=8,
        )
        if max(layers) <= NAME_MAX_UNITS:
            for j, name in enumerate(dst):
                ax.text(x - 0.15, -top - j - 0.5, name, ha="right", va="center", fontsize=7)
            for i, name in enumerate([*src, *(["b"] if with_bias else [])]):
                ax.text(x + i + 0.5, -top - n_out - 0.15, name, ha="center", va="top", fontsize=7)
        x += n_cols + 1.5
    ax.set_xlim(-1.2, x - 0.5)
    ax.set_ylim(-rows - 1.3, 1.6)
    ax.set_title(
        f"{what}: red positive, blue negative\narea \u221d |value|, largest {big:.3g}", fontsize=9
    )


# ------------------------------------------------------------------ a run
def plot_history(
    history: Any,
    validation: Any = None,
    ax: Axes | None = None,
    *,
    epochs: Any = None,
    label: str = "training",
    title: str | None = None,
) -> Axes:
    """Plot a run's error against the epoch on a log scale; returns the axes.

    ``history`` is ``Network.train``'s result (or any 1-D sequence of errors).
    ``validation`` is the validation error; by default the ``validation`` of a
    ``bp.History`` (``train(validation=...)``), each at its own epoch.  Given
    explicitly, it has one value per recorded epoch of ``history``.  ``epochs``
    are the epochs (counting from 1) of the recorded errors; default 1, 2, ...
    (with ``record_every=k``, pass them).  Call it again with the same ``ax``
    and another ``label`` to compare runs.
    """
    require_matplotlib("plot_history")
    errors = _curve("history", history)
    x = np.arange(1, errors.size + 1) if epochs is None else _curve("epochs", epochs)
    if x.size != errors.size:
        raise ValueError(f"epochs must give one epoch per error ({errors.size}), got {x.size}")
    val_x = None
    if validation is None and getattr(history, "validation", None) is not None:
        if len(history.validation):
            validation = history.validation
            val_x = np.asarray(history.validation_epochs, dtype=np.float64) + 1
    if validation is not None:
        validation = _curve("validation", validation)
        if val_x is None:
            if validation.size != errors.size:
                raise ValueError(
                    f"validation must give one error per recorded epoch ({errors.size}), "
                    f"got {validation.size}"
                )
            val_x = x
    if ax is None:
        ax = _new_axes((6.0, 3.6))
    ax.plot(x, errors, lw=1.6, label=label, marker="o" if errors.size == 1 else None)
    if validation is not None:
        ax.plot(
            val_x,
            validation,
            lw=1.6,
            ls="--",
            label="validation",
            marker="o" if validation.size == 1 else None,
        )
    shown = np.concatenate([errors, validation if validation is not None else []])
    if np.any(shown > 0):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("error")
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    if validation is not None or label != "training" or len(ax.get_lines()) > 1:
        ax.legend(fontsize=9)
    if title is not None:
        ax.set_title(title, fontsize=10)
    return ax


def _curve(name: str, values: Any) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a 1-D sequence of numbers ({exc})") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


# ------------------------------------------------------------------ a benchmark
def plot_bench(results: Sequence[dict[str, Any]], ax: Axes | None = None) -> Axes:
    """``backprop bench``'s rows (``bench.run_all``) as grouped bars: each
    workload's time per step with every other engine, relative to the compiled
    engine's, on a log scale; a bar rises from the compiled engine's line (1x)
    to the engine's ratio, and falls below it where the engine was faster.
    Returns the axes."""
    require_matplotlib("plot_bench")
    from .bench import REFERENCE_ENGINE

    rows = [r for r in results if not r.get("skipped") and r.get("ratio") is not None]
    if not rows:
        raise ValueError("no benchmark results with a ratio to the compiled engine to plot")
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    engines = list(dict.fromkeys(r["engine"] for r in rows if r["engine"] != REFERENCE_ENGINE))
    new = ax is None
    if ax is None:
        ax = _new_axes((max(6.0, 1.2 + 0.25 * len(rows)), 4.4))
    width = 0.84 / max(1, len(engines))
    colours = _engine_colours(len(engines))
    ratios = [r["ratio"] for r in rows]
    for e, engine in enumerate(engines):
        xs, ys = [], []
        for w, workload in enumerate(workloads):
            for r in rows:
                if r["workload"] == workload and r["engine"] == engine:
                    xs.append(w - 0.42 + (e + 0.5) * width)
                    ys.append(r["ratio"])
        bars = ax.bar(
            xs, [y - 1.0 for y in ys], bottom=1.0, width=width, label=engine, color=colours[e]
        )
        if len(rows) <= 24:
            ax.bar_label(bars, labels=[f"{y:.3g}x" for y in ys], fontsize=6, padding=1)
    ax.set_yscale("log")
    low, high = min(ratios), max(ratios)
    ax.set_ylim(min(0.5, low / 1.6), max(2.0, high * 1.8))
    ax.axhline(1.0, color="#333333", lw=1.0, label=f"{REFERENCE_ENGINE} (1x)")
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels(workloads, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(f"time per step / {REFERENCE_ENGINE}'s")
    ax.set_title("time relative to the compiled engine (lower is faster)", fontsize=10)
    ax.legend(fontsize=7, ncol=min(4, len(engines) + 1))
    ax.grid(True, axis="y", which="major", alpha=0.3)
    if new:
        ax.figure.tight_layout()
    return ax


def _engine_colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab20" if n > 10 else "tab10"]
    return [cmap(k % cmap.N) for k in range(n)]

"""The command line on files made in the test: train -> info -> predict -> draw,
for a classifier and a regression; every picture decoded and checked; bad input
answered with one line on stderr and status 2, never a traceback."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import backprop as bp
from backprop import cli

SPECIES = ("setosa", "versicolor", "virginica")


def write_csv(path: Path, header, rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def flowers(tmp_path) -> Path:
    """Three classes of labelled points, well apart: 'petal', 'sepal', 'species'."""
    rng = np.random.default_rng(0)
    rows = []
    for k in range(72):
        c = k % 3
        rows.append(
            [
                f"{(c - 1) * 0.7 + rng.normal(0, 0.12):.4f}",
                f"{(c == 1) * 0.8 - 0.4 + rng.normal(0, 0.12):.4f}",
                SPECIES[c],
            ]
        )
    return write_csv(tmp_path / "flowers.csv", ["petal", "sepal", "species"], rows)


@pytest.fixture
def values(tmp_path) -> Path:
    """Two numeric targets of two inputs: y = 0.5 x1 - 0.3 x2, z = 0.4 x1 x2."""
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (80, 2))
    rows = [[a, b, 0.5 * a - 0.3 * b, 0.4 * a * b] for a, b in X]
    return write_csv(tmp_path / "values.csv", ["x1", "x2", "y", "z"], rows)


def run(argv, capsys) -> tuple[int, str, str]:
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(text.splitlines()))


def assert_png(path: Path, width: int, height: int) -> None:
    image = pytest.importorskip("matplotlib.image").imread(path)
    assert image.shape[:2] == (height, width)
    assert image[..., :3].std() > 0.05


def test_a_classifier_round_trip(flowers, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    model, loss = tmp_path / "flowers.npz", tmp_path / "loss.png"
    status, out, err = run(
        [
            "train",
            flowers,
            "--target",
            "species",
            "--layers",
            "6",
            "--epochs",
            "60",
            "--validation-split",
            "0.25",
            "--plot",
            loss,
            "-o",
            model,
        ],
        capsys,
    )
    assert status == 0, err
    lines = out.splitlines()
    assert "a classifier of 3 classes (setosa, versicolor, virginica)" in lines[0]
    train_line = next(line for line in lines if line.startswith("training error"))
    val_line = next(line for line in lines if line.startswith("validation error"))
    assert "(54 rows)" in train_line and "(18 rows)" in val_line
    assert float(val_line.rsplit("accuracy", 1)[1]) >= 0.8
    assert_png(loss, 640, 380)

    net = bp.load(model)
    assert net.layers == (2, 6, 3) and net.activations == ("logistic", "softmax")
    assert net.loss == "cross_entropy"
    assert net.columns == bp.Columns(("petal", "sepal"), ("species",), SPECIES)

    status, out, _ = run(["info", model], capsys)
    assert status == 0
    assert "format version 3" in out.splitlines()[0]
    for text in (
        "2 -> 6 -> 3",
        "logistic, softmax",
        "cross_entropy",
        "39 (30 weights, 9 biases)",
        "petal, sepal",
        "setosa, versicolor, virginica",
    ):
        assert text in out

    # the target column may be there (ignored); another column is noted and ignored
    rows = read_csv(flowers.read_text())
    extra = write_csv(
        tmp_path / "new.csv", ["id", *rows[0]], [[k, *r] for k, r in enumerate(rows[1:])]
    )
    status, out, err = run(["predict", model, extra], capsys)
    assert status == 0
    assert "ignoring column(s) id" in err
    predicted = read_csv(out)
    assert predicted[0] == ["species"]
    truth = [r[2] for r in rows[1:]]
    labels = [r[0] for r in predicted[1:]]
    assert len(labels) == 72 and set(labels) <= set(SPECIES)
    assert np.mean([a == b for a, b in zip(labels, truth)]) >= 0.8
    assert labels == [SPECIES[k] for k in net.predict(np.array(rows[1:])[:, :2].astype(float))]

    status, _, _ = run(["predict", model, flowers, "-o", tmp_path / "out.csv"], capsys)
    assert status == 0 and read_csv((tmp_path / "out.csv").read_text())[1:] == predicted[1:]

    status, out, _ = run(
        ["draw", model, "-o", tmp_path / "net.png", "--size", "6x4", "--dpi", "50"], capsys
    )
    assert status == 0 and "300 x 200 px" in out
    assert_png(tmp_path / "net.png", 300, 200)


def test_a_regression_round_trip(values, tmp_path, capsys):
    model = tmp_path / "values.npz"
    status, out, err = run(
        [
            "train",
            values,
            "--target",
            "y,z",
            "--layers",
            "8",
            "--activation",
            "tanh",
            "--epochs",
            "150",
            "-o",
            model,
        ],
        capsys,
    )
    assert status == 0, err
    assert "a regression of y, z" in out and "validation" not in out and "accuracy" not in out
    net = bp.load(model)
    assert net.activations == ("tanh", "linear") and net.loss == "mse"
    assert net.columns == bp.Columns(("x1", "x2"), ("y", "z"))

    status, out, _ = run(["info", model], capsys)
    assert status == 0 and "targets       y, z" in out and "classes" not in out

    # columns in another order, without the targets: matched by name
    table = np.loadtxt(values, delimiter=",", skiprows=1)
    new = write_csv(tmp_path / "new.csv", ["x2", "x1"], table[:, [1, 0]])
    status, out, _ = run(["predict", model, new], capsys)
    assert status == 0
    predicted = read_csv(out)
    assert predicted[0] == ["y", "z"]
    found = np.array(predicted[1:], dtype=float)
    np.testing.assert_array_equal(found, net.forward(table[:, :2]))  # every digit kept
    assert np.mean((found - table[:, 2:]) ** 2) < 0.01

    pytest.importorskip("matplotlib")
    status, _, _ = run(["draw", model, "-o", tmp_path / "net.svg"], capsys)
    assert status == 0
    svg = (tmp_path / "net.svg").read_text()
    assert svg.lstrip().startswith(("<?xml", "<svg")) and "</svg>" in svg
    assert all(f">{name}<" in svg for name in ("x1", "x2", "y", "z"))  # text kept as text


def test_numeric_labels_are_classes_with_the_classes_flag(tmp_path, capsys):
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, (40, 2))
    rows = [[a, b, int(a + b > 0)] for a, b in X]
    data = write_csv(tmp_path / "d.csv", ["a", "b", "label"], rows)
    status, out, _ = run(
        [
            "train",
            data,
            "-t",
            "label",
            "--classes",
            "--layers",
            "0",
            "--epochs",
            "40",
            "-o",
            tmp_path / "m.npz",
        ],
        capsys,
    )
    assert status == 0 and "2 classes (0, 1)" in out
    assert bp.load(tmp_path / "m.npz").layers == (2, 2)
    status, out, _ = run(["predict", tmp_path / "m.npz", data], capsys)
    assert set(r[0] for r in read_csv(out)[1:]) <= {"0", "1"}


def test_numeric_labels_written_two_ways_are_one_class(tmp_path, capsys):
    """ "1" and "1.0" (and "01") name one class, written as the column first writes it."""
    rows = [[0.1, "1"], [0.2, "2"], [0.3, "1.0"], [0.4, "2.00"], [0.5, "01"], [0.6, "2"]]
    data = write_csv(tmp_path / "d.csv", ["a", "label"], rows)
    argv = ["train", data, "-t", "label", "--classes", "--epochs", "3", "-o", tmp_path / "m.npz"]
    status, out, _ = run(argv, capsys)
    assert status == 0 and "2 classes (1, 2)" in out
    assert bp.load(tmp_path / "m.npz").columns.classes == ("1", "2")


@pytest.mark.parametrize("show", ["weight", "new_weight", "gradient"])
def test_draw_the_tutorial_network(tmp_path, capsys, show):
    pytest.importorskip("matplotlib")
    svg = tmp_path / "seed.svg"
    status, _, _ = run(["draw", "--tutorial", "--show", show, "-o", svg], capsys)
    assert status == 0
    text = svg.read_text()
    if show == "weight":  # w1 ... w8 as the seed prints them
        for name, value in (
            ("w1", "0.15"),
            ("w2", "0.20"),
            ("w3", "0.25"),
            ("w4", "0.30"),
            ("w5", "0.40"),
            ("w6", "0.45"),
            ("w7", "0.50"),
            ("w8", "0.55"),
        ):
            assert f"{name} = {value}" in text
    elif show == "new_weight":
        assert f"w5+ = {0.35891648:.4g}" in text and f"w1+ = {0.149780716:.4g}" in text
    else:
        assert f"w5: {0.082167041:.4g}" in text and f"w1: {0.000438568:.4g}" in text


@pytest.mark.parametrize("argv", [["--dpi", "20000"], ["--size", "100x100", "--dpi", "1000"],
                                  ["--view", "hinton", "--dpi", "20000"]])  # fmt: skip
def test_draw_refuses_a_picture_too_large_to_draw(tmp_path, capsys, argv):
    """Size and dpi each in range, their product not: one line, status 2, before
    matplotlib allocates it (it ran out of memory, or the process was killed)."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "x.png"
    code, _, err = run(["draw", "--tutorial", "-o", str(out), *argv], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "pixels, 32,768 a side" in err
    assert not out.exists()


def test_draw_writes_png_svg_and_pdf(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    for suffix in ("png", "svg", "pdf"):
        path = tmp_path / f"seed.{suffix}"
        status, _, _ = run(
            ["draw", "--tutorial", "-o", path, "--size", "5x3", "--dpi", "40"], capsys
        )
        assert status == 0
        data = path.read_bytes()
        if suffix == "png":
            assert_png(path, 200, 120)
        elif suffix == "svg":
            assert b'width="360pt" height="216pt"' in data  # 5 x 3 inches
        else:
            assert data.startswith(b"%PDF-") and b"/MediaBox [ 0 0 360 216 ]" in data
    status, _, _ = run(
        [
            "draw",
            "--tutorial",
            "--view",
            "hinton",
            "-o",
            tmp_path / "h.png",
            "--size",
            "4x3",
            "--dpi",
            "30",
        ],
        capsys,
    )
    assert status == 0
    assert_png(tmp_path / "h.png", 120, 90)


@pytest.fixture
def bad_files(tmp_path, flowers):
    """A table with a ragged row, an empty file, a table whose input is text, a
    model trained on the flowers."""
    write_csv(tmp_path / "ragged.csv", ["a", "b", "t"], [[1, 2, 3], [1, 2]])
    (tmp_path / "empty.csv").write_text("")
    write_csv(tmp_path / "text.csv", ["a", "b", "t"], [[1, "x", 2], [2, "y", 3]])
    write_csv(tmp_path / "dup.csv", ["a", "a", "t"], [[1, 2, 3]])
    net = bp.Network([2, 3], output_activation="softmax", loss="cross_entropy", seed=0)
    net.columns = bp.Columns(("petal", "sepal"), ("species",), SPECIES)
    net.save(tmp_path / "model.npz")
    return tmp_path


#: Linux's /dev/full (writes fail: disk full) and /sys (no new files, even for root).
LINUX_ONLY = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="/dev/full and /sys are Linux's"
)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "missing.csv", "-t", "y", "-o", "m.npz"], "missing.csv: No such file"),
        (["train", "flowers.csv", "-t", "colour", "-o", "m.npz"], "no column 'colour'"),
        (["train", "ragged.csv", "-t", "t", "-o", "m.npz"], "line 3: 2 fields"),
        (["train", "empty.csv", "-t", "t", "-o", "m.npz"], "is empty"),
        (["train", "dup.csv", "-t", "t", "-o", "m.npz"], "names column 'a' twice"),
        (["train", "text.csv", "-t", "t", "-o", "m.npz"], "column 'b' holds 'x', not a number"),
        (["train", "flowers.csv", "-t", "species", "-o", "nodir/m.npz"], "no such directory"),
        (
            ["train", "flowers.csv", "-t", "species", "--validation-split", "0.999", "-o", "m.npz"],
            "no rows to train on",
        ),
        (
            ["train", "flowers.csv", "-t", "petal,sepal", "--classes", "-o", "m.npz"],
            "one target column",
        ),
        (["predict", "flowers.csv", "flowers.csv"], "not a readable ZIP"),
        (["predict", "model.npz", "text.csv"], "no column 'petal', an input of"),
        (["predict", "missing.npz", "flowers.csv"], "missing.npz: No such file"),
        (["info", "flowers.csv"], "cannot load a network from"),
        (["info", "."], "directory"),
        (["draw", "-o", "x.png"], "MODEL file or --tutorial"),
        (["draw", "model.npz", "--show", "gradient", "-o", "x.png"], "needs --tutorial"),
        (["draw", "--tutorial", "-o", "x.gif"], "name a .png, .svg or .pdf"),
        (["train", "flowers.csv", "-t", "species", "--inputs", "petal,petal", "-o", "m.npz"],
         "--inputs names a column twice"),
        pytest.param(["predict", "model.npz", "flowers.csv", "-o", "/dev/full"],
                     "-o /dev/full: No space left on device", marks=LINUX_ONLY),
        pytest.param(["train", "flowers.csv", "-t", "species", "-o", "/sys/m.npz"],
                     "-o /sys/m.npz: cannot create files in /sys", marks=LINUX_ONLY),
        pytest.param(["train", "flowers.csv", "-t", "species", "-o", "/dev/full"],
                     "-o /dev/full: not a regular file", marks=LINUX_ONLY),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_status_2(bad_files, argv, message, capsys, monkeypatch):
    monkeypatch.chdir(bad_files)
    status, out, err = run(argv, capsys)
    assert status == 2
    assert err.startswith(f"backprop {argv[0]}: error: ") and err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err


def test_the_console_script_reports_bad_input_without_a_traceback(tmp_path):
    script = Path(sys.executable).parent / "backprop"
    if not script.is_file():
        pytest.skip(f"no console script {script}: the package is not installed here")
    (tmp_path / "not-a-model.npz").write_bytes(b"PK\x03\x04 broken")
    result = subprocess.run(
        [str(script), "info", "not-a-model.npz"], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.startswith("backprop info: error: cannot load a network from")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_model_without_column_names_predicts_from_a_table_of_its_inputs(tmp_path, capsys):
    """A network saved from Python records no names: predict takes a table of
    exactly its inputs, in order, and names the outputs o1, o2."""
    net = bp.Network([2, 3, 2], seed=4)
    net.save(tmp_path / "plain.npz")
    status, out, _ = run(["info", tmp_path / "plain.npz"], capsys)
    assert status == 0 and "format version 3" in out and "columns       not recorded" in out
    data = write_csv(tmp_path / "in.csv", ["p", "q"], [[0.1, 0.2], [0.3, -0.4]])
    status, out, _ = run(["predict", tmp_path / "plain.npz", data], capsys)
    assert status == 0
    rows = read_csv(out)
    assert rows[0] == ["o1", "o2"]
    np.testing.assert_array_equal(
        np.array(rows[1:], dtype=float), net.forward([[0.1, 0.2], [0.3, -0.4]])
    )
    wide = write_csv(tmp_path / "wide.csv", ["p", "q", "r"], [[0.1, 0.2, 0.3]])
    status, _, err = run(["predict", tmp_path / "plain.npz", wide], capsys)
    assert status == 2 and "records no column names" in err


def test_an_ensemble_file_is_not_a_network(tmp_path, capsys):
    """``predict`` and ``draw`` take one network: an ensemble's file is refused in
    one line (exit 2), naming what it holds."""
    path = tmp_path / "ens.npz"
    bp.Ensemble([2, 3, 1], n=3, seed=0).save(path)
    data = write_csv(tmp_path / "x.csv", ["a", "b"], [[0.1, 0.2], [0.3, 0.4]])
    for argv in (["predict", str(path), str(data)], ["draw", str(path), "-o",
                                                       str(tmp_path / "x.png")]):  # fmt: skip
        code, out, err = run(argv, capsys)
        assert code == 2
        assert err.count("\n") == 1
        assert "holds an ensemble of 3 networks, not one network" in err


def test_info_describes_an_ensemble_file(tmp_path, capsys):
    path = tmp_path / "ens.npz"
    bp.Ensemble([2, 3, 1], n=3, seed=0, activation="tanh", bias="shared").save(path)
    code, out, err = run(["info", str(path)], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == (
        f"{path}: backprop ensemble file, format version 1: 3 networks of one shape "
        f"(seeds recorded)"
    )
    assert "  layers        2 -> 3 -> 1" in lines
    assert "  activations   tanh, tanh" in lines
    assert "  parameters    11 each (9 weights, 2 biases)" in lines
    assert not any("training state" in line for line in lines)
    ens = bp.load(path)
    ens.train([[0.1, 0.2], [0.3, 0.4]], [[0.5], [0.6]], 2, 0.1, optimizer="adam", shuffle=True)
    ens.save(path)
    code, out, err = run(["info", str(path)], capsys)
    assert "  training state: adam optimizer (3 of 3 members)" in out.splitlines()
    assert "  shuffling stream over 2 samples (3 of 3 members)" in out.splitlines()


def test_rows_of_empty_fields_are_missing_values_but_at_the_end(tmp_path, capsys):
    """A spreadsheet's trailing ",," rows are not samples; one between samples is a
    sample with no values (refused), not a blank line: predict writes one row per
    sample of its input, or refuses it."""
    rows = [[0.1, 0.2, 0.5], [0.3, 0.4, 0.7], [0.5, 0.1, 0.2]]
    data = write_csv(tmp_path / "d.csv", ["a", "b", "y"], rows + [["", "", ""]] * 2)
    status, out, _ = run(["train", data, "-t", "y", "--epochs", "3", "-o", tmp_path / "m.npz"],
                         capsys)  # fmt: skip
    assert status == 0 and "(3 rows)" in out
    inputs = write_csv(tmp_path / "x.csv", ["a", "b"], [[0.1, 0.2], ["", ""], [0.3, 0.4]])
    status, _, err = run(["predict", tmp_path / "m.npz", inputs], capsys)
    assert status == 2 and "line 3: column 'a' has no value" in err
    inputs = write_csv(tmp_path / "x.csv", ["a", "b"], [[0.1, 0.2], [0.3, 0.4], ["", ""]])
    status, out, _ = run(["predict", tmp_path / "m.npz", inputs], capsys)
    assert status == 0 and len(read_csv(out)) == 3  # the header and two predictions


def test_the_graph_view_of_a_network_too_large_to_draw_is_refused(tmp_path, capsys):
    """More than plot.GRAPH_MAX_EDGES lines: refused at once, pointing to --view hinton."""
    pytest.importorskip("matplotlib")
    from backprop import plot

    side = int(plot.GRAPH_MAX_EDGES**0.5) + 1
    bp.Network([2, side, side, 1], seed=0).save(tmp_path / "big.npz")
    status, _, err = run(["draw", tmp_path / "big.npz", "-o", tmp_path / "big.png"], capsys)
    assert status == 2 and "--view hinton" in err and not (tmp_path / "big.png").exists()
    with pytest.raises(ValueError, match=r"view='graph' draws a line per weight and bias"):
        bp.load(tmp_path / "big.npz").draw()

"""Column names saved with a network (file format version 3), and ``read_header``."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import backprop as bp
from backprop import io as bpio
from npz_edits import arrays_of, assert_refused, edit_header, write_npz

CLASSES = bp.Columns(["sepal length", "sepal width", "petal"], ["species"], ["a", "b", "c"])


def _classifier() -> bp.Network:
    net = bp.Network([3, 4, 3], output_activation="softmax", loss="cross_entropy", seed=1)
    net.columns = CLASSES
    return net


def _header(path) -> dict:
    return json.loads(arrays_of(path)["header"].tobytes())


def test_columns_round_trip_in_a_version_3_file(tmp_path, engine):
    net = _classifier()
    net.save(tmp_path / "net.npz")
    header = _header(tmp_path / "net.npz")
    assert header["version"] == 3
    assert header["columns"] == {
        "inputs": ["sepal length", "sepal width", "petal"],
        "targets": ["species"],
        "classes": ["a", "b", "c"],
    }
    loaded = bp.load(tmp_path / "net.npz", engine=engine)
    assert loaded.columns == CLASSES
    np.testing.assert_array_equal(loaded.params, net.params)
    assert bpio.read_header(tmp_path / "net.npz")["columns"] == CLASSES


def test_a_network_without_columns_has_no_columns_entry(tmp_path):
    net = bp.Network([3, 4, 3], seed=1)
    assert net.columns is None
    net.save(tmp_path / "net.npz")
    header = bpio.read_header(tmp_path / "net.npz")
    assert header["version"] == 3 and "columns" not in header
    assert bp.load(tmp_path / "net.npz").columns is None


def test_columns_and_a_schedules_position_share_the_file(tmp_path):
    """Version 3 holds both of its optional entries at once."""
    net = _classifier()
    rng = np.random.default_rng(0)
    X, T = rng.uniform(-1, 1, (8, 3)), np.eye(3)[rng.integers(0, 3, 8)]
    schedule = bp.Schedule("step", step_size=2, gamma=0.5)
    net.train(X, T, 3, 0.1, schedule=schedule, optimizer="momentum")
    net.save(tmp_path / "net.npz")
    header = _header(tmp_path / "net.npz")
    assert {"columns", "schedule", "optimizer"} <= set(header)
    loaded = bp.load(tmp_path / "net.npz")
    assert loaded.columns == CLASSES
    np.testing.assert_array_equal(
        loaded.train(X, T, 2, 0.1, schedule=schedule, optimizer="momentum"),
        net.train(X, T, 2, 0.1, schedule=schedule, optimizer="momentum"),
    )


def test_copies_and_pickles_keep_the_columns():
    net = _classifier()
    assert net.copy().columns == CLASSES
    assert pickle.loads(pickle.dumps(net)).columns == CLASSES
    regression = bp.Network([2, 2], output_activation="linear", seed=0)
    regression.columns = bp.Columns(("x", "y"), ("u", "v"))
    assert pickle.loads(pickle.dumps(regression)).columns.targets == ("u", "v")


@pytest.mark.parametrize(
    "columns, match",
    [
        (dict(inputs=["a", "b"], targets=["t"], classes=["x", "y", "z"]), "2 inputs"),
        (dict(inputs=["a", "b", "c"], targets=["t"], classes=["x", "y"]), "2 classes"),
        (dict(inputs=["a", "b", "c"], targets=["t", "u"]), "2 targets"),
    ],
)
def test_columns_must_fit_the_network(columns, match):
    net = bp.Network([3, 4, 3], seed=1)
    with pytest.raises(ValueError, match=match):
        net.columns = bp.Columns(**columns)
    with pytest.raises(TypeError, match="Columns"):
        net.columns = {"inputs": ["a", "b", "c"], "targets": ["t"]}
    one = bp.Network([3, 1], seed=1)  # one logistic output: two classes
    one.columns = bp.Columns(["a", "b", "c"], ["t"], ["no", "yes"])
    net.columns = None


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(inputs="ab", targets=["t"]), TypeError, "sequence of names"),
        (dict(inputs=[], targets=["t"]), ValueError, "at least one"),
        (dict(inputs=["a", "a"], targets=["t"]), ValueError, "twice"),
        (dict(inputs=["a", 1], targets=["t"]), TypeError, "strings"),
        (dict(inputs=["a", " "], targets=["t"]), ValueError, "non-empty"),
        (dict(inputs=["a\nb"], targets=["t"]), ValueError, "one line"),
        (dict(inputs=["a"], targets=["a"]), ValueError, "both an input and a target"),
        (dict(inputs=["a"], targets=["t", "u"], classes=["x", "y"]), ValueError, "one target"),
        (dict(inputs=["a"], targets=["t"], classes=["x"]), ValueError, "at least two"),
    ],
)
def test_bad_columns_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        bp.Columns(**kwargs)


@pytest.mark.parametrize(
    "change, match",
    [
        (edit_header(columns={"inputs": ["a", "b", "c"]}), "keys 'inputs' and 'targets'"),
        (
            edit_header(
                columns={"inputs": ["a", "b"], "targets": ["t"], "classes": ["x", "y", "z"]}
            ),
            "2 inputs",
        ),
        (edit_header(columns={"inputs": "abc", "targets": ["t"]}), "list of names"),
        (edit_header(columns={"inputs": ["a", "b", "c"], "targets": ["t"], "x": []}), "keys"),
        (edit_header(columns=[1, 2]), "object"),
        (edit_header(version=2), "unknown key 'columns'"),
    ],
)
def test_a_file_with_bad_columns_is_refused(tmp_path, change, match):
    _classifier().save(tmp_path / "net.npz")
    arrays = arrays_of(tmp_path / "net.npz")
    change(arrays)
    write_npz(tmp_path / "bad.npz", arrays)
    assert_refused(tmp_path / "bad.npz", match)
    with pytest.raises(ValueError, match=match):
        bpio.read_header(tmp_path / "bad.npz")


def test_read_header_refuses_what_load_refuses(tmp_path):
    with pytest.raises(FileNotFoundError):
        bpio.read_header(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a readable ZIP"):
        bpio.read_header(tmp_path / "text.npz")
    with pytest.raises(ValueError, match="directory"):
        bpio.read_header(tmp_path)

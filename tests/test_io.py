"""Saving and loading networks (``backprop.io``).

Round trips are bit-exact for every bias mode, activation and loss on both
engines; the file follows the format documented in ``backprop.io`` (so NumPy reads
it, and a file written by hand loads); and a damaged, foreign or hostile file is
refused with a ValueError naming the file and the problem, without running code.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import pickle
from typing import Any

import numpy as np
import pytest

import backprop as bp
from backprop import io as bpio
from npz_edits import (
    arrays_of,
    assert_refused,
    edit_header,
    json_bytes,
    remove_array,
    set_array,
    with_value,
    write_npz,
)

#: Three weight layers, so hidden and output activations can differ.
SIZES = [3, 5, 4, 2]

#: Activation lists with one entry per weight layer of SIZES, and a loss that suits
#: the output layer (cross_entropy only after logistic or softmax).
ACTIVATION_LISTS = {
    "tanh,relu>softmax/cross_entropy": (["tanh", "relu", "softmax"], "cross_entropy"),
    "linear,leaky_relu>logistic/mse": (["linear", "leaky_relu", "logistic"], "mse"),
    "relu,tanh>linear/half_sse": (["relu", "tanh", "linear"], "half_sse"),
    "logistic,linear>tanh/mse": (["logistic", "linear", "tanh"], "mse"),
}


def _assert_same_network(original: bp.Network, loaded: bp.Network, X: np.ndarray) -> None:
    """Same options and bitwise the same parameters and outputs (same engine).

    The networks here are float64; float32 round trips are in tests/test_float32.py.
    """
    assert loaded.layers == original.layers
    assert loaded.bias == original.bias
    assert loaded.train_bias == original.train_bias
    assert loaded.activations == original.activations
    assert loaded.loss == original.loss
    assert loaded.engine == original.engine
    assert loaded.params.dtype == np.float64
    assert np.array_equal(loaded.params, original.params)
    for got, want in zip(loaded.weights + loaded.biases, original.weights + original.biases):
        assert np.array_equal(got, want)
    assert np.array_equal(loaded.forward(X), original.forward(X))


def _round_trip(net: bp.Network, path: pathlib.Path, **load_kwargs: Any) -> bp.Network:
    bpio.save(net, path)
    return bpio.load(path, **load_kwargs)


# ---------------------------------------------------------------- round trips
def test_round_trip_is_bit_exact(tmp_path, net_options, bias_mode, engine, make_data):
    net = bp.Network(SIZES, seed=7, bias=bias_mode, engine=engine, **net_options)
    X, _ = make_data(SIZES[0], SIZES[-1], 6, net_options, seed=1)
    _assert_same_network(net, _round_trip(net, tmp_path / "net.npz", engine=engine), X)


@pytest.mark.parametrize("train_bias", [True, False])
@pytest.mark.parametrize(
    "activations, loss", list(ACTIVATION_LISTS.values()), ids=list(ACTIVATION_LISTS)
)
def test_round_trip_keeps_per_layer_activations(
    tmp_path, activations, loss, train_bias, bias_mode, engine
):
    net = bp.Network(
        SIZES,
        seed=3,
        bias=bias_mode,
        train_bias=train_bias,
        activation=activations,
        loss=loss,
        init="xavier",
        engine=engine,
    )
    X = np.random.default_rng(2).uniform(-1, 1, size=(4, SIZES[0]))
    loaded = _round_trip(net, tmp_path / "net.npz", engine=engine)
    assert loaded.activations == tuple(activations)
    _assert_same_network(net, loaded, X)


@pytest.mark.parametrize("train_bias", [True, False])
@pytest.mark.parametrize("update", bp.UPDATES)
def test_loaded_network_trains_identically(
    tmp_path, bias_mode, train_bias, update, engine, make_data
):
    """A trained network round-trips, and training goes on exactly as without the file."""
    options = dict(activation="tanh", output_activation="logistic", loss="cross_entropy")
    net = bp.Network(
        SIZES, seed=11, bias=bias_mode, train_bias=train_bias, engine=engine, **options
    )
    X, T = make_data(SIZES[0], SIZES[-1], 8, options, seed=4)
    net.train(X, T, epochs=25, learning_rate=0.3, update=update)
    loaded = _round_trip(net, tmp_path / "trained.npz", engine=engine)
    _assert_same_network(net, loaded, X)
    history = net.train(X, T, epochs=15, learning_rate=0.3, update=update)
    loaded_history = loaded.train(X, T, epochs=15, learning_rate=0.3, update=update)
    assert np.array_equal(loaded_history, history)
    _assert_same_network(net, loaded, X)


def test_tutorial_network_round_trips(tmp_path, engine):
    """The seed's network: shared biases 0.35 and 0.60 that training leaves alone."""
    net = bp.Network.tutorial(engine=engine)
    loaded = _round_trip(net, tmp_path / "seed.npz", engine=engine)
    assert (loaded.bias, loaded.train_bias) == ("shared", False)
    assert [b.tolist() for b in loaded.biases] == [[0.35, 0.35], [0.60, 0.60]]
    _assert_same_network(net, loaded, np.array([[0.05, 0.10]]))
    x, t = [0.05, 0.10], [0.01, 0.99]
    assert loaded.trace(x, t).total_error == net.trace(x, t).total_error


@pytest.mark.parametrize("saved_with", bp.ENGINES)
def test_load_engine_overrides_the_saving_engine(request, tmp_path, saved_with, engine):
    """The file records no engine: ``engine=`` picks one, bit-exact parameters either way."""
    if saved_with == "cython":
        request.getfixturevalue("core")
    net = bp.Network(SIZES, seed=5, engine=saved_with)
    loaded = _round_trip(net, tmp_path / "net.npz", engine=engine)
    assert loaded.engine == engine
    assert np.array_equal(loaded.params, net.params)
    X = np.random.default_rng(0).uniform(-1, 1, size=(3, SIZES[0]))
    np.testing.assert_allclose(loaded.forward(X), net.forward(X), rtol=1e-13, atol=0)


def test_load_defaults_to_the_default_engine(tmp_path):
    loaded = _round_trip(bp.Network(SIZES, seed=5, engine="python"), tmp_path / "net.npz")
    assert loaded.engine == bp.default_engine()


def test_load_rejects_an_unknown_engine_before_reading(tmp_path):
    with pytest.raises(ValueError, match="engine"):
        bpio.load(tmp_path / "never-read.npz", engine="fortran")


# ---------------------------------------------------------------- paths and writing
@pytest.mark.parametrize("as_path", [str, pathlib.Path], ids=["str", "Path"])
@pytest.mark.parametrize("name", ["net.npz", "net", "net.weights"])
def test_save_writes_exactly_the_given_path(tmp_path, as_path, name):
    net = bp.Network(SIZES, seed=1)
    bpio.save(net, as_path(tmp_path / name))
    assert os.listdir(tmp_path) == [name]  # no suffix added, no temporary file left
    assert np.array_equal(bpio.load(as_path(tmp_path / name)).params, net.params)


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "net.npz"
    bpio.save(bp.Network(SIZES, seed=1), path)
    second = bp.Network([2, 3, 1], seed=2, bias="none")
    bpio.save(second, path)
    assert os.listdir(tmp_path) == ["net.npz"]
    assert np.array_equal(bpio.load(path).params, second.params)


@pytest.mark.parametrize("bad_net", ["net.npz", None, np.zeros(3)], ids=["str", "None", "array"])
def test_save_rejects_a_non_network_and_leaves_the_file(tmp_path, bad_net):
    path = tmp_path / "net.npz"
    bpio.save(bp.Network(SIZES, seed=1), path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="Network"):
        bpio.save(bad_net, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["net.npz"]


@pytest.mark.parametrize(
    "target, error",
    [("no-such-dir/net.npz", FileNotFoundError), ("a-directory", IsADirectoryError)],
)
def test_failed_save_leaves_no_file_behind(tmp_path, target, error):
    """The error is the file system's; no temporary file is left either way."""
    (tmp_path / "a-directory").mkdir()
    with pytest.raises(error) as info:
        bpio.save(bp.Network(SIZES, seed=1), tmp_path / target)
    assert info.value.filename == str(tmp_path / target)  # (not a temporary file's name)
    assert os.listdir(tmp_path) == ["a-directory"]
    assert os.listdir(tmp_path / "a-directory") == []


def test_saving_is_deterministic(tmp_path):
    net = bp.Network(SIZES, seed=1, bias="shared")
    bpio.save(net, tmp_path / "a.npz")
    bpio.save(bpio.load(tmp_path / "a.npz"), tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


# ---------------------------------------------------------------- the documented format
def test_file_follows_the_documented_format(tmp_path, bias_mode):
    net = bp.Network(
        SIZES,
        seed=9,
        bias=bias_mode,
        train_bias=False,
        activation=["tanh", "relu", "softmax"],
        loss="cross_entropy",
    )
    bpio.save(net, tmp_path / "net.npz")
    with np.load(tmp_path / "net.npz", allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    assert arrays["header"].dtype == np.uint8 and arrays["header"].ndim == 1
    assert json.loads(arrays.pop("header").tobytes().decode("utf-8")) == {
        "format": "backprop-network",
        "version": 3,
        "layers": SIZES,
        "bias": bias_mode,
        "train_bias": False,
        "activations": ["tanh", "relu", "softmax"],
        "loss": "cross_entropy",
        "dtype": "float64",
    }
    expected = {f"weights_{l}": w for l, w in enumerate(net.weights)}
    if bias_mode != "none":
        expected.update(
            {f"biases_{l}": b[:1] if bias_mode == "shared" else b for l, b in enumerate(net.biases)}
        )
    assert sorted(arrays) == sorted(expected)
    for name, array in arrays.items():
        assert array.dtype == np.float64
        assert array.shape == expected[name].shape
        assert np.array_equal(array, expected[name])


@pytest.mark.parametrize("version", [1, 2, 3])
@pytest.mark.parametrize("writer", [np.savez, np.savez_compressed])
@pytest.mark.parametrize("layout", ["little-endian C", "big-endian Fortran"])
def test_a_file_written_to_the_spec_loads(tmp_path, bias_mode, writer, layout, version):
    """Files need not come from ``save``: any archive that follows the spec loads
    (version 1 files, which hold no training state, too)."""
    net = bp.Network(SIZES, seed=4, bias=bias_mode, activation="relu", output_activation="linear")
    header = {
        "format": "backprop-network",
        "version": version,
        "layers": SIZES,
        "bias": bias_mode,
        "train_bias": True,
        "activations": ["relu", "relu", "linear"],
        "loss": "half_sse",
    }  # no dtype
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    arrays.update({f"weights_{l}": w for l, w in enumerate(net.weights)})
    if bias_mode != "none":
        arrays.update(
            {f"biases_{l}": b[:1] if bias_mode == "shared" else b for l, b in enumerate(net.biases)}
        )
    if layout == "big-endian Fortran":
        arrays = {
            name: a if name == "header" else np.asfortranarray(a.astype(">f8"))
            for name, a in arrays.items()
        }
    path = tmp_path / "hand-written.npz"
    with open(path, "wb") as fh:
        writer(fh, **arrays)
    loaded = bpio.load(path, engine=net.engine)
    _assert_same_network(net, loaded, np.eye(3))
    assert loaded._optimizer is None and loaded._shuffle is None


# ---------------------------------------------------------------- refused files


def _valid_arrays(tmp_path: pathlib.Path) -> dict[str, np.ndarray]:
    """The arrays of a saved [3, 4, 2] per-neuron network, as NumPy reads them."""
    bpio.save(bp.Network([3, 4, 2], seed=0), tmp_path / "valid.npz")
    return arrays_of(tmp_path / "valid.npz")


#: id: (mutation of the valid file's arrays, pattern of the error message).
BAD_ARCHIVES = {
    "no header": (remove_array("header"), "no 'header' array"),
    "missing weights": (remove_array("weights_1"), "'weights_1' is missing"),
    "missing biases": (remove_array("biases_0"), "'biases_0' is missing"),
    "extra array": (set_array("notes", np.zeros(2)), "unexpected array 'notes'"),
    "weights transposed": (
        set_array("weights_0", np.transpose),
        r"'weights_0' must have shape \(4, 3\), got \(3, 4\)",
    ),
    "weights 1-D": (set_array("weights_1", np.ravel), r"'weights_1' must have shape \(2, 4\)"),
    "biases too long": (set_array("biases_1", np.zeros(3)), r"'biases_1' must have shape \(2,\)"),
    "weights float32": (
        set_array("weights_0", lambda w: w.astype(np.float32)),
        "'weights_0' must have dtype float64",
    ),
    "weights int": (
        set_array("weights_1", lambda w: w.astype(np.int64)),
        "'weights_1' must have dtype float64",
    ),
    "weights complex": (
        set_array("weights_1", lambda w: w.astype(np.complex128)),
        "'weights_1' must have dtype float64",
    ),
    "NaN weight": (
        set_array("weights_1", with_value((1, 2), np.nan)),
        "'weights_1' contains NaN or infinity",
    ),
    "infinite bias": (
        set_array("biases_0", with_value((3,), -np.inf)),
        "'biases_0' contains NaN or infinity",
    ),
    "header not JSON": (
        set_array("header", json_bytes('{"format": backprop')),
        "header is not valid JSON",
    ),
    "header not UTF-8": (set_array("header", json_bytes(b"\xff\xfe{}")), "header is not UTF-8"),
    "header a list": (set_array("header", json_bytes("[1, 2]")), "must be a JSON object"),
    "header key twice": (
        set_array(
            "header", json_bytes('{"format": "backprop-network", "format": "backprop-network"}')
        ),
        "'format' twice",
    ),
    "header a string array": (
        set_array("header", np.array("{}")),
        "'header' must have dtype uint8",
    ),
    "header 2-D": (set_array("header", lambda h: h.reshape(1, -1)), "'header' must be 1-D"),
    "wrong format": (edit_header(format="pickle"), "format is 'pickle'"),
    "no format": (edit_header(format=None), "format is None"),
    "newer version": (edit_header(version=4), "unsupported format version 4.*newer"),
    "version 0": (edit_header(version=0), "unsupported format version 0"),
    "version text": (edit_header(version="1"), "version must be an integer"),
    "unknown key": (edit_header(comment="hi"), "unknown key 'comment'"),
    "missing key": (edit_header(loss=None), "no 'loss' entry"),
    "bad layers": (edit_header(layers=[3, 0, 2]), "layers must be a list"),
    "one layer": (edit_header(layers=[3]), "layers must be a list"),
    "unknown bias": (edit_header(bias="sometimes"), "unknown bias 'sometimes'"),
    "train_bias text": (edit_header(train_bias="yes"), "train_bias must be true or false"),
    "unknown activation": (
        edit_header(activations=["logistic", "gelu"]),
        "unknown activation 'gelu'",
    ),
    "too few activations": (
        edit_header(activations=["logistic"]),
        "activations must be a list of 2",
    ),
    "unknown loss": (edit_header(loss="hinge"), "unknown loss 'hinge'"),
    "integer dtype": (edit_header(dtype="int32"), "dtype must name a floating-point"),
    "header layers disagree": (
        edit_header(layers=[3, 5, 2]),
        r"'weights_0' must have shape \(5, 3\), got \(4, 3\)",
    ),
    "biases with bias none": (edit_header(bias="none"), "unexpected array 'biases_0'"),
    "per-unit biases when shared": (
        edit_header(bias="shared"),
        r"'biases_0' must have shape \(1,\), got \(4,\)",
    ),
    "softmax hidden layer": (
        edit_header(activations=["softmax", "logistic"]),
        "softmax.*only allowed on the output layer",
    ),
    "cross_entropy after linear": (
        edit_header(activations=["tanh", "linear"], loss="cross_entropy"),
        "cross_entropy.*'linear'",
    ),
}


@pytest.mark.parametrize("mutate, match", list(BAD_ARCHIVES.values()), ids=list(BAD_ARCHIVES))
def test_invalid_archive_is_refused(tmp_path, mutate, match):
    arrays = _valid_arrays(tmp_path)
    mutate(arrays)
    path = tmp_path / "bad.npz"
    write_npz(path, arrays)
    assert_refused(path, match)


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _flip_a_weight_byte(data: bytes) -> bytes:
    """Damage one byte of weights_0's data: the archive's CRC no longer matches."""
    start = data.index(bp.Network([3, 4, 2], seed=0).weights[0].tobytes())
    return data[: start + 5] + bytes([data[start + 5] ^ 0x40]) + data[start + 6 :]


def _npy_file(data: bytes) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    return buffer.getvalue()


#: id: function from the valid file's bytes to the bad file's bytes.
BAD_BYTES = {
    "truncated": _truncate,
    "truncated to the end of the header": lambda data: data[:200],
    "empty": lambda data: b"",
    "garbage": lambda data: bytes(range(256)) * 8,
    "text": lambda data: b'{"format": "backprop-network", "version": 1}\n',
    "a pickle": lambda data: pickle.dumps(np.zeros(3)),
    "a .npy file": _npy_file,
    "damaged weight": _flip_a_weight_byte,
}


@pytest.mark.parametrize("corrupt", list(BAD_BYTES.values()), ids=list(BAD_BYTES))
def test_damaged_or_foreign_file_is_refused(tmp_path, corrupt):
    bpio.save(bp.Network([3, 4, 2], seed=0), tmp_path / "valid.npz")
    path = tmp_path / "bad.npz"
    path.write_bytes(corrupt((tmp_path / "valid.npz").read_bytes()))
    assert_refused(path, "truncated, damaged")


class _Payload:
    """Unpickling this object creates the directory ``marker``: a stand-in for code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("member", ["header", "weights_0", "biases_1"])
def test_loading_runs_no_code(tmp_path, member):
    """An archive holding a pickled object is refused without unpickling it."""
    marker = tmp_path / "code-ran"
    arrays = _valid_arrays(tmp_path)
    arrays[member] = np.array([_Payload(str(marker))], dtype=object)
    path = tmp_path / "hostile.npz"
    write_npz(path, arrays)
    assert_refused(path, f"'{member}' holds Python objects")
    assert not marker.exists()
    # The payload is live: NumPy with pickling allowed would run it.
    with np.load(path, allow_pickle=True) as archive:
        archive[member]
    assert marker.is_dir()


@pytest.mark.parametrize("as_path", [str, pathlib.Path], ids=["str", "Path"])
def test_missing_file_raises_file_not_found(tmp_path, as_path):
    with pytest.raises(FileNotFoundError):
        bpio.load(as_path(tmp_path / "absent.npz"))

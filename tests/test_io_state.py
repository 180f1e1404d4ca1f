"""Saving and loading the training state (``backprop.io``, format versions 2 and 3).

A network carries the optimizer's state (``net._optimizer``) and the shuffling
stream (``net._shuffle``) from one ``train`` call to the next; files and pickles
keep both, bit for bit, so that training a loaded network continues exactly as
training the saved one.  Version 1 files, which hold no training state, still
load; a file whose state is damaged or inconsistent is refused with a ValueError
naming the file.
"""

from __future__ import annotations

import io
import json
import pathlib
import pickle
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import backprop as bp
from backprop import _spec
from backprop import io as bpio
from backprop._training import OptimizerState, ShuffleState
from npz_edits import (
    arrays_of,
    assert_refused,
    edit_header,
    remove_array,
    set_array,
    with_value,
    write_npz,
)

SIZES = [3, 4, 2]
#: Parameters of a per-neuron SIZES network: 3*4 + 4 + 4*2 + 2.
N_PARAMS = 26
DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["float64", "float32"]

#: Optimizer settings that differ from train's defaults, and whose decimal
#: forms are not short: the JSON header must keep every bit.
SETTINGS = (0.1 + 0.2, 0.85, 1 - 1e-3 / 3, 1e-300, 1.25, 1 / 3, 2.5e-7, 49.9, 0.0625)


def _bits(array: np.ndarray) -> tuple[str, tuple[int, ...], bytes]:
    return array.dtype.str, array.shape, np.ascontiguousarray(array).tobytes()


def _optimizer_state(name: str, dtype: Any, seed: int = 0) -> OptimizerState:
    size = _spec.state_size(name, N_PARAMS)
    state = np.random.default_rng(seed).normal(size=size).astype(dtype)
    # a state training could make: Adam's second moments >= 0 and a whole step
    # count, RPROP's step sizes >= 0
    if name == "adam":
        state[N_PARAMS:] = np.abs(state[N_PARAMS:])
        state[-1] = 17.0
    elif name == "rprop":
        state[:N_PARAMS] = np.abs(state[:N_PARAMS])
    if size:
        state[0] = -0.0  # the sign of a zero survives too
    assert len(SETTINGS) == len(_spec.OPTIMIZER_SETTINGS)
    return OptimizerState(name, SETTINGS, state, 0)


def _shuffle_state(n: int, seed: int = 0) -> ShuffleState:
    rng = np.random.default_rng(seed)
    # a generator state with its top bit set: stored as uint64, not int64
    state = np.array([(1 << 63) | int(rng.integers(1 << 62))], dtype=np.uint64)
    return ShuffleState(state, rng.permutation(n).astype(np.intp))


def _net_with_state(
    engine: str | None = None, dtype: Any = np.float64, optimizer: str | None = "adam", n: int = 7
) -> bp.Network:
    net = bp.Network(SIZES, seed=3, engine=engine, dtype=dtype)
    if optimizer is not None:
        net._optimizer = _optimizer_state(optimizer, dtype)
    if n:
        net._shuffle = _shuffle_state(n)
    return net


def _assert_same_state(loaded: bp.Network, original: bp.Network) -> None:
    """The same training state, bit for bit, held in fresh writable C arrays."""
    want, got = original._optimizer, loaded._optimizer
    if want is None:
        assert got is None
    else:
        assert isinstance(got, OptimizerState)
        assert got.name == want.name
        assert got.settings == want.settings
        assert all(type(v) is float for v in got.settings)
        assert np.array(got.settings).tobytes() == np.array(want.settings).tobytes()
        assert _bits(got.state) == _bits(want.state)
        assert got.state.dtype == loaded.dtype
        assert got.fast_calls == 0
        _assert_own_array(got.state)
    want_s, got_s = original._shuffle, loaded._shuffle
    if want_s is None:
        assert got_s is None
    else:
        assert isinstance(got_s, ShuffleState)
        assert got_s.rng.dtype == np.uint64 and got_s.rng.shape == (1,)
        assert got_s.perm.dtype == np.intp
        assert _bits(got_s.rng) == _bits(want_s.rng)
        assert np.array_equal(got_s.perm, want_s.perm)
        _assert_own_array(got_s.rng)
        _assert_own_array(got_s.perm)


def _assert_own_array(array: np.ndarray) -> None:
    assert array.flags.c_contiguous and array.flags.writeable and array.flags.owndata


def _saved_header(path: pathlib.Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as archive:
        return json.loads(archive["header"].tobytes())


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("optimizer", _spec.OPTIMIZERS)
def test_optimizer_state_round_trips(tmp_path, engine, dtype, optimizer):
    net = _net_with_state(engine, dtype, optimizer, n=0)
    bpio.save(net, tmp_path / "net.npz")
    loaded = bpio.load(tmp_path / "net.npz", engine=engine)
    assert np.array_equal(loaded.params, net.params)
    _assert_same_state(loaded, net)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("n", [1, 2, 7, 300])
def test_shuffle_state_round_trips(tmp_path, engine, dtype, n):
    net = _net_with_state(engine, dtype, optimizer=None, n=n)
    bpio.save(net, tmp_path / "net.npz")
    loaded = bpio.load(tmp_path / "net.npz", engine=engine)
    _assert_same_state(loaded, net)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_both_states_round_trip_and_the_file_follows_the_format(tmp_path, engine, dtype):
    net = _net_with_state(engine, dtype, "rprop", n=5)
    bpio.save(net, tmp_path / "net.npz")
    _assert_same_state(bpio.load(tmp_path / "net.npz", engine=engine), net)
    header = _saved_header(tmp_path / "net.npz")
    assert header["version"] == 3
    assert header["optimizer"] == {
        "name": "rprop",
        "settings": dict(zip(_spec.OPTIMIZER_SETTINGS, SETTINGS)),
    }
    assert list(header["optimizer"]["settings"]) == list(_spec.OPTIMIZER_SETTINGS)
    assert header["shuffle"] == {"samples": 5}
    with np.load(tmp_path / "net.npz", allow_pickle=False) as archive:
        names = archive.files
        state, rng, perm = (archive[k] for k in ("optimizer_state", "shuffle_rng", "shuffle_perm"))
    assert names[-3:] == ["optimizer_state", "shuffle_rng", "shuffle_perm"]
    assert state.dtype == np.dtype(dtype).newbyteorder("<") and state.shape == (2 * N_PARAMS,)
    assert rng.dtype == np.dtype("<u8") and rng.shape == (1,)
    assert perm.dtype == np.dtype("<i8") and perm.shape == (5,)
    assert _bits(state) == _bits(net._optimizer.state)


def test_a_stateless_network_saves_no_state(tmp_path):
    net = bp.Network(SIZES, seed=3)
    bpio.save(net, tmp_path / "net.npz")
    header = _saved_header(tmp_path / "net.npz")
    assert header["version"] == 3 and "optimizer" not in header and "shuffle" not in header
    with np.load(tmp_path / "net.npz", allow_pickle=False) as archive:
        assert not any(n.startswith(("optimizer", "shuffle")) for n in archive.files)
    loaded = bpio.load(tmp_path / "net.npz")
    assert loaded._optimizer is None and loaded._shuffle is None


def test_saving_with_state_is_deterministic(tmp_path):
    bpio.save(_net_with_state(optimizer="adam", n=9), tmp_path / "a.npz")
    bpio.save(bpio.load(tmp_path / "a.npz"), tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_pickle_keeps_the_training_state(engine, dtype):
    net = _net_with_state(engine, dtype, "adam", n=6)
    clone = pickle.loads(pickle.dumps(net))
    assert clone.engine == engine and clone.dtype == dtype
    assert np.array_equal(clone.params, net.params)
    _assert_same_state(clone, net)
    bare = pickle.loads(pickle.dumps(bp.Network(SIZES, seed=1, engine=engine)))
    assert bare._optimizer is None and bare._shuffle is None


# ---------------------------------------------------------------- continuing training
def _data(n: int = 9) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(8)
    return rng.uniform(-1, 1, (n, SIZES[0])), rng.uniform(0.1, 0.9, (n, SIZES[-1]))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    "options",
    [
        dict(optimizer="adam", shuffle=True),
        dict(optimizer="rprop", batch_size=None),
        dict(optimizer="momentum", momentum=0.8, shuffle=True, batch_size=4),
        dict(optimizer="sgd", shuffle=True),
    ],
    ids=["adam-shuffled", "rprop-full-batch", "momentum-shuffled-batches", "sgd-shuffled"],
)
@pytest.mark.parametrize("via", ["file", "pickle"])
def test_load_then_train_continues_exactly(tmp_path, engine, dtype, options, via):
    X, T = _data()
    net = bp.Network(SIZES, seed=5, engine=engine, dtype=dtype)
    first = dict(options, seed=1) if options.get("shuffle") else options
    net.train(X, T, epochs=3, learning_rate=0.1, **first)
    assert net._optimizer is not None
    if via == "file":
        bpio.save(net, tmp_path / "net.npz")
        loaded = bpio.load(tmp_path / "net.npz", engine=engine)
    else:
        loaded = pickle.loads(pickle.dumps(net))
    _assert_same_state(loaded, net)
    want = net.train(X, T, epochs=2, learning_rate=0.1, **options)
    got = loaded.train(X, T, epochs=2, learning_rate=0.1, **options)
    assert np.array_equal(got, want)
    assert _bits(loaded.params) == _bits(net.params)
    _assert_same_state(loaded, net)


def test_an_optimizer_state_that_train_would_restart_is_not_saved(tmp_path, engine):
    """After a plain call (the compiled fast path), ``train`` starts the optimizer
    afresh; the file must not make the loaded network continue the old state."""
    X, T = _data()
    net = bp.Network(SIZES, seed=5, engine=engine)
    net.train(X, T, epochs=2, optimizer="adam", learning_rate=0.1)
    assert net._optimizer is not None
    net.train(X, T)  # plain online SGD
    bpio.save(net, tmp_path / "net.npz")
    loaded = bpio.load(tmp_path / "net.npz", engine=engine)
    want = net.train(X, T, epochs=2, optimizer="adam", learning_rate=0.1)
    got = loaded.train(X, T, epochs=2, optimizer="adam", learning_rate=0.1)
    assert np.array_equal(got, want)
    assert _bits(loaded.params) == _bits(net.params)


# ---------------------------------------------------------------- version 1


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_a_version_1_file_still_loads(tmp_path, engine, dtype):
    net = bp.Network(SIZES, seed=2, engine=engine, dtype=dtype, bias="shared")
    bpio.save(net, tmp_path / "v3.npz")
    arrays = arrays_of(tmp_path / "v3.npz")
    edit_header(version=1)(arrays)
    write_npz(tmp_path / "v1.npz", arrays)
    loaded = bpio.load(tmp_path / "v1.npz", engine=engine)
    assert _bits(loaded.params) == _bits(net.params)
    assert loaded._optimizer is None and loaded._shuffle is None
    # and it saves as the current version (3)
    bpio.save(loaded, tmp_path / "again.npz")
    assert (tmp_path / "again.npz").read_bytes() == (tmp_path / "v3.npz").read_bytes()


# ---------------------------------------------------------------- refused state


def _settings(change: Callable[[dict], None]) -> Callable[[dict], None]:
    return lambda optimizer: change(optimizer["settings"])


def _pop(key: str) -> Callable[[dict], None]:
    return lambda d: d.pop(key)


def _put(key: str, value: Any) -> Callable[[dict], None]:
    return lambda d: d.__setitem__(key, value)


#: id: (mutation of the arrays of a file with adam state over [3, 4, 2] and a
#: 7-sample shuffle, pattern of the error message).
BAD_STATE = {
    # optimizer_state
    "state float32": (
        set_array("optimizer_state", lambda a: a.astype(np.float32)),
        "'optimizer_state' must have dtype float64, got float32",
    ),
    "state int": (
        set_array("optimizer_state", lambda a: a.astype(np.int64)),
        "'optimizer_state' must have dtype float64",
    ),
    "state too short": (
        set_array("optimizer_state", lambda a: a[:-1]),
        r"'optimizer_state' must have shape \(53,\), got \(52,\)",
    ),
    "state too long": (
        set_array("optimizer_state", lambda a: np.append(a, 0.0)),
        r"'optimizer_state' must have shape \(53,\), got \(54,\)",
    ),
    "state 2-D": (
        set_array("optimizer_state", lambda a: a.reshape(1, -1)),
        r"'optimizer_state' must have shape \(53,\), got \(1, 53\)",
    ),
    "state NaN": (
        set_array("optimizer_state", with_value(7, np.nan)),
        "'optimizer_state' contains NaN or infinity",
    ),
    "state infinite": (
        set_array("optimizer_state", with_value(-1, np.inf)),
        "'optimizer_state' contains NaN or infinity",
    ),
    "state without header entry": (
        edit_header(optimizer=None),
        "unexpected array 'optimizer_state' .the header has no 'optimizer' entry",
    ),
    "header entry without state": (
        remove_array("optimizer_state"),
        "'optimizer_state' is missing .the header's 'optimizer' entry needs it",
    ),
    "state of another optimizer": (
        edit_header(optimizer=_put("name", "momentum")),
        r"'optimizer_state' must have shape \(26,\), got \(53,\)",
    ),
    # the header's optimizer entry
    "unknown optimizer": (
        edit_header(optimizer=_put("name", "adagrad")),
        "unknown optimizer 'adagrad'",
    ),
    "optimizer name not text": (
        edit_header(optimizer=_put("name", 3)),
        "unknown optimizer 3",
    ),
    "optimizer a string": (
        edit_header(optimizer="adam"),
        "optimizer must be an object with the keys 'name' and 'settings'",
    ),
    "optimizer without settings": (
        edit_header(optimizer=_pop("settings")),
        "optimizer must be an object with the keys 'name' and 'settings'",
    ),
    "optimizer extra key": (
        edit_header(optimizer=_put("steps", 3)),
        "optimizer must be an object with the keys 'name' and 'settings'",
    ),
    "settings a list": (
        edit_header(optimizer=_put("settings", [0.9] * 9)),
        "optimizer settings must be an object",
    ),
    "missing setting": (
        edit_header(optimizer=_settings(_pop("epsilon"))),
        "optimizer settings have no 'epsilon' entry",
    ),
    "extra setting": (
        edit_header(optimizer=_settings(_put("gamma", 0.5))),
        "unknown optimizer setting 'gamma'",
    ),
    "setting text": (
        edit_header(optimizer=_settings(_put("beta1", "0.9"))),
        "optimizer setting beta1 must be a finite number, got '0.9'",
    ),
    "setting bool": (
        edit_header(optimizer=_settings(_put("momentum", True))),
        "optimizer setting momentum must be a finite number, got True",
    ),
    "setting null": (
        edit_header(optimizer=_settings(_put("momentum", None))),
        "optimizer setting momentum must be a finite number, got None",
    ),
    "setting NaN": (
        edit_header(optimizer=_settings(_put("beta2", float("nan")))),
        "optimizer setting beta2 must be a finite number, got nan",
    ),
    "setting infinite": (
        edit_header(optimizer=_settings(_put("rprop_max_step", float("inf")))),
        "optimizer setting rprop_max_step must be a finite number, got inf",
    ),
    "setting beyond float": (
        edit_header(optimizer=_settings(_put("epsilon", 10**400))),
        "optimizer setting epsilon must be a finite number",
    ),
    # shuffle_rng and shuffle_perm
    "rng shape (2,)": (
        set_array("shuffle_rng", lambda a: np.append(a, a)),
        r"'shuffle_rng' must have shape \(1,\), got \(2,\)",
    ),
    "rng a scalar": (
        set_array("shuffle_rng", lambda a: a.reshape(())),
        r"'shuffle_rng' must have shape \(1,\), got \(\)",
    ),
    "rng int64": (
        set_array("shuffle_rng", lambda a: a.view(np.int64)),
        "'shuffle_rng' must have dtype uint64, got int64",
    ),
    "rng float": (
        set_array("shuffle_rng", np.array([1.0])),
        "'shuffle_rng' must have dtype uint64, got float64",
    ),
    "perm repeats a sample": (
        set_array("shuffle_perm", with_value(0, 3)),  # perm[3] is not 3: see _state_file
        r"'shuffle_perm' must be a permutation of 0 \.\.\. 6",
    ),
    "perm out of range": (
        set_array("shuffle_perm", lambda a: np.where(a == 0, 7, a)),
        "'shuffle_perm' must be a permutation",
    ),
    "perm negative": (
        set_array("shuffle_perm", lambda a: a - 1),
        "'shuffle_perm' must be a permutation",
    ),
    "perm too short": (
        set_array("shuffle_perm", lambda a: a[:-1]),
        r"'shuffle_perm' must have shape \(7,\), got \(6,\)",
    ),
    "perm int32": (
        set_array("shuffle_perm", lambda a: a.astype(np.int32)),
        "'shuffle_perm' must have dtype int64, got int32",
    ),
    "perm uint64": (
        set_array("shuffle_perm", lambda a: a.astype(np.uint64)),
        "'shuffle_perm' must have dtype int64, got uint64",
    ),
    "perm float": (
        set_array("shuffle_perm", lambda a: a.astype(np.float64)),
        "'shuffle_perm' must have dtype int64, got float64",
    ),
    "shuffle arrays without header entry": (
        edit_header(shuffle=None),
        "unexpected array 'shuffle_(rng|perm)' .the header has no 'shuffle' entry",
    ),
    "header entry without rng": (
        remove_array("shuffle_rng"),
        "'shuffle_rng' is missing .the header's 'shuffle' entry needs it",
    ),
    "header entry without perm": (
        remove_array("shuffle_perm"),
        "'shuffle_perm' is missing .the header's 'shuffle' entry needs it",
    ),
    # the header's shuffle entry
    "samples disagree": (
        edit_header(shuffle={"samples": 8}),
        r"'shuffle_perm' must have shape \(8,\), got \(7,\)",
    ),
    "samples 0": (edit_header(shuffle={"samples": 0}), "shuffle samples must be an integer >= 1"),
    "samples text": (
        edit_header(shuffle={"samples": "7"}),
        "shuffle samples must be an integer >= 1",
    ),
    "samples float": (
        edit_header(shuffle={"samples": 7.0}),
        "shuffle samples must be an integer >= 1",
    ),
    "samples bool": (
        edit_header(shuffle={"samples": True}),
        "shuffle samples must be an integer >= 1",
    ),
    "samples beyond int64": (
        edit_header(shuffle={"samples": 1 << 63}),
        "shuffle samples must be an integer >= 1",
    ),
    "shuffle a number": (
        edit_header(shuffle=7),
        "shuffle must be an object with the one key 'samples'",
    ),
    "shuffle extra key": (
        edit_header(shuffle={"samples": 7, "seed": 1}),
        "shuffle must be an object with the one key 'samples'",
    ),
    # version 1 has no training state
    "version 1 with state": (edit_header(version=1), "unknown key 'optimizer'.*version 1"),
    "version 1 with shuffle": (
        lambda arrays: (
            edit_header(optimizer=None, version=1)(arrays),
            remove_array("optimizer_state")(arrays),
        ),
        "unknown key 'shuffle'.*version 1",
    ),
}


def _state_file(tmp_path: pathlib.Path) -> pathlib.Path:
    net = _net_with_state(optimizer="adam", n=7)
    assert net._shuffle.perm[0] != 3
    bpio.save(net, tmp_path / "valid.npz")
    return tmp_path / "valid.npz"


@pytest.mark.parametrize("mutate, match", list(BAD_STATE.values()), ids=list(BAD_STATE))
def test_invalid_state_is_refused(tmp_path, mutate, match):
    arrays = arrays_of(_state_file(tmp_path))
    bpio.load(tmp_path / "valid.npz")  # the unchanged file loads
    mutate(arrays)
    write_npz(tmp_path / "bad.npz", arrays)
    assert_refused(tmp_path / "bad.npz", match)


def test_a_huge_declared_shuffle_is_refused_before_reading(tmp_path):
    """A header and .npy header that agree on 10**15 samples, with 7 samples of
    data: refused from the sizes, before any allocation or read."""
    arrays = arrays_of(_state_file(tmp_path))
    edit_header(shuffle={"samples": 10**15})(arrays)
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            if name == "shuffle_perm":
                header = {"descr": "<i8", "fortran_order": False, "shape": (10**15,)}
                np.lib.format.write_array_header_1_0(buffer, header)
                buffer.write(array.astype("<i8").tobytes())
            else:
                np.lib.format.write_array(buffer, array, allow_pickle=False)
            archive.writestr(f"{name}.npy", buffer.getvalue())
    assert_refused(path, "'shuffle_perm' is truncated: its shape needs 8000000000000000 bytes")


class _Payload:
    """Unpickling this object creates the directory ``marker``: a stand-in for code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("member", ["optimizer_state", "shuffle_rng", "shuffle_perm"])
def test_loading_state_runs_no_code(tmp_path, member):
    marker = tmp_path / "code-ran"
    arrays = arrays_of(_state_file(tmp_path))
    arrays[member] = np.array([_Payload(str(marker))], dtype=object)
    write_npz(tmp_path / "hostile.npz", arrays)
    assert_refused(tmp_path / "hostile.npz", f"'{member}' holds Python objects")
    assert not marker.exists()


# ---------------------------------------------------------------- refused pickles
#: id: (damage to a pickle's state, pattern of the error message).
BAD_PICKLES = {
    "state dtype": (
        lambda s: s["arrays"].update(optimizer_state=s["arrays"]["optimizer_state"].astype("f4")),
        "'optimizer_state' must be a float64 array of shape",
    ),
    "state length": (
        lambda s: s["arrays"].update(optimizer_state=np.zeros(5)),
        r"'optimizer_state' must be a float64 array of shape \(53,\)",
    ),
    "state NaN": (
        lambda s: s["arrays"]["optimizer_state"].__setitem__(2, np.nan),
        "'optimizer_state' contains NaN",
    ),
    "perm not a permutation": (
        lambda s: s["arrays"]["shuffle_perm"].__setitem__(slice(None), 0),
        "'shuffle_perm' must be a permutation",
    ),
    "perm intp of another width": (
        lambda s: s["arrays"].update(shuffle_perm=s["arrays"]["shuffle_perm"].astype(np.int32)),
        "'shuffle_perm' must be a int64 array",
    ),
    "rng shape": (
        lambda s: s["arrays"].update(shuffle_rng=np.zeros(2, np.uint64)),
        r"'shuffle_rng' must be a uint64 array of shape \(1,\)",
    ),
    "state without header entry": (lambda s: s["header"].pop("optimizer"), "arrays must be"),
    "header entry without state": (lambda s: s["arrays"].pop("shuffle_rng"), "arrays must be"),
    "unknown optimizer": (
        lambda s: s["header"]["optimizer"].update(name="lbfgs"),
        "unknown optimizer 'lbfgs'",
    ),
    "missing setting": (
        lambda s: s["header"]["optimizer"]["settings"].pop("beta1"),
        "no 'beta1' entry",
    ),
}


@pytest.mark.parametrize("damage, match", list(BAD_PICKLES.values()), ids=list(BAD_PICKLES))
def test_inconsistent_pickled_state_is_refused(damage, match):
    state = bpio.pickle_state(_net_with_state(optimizer="adam", n=7))
    state["arrays"] = {k: v.copy() for k, v in state["arrays"].items()}
    bpio.from_pickle_state(state)  # the undamaged state unpickles
    damage(state)
    with pytest.raises(ValueError, match=f"cannot unpickle a backprop Network: .*{match}"):
        bpio.from_pickle_state(state)

"""Hardening: hostile files, threads, silent NaN, misaligned arrays and the last
contract gaps (issue 9).  Each hole found by probing the package has a test here
that failed before the fix."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import stat
import sys
import threading
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import backprop as bp
from backprop import io as bpio

X2 = np.array([[0.05, 0.10], [0.3, -0.7], [1.0, 0.0]])
T2 = np.array([[0.01, 0.99], [0.5, 0.5], [1.0, 0.0]])


def saved(tmp_path, net=None, name="net.npz"):
    path = tmp_path / name
    (net or bp.Network([2, 3, 2], seed=1)).save(path)
    return path


def npy_bytes(header: dict, data: bytes = b"") -> bytes:
    """A version 1.0 ``.npy`` file with this header dict (written by hand, so that
    it may declare what NumPy would never write)."""
    text = repr(header).encode("latin1")
    text += b" " * (63 - (len(text) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


def rewrite(path, change=None, compression: int = zipfile.ZIP_STORED) -> None:
    """Rewrite the archive at ``path``, each member's bytes through ``change(name,
    data)`` (unchanged without it), compressed by ``compression``."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(path, "w", compression) as archive:
        for member, data in members.items():
            archive.writestr(member, data if change is None else change(member, data))


@contextlib.contextmanager
def traced_peak():
    """Trace Python's and NumPy's allocations in the block; ``peak[0]`` is then
    the most bytes they held at once."""
    peak = [0]
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak[0] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def replace_member(path, name: str, payload: bytes | None, deflate_zeros: int = 0) -> None:
    """Rewrite the archive at ``path`` with member ``name`` replaced by ``payload``
    followed by ``deflate_zeros`` zero bytes (deflated, built incrementally)."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            if member != name:
                archive.writestr(member, data)
                continue
            info = zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as out:
                out.write(payload)
                block = bytes(1 << 20)
                for _ in range(deflate_zeros >> 20):
                    out.write(block)


# ============================================================ 1. hostile files
def test_a_negative_declared_shape_is_refused_before_inflating(tmp_path):
    """header.npy declares shape (-1,): it used to pass the size checks (-1 bytes)
    and inflate the whole member (4 GB from a small file)."""
    path = saved(tmp_path)
    header = {"descr": "|u1", "fortran_order": False, "shape": (-1,)}
    replace_member(path, "header.npy", npy_bytes(header), deflate_zeros=256 << 20)
    assert path.stat().st_size < 1 << 20
    started = time.perf_counter()
    with traced_peak() as peak, pytest.raises(ValueError, match=r"impossible shape \(-1,\)"):
        bpio.load(path)
    assert time.perf_counter() - started < 2.0
    assert peak[0] < 8 << 20


def test_a_shape_whose_size_overflows_is_refused(tmp_path):
    """(2**31, 2**32) float64: 2**66 bytes, which wraps to a negative int64."""
    path = saved(tmp_path, bp.Network([2, 2, 2], seed=1, bias="none"))
    with np.load(path) as archive:
        raw = json.loads(archive["header"].tobytes())
    raw["layers"] = [2**32, 2**31, 2]
    text = json.dumps(raw).encode()
    header = {"descr": "|u1", "fortran_order": False, "shape": (len(text),)}
    replace_member(path, "header.npy", npy_bytes(header, text))
    header = {"descr": "<f8", "fortran_order": False, "shape": (2**31, 2**32)}
    replace_member(path, "weights_0.npy", npy_bytes(header), deflate_zeros=8 << 20)
    started = time.perf_counter()
    with pytest.raises(ValueError, match=str(path.name)):
        bpio.load(path)
    assert time.perf_counter() - started < 2.0


def test_an_entry_declaring_more_than_it_can_inflate_to_is_refused(tmp_path):
    """The ZIP directory's uncompressed size is the author's claim: an entry that
    claims more than deflate can make of its compressed bytes is refused."""
    path = saved(tmp_path)
    rewrite(path)
    raw = bytearray(path.read_bytes())
    # the central directory entry of weights_0.npy: its uncompressed size field
    at = raw.rfind(b"PK\x01\x02", 0, raw.rfind(b"weights_0.npy"))
    raw[at + 24 : at + 28] = (10**9).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="declares 1000000000 bytes"):
        bpio.load(path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_link_to_a_device_is_refused_before_reading(tmp_path):
    path = tmp_path / "net.npz"
    os.symlink("/dev/zero", path)
    with pytest.raises(ValueError, match="it is a device, not a regular file"):
        bpio.load(path)


def test_a_directory_is_refused(tmp_path):
    (tmp_path / "net.npz").mkdir()
    with pytest.raises(ValueError, match="it is a directory, not a regular file"):
        bpio.load(tmp_path / "net.npz")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    path = tmp_path / "net.npz"
    os.mkfifo(path)
    outcome: list[BaseException] = []

    def attempt() -> None:
        try:
            bpio.load(path)
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(5.0)
    if worker.is_alive():  # unblock it before failing
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("load blocked on a FIFO")
    assert isinstance(outcome[0], ValueError)
    assert "it is a FIFO, not a regular file" in str(outcome[0])


def test_running_out_of_memory_is_a_value_error_naming_the_file(tmp_path, monkeypatch):
    """A network larger than the memory available is refused before its buffers
    are allocated (here: the memory available made small)."""
    from backprop import _validation

    path = saved(tmp_path, bp.Network([64, 64, 8], seed=1))
    monkeypatch.setattr(_validation, "available_memory", lambda: 4096)
    with pytest.raises(ValueError, match=r"net\.npz.*would need .*more than the 4 KiB"):
        bpio.load(path)


@pytest.mark.parametrize("deflated", [False, True], ids=["stored", "deflated"])
def test_loading_peaks_at_little_more_than_the_network(tmp_path, deflated):
    """Each array is read in blocks straight into the network's buffer: loading a
    network of P parameter bytes (with Adam's 2 P of state) allocates at most
    1.25 (P + state) plus a small constant."""
    net = bp.Network([512, 512, 4], seed=1)
    net.train(np.ones((1, 512)), np.zeros((1, 4)), optimizer="adam", learning_rate=1e-3)
    path = saved(tmp_path, net)
    if deflated:
        rewrite(path, compression=zipfile.ZIP_DEFLATED)
    size = 3 * net.params.nbytes
    with traced_peak() as peak:
        loaded = bpio.load(path)
    np.testing.assert_array_equal(loaded.params, net.params)
    assert peak[0] <= 1.25 * size + (2 << 20), (peak[0], size)


def test_many_entries_are_read_in_linear_time(tmp_path):
    path = tmp_path / "net.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(20000):
            archive.writestr(f"a{i}.npy", b"")
    started = time.perf_counter()
    with pytest.raises(ValueError, match="no 'header' array"):
        bpio.load(path)
    assert time.perf_counter() - started < 3.0


# ============================================================ 2. pickles
def test_an_inconsistent_pickle_never_reaches_the_engine(engine):
    """A parameter vector that does not match the layers used to be accepted and
    read past its end by ``forward``."""
    net = bp.Network([2, 3, 2], seed=1, engine=engine)
    state = bpio.pickle_state(net)
    state["arrays"]["weights_0"] = np.zeros((3, 1))
    with pytest.raises(ValueError, match="cannot unpickle"):
        bpio.from_pickle_state(state)
    with pytest.raises(ValueError, match="cannot unpickle"):
        net.__setstate__({"_sizes": (2, 3, 2), "_params": np.zeros(2)})


# ============================================================ 3. threads
def _held_in_training(net, X, T):
    """Start training ``net`` in a thread and hold it inside a callback; returns
    the thread, the event that releases it, and what the callback saw."""
    inside, release, seen = threading.Event(), threading.Event(), {}

    def callback(epoch, error):
        seen["forward"] = net.forward(X[0])  # the training thread itself may
        inside.set()
        release.wait(10.0)
        return False

    worker = threading.Thread(target=lambda: net.train(X, T, epochs=5, callback=callback))
    worker.start()
    assert inside.wait(10.0)
    return worker, release, seen


OTHER_THREAD_CALLS = {
    "train": lambda net: net.train(X2, T2),
    "train-lists": lambda net: net.train([0.05, 0.10], [0.01, 0.99]),
    "train-options": lambda net: net.train(X2, T2, shuffle=True),
    "forward": lambda net: net.forward(X2),
    "predict": lambda net: net.predict(X2),
    "total_error": lambda net: net.total_error(X2, T2),
    "trace": lambda net: net.trace(X2[0], T2[0]),
    "copy": lambda net: net.copy(),
    "pickle": lambda net: pickle.dumps(net),
    "weights": lambda net: net.weights,
    "params": lambda net: net.params,
    "reset_optimizer": lambda net: net.reset_optimizer(),
}


@pytest.mark.parametrize("call", list(OTHER_THREAD_CALLS.values()), ids=list(OTHER_THREAD_CALLS))
def test_another_thread_cannot_use_a_network_in_training(engine, call, tmp_path):
    net = bp.Network([2, 3, 2], seed=1, engine=engine)
    worker, release, seen = _held_in_training(net, X2, T2)
    try:
        params = net._params.copy()
        with pytest.raises(RuntimeError, match="trained in another thread"):
            call(net)
        with pytest.raises(RuntimeError, match="trained in another thread"):
            net.save(tmp_path / "net.npz")
        np.testing.assert_array_equal(net._params, params)
    finally:
        release.set()
        worker.join(10.0)
    assert seen["forward"].shape == (2,)
    assert not (tmp_path / "net.npz").exists()
    net.train(X2, T2)  # free again once the call returned
    net.forward(X2)


def test_the_fast_path_claims_the_network_too(core):
    """A plain call (the compiled fast path, GIL released) holds the network: a
    call from another thread meanwhile is refused, not run on half-updated weights."""
    net = bp.Network.tutorial(engine="cython")
    x, t = np.array([0.05, 0.10]), np.array([0.01, 0.99])
    worker = threading.Thread(target=lambda: net.train(x, t, epochs=3 * 10**6))
    worker.start()
    deadline = time.monotonic() + 10.0
    while net._owner.holder() == 0 and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.001)
    refused = []
    if worker.is_alive():
        for call in (lambda: net.train(x, t), lambda: net.forward(x), lambda: net.params):
            try:
                call()
            except RuntimeError as exc:
                refused.append(str(exc))
    worker.join(60.0)
    assert len(refused) == 3, "the run ended before the other thread could try"
    assert all("another thread" in message for message in refused)


def test_a_read_overlapped_by_training_is_refused(engine, tmp_path):
    """A read (forward, copy, save ...) runs with the GIL released: one that
    another thread's train call overlapped raises instead of returning a mix of
    old and new weights (rows of the output from neither network); nothing is
    held, so an interrupt cannot leave the network claimed."""
    net = bp.Network([2, 3, 2], seed=1, engine=engine)
    inside, release = threading.Event(), threading.Event()

    class Held:  # an input whose conversion, inside the read, waits
        def __array__(self, dtype=None, copy=None):
            inside.set()
            release.wait(10.0)
            return np.asarray(X2, dtype=dtype)

    seen = {}

    def read():
        try:
            seen["out"] = net.forward(Held())
        except RuntimeError as exc:
            seen["error"] = str(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert inside.wait(10.0)
        params = net._params.copy()
        net.train(X2, T2, shuffle=True)  # the other thread's read is in flight
        net.train(X2, T2)
        assert not np.array_equal(net._params, params)
    finally:
        release.set()
        reader.join(10.0)
    assert "out" not in seen
    assert "another thread began training this network during the read" in seen["error"]
    net.forward(X2)  # nothing left claimed


def test_a_callback_cannot_train_its_own_network(engine):
    net = bp.Network([2, 3, 2], seed=1, engine=engine)
    before = net.params
    errors = []

    def callback(epoch, error):
        try:
            net.train(X2, T2)
        except RuntimeError as exc:
            errors.append(str(exc))
        return False

    net.train(X2, T2, epochs=3, callback=callback)
    assert errors and "from inside its own train() call" in errors[0]
    assert not np.array_equal(net.params, before)  # the outer call trained


def test_two_networks_in_two_threads_still_train_in_parallel(engine):
    """Claims are per network: two threads on two networks both run (their results
    equal solo runs)."""
    nets = [bp.Network([2, 3, 2], seed=s, engine=engine) for s in (1, 2)]
    solo = [n.copy() for n in nets]
    for n in solo:
        n.train(X2, T2, epochs=200)
    threads = [threading.Thread(target=lambda n=n: n.train(X2, T2, epochs=200)) for n in nets]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60.0)
    for a, b in zip(nets, solo):
        np.testing.assert_array_equal(a.params, b.params)


# ============================================================ 4. silent NaN
def test_forward_that_overflows_raises_naming_the_sample(engine):
    net = bp.Network([2, 1], weights=[[[2, -2]]], biases=[[0]], engine=engine)
    with pytest.raises(bp.NonFiniteError, match="output of sample 0"):
        net.forward([1e308, 1e308])
    with pytest.raises(bp.NonFiniteError, match="output of sample 2"):
        net.forward([[0.0, 1.0], [1.0, 0.0], [1e308, 1e308]])
    with pytest.raises(FloatingPointError):
        net.predict([[0.0, 1.0], [1e308, 1e308]])
    assert net.forward([1.0, 1.0]).shape == (1,)


def test_softmax_over_overflowing_inputs_raises(engine):
    # nets of the second sample: inf, inf and 0; inf - inf in the softmax is NaN
    weights = [[[2.0, 2.0], [1.0, 1.0], [0.0, 0.0]]]
    net = bp.Network([2, 3], weights=weights, bias="none", activation="softmax", engine=engine)
    assert net.forward([[1e300, 1e300]]).shape == (1, 3)
    with pytest.raises(bp.NonFiniteError, match="sample 1"):
        net.forward([[0.0, 0.0], [1e308, 1e308]])


def test_trace_and_total_error_that_overflow_raise(engine):
    net = bp.Network([1, 1], weights=[[[1e200]]], bias="none", activation="linear", engine=engine)
    with pytest.raises(bp.NonFiniteError, match="error of sample 0"):
        net.total_error([[1.0]], [[0.0]])
    with pytest.raises(bp.NonFiniteError):
        net.trace([1.0], [0.0])


def test_float32_overflow_is_named_as_such(engine):
    net = bp.Network([1, 1], weights=[[[1e30]]], bias="none", activation="linear",
                     dtype=np.float32, engine=engine)  # fmt: skip
    with pytest.raises(bp.NonFiniteError, match="in float32"):
        net.forward([[1e10]])


# ============================================================ 5. alignment
def _misaligned(values: np.ndarray) -> np.ndarray:
    raw = bytearray(values.nbytes + 1)
    out = np.frombuffer(raw, dtype=values.dtype, count=values.size, offset=1)
    out = out.reshape(values.shape)
    out[...] = values
    assert not out.flags.aligned
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_misaligned_arrays_give_the_same_results(engine, dtype):
    net = bp.Network([2, 3, 2], seed=1, engine=engine, dtype=dtype)
    X, T = X2.astype(dtype), T2.astype(dtype)
    Xm, Tm = _misaligned(X), _misaligned(T)
    np.testing.assert_array_equal(net.forward(Xm), net.forward(X))
    assert net.total_error(Xm, Tm) == net.total_error(X, T)
    assert net.trace(Xm[0], Tm[0]).total_error == net.trace(X[0], T[0]).total_error
    other = net.copy()
    np.testing.assert_array_equal(net.train(Xm, Tm, epochs=3), other.train(X, T, epochs=3))
    np.testing.assert_array_equal(
        net.train(Xm, Tm, epochs=2, shuffle=True, seed=3, batch_size=2),
        other.train(X, T, epochs=2, shuffle=True, seed=3, batch_size=2),
    )
    np.testing.assert_array_equal(net.params, other.params)
    weights = [_misaligned(w) for w in net.weights]
    clone = bp.Network([2, 3, 2], weights=weights, biases=net.biases, engine=engine, dtype=dtype)
    np.testing.assert_array_equal(clone.params, net.params)


def test_an_ensemble_header_counting_more_members_than_arrays_is_refused_at_once(tmp_path):
    """The count is checked against the archive's entries before any work in it
    (a header of 10**9 members: no set of 10**9 names first)."""
    import io
    import json
    import zipfile

    header = json.dumps({"format": "backprop-ensemble", "version": 1, "members": 10**9})
    buffer = io.BytesIO()
    np.save(buffer, np.frombuffer(header.encode(), np.uint8))
    with zipfile.ZipFile(tmp_path / "e.npz", "w") as archive:
        archive.writestr("header.npy", buffer.getvalue())
    with traced_peak() as peak, pytest.raises(ValueError, match="counts 1000000000 members"):
        bp.load(tmp_path / "e.npz")
    assert peak[0] < 1 << 20


# ============================================================ 6. the contract
@pytest.mark.parametrize(
    "sizes, exc, match",
    [
        ([2**63, 1], ValueError, r"^sizes: a network of 9223372036854775809 parameters"),
        ([10**5, 10**5], ValueError, r"^sizes: a network of 10000100000 parameters would need"
                                     r" 74.5 GiB, more than the 16 GiB of memory available"),
        ({2: "a", 3: "b"}, TypeError, r"^sizes must be a sequence of integers"),
        (iter([2, 3]), TypeError, r"^sizes must be a sequence of integers"),
    ],
    ids=["2**63", "10**5-squared", "dict", "iterator"],
)  # fmt: skip
def test_impossible_sizes_are_refused_before_allocating(sizes, exc, match, monkeypatch):
    from backprop import _validation

    monkeypatch.setattr(_validation, "available_memory", lambda: 16 << 30)  # any machine
    with traced_peak() as peak, pytest.raises(exc, match=match):
        bp.Network(sizes)
    assert peak[0] < 1 << 20


@pytest.mark.parametrize(
    "epochs, match",
    [(2**63, r"^epochs must be at most"), (10**13, r"record_every=k")],
    ids=["2**63", "10**13"],
)
def test_impossible_epochs_are_refused_before_allocating(engine, epochs, match):
    net = bp.Network([2, 3, 2], seed=1, engine=engine)
    before = net.params
    with pytest.raises(ValueError, match=match):
        net.train(X2, T2, epochs=epochs)
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize(
    "options, match",
    [(dict(batch_size=64), r"^batch_size=64: training a network of 4,000,001 parameters and "
                           r"1,000,001 units would need .*, more than the 64 MiB"),
     (dict(optimizer="adam"), r"^optimizer='adam': training a network of 4,000,001 "
                              r"parameters"),
     (dict(shuffle=True), r"^sizes \[2, 1000000, 1\]: training a network of 4,000,001 ")],
    ids=["mini-batch", "adam", "sgd"],
)  # fmt: skip
def test_training_buffers_too_large_are_refused_before_allocating(engine, options, match,
                                                                  monkeypatch):  # fmt: skip
    """The gradient, the optimizer's state and the rows of a mini-batch are
    measured against the memory available before the call allocates any."""
    from backprop import _validation

    net = bp.Network([2, 1_000_000, 1], seed=0, engine=engine)
    before = net.params
    rng = np.random.default_rng(0)
    X, T = rng.uniform(-1, 1, (64, 2)), rng.uniform(0, 1, (64, 1))
    monkeypatch.setattr(_validation, "available_memory", lambda: 64 << 20)
    with traced_peak() as peak, pytest.raises(ValueError, match=match):
        net.train(X, T, 1, 0.1, **options)
    assert peak[0] < 1 << 20
    np.testing.assert_array_equal(net.params, before)


def test_an_impossible_ensemble_is_refused_before_allocating(monkeypatch):
    """Its members' parameters and Python objects (about 2 KB each) are counted."""
    from backprop import _validation

    monkeypatch.setattr(_validation, "available_memory", lambda: 16 << 30)
    with traced_peak() as peak, pytest.raises(ValueError, match=r"^n: an ensemble of"):
        bp.Ensemble([2, 3, 1], n=10**12)
    assert peak[0] < 1 << 20
    monkeypatch.setattr(_validation, "available_memory", lambda: 100 << 20)
    with pytest.raises(ValueError, match=r"^n: an ensemble of 100000 networks"):
        bp.Ensemble([2, 3, 1], n=100_000)  # 13 parameters: 10 MB, and 200 MB of objects


@pytest.mark.parametrize(
    "labels, exc, match",
    [
        (["a", "b", "c"], TypeError, r"^labels must be class indices \(integers\)"),
        ([np.nan, 0, 1], ValueError, r"^labels must be class indices: whole numbers"),
        ([0.5, 0, 1], ValueError, r"^labels must be class indices: whole numbers"),
        ([0, 1, 2], ValueError, r"^labels must be class indices from 0 to 1"),
        ([0, -1, 1], ValueError, r"^labels must be class indices from 0 to 1"),
        ([[0, 1], [1]], ValueError, r"^labels must be a 1-D array of class indices"),
        ([[[0]]], ValueError, r"^labels must be 1-D"),
        ([0, 1], ValueError, r"^labels must hold one class per sample \(3\)"),
    ],
    ids=["strings", "nan", "fraction", "too-large", "negative", "ragged", "3-D", "too-few"],
)
def test_accuracy_labels_are_checked(engine, labels, exc, match):
    net = bp.Network([2, 3, 2], seed=1, engine=engine)
    with pytest.raises(exc, match=match):
        net.accuracy(X2, labels)
    assert 0.0 <= net.accuracy(X2, [0, 1.0, 1]) <= 1.0  # whole floats are indices


def test_a_float32_rate_that_rounds_to_zero_is_refused(engine):
    net = bp.Network([2, 3, 2], seed=1, engine=engine, dtype=np.float32)
    before = net.params
    with pytest.raises(ValueError, match="learning_rate rounds to zero in float32"):
        net.train(X2, T2, learning_rate=1e-50)
    np.testing.assert_array_equal(net.params, before)


# ============================================================ 7. regression networks
@pytest.mark.parametrize("method", ["predict", "accuracy"])
def test_predict_and_accuracy_refuse_a_regression_network(engine, method):
    net = bp.Network([2, 3, 1], seed=1, output_activation="linear", loss="mse", engine=engine)
    args = (X2,) if method == "predict" else (X2, [0, 1, 0])
    with pytest.raises(ValueError, match=rf"^{method} needs a classifier.*use forward\(\)"):
        getattr(net, method)(*args)


# ============================================================ 8. saving
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_saving_over_a_file_keeps_its_permission_bits(tmp_path):
    path = saved(tmp_path)
    os.chmod(path, 0o600)
    bp.Network([2, 2], seed=3).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert bpio.load(path).layers == (2, 2)
    fresh = saved(tmp_path, name="fresh.npz")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX links and permission bits")
def test_saving_over_a_link_to_a_directory_replaces_the_link_not_its_mode(tmp_path):
    """The link is replaced by the file (as any link is); the file gets a new
    file's mode, not the directory's (r-x: a file its owner could not write)."""
    (tmp_path / "dir").mkdir(mode=0o555)
    os.symlink(tmp_path / "dir", tmp_path / "link")
    bp.Network([2, 2], seed=3).save(tmp_path / "link")
    assert stat.S_ISREG(os.lstat(tmp_path / "link").st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.lstat(tmp_path / "link").st_mode) == 0o666 & ~umask
    assert bpio.load(tmp_path / "link").layers == (2, 2)
    os.chmod(tmp_path / "dir", 0o755)


def test_saving_syncs_the_file_and_its_directory(tmp_path, monkeypatch):
    synced: list[bool] = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    saved(tmp_path)
    assert synced == [False, True]  # the data, then the directory after the rename


def test_a_failed_save_leaves_a_recognisable_temporary_file_at_most(tmp_path, monkeypatch):
    """A killed save can leave its temporary file: it is named after the target."""
    names = []
    real_replace = os.replace

    def replace(src, dst):
        names.append(os.path.basename(src))
        raise KeyboardInterrupt  # killed between the write and the rename

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        saved(tmp_path)
    monkeypatch.setattr(os, "replace", real_replace)
    assert names and names[0].startswith(".net.npz.backprop-tmp-")
    assert os.listdir(tmp_path) == []  # and a failure that Python sees removes it


# ============================================================ the fast path's history
def test_a_history_the_caller_keeps_is_never_reused(core):
    """The fast path reuses its last history array only when nothing else holds
    it: every history a caller keeps (or a view of one) stays as returned."""
    net = bp.Network.tutorial(engine="cython")
    x, t = np.array([0.05, 0.10]), np.array([0.01, 0.99])
    kept = [net.train(x, t) for _ in range(4)]
    errors = [h[0] for h in kept]
    assert errors == sorted(errors, reverse=True) and len(set(errors)) == 4
    assert len({id(h) for h in kept}) == 4
    view = net.train(x, t)[:]  # the array dropped, a view of it kept
    first = view[0]
    other = net.train(x, t)
    assert view[0] == first and not np.shares_memory(view, other)
    reshaped = net.train(x, t)
    reshaped.resize((1, 1), refcheck=False)  # in place (setting .shape: NumPy 2.5 deprecates it)
    again = net.train(x, t)
    assert again.shape == (1,) and reshaped.shape == (1, 1)
    assert not np.shares_memory(again, reshaped)


@pytest.mark.parametrize(
    "options",
    [
        dict(shuffle=False),
        dict(optimizer="sgd"),
        dict(batch_size=1),
        dict(record_every=1, report_every=1, seed=None, validation=None, callback=None),
        dict(progress=False, patience=None, checkpoint=None, checkpoint_every=None),
    ],
    ids=["shuffle", "optimizer", "batch_size", "reports", "files"],
)
def test_options_that_keep_a_call_plain_train_as_the_plain_call(engine, options):
    """Options given at the values of plain online SGD train exactly as the plain
    call (in the compiled engine, by its fast loop), training state included: a
    kept Adam state is dropped by both."""
    a, b = (bp.Network([2, 3, 2], seed=1, engine=engine) for _ in range(2))
    adam = dict(optimizer="adam", learning_rate=0.01)
    for net in (a, b):
        net.train(X2, T2, epochs=2, **adam)
    np.testing.assert_array_equal(a.train(X2, T2, epochs=3, **options), b.train(X2, T2, epochs=3))
    np.testing.assert_array_equal(a.train(X2, T2, **adam), b.train(X2, T2, **adam))
    np.testing.assert_array_equal(a.params, b.params)


# ============================================================ found by review
def test_a_refused_fast_path_call_keeps_the_optimizer_state(engine):
    """A plain call refused after the fast path tried it (non-finite data) leaves
    the training state as it was: Adam then continues exactly."""
    X, T = X2, T2
    adam = dict(optimizer="adam", learning_rate=1e-2, batch_size=2)
    one, split = (bp.Network([2, 3, 2], seed=0, engine=engine) for _ in range(2))
    one.train(X, T, epochs=4, **adam)
    split.train(X, T, epochs=2, **adam)
    for bad in ([np.inf, 0.0], [1e400, 0.0]):
        with pytest.raises(ValueError):
            split.train(np.array(bad), T[0])
    split.train(X, T, epochs=2, **adam)
    np.testing.assert_array_equal(one.params, split.params)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_saving_never_replaces_a_special_file(tmp_path):
    path = tmp_path / "pipe.npz"
    os.mkfifo(path)
    with pytest.raises(ValueError, match="it is not a regular file"):
        bp.Network([2, 2], seed=1).save(path)
    assert stat.S_ISFIFO(os.lstat(path).st_mode)
    assert os.listdir(tmp_path) == ["pipe.npz"]


def test_saving_under_a_long_name(tmp_path):
    path = tmp_path / ("n" * 240 + ".npz")
    bp.Network([2, 2], seed=1).save(path)
    assert bpio.load(path).layers == (2, 2)


@pytest.mark.skipif(not hasattr(__import__("socket"), "AF_UNIX"), reason="needs Unix sockets")
def test_a_socket_is_refused(tmp_path):
    import socket

    path = tmp_path / "net.npz"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(ValueError, match="it is a socket, not a regular file"):
            bpio.load(path)


@pytest.mark.parametrize(
    "name, damage, why",
    [
        ("adam", lambda s, m: s.__setitem__(m, -1.0), "a second moment is negative"),
        ("adam", lambda s, m: s.__setitem__(-1, 2.5), "step count must be a whole number"),
        ("adam", lambda s, m: s.__setitem__(-1, -3.0), "step count must be a whole number"),
        ("rprop", lambda s, m: s.__setitem__(0, -0.1), "a step size is negative"),
    ],
    ids=["adam-moment", "adam-fraction", "adam-negative", "rprop-step"],
)
def test_an_impossible_optimizer_state_is_refused(tmp_path, name, damage, why):
    net = bp.Network([2, 3, 2], seed=1)
    net.train(X2, T2, optimizer=name, learning_rate=0.01, batch_size=None)
    state = bpio.pickle_state(net)
    damage(state["arrays"]["optimizer_state"], net.params.size)
    with pytest.raises(ValueError, match=why):
        bpio.from_pickle_state(state)


@pytest.mark.parametrize("option", ["learning_rate", "momentum", "weight_decay"])
def test_a_number_too_large_for_a_float_is_a_value_error(engine, option):
    net = bp.Network([2, 3, 2], seed=1, engine=engine)
    with pytest.raises(ValueError, match=f"{option} must be finite"):
        net.train(X2, T2, optimizer="momentum", **{option: 10**400})


@pytest.mark.parametrize("byte_order", ["<", ">"], ids=["little", "big"])
def test_a_fortran_order_file_loads_in_place(tmp_path, byte_order):
    """Arrays stored column by column (Fortran order, as another writer may) are
    read straight into the network's buffer too: bit for bit, about 1x memory."""
    import io as _io

    net = bp.Network([600, 400, 3], seed=1)
    path = saved(tmp_path, net)

    def fortran(member: str, data: bytes) -> bytes:
        if not member.startswith("weights"):
            return data
        array = np.load(_io.BytesIO(data)).astype(f"{byte_order}f8")
        buffer = _io.BytesIO()
        np.lib.format.write_array(buffer, np.asfortranarray(array))
        return buffer.getvalue()

    rewrite(path, fortran)
    with traced_peak() as peak:
        loaded = bpio.load(path)
    np.testing.assert_array_equal(loaded.params, net.params)
    assert peak[0] <= 1.25 * net.params.nbytes + (1 << 20), (peak[0], net.params.nbytes)


def test_ctrl_c_inside_one_large_batch(core):
    """A full batch of many samples looks for signals between its chunks: Ctrl-C
    stops it within 0.2 s, the network at the batch's start (here: untouched)."""
    import signal

    rng = np.random.default_rng(0)
    X, T = rng.uniform(-1, 1, (3000, 300)), rng.uniform(0, 1, (3000, 10))
    net = bp.Network([300, 300, 10], seed=1, engine="cython")
    before = net.params
    sent = []

    def kill():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.3, kill)
    timer.start()
    try:
        with pytest.raises(bp.TrainingInterrupted) as info:
            net.train(X, T, epochs=1000, batch_size=None)
            time.sleep(5)
    finally:
        timer.cancel()
    delay = time.perf_counter() - sent[0]
    assert delay < 0.2, delay
    if info.value.epochs_completed == 0:
        np.testing.assert_array_equal(net.params, before)
    assert info.value.samples_completed == 0  # one batch: the epoch's start


class _Interrupting:
    """An array-like whose conversion is interrupted (Ctrl-C inside __array__)."""

    def __array__(self, dtype=None, copy=None):
        raise KeyboardInterrupt


class _ArrayLike:
    def __init__(self, values):
        self.values = np.asarray(values)

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)


def test_array_likes_take_the_fast_path_and_interrupts_in_them_propagate(engine):
    a, b = (bp.Network([2, 3, 2], seed=1, engine=engine) for _ in range(2))
    np.testing.assert_array_equal(
        a.train(_ArrayLike(X2), _ArrayLike(T2), epochs=2), b.train(X2, T2, epochs=2)
    )
    before = a.params
    with pytest.raises(KeyboardInterrupt):
        a.train(_Interrupting(), T2)
    np.testing.assert_array_equal(a.params, before)
    a.train(X2, T2)  # the network is free again


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(optimizer="adam", epsilon=1e-50), "epsilon rounds to zero in float32"),
        (dict(optimizer="rprop", rprop_max_step=1e39), "rprop_max_step must be representable"),
        (dict(optimizer="rprop", rprop_initial_step=1e39), "rprop_initial_step must be repr"),
        (dict(weight_decay=1e39), "weight_decay must be representable in float32"),
    ],
    ids=["epsilon", "rprop_max_step", "rprop_initial_step", "weight_decay"],
)
def test_float32_settings_that_round_away_are_refused(engine, options, match):
    net = bp.Network([2, 3, 2], seed=1, engine=engine, dtype=np.float32)
    before = net.params
    with pytest.raises(ValueError, match=match):
        net.train(X2, T2, **options)
    np.testing.assert_array_equal(net.params, before)


def test_an_optimizer_state_that_overflows_is_a_training_error(engine):
    """Adam's average of squared gradients can overflow while the weights and
    errors stay finite (every later step is then 0, and the state cannot be
    saved): a TrainingError, and the network as it was, state included."""
    rng = np.random.default_rng(0)
    X, T = rng.uniform(-1, 1, (20, 4)) * 1e78, rng.uniform(0, 1, (20, 2))
    net = bp.Network([4, 8, 2], seed=0, activation="linear", output_activation="linear",
                     loss="mse", engine=engine)  # fmt: skip
    net.train(X[:2] * 0, T[:2], 1, 1e-3, optimizer="adam")
    params, state = net.params, net._optimizer.state.copy()
    message = (r"^the adam optimizer's state overflowed float64 in epoch 2 \(counting from 0\) "
               r"or in one of the 2 before it: .*\(adam averages their squares\)")  # fmt: skip
    with pytest.raises(bp.TrainingError, match=message):
        net.train(X, T, 3, 1e-3, optimizer="adam")
    np.testing.assert_array_equal(net.params, params)
    np.testing.assert_array_equal(net._optimizer.state, state)
    # a callback: epoch by epoch, the epoch itself
    with pytest.raises(bp.TrainingError, match=r"float64 in epoch 0 \(counting from 0\): ") as info:
        net.train(X, T, 3, 1e-3, optimizer="adam", callback=lambda epoch, error: None)
    assert info.value.epoch == 0
    np.testing.assert_array_equal(net.params, params)


class _InterruptedAfterTake:
    """An owner whose ``take`` is followed at once by Ctrl-C (a signal arrives
    between the claim and the next line)."""

    def __init__(self, owner):
        self.owner = owner

    def take(self):
        self.owner.take()
        raise KeyboardInterrupt

    def __getattr__(self, name):
        return getattr(self.owner, name)


def test_ctrl_c_right_after_the_claim_leaves_nothing_claimed(engine):
    net = bp.Network([2, 3, 2], seed=1, engine=engine)
    owner = net._owner
    net._owner = _InterruptedAfterTake(owner)
    with pytest.raises(KeyboardInterrupt):
        net.train(X2, T2, shuffle=True)
    net._owner = owner
    assert owner.holder() == net._engine.FREE
    net.train(X2, T2, shuffle=True)
    ens = bp.Ensemble([2, 3, 2], n=2, seed=0, engine=engine)
    owner = ens._owner()
    ens.__dict__["_trainer"] = _InterruptedAfterTake(owner)
    with pytest.raises(KeyboardInterrupt):
        ens.train(X2, T2, 2)
    ens.__dict__["_trainer"] = owner
    assert owner.holder() == net._engine.FREE
    ens.train(X2, T2, 2)

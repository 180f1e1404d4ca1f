"""Long runs: Ctrl-C, resumable training, checkpoints, record_every, progress.

The interrupt tests send SIGINT to this process from a timer thread while a long
``train`` call runs, and check that ``TrainingInterrupted`` comes promptly, with
the network holding exactly the completed updates: a run of ``epochs_completed``
epochs plus the ``samples_completed`` samples of the next.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

import backprop as bp
from backprop import _reference

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="os.kill(SIGINT) interrupts the whole console on Windows"
)

#: How long after the signal the exception must arrive.
PROMPT = 0.2


def _problem(n_samples=24, sizes=(4, 16, 3), seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n_samples, sizes[0]))
    T = rng.uniform(0.1, 0.9, (n_samples, sizes[-1]))
    return X, T


def _interrupt(net, X, T, after=0.5, **options):
    """Train until SIGINT arrives ``after`` seconds in; (exception, delay)."""
    sent = []

    def kill():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(after, kill)
    # a lost signal would leave training running for good: a second one ends it,
    # and the test fails on the delay instead of hanging
    again = threading.Timer(after + 30, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    again.start()
    try:
        with pytest.raises(bp.TrainingInterrupted) as info:
            net.train(X, T, **options)
            time.sleep(5)  # training ended before the signal: let it arrive, fail
    finally:
        timer.cancel()
        again.cancel()
    return info.value, time.perf_counter() - sent[0]


def _replay(net0, X, T, stop, options):
    """``net0`` trained for the interrupted run's completed epochs, then for the
    completed samples of the next epoch (in the order that epoch visited them)."""
    ref = net0.copy()
    options = {k: v for k, v in options.items() if k not in ("epochs", "callback")}
    shuffle_seed = options.pop("seed", None)
    if stop.epochs_completed:
        ref.train(X, T, epochs=stop.epochs_completed, seed=shuffle_seed, **options)
    if stop.samples_completed:
        order = np.arange(len(X))
        if options.get("shuffle"):  # (the callers check that an epoch completed)
            state, order = [int(ref._shuffle.rng[0])], ref._shuffle.perm.tolist()
            _reference.shuffle(order, state)
            order = np.array(order)
        part = order[: stop.samples_completed]
        rest = {k: v for k, v in options.items() if k != "shuffle"}
        ref.train(X[part], T[part], epochs=1, **rest)
    return ref


PATHS = {
    "fast-path": dict(),
    "shuffled": dict(shuffle=True, seed=4),
    "mini-batches": dict(batch_size=5),
    "adam": dict(batch_size=4, optimizer="adam", learning_rate=0.01),
    "rprop-shuffled": dict(batch_size=None, optimizer="rprop", shuffle=True, seed=2),
    "callback": dict(callback=lambda epoch, error: None, report_every=50),
    "progress": dict(progress=True),
    # a schedule's rates computed ahead in chunks; the adaptive one epoch by epoch
    "exponential-schedule": dict(batch_size=3, schedule=bp.Schedule("exponential", gamma=0.9999)),
    "adaptive-schedule": dict(schedule=bp.Schedule("adaptive", n_iter_no_change=2, tol=1e-3)),
}


@pytest.mark.parametrize("path", PATHS)
def test_interrupt_keeps_completed_updates(engine, path, capsys):
    X, T = _problem()
    options = dict(PATHS[path])
    options.setdefault("learning_rate", 0.3)
    net = bp.Network([4, 16, 3], seed=1, engine=engine)
    net0 = net.copy()
    # long enough to outlast the signal on either engine; one history value per 1000
    # epochs on the checked paths, where record_every is an option like any other
    options["epochs"] = 10**7 if path == "fast-path" else 10**8
    if path != "fast-path":
        options["record_every"] = 1000
    stop, delay = _interrupt(net, X, T, **options)
    assert delay < PROMPT, f"{delay:.3f} s after the signal"
    assert isinstance(stop, KeyboardInterrupt)
    assert stop.epochs_completed > 0
    assert np.isfinite(net.params).all()
    k = options.get("record_every", 1)
    assert len(stop.history) == stop.epochs_completed // k
    ref = _replay(net0, X, T, stop, options)
    np.testing.assert_array_equal(net.params, ref.params)
    if "schedule" in options:  # its position counts exactly the completed epochs
        assert net._schedule.epochs == ref._schedule.epochs - bool(stop.samples_completed)
        assert net._schedule.rate == ref._schedule.rate or stop.samples_completed
    capsys.readouterr()


def test_interrupt_of_the_seed_loop():
    """The seed's register loop, a billion epochs asked for: stops within 0.2 s."""
    net = bp.Network.tutorial()
    x, t = np.array([0.05, 0.10]), np.array([0.01, 0.99])
    stop, delay = _interrupt(net, x, t, epochs=10**8)
    assert delay < PROMPT
    assert stop.epochs_completed > 0 and stop.samples_completed in (0, 1)
    ref = bp.Network.tutorial()
    ref.train(x, t, epochs=stop.epochs_completed + stop.samples_completed)
    np.testing.assert_array_equal(net.params, ref.params)
    assert stop.history.shape == (stop.epochs_completed,)


def test_other_errors_still_restore_the_network(engine):
    X, T = _problem()
    net = bp.Network([4, 16, 3], seed=1, engine=engine)
    before = net.params

    def fail(epoch, error):
        if epoch == 3:
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        net.train(X, T, epochs=10, callback=fail, optimizer="adam")
    np.testing.assert_array_equal(net.params, before)
    assert net._optimizer is None


# ------------------------------------------------------------ resumable state
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "rprop"]


@pytest.mark.parametrize("shuffle", [False, True], ids=["in-order", "shuffled"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_chunked_training_equals_one_call(engine, optimizer, shuffle):
    X, T = _problem(n_samples=10)
    options = dict(optimizer=optimizer, batch_size=3, learning_rate=0.05, shuffle=shuffle)
    one = bp.Network([4, 16, 3], seed=2, engine=engine)
    chunked = one.copy()
    seed = dict(seed=7) if shuffle else {}
    h_one = one.train(X, T, epochs=7, **options, **seed)
    h_chunks = [chunked.train(X, T, epochs=3, **options, **seed)]
    h_chunks += [chunked.train(X, T, epochs=e, **options) for e in (1, 3)]
    np.testing.assert_array_equal(chunked.params, one.params)
    np.testing.assert_array_equal(np.concatenate(h_chunks), h_one)


@pytest.mark.parametrize("shuffle", [False, True], ids=["in-order", "shuffled"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_checkpoint_then_load_continues_exactly(engine, optimizer, shuffle, tmp_path):
    X, T = _problem(n_samples=10)
    options = dict(optimizer=optimizer, batch_size=4, learning_rate=0.05, shuffle=shuffle)
    seed = dict(seed=5) if shuffle else {}
    whole = bp.Network([4, 16, 3], seed=3, engine=engine)
    path = tmp_path / "run.npz"
    part = whole.copy()
    h_whole = whole.train(X, T, epochs=9, **seed, **options)
    # a run stopped after 6 of 9 epochs, its checkpoint saved every 3
    part.train(X, T, epochs=6, checkpoint=path, checkpoint_every=3, **seed, **options)
    resumed = bp.load(path, engine=engine)
    h_rest = resumed.train(X, T, epochs=3, **options)
    np.testing.assert_array_equal(resumed.params, whole.params)
    np.testing.assert_array_equal(h_rest, h_whole[6:])


def test_a_plain_call_between_restarts_the_optimizer():
    X, T = _problem(n_samples=6)
    a = bp.Network([4, 16, 3], seed=4)
    b = a.copy()
    a.train(X, T, epochs=2, optimizer="adam", batch_size=3)
    b.train(X, T, epochs=2, optimizer="adam", batch_size=3)
    a.train(X, T)  # plain SGD
    b.train(X, T)
    b.reset_optimizer()
    a.train(X, T, epochs=2, optimizer="adam", batch_size=3)
    b.train(X, T, epochs=2, optimizer="adam", batch_size=3)
    np.testing.assert_array_equal(a.params, b.params)


def test_changed_settings_restart_the_optimizer(engine):
    X, T = _problem(n_samples=6)
    a = bp.Network([4, 16, 3], seed=4, engine=engine)
    b = a.copy()
    for net in (a, b):
        net.train(X, T, epochs=2, optimizer="momentum", momentum=0.9, batch_size=3)
    b.reset_optimizer()
    a.train(X, T, epochs=2, optimizer="momentum", momentum=0.5, batch_size=3)
    b.train(X, T, epochs=2, optimizer="momentum", momentum=0.5, batch_size=3)
    np.testing.assert_array_equal(a.params, b.params)


# ------------------------------------------------------------ history and memory
@pytest.mark.parametrize("every", [1, 3, 4, 10, 11])
def test_record_every_keeps_every_kth_epoch_and_the_last(engine, every):
    X, T = _problem(n_samples=5)
    full = bp.Network([4, 16, 3], seed=5, engine=engine)
    sparse = full.copy()
    h_full = full.train(X, T, epochs=10, shuffle=True, seed=1)
    h_sparse = sparse.train(X, T, epochs=10, shuffle=True, seed=1, record_every=every)
    kept = sorted({e for e in range(10) if (e + 1) % every == 0} | {9})
    np.testing.assert_array_equal(h_sparse, h_full[kept])
    np.testing.assert_array_equal(sparse.params, full.params)


def test_record_every_with_reports_in_chunks(engine):
    X, T = _problem(n_samples=5)
    full = bp.Network([4, 16, 3], seed=5, engine=engine)
    sparse = full.copy()
    h_full = full.train(X, T, epochs=20)
    h_sparse = sparse.train(
        X, T, epochs=20, record_every=6, callback=lambda e, err: None, report_every=7
    )
    np.testing.assert_array_equal(h_sparse, h_full[[5, 11, 17, 19]])


@pytest.mark.parametrize("stop_after", [2, 5, 13, 14])
def test_a_run_stopped_by_its_callback_keeps_its_last_epoch(engine, stop_after):
    """The run's last epoch is the one it stopped after: kept like the last of a
    run that ends (once)."""
    X, T = _problem(n_samples=5)
    full = bp.Network([4, 16, 3], seed=5, engine=engine)
    sparse = full.copy()
    h_full = full.train(X, T, epochs=stop_after + 1)
    h = sparse.train(X, T, epochs=40, record_every=5, callback=lambda e, err: e < stop_after)
    kept = sorted({e for e in range(stop_after + 1) if (e + 1) % 5 == 0} | {stop_after})
    np.testing.assert_array_equal(h, h_full[kept])


def test_a_run_stopped_at_its_last_epoch_is_a_run_that_ends(engine):
    X, T = _problem(n_samples=5)
    full = bp.Network([4, 16, 3], seed=5, engine=engine)
    stopped = full.copy()
    h_full = full.train(X, T, epochs=7, record_every=3)
    h = stopped.train(X, T, epochs=7, record_every=3, callback=lambda e, err: e != 6)
    np.testing.assert_array_equal(h, h_full)
    assert len(h) == 3  # epochs 2, 5 and 6 (the last)


@pytest.mark.parametrize("patience", [1, 4, 5, 7])
def test_a_run_stopped_by_patience_keeps_its_last_epoch(engine, patience):
    X, T = _problem(n_samples=8)
    Xv, Tv = X[:3], 1.0 - T[:3]  # (fits worse as the training data fit better)
    full = bp.Network([4, 16, 3], seed=5, engine=engine)
    sparse = full.copy()
    h_full = full.train(X, T, epochs=40, validation=(Xv, Tv))
    best, misses, last = np.inf, 0, None
    for epoch, v in enumerate(h_full.validation):  # where patience stops
        best, misses = (v, 0) if v < best else (best, misses + 1)
        if misses == patience:
            last = epoch
            break
    assert last is not None and last % 5 != 4  # (a stop that no k-th epoch records)
    h = sparse.train(X, T, epochs=40, record_every=5, validation=(Xv, Tv), patience=patience)
    kept = sorted({e for e in range(last + 1) if (e + 1) % 5 == 0} | {last})
    np.testing.assert_array_equal(h, h_full[kept])
    assert h.validation_epochs.tolist() == list(range(last + 1))


def test_a_history_that_cannot_fit_is_refused_before_training():
    net = bp.Network([2, 1], seed=0)
    before = net.params
    with pytest.raises(ValueError, match="record_every"):
        net.train([[0.0, 1.0]], [[1.0]], epochs=10**13)
    with pytest.raises(ValueError, match="epochs must be at most"):
        net.train([[0.0, 1.0]], [[1.0]], epochs=2**63)
    np.testing.assert_array_equal(net.params, before)


# ------------------------------------------------------------ validation, progress
def test_validation_errors_are_returned(engine):
    X, T = _problem(n_samples=12)
    net = bp.Network([4, 16, 3], seed=6, engine=engine)
    seen = []
    history = net.train(
        X[:8], T[:8], epochs=6, validation=(X[8:], T[8:]), report_every=2,
        callback=lambda epoch, error, val: seen.append((epoch, val)),
    )  # fmt: skip
    assert isinstance(history, bp.History) and history.shape == (6,)
    assert history.validation_epochs.tolist() == [1, 3, 5]
    assert [e for e, _ in seen] == [1, 3, 5]
    np.testing.assert_array_equal(history.validation, [v for _, v in seen])
    assert history.validation[-1] == net.total_error(X[8:], T[8:])


def test_progress_writes_to_stderr_and_changes_nothing(engine, capsys):
    """A run long enough to show the display (about a second of work, judged
    before it starts) shows it on stderr, and trains exactly as without it."""
    X, T = _problem(n_samples=50)
    quiet = bp.Network([4, 16, 3], seed=7, engine=engine)
    shown = quiet.copy()
    epochs = 20_000 if engine == "cython" else 6
    h_quiet = quiet.train(X, T, epochs=epochs)
    h_shown = shown.train(X, T, epochs=epochs, progress=True)
    np.testing.assert_array_equal(h_shown, h_quiet)
    np.testing.assert_array_equal(shown.params, quiet.params)
    err = capsys.readouterr().err
    if engine == "cython":  # (the twin's 6 epochs may end before a tenth of a second)
        assert f"{epochs}/{epochs}" in err


def test_bad_progress_and_checkpoint_arguments():
    net = bp.Network([2, 1], seed=0)
    with pytest.raises(TypeError, match="progress"):
        net.train([0.0, 1.0], [1.0], progress="yes")
    with pytest.raises(ValueError, match="checkpoint_every needs"):
        net.train([0.0, 1.0], [1.0], checkpoint_every=2)
    with pytest.raises(TypeError, match="checkpoint must be a file path"):
        net.train([0.0, 1.0], [1.0], checkpoint=3)
    with pytest.raises(ValueError, match="record_every"):
        net.train([0.0, 1.0], [1.0], record_every=0)


@pytest.mark.parametrize(
    "callback, message",
    [(3, "callback must be callable, got int"),
     (lambda: None, r"callback must take \(epoch, error\) .*<lambda>\(\) does not"),
     (lambda epoch: None, r"<lambda>\(epoch\) does not"),
     (lambda a, b, c, d: None, r"<lambda>\(a, b, c, d\) does not"),
     (lambda a, b, *, c: None, r"<lambda>\(a, b, \*, c\) does not")],
)  # fmt: skip
def test_a_callback_that_cannot_take_the_reports_is_refused_before_training(
    engine, callback, message
):
    net = bp.Network([2, 1], seed=0, engine=engine)
    before = net.params
    with pytest.raises(TypeError, match=message):
        net.train([0.0, 1.0], [1.0], epochs=3, callback=callback)
    np.testing.assert_array_equal(net.params, before)
    seen = []
    net.train([0.0, 1.0], [1.0], epochs=3, callback=lambda epoch, *rest: seen.append(epoch))
    net.train([0.0, 1.0], [1.0], epochs=3, callback=print)  # (no signature to read)
    assert seen == [0, 1, 2]


# ------------------------------------------------------------ found in review
def test_interrupt_of_a_tiny_network(engine):
    """A network of one weight looks for signals as often as a large one (the
    per-sample cost counts, not only the parameters)."""
    X = np.array([[0.5]])
    net = bp.Network([1, 1], bias="none", seed=0, engine=engine)
    stop, delay = _interrupt(
        net, X, X, epochs=10**8, optimizer="adam", learning_rate=1e-3, record_every=1000
    )
    assert delay < PROMPT
    assert stop.samples_completed == 0  # one sample per epoch: epochs end on a boundary


def test_interrupt_during_a_long_validation(core):
    rng = np.random.default_rng(3)
    Xv = rng.uniform(-1, 1, (1_500_000, 4))
    Tv = rng.uniform(0.1, 0.9, (1_500_000, 3))
    X, T = _problem()
    net = bp.Network([4, 16, 3], seed=1)
    stop, delay = _interrupt(net, X, T, epochs=10**6, validation=(Xv, Tv), record_every=100)
    assert delay < PROMPT


def test_another_exception_from_a_signal_handler_restores_the_network(engine):
    def handler(signum, frame):
        raise RuntimeError("from the handler")

    X, T = _problem()
    for options in ({}, {"validation": (X, T), "report_every": 10, "record_every": 100}):
        net = bp.Network([4, 16, 3], seed=1, engine=engine)
        before = net.params
        previous = signal.signal(signal.SIGINT, handler)
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            with pytest.raises(RuntimeError, match="from the handler"):
                net.train(X, T, epochs=10**7, **options)
                time.sleep(5)
        finally:
            timer.cancel()
            signal.signal(signal.SIGINT, previous)
        np.testing.assert_array_equal(net.params, before)
        assert net._optimizer is None


def test_a_bad_checkpoint_path_is_refused_before_training(engine, tmp_path):
    net = bp.Network([2, 1], seed=0, engine=engine)
    before = net.params
    for path in (tmp_path / "missing" / "run.npz", tmp_path, ""):
        with pytest.raises(ValueError, match="checkpoint"):
            net.train([0.0, 1.0], [1.0], epochs=10**6, checkpoint=path)
    np.testing.assert_array_equal(net.params, before)


def test_history_pickles_with_its_validation(engine):
    import pickle

    X, T = _problem(n_samples=6)
    net = bp.Network([4, 16, 3], seed=6, engine=engine)
    history = net.train(X, T, epochs=4, validation=(X, T))
    clone = pickle.loads(pickle.dumps(history))
    assert isinstance(clone, bp.History)
    np.testing.assert_array_equal(clone, history)
    np.testing.assert_array_equal(clone.validation, history.validation)
    np.testing.assert_array_equal(clone.validation_epochs, history.validation_epochs)


def test_validation_errors_count_in_the_memory_check():
    net = bp.Network([2, 1], seed=0)
    x, t = [0.0, 1.0], [1.0]
    with pytest.raises(ValueError, match="report_every"):
        net.train(x, t, epochs=10**12, record_every=10**12, validation=(x, t))


def test_a_huge_record_every_keeps_the_last_epoch(engine):
    net = bp.Network([2, 1], seed=0, engine=engine)
    history = net.train([0.0, 1.0], [1.0], epochs=5, record_every=10**30, shuffle=True)
    assert history.shape == (1,)


def test_the_shuffle_stream_stays_seeded_when_the_data_change(engine):
    X, T = _problem(n_samples=12)
    runs = []
    for _ in range(2):
        net = bp.Network([4, 16, 3], seed=2, engine=engine)
        net.train(X, T, epochs=2, shuffle=True, seed=1)
        net.train(X[:7], T[:7], epochs=2, shuffle=True)
        runs.append(net.params)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_ctrl_c_held_over_a_block_arrives_after_it():
    """``_signals.held`` (around thread-pool submissions): a SIGINT inside the
    block does not interrupt it, and raises KeyboardInterrupt when it ends; the
    handler is SIGINT's own again after."""
    from backprop import _signals

    before = signal.getsignal(signal.SIGINT)
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with _signals.held():
            signal.raise_signal(signal.SIGINT)
            steps.append("after the signal")
    assert steps == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("every", [None, 3])
def test_ctrl_c_while_a_checkpoint_is_written_keeps_the_run(engine, every, tmp_path,
                                                            monkeypatch):  # fmt: skip
    """Ctrl-C that arrives while the last (or a periodic) checkpoint is written waits
    for the write: the call ends with TrainingInterrupted, the network keeps its
    epochs and the file holds them (it rolled the whole run back)."""
    from backprop import io

    X, T = _problem(n_samples=6)
    options = dict(optimizer="adam", learning_rate=0.05, checkpoint=tmp_path / "c.npz")
    if every:
        options["checkpoint_every"] = every
    net = bp.Network([4, 16, 3], seed=2, engine=engine)
    reference = net.copy()
    reference.train(X, T, 6, **{k: v for k, v in options.items() if "checkpoint" not in k})
    real_save = io.save
    calls = []

    def save_with_ctrl_c(network, path):
        calls.append(path)
        if len(calls) == 1:
            signal.raise_signal(signal.SIGINT)  # arrives in the write
        real_save(network, path)

    monkeypatch.setattr(io, "save", save_with_ctrl_c)
    with pytest.raises(bp.TrainingInterrupted) as info:
        net.train(X, T, 6, **options)
    done = 3 if every else 6
    assert info.value.epochs_completed == done
    assert len(calls) == 1  # the file written holds the run as it ends: not written again
    if not every:
        np.testing.assert_array_equal(net.params, reference.params)
    loaded = bp.load(tmp_path / "c.npz")
    np.testing.assert_array_equal(loaded.params, net.params)


def test_a_callback_saves_a_file_that_resumes_like_a_checkpoint(engine, tmp_path):
    """``save`` (and ``copy``) inside a callback see the training state of the
    epoch just ended: optimizer moments, shuffling stream, schedule position."""
    X, T = _problem(n_samples=9)
    options = dict(optimizer="adam", learning_rate=0.02, batch_size=4, shuffle=True, seed=3,
                   schedule=bp.Schedule("step", step_size=2, gamma=0.7))  # fmt: skip
    whole = bp.Network([4, 6, 3], seed=0, engine=engine)
    whole.train(X, T, 8, **options)
    net = bp.Network([4, 6, 3], seed=0, engine=engine)
    copies = {}

    def callback(epoch, error):
        if epoch == 3:
            net.save(tmp_path / "cb.npz")
            copies["net"] = net.copy()

    net.train(X, T, 8, callback=callback, **options)
    resume = {k: v for k, v in options.items() if k != "seed"}
    for other in (bp.load(tmp_path / "cb.npz"), copies["net"]):
        other.train(X, T, 4, **resume)
        np.testing.assert_array_equal(other.params, whole.params)


@pytest.mark.parametrize("patience", [None, 50])
def test_a_checkpoint_is_written_once_per_epoch_it_falls_on(engine, patience, tmp_path,
                                                            monkeypatch):  # fmt: skip
    """checkpoint_every dividing epochs: the last periodic checkpoint is the
    last one (not written twice); with patience the best epoch's weights, put
    back at the end when it was not the last, are written again."""
    from backprop import io

    X, T = _problem(n_samples=6)
    saved = []
    real_save = io.save
    monkeypatch.setattr(io, "save", lambda net, path: (saved.append(1), real_save(net, path)))
    net = bp.Network([4, 16, 3], seed=2, engine=engine)
    options = dict(checkpoint=tmp_path / "c.npz", checkpoint_every=3)
    if patience:
        options.update(validation=(X[:3], T[:3]), patience=patience, learning_rate=5.0)
    history = net.train(X, T, 6, **options)
    best_is_last = not patience or np.argmin(history.validation) == 5
    assert len(saved) == (2 if best_is_last else 3)
    np.testing.assert_array_equal(bp.load(tmp_path / "c.npz").params, net.params)


def test_an_interrupt_pickles_whole():
    """A worker process's TrainingInterrupted reaches its parent with its figures
    (it could not be unpickled: the pool broke instead)."""
    import pickle

    X, T = _problem(n_samples=4)
    history = bp.Network([4, 16, 3], seed=0).train(X, T, 3, validation=(X, T))
    exc = bp.TrainingInterrupted("training interrupted after 3 epochs", history, 3, 2)
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is bp.TrainingInterrupted and str(again) == str(exc)
    assert (again.epochs_completed, again.samples_completed) == (3, 2)
    np.testing.assert_array_equal(again.history, history)
    np.testing.assert_array_equal(again.history.validation, history.validation)

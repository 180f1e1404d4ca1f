"""``bp.Ensemble`` and ``bp.sweep``: many networks of one shape trained together.

The central check: member k of an ensemble trained in one call has exactly the
bits of ``ens[k]`` trained alone as a ``Network`` with the same options, for
every activation, loss, bias mode and optimizer, in both engines, on shared
and per-member data, with one or two threads.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import backprop as bp

RNG = np.random.default_rng(3)
X = RNG.uniform(-1.0, 1.0, (14, 3))
T = RNG.uniform(0.1, 0.9, (14, 2))
LABELS = np.eye(2)[RNG.integers(0, 2, 14)]


def _alone(ens, k, X, T, epochs, **options):
    """Member k trained alone: (history, params)."""
    net = ens[k]
    h = net.train(X, T, epochs, **options)
    return np.asarray(h), net.params


def _assert_members_alone(before, after, history, X, T, epochs, per_member=(), **options):
    """Every member of ``after`` (``before`` trained) equals its copy trained alone."""
    for k in range(len(before)):
        opts = dict(options)
        for name in per_member:
            opts[name] = float(np.asarray(options[name])[k])
        xs = X[k] if X.ndim == 3 else X
        ts = T[k] if T.ndim == 3 else T
        h, params = _alone(before, k, xs, ts, epochs, **opts)
        np.testing.assert_array_equal(history[k], h, err_msg=f"member {k}")
        np.testing.assert_array_equal(after[k].params, params, err_msg=f"member {k}")


CASES = {
    "seed-shape": dict(sizes=[3, 2, 2], activation="logistic", loss="half_sse", bias="shared"),
    "tanh-softmax-ce": dict(
        sizes=[3, 5, 2], activation="tanh", output_activation="softmax", loss="cross_entropy"
    ),  # fmt: skip
    "relu-linear-mse": dict(
        sizes=[3, 18, 2], activation="relu", output_activation="linear", loss="mse"
    ),  # fmt: skip
    "leaky-logistic-ce-nobias": dict(
        sizes=[3, 4, 3, 2],
        activation="leaky_relu",
        output_activation="logistic",
        loss="cross_entropy",
        bias="none",
    ),  # fmt: skip
    "softmax-half-sse": dict(sizes=[3, 6, 2], output_activation="softmax", train_bias=False),
    # too many units for the kernels' blocks on the stack: the lanes on the heap
    "thin-and-wide-tanh": dict(sizes=[3, 42, 2], activation="tanh", bias="per-neuron"),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_members_train_as_they_would_alone(engine, case, dtype):
    options = dict(CASES[case])
    sizes = options.pop("sizes")
    targets = LABELS if options.get("output_activation") == "softmax" else T
    ens = bp.Ensemble(sizes, n=9, seed=4, engine=engine, dtype=dtype, **options)
    before = ens.copy()
    rates = np.linspace(0.05, 0.4, 9)
    history = ens.train(X, targets, 4, rates, n_jobs=2)
    assert history.shape == (9, 4)
    _assert_members_alone(before, ens, history, X, targets, 4, ("learning_rate",),
                          learning_rate=rates)  # fmt: skip


@pytest.mark.parametrize(
    "options",
    [
        dict(optimizer="adam", batch_size=4, shuffle=True, seed=2),
        dict(optimizer="nesterov", momentum=np.linspace(0.1, 0.9, 5), batch_size=None),
        dict(optimizer="rprop", batch_size=None),
        dict(update="sequential"),
        dict(alpha=0.1, schedule=bp.Schedule("step", step_size=2)),
        dict(optimizer="adam", record_every=2),
        dict(record_every=2),
    ],
    ids=[
        "adam-shuffled",
        "nesterov-per-member-momentum",
        "rprop",
        "sequential",
        "penalty",
        "adam-record-every",
        "lanes-record-every",
    ],  # fmt: skip
)
def test_every_train_option_works(engine, options):
    ens = bp.Ensemble([3, 4, 2], n=5, seed=7, engine=engine)
    before = ens.copy()
    per = [k for k, v in options.items() if np.ndim(v) == 1]
    history = ens.train(X, T, 3, 0.2, **options)
    _assert_members_alone(before, ens, history, X, T, 3, per, learning_rate=0.2, **options)


def test_per_member_data_is_a_bootstrap(engine):
    ens = bp.Ensemble([3, 4, 2], n=4, seed=1, engine=engine)
    before = ens.copy()
    picks = RNG.integers(0, len(X), (4, len(X)))
    Xb, Tb = X[picks], T[picks]
    history = ens.train(Xb, Tb, 3, 0.3)
    _assert_members_alone(before, ens, history, Xb, Tb, 3, learning_rate=0.3)


def test_the_lanes_and_the_threads_do_not_change_the_bits(core):
    """130 members (blocks of 64 lanes and a short one), 1 and 3 threads."""
    a = bp.Ensemble([2, 3, 2], n=130, seed=0, engine="cython")
    b = a.copy()
    ha = a.train(X[:, :2], T, 5, 0.5, n_jobs=1)
    hb = b.train(X[:, :2], T, 5, 0.5, n_jobs=3)
    np.testing.assert_array_equal(ha, hb)
    np.testing.assert_array_equal(a.weights[0], b.weights[0])


@pytest.mark.parametrize(
    ("sizes", "engine", "limited"),
    [([3, 4, 2], "cython", False), ([128, 128, 1], "cython", True),
     ([128, 128, 1], "python", False)],
)  # fmt: skip
def test_the_workers_hold_blas_to_one_thread_only_where_it_may_run(
    core, monkeypatch, sizes, engine, limited
):
    """Member by member (momentum), ``n_jobs`` workers hold BLAS to one thread
    when a layer is large enough for the compiled engine to hand its products
    to BLAS (``_core.BLAS_MIN_WEIGHTS`` weights), and only then."""
    from backprop import ensemble as module

    entered = []

    class Spy:
        def __enter__(self):
            entered.append(sizes)
            return self

        def __exit__(self, *exc):
            return None

    monkeypatch.setattr(module, "_one_blas_thread", Spy)
    assert (sizes[0] * sizes[1] >= core.BLAS_MIN_WEIGHTS) == (sizes == [128, 128, 1])
    ens = bp.Ensemble(sizes, n=2, seed=0, engine=engine)
    rng = np.random.default_rng(0)
    Xs, Ts = rng.uniform(0, 1, (3, sizes[0])), rng.uniform(0, 1, (3, sizes[-1]))
    ens.train(Xs, Ts, 1, 0.1, n_jobs=2, momentum=0.9)
    assert bool(entered) == limited


#: One hidden layer of logistic units, two inputs and one output (2-4 hidden
#: units) or two (2 hidden), under the half sum of squares or the mean squared
#: error: the kernels' fused loop over the lanes (a step in passes over a block
#: of 64 lanes), one instance per shape; 2-3-2, without one, takes the blocks.
TINY = {
    "2-2-2-shared-frozen": dict(sizes=[2, 2, 2], bias="shared", train_bias=False),
    "2-2-2-shared": dict(sizes=[2, 2, 2], bias="shared"),
    "2-2-2-per-neuron-mse": dict(sizes=[2, 2, 2], loss="mse"),
    "2-2-1-none": dict(sizes=[2, 2, 1], bias="none"),
    "2-2-1-per-neuron-frozen": dict(sizes=[2, 2, 1], train_bias=False),
    "2-3-1-shared-mse": dict(sizes=[2, 3, 1], bias="shared", loss="mse"),
    "2-4-1-per-neuron": dict(sizes=[2, 4, 1]),
    "2-3-2-per-neuron": dict(sizes=[2, 3, 2]),
}


@pytest.mark.parametrize("case", TINY)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("data", ["shared", "per-member"])
def test_tiny_networks_train_as_they_would_alone(simd_level, case, dtype, data):
    """67 members: a block of 64 lanes and a short one filled with copies."""
    options = dict(TINY[case])
    sizes = options.pop("sizes")
    ens = bp.Ensemble(sizes, n=67, seed=5, engine="cython", dtype=dtype,
                      activation="logistic", output_activation="logistic", **options)  # fmt: skip
    before = ens.copy()
    x, t = X[:, :2], T[:, : sizes[-1]]
    if data == "per-member":
        picks = RNG.integers(0, len(X), (67, len(X)))
        x, t = x[picks], t[picks]
    rates = np.linspace(0.1, 3.0, 67)
    history = ens.train(x, t, 5, rates)
    _assert_members_alone(before, ens, history, x, t, 5, ("learning_rate",), learning_rate=rates)


def test_a_diverging_tiny_member_is_named_and_nothing_changes(core):
    ens = bp.Ensemble([2, 2, 2], n=70, seed=0, engine="cython", activation="logistic",
                      output_activation="logistic")  # fmt: skip
    before = ens.weights
    rates = np.full(70, 0.5)
    rates[66] = 1e307  # (the logistic units keep the error finite; a weight overflows)
    with pytest.raises(bp.TrainingError, match="member 66: training diverged in epoch"):
        ens.train(X[:, :2], T * 1e3, 50, rates)
    for w0, w1 in zip(before, ens.weights):
        np.testing.assert_array_equal(w0, w1)


def test_chunked_calls_equal_one(core):
    a = bp.Ensemble([3, 4, 2], n=6, seed=2, engine="cython")
    b = a.copy()
    whole = a.train(X, T, 6, 0.3)
    parts = np.concatenate([b.train(X, T, 2, 0.3), b.train(X, T, 4, 0.3)], axis=1)
    np.testing.assert_array_equal(whole, parts)


def test_construction_seeds_and_shapes():
    ens = bp.Ensemble([2, 3, 1], n=3, seed=5, bias="shared")
    assert len(ens) == 3 and ens.layers == (2, 3, 1)
    for k in range(3):
        alone = bp.Network([2, 3, 1], seed=int(ens.seeds[k]), bias="shared")
        np.testing.assert_array_equal(ens[k].params, alone.params)
    assert [w.shape for w in ens.weights] == [(3, 3, 2), (3, 1, 3)]
    assert [b.shape for b in ens.biases] == [(3, 1), (3, 1)]
    assert ens.forward(X[:, :2]).shape == (3, len(X), 1)
    assert ens.total_error(X[:, :2], T[:, :1]).shape == (3,)
    np.testing.assert_allclose(
        ens.total_error(X[:, :2], T[:, :1])[1], ens[1].total_error(X[:, :2], T[:, :1])
    )
    assert not np.array_equal(ens[0].params, ens[1].params)
    assert np.array_equal(bp.Ensemble([2, 3, 1], n=3, seed=5).seeds, ens.seeds)
    ens[0]._params[:] = 0  # a copy: the member is untouched
    assert np.any(ens[0].params != 0)


def test_from_networks_and_files(tmp_path, engine):
    nets = [bp.Network([3, 4, 2], seed=s, engine=engine) for s in range(3)]
    ens = bp.Ensemble.from_networks(nets)
    ens.train(X, T, 2, 0.1, optimizer="adam")
    ens.save(tmp_path / "e.npz")
    loaded = bp.load(tmp_path / "e.npz", engine=engine)
    assert isinstance(loaded, bp.Ensemble) and len(loaded) == 3 and loaded.seeds is None
    again = pickle.loads(pickle.dumps(ens))
    h = ens.train(X, T, 2, 0.1, optimizer="adam")  # the optimizers' states continue
    for other in (loaded, again):
        np.testing.assert_array_equal(other.train(X, T, 2, 0.1, optimizer="adam"), h)
        np.testing.assert_array_equal(other.weights[1], ens.weights[1])


def test_a_damaged_ensemble_file_is_refused(tmp_path):
    import zipfile

    bp.Ensemble([2, 2, 1], n=2, seed=0).save(tmp_path / "e.npz")
    with (
        zipfile.ZipFile(tmp_path / "e.npz") as src,
        zipfile.ZipFile(tmp_path / "bad.npz", "w") as dst,
    ):
        for info in src.infolist():
            if info.filename != "member_1.npy":
                dst.writestr(info, src.read(info))
    with pytest.raises(ValueError, match="'member_1' is missing"):
        bp.load(tmp_path / "bad.npz")
    with (
        zipfile.ZipFile(tmp_path / "e.npz") as src,
        zipfile.ZipFile(tmp_path / "bad2.npz", "w") as dst,
    ):
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "member_0.npy":
                data = data[:-40] + b"\0" * 40  # the end of the member's archive
            dst.writestr(info, data)
    with pytest.raises(ValueError, match="member 0"):
        bp.load(tmp_path / "bad2.npz")


def test_bad_input_gets_the_networks_errors():
    ens = bp.Ensemble([3, 4, 2], n=3, seed=0)
    with pytest.raises(ValueError, match="array of 3 values"):
        ens.train(X, T, 1, [0.1, 0.2])
    with pytest.raises(ValueError, match="learning_rate must be finite and > 0"):
        ens.train(X, T, 1, [0.1, -0.2, 0.3])
    with pytest.raises(ValueError, match="momentum must be in"):
        ens.train(X, T, 1, 0.1, momentum=1.5)
    with pytest.raises(ValueError, match="T must have 2 values per sample"):
        ens.train(X, T[:, :1], 1, 0.1)
    with pytest.raises(ValueError, match=r"per member .* \(3, samples, 3\), got \(2, 14, 3\)"):
        ens.train(np.stack([X, X]), T, 1, 0.1)
    with pytest.raises(ValueError, match=r"X given per member .* got \(3, 14, 2\)"):
        ens.train(np.stack([X[:, :2]] * 3), T, 1, 0.1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        ens.train(X, T, 1, 0.1, batchsize=2)
    with pytest.raises(ValueError, match="n_jobs must be >= 1 or -1"):
        ens.train(X, T, 1, 0.1, n_jobs=0)
    with pytest.raises(ValueError, match="differs from networks"):
        bp.Ensemble.from_networks([bp.Network([3, 4, 2]), bp.Network([3, 5, 2])])
    for n in (0, -1):
        with pytest.raises(ValueError, match=f"n must be >= 1, got {n}"):
            bp.Ensemble([3, 4, 2], n=n)
    with pytest.raises(IndexError):
        ens[3]


@pytest.mark.parametrize("options", [dict(), dict(optimizer="momentum"), dict(progress=True)])
def test_zero_epochs_change_nothing(engine, options):
    ens = bp.Ensemble([3, 4, 2], n=3, seed=0, engine=engine)
    before = ens.weights
    assert ens.train(X, T, 0, 0.1, **options).shape == (3, 0)
    for w0, w1 in zip(before, ens.weights):
        np.testing.assert_array_equal(w0, w1)


@pytest.mark.parametrize("options", [dict(), dict(optimizer="momentum")], ids=["lanes", "each"])
def test_targets_too_large_name_the_member_on_every_path(engine, options):
    """Targets that the loss cannot square: a ValueError naming the member (as
    the member alone raises it), the ensemble unchanged, on both paths."""
    Xs, Ts = X[:4, :2], T[:4, :1]
    big = Ts * 1e200 + 1e200
    ens = bp.Ensemble([2, 3, 1], n=3, seed=0, activation="tanh", output_activation="linear",
                      engine=engine)  # fmt: skip
    before = ens.weights
    with pytest.raises(ValueError, match=r"^member 1: T: NaN or infinity .* too far apart") as e:
        ens.train(Xs, np.stack([Ts, big, Ts]), 3, 0.1, **options)
    assert e.value.member == 1 and e.value.args[0].endswith("the ensemble is unchanged")
    assert not isinstance(e.value, bp.TrainingError)
    for w0, w1 in zip(before, ens.weights):
        np.testing.assert_array_equal(w0, w1)
    with pytest.raises(bp.NonFiniteError, match=r"^member 2: NaN or infinity in the error"):
        ens.total_error(Xs, np.stack([Ts, Ts, big]))
    with pytest.raises(ValueError, match=r"^configuration 0: T: NaN or infinity"):
        bp.sweep(
            [2, 3, 1], Xs, big, {"learning_rate": [0.1, 0.2]}, epochs=2, activation="tanh",
            output_activation="linear", engine=engine, **options,
        )  # fmt: skip


@pytest.mark.parametrize("options", [dict(), dict(patience=2), dict(batch_size=2)])
def test_a_sweep_names_the_configuration_whose_validation_targets_are_too_large(options):
    Xs, Ts = X[:4, :2], T[:4, :1]
    huge = Ts.copy()
    huge[2, 0] = 1e300
    with pytest.raises(ValueError, match=r"^configuration 0: validation: NaN or infinity in the"):
        bp.sweep([2, 2, 1], Xs, Ts, {"learning_rate": [0.1, 0.5]}, epochs=5,
                 validation=(Xs, huge), **options)  # fmt: skip


def test_a_callback_must_take_the_member_first():
    ens = bp.Ensemble([3, 4, 2], n=2, seed=0)
    with pytest.raises(TypeError, match=r"callback must take \(k, epoch, error\)"):
        ens.train(X, T, 2, 0.1, callback=lambda epoch, error: None)


def test_forward_names_its_argument():
    ens = bp.Ensemble([3, 4, 2], n=3, seed=0)
    with pytest.raises(ValueError, match=r"^X must have 3 values per sample"):
        ens.forward(X[:, :2])
    with pytest.raises(ValueError, match=r"^X contains NaN"):
        ens.forward([[1.0, np.nan, 0.0]])
    bad = np.stack([X] * 3)
    bad[2, 5, 1] = np.inf
    with pytest.raises(ValueError, match=r"^X\[2\] contains NaN"):
        ens.forward(bad)
    one = ens.forward(X[0])  # one sample (1-D) for every member
    assert one.shape == (3, 1, 2)
    np.testing.assert_array_equal(one[1, 0], ens[1].forward(X[0]))


@pytest.mark.parametrize("options", [dict(), dict(batch_size=2)], ids=["lanes", "each"])
def test_a_diverging_member_is_named_and_nothing_changes(engine, options):
    ens = bp.Ensemble([3, 4, 2], n=4, seed=0, output_activation="linear", engine=engine)
    before = ens.weights
    rates = np.array([0.01, 0.01, 1e6, 0.01])
    with pytest.raises(bp.TrainingError, match="member 2: training diverged in epoch"):
        ens.train(X, T * 1e3, 50, rates, **options)
    for w0, w1 in zip(before, ens.weights):
        np.testing.assert_array_equal(w0, w1)


@pytest.mark.parametrize("options", [dict(), dict(batch_size=2)], ids=["lanes", "each"])
def test_a_failed_call_keeps_the_members_training_state(engine, options):
    """A call that raises leaves the optimizer's state and the schedule's place
    as they were (the side-by-side path cleared them): the next calls continue
    them as a copy that never saw the failed call does."""
    ens = bp.Ensemble([3, 4, 2], n=3, seed=1, output_activation="linear", engine=engine)
    adam = dict(optimizer="adam", schedule=bp.Schedule("step", step_size=2, gamma=0.5))
    ens.train(X, T, 3, 0.01, **adam)
    untouched = ens.copy()
    with pytest.raises(bp.TrainingError, match="member 1: training diverged"):
        ens.train(X, T * 1e3, 50, np.array([0.01, 1e6, 0.01]), **options)
    np.testing.assert_array_equal(ens.train(X, T, 3, 0.01, **adam),
                                  untouched.train(X, T, 3, 0.01, **adam))  # fmt: skip
    for w0, w1 in zip(untouched.weights, ens.weights):
        np.testing.assert_array_equal(w0, w1)


@pytest.mark.parametrize("options", [dict(), dict(batch_size=2)], ids=["lanes", "each"])
def test_a_divergence_warns_nothing_and_names_the_ensemble(engine, options):
    """Weights of both signs overflowing (inf - inf in a sum) raise the member's
    TrainingError, not a NumPy warning (an error under ``-W error``)."""
    ens = bp.Ensemble([2, 4, 1], n=4, seed=0, activation="linear", engine=engine)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(bp.TrainingError, match="member 2: .*the ensemble is unchanged$"):
            ens.train([[3.0, 3.0]], [[1.0]], 200, [0.01, 0.01, 5.0, 0.01], **options)


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize(
    "options", [dict(), dict(batch_size=2), dict(batch_size=2, validation=(X[:3, :2], T[:3, :1]))],
    ids=["lanes", "each", "reports"],
)  # fmt: skip
def test_the_member_named_is_the_one_that_diverges_first(engine, n_jobs, options):
    """The earliest divergence (by epoch, then member) is named, whichever member
    comes first in the ensemble or finishes first on the threads."""
    Xd, Td = [[3.0, 3.0], [1.0, 2.0]], [[1.0], [0.0]]
    rates = [0.01, 0.5, 0.01, 5.0, 0.01]
    ens = bp.Ensemble([2, 4, 1], n=5, seed=0, activation="linear", engine=engine)
    alone = {}
    for k, lr in enumerate(rates):
        try:
            ens[k].train(Xd, Td, 300, lr, **options)
        except bp.TrainingError as exc:
            alone[k] = exc.epoch
    first = min(alone, key=lambda k: (alone[k], k))
    assert first == 3 and alone[1] > alone[3]  # (the later member diverges first)
    with pytest.raises(bp.TrainingError) as info:
        ens.train(Xd, Td, 300, rates, n_jobs=n_jobs, **options)
    assert (info.value.member, info.value.epoch) == (first, alone[first])


def test_a_diverging_member_carries_its_index(engine):
    ens = bp.Ensemble([3, 4, 2], n=3, seed=0, output_activation="linear", engine=engine)
    with pytest.raises(bp.TrainingError) as info:
        ens.train(X, T * 1e3, 50, np.array([0.01, 1e6, 0.01]))
    assert info.value.member == 1


@pytest.mark.parametrize(
    "options",
    [dict(), dict(optimizer="momentum"), dict(checkpoint_every=3), dict(validation=(X[:5], T[:5]))],
    ids=["lanes", "each", "checkpoints", "one-chunk"],
)
def test_a_divergence_is_dated_from_the_call(tmp_path, engine, options):
    """The epoch named is the member's epoch of the whole call, whatever chunks
    the ensemble cut the call into (the member alone names the same one)."""
    options = dict(options)
    if "checkpoint_every" in options:
        options["checkpoint"] = tmp_path / "run.npz"
    ens = bp.Ensemble([3, 3, 2], n=3, seed=2, output_activation="linear", engine=engine)
    rates = np.array([0.01, 5.0, 0.01])
    with pytest.raises(bp.TrainingError) as info:
        ens.train(X * 20, T * 20, 200, rates, **options)
    alone = {k: v for k, v in options.items() if k not in ("checkpoint", "checkpoint_every")}
    with pytest.raises(bp.TrainingError) as lone:
        ens[1].train(X * 20, T * 20, 200, 5.0, **alone)
    assert lone.value.epoch > 3  # (late enough to fall in a later chunk)
    assert info.value.member == 1 and info.value.epoch == lone.value.epoch
    assert f"member 1: training diverged in epoch {lone.value.epoch} " in str(info.value)


# ------------------------------------------------ options that report
# (validation, patience, callbacks, checkpoints: per member, or the ensemble's)
XV, TV = X[:5], RNG.uniform(0.1, 0.9, (5, 2))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_validation_and_patience_act_per_member(engine, n_jobs):
    """Early stopping: each member stops on its own (validation targets unlike
    the training targets, a large rate: most stop early), keeps its best
    weights, and its history and validation errors are NaN after its last
    epoch; what it did is what it does alone."""
    ens = bp.Ensemble([3, 6, 2], n=5, seed=2, engine=engine)
    before = ens.copy()
    rates = np.linspace(0.5, 3.0, 5)
    h = ens.train(X, T, 40, rates, validation=(XV, TV), patience=2, report_every=2,
                  n_jobs=n_jobs)  # fmt: skip
    assert isinstance(h, bp.History) and h.shape == (5, 40)
    assert h.validation.shape == (5, 20)
    np.testing.assert_array_equal(h.validation_epochs, np.arange(1, 40, 2))
    stopped = 0
    for k in range(5):
        net = before[k]
        alone = net.train(X, T, 40, float(rates[k]), validation=(XV, TV), patience=2,
                          report_every=2)  # fmt: skip
        done, measured = len(alone), len(alone.validation)
        stopped += done < 40
        np.testing.assert_array_equal(h[k, :done], alone)
        assert np.isnan(h[k, done:]).all()
        np.testing.assert_array_equal(h.validation[k, :measured], alone.validation)
        assert np.isnan(h.validation[k, measured:]).all()
        np.testing.assert_array_equal(ens[k].params, net.params)
    assert stopped >= 2  # (the case is built so that members stop early)


def test_a_callback_hears_from_each_member(engine):
    heard = []

    def callback(k, epoch, error, validation_error):
        heard.append((k, epoch, error, validation_error))
        return not (k == 1 and epoch == 2)  # member 1 stops after epoch 2

    ens = bp.Ensemble([3, 4, 2], n=3, seed=1, engine=engine)
    before = ens.copy()
    h = ens.train(X, T, 6, 0.5, validation=(XV, TV), callback=callback, n_jobs=2)
    assert sorted((k, e) for k, e, _, _ in heard) == sorted(
        [(k, e) for k in (0, 2) for e in range(6)] + [(1, e) for e in range(3)]
    )
    assert np.isnan(h[1, 3:]).all() and np.isfinite(h[1, :3]).all()
    for k, epoch, error, validation_error in heard:
        assert h[k, epoch] == error
        assert h.validation[k, list(h.validation_epochs).index(epoch)] == validation_error
    alone = before[1]
    alone.train(X, T, 3, 0.5)
    np.testing.assert_array_equal(ens[1].params, alone.params)
    # two arguments after the member: no validation error asked for
    calls = []
    ens.train(X, T, 2, 0.5, callback=lambda k, epoch, error: calls.append(k))
    assert sorted(calls) == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_checkpoint_holds_the_whole_ensemble(tmp_path, engine, n_jobs):
    path = tmp_path / "run.npz"
    ens = bp.Ensemble([3, 4, 2], n=3, seed=5, engine=engine)
    once = ens.copy()
    h = ens.train(X, T, 7, 0.4, checkpoint=path, checkpoint_every=3, n_jobs=n_jobs)
    back = bp.load(path)
    assert isinstance(back, bp.Ensemble) and len(back) == 3
    for k in range(3):
        np.testing.assert_array_equal(back[k].params, ens[k].params)
    once.train(X, T, 7, 0.4)
    for k in range(3):  # chunks at the checkpoints' epochs train as one call
        np.testing.assert_array_equal(once[k].params, ens[k].params)
    assert h.shape == (3, 7)
    with pytest.raises(ValueError, match="checkpoint_every cannot be combined"):
        ens.train(X, T, 4, 0.4, checkpoint=path, checkpoint_every=2, validation=(XV, TV))
    with pytest.raises(ValueError, match="checkpoint_every needs a checkpoint"):
        ens.train(X, T, 4, 0.4, checkpoint_every=2)
    with pytest.raises(ValueError, match="checkpoint must be a file in an existing directory"):
        ens.train(X, T, 4, 0.4, checkpoint=tmp_path / "no" / "such.npz")


# ---------------------------------------------------------------- sweeps
GRID = {"learning_rate": [0.1, 0.8], "activation": ["tanh", "logistic"], "seed": [0, 1]}


def test_a_sweep_trains_each_configuration_as_alone(engine):
    Xv, Tv = X[:5], T[:5]
    result = bp.sweep([3, 4, 2], X, T, GRID, epochs=6, validation=(Xv, Tv), engine=engine,
                      n_jobs=2)  # fmt: skip
    assert len(result) == 8
    for i, row in enumerate(result.rows):
        net = bp.Network([3, 4, 2], seed=row["seed"], activation=row["activation"],
                         engine=engine)  # fmt: skip
        errors, validation = [], []
        for _ in range(6):
            errors.append(float(net.train(X, T, 1, row["learning_rate"])[0]))
            validation.append(net.total_error(Xv, Tv))
        assert row["train_error"] == errors[-1]
        assert row["validation_error"] == validation[-1]
        assert row["best_epoch"] == int(np.argmin(validation))
        assert row["best_error"] == min(validation)
        np.testing.assert_array_equal(result.network(i).params, net.params)
    assert result.best["best_error"] == min(r["best_error"] for r in result.rows)
    frame = pytest.importorskip("pandas") and result.to_pandas()
    assert list(frame["learning_rate"]) == [r["learning_rate"] for r in result.rows]


def test_sweep_errors():
    with pytest.raises(TypeError, match="unknown option 'learning_rates'"):
        bp.sweep([3, 4, 2], X, T, {"learning_rates": [0.1]})
    with pytest.raises(TypeError, match="both in the grid and as an option"):
        bp.sweep([3, 4, 2], X, T, {"optimizer": ["sgd"]}, optimizer="adam")
    with pytest.raises(ValueError, match="is empty"):
        bp.sweep([3, 4, 2], X, T, {"learning_rate": []})
    with pytest.raises(ValueError, match="learning_rate must be finite and > 0"):
        bp.sweep([3, 4, 2], X, T, {"learning_rate": [0.1, -1.0]})
    for name, value in [("callback", print), ("checkpoint", "a.npz"), ("checkpoint_every", 2),
                        ("progress", True)]:  # fmt: skip
        with pytest.raises(TypeError, match=f"'{name}' is not a sweep's option"):
            bp.sweep([3, 4, 2], X, T, {"learning_rate": [0.1]}, **{name: value})
        with pytest.raises(TypeError, match=f"'{name}' is not a sweep's option"):
            bp.sweep([3, 4, 2], X, T, {"learning_rate": [0.1], name: [value]})
    for off in (False, np.False_):
        rows = bp.sweep([3, 4, 2], X, T, {"learning_rate": [0.1]}, epochs=1, progress=off,
                        callback=None).rows  # fmt: skip
        assert len(rows) == 1
    with pytest.raises(ValueError, match="record_every must be >= 1"):
        bp.sweep([3, 4, 2], X, T, {"record_every": [2, 0]})
    # every configuration is checked before any trains: a bad value of the last
    # group stops the sweep at once, naming its configuration
    for grid, match in [
        ({"optimizer": ["adam", "bogus"]}, r"^configuration 1: optimizer must be one of"),
        ({"activation": ["tanh", "bogus"]}, r"^configuration 1: activation must be one of"),
        ({"sizes": [[3, 4, 2], [2, 4, 2]]}, r"^configuration 1: X must have 2 values per"),
        ({"momentum": [0.5, 1.5], "optimizer": ["momentum"]}, r"^configuration 1: momentum"),
    ]:
        started = time.perf_counter()
        with pytest.raises(ValueError, match=match):
            bp.sweep([3, 4, 2], X, T, grid, epochs=10**7, record_every=10**6)
        assert time.perf_counter() - started < 2.0  # (the first configuration never ran)
    with pytest.raises(TypeError, match=r"grid\['record_every'\] must be a list of values"):
        bp.sweep([3, 4, 2], X, T, {"record_every": 4})
    with pytest.raises(TypeError, match="client must be a dask.distributed.Client, got str"):
        bp.sweep([3, 4, 2], X, T, {"learning_rate": [0.1]}, client="localhost:8786")
    result = bp.sweep([3, 4, 2], X, T, {"learning_rate": [0.1, 0.2]})
    with pytest.raises(IndexError, match="configuration 2 out of range for a sweep of 2"):
        result.network(2)
    with pytest.raises(TypeError, match="configuration index must be an integer"):
        result.network("0")


def test_a_sweep_grids_over_sizes(engine):
    grid = {"sizes": [[3, 2, 2], [3, 6, 2]], "learning_rate": [0.1, 0.5]}
    result = bp.sweep(None, X, T, grid, epochs=4, engine=engine)
    assert [(r["sizes"], r["learning_rate"]) for r in result.rows] == [
        ([3, 2, 2], 0.1), ([3, 2, 2], 0.5), ([3, 6, 2], 0.1), ([3, 6, 2], 0.5)
    ]  # fmt: skip
    for i, row in enumerate(result.rows):
        net = bp.Network(row["sizes"], seed=i, engine=engine)
        h = net.train(X, T, 4, row["learning_rate"])
        assert row["train_error"] == h[-1]
        np.testing.assert_array_equal(result.network(i).params, net.params)


def test_a_sweep_keeps_every_kth_error_and_the_same_rows(engine):
    grid = {"learning_rate": [0.1, 0.6]}
    every = bp.sweep([3, 4, 2], X, T, grid, epochs=7, record_every=3, engine=engine)
    each = bp.sweep([3, 4, 2], X, T, grid, epochs=7, engine=engine)
    for a, b in zip(every.rows, each.rows):
        assert a["train_error"] == b["train_error"]
        assert a["best_epoch"] in (2, 5, 6)  # the recorded epochs
    for validation in (None, (X[:5], T[:5])):
        rows = bp.sweep([3, 4, 2], X, T, grid, epochs=7, validation=validation, report_every=2,
                        record_every=2, engine=engine).rows  # fmt: skip
        assert [r["train_error"] for r in rows] == [r["train_error"] for r in each.rows]


def test_a_sweep_with_patience_stops_each_network_on_its_own(engine):
    XV2, TV2 = X[:5], RNG.uniform(0.1, 0.9, (5, 2))
    grid = {"learning_rate": [0.5, 1.5, 3.0]}
    result = bp.sweep([3, 6, 2], X, T, grid, epochs=40, validation=(XV2, TV2), patience=2,
                      report_every=2, engine=engine)  # fmt: skip
    for i, row in enumerate(result.rows):
        net = bp.Network([3, 6, 2], seed=i, engine=engine)
        h = net.train(X, T, 40, row["learning_rate"], validation=(XV2, TV2), patience=2,
                      report_every=2)  # fmt: skip
        best = int(np.argmin(h.validation))
        assert row["best_epoch"] == h.validation_epochs[best]
        assert row["best_error"] == h.validation[best]
        assert row["validation_error"] == net.total_error(XV2, TV2)  # its best weights
        np.testing.assert_array_equal(result.network(i).params, net.params)


def test_a_diverging_configuration_is_named(engine):
    grid = {"output_activation": ["logistic", "linear"], "learning_rate": [0.01, 1e6]}
    for options in (dict(), dict(batch_size=2)):  # side by side, member by member
        with pytest.raises(bp.TrainingError, match="^configuration 3: training diverged"):
            bp.sweep([3, 4, 2], X, T * 1e3, grid, epochs=30, engine=engine, **options)
    # dated from the start of its run, however the sweep cut it (validation
    # every 2 epochs), and nothing said of a network left unchanged
    grid = {"learning_rate": [0.01, 0.02, 5.0]}
    for options in (dict(), dict(validation=(X[:5], T[:5] * 20), report_every=2),
                    dict(optimizer="momentum")):  # fmt: skip
        with pytest.raises(bp.TrainingError) as info:
            bp.sweep([3, 3, 2], X * 20, T * 20, grid, epochs=200, output_activation="linear",
                     engine=engine, **options)  # fmt: skip
        alone = bp.Network([3, 3, 2], seed=2, output_activation="linear", engine=engine)
        rest = {k: v for k, v in options.items() if k not in ("validation", "report_every")}
        with pytest.raises(bp.TrainingError) as lone:
            alone.train(X * 20, T * 20, 200, 5.0, **rest)
        assert info.value.epoch == lone.value.epoch > 2
        assert str(info.value).startswith(
            f"configuration 2: training diverged in epoch {lone.value.epoch} "
        )
        assert "unchanged" not in str(info.value)


def test_a_shuffled_sweep_is_reproducible(engine):
    grid = {"learning_rate": [0.1, 0.5], "batch_size": [1, 3]}
    a = bp.sweep([3, 4, 2], X, T, grid, epochs=3, shuffle=True, engine=engine)
    b = bp.sweep([3, 4, 2], X, T, grid, epochs=3, shuffle=True, engine=engine)
    assert a.rows == b.rows


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_sweep_on_a_dask_cluster_gives_the_same_rows():
    """Two worker processes on loopback: the same rows, bit for bit."""
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster, get_task_stream

    grid = {"learning_rate": [0.1, 0.3, 0.8], "seed": [0, 1, 2], "optimizer": ["sgd", "adam"],
            "shuffle": [False, True]}  # fmt: skip
    local = bp.sweep([3, 4, 2], X, T, grid, epochs=5, validation=(X[:4], T[:4]))
    with (
        LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        with get_task_stream(client) as tasks:
            remote = bp.sweep([3, 4, 2], X, T, grid, epochs=5, validation=(X[:4], T[:4]),
                              client=client)  # fmt: skip
        workers = {task["worker"] for task in tasks.data}
        assert len(workers) == 2, workers
    assert remote.rows == local.rows
    for i in range(len(local)):
        np.testing.assert_array_equal(remote.network(i).params, local.network(i).params)


def _interrupt(train, after):
    """Call ``train()`` and send SIGINT ``after`` seconds in: the
    ``TrainingInterrupted`` it raises, and its delay after the signal."""
    import os
    import signal
    import threading
    import time

    sent = []

    def kill():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(after, kill)
    timer.start()
    try:
        with pytest.raises(bp.TrainingInterrupted) as info:
            train()
            time.sleep(5)  # training ended before the signal: let it arrive, fail
    finally:
        timer.cancel()
    return info.value, time.perf_counter() - sent[0]


@pytest.mark.skipif(sys.platform == "win32", reason="os.kill(SIGINT) interrupts the console")
def test_an_interrupted_sweep_says_how_far_it_got(engine):
    import os
    import signal
    import threading

    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))  # (checks done)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt, match=r"^sweep interrupted: 0 of 3 configurations"):
            bp.sweep([2, 3, 2], X[:, :2], T, {"learning_rate": [0.1, 0.2, 0.3]}, epochs=10**8,
                     record_every=1000, n_jobs=1, engine=engine)  # fmt: skip
            time.sleep(5)  # the sweep ended before the signal: let it arrive, fail
    finally:
        timer.cancel()


@pytest.mark.parametrize("path", ["lanes", "each"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_interrupt_keeps_the_epochs_every_member_completed(core, n_jobs, path):
    """SIGINT 0.3 s into a long side-by-side run: TrainingInterrupted within 0.2 s,
    every member trained exactly ``epochs_completed`` epochs."""
    ens = bp.Ensemble([2, 3, 2], n=64, seed=0, engine="cython")
    start = ens.copy()
    options = {} if path == "lanes" else dict(optimizer="adam", batch_size=3)
    stop, delay = _interrupt(
        lambda: ens.train(X[:, :2], T, 10**8, 0.1, n_jobs=n_jobs, record_every=1000, **options),
        0.3,
    )
    assert delay < 0.2, f"{delay:.3f} s after the signal"
    assert stop.epochs_completed > 0
    assert stop.history.shape == (64, stop.epochs_completed // 1000)
    start.train(X[:, :2], T, stop.epochs_completed, 0.1, **options)
    for w0, w1 in zip(start.weights, ens.weights):
        np.testing.assert_array_equal(w0, w1)


@pytest.mark.skipif(sys.platform == "win32", reason="os.kill(SIGINT) interrupts the console")
@pytest.mark.parametrize(
    "options",
    [dict(validation=(X[:5], T[:5])), dict(callback=lambda k, epoch, error: None)],
    ids=["validation", "callback"],
)  # fmt: skip
def test_interrupt_of_a_reporting_run_on_threads(engine, options, capsys):
    """Options that report make each member's run one call in a worker thread,
    which sees no signal: Ctrl-C still stops them at their next report (within
    0.5 s here, not at the end of a run of a million epochs), the ensemble as
    it was."""
    ens = bp.Ensemble([3, 3, 2], n=6, seed=3, engine=engine)
    start = ens.copy()
    stop, delay = _interrupt(lambda: ens.train(X, T, 10**6, 0.1, n_jobs=2, **options), 0.4)
    assert delay < 0.5, f"{delay:.3f} s after the signal"
    assert stop.epochs_completed == 0
    for w0, w1 in zip(start.weights, ens.weights):
        np.testing.assert_array_equal(w0, w1)
    capsys.readouterr()


@pytest.mark.parametrize(
    "options",
    [dict(), dict(optimizer="adam", batch_size=3), dict(validation=(X[:5], T[:5]))],
    ids=["lanes", "each", "reports"],
)
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_progress_shows_one_display_and_changes_nothing(engine, options, n_jobs, capsys,
                                                        monkeypatch):  # fmt: skip
    """The ensemble shows one display for the whole call; its members train
    without one, and without a callback unless the options report (a callback
    makes a member's run report every epoch)."""
    path = "reports" if "validation" in options else "each" if options else "lanes"
    n, epochs = {"lanes": (64, 20_000), "each": (4, 2_000), "reports": (3, 400)}[path]
    if engine == "python":
        n, epochs = 3, 20
    quiet = bp.Ensemble([3, 3, 2], n=n, seed=3, engine=engine)
    shown = quiet.copy()
    started = time.perf_counter()
    h_quiet = quiet.train(X, T, epochs, 0.1, n_jobs=n_jobs, **options)
    took = time.perf_counter() - started
    calls = []
    train = bp.Network.train

    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return train(self, *args, **kwargs)

    monkeypatch.setattr(bp.Network, "train", spy)
    capsys.readouterr()
    h_shown = shown.train(X, T, epochs, 0.1, n_jobs=n_jobs, progress=True, **options)
    np.testing.assert_array_equal(h_shown, h_quiet)
    for w0, w1 in zip(quiet.weights, shown.weights):
        np.testing.assert_array_equal(w0, w1)
    err = capsys.readouterr().err
    if took > 0.3:  # (a call shorter than a tenth of a second shows nothing)
        assert f"{epochs}/{epochs}" in err
    assert not any(c.get("progress") for c in calls)
    if "validation" not in options:
        assert not any(c.get("callback") for c in calls)
    with pytest.raises(TypeError, match="progress must be True or False, got 'yes'"):
        shown.train(X, T, 1, 0.1, progress="yes")


def test_members_on_threads_find_blas_at_their_first_use(tmp_path):
    """BLAS is looked up at the first need: two workers needing it at once (the
    first mini-batches of a fresh process) both use it, as each member alone
    does.  It was once marked absent while the first looked, and the other
    trained without it (other round-off).  OpenBLAS on one thread, whose sgemm
    rounds as on one thread in the workers."""
    pytest.importorskip("scipy")
    script = tmp_path / "first.py"
    script.write_text(
        "import numpy as np, backprop as bp\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.uniform(-1, 1, (64, 128)).astype(np.float32)\n"
        "T = rng.uniform(0, 1, (64, 10)).astype(np.float32)\n"
        "ens = bp.Ensemble([128, 160, 10], 2, seed=1, activation='tanh', dtype=np.float32)\n"
        "alone = [ens[k] for k in range(2)]\n"
        "ens.train(X, T, 1, 0.05, batch_size=32, n_jobs=2)\n"
        "for k in range(2):\n"
        "    alone[k].train(X, T, 1, 0.05, batch_size=32)\n"
        "    assert np.array_equal(ens[k].params, alone[k].params), k\n"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.pop("BACKPROP_BLAS", None)
    for _ in range(2):
        result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                                env=env, cwd=tmp_path)  # fmt: skip
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", ["lanes", "each"])
def test_one_thread_trains_an_ensemble_at_a_time(engine, path):
    """A second train call from another thread is refused at once (both ran, and
    one's work was lost), as are reads of the ensemble while it trains."""
    import threading

    ens = bp.Ensemble([2, 3, 2], n=4, seed=0, engine=engine)
    before = ens.copy()
    stop = threading.Event()
    if path == "lanes":  # (plain online SGD: about 0.3 s here)
        epochs = 50_000 if engine == "cython" else 300
        options = dict(record_every=1000)
    else:  # (a callback: it ends when told)
        epochs = 10**7
        options = dict(optimizer="adam", batch_size=2, record_every=1000,
                       callback=lambda k, epoch, error: not stop.is_set())  # fmt: skip
    worker = threading.Thread(target=lambda: ens.train(X[:, :2], T, epochs, 0.1, **options))
    worker.start()
    try:
        deadline = time.perf_counter() + 10
        while ens._owner().holder() != ens._members[0]._engine.OTHER:
            assert time.perf_counter() < deadline and worker.is_alive()
            time.sleep(0.0005)
        with pytest.raises(RuntimeError, match="being trained in another thread"):
            ens.train(X[:, :2], T, 1, 0.1)
        for read in (lambda: ens.forward(X[:, :2]), lambda: ens.weights, ens.copy,
                     lambda: ens[0], lambda: ens.total_error(X[:, :2], T)):  # fmt: skip
            with pytest.raises(RuntimeError, match="this ensemble is being trained"):
                read()
    finally:
        stop.set()
        worker.join()
    assert not np.array_equal(ens.weights[0], before.weights[0])  # the first call trained


def test_overlapping_calls_share_one_hold_on_blas_threads():
    """Two ensembles' workers at once (threads of the caller): BLAS stays at one
    thread until the last call ends, and then is as it was before the first."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from backprop.ensemble import _one_blas_thread

    def blas_threads():
        return sorted(
            (i["filepath"], i["num_threads"])
            for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas"
        )

    before = blas_threads()
    if not before:
        pytest.skip("no BLAS library loaded")
    first, second = _one_blas_thread(), _one_blas_thread()
    first.__enter__()
    second.__enter__()
    assert all(n == 1 for _, n in blas_threads())
    first.__exit__(None, None, None)  # the first call ends: the second's workers still run
    assert all(n == 1 for _, n in blas_threads())
    second.__exit__(None, None, None)
    assert blas_threads() == before


def test_a_callback_in_a_worker_thread_may_read_its_ensemble(engine):
    """With n_jobs workers the callbacks run in the workers' threads: they may
    read the ensemble their call trains (another ensemble's call may not)."""
    ens = bp.Ensemble([3, 4, 2], n=4, seed=0, engine=engine)
    seen = []
    ens.train(X, T, 3, 0.1, n_jobs=2, callback=lambda k, epoch, error: seen.append(
        len(ens.weights)))  # fmt: skip
    assert seen and all(n == 2 for n in seen)

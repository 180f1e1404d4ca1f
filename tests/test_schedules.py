"""Learning-rate schedules: ``train(schedule=...)`` and ``backprop.Schedule``.

Each schedule's rates are checked through what training does (the step of plain
full-batch SGD is the rate times the gradient) against the formulas of its
source, typed here as scikit-learn and PyTorch write them; chunked training
equals one call bit for bit; the position survives ``copy``, pickles and files;
and ``Network.train`` and the estimators train as scikit-learn's
``MLPRegressor`` does under its schedules, from the same weights.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import backprop as bp
from backprop import io as bpio

RNG = np.random.default_rng(11)
X = RNG.uniform(-1.0, 1.0, (12, 3))
Y = RNG.uniform(-0.5, 0.5, (12, 2))

SCHEDULES = {
    "constant": "constant",
    "invscaling": bp.Schedule("invscaling", power_t=0.3),
    "adaptive": bp.Schedule("adaptive", n_iter_no_change=1, tol=0.02),
    "step": bp.Schedule("step", step_size=3, gamma=0.5),
    "exponential": bp.Schedule("exponential", gamma=0.8),
    "cosine": bp.Schedule("cosine", t_max=4, eta_min=0.01),
}


def regressor(engine: str = "cython", dtype=np.float64) -> bp.Network:
    return bp.Network([3, 4, 2], seed=5, output_activation="linear", engine=engine, dtype=dtype)


def _gradient(net: bp.Network) -> np.ndarray:
    """The full-batch mean gradient at ``net``'s weights, read from one plain SGD
    step of rate 1 on a copy (w - (w - g) = g to round-off)."""
    probe = net.copy()
    probe.reset_optimizer()
    probe.train(X, Y, learning_rate=1.0, batch_size=None)
    return net.params - probe.params


def _observed_rates(schedule, epochs: int, lr: float = 0.2, engine: str = "cython"):
    """The rate of each epoch, as full-batch SGD applied it (step / gradient),
    training one epoch per call; and each epoch's error."""
    net = regressor(engine)
    rates, errors = [], []
    for _ in range(epochs):
        before, g = net.params, _gradient(net)
        errors.append(float(net.train(X, Y, 1, lr, batch_size=None, schedule=schedule)[0]))
        step = before - net.params
        big = np.abs(g) > 1e-3
        ratios = step[big] / g[big]
        np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)  # one rate for all
        rates.append(float(np.median(ratios)))
    return np.array(rates), errors


# PyTorch's schedulers (torch/optim/lr_scheduler.py, get_lr), as it writes them:
# the rate of epoch e from the rate of epoch e - 1.
def _torch_step(lr, e, base, step_size, gamma):
    return lr if e == 0 or e % step_size != 0 else lr * gamma


def _torch_exponential(lr, e, base, gamma):
    return lr if e == 0 else lr * gamma


def _torch_cosine(lr, e, base, t_max, eta_min):
    if e == 0:
        return lr
    if (e - 1 - t_max) % (2 * t_max) == 0:
        return lr + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
    return (1 + math.cos(math.pi * e / t_max)) / (1 + math.cos(math.pi * (e - 1) / t_max)) * (
        lr - eta_min
    ) + eta_min


def _torch_rates(rule, epochs, base, **params):
    rates, lr = [], base
    for e in range(epochs):
        lr = rule(lr, e, base, **params)
        rates.append(lr)
    return np.array(rates)


@pytest.mark.parametrize(
    "name, rule, params",
    [
        ("step", _torch_step, dict(step_size=3, gamma=0.5)),
        ("exponential", _torch_exponential, dict(gamma=0.8)),
        ("cosine", _torch_cosine, dict(t_max=4, eta_min=0.01)),
    ],
)
def test_pytorch_schedules_give_pytorchs_rates(engine, name, rule, params):
    epochs = 11  # the cosine goes down to eta_min and back up
    expected = _torch_rates(rule, epochs, 0.2, **params)
    rates, _ = _observed_rates(bp.Schedule(name, **params), epochs, engine=engine)
    np.testing.assert_allclose(rates, expected, rtol=1e-9)


def test_the_cosine_schedule_is_its_closed_form():
    """PyTorch documents CosineAnnealingLR by its closed form; its recursive rule
    (ours) agrees to round-off over several periods."""
    net = regressor()
    schedule = bp.Schedule("cosine", t_max=5, eta_min=0.02)
    for e in range(1, 23):
        net.train(X, Y, 1, 0.3, batch_size=None, schedule=schedule)
        closed = 0.02 + (0.3 - 0.02) * (1 + math.cos(math.pi * e / 5)) / 2
        assert net._schedule.rate == pytest.approx(closed, rel=1e-12, abs=1e-15)


def test_invscaling_is_scikit_learns(engine):
    """scikit-learn's SGD optimizer: learning_rate_init / (t + 1) ** power_t after
    t samples (epoch e: t = e * samples)."""
    rates, _ = _observed_rates(SCHEDULES["invscaling"], 6, engine=engine)
    expected = [0.2 / (e * len(X) + 1) ** 0.3 for e in range(6)]
    np.testing.assert_allclose(rates, expected, rtol=1e-9)


def test_adaptive_is_scikit_learns(engine):
    """scikit-learn's rule on the epochs' mean sample error: more than
    ``n_iter_no_change`` epochs not improving on the best by ``tol`` divide the
    rate by 5 and restart the count."""
    schedule = bp.Schedule("adaptive", n_iter_no_change=1, tol=0.02)
    rates, errors = _observed_rates(schedule, 12, engine=engine)
    lr, best, bad, expected = 0.2, np.inf, 0, []
    for error in errors:
        expected.append(lr)
        loss = error / len(X)
        bad = bad + 1 if loss > best - 0.02 else 0
        best = min(best, loss)
        if bad > 1:
            lr, bad = lr / 5, 0
    assert len(set(expected)) >= 3  # the rule did act, more than once
    np.testing.assert_allclose(rates, expected, rtol=1e-9)


def test_adaptive_stops_dividing_at_scikit_learns_floor():
    net = regressor()
    schedule = bp.Schedule("adaptive", n_iter_no_change=1, tol=100.0)  # never improves
    net.train(X, Y, 60, 0.2, batch_size=None, schedule=schedule)
    # 0.2 / 5**6 = 1.28e-5 > 1e-6 is divided once more; 2.56e-6 once more; 5.12e-7 stays
    assert net._schedule.rate == pytest.approx(0.2 / 5**8, rel=1e-12)


# ---------------------------------------------------------------- resuming
@pytest.mark.parametrize("schedule", SCHEDULES, ids=list(SCHEDULES))
@pytest.mark.parametrize(
    "options",
    [
        dict(optimizer="sgd"),
        dict(optimizer="nesterov", batch_size=5, shuffle=True, seed=4),
        dict(optimizer="adam", batch_size=None, alpha=0.1),
    ],
    ids=["online-sgd", "nesterov-batches-shuffled", "adam-full-alpha"],
)
def test_chunked_training_equals_one_call(engine, schedule, options):
    """Calls of 1, 2, 4 and 3 epochs train exactly as one call of 10, bit for bit:
    the schedule's position carries over with the optimizer's state."""
    sched = SCHEDULES[schedule]
    one = regressor(engine)
    whole = one.train(X, Y, 10, 0.05, schedule=sched, **options)
    parts = regressor(engine)
    later = {k: v for k, v in options.items() if k != "seed"}  # the stream continues
    pieces = [parts.train(X, Y, 1, 0.05, schedule=sched, **options)]
    pieces += [parts.train(X, Y, n, 0.05, schedule=sched, **later) for n in (2, 4, 3)]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    np.testing.assert_array_equal(parts.params, one.params)


def test_engines_agree_under_every_schedule(assert_engines_agree, core):
    for name, sched in SCHEDULES.items():
        a, b = regressor("cython"), regressor("python")
        ha = a.train(X, Y, 9, 0.1, schedule=sched, optimizer="momentum", batch_size=4)
        hb = b.train(X, Y, 9, 0.1, schedule=sched, optimizer="momentum", batch_size=4)
        assert_engines_agree(ha, hb, name)
        assert_engines_agree(a.params, b.params, name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_position_survives_copies_pickles_and_files(tmp_path, engine, dtype):
    sched = SCHEDULES["adaptive"]
    net = regressor(engine, dtype)
    net.train(X, Y, 7, 0.1, schedule=sched, optimizer="momentum")
    bpio.save(net, tmp_path / "n.npz")
    twins = [net.copy(), pickle.loads(pickle.dumps(net)), bp.load(tmp_path / "n.npz", engine)]
    expected = net.train(X, Y, 5, 0.1, schedule=sched, optimizer="momentum")
    for twin in twins:
        got = twin.train(X, Y, 5, 0.1, schedule=sched, optimizer="momentum")
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(twin.params, net.params)


def test_the_schedule_starts_afresh_on_another_schedule_rate_or_reset():
    sched = SCHEDULES["step"]
    fresh = regressor()
    fresh.train(X, Y, 2, 0.1, schedule=sched)
    expected = fresh.params

    for interlude in (
        lambda n: n.train(X, Y, 1, 0.1),  # constant: a plain call
        lambda n: n.train(X, Y, 1, 0.1, schedule=bp.Schedule("step", step_size=2)),
        lambda n: n.reset_optimizer(),
    ):
        net = regressor()
        net.train(X, Y, 4, 0.1, schedule=sched)  # the rate has stepped down once
        net._params[:] = regressor().params  # back to the start, keeping the state
        interlude(net)
        net._params[:] = regressor().params
        net.train(X, Y, 2, 0.1, schedule=sched)
        np.testing.assert_array_equal(net.params, expected)
    net = regressor()
    net.train(X, Y, 4, 0.1, schedule=sched)
    net._params[:] = regressor().params
    net.train(X, Y, 2, 0.3, schedule=sched)  # another rate: a new start at 0.3
    twin = regressor()
    twin.train(X, Y, 2, 0.3, schedule=sched)
    np.testing.assert_array_equal(net.params, twin.params)


def test_the_file_holds_the_position_as_documented(tmp_path):
    net = regressor()
    net.train(X, Y, 4, 0.1, schedule=SCHEDULES["step"])
    bpio.save(net, tmp_path / "n.npz")
    with np.load(tmp_path / "n.npz", allow_pickle=False) as archive:
        import json

        header = json.loads(archive["header"].tobytes())
    assert header["version"] == 3
    assert header["schedule"] == {
        "name": "step",
        "params": {"step_size": 3, "gamma": 0.5},
        "learning_rate": 0.1,
        "epochs": 4,
        "samples": 4 * len(X),
        "rate": 0.1 * 0.5,
        "best": None,
        "bad": 0,
    }


@pytest.mark.parametrize(
    "schedule, epochs",
    [(bp.Schedule("cosine", t_max=6), 6), (bp.Schedule("exponential", gamma=1e-200), 3)],
)
def test_a_run_whose_rate_reached_0_saves_loads_and_resumes(tmp_path, schedule, epochs):
    """A cosine at its end (eta_min=0) and an exponential decay underflowed: the
    rate reached is 0; the file, a pickle and a checkpoint load and continue as
    the network would."""
    net = regressor()
    net.train(X, Y, epochs, 0.1, schedule=schedule, checkpoint=tmp_path / "c.npz")
    assert net._schedule.rate == 0.0
    net.save(tmp_path / "n.npz")
    again = [bp.load(tmp_path / "n.npz"), pickle.loads(pickle.dumps(net)),
             bp.load(tmp_path / "c.npz")]  # fmt: skip
    expected = net.copy().train(X, Y, 3, 0.1, schedule=schedule)
    for other in again:
        np.testing.assert_array_equal(other.train(X, Y, 3, 0.1, schedule=schedule), expected)


def test_an_adaptive_schedule_with_a_negative_best_error_saves_and_loads(tmp_path):
    """Cross-entropy with targets outside [0, 1] gives negative errors: the
    adaptive schedule's best error kept in the file is negative."""
    net = bp.Network([1, 1], activation="logistic", loss="cross_entropy", seed=0)
    net.train([[1.0], [2.0]], [[2.0], [2.0]], 5, 0.1, schedule="adaptive")
    assert net._schedule.best < 0
    net.save(tmp_path / "n.npz")
    for other in (bp.load(tmp_path / "n.npz"), pickle.loads(pickle.dumps(net))):
        assert other._schedule.best == net._schedule.best


@pytest.mark.parametrize(
    "entry, message",
    [
        (None, "keys"),
        (dict(name="warp"), "unknown schedule 'warp'"),
        (dict(params={"step_size": 3}), "exactly"),
        (dict(params={"step_size": 0, "gamma": 0.5}), "step_size must be >= 1"),
        (dict(params={"step_size": 3.0, "gamma": 0.5}), "not a number"),
        (dict(rate=-0.5), "rate must be a finite number >= 0"),
        (dict(learning_rate=0.0), "learning_rate must be a finite number > 0"),
        (dict(best="-3.25"), "best must be a finite number"),
        (dict(learning_rate="0.1"), "learning_rate must be"),
        (dict(epochs=-1), "epochs must be an integer >= 0"),
        (dict(bad=1.5), "bad must be an integer"),
    ],
)
def test_a_bad_schedule_entry_is_refused(tmp_path, entry, message):
    net = regressor()
    net.train(X, Y, 4, 0.1, schedule=SCHEDULES["step"])
    header, arrays = bpio._contents(net)
    if entry is None:
        header["schedule"] = {"name": "step"}
    else:
        header["schedule"].update(entry)
    with pytest.raises(ValueError, match=message):
        bpio.from_pickle_state({"header": header, "arrays": arrays, "engine": None})


def test_version_2_files_have_no_schedule(tmp_path):
    net = regressor()
    net.train(X, Y, 4, 0.1, schedule=SCHEDULES["step"])
    header, arrays = bpio._contents(net)
    header["version"] = 2
    with pytest.raises(ValueError, match="unknown key 'schedule'.*version 2"):
        bpio.from_pickle_state({"header": header, "arrays": arrays, "engine": None})
    del header["schedule"]
    loaded = bpio.from_pickle_state({"header": header, "arrays": arrays, "engine": None})
    assert loaded._schedule is None
    np.testing.assert_array_equal(loaded.params, net.params)


# ---------------------------------------------------------------- errors
def test_schedule_errors_name_the_argument():
    net = regressor()
    before = net.params
    with pytest.raises(ValueError, match="schedule must be one of"):
        net.train(X, Y, schedule="linear")
    with pytest.raises(TypeError, match="schedule must be a schedule's name"):
        net.train(X, Y, schedule=0.5)
    with pytest.raises(TypeError, match="needs step_size"):
        net.train(X, Y, schedule="step")
    with pytest.raises(TypeError, match="no parameter 'gamma'"):
        bp.Schedule("invscaling", gamma=0.5)
    with pytest.raises(ValueError, match="gamma must be finite and > 0"):
        bp.Schedule("exponential", gamma=0.0)
    with pytest.raises(ValueError, match="power_t must be >= 0"):
        bp.Schedule("invscaling", power_t=-1)
    with pytest.raises(TypeError, match="t_max must be an integer"):
        bp.Schedule("cosine", t_max=2.5)
    with pytest.raises(ValueError, match="optimizer='rprop' does not use"):
        net.train(X, Y, schedule="invscaling", optimizer="rprop")
    np.testing.assert_array_equal(net.params, before)
    assert net._schedule is None


def test_schedules_are_values():
    a = bp.Schedule("step", step_size=3)
    assert a == bp.Schedule("step", gamma=0.1, step_size=3) and hash(a) == hash(
        bp.Schedule("step", step_size=3, gamma=0.1)
    )
    assert a != bp.Schedule("step", step_size=4)
    assert repr(a) == "Schedule('step', step_size=3, gamma=0.1)"
    assert a.step_size == 3 and a.params == {"step_size": 3, "gamma": 0.1}
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(AttributeError):
        a.gamma = 0.2


def test_a_diverging_scheduled_call_leaves_the_network_as_it_was():
    net = regressor()
    net.train(X, Y, 3, 0.1, schedule=SCHEDULES["exponential"])
    params, kept = net.params, net._schedule
    with pytest.raises(bp.TrainingError, match="diverged"):
        net.train(X, Y, 3, 1e150, schedule=SCHEDULES["exponential"])
    np.testing.assert_array_equal(net.params, params)
    assert net._schedule is kept


# ---------------------------------------------------------------- scikit-learn
def _mlp_from(net: bp.Network, **options):
    """An MLPRegressor holding ``net``'s weights, its run's counters at zero, so
    that a warm ``fit`` trains from where ``net`` stands."""
    neural = pytest.importorskip("sklearn.neural_network")
    settings = dict(hidden_layer_sizes=(4,), activation="logistic", shuffle=False)
    sk = neural.MLPRegressor(solver="sgd", **{**settings, **options})
    sk.partial_fit(X, Y)  # to build its arrays; the weights are set next
    sk.coefs_ = [w.T.copy() for w in net.weights]
    sk.intercepts_ = [b.copy() for b in net.biases]
    sk.t_, sk.n_iter_, sk._no_improvement_count, sk.best_loss_ = 0, 0, 0, np.inf
    sk.loss_curve_ = []
    return sk.set_params(warm_start=True)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", ["invscaling", "adaptive"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_network_schedules_train_as_mlpregressor(name, momentum):
    """MLPRegressor (SGD, alpha > 0, batches of 5 with a shorter last one) under
    its schedule, from the same weights, ends where ``train(schedule=...)`` does.
    The tolerance is large enough that no epoch improves: "adaptive" divides the
    rate every 3 epochs, in both."""
    epochs, rate = 10, 0.05
    options = dict(alpha=0.2, batch_size=5, learning_rate_init=rate, power_t=0.4,
                   momentum=momentum, nesterovs_momentum=True, tol=1e3,
                   n_iter_no_change=2 if name == "adaptive" else 100, max_iter=epochs)  # fmt: skip
    net = regressor()
    sk = _mlp_from(net, learning_rate=name, **options).fit(X, Y)
    assert sk.n_iter_ == epochs
    schedule = (
        bp.Schedule("adaptive", n_iter_no_change=2, tol=1e3)
        if name == "adaptive"
        else bp.Schedule("invscaling", power_t=0.4)
    )
    net.train(X, Y, epochs, rate, batch_size=5, alpha=0.2, schedule=schedule,
              optimizer="nesterov" if momentum else "sgd", momentum=momentum)  # fmt: skip
    for ours, theirs in zip(net.weights, sk.coefs_):
        np.testing.assert_allclose(ours, theirs.T, rtol=1e-12, atol=1e-15)
    for ours, theirs in zip(net.biases, sk.intercepts_):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert sk._optimizer.learning_rate == pytest.approx(net._schedule.rate, rel=1e-15)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", ["invscaling", "adaptive"])
def test_estimator_schedules_train_as_mlpregressor(name):
    """BackpropRegressor(learning_rate=...) and MLPRegressor from the same weights:
    a warm fit (the rate starts again at learning_rate_init while t_ goes on, as
    scikit-learn's does), then partial_fit calls that continue the rate."""
    pytest.importorskip("sklearn")
    from backprop.sklearn import BackpropRegressor

    options = dict(hidden_layer_sizes=(4,), activation="logistic", alpha=0.05, batch_size=5,
                   learning_rate=name, learning_rate_init=0.05, power_t=0.4, momentum=0.9,
                   nesterovs_momentum=True, shuffle=False, tol=1e3, n_iter_no_change=2,
                   max_iter=2)  # fmt: skip
    ours = BackpropRegressor(optimizer="sgd", random_state=0, **options).fit(X, Y)
    sk = _mlp_from(ours.network_, **options)
    sk.t_, sk._no_improvement_count = ours.t_, ours._no_improvement_count
    sk.best_loss_ = ours.best_loss_
    ours.set_params(warm_start=True, max_iter=9).fit(X, Y)
    sk.set_params(max_iter=9).fit(X, Y)
    for _ in range(4):
        ours.partial_fit(X, Y)
        sk.partial_fit(X, Y)
    assert ours.t_ == sk.t_ and ours.n_iter_ == sk.n_iter_
    for a, b in zip(ours.coefs_, sk.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    for a, b in zip(ours.intercepts_, sk.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert ours._learning_rate == pytest.approx(sk._optimizer.learning_rate, rel=1e-15)

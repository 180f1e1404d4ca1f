"""``backprop.sklearn``: scikit-learn's estimator checks, labels and targets of
every kind, the fitted attributes against scikit-learn's own ``MLPClassifier``
and ``MLPRegressor``, stopping, warm starts and ``partial_fit``, pipelines,
searches in parallel and on a Dask cluster.

The estimators train the default engine, so the suite's run under
``BACKPROP_ENGINE=python`` runs them on the pure-Python twin: every network
here is small.
"""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import log_loss, mean_squared_error  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import backprop as bp  # noqa: E402
from backprop.sklearn import BackpropClassifier, BackpropRegressor  # noqa: E402

#: Short training runs: the checks fit on small data sets, and ask for accuracy
#: or R^2 only on easy ones.
SMALL = dict(hidden_layer_sizes=(8,), learning_rate_init=0.03, max_iter=15)

#: Runs that stop at max_iter on purpose warn that they did not converge; that
#: warning is what ``test_max_iter_warns`` checks, and noise elsewhere.
quiet = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: Searches in other processes start them (seconds), whichever engine trains; the
#: suite's run on the pure-Python twin leaves them to the run on the compiled one.
other_processes = pytest.mark.skipif(
    bp.default_engine() != "cython",
    reason="process pools and Dask workers are tested once, in the compiled engine's run",
)

#: The searches' grid: learning rates and hidden layers, four candidates.
GRID = {"learning_rate_init": [0.003, 0.03], "hidden_layer_sizes": [(3,), (6,)]}


def _iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _regression(n_targets: int = 1) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(
        n_samples=120, n_features=4, n_targets=n_targets, noise=0.1, random_state=0
    )
    return X, y / np.std(y, axis=0)


# ------------------------------------------------------ scikit-learn's checks
@quiet
@parametrize_with_checks(
    [BackpropClassifier(**SMALL), BackpropRegressor(**SMALL)], xfail_strict=True
)
def test_scikit_learn_estimator_checks(estimator, check):
    """Every check of ``check_estimator``, none expected to fail."""
    check(estimator)


def test_importing_backprop_does_not_import_scikit_learn():
    code = "import sys, backprop; assert 'sklearn' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------ labels and targets
@quiet
@pytest.mark.parametrize(
    "labels",
    [
        np.array(["setosa", "versicolor", "virginica"]),
        np.array([3, -1, 7]),
        np.array([1.0, 2.0, 4.0]),
    ],
    ids=["strings", "integers", "floats"],
)
def test_multiclass_labels_of_any_kind(labels):
    X, y = _iris()
    y = labels[y]
    clf = BackpropClassifier((8,), max_iter=60, learning_rate_init=0.03, random_state=0)
    clf.fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3
    predicted = clf.predict(X)
    assert predicted.dtype == y.dtype and set(predicted) <= set(labels)
    assert clf.score(X, y) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], predicted)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-12)


@quiet
@pytest.mark.parametrize(
    "labels", [np.array([False, True]), np.array(["no", "yes"])], ids=["bools", "strings"]
)
def test_binary_labels_train_one_logistic_output(labels):
    X, y = _iris()
    y = labels[(y == 0).astype(int)]
    clf = BackpropClassifier((4,), max_iter=30, learning_rate_init=0.03, random_state=0)
    clf.fit(X, y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    assert clf.network_.layers == (4, 4, 1)
    assert clf.score(X, y) == 1.0  # setosa is linearly separable
    p = clf.network_.forward(X)[:, 0]
    np.testing.assert_array_equal(clf.predict_proba(X), np.column_stack([1 - p, p]))
    np.testing.assert_array_equal(clf.predict(X), labels[(p > 0.5).astype(int)])


@quiet
def test_multilabel_indicator_targets():
    X, Y = make_multilabel_classification(n_samples=80, n_features=6, n_classes=3, random_state=0)
    clf = BackpropClassifier((16,), max_iter=100, learning_rate_init=0.03, random_state=0)
    clf.fit(X / X.max(), Y.astype(bool))
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    proba = clf.predict_proba(X / X.max())
    assert proba.shape == (80, 3)
    np.testing.assert_array_equal(clf.predict(X / X.max()), (proba > 0.5).astype(int))
    assert clf.score(X / X.max(), Y) > 0.5  # subset accuracy: every label right


def test_several_multiclass_outputs_are_refused():
    X, y = _iris()
    Y = np.column_stack([y, (y + 1) % 3])
    with pytest.raises(ValueError, match="multiclass outputs"):
        BackpropClassifier(**SMALL).fit(X, Y)


def test_one_class_is_refused():
    X, _ = _iris()
    with pytest.raises(ValueError, match="only one class"):
        BackpropClassifier(**SMALL).fit(X, np.full(len(X), "a"))


@quiet
@pytest.mark.parametrize("n_targets", [1, 2])
def test_regression_targets_1d_and_2d(n_targets):
    X, y = _regression(n_targets)
    reg = BackpropRegressor((8,), max_iter=80, learning_rate_init=0.03, random_state=0)
    reg.fit(X, y)
    assert reg.out_activation_ == "identity" and reg.network_.loss == "half_sse"
    assert reg.n_outputs_ == n_targets
    assert reg.predict(X).shape == y.shape
    assert reg.score(X, y) > 0.95


@quiet
@pytest.mark.parametrize("dtype", ["float32", np.float32])
def test_float32(dtype):
    X, y = _iris()
    clf = BackpropClassifier(**SMALL, dtype=dtype, random_state=0).fit(X, y)
    assert clf.network_.dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float32
    assert all(c.dtype == np.float32 for c in clf.coefs_)


@quiet
def test_regressor_trains_with_alpha_on_the_checks_data():
    """What ``check_regressors_train`` asks (with ``alpha=0.01``, as it sets it),
    on the same kind of data: a noisy line, scaled."""
    X, y = make_regression(
        n_samples=200, n_features=10, n_informative=1, bias=5.0, noise=20, random_state=42
    )
    X = StandardScaler().fit_transform(X)
    y = StandardScaler().fit_transform(y[:, None])[:, 0]
    reg = BackpropRegressor(**SMALL, alpha=0.01, random_state=0).fit(X, y)
    assert reg.predict(X).shape == y.shape
    assert reg.score(X, y) > 0.5


# ------------------------------------------------------ against scikit-learn's MLP
@quiet
@pytest.mark.parametrize(
    "optimizer, momentum, nesterov, alpha",
    [
        ("sgd", 0.0, False, 0.0),
        ("sgd", 0.9, False, 0.0),
        ("sgd", 0.9, True, 0.01),
        ("adam", 0.9, True, 0.1),
    ],
    ids=["sgd", "momentum", "nesterov+alpha", "adam+alpha"],
)
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_training_equals_scikit_learns_mlp(kind, optimizer, momentum, nesterov, alpha):
    """Started from the same weights, ``fit`` moves them as ``MLPClassifier`` /
    ``MLPRegressor`` do, to round-off, with ``coefs_``/``intercepts_`` in their
    layout.  (Adam with a vanishing ``epsilon``: scikit-learn adds it to sqrt(v)
    and corrects the bias in the step size, the engine adds it to the corrected
    sqrt(v_hat), as PyTorch does; the two agree where epsilon is negligible.)"""
    if kind == "classifier":
        X, y = _iris()
        ours_class, theirs_class = BackpropClassifier, MLPClassifier
    else:
        X, y = _regression(2)
        ours_class, theirs_class = BackpropRegressor, MLPRegressor
    common = dict(
        hidden_layer_sizes=(7,), activation="tanh", batch_size=32, learning_rate_init=0.05,
        momentum=momentum, nesterovs_momentum=nesterov, alpha=alpha, epsilon=1e-30,
        shuffle=False, tol=0.0, n_iter_no_change=np.inf,
    )  # fmt: skip
    ours = ours_class(optimizer=optimizer, max_iter=2, random_state=0, **common).fit(X, y)
    theirs = theirs_class(solver=optimizer, max_iter=1, random_state=0, **common).fit(X, y)
    theirs.coefs_, theirs.intercepts_ = ours.coefs_, ours.intercepts_
    start = ours.coefs_[0]
    ours.set_params(warm_start=True, max_iter=5).fit(X, y)
    theirs.set_params(warm_start=True, max_iter=5).fit(X, y)
    assert not np.allclose(ours.coefs_[0], start, rtol=1e-3, atol=0)  # they moved
    for mine, its in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert mine.shape == its.shape
        np.testing.assert_allclose(mine, its, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10, atol=1e-13)
    if alpha == 0.0:  # scikit-learn's loss adds the penalty; ours is the data's alone
        np.testing.assert_allclose(ours.loss_curve_[-5:], theirs.loss_curve_[-5:], rtol=1e-10)


@quiet
def test_coefs_are_scikit_learns_layout():
    """An MLPClassifier given our ``coefs_``/``intercepts_`` predicts our
    probabilities; ``coefs_[i][j, k]`` is ``network_.weights[i][k, j]``."""
    X, y = _iris()
    ours = BackpropClassifier(
        (5, 4), activation="logistic", learning_rate_init=0.03, max_iter=15, random_state=0
    ).fit(X, y)
    theirs = MLPClassifier((5, 4), activation="logistic", max_iter=1, random_state=1).fit(X, y)
    assert [c.shape for c in ours.coefs_] == [(4, 5), (5, 4), (4, 3)]
    theirs.coefs_, theirs.intercepts_ = ours.coefs_, ours.intercepts_
    np.testing.assert_allclose(theirs.predict_proba(X), ours.predict_proba(X), rtol=1e-12)
    np.testing.assert_array_equal(ours.coefs_[1][2, 3], ours.network_.weights[1][3, 2])


@quiet
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_loss_curve_is_the_mean_loss_before_each_update(kind):
    """With full batches the epoch's loss is measured on the weights the epoch
    starts from: scikit-learn's log-loss, or half its mean squared error, of the
    previous fit's predictions."""
    if kind == "classifier":
        X, y = _iris()
        est = BackpropClassifier(**SMALL, batch_size=150, random_state=0).fit(X, y)
        expected = log_loss(y, est.predict_proba(X))
    else:
        X, y = _regression(2)
        est = BackpropRegressor(**SMALL, batch_size=120, random_state=0).fit(X, y)
        expected = mean_squared_error(y, est.predict(X)) / 2  # over samples and outputs
    est.set_params(warm_start=True, max_iter=1).fit(X, y)
    assert len(est.loss_curve_) == SMALL["max_iter"] + 1
    assert est.loss_curve_[-1] == pytest.approx(expected, rel=1e-12)
    assert est.loss_ == est.loss_curve_[-1]


# ------------------------------------------------------ stopping
@pytest.mark.parametrize("n_iter_no_change", [1, 4])
def test_stops_as_scikit_learn_does(n_iter_no_change):
    """A tolerance no epoch can beat stops training after n_iter_no_change + 1
    epochs, as in MLPClassifier; no ConvergenceWarning."""
    X, y = _iris()
    settings = dict(tol=1e9, n_iter_no_change=n_iter_no_change, max_iter=50, random_state=0)
    ours = BackpropClassifier((4,), **settings).fit(X, y)
    theirs = MLPClassifier((4,), **settings).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == len(ours.loss_curve_) < 50
    assert ours.best_loss_ == min(ours.loss_curve_)
    assert ours.validation_scores_ is None and ours.best_validation_score_ is None


def test_max_iter_warns():
    X, y = _iris()
    clf = BackpropClassifier(**SMALL, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=15"):
        clf.fit(X, y)
    assert clf.n_iter_ == 15 == len(clf.loss_curve_)


@quiet
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_early_stopping_keeps_the_best_epoch(kind):
    """A tolerance no epoch can beat stops training when MLPClassifier's (or
    MLPRegressor's) does; the network kept is the best validation epoch's: a
    second run that ends at that epoch (same split, same shuffling) ends with
    the same weights."""
    if kind == "classifier":
        X, y = _iris()
        est = BackpropClassifier((6,), learning_rate_init=0.2, random_state=3)
        theirs = MLPClassifier((6,), random_state=3)
    else:
        X, y = _regression()
        est = BackpropRegressor((6,), learning_rate_init=0.5, random_state=0)
        theirs = MLPRegressor(hidden_layer_sizes=(6,), random_state=0)
    stopping = dict(early_stopping=True, validation_fraction=0.3, max_iter=40, tol=1e9,
                    n_iter_no_change=12)  # fmt: skip
    est.set_params(optimizer="sgd", momentum=0.0, batch_size=10, **stopping).fit(X, y)
    scores = est.validation_scores_
    assert len(scores) == est.n_iter_ == theirs.set_params(**stopping).fit(X, y).n_iter_ < 40
    assert est.best_loss_ is None and len(est.loss_curve_) == est.n_iter_
    assert est.best_validation_score_ == max(scores)
    best = int(np.argmax(scores))
    assert best < est.n_iter_ - 1, "the test needs a best epoch before the last"
    again = clone(est).set_params(max_iter=best + 1, n_iter_no_change=np.inf).fit(X, y)
    np.testing.assert_array_equal(again.validation_scores_, scores[: best + 1])
    np.testing.assert_array_equal(again.network_.params, est.network_.params)


@quiet
def test_early_stopping_splits_two_classes_by_their_labels():
    """Two classes: the validation split is stratified (scikit-learn's rule) on the
    labels as given, whatever they are; a class too small for it is named as given."""
    rng = np.random.default_rng(4)
    X = rng.uniform(-1, 1, (40, 2))
    y = (X[:, 0] > 0.3).astype(int)
    settings = dict(hidden_layer_sizes=(3,), early_stopping=True, validation_fraction=0.25,
                    max_iter=5, random_state=1)  # fmt: skip
    as_ints = BackpropClassifier(**settings).fit(X, y)
    as_text = BackpropClassifier(**settings).fit(X, np.array(["no", "yes"])[y])
    np.testing.assert_array_equal(as_text.network_.params, as_ints.network_.params)
    np.testing.assert_array_equal(as_text.validation_scores_, as_ints.validation_scores_)
    rare = np.array(["common"] * 39 + ["rare"])
    with pytest.raises(ValueError, match=r"\['rare'\]"):
        BackpropClassifier(**settings).fit(X, rare)


# ------------------------------------------------------ warm starts, partial_fit
@quiet
def test_partial_fit_epochs_equal_one_fit():
    """k partial_fit calls continue the optimizer's state: k epochs of one fit."""
    X, y = _iris()
    settings = dict(**SMALL, shuffle=False, tol=0.0, n_iter_no_change=np.inf, random_state=0)
    whole = BackpropClassifier(**{**settings, "max_iter": 4}).fit(X, y)
    parts = BackpropClassifier(**settings)
    for k in range(4):
        parts.partial_fit(X, y, classes=np.unique(y) if k == 0 else None)
        assert parts.n_iter_ == 1 and len(parts.loss_curve_) == k + 1
    np.testing.assert_array_equal(parts.network_.params, whole.network_.params)
    np.testing.assert_array_equal(parts.loss_curve_, whole.loss_curve_)
    assert parts.t_ == whole.t_ == 4 * len(X)


def test_partial_fit_checks_classes():
    X, y = _iris()
    clf = BackpropClassifier(**SMALL, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, y, classes=[0, 1])
    assert not hasattr(clf, "network_")
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # y need not hold every class
    assert clf.n_outputs_ == 3
    with pytest.raises(ValueError, match="classes=.*not the same"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        clf.set_params(early_stopping=True).partial_fit(X, y)


@quiet
def test_warm_start_continues_the_network():
    """Plain SGD keeps no optimizer state: 3 epochs, then 2 warm ones, are 5."""
    X, y = _regression()
    settings = dict(**SMALL, optimizer="sgd", momentum=0.0, shuffle=False, tol=0.0,
                    n_iter_no_change=np.inf, random_state=0)  # fmt: skip
    whole = BackpropRegressor(**{**settings, "max_iter": 5}).fit(X, y)
    warm = BackpropRegressor(**{**settings, "max_iter": 3}).fit(X, y)
    warm.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert warm.n_iter_ == 2 and len(warm.loss_curve_) == 5 and warm.t_ == 5 * len(X)
    np.testing.assert_allclose(warm.network_.params, whole.network_.params, rtol=1e-13)
    cold = warm.set_params(warm_start=False).fit(X, y)
    assert len(cold.loss_curve_) == 2
    np.testing.assert_array_equal(
        cold.network_.params,
        BackpropRegressor(**{**settings, "max_iter": 2}).fit(X, y).network_.params,
    )


@quiet
def test_a_fit_that_fails_leaves_the_fitted_state():
    """A warm fit that diverges (or is refused) changes neither ``network_`` nor
    the record of earlier epochs."""
    X, y = _regression()
    reg = BackpropRegressor(**SMALL, random_state=0).fit(X, y)
    params, curve = reg.network_.params, list(reg.loss_curve_)
    reg.set_params(warm_start=True, optimizer="sgd", momentum=0.0, learning_rate_init=1e200)
    with pytest.raises(bp.TrainingError, match="diverged"):
        reg.fit(X, y * 1e150)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        reg.set_params(learning_rate_init=0.01, hidden_layer_sizes=(3,)).fit(X, y)
    np.testing.assert_array_equal(reg.network_.params, params)
    assert reg.loss_curve_ == curve and reg.n_iter_ == SMALL["max_iter"]


@quiet
def test_warm_start_refuses_another_architecture():
    X, y = _iris()
    clf = BackpropClassifier(**SMALL, warm_start=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        clf.set_params(hidden_layer_sizes=(9,)).fit(X, y)
    with pytest.raises(ValueError, match="activation"):
        clf.set_params(hidden_layer_sizes=(8,), activation="tanh").fit(X, y)
    with pytest.raises(ValueError, match="same classes"):
        clf.set_params(activation="relu").fit(X[y < 2], y[y < 2])


# ------------------------------------------------------ parameters
@quiet
@pytest.mark.parametrize("schedule", ["invscaling", "adaptive"])
def test_schedules_steer_sgd_only(schedule):
    """As in scikit-learn, ``learning_rate`` is the SGD solver's schedule: Adam
    ignores it; SGD under a schedule trains otherwise than at a constant rate
    (tests/test_schedules.py checks it against MLPRegressor)."""
    X, y = _iris()
    fits = {
        (optimizer, rate): BackpropClassifier(
            **SMALL,
            optimizer=optimizer,
            learning_rate=rate,
            tol=1e3,
            n_iter_no_change=2,
            random_state=0,
        )
        .fit(X, y)
        .network_.params  # fmt: skip
        for optimizer in ("adam", "sgd")
        for rate in ("constant", schedule)
    }
    np.testing.assert_array_equal(fits["adam", schedule], fits["adam", "constant"])
    assert not np.array_equal(fits["sgd", schedule], fits["sgd", "constant"])


@pytest.mark.parametrize(
    "name, value",
    [
        ("hidden_layer_sizes", (4, 0)),
        ("hidden_layer_sizes", (4.0,)),
        ("optimizer", "lbfgs"),
        ("activation", "softmax"),
        ("momentum", 1.0),
        ("dtype", "float16"),
        ("loss", "squared_error"),
    ],
)
def test_bad_parameters_are_named(name, value):
    X, y = _iris()
    with pytest.raises(ValueError, match=name):
        BackpropClassifier(**{name: value}).fit(X, y)


@quiet
@pytest.mark.parametrize(
    "optimizer, momentum, nesterov, engine_optimizer",
    [
        ("sgd", 0.0, True, "sgd"),
        ("sgd", 0.5, False, "momentum"),
        ("sgd", 0.5, True, "nesterov"),
        ("rprop", 0.9, True, "rprop"),
    ],
)
def test_optimizers_are_the_engines(optimizer, momentum, nesterov, engine_optimizer):
    """One warm epoch equals ``Network.train`` with the engine's optimizer on a
    copy of the network ("rprop" on full batches), and scikit-learn's default
    ``alpha`` (1e-4) as ``train``'s ``alpha``."""
    assert BackpropRegressor().alpha == 1e-4
    X, y = _regression()
    reg = BackpropRegressor(
        **SMALL, optimizer=optimizer, momentum=momentum, nesterovs_momentum=nesterov,
        shuffle=False, random_state=0,
    ).fit(X, y)  # fmt: skip
    net = reg.network_.copy()
    reg.set_params(warm_start=True, max_iter=3).fit(X, y)
    net.reset_optimizer()
    batch = None if optimizer == "rprop" else min(200, len(X))
    net.train(X, y, 3, learning_rate=SMALL["learning_rate_init"], batch_size=batch,
              optimizer=engine_optimizer, momentum=momentum, alpha=reg.alpha)  # fmt: skip
    np.testing.assert_array_equal(reg.network_.params, net.params)


@quiet
def test_fitted_estimators_pickle_and_clone():
    X, y = _iris()
    clf = BackpropClassifier(**SMALL, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "network_")


@quiet
def test_feature_names_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = _iris()
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    clf = BackpropClassifier(**SMALL, random_state=0).fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["sl", "sw", "pl", "pw"])
    assert clf.n_features_in_ == 4
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


@quiet
def test_verbose_prints_each_epoch(capsys):
    X, y = _iris()
    clf = BackpropClassifier(**SMALL, verbose=True, tol=0.0, n_iter_no_change=np.inf)
    clf.set_params(random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == SMALL["max_iter"]
    for k, (line, loss) in enumerate(zip(lines, clf.loss_curve_), start=1):
        assert line == f"Iteration {k}, loss = {loss:.8f}"


# ------------------------------------------------------ pipelines and searches
@quiet
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_pipeline_and_cross_validation(kind):
    if kind == "classifier":
        X, y = load_iris(return_X_y=True)
        est, floor = BackpropClassifier((6,), max_iter=30, learning_rate_init=0.05), 0.8
    else:
        X, y = _regression()
        est, floor = BackpropRegressor((6,), max_iter=30, learning_rate_init=0.05), 0.8
    model = make_pipeline(StandardScaler(), est.set_params(random_state=0))
    assert model.fit(X, y).score(X, y) > floor
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > floor


@other_processes
@quiet
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_grid_search_in_two_processes(kind):
    """GridSearchCV(n_jobs=2) (joblib's process pool) finds what n_jobs=1 does."""
    if kind == "classifier":
        X, y = _iris()
        est = BackpropClassifier(max_iter=8, random_state=0)
    else:
        X, y = _regression()
        est = BackpropRegressor(max_iter=8, random_state=0)
    parallel = GridSearchCV(est, GRID, cv=2, n_jobs=2).fit(X, y)
    serial = GridSearchCV(est, GRID, cv=2, n_jobs=1).fit(X, y)
    assert parallel.best_params_ == serial.best_params_
    np.testing.assert_array_equal(
        parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert isinstance(parallel.best_estimator_.network_, bp.Network)


@other_processes
@quiet
def test_grid_search_on_a_dask_cluster():
    """The same search on a two-process Dask cluster on loopback, through
    joblib's Dask backend, finds what it finds in this process."""
    pytest.importorskip("distributed")
    import joblib
    from distributed import Client, LocalCluster, get_task_stream

    X, y = _iris()
    est = BackpropClassifier(max_iter=8, random_state=0)
    serial = GridSearchCV(est, GRID, cv=2, n_jobs=1).fit(X, y)
    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        with get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
            remote = GridSearchCV(est, GRID, cv=2).fit(X, y)
        workers = {task["worker"] for task in tasks.data}
        assert workers and workers <= set(client.scheduler_info()["workers"]), workers
    assert remote.best_params_ == serial.best_params_
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )

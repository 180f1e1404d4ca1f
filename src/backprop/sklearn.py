"""scikit-learn estimators over ``bp.Network``: ``BackpropClassifier`` and ``BackpropRegressor``.

They follow scikit-learn's conventions, so that a network fits in a ``Pipeline``,
``GridSearchCV`` or ``cross_val_score`` as ``MLPClassifier``/``MLPRegressor`` do,
and take ``MLPClassifier``'s parameter names where the meaning is the same::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from backprop.sklearn import BackpropClassifier

    model = make_pipeline(StandardScaler(), BackpropClassifier((32,), random_state=0))
    model.fit(X_train, y_train).score(X_test, y_test)

Training is one ``Network.train`` call per ``fit`` (one epoch per
``partial_fit``); between epochs a callback keeps ``loss_curve_`` and applies
scikit-learn's stopping rule (``tol``, ``n_iter_no_change``, ``early_stopping``).
The fitted network is ``network_``; ``coefs_`` and ``intercepts_`` show its
parameters in scikit-learn's layout.

This module imports scikit-learn (1.6 or later); ``import backprop`` does not
import it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d

try:
    from sklearn.utils.validation import validate_data
except ImportError as exc:  # pragma: no cover - scikit-learn < 1.6
    import sklearn

    raise ImportError(
        f"backprop.sklearn needs scikit-learn 1.6 or later (for validate_data); "
        f"found {sklearn.__version__}"
    ) from exc

from ._spec import ADAPTIVE_FACTOR, ADAPTIVE_MIN_RATE, BIAS_MODES, INITS
from ._training import TrainingInterrupted
from .network import Network

__all__ = ["BackpropClassifier", "BackpropRegressor"]

#: ``activation`` values and the ``Network`` activation each stands for
#: (scikit-learn's "identity" is this library's "linear").
_ACTIVATIONS = {
    "identity": "linear",
    "linear": "linear",
    "logistic": "logistic",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "leaky_relu",
}

#: ``loss`` values of each estimator and the ``Network`` loss each stands for
#: ("auto": cross-entropy for classifiers; for regressors scikit-learn's
#: "squared_error", which is half the squared error summed over the outputs, as
#: its gradient is).
_CLASSIFIER_LOSSES = {
    "auto": "cross_entropy",
    "cross_entropy": "cross_entropy",
    "half_sse": "half_sse",
    "mse": "mse",
}
_REGRESSOR_LOSSES = {
    "auto": "half_sse",
    "squared_error": "half_sse",
    "half_sse": "half_sse",
    "mse": "mse",
}

#: Largest seed drawn from ``random_state`` for the network's start and shuffling.
_SEED_MAX = np.iinfo(np.int32).max


def _train_options(est: _BaseBackprop, n_samples: int) -> dict[str, Any]:
    """``Network.train``'s keyword arguments for ``est``'s parameters, on
    ``n_samples`` training samples: the one place where the estimators' names
    meet the engine's.

    ``optimizer="sgd"`` is scikit-learn's ``solver="sgd"``: with ``momentum > 0``
    it is the engine's "nesterov" (``nesterovs_momentum=True``) or "momentum",
    the same update rules as scikit-learn's.  "adam" takes ``beta_1``,
    ``beta_2`` and ``epsilon``; "rprop" (iRPROP-) ignores ``learning_rate_init``
    and, with ``batch_size="auto"``, trains on full batches, its natural setting.

    ``alpha`` is ``train``'s ``alpha``, scikit-learn's L2 penalty: ``alpha * W``
    added to each batch's summed gradient before the division by its size.
    ``learning_rate_init`` is the first epoch's rate; the schedules
    ("invscaling", "adaptive") are applied epoch by epoch by ``_fit`` (see
    ``_scheduled``).
    """
    optimizer = est.optimizer
    if optimizer == "sgd" and est.momentum > 0.0:
        optimizer = "nesterov" if est.nesterovs_momentum else "momentum"
    if est.batch_size == "auto":
        batch_size = n_samples if optimizer == "rprop" else min(200, n_samples)
    else:
        if est.batch_size > n_samples:
            warnings.warn(
                f"batch_size={est.batch_size} is larger than the {n_samples} training "
                f"samples: it is clipped to {n_samples}",
                UserWarning,
                stacklevel=4,
            )
        batch_size = min(int(est.batch_size), n_samples)
    return dict(
        learning_rate=float(est.learning_rate_init),
        batch_size=batch_size,
        optimizer=optimizer,
        momentum=float(est.momentum),
        beta1=float(est.beta_1),
        beta2=float(est.beta_2),
        epsilon=float(est.epsilon),
        alpha=float(est.alpha),
        shuffle=bool(est.shuffle),
        progress=bool(est.progress),
    )


def _scheduled(est: _BaseBackprop) -> bool:
    """Whether ``est``'s learning rate follows a schedule: "invscaling" or
    "adaptive" with ``optimizer="sgd"`` (as in scikit-learn, where only its SGD
    solver reads ``learning_rate``; Adam and RPROP ignore it)."""
    return est.learning_rate != "constant" and est.optimizer == "sgd"


class _Run:
    """The bookkeeping of one ``fit`` or ``partial_fit`` call, kept apart from the
    estimator until training has ended, so that a call that raises leaves the
    fitted state as it was (``validate_data`` records ``n_features_in_`` first,
    as in any scikit-learn estimator)."""

    def __init__(self, est: _BaseBackprop, first_pass: bool, early_stopping: bool) -> None:
        self.n_iter = 0
        self.stopped = False
        self.best_network: Network | None = None
        # the learning rate of the next epoch: a fit starts a new optimizer at
        # learning_rate_init (scikit-learn's too, warm or not); partial_fit
        # continues the last one's
        self.rate = float(est.learning_rate_init)
        if first_pass:
            self.t = 0
            self.loss_curve: list[float] = []
            self.no_improvement = 0
        else:
            self.t = est.t_
            self.loss_curve = list(est.loss_curve_)
            self.no_improvement = est._no_improvement_count
        if early_stopping:
            previous = None if first_pass else est.validation_scores_
            self.validation_scores: list[float] | None = list(previous or [])
            self.best_validation_score: float | None = (
                -np.inf if previous is None else est.best_validation_score_
            )
            self.best_loss: float | None = None
        else:
            self.validation_scores = None
            self.best_validation_score = None
            previous_loss = None if first_pass else est.best_loss_
            self.best_loss = np.inf if previous_loss is None else previous_loss


class _BaseBackprop(BaseEstimator):
    """What the classifier and the regressor share: parameters, training, state."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_ACTIVATIONS))],
        "optimizer": [StrOptions({"sgd", "adam", "rprop"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "init": [StrOptions(set(INITS))],
        "bias": [StrOptions(set(BIAS_MODES))],
        "dtype": [StrOptions({"float64", "float32"}), Options(type, {np.float64, np.float32})],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        optimizer: str = "adam",
        loss: str = "auto",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        init: str = "xavier",
        bias: str = "per-neuron",
        dtype: Any = "float64",
        progress: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.loss = loss
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.init = init
        self.bias = bias
        self.dtype = dtype
        self.progress = progress

    # ------------------------------------------------------------ subclass hooks
    _LOSSES: dict[str, str] = {}

    def _encode(
        self, y: Any, first_pass: bool, incremental: bool, classes: Any
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Targets as network outputs (one row per sample), and the fitted
        attributes that describe them (committed only when training succeeds)."""
        raise NotImplementedError

    def _output_activation(self, fitted: dict[str, Any]) -> str:
        raise NotImplementedError

    def _score_outputs(self, outputs: np.ndarray, y_true: Any, fitted: dict[str, Any]) -> float:
        """The validation score (``score``'s measure) of network outputs."""
        raise NotImplementedError

    def _validation_targets(self, T_val: np.ndarray, fitted: dict[str, Any]) -> Any:
        """What ``_score_outputs`` compares the validation outputs with."""
        return T_val

    def _loss_scale(self, n_outputs: int) -> float:
        """Factor from the network's mean loss per sample to ``loss_curve_``'s."""
        return 1.0

    # ------------------------------------------------------------ fitted state
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "network_")

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices in scikit-learn's layout: ``coefs_[i][j, k]`` is the
        weight from unit ``j`` of layer ``i`` to unit ``k`` of layer ``i + 1``
        (``network_.weights[i]`` transposed; copies)."""
        check_is_fitted(self)
        return [np.ascontiguousarray(w.T) for w in self.network_.weights]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The biases of each layer after the input, one value per unit
        (``network_.biases``; copies)."""
        check_is_fitted(self)
        return self.network_.biases

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags

    # ------------------------------------------------------------ training
    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        values = [sizes] if isinstance(sizes, Integral) else list(sizes)
        for value in values:
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(
                    f"hidden_layer_sizes must hold integers >= 1 (units per hidden layer), "
                    f"got {sizes!r}"
                )
        return [int(v) for v in values]

    def _np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def _fit(self, X: Any, y: Any, incremental: bool, classes: Any = None) -> _BaseBackprop:
        """``fit`` (``incremental=False``: ``max_iter`` epochs) and ``partial_fit``
        (one epoch, continuing the network and its optimizer's state)."""
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        hidden = self._hidden_sizes()
        first_pass = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=not is_classifier(self),
            dtype=self._np_dtype(), order="C", reset=first_pass,
        )  # fmt: skip
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        T, fitted = self._encode(y, first_pass, incremental, classes)
        n_outputs = T.shape[1]
        sizes = [X.shape[1], *hidden, n_outputs]
        activation = _ACTIVATIONS[self.activation]
        output_activation = self._output_activation(fitted)
        loss = self._LOSSES[self.loss]
        if not first_pass:
            self._check_continues(sizes, activation, output_activation, loss, incremental)
        rng = check_random_state(self.random_state)  # draws: start, split, shuffling
        start_seed = int(rng.randint(_SEED_MAX)) if first_pass else None

        early_stopping = self.early_stopping and not incremental
        X_train, T_train = X, T
        X_val = y_val = None
        if early_stopping:
            # scikit-learn's rule (two classes only), on the labels themselves: the same
            # split as on T's column, and its message names the classes as given
            stratify = y if is_classifier(self) and n_outputs == 1 and y.ndim == 1 else None
            X_train, X_val, T_train, T_val = train_test_split(
                X, T, random_state=rng, test_size=self.validation_fraction, stratify=stratify
            )
            if X_val.shape[0] < 2:
                raise ValueError(
                    f"The validation set is too small ({X_val.shape[0]} sample) for "
                    f"early_stopping: increase validation_fraction (now "
                    f"{self.validation_fraction}) or the number of samples"
                )
            y_val = self._validation_targets(T_val, fitted)
        n_train = X_train.shape[0]
        options = _train_options(self, n_train)
        seed = int(rng.randint(_SEED_MAX)) if options["shuffle"] else None

        if first_pass:
            net = Network(
                sizes, seed=start_seed, bias=self.bias, activation=activation,
                output_activation=output_activation, loss=loss, init=self.init,
                dtype=self._np_dtype(),
            )  # fmt: skip
        else:
            # a copy: network_ changes only when the call succeeds
            net = self.network_.copy()
            if not incremental:
                # as scikit-learn does: each fit starts a new optimizer, even a warm one
                net.reset_optimizer()
        run = _Run(self, first_pass, early_stopping)
        if incremental and not first_pass:
            run.rate = self._learning_rate
        epochs = 1 if incremental else self.max_iter
        callback = self._epoch_callback(
            run, net, n_train, self._loss_scale(n_outputs), X_val, y_val, fitted,
            early_stopping, incremental,
        )  # fmt: skip
        try:
            if not _scheduled(self):
                net.train(X_train, T_train, epochs, callback=callback, seed=seed, **options)
            else:
                # one call per epoch, each at the rate the schedule (in the
                # callback) set: the optimizer's state and the shuffling stream
                # carry over between calls, so this trains as one call would
                for _ in range(epochs):
                    options["learning_rate"] = run.rate
                    net.train(X_train, T_train, 1, callback=callback, seed=seed, **options)
                    seed = None
                    if run.stopped:
                        break
        except TrainingInterrupted:
            warnings.warn("Training interrupted by user.", UserWarning, stacklevel=3)
        if early_stopping and run.best_network is not None:
            net = run.best_network  # the weights of the best validation score
        if not incremental and not run.stopped and run.n_iter == self.max_iter:
            warnings.warn(
                f"{type(self).__name__}: max_iter={self.max_iter} epochs reached and the "
                f"training has not converged yet (tol={self.tol}, "
                f"n_iter_no_change={self.n_iter_no_change})",
                ConvergenceWarning,
                stacklevel=3,
            )
        self._commit(net, run, fitted, n_outputs, len(sizes), output_activation)
        return self

    def _check_continues(
        self, sizes: list[int], activation: str, output_activation: str, loss: str,
        incremental: bool,
    ) -> None:  # fmt: skip
        """Refuse to continue ``network_`` (warm start, partial_fit) under
        parameters that describe another network."""
        net = self.network_
        wanted = {
            "layer sizes (hidden_layer_sizes)": tuple(sizes),
            "activations (activation)": (activation,) * (len(sizes) - 2) + (output_activation,),
            "loss": loss,
            "bias": self.bias,
            "dtype": self._np_dtype(),
        }
        found = {
            "layer sizes (hidden_layer_sizes)": net.layers,
            "activations (activation)": net.activations,
            "loss": net.loss,
            "bias": net.bias,
            "dtype": net.dtype,
        }
        for what, value in wanted.items():
            if found[what] != value:
                how = "partial_fit" if incremental else "fit with warm_start=True"
                raise ValueError(
                    f"{how} continues the fitted network_, whose {what} is {found[what]!r}, "
                    f"but the parameters now give {value!r}: fit with warm_start=False "
                    f"to start a new network"
                )

    def _epoch_callback(
        self, run: _Run, net: Network, n_train: int, scale: float, X_val: Any, y_val: Any,
        fitted: dict[str, Any], early_stopping: bool, incremental: bool,
    ) -> Callable[[int, float], bool]:  # fmt: skip
        """``train``'s callback: after each epoch, record its loss (the epoch's
        summed error per sample, times ``scale``) and apply scikit-learn's
        stopping rule; returns False to stop training."""

        def after_epoch(epoch: int, error: float) -> bool:
            run.n_iter += 1
            run.t += n_train
            loss = float(error) / n_train * scale
            run.loss_curve.append(loss)
            if self.verbose:
                print(f"Iteration {run.n_iter}, loss = {loss:.8f}")
            if early_stopping:
                score = self._score_outputs(net.forward(X_val), y_val, fitted)
                run.validation_scores.append(score)
                if self.verbose:
                    print(f"Validation score: {score:f}")
                if score < run.best_validation_score + self.tol:
                    run.no_improvement += 1
                else:
                    run.no_improvement = 0
                if score > run.best_validation_score:
                    run.best_validation_score = score
                    run.best_network = net.copy()
            else:
                if loss > run.best_loss - self.tol:
                    run.no_improvement += 1
                else:
                    run.no_improvement = 0
                run.best_loss = min(run.best_loss, loss)
            if _scheduled(self) and self.learning_rate == "invscaling":
                # scikit-learn's SGDOptimizer.iteration_ends(t_)
                run.rate = float(self.learning_rate_init) / (run.t + 1) ** self.power_t
            if (
                run.no_improvement > self.n_iter_no_change
                and _scheduled(self)
                and self.learning_rate == "adaptive"
                and run.rate > ADAPTIVE_MIN_RATE
            ):
                # scikit-learn's trigger_stopping: a smaller rate instead of a stop
                run.rate /= ADAPTIVE_FACTOR
                run.no_improvement = 0
                if self.verbose:
                    print(f"Setting learning rate to {run.rate:f}")
            elif run.no_improvement > self.n_iter_no_change and not incremental:
                measure = "Validation score" if early_stopping else "Training loss"
                if self.verbose:
                    print(
                        f"{measure} did not improve more than tol={self.tol:f} for "
                        f"{self.n_iter_no_change} consecutive epochs. Stopping."
                    )
                run.stopped = True
                return False
            return True

        return after_epoch

    def _commit(
        self, net: Network, run: _Run, fitted: dict[str, Any], n_outputs: int, n_layers: int,
        output_activation: str,
    ) -> None:  # fmt: skip
        """Keep the trained network and the run's record as the fitted state."""
        for name, value in fitted.items():
            setattr(self, name, value)
        self.network_ = net
        self.n_outputs_ = n_outputs
        self.n_layers_ = n_layers
        self.out_activation_ = "identity" if output_activation == "linear" else output_activation
        self.n_iter_ = run.n_iter
        self.t_ = run.t
        self.loss_curve_ = run.loss_curve
        if run.loss_curve:
            self.loss_ = run.loss_curve[-1]
        self._no_improvement_count = run.no_improvement
        self._learning_rate = run.rate
        self.best_loss_ = run.best_loss
        self.validation_scores_ = run.validation_scores
        self.best_validation_score_ = run.best_validation_score

    def _outputs(self, X: Any) -> np.ndarray:
        """The fitted network's outputs for ``X``, one row per sample."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=self.network_.dtype, order="C", reset=False)
        return self.network_.forward(X)


class BackpropClassifier(ClassifierMixin, _BaseBackprop):
    """A classifier trained by ``bp.Network``: ``MLPClassifier``'s model and
    parameters, on this library's engine.

    Labels of any kind (strings, integers, booleans) are encoded internally:
    two classes train one logistic output, more classes a softmax layer, and a
    2-D indicator ``y`` (multilabel) one logistic output per label; the loss is
    cross-entropy unless ``loss`` says otherwise.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Units of each hidden layer; ``()`` for none.
    activation : {"relu", "tanh", "logistic", "identity", "linear", "leaky_relu"}, \
default="relu"
        Activation of the hidden layers ("identity" is scikit-learn's name for
        "linear").
    optimizer : {"adam", "sgd", "rprop"}, default="adam"
        "sgd" is scikit-learn's ``solver="sgd"``: with ``momentum > 0``, the
        engine's Nesterov (``nesterovs_momentum=True``) or classical momentum;
        "rprop" is iRPROP- (``learning_rate_init`` unused; full batches with
        ``batch_size="auto"``).
    loss : {"auto", "cross_entropy", "half_sse", "mse"}, default="auto"
        "auto" is "cross_entropy".
    alpha : float, default=0.0001
        L2 penalty on the weights (not the biases), as scikit-learn scales it:
        ``alpha * W`` is added to each batch's summed gradient.
    batch_size : int or "auto", default="auto"
        Samples per update; "auto" is ``min(200, n_samples)`` (all samples for
        "rprop"). Larger values are clipped to the number of samples.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule of ``optimizer="sgd"`` (the others ignore it, as
        scikit-learn's Adam does), scikit-learn's rules: "invscaling" trains
        each epoch at ``learning_rate_init / (t_ + 1) ** power_t`` (``t_``: the
        samples trained on so far); "adaptive" divides the rate by 5 where
        "constant" would stop (``tol``, ``n_iter_no_change``), and stops once
        the rate is at most 1e-6.  ``partial_fit`` continues the rate.
    learning_rate_init : float, default=0.001
        The learning rate (the step size of "sgd" and "adam"; the first
        epoch's under a schedule).
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    max_iter : int, default=200
        Epochs of ``fit`` (each visits every training sample once).
    shuffle : bool, default=True
        Visit the samples in a new random order every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the starting weights, the shuffling and the validation split.
    tol, n_iter_no_change : float, int, default=1e-4, 10
        Stop when the training loss (with ``early_stopping``, the validation
        accuracy) has not improved by ``tol`` for more than ``n_iter_no_change``
        consecutive epochs (``np.inf``: never).
    verbose : bool or int, default=False
        Print each epoch's loss.
    warm_start : bool, default=False
        ``fit`` continues the fitted network instead of starting a new one.
    momentum, nesterovs_momentum : float, bool, default=0.9, True
        Momentum of "sgd", in [0, 1).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its accuracy
        stops improving, and keep the network of the best epoch.
    validation_fraction : float, default=0.1
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's settings.
    init : {"xavier", "he", "uniform", "nguyen_widrow"}, default="xavier"
        The random start (see ``bp.Network``).
    bias : {"per-neuron", "shared", "none"}, default="per-neuron"
    dtype : {"float64", "float32"} or the NumPy type, default="float64"
        Precision of the weights and of training.
    progress : bool, default=False
        Show a progress bar on stderr while training.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (for multilabel ``y``, the label indices).
    network_ : bp.Network
        The trained network.
    coefs_, intercepts_ : list of ndarray
        Its weights and biases in scikit-learn's layout (copies).
    n_features_in_, feature_names_in_ : int, ndarray
        As scikit-learn sets them.
    n_outputs_, n_layers_, out_activation_ : int, int, str
        Output units, layers (input and output included), output activation.
    loss_, loss_curve_ : float, list of float
        Mean training loss of the last epoch and of every epoch, each measured
        before the samples' own updates (warm starts and ``partial_fit`` append).
        The loss of the data only: unlike scikit-learn's, it leaves out the
        ``alpha`` penalty.
    n_iter_, t_ : int
        Epochs of the last call, and training samples seen in all.
    best_loss_ : float or None
        Smallest ``loss_curve_`` entry (None with ``early_stopping``).
    validation_scores_, best_validation_score_ : list of float, float or None
        Validation accuracy of each epoch and the best (``early_stopping`` only).
    """

    _parameter_constraints: dict = {
        **_BaseBackprop._parameter_constraints,
        "loss": [StrOptions(set(_CLASSIFIER_LOSSES))],
    }
    _LOSSES = _CLASSIFIER_LOSSES

    def fit(self, X: Any, y: Any) -> BackpropClassifier:
        """Train a network for up to ``max_iter`` epochs on ``X`` and labels ``y``
        (1-D, or a 2-D indicator matrix for multilabel problems)."""
        self._validate_params()
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> BackpropClassifier:
        """Train one epoch on ``X``, ``y``, continuing the fitted network.

        ``classes`` (every label of the whole data set) is required on the first
        call, and must be the same on later ones; for multilabel ``y`` pass the
        label indices (``range(n_labels)``)."""
        self._validate_params()
        if classes is None and not hasattr(self, "classes_"):
            raise ValueError("classes must be passed on the first call to partial_fit")
        if classes is not None and hasattr(self, "classes_"):
            if not np.array_equal(self.classes_, unique_labels(classes)):
                raise ValueError(
                    f"classes={classes!r} is not the same as on the first call to "
                    f"partial_fit, which gave {self.classes_!r}"
                )
        return self._fit(X, y, incremental=True, classes=classes)

    def _encode(
        self, y: Any, first_pass: bool, incremental: bool, classes: Any
    ) -> tuple[np.ndarray, dict[str, Any]]:
        check_classification_targets(y)
        if type_of_target(y) == "multiclass-multioutput":
            raise ValueError(
                "y must be 1-D labels or a 2-D indicator matrix of 0/1 (multilabel); "
                "several multiclass outputs at once are not supported"
            )
        if first_pass:
            binarizer = LabelBinarizer()
            if incremental and not type_of_target(y).startswith("multilabel"):
                binarizer.fit(unique_labels(classes))
            else:
                binarizer.fit(y)
            if len(binarizer.classes_) < 2:
                raise ValueError(
                    f"y has only one class ({binarizer.classes_[0]!r}): a classifier needs "
                    f"at least 2 classes"
                )
        else:
            binarizer = self._label_binarizer
        found = unique_labels(y)
        if not first_pass and self.warm_start and not incremental:
            if set(found) != set(binarizer.classes_):
                raise ValueError(
                    f"warm_start can only be used where y has the same classes as in the "
                    f"previous call to fit: previously {binarizer.classes_!r}, y has {found!r}"
                )
        elif incremental and len(np.setdiff1d(found, binarizer.classes_)):
            raise ValueError(
                f"y has classes not in classes (the classes given to partial_fit, "
                f"{binarizer.classes_!r}): y has {found!r}"
            )
        T = binarizer.transform(y)
        fitted = {"_label_binarizer": binarizer, "classes_": binarizer.classes_}
        return np.asarray(T, dtype=self._np_dtype()), fitted

    def _output_activation(self, fitted: dict[str, Any]) -> str:
        return "softmax" if fitted["_label_binarizer"].y_type_ == "multiclass" else "logistic"

    def _labels(self, outputs: np.ndarray, binarizer: LabelBinarizer) -> np.ndarray:
        if outputs.shape[1] == 1:
            outputs = outputs.ravel()
        return binarizer.inverse_transform(outputs)

    def _validation_targets(self, T_val: np.ndarray, fitted: dict[str, Any]) -> Any:
        return self._labels(T_val, fitted["_label_binarizer"])

    def _score_outputs(self, outputs: np.ndarray, y_true: Any, fitted: dict[str, Any]) -> float:
        return float(accuracy_score(y_true, self._labels(outputs, fitted["_label_binarizer"])))

    def predict(self, X: Any) -> np.ndarray:
        """The predicted label of each sample (a row of 0/1 per sample for multilabel)."""
        return self._labels(self._outputs(X), self._label_binarizer)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each class (columns in the order of ``classes_``); for
        multilabel problems, the probability of each label."""
        outputs = self._outputs(X)
        if outputs.shape[1] == 1:
            p = outputs[:, 0]
            return np.column_stack([1.0 - p, p])
        return outputs

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))`` (minus infinity where a probability is 0)."""
        probabilities = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(probabilities, out=probabilities)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class BackpropRegressor(RegressorMixin, _BaseBackprop):
    """A regressor trained by ``bp.Network``: ``MLPRegressor``'s model (a linear
    output layer, the squared error) and parameters, on this library's engine.

    ``y`` may be 1-D (one output) or 2-D (one output per column).  The parameters
    are ``BackpropClassifier``'s, except ``loss``: "auto" (default) and
    "squared_error" are scikit-learn's squared error: training follows the
    gradient of half the squared error summed over the outputs (the network's
    "half_sse"), while ``loss_curve_`` (and ``tol``) see it averaged over the
    outputs as well, as scikit-learn reports it; "half_sse" reports the sum;
    "mse" trains on the mean over the outputs of the squared error.  With
    ``early_stopping`` the validation score is R^2.

    Attributes are ``BackpropClassifier``'s, without ``classes_``.
    """

    _parameter_constraints: dict = {
        **_BaseBackprop._parameter_constraints,
        "loss": [StrOptions(set(_REGRESSOR_LOSSES))],
    }
    _LOSSES = _REGRESSOR_LOSSES

    def fit(self, X: Any, y: Any) -> BackpropRegressor:
        """Train a network for up to ``max_iter`` epochs on ``X`` and targets ``y``."""
        self._validate_params()
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X: Any, y: Any) -> BackpropRegressor:
        """Train one epoch on ``X``, ``y``, continuing the fitted network."""
        self._validate_params()
        return self._fit(X, y, incremental=True)

    def _encode(
        self, y: Any, first_pass: bool, incremental: bool, classes: Any
    ) -> tuple[np.ndarray, dict[str, Any]]:
        T = np.asarray(y, dtype=np.float64)
        return (T.reshape(-1, 1) if T.ndim == 1 else T), {}

    def _output_activation(self, fitted: dict[str, Any]) -> str:
        return "linear"

    def _loss_scale(self, n_outputs: int) -> float:
        # scikit-learn's squared error is reported (and compared with tol) as a mean
        # over the outputs too, though its gradient sums them, as "half_sse" does
        return 1.0 / n_outputs if self.loss in ("auto", "squared_error") else 1.0

    def _score_outputs(self, outputs: np.ndarray, y_true: Any, fitted: dict[str, Any]) -> float:
        return float(r2_score(y_true, outputs))

    def predict(self, X: Any) -> np.ndarray:
        """The predicted targets: 1-D for one output, else one row per sample."""
        outputs = self._outputs(X)
        return outputs.ravel() if self.n_outputs_ == 1 else outputs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

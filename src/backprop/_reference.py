"""The pure-Python engine: the readable statement of the maths.

This module is the twin of the compiled engine ``backprop._core``: it exposes the
same functions with the same arguments and results, and it is the oracle the test
suite checks the compiled engine against.  Its inner loops use Python lists and the
``math`` module only, so that every line reads like the equations it implements.

Both engines work on a *flat parameter buffer* and know nothing of ``Network``:

``params``
    float64 (or float32) vector holding every layer's weights and biases, laid out
    as ``backprop._spec`` describes.
``sizes``
    the layer sizes, input layer first.
``layout``
    ``_spec.layout(sizes, bias)``: where each layer's weights and biases start,
    and how many biases it has (its units', one shared, or none).
``acts``
    one activation code per weight layer (``LOGISTIC`` ... ``SOFTMAX``).
``loss``
    a loss code (``HALF_SSE``, ``MSE``, ``CROSS_ENTROPY``).

The functions below carry the names of the compiled kernels they mirror
(``forward_layers``, ``activate_unit``, ``softmax``, ``slope``, ``output_deltas``,
``train_sample``, ``optimizer_step``, ``shuffle``, ``splitmix64``, ``params_finite``),
so the two engines can be read side by side.

Notation used below, for one sample: ``a[0]`` is the input, ``net[l]`` and ``a[l+1]``
the net input and output of the units fed by weight layer ``l``.  The error of the
sample is ``E``; ``delta[l] = dE/dnet[l]``.

Update orders (``sequential``):

* simultaneous (``False``, the seed's hand-worked maths): every delta is computed
  with the weights the forward pass used, then every layer is updated;
* sequential (``True``, the seed's original script): layers are updated from the
  output down, and the delta of each hidden layer is back-propagated through the
  *already updated* weights above it.
"""

from __future__ import annotations

import math
import signal
import threading
from array import array

import numpy as np

from . import _signals
from ._spec import ACTIVATIONS, HYPER, LEAKY_SLOPE, LOSSES, OPTIMIZERS, code

# The engine codes of ``_spec``'s names (an option's position in its table).
LOGISTIC, TANH, RELU, LEAKY_RELU, LINEAR, SOFTMAX = (code("activation", a) for a in ACTIVATIONS)
HALF_SSE, MSE, CROSS_ENTROPY = (code("loss", name) for name in LOSSES)
SGD, MOMENTUM, NESTEROV, ADAM, RPROP = (code("optimizer", name) for name in OPTIMIZERS)

__all__ = ["FREE", "OTHER", "SELF", "Owner", "forward", "sample_errors", "trace_step", "train"]


# --------------------------------------------------------------------------- layout
#: ``Owner``'s answers: nobody trains the network, this thread does, another does.
FREE, SELF, OTHER = 0, 1, 2


class Owner:
    """Which thread, if any, is training a network: one trainer at a time.

    ``take()`` claims the network for the calling thread and returns ``FREE``, or
    leaves it and returns ``SELF`` (this thread already trains it: a callback)
    or ``OTHER``; ``give_back()`` ends the claim; ``holder()`` says who holds it;
    ``claims`` counts the claims taken (a read that finds it changed was
    overlapped by a training: ``_training.reading``).  A lock makes the test and
    the claim one step.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.thread = 0  # 0: no thread is training
        self.claims = 0

    def take(self) -> int:
        me = threading.get_ident()
        with self._lock:
            if self.thread == 0:
                self.thread = me
                self.claims += 1
                return FREE
            return SELF if self.thread == me else OTHER

    def give_back(self) -> None:
        with self._lock:
            self.thread = 0

    def holder(self) -> int:
        thread = self.thread
        if thread == 0:
            return FREE
        return SELF if thread == threading.get_ident() else OTHER


def unpack(params, layout, sizes):
    """Split the flat buffer (array or list) into per-layer lists: ``W[l][j][i]``
    and ``b[l][j]``."""
    flat = params.tolist() if isinstance(params, np.ndarray) else params
    weights, biases = [], []
    for (w0, b0, nb), n_in, n_out in zip(layout.tolist(), sizes, sizes[1:]):
        weights.append([flat[w0 + j * n_in : w0 + (j + 1) * n_in] for j in range(n_out)])
        biases.append(flat[b0 : b0 + nb])
    return weights, biases


def flatten(weights, biases) -> list:
    """Per-layer lists back to one flat list, in the buffer's layout."""
    flat = []
    for w, b in zip(weights, biases):
        for row in w:
            flat.extend(row)
        flat.extend(b)
    return flat


def bias_of(b, j):
    """Bias of unit ``j``: none, the layer's one shared value, or its own.

    (A per-neuron layer of one unit has one bias too: both cases read ``b[0]``.)
    """
    if not b:
        return 0.0
    return b[0] if len(b) == 1 else b[j]


# ------------------------------------------------------- IEEE arithmetic in Python
# Python raises where IEEE arithmetic (and so the compiled engine) gives inf or
# nan; these two keep the twin's results the same as the C ones.
def _exp(x: float) -> float:
    """``math.exp`` that overflows to inf instead of raising."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _div(a: float, b: float) -> float:
    """``a / b`` that gives +-inf or nan for ``b == 0`` instead of raising."""
    if b != 0.0:
        return a / b
    if a == 0.0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


# ------------------------------------------------------------------- activations
def activate_unit(s, act):
    """Output of one unit of an element-wise activation (not softmax)."""
    if act == LOGISTIC:
        return 1.0 / (1.0 + _exp(-s))
    if act == TANH:
        return math.tanh(s)
    if act == RELU:
        return s if s > 0.0 else 0.0
    if act == LEAKY_RELU:
        return s if s > 0.0 else LEAKY_SLOPE * s
    return s


def softmax(net):
    """Softmax outputs, shifted by the largest net input so exp never overflows."""
    top = max(net)
    e = [math.exp(s - top) for s in net]
    total = sum(e)
    return [v / total for v in e]


def slope(net, out, act):
    """dout/dnet of one unit (softmax: the diagonal of its Jacobian)."""
    if act == LOGISTIC or act == SOFTMAX:
        return out * (1.0 - out)
    if act == TANH:
        return 1.0 - out * out
    if act == RELU:
        return 1.0 if net > 0.0 else 0.0
    if act == LEAKY_RELU:
        return 1.0 if net > 0.0 else LEAKY_SLOPE
    return 1.0


def slopes(nets, outs, act):
    """``slope`` of every unit of a layer."""
    return [slope(s, o, act) for s, o in zip(nets, outs)]


# ------------------------------------------------------------------------- losses
def output_deltas(net, out, target, act, loss):
    """Per-output error terms, dE/dout and the output deltas dE/dnet of one sample."""
    k = len(out)
    if loss == HALF_SSE:
        errors = [0.5 * (t - o) * (t - o) for t, o in zip(target, out)]
        d_out = [-(t - o) for t, o in zip(target, out)]
    elif loss == MSE:
        errors = [(t - o) * (t - o) / k for t, o in zip(target, out)]
        d_out = [2.0 * (o - t) / k for t, o in zip(target, out)]
    elif act == SOFTMAX:  # categorical cross-entropy, from the net inputs (stable)
        top = max(net)
        lse = top + math.log(sum(math.exp(s - top) for s in net))
        errors = [t * (lse - s) for t, s in zip(target, net)]
        d_out = [_div(-t, o) if t != 0.0 else 0.0 for t, o in zip(target, out)]
        # dE/dnet_k = o_k * sum(t) - t_k: o - t when the targets sum to 1
        t_sum = sum(target)
        return errors, d_out, [o * t_sum - t for t, o in zip(target, out)]
    else:  # binary cross-entropy of a logistic output, from the net input (stable)
        errors = [max(s, 0.0) - s * t + math.log1p(math.exp(-abs(s))) for t, s in zip(target, net)]
        d_out = [_div(o - t, o * (1.0 - o)) for t, o in zip(target, out)]
        return errors, d_out, [o - t for t, o in zip(target, out)]
    if act == SOFTMAX:
        dot = sum(g * o for g, o in zip(d_out, out))
        deltas = [o * (g - dot) for g, o in zip(d_out, out)]
    else:
        deltas = [g * d for g, d in zip(d_out, slopes(net, out, act))]
    return errors, d_out, deltas


# ------------------------------------------------------------------- one sample
def forward_layers(weights, biases, acts, x):
    """Net inputs and outputs of every layer (``outs[0]`` is the input)."""
    nets, outs = [], [list(x)]
    for w, b, act in zip(weights, biases, acts):
        a = outs[-1]
        net = [
            sum(w_ji * a_i for w_ji, a_i in zip(row, a)) + bias_of(b, j) for j, row in enumerate(w)
        ]
        nets.append(net)
        outs.append(softmax(net) if act == SOFTMAX else [activate_unit(s, act) for s in net])
    return nets, outs


def train_sample(
    weights,
    biases,
    acts,
    loss,
    train_bias,
    x,
    t,
    lr,
    sequential,
    record=None,
    apply=True,
    single=False,
):
    """Forward, backward and update for one sample; returns the sample's error.

    ``weights``/``biases`` are updated in place (unless ``apply`` is false: then
    only ``record`` receives the gradients).  When ``record`` is a dict, every
    intermediate quantity is stored in it (one list entry per weight layer).
    """
    n_layers = len(weights)
    nets, outs = forward_layers(weights, biases, acts, x)
    errors, d_out, delta = output_deltas(nets[-1], outs[-1], t, acts[-1], loss)
    if single:  # a float32 network's error terms are float32 values
        errors = _f32(errors)
    sample_error = sum(errors)

    layer_d_out = [None] * n_layers
    layer_deriv = [None] * n_layers
    layer_delta = [None] * n_layers
    contributions = [None] * n_layers
    w_grads = [None] * n_layers
    b_grads = [None] * n_layers
    new_w = [None] * n_layers
    new_b = [None] * n_layers

    layer_d_out[-1] = d_out
    layer_deriv[-1] = slopes(nets[-1], outs[-1], acts[-1])
    for l in range(n_layers - 1, -1, -1):
        layer_delta[l] = delta
        a = outs[l]
        w_grads[l] = [[d_j * a_i for a_i in a] for d_j in delta]
        # a shared bias feeds every unit of the layer: its gradient sums their deltas
        n_b = len(biases[l])
        b_grads[l] = [sum(delta)] if n_b == 1 else (list(delta) if n_b else [])
        new_w[l] = [
            [w - lr * g for w, g in zip(row, g_row)] for row, g_row in zip(weights[l], w_grads[l])
        ]
        new_b[l] = (
            [b - lr * g for b, g in zip(biases[l], b_grads[l])] if train_bias else list(biases[l])
        )
        # weights the error flows back through: the ones the forward pass used, or
        # (sequential) the ones just computed for this layer
        w_back = new_w[l] if sequential else weights[l]
        contributions[l] = [[d_j * w for w in row] for d_j, row in zip(delta, w_back)]
        if sequential and apply:
            weights[l], biases[l] = new_w[l], new_b[l]
        if l > 0:
            d_out = [sum(col) for col in zip(*contributions[l])]
            deriv = slopes(nets[l - 1], outs[l], acts[l - 1])
            layer_d_out[l - 1], layer_deriv[l - 1] = d_out, deriv
            delta = [g * d for g, d in zip(d_out, deriv)]
    if apply and not sequential:
        weights[:], biases[:] = new_w, new_b

    if record is not None:
        record.update(
            net_inputs=nets,
            outputs=outs[1:],
            errors=errors,
            total_error=sample_error,
            d_error_d_output=layer_d_out,
            d_output_d_net=layer_deriv,
            deltas=layer_delta,
            contributions=contributions,
            weight_gradients=w_grads,
            bias_gradients=b_grads,
            new_weights=new_w,
            new_biases=new_b,
        )
    return sample_error


# --------------------------------------------------------------------- engine API
def forward(params, sizes, layout, acts, X):
    """Outputs of the network for every row of ``X`` (2-D, the parameters' dtype)."""
    sizes = [int(s) for s in sizes]
    weights, biases = unpack(params, layout, sizes)
    acts = [int(a) for a in acts]
    rows = [forward_layers(weights, biases, acts, x)[1][-1] for x in X.tolist()]
    # an output beyond float32's range rounds to infinity, as the compiled engine's
    # float32 arithmetic gives it (the caller reports it)
    with np.errstate(over="ignore"):
        return np.array(rows, dtype=params.dtype).reshape(len(rows), sizes[-1])


def sample_errors(params, sizes, layout, acts, loss, X, T):
    """The error of every sample (row of ``X``, ``T``) under the network's loss."""
    sizes = [int(s) for s in sizes]
    weights, biases = unpack(params, layout, sizes)
    acts = [int(a) for a in acts]
    errors = []
    for x, t in zip(X.tolist(), T.tolist()):
        _signals.poll()  # Ctrl-C (see backprop._signals)
        nets, outs = forward_layers(weights, biases, acts, x)
        errors.append(sum(output_deltas(nets[-1], outs[-1], t, acts[-1], int(loss))[0]))
    return np.array(errors, dtype=np.float64)


def trace_step(params, sizes, layout, acts, train_bias, loss, x, t, lr, sequential):
    """Every intermediate quantity of one training step on one sample.

    ``params`` is left unchanged.  Returns a dict of per-layer lists of arrays.
    """
    sizes = [int(s) for s in sizes]
    weights, biases = unpack(params, layout, sizes)
    record: dict = {}
    train_sample(
        weights,
        biases,
        [int(a) for a in acts],
        int(loss),
        bool(train_bias),
        x.tolist(),
        t.tolist(),
        float(lr),
        bool(sequential),
        record,
    )
    # the same types as the compiled engine: arrays of the parameters' dtype (a
    # value beyond float32's range rounds to infinity; the caller reports it)
    with np.errstate(over="ignore"):
        return {
            key: value
            if key == "total_error"
            else np.array(value, dtype=params.dtype)
            if key == "errors"
            else [np.array(v, dtype=params.dtype) for v in value]
            for key, value in record.items()
        }


def train(
    params,
    sizes,
    layout,
    acts,
    train_bias,
    loss,
    X,
    T,
    epochs,
    lr,
    sequential,
    history,
    counts,
    total=-1,
    record_every=1,
    batch_size=1,
    optimizer=SGD,
    hyper=None,
    state=None,
    perm=None,
    rng=None,
    check_params=True,
    rates=None,
):
    """Train on the rows of ``X``/``T`` for ``epochs`` epochs, in place.

    The seed's case (``batch_size`` 1, plain SGD, no ``perm``) is online SGD: one
    update per sample, samples in order.  Otherwise:

    * ``perm`` (int array over the samples) is the sample order, reshuffled at the
      start of every epoch with the splitmix64 generator whose state is ``rng``
      (a one-element uint64 array); both are updated in place;
    * the gradient is summed over ``batch_size`` consecutive samples, divided by
      their count, and applied by ``optimizer`` (``SGD`` ... ``RPROP``) with the
      settings ``hyper`` (in ``_spec.HYPER`` order) and the state vector ``state``
      (``_spec.state_size`` long, updated in place).  A last, shorter batch counts
      its own samples.  Untrained biases get a zero gradient;
    * ``rates`` (float64, one per epoch of this call), a learning-rate
      schedule's rates, replaces ``lr`` epoch by epoch.

    The error of an epoch is the sum of its samples' errors, each measured in the
    forward pass that computes its gradient (before its own update).  This call
    continues a run of ``total`` epochs (default: the ones done plus ``epochs``)
    whose progress is ``counts`` (C long long: epochs complete, samples complete of the
    next), updated in place at every epoch's end; the run keeps every
    ``record_every``-th epoch's error and its last in ``history`` (float64, as long
    as ``_spec.recorded`` says for the whole run), written in place.  The
    caller can so read what is done at any moment, even if an exception cuts the
    call's return short.

    Returns ``(failed_epoch, last_error, interrupt)``.  On success
    ``failed_epoch`` is -1, ``last_error`` the last epoch's error, ``interrupt``
    None, and ``params`` holds the trained weights.  If an error or a weight
    becomes non-finite, training stops and ``failed_epoch`` is that epoch (counted
    within this call); ``params``, ``state``, ``perm`` and ``rng`` are then
    unspecified (the caller keeps a copy to restore).  With ``check_params`` the
    weights are checked after every epoch, so ``failed_epoch`` is the first epoch
    that left a weight non-finite; without it (a cheaper pass) the compiled engine
    checks them only at the end and reports the last epoch.  This twin always
    checks every epoch.

    A signal whose Python handler raises (Ctrl-C) stops training at the next
    sample or batch boundary: ``interrupt`` is then ``(exception, epochs
    completed, samples completed of the next epoch)`` and ``params``, ``state``,
    ``perm`` and ``rng`` hold every completed update.  (The compiled engine looks
    for signals every few milliseconds of work; this twin holds SIGINT, in the
    main thread, until the next boundary.)
    """
    sizes = [int(s) for s in sizes]
    weights, biases = unpack(params, layout, sizes)
    acts, loss, train_bias, lr = [int(a) for a in acts], int(loss), bool(train_bias), float(lr)
    rows_x, rows_t = X.tolist(), T.tolist()
    order = None if perm is None else perm.tolist()
    seed = None if rng is None else [int(rng[0])]
    st = [] if state is None else state.tolist()
    h = dict(zip(HYPER, [] if hyper is None else hyper.tolist()))
    penalised = h.get("weight_decay", 0.0) != 0.0 or h.get("alpha", 0.0) != 0.0
    online = batch_size == 1 and optimizer == SGD and not penalised
    # float32 networks: double-precision maths, weights rounded after each update
    single = params.dtype == np.float32
    first = int(counts[0])
    epochs, k = int(epochs), int(record_every)
    total_epochs = first + epochs if total < 0 else int(total)
    failed, last_error, interrupt = -1, 0.0, None
    with _HeldSignal() as held:
        for epoch in range(epochs):
            if rates is not None:  # a learning-rate schedule: each epoch's rate
                lr = float(rates[epoch])
            if order is not None:
                shuffle(order, seed)
            total_error, grad, count = 0.0, None, 0
            for s in range(len(rows_x)):
                r = order[s] if order is not None else s
                if online:
                    total_error += train_sample(
                        weights, biases, acts, loss, train_bias, rows_x[r], rows_t[r], lr,
                        bool(sequential), single=single,
                    )  # fmt: skip
                    if single:
                        weights = [[_f32(row) for row in w] for w in weights]
                        biases = [_f32(b) for b in biases]
                else:
                    record: dict = {}
                    total_error += train_sample(
                        weights, biases, acts, loss, train_bias, rows_x[r], rows_t[r], lr,
                        False, record, apply=False, single=single,
                    )  # fmt: skip
                    zeros = [[0.0] * len(b) for b in biases]
                    g = flatten(
                        record["weight_gradients"],
                        record["bias_gradients"] if train_bias else zeros,
                    )
                    grad = g if grad is None else [a + b for a, b in zip(grad, g)]
                    count += 1
                    if count == batch_size or s == len(rows_x) - 1:
                        flat = flatten(weights, biases)
                        if penalised:
                            add_penalty(grad, flat, layout, float(count), h)
                        optimizer_step(flat, grad, float(count), int(optimizer), lr, h, st)
                        if single:
                            flat, st[:] = _f32(flat), _f32(st)
                        weights, biases = unpack(flat, layout, sizes)
                        grad, count = None, 0
                if count == 0 and s + 1 < len(rows_x):  # a boundary inside the epoch
                    exc = held.raised()
                    if exc is not None:
                        interrupt = (exc, epoch, s + 1)
                        counts[1] = s + 1
                        break
            if interrupt is not None:
                break
            last_error = total_error
            g_epoch = first + epoch
            if (g_epoch + 1) % k == 0 or g_epoch + 1 == total_epochs:
                history[g_epoch // k] = total_error
            if not (math.isfinite(total_error) and params_finite(weights, biases)):
                return epoch, total_error, None
            counts[0], counts[1] = g_epoch + 1, 0
            exc = held.raised()  # at the epoch's end: the epoch counts as complete
            if exc is not None:
                interrupt = (exc, epoch + 1, 0)
                break
        # inside the held signal, so that the buffers match ``counts``
        params[:] = flatten(weights, biases)
        if state is not None:
            state[:] = st
        if perm is not None:
            perm[:] = order
            rng[0] = seed[0]
    return failed, last_error, interrupt


class _HeldSignal:
    """Hold SIGINT (in the main thread) until the training loop reaches a sample or
    batch boundary, where ``raised`` runs the original handler: its exception, if
    it raises one, is the interrupt."""

    def __enter__(self) -> _HeldSignal:
        self.pending = None
        self.original = None
        if threading.current_thread() is threading.main_thread():
            try:
                self.original = signal.signal(signal.SIGINT, self._hold)
            except (ValueError, TypeError):  # not the main interpreter
                self.original = None
        return self

    def _hold(self, signum, frame) -> None:
        self.pending = (signum, frame)

    def raised(self) -> BaseException | None:
        if self.original is not None:
            _signals.poll()  # runs ``_hold`` if SIGINT arrived (see backprop._signals)
        if self.pending is None:
            return None
        (signum, frame), self.pending = self.pending, None
        try:
            if callable(self.original):
                self.original(signum, frame)
            elif self.original != signal.SIG_IGN:
                raise KeyboardInterrupt
        except BaseException as exc:  # noqa: BLE001 - the handler's exception is the interrupt
            return exc
        return None

    def __exit__(self, *exc_info) -> None:
        if self.original is not None:
            signal.signal(signal.SIGINT, self.original)
        if self.pending is not None:  # arrived after the last boundary: deliver it now
            signal.raise_signal(self.pending[0])


def add_penalty(grad, w, layout, count, h) -> None:
    """Add the L2 penalty's gradient to the summed gradient ``grad`` of ``count``
    samples, weights only (biases are never penalised): ``alpha * w`` to the sum
    (scikit-learn's convention), ``weight_decay * w`` to the mean that
    ``optimizer_step`` takes (PyTorch's), so ``(weight_decay * count + alpha) * w``
    to the sum."""
    c = h["weight_decay"] * count + h["alpha"]
    for w0, b0, _ in layout.tolist():
        for k in range(w0, b0):
            grad[k] = grad[k] + c * w[k]


def optimizer_step(w, grad, count, optimizer, lr, h, st) -> None:
    """Apply the mean gradient ``grad * (1 / count)`` to the flat list ``w`` in place."""
    m = len(w)
    inv = 1.0 / count  # the mean gradient is grad * (1 / count)
    if optimizer == ADAM:
        st[2 * m] += 1.0  # the step count t
    for k in range(m):
        g = grad[k] * inv
        if optimizer == SGD:
            w[k] = w[k] - lr * g
        elif optimizer in (MOMENTUM, NESTEROV):
            # velocity v <- mu v - lr g; nesterov then steps by mu v - lr g
            v = h["momentum"] * st[k] - lr * g
            st[k] = v
            w[k] = w[k] + (v if optimizer == MOMENTUM else h["momentum"] * v - lr * g)
        elif optimizer == ADAM:
            # moments with bias correction 1 - beta^t, t counting steps
            st[k] = h["beta1"] * st[k] + (1.0 - h["beta1"]) * g
            st[m + k] = h["beta2"] * st[m + k] + (1.0 - h["beta2"]) * (g * g)
            m_hat = st[k] / (1.0 - math.pow(h["beta1"], st[2 * m]))
            v_hat = st[m + k] / (1.0 - math.pow(h["beta2"], st[2 * m]))
            w[k] = w[k] - lr * m_hat / (math.sqrt(v_hat) + h["epsilon"])
        else:
            # iRPROP- (Igel and Huesken 2000): grow the step while the gradient keeps
            # its sign, shrink it and skip one step when the sign flips (the
            # state keeps the gradient's sign: a product of two tiny gradients
            # would underflow to 0)
            step = st[k]
            if g * st[m + k] > 0.0:
                step = min(step * h["rprop_increase"], h["rprop_max_step"])
            elif g * st[m + k] < 0.0:
                step = max(step * h["rprop_decrease"], h["rprop_min_step"])
                g = 0.0
            st[k] = step
            if g > 0.0:
                w[k] = w[k] - step
            elif g < 0.0:
                w[k] = w[k] + step
            st[m + k] = float((g > 0.0) - (g < 0.0))


def _f32(values: list) -> list:
    """``values`` rounded to float32 (and back to Python floats)."""
    return array("f", values).tolist()


_MASK64 = (1 << 64) - 1


def splitmix64(state: list) -> int:
    """The splitmix64 generator (Steele, Lea and Flood 2014), as ``_core`` has it."""
    state[0] = (state[0] + 0x9E3779B97F4A7C15) & _MASK64
    z = state[0]
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def shuffle(order: list, state: list) -> None:
    """Fisher-Yates shuffle of ``order`` in place."""
    for i in range(len(order) - 1, 0, -1):
        j = splitmix64(state) % (i + 1)
        order[i], order[j] = order[j], order[i]


def params_finite(weights, biases) -> bool:
    return all(math.isfinite(v) for w in weights for row in w for v in row) and all(
        math.isfinite(v) for b in biases for v in b
    )

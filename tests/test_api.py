"""The public API: shapes, types, accepted input forms, copies, pickling, Trace."""

from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np
import pytest

import backprop as bp

SIZES = [3, 4, 2]


@pytest.fixture
def net():
    return bp.Network(SIZES, seed=42)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, size=(5, 3)), rng.uniform(0.1, 0.9, size=(5, 2))


# ---------------------------------------------------------------- shapes, types
def test_forward_one_sample_gives_one_row(net, data):
    X, _ = data
    out = net.forward(X[0])
    assert isinstance(out, np.ndarray)
    assert out.shape == (2,)
    assert out.dtype == np.float64


@pytest.mark.parametrize("n_samples", [1, 5])
def test_forward_rows_give_rows(net, data, n_samples):
    X, _ = data
    out = net.forward(X[:n_samples])
    assert out.shape == (n_samples, 2)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out[0], net.forward(X[0]))


@pytest.mark.parametrize("epochs", [1, 7])
def test_train_returns_one_float64_per_epoch(net, data, epochs):
    history = net.train(*data, epochs=epochs)
    assert isinstance(history, np.ndarray)
    assert history.dtype == np.float64
    assert history.shape == (epochs,)
    assert np.all(np.isfinite(history)) and np.all(history > 0)


def test_train_defaults_to_one_epoch(net, data):
    assert net.train(*data).shape == (1,)


def test_first_history_entry_is_the_error_before_training(net, data):
    """One sample: history[0] is the error measured before the first update."""
    X, T = data
    before = net.total_error(X[0], T[0])
    assert net.train(X[0], T[0], epochs=3)[0] == before


def test_total_error_is_a_float_summed_over_samples(net, data):
    X, T = data
    total = net.total_error(X, T)
    assert type(total) is float
    per_sample = [net.total_error(x, t) for x, t in zip(X, T)]
    np.testing.assert_allclose(total, sum(per_sample), rtol=1e-15)


def test_training_reduces_the_error(net, data):
    before = net.total_error(*data)
    net.train(*data, epochs=50)
    assert net.total_error(*data) < before


def test_properties(net):
    assert net.layers == (3, 4, 2)
    assert net.bias == "per-neuron"
    assert net.train_bias is True
    assert net.activations == ("logistic", "logistic")
    assert net.loss == "half_sse"
    assert net.engine == bp.default_engine()


def test_activation_options(net):
    custom = bp.Network(
        [2, 3, 3, 2], activation="tanh", output_activation="softmax", loss="cross_entropy", seed=1
    )
    assert custom.activations == ("tanh", "tanh", "softmax")
    per_layer = bp.Network([2, 3, 3, 2], activation=["relu", "tanh", "linear"], seed=1)
    assert per_layer.activations == ("relu", "tanh", "linear")


@pytest.mark.parametrize("bias_mode, n_bias", [("per-neuron", 4 + 2), ("shared", 2), ("none", 0)])
def test_parameter_layout(bias_mode, n_bias):
    """params holds each layer's weights (row-major), then that layer's biases."""
    net = bp.Network(SIZES, seed=3, bias=bias_mode)
    params = net.params
    assert params.shape == (3 * 4 + 4 * 2 + n_bias,)
    weights, biases = net.weights, net.biases
    assert [w.shape for w in weights] == [(4, 3), (2, 4)]
    assert [b.shape for b in biases] == [(4,), (2,)]
    stored_biases = {
        "per-neuron": biases,
        "shared": [b[:1] for b in biases],
        "none": [b[:0] for b in biases],
    }[bias_mode]
    expected = np.concatenate(
        [weights[0].ravel(), stored_biases[0], weights[1].ravel(), stored_biases[1]]
    )
    np.testing.assert_array_equal(params, expected)
    if bias_mode == "none":
        assert all(np.array_equal(b, np.zeros_like(b)) for b in biases)
    if bias_mode == "shared":
        assert all(np.all(b == b[0]) for b in biases)


def test_explicit_weights_and_biases_are_used():
    weights = [np.arange(6.0).reshape(2, 3) / 10, np.array([[0.5, -0.5]])]
    net = bp.Network([3, 2, 1], weights=weights, biases=[[0.1, 0.2], [0.3]])
    np.testing.assert_array_equal(net.weights[0], weights[0])
    np.testing.assert_array_equal(net.weights[1], weights[1])
    np.testing.assert_array_equal(net.biases[1], [0.3])
    weights[0][0, 0] = 99.0  # the network holds its own copy
    assert net.weights[0][0, 0] == 0.0


def test_shared_biases_accept_one_value_or_equal_values():
    weights = [np.full((2, 2), 0.1)]
    for biases in ([0.7], [[0.7]], [[0.7, 0.7]], [np.float64(0.7)]):
        net = bp.Network([2, 2], weights=weights, biases=biases, bias="shared")
        np.testing.assert_array_equal(net.biases[0], [0.7, 0.7])


# ----------------------------------------------------------------- input forms
def _results(net, X, T, x, t):
    """Everything a network computes from some data, on copies of ``net``."""
    trained = net.copy()
    history = trained.train(X, T, epochs=3)
    trace = net.trace(x, t)
    return {
        "forward": net.forward(X),
        "forward-one": net.forward(x),
        "total_error": net.total_error(X, T),
        "history": history,
        "trained": trained.params,
        "trace-new-weights": np.concatenate([np.ravel(w) for w in trace.new_weights]),
        "trace-total-error": trace.total_error,
    }


def _assert_same(got, expected):
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)


def _read_only(a):
    a = np.array(a)
    a.setflags(write=False)
    return a


def _reversed_columns(a):
    """Same values, negative column stride: reverse a reversed copy."""
    return np.ascontiguousarray(a[:, ::-1])[:, ::-1]


def _strided_rows(a):
    """Same values, every other row of a twice-as-long array."""
    double = np.repeat(a, 2, axis=0)
    return double[::2]


def _unaligned(a):
    """Same values in float64 storage that starts one byte into a buffer."""
    a = np.asarray(a, dtype=np.float64)
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    out = np.ndarray(a.shape, dtype=np.float64, buffer=raw.data, offset=1)
    out[...] = a
    assert not out.flags.aligned
    return out


class _Subclass(np.ndarray):
    pass


INPUT_FORMS = {
    "list-of-lists": lambda a: a.tolist(),
    "tuple-of-tuples": lambda a: tuple(map(tuple, a.tolist())),
    "read-only": _read_only,
    "reversed-columns": _reversed_columns,
    "strided-rows": _strided_rows,
    "fortran-order": np.asfortranarray,
    "transposed-copy": lambda a: np.ascontiguousarray(a.T).T,
    "float32-exact": lambda a: a.astype(np.float32),
    "unaligned": _unaligned,
    "ndarray-subclass": lambda a: np.array(a).view(_Subclass),
}


@pytest.mark.parametrize("form", INPUT_FORMS.values(), ids=INPUT_FORMS.keys())
def test_input_forms_give_the_same_results(net, form):
    """Any array-like of the same values gives bitwise the same results.

    The data are multiples of 1/8 so that float32 holds them exactly.
    """
    rng = np.random.default_rng(5)
    X = rng.integers(-8, 9, size=(4, 3)) / 8
    T = rng.integers(1, 8, size=(4, 2)) / 8
    _assert_same(
        _results(net, form(X), form(T), form(X[:1])[0], form(T[:1])[0]),
        _results(net, X, T, X[0], T[0]),
    )


def test_big_endian_input_gives_the_same_results(engine):
    net = bp.Network(SIZES, seed=42, engine=engine)
    X = np.array([[0.125, -0.5, 0.25], [0.5, 0.75, -1.0]])
    T = np.array([[0.25, 0.75], [0.5, 0.125]])
    swapped = X.astype(">f8"), T.astype(">f8")
    _assert_same(
        _results(net, *swapped, swapped[0][0], swapped[1][0]), _results(net, X, T, X[0], T[0])
    )


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, bool])
def test_integer_and_bool_input_is_converted(net, dtype):
    X = np.array([[1, 0, 1], [0, 1, 1]], dtype=dtype)
    T = np.array([[1, 0], [0, 1]], dtype=dtype)
    Xf, Tf = X.astype(np.float64), T.astype(np.float64)
    np.testing.assert_array_equal(net.forward(X), net.forward(Xf))
    assert net.total_error(X, T) == net.total_error(Xf, Tf)
    other = net.copy()
    np.testing.assert_array_equal(net.train(X, T, epochs=2), other.train(Xf, Tf, epochs=2))
    np.testing.assert_array_equal(net.params, other.params)


def test_input_is_not_modified(net, data):
    X, T = data
    X0, T0 = X.copy(), T.copy()
    net.train(X, T, epochs=2)
    net.trace(X[0], T[0])
    net.forward(X)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(T, T0)


@pytest.mark.parametrize(
    "learning_rate",
    [0.5, 1, np.float64(0.5), np.float32(0.5)],
    ids=["float", "int", "float64", "float32"],
)
@pytest.mark.parametrize("epochs", [2, np.int64(2)], ids=["int", "int64"])
def test_numpy_scalars_as_options(net, data, learning_rate, epochs):
    other = net.copy()
    history = net.train(*data, epochs=epochs, learning_rate=learning_rate)
    np.testing.assert_array_equal(
        history, other.train(*data, epochs=2, learning_rate=float(learning_rate))
    )
    np.testing.assert_array_equal(net.params, other.params)


@pytest.mark.parametrize("update", bp.UPDATES)
def test_one_call_per_epoch_equals_one_call(net, data, update):
    """Training is resumable: k calls of one epoch equal one call of k epochs."""
    other = net.copy()
    histories = [net.train(*data, epochs=1, update=update)[0] for _ in range(4)]
    np.testing.assert_array_equal(histories, other.train(*data, epochs=4, update=update))
    np.testing.assert_array_equal(net.params, other.params)


# (random starts: tests/test_training.py, section 8)


# ----------------------------------------------------------- copies, pickling
@pytest.mark.parametrize("attribute", ["weights", "biases"])
def test_weight_and_bias_properties_are_copies(net, attribute):
    before = net.params
    arrays = getattr(net, attribute)
    assert len(arrays) == 2  # one per weight layer: the loop below is not empty
    for array in arrays:
        array[...] = 7.0
    assert np.array_equal(net.params, before)


def test_params_is_a_copy(net):
    before = net.params
    net.params[:] = 0.0
    assert np.array_equal(net.params, before)


def test_copy_is_independent(net, data):
    twin = net.copy()
    assert twin is not net
    assert repr(twin) == repr(net)
    np.testing.assert_array_equal(twin.params, net.params)
    before = net.params
    twin.train(*data, epochs=3)
    assert np.array_equal(net.params, before)
    assert not np.array_equal(twin.params, before)
    net.train(*data, epochs=3)
    np.testing.assert_array_equal(net.params, twin.params)


def test_pickle_round_trip(engine, data):
    net = bp.Network(
        SIZES,
        seed=8,
        bias="shared",
        activation="tanh",
        output_activation="logistic",
        loss="cross_entropy",
        engine=engine,
    )
    net.train(*data, epochs=2)
    clone = pickle.loads(pickle.dumps(net))
    assert clone.engine == engine
    assert repr(clone) == repr(net)
    assert (clone.layers, clone.bias, clone.train_bias, clone.activations, clone.loss) == (
        net.layers,
        net.bias,
        net.train_bias,
        net.activations,
        net.loss,
    )
    np.testing.assert_array_equal(clone.params, net.params)
    # the clone trains on its own buffer, exactly as the original does
    np.testing.assert_array_equal(clone.train(*data, epochs=2), net.train(*data, epochs=2))
    np.testing.assert_array_equal(clone.params, net.params)


def test_repr(net):
    text = repr(net)
    assert text.startswith("Network([3, 4, 2]")
    assert f"engine={net.engine!r}" in text
    assert "bias='shared'" in repr(bp.Network([2, 2], bias="shared"))
    assert "train_bias=False" in repr(bp.Network.tutorial())
    assert "loss='mse'" in repr(bp.Network([2, 2], loss="mse"))
    assert "tanh" in repr(bp.Network([2, 2], activation="tanh"))


def test_public_names():
    for name in bp.__all__:
        assert hasattr(bp, name), name
    assert isinstance(bp.__version__, str)
    assert bp.ENGINES == ("cython", "python")
    assert set(bp.UPDATES) == {"simultaneous", "sequential"}


# ----------------------------------------------------------------------- Trace
@pytest.fixture
def tutorial_trace():
    return bp.Network.tutorial().trace([0.05, 0.10], [0.01, 0.99])


def test_trace_str_shows_the_seeds_figures(tutorial_trace):
    text = str(tutorial_trace)
    for figure in ("0.593269992", "0.596884378", "0.298371109", "0.082167041", "0.149780716"):
        assert figure in text


def test_trace_repr_is_short(tutorial_trace):
    text = repr(tutorial_trace)
    assert text.startswith("Trace(")
    assert "\n" not in text
    assert len(text) < 200
    assert "0.298371" in text


def test_trace_as_dict_is_json_ready(tutorial_trace):
    record = tutorial_trace.as_dict()
    assert set(record) == {f.name for f in dataclasses.fields(bp.Trace)}
    restored = json.loads(json.dumps(record))
    assert restored == record
    assert restored["update"] == "simultaneous"
    assert restored["learning_rate"] == 0.5
    np.testing.assert_array_equal(
        restored["new_weights"][1], np.asarray(tutorial_trace.new_weights[1])
    )
    assert restored["total_error"] == tutorial_trace.total_error


def test_trace_is_frozen(tutorial_trace):
    with pytest.raises(dataclasses.FrozenInstanceError):
        tutorial_trace.total_error = 0.0


def test_trace_records_its_arguments():
    trace = bp.Network.tutorial().trace(
        [0.05, 0.10], [0.01, 0.99], learning_rate=0.25, update="sequential"
    )
    assert trace.learning_rate == 0.25
    assert trace.update == "sequential"
    np.testing.assert_array_equal(trace.inputs, [0.05, 0.10])
    np.testing.assert_array_equal(trace.targets, [0.01, 0.99])


TRACE_SHAPES = {  # field: shape of entry l for a network with layer sizes n
    "net_inputs": lambda n, l: (n[l + 1],),
    "outputs": lambda n, l: (n[l + 1],),
    "d_error_d_output": lambda n, l: (n[l + 1],),
    "d_output_d_net": lambda n, l: (n[l + 1],),
    "deltas": lambda n, l: (n[l + 1],),
    "contributions": lambda n, l: (n[l + 1], n[l]),
    "weight_gradients": lambda n, l: (n[l + 1], n[l]),
    "new_weights": lambda n, l: (n[l + 1], n[l]),
    # one bias per unit: bias="per-neuron", the default
    "bias_gradients": lambda n, l: (n[l + 1],),
    "new_biases": lambda n, l: (n[l + 1],),
}


def test_trace_fields_are_arrays_of_the_documented_shapes(engine, trace_layer_fields):
    """On a float64 network (the default) every array is float64; float32 networks'
    traces are checked in tests/test_float32.py."""
    sizes = (3, 4, 2)
    trace = bp.Network(sizes, seed=2, engine=engine).trace([0.1, 0.2, 0.3], [0.4, 0.5])
    # the per-layer fields the other test files loop over are exactly the list fields
    assert {
        f.name for f in dataclasses.fields(trace) if isinstance(getattr(trace, f.name), list)
    } == set(trace_layer_fields)
    assert set(TRACE_SHAPES) == set(trace_layer_fields)
    for field, shape in TRACE_SHAPES.items():
        entries = getattr(trace, field)
        assert len(entries) == 2
        for layer, entry in enumerate(entries):
            assert isinstance(entry, np.ndarray), (field, layer)
            assert entry.dtype == np.float64
            assert entry.shape == shape(sizes, layer), (field, layer)
    assert isinstance(trace.errors, np.ndarray) and trace.errors.shape == (2,)
    assert type(trace.total_error) is float
    # indexing as the docs show: dE/dw of the first weight is delta_0 * x_0
    assert trace.weight_gradients[0][0, 0] == trace.deltas[0][0] * 0.1


# ------------------------------------------------------------ pickles
class Mine(bp.Network):
    """A user's subclass (module level, so that pickle finds it)."""


def test_pickle_keeps_the_subclass(engine):
    net = Mine([2, 3, 1], seed=4, engine=engine)
    clone = pickle.loads(pickle.dumps(net))
    assert type(clone) is Mine
    np.testing.assert_array_equal(clone.params, net.params)


def _state(net):
    from backprop import io

    return io.pickle_state(net)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda s: s["arrays"].update(weights_0=np.zeros((9, 9))), "weights_0"),
        (lambda s: s["arrays"].update(weights_1=np.zeros((1, 3), np.float32)), "weights_1"),
        (lambda s: s["arrays"].pop("biases_0"), "arrays must be"),
        (lambda s: s["arrays"].update(weights_0=np.full((3, 2), np.nan)), "NaN"),
        (lambda s: s["header"].update(layers=[2, 3, 2]), "weights_1"),
        (lambda s: s["header"].update(version=99), "version"),
        (lambda s: s["header"].update(activations=["logistic", "softmax", "x"]), "activations"),
        (lambda s: s.update(engine="cuda"), "engine"),
        (lambda s: s.update(extra=1), "not the state"),
    ],
    ids=[
        "shape",
        "dtype",
        "missing",
        "nan",
        "layers",
        "version",
        "activations",
        "engine",
        "extra-key",
    ],
)
def test_inconsistent_pickle_is_refused(engine, damage, message):
    """A pickle is checked as a file is: an inconsistent one never builds a network
    (its forward pass would read past the parameter buffer)."""
    from backprop import io

    net = bp.Network([2, 3, 1], seed=4, engine=engine)
    state = _state(net)
    damage(state)
    with pytest.raises(ValueError, match=message):
        io.from_pickle_state(state)
    # the same state through pickle itself
    reduced = pickle.dumps((io.from_pickle_state, state))
    function, damaged = pickle.loads(reduced)
    with pytest.raises(ValueError, match="cannot unpickle a backprop Network"):
        function(damaged)


def test_pickle_from_another_version_is_refused():
    """backprop 0.1.0 pickled the instance dict; such a state is refused, not trusted."""
    net = object.__new__(bp.Network)
    with pytest.raises(ValueError, match="not written by this version"):
        net.__setstate__({"_sizes": (2, 1), "_params": np.zeros(1)})


# ------------------------------------------------------------ threads
@pytest.mark.parametrize("plain", [True, False], ids=["fast-path", "checked-path"])
def test_two_networks_train_in_two_threads_as_alone(engine, plain):
    """Networks share no mutable state: trained at the same time in two threads,
    each ends with the bits it gets when trained alone."""
    import threading

    rng = np.random.default_rng(5)
    X, T = rng.uniform(-1, 1, (40, 3)), rng.uniform(0.1, 0.9, (40, 2))
    options = {} if plain else {"shuffle": True, "seed": 3}
    lrs = (0.3, 0.7)

    def make(k):
        return bp.Network([3, 6, 2], seed=k, engine=engine)

    alone = []
    for k in range(2):
        net = make(k)
        net.train(X, T, epochs=30, learning_rate=lrs[k], **options)
        alone.append(net.params)
    together = [make(0), make(1)]
    threads = [
        threading.Thread(target=lambda k=k: together[k].train(X, T, 30, lrs[k], **options))
        for k in range(2)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for k in range(2):
        np.testing.assert_array_equal(together[k].params, alone[k])


# ------------------------------------------------------------ fast-path argument forms
def _forms(x):
    """The same values as arrays the compiled fast path converts in C."""
    swapped = x.astype(x.dtype.newbyteorder())
    misaligned = np.frombuffer(b"\0" + x.tobytes(), dtype=x.dtype, offset=1)
    return {
        "strided": np.repeat(x, 2)[::2],
        "swapped": swapped,
        "misaligned": misaligned,
        "float32": x.astype(np.float32),
        "tuple": tuple(x.tolist()),
        "numpy-scalars": [np.float64(v) for v in x],
    }


@pytest.mark.parametrize("form", list(_forms(np.zeros(1))))
def test_argument_forms_train_as_plain_arrays(engine, form):
    x, t = np.array([0.5, -0.25]), np.array([0.125])
    plain = bp.Network([2, 3, 1], seed=3, engine=engine)
    other = plain.copy()
    expected = plain.train(
        x.astype(np.float32).astype(np.float64) if form == "float32" else x, t, epochs=3
    )
    got = other.train(_forms(x)[form], _forms(t)[form], epochs=np.int64(3))
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(other.params, plain.params)


def test_integer_data_and_one_wide_layers_take_any_form(engine):
    X, T = np.array([[1, 0], [0, 1]]), np.array([0.2, 0.8])
    a = bp.Network([2, 2, 1], seed=2, engine=engine)
    b = a.copy()
    a.train(X.astype(float), T.reshape(-1, 1), epochs=2)
    b.train(X, T.tolist(), epochs=2)
    np.testing.assert_array_equal(a.params, b.params)


def test_bad_values_in_converted_forms_are_named(engine):
    net = bp.Network([2, 1], seed=0, engine=engine)
    before = net.params
    with pytest.raises(ValueError, match="^X contains NaN"):
        net.train(np.repeat([np.nan, 1.0], 2)[::2], [0.5])
    with pytest.raises(ValueError, match="too large for float32"):
        bp.Network([2, 1], seed=0, dtype=np.float32, engine=engine).train(
            np.repeat([1e300, 1.0], 2)[::2], [0.5]
        )
    np.testing.assert_array_equal(net.params, before)

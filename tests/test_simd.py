"""The compiled engine's SIMD levels: chosen at import, forced by BACKPROP_SIMD,
reported by ``bp.build_info()``, and the same bits at every level.

``_kernels.pyx`` is compiled once per level (baseline, AVX2, AVX-512); the
levels this machine runs are checked against each other here on trained
networks of every activation, loss, optimizer and batch size, in both
precisions.  (The engine-agreement, seed, kernel and float32 tests also run
under each level: the ``simd_level`` fixture of tests/conftest.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import backprop as bp
from backprop import _spec

pytestmark = pytest.mark.usefixtures("core")


def test_build_info_describes_the_build(core):
    info = bp.build_info()
    assert info["compiled"] is True
    assert info["version"] == bp.__version__
    assert info["simd"] == core.simd_level() in info["simd_levels"]
    assert set(info["simd_levels"]) <= set(info["simd_built"]) & set(info["simd_cpu"])
    assert info["simd_cpu"][0] == "baseline" and set(info["simd_cpu"]) <= set(_spec.SIMD_LEVELS)
    # the best level the CPU runs is chosen, unless BACKPROP_SIMD says otherwise
    if not os.environ.get("BACKPROP_SIMD"):
        assert info["simd"] == info["simd_levels"][-1]
    assert isinstance(info["compiler"], str) and info["compiler"]
    if info["compiler"].startswith(("gcc", "clang")):
        assert "-ffp-contract=off" in info["flags"].split()
        assert "-ffast-math" not in info["flags"] and "-Ofast" not in info["flags"]
        assert "-ffp-contract=off" in info["simd_flags"].split()
    assert info["simd_isa"]
    assert info["blas"] in (None, "scipy.linalg.cython_blas")
    json.dumps(info)  # plain data


def _import_with(level: str) -> subprocess.CompletedProcess:
    code = (
        "import backprop as bp; i = bp.build_info(); print(i['simd']); print(i['compiled_error'])"
    )
    env = {**os.environ, "BACKPROP_SIMD": level}
    env.pop("BACKPROP_ENGINE", None)  # (the compiled engine as the default: refused with it)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


@pytest.mark.parametrize("level", _spec.SIMD_LEVELS)
def test_backprop_simd_forces_a_level(core, level):
    result = _import_with(level)
    assert result.returncode == 0, result.stderr  # (build_info answers either way)
    simd, error = result.stdout.splitlines()
    if level in core.simd_levels():
        assert (simd, error) == (level, "None")
    else:  # a level this CPU lacks (or this build left out): the compiled engine refused
        assert simd == "None" and error.startswith(f"BACKPROP_SIMD='{level}'")
        reason = "does not support" if level not in core.cpu_simd_levels() else "not built"
        assert reason in error


def test_backprop_simd_refuses_an_unknown_level(core):
    result = _import_with(" SSE9")
    assert result.returncode == 0, result.stderr  # (named as given, compared without case)
    assert "BACKPROP_SIMD=' SSE9': unknown SIMD level 'sse9'" in result.stdout


@pytest.mark.parametrize("level", ["sse9", "avx512"])
def test_a_bad_backprop_simd_refuses_the_compiled_engine_only(core, level):
    """The command ends in one line (status 2); the twin still runs; the
    compiled engine, asked for or by default, is refused with the reason."""
    if level in core.simd_levels():
        pytest.skip(f"this CPU runs {level}")
    env = {**os.environ, "BACKPROP_SIMD": level}
    env.pop("BACKPROP_ENGINE", None)
    result = subprocess.run([sys.executable, "-m", "backprop", "demo", "--epochs", "1"],
                            env=env, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"backprop demo: error: BACKPROP_SIMD='{level}': ")
    code = (
        "import backprop as bp\n"
        "assert bp.Network([2, 1], engine='python').train([[0.0, 1.0]], [[1.0]], 2).shape == (2,)\n"
        "for make in (lambda: bp.Network([2, 1]), lambda: bp.Network([2, 1], engine='cython')):\n"
        "    try:\n"
        "        make()\n"
        "    except (ValueError, ImportError) as exc:\n"
        f"        assert \"BACKPROP_SIMD='{level}'\" in str(exc), exc\n"
        "    else:\n"
        "        raise AssertionError('the compiled engine ran')\n"
        "import os, tempfile\n"
        "path = os.path.join(tempfile.mkdtemp(), 'n.npz')\n"
        "bp.Network([2, 1], engine='python').save(path)\n"
        "assert bp.load(path, engine='python').engine == 'python'\n"
        "try:\n"
        "    bp.load(path)  # the default engine: refused, not the file\n"
        "except ValueError as exc:\n"
        f"    assert str(exc).startswith(\"BACKPROP_SIMD='{level}'\"), exc\n"
        "else:\n"
        "    raise AssertionError('loaded with the compiled engine')\n"
        "assert bp.build_info()['default_engine'] is None\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_use_simd_switches_and_refuses(core):
    before = core.simd_level()
    previous = core.use_simd("baseline")
    try:
        assert previous == before
        assert core.simd_level() == "baseline"
        with pytest.raises(ValueError, match="unknown SIMD level"):
            core.use_simd("neon9")
        missing = [level for level in _spec.SIMD_LEVELS if level not in core.simd_levels()]
        for level in missing:
            with pytest.raises(RuntimeError, match=level):
                core.use_simd(level)
        assert core.simd_level() == "baseline"  # a refusal changes nothing
    finally:
        core.use_simd(before)


# --------------------------------------------------- the same bits everywhere
#: (sizes, network options, train options): every activation, loss and optimizer,
#: online and mini-batch, shuffled, sequential, penalised; layers wide enough for
#: the vector loops (and for BLAS: 200 x 100 weights) and narrow ones.
CASES = {
    "digits-like": ((64, 32, 10), {}, {}),
    "seed-shape": ((2, 2, 2), {}, {"update": "sequential"}),
    "tanh-softmax-ce": (
        (10, 16, 8, 4, 3),
        dict(activation="tanh", output_activation="softmax", loss="cross_entropy"),
        dict(batch_size=3, optimizer="adam", shuffle=True, seed=1),
    ),
    "relu-linear-mse": (
        (33, 17, 5),
        dict(activation="relu", output_activation="linear", loss="mse"),
        dict(batch_size=4, optimizer="momentum", weight_decay=1e-3),
    ),
    "leaky-logistic-ce": (
        (9, 12, 1),
        dict(activation="leaky_relu", output_activation="logistic", loss="cross_entropy"),
        dict(optimizer="nesterov", batch_size=5, alpha=1e-4),
    ),
    "wide-sequential": ((40, 36, 12), dict(bias="shared"), dict(update="sequential")),
    "rprop": ((12, 20, 6), dict(activation="tanh"), dict(optimizer="rprop", batch_size=8)),
    "blas-layer": ((200, 100, 10), {}, dict(batch_size=16)),
}


def _train_everywhere(core, sizes, options, train, dtype):
    """{level: (params, history, outputs, trace arrays)} after the same training."""
    rng = np.random.default_rng(len(sizes) + sizes[0])
    X = rng.uniform(-1.0, 1.0, (24, sizes[0]))
    T = rng.uniform(0.05, 0.95, (24, sizes[-1]))
    if options.get("output_activation") == "softmax":
        T /= T.sum(axis=1, keepdims=True)
    results = {}
    before = core.simd_level()
    try:
        for level in core.simd_levels():
            core.use_simd(level)
            net = bp.Network(list(sizes), seed=7, dtype=dtype, engine="cython", **options)
            history = net.train(X, T, epochs=5, learning_rate=0.3, **train)
            trace = net.trace(X[0], T[0], learning_rate=0.3)
            results[level] = (
                net.params.tobytes(),
                np.asarray(history).tobytes(),
                net.forward(X).tobytes(),
                b"".join(np.asarray(a).tobytes() for a in trace.deltas + trace.new_weights),
            )
    finally:
        core.use_simd(before)
    return results


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_trained_networks_have_the_same_bits_at_every_level(core, case, dtype):
    if len(core.simd_levels()) < 2:
        pytest.skip("this machine runs only the baseline kernels")
    sizes, options, train = CASES[case]
    results = _train_everywhere(core, sizes, options, train, dtype)
    baseline = results.pop("baseline")
    for level, got in results.items():
        for what, a, b in zip(("params", "history", "forward", "trace"), got, baseline):
            assert a == b, f"{case}: {what} at {level} differs from baseline"

"""Ensembles against the alternatives, side by side in one run.

Workloads (issue 12's targets):

* ``tutorial``: 1,024 copies of the seed's 2-2-2 network, its one sample,
  10,000 steps each (``quick``: 256 networks, 2,000 steps): time per
  network-step of ``Ensemble.train`` on one thread and on ``n_jobs=2``, of a
  Python loop of ``Network.train`` calls (one per network, all its steps), of
  PyTorch's batched ``bmm`` loop and of JAX's ``vmap`` over ``lax.fori_loop``
  (each only when the package, torch or jax, is installed).
* ``digits``: 32 networks [64, 32, 10] with 32 learning rates, online SGD over
  the digits data (scikit-learn's ``load_digits``; random data of its shape
  without scikit-learn): ``n_jobs=2`` against one thread.

Every figure of a workload comes from one run; ratios are what to read.
``backprop bench`` prints :func:`format_result`; ``benchmarks/test_bench_ensemble.py``
runs the same functions.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .ensemble import Ensemble
from .network import Network

__all__ = ["run", "format_result", "TARGETS"]

#: Issue 12's targets on the 2-core development machine.
TARGETS = {
    "tutorial_ns_per_step": 8.0,
    "tutorial_threads_speedup": 1.8,
    "tutorial_vs_python_loop": 5.0,
    "digits_threads_speedup": 1.8,
}


def _best(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _torch_bmm(n: int, steps: int) -> float | None:
    """PyTorch, the n networks as batched matrices (``bmm``), autograd + SGD."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    x = torch.tensor([[0.05, 0.10]], dtype=torch.float64).expand(n, 1, 2)
    t = torch.tensor([[0.01, 0.99]], dtype=torch.float64).expand(n, 1, 2)
    w1 = torch.full((n, 2, 2), 0.2, dtype=torch.float64, requires_grad=True)
    w2 = torch.full((n, 2, 2), 0.5, dtype=torch.float64, requires_grad=True)
    start = time.perf_counter()
    for _ in range(steps):
        h = torch.sigmoid(torch.bmm(x, w1) + 0.35)
        o = torch.sigmoid(torch.bmm(h, w2) + 0.6)
        loss = 0.5 * ((t - o) ** 2).sum()
        w1.grad = w2.grad = None
        loss.backward()
        with torch.no_grad():
            w1 -= 0.5 * w1.grad
            w2 -= 0.5 * w2.grad
    return time.perf_counter() - start


def _jax_vmap(n: int, steps: int) -> float | None:
    """JAX: one network's step, ``vmap``-ed over the n networks, in ``lax.fori_loop``
    (compiled first; the best of three runs)."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    x, t = jnp.array([0.05, 0.10]), jnp.array([0.01, 0.99])

    def loss(p):
        h = jax.nn.sigmoid(p[0] @ x + 0.35)
        o = jax.nn.sigmoid(p[1] @ h + 0.6)
        return 0.5 * jnp.sum((t - o) ** 2)

    step = jax.vmap(lambda p: p - 0.5 * jax.grad(loss)(p))
    run = jax.jit(lambda p: jax.lax.fori_loop(0, steps, lambda i, q: step(q), p))
    p = jnp.full((n, 2, 2, 2), 0.3)
    run(p).block_until_ready()  # compile
    return _best(lambda: run(p).block_until_ready(), 3)


def run(quick: bool = True, repeat: int = 3) -> dict[str, Any]:
    """Time every workload; returns the figures (seconds and ratios): the best of
    ``repeat`` interleaved rounds of each (one round of a few tens of
    milliseconds is at the mercy of the host's other jobs)."""
    n, steps = (256, 2000) if quick else (1024, 10000)
    x, t = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
    tutorial = Ensemble.from_networks([Network.tutorial()] * n)

    def ensemble(jobs: int) -> float:
        e = tutorial.copy()
        return _best(lambda: e.train(x, t, steps, 0.5, n_jobs=jobs), 1)

    def python_loop() -> float:
        nets = [Network.tutorial() for _ in range(n)]
        start = time.perf_counter()
        for net in nets:
            net.train(x, t, steps, 0.5)
        return time.perf_counter() - start

    one, two, loops = [], [], []
    for _ in range(max(1, repeat)):  # interleaved
        one.append(ensemble(1))
        two.append(ensemble(2))
        loops.append(python_loop())
    loop = min(loops)
    work = n * steps
    result: dict[str, Any] = {
        "tutorial": {
            "networks": n,
            "steps": steps,
            "ns_per_step": min(one) / work * 1e9,
            "ns_per_step_2_threads": min(two) / work * 1e9,
            "threads_speedup": min(one) / min(two),
            "python_loop_ns_per_step": loop / work * 1e9,
            "vs_python_loop": loop / min(one),
        }
    }
    for name, peer in (("torch_bmm", _torch_bmm), ("jax_vmap", _jax_vmap)):
        seconds = peer(n, steps)
        if seconds is not None:
            result["tutorial"][f"{name}_ns_per_step"] = seconds / work * 1e9
            result["tutorial"][f"vs_{name}"] = seconds / min(one)
    result["digits"] = _digits(quick, repeat)
    return result


def _digits(quick: bool, repeat: int) -> dict[str, Any]:
    try:
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X = X / 16.0
    except ImportError:
        rng = np.random.default_rng(0)
        X, y = rng.uniform(0, 1, (1797, 64)), rng.integers(0, 10, 1797)
    T = np.eye(10)[y]
    if quick:
        X, T = X[:400], T[:400]
    ens = Ensemble([64, 32, 10], n=32, seed=0)
    rates = np.geomspace(0.005, 0.5, 32)
    one, two = [], []
    for _ in range(max(1, repeat)):
        for jobs, times in ((1, one), (2, two)):
            e = ens.copy()
            start = time.perf_counter()
            e.train(X, T, 1, rates, n_jobs=jobs)
            times.append(time.perf_counter() - start)
    samples = 32 * X.shape[0]
    return {
        "networks": 32,
        "samples": X.shape[0],
        "us_per_sample": min(one) / samples * 1e6,
        "us_per_sample_2_threads": min(two) / samples * 1e6,
        "threads_speedup": min(one) / min(two),
    }


def format_result(result: dict[str, Any]) -> str:
    tut, dig = result["tutorial"], result["digits"]
    lines = [
        f"Ensembles: {tut['networks']} tutorial networks x {tut['steps']} steps: "
        f"{tut['ns_per_step']:.1f} ns per network-step on one thread, "
        f"{tut['threads_speedup']:.2f}x with n_jobs=2; a Python loop of Network.train "
        f"calls {tut['vs_python_loop']:.2f}x the time",
    ]
    for name in ("torch_bmm", "jax_vmap"):
        if f"vs_{name}" in tut:
            lines.append(f"  {name}: {tut[f'vs_{name}']:.2f}x the time")
    lines.append(
        f"  {dig['networks']} digits networks [64, 32, 10], 32 learning rates: "
        f"{dig['us_per_sample']:.2f} us per network-sample, {dig['threads_speedup']:.2f}x "
        f"with n_jobs=2"
    )
    return "\n".join(lines)

"""Many networks of one shape, trained together: ``Ensemble``.

An ensemble holds ``n`` member networks of the same layers and options (their
own weights, and their own training state).  ``train`` trains every member on
shared data (``X`` of one row per sample) or on data of its own (a leading axis
of ``n``: a bootstrap), each with the same options, where ``learning_rate``,
``momentum``, ``beta1``, ``beta2`` and ``epsilon`` may also be arrays of one
value per member.  Member ``k`` ends exactly as ``ens[k]`` trained alone with
its options would (bit for bit).

How: for online SGD with samples in order (``train``'s defaults) on small
networks (at most ``LANES_MAX_PARAMS`` parameters), the compiled engine lays the
members side by side, each parameter of many members in
consecutive memory, and steps a block of members per vector instruction
(``_core.ensemble_train``); ``n_jobs`` threads share the blocks with the GIL
released.  Every other option trains the members one by one (``Network.train``),
``n_jobs`` at a time, with BLAS held to one thread inside the workers where a
layer is large enough to use it.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from . import _signals, _spec, _training
from . import _validation as check
from ._progress import Progress
from ._training import TrainingError, TrainingInterrupted
from .network import Network

__all__ = ["Ensemble"]

#: The ensemble whose callback this thread is running (``Ensemble._reading``).
_CALLBACK = threading.local()

#: Bytes of Python objects a member holds besides its parameters (a ``Network``:
#: about 1.7 KB, measured with tracemalloc), for the memory check of ``Ensemble``.
_MEMBER_OBJECTS = 2048

#: The per-member settings of ``Ensemble.train`` (a number, or one per member).
PER_MEMBER = ("learning_rate", "momentum", "beta1", "beta2", "epsilon")
#: Seconds of work per chunk, on both paths (Ctrl-C is seen between chunks).
_CHUNK_SECONDS = 0.1
#: Largest network (parameters) trained side by side: a larger one fills the
#: vector unit by itself (its rows are long), and the one-network kernels, on
#: ``n_jobs`` threads, train it faster than the lanes would.
LANES_MAX_PARAMS = 256
#: The most bytes of the side-by-side path's buffer of a chunk's errors (when
#: only every k-th epoch's are kept): chunks of up to this many epochs' errors.
_BUFFER_BYTES = 1 << 25
#: Parameter updates of the first engine call on the side-by-side path (the
#: next calls are sized by the time it took: about a tenth of a second each, so
#: that Ctrl-C is seen between calls).
_CHUNK_WORK = 1 << 22


def n_jobs_value(n_jobs: Any) -> int:
    """``n_jobs`` as a thread count: ``-1`` (or ``None``) is every core."""
    cores = os.cpu_count() or 1
    if n_jobs is None:
        return cores
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)):
        raise TypeError(f"n_jobs must be an integer, got {type(n_jobs).__name__}")
    n_jobs = int(n_jobs)
    if n_jobs == -1:
        return cores
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1 or -1 (every core), got {n_jobs}")
    return n_jobs


class Ensemble:
    """``n`` networks of one shape and options, trained together.

    ``Ensemble(sizes, n, seed=None, **network_options)`` builds ``n`` members
    with independent seeded starts: member ``k`` is ``Network(sizes,
    seed=ens.seeds[k], **network_options)``, its seed drawn from ``seed`` by
    NumPy's ``SeedSequence``.  ``Ensemble.from_networks(networks)`` gathers
    copies of networks of the same layers and options.

    ``len(ens)`` is ``n``; ``ens[k]`` a copy of member ``k`` (a ``Network``);
    ``weights[l]`` has shape ``(n, out, in)``, ``biases[l]`` ``(n, out)`` (``(n,
    1)`` for a shared bias, ``(n, 0)`` for none).
    """

    def __init__(self, sizes: Sequence[int], n: int, *, seed: int | None = None,
                 **network_options: Any) -> None:  # fmt: skip
        n = check.positive_int("n", n)
        if "weights" in network_options or "biases" in network_options:
            raise TypeError("Ensemble takes no weights or biases: use Ensemble.from_networks")
        if seed is not None:
            seed = check.non_negative_int("seed", seed)
        sequence = np.random.SeedSequence(seed)
        # member k's seed: the sequence's k-th word (each word is drawn alone)
        first = Network(sizes, seed=int(sequence.generate_state(1, dtype=np.uint32)[0]),
                        **network_options)  # fmt: skip
        check.fits_in_memory(
            "n",
            n * (first._params.nbytes + _MEMBER_OBJECTS),
            f"an ensemble of {n} networks of this size",
        )
        seeds = sequence.generate_state(n, dtype=np.uint32)
        members = [first] + [
            Network(sizes, seed=int(s), **network_options) for s in seeds[1:].tolist()
        ]
        self._members = members
        self.seeds: np.ndarray | None = seeds.astype(np.int64)

    @classmethod
    def from_networks(cls, networks: Sequence[Network]) -> Ensemble:
        """An ensemble of copies of ``networks`` (same layers and options)."""
        if isinstance(networks, Network) or not isinstance(networks, Sequence):
            raise TypeError("networks must be a sequence of backprop Networks")
        if not networks:
            raise ValueError("networks must hold at least one Network")
        for k, net in enumerate(networks):
            if not isinstance(net, Network):
                raise TypeError(f"networks[{k}] is a {type(net).__name__}, not a Network")
        first = networks[0]
        for k, net in enumerate(networks):
            for what in ("layers", "bias", "train_bias", "activations", "loss", "dtype",
                         "engine"):  # fmt: skip
                if getattr(net, what) != getattr(first, what):
                    raise ValueError(
                        f"networks[{k}] differs from networks[0] in its {what}: "
                        f"{getattr(net, what)!r} against {getattr(first, what)!r} (an "
                        f"ensemble's members share their shape and options)"
                    )
        ens = object.__new__(cls)
        ens._members = [net.copy() for net in networks]
        ens.seeds = None
        return ens

    # ------------------------------------------------------------ members
    def __len__(self) -> int:
        return len(self._members)

    def _owner(self) -> Any:
        """Which thread trains the ensemble, if any (an engine ``Owner``, made on
        first use: every way of making an ensemble gets its own)."""
        owner = self.__dict__.get("_trainer")
        if owner is None:
            owner = self.__dict__.setdefault("_trainer", self._members[0]._engine.Owner())
        return owner

    def _reading(self, what: str) -> Any:
        """``_training.reading`` of the ensemble (its members change together, at
        the end of a call: a read overlapped by one could mix them); its own
        call's callbacks, in any of its threads, may read it."""
        owner = self._owner()
        mine = getattr(_CALLBACK, "owner", None) is owner
        return _training.reading(owner, self._members[0]._engine, what, "ensemble", mine)

    def __getitem__(self, k: int) -> Network:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"member index must be an integer, got {type(k).__name__}")
        n = len(self._members)
        if not -n <= k < n:
            raise IndexError(f"member {k} out of range for an ensemble of {n}")
        with self._reading("read a member"):
            return self._members[int(k)].copy()

    def __iter__(self):
        return (self[k] for k in range(len(self)))

    def copy(self) -> Ensemble:
        with self._reading("copy it"):
            ens = object.__new__(type(self))
            ens._members = [m.copy() for m in self._members]
            ens.seeds = None if self.seeds is None else self.seeds.copy()
            return ens

    def reset_optimizer(self) -> None:
        """``reset_optimizer()`` on every member."""
        with self._reading("reset its optimizer"):
            for m in self._members:
                m.reset_optimizer()

    @property
    def layers(self) -> tuple[int, ...]:
        return self._members[0].layers

    @property
    def bias(self) -> str:
        return self._members[0].bias

    @property
    def train_bias(self) -> bool:
        return self._members[0].train_bias

    @property
    def activations(self) -> tuple[str, ...]:
        return self._members[0].activations

    @property
    def loss(self) -> str:
        return self._members[0].loss

    @property
    def dtype(self) -> np.dtype:
        return self._members[0].dtype

    @property
    def engine(self) -> str:
        return self._members[0].engine

    @property
    def weights(self) -> list[np.ndarray]:
        """Weight matrices of every member: ``weights[l][k]`` is member k's
        ``weights[l]``, shape ``(n, out, in)``."""
        with self._reading("read its weights"):
            per = [m.weights for m in self._members]
        return [np.stack([w[l] for w in per]) for l in range(len(self.layers) - 1)]

    @property
    def biases(self) -> list[np.ndarray]:
        """Biases of every member, shape ``(n, out)``; ``(n, 1)`` for a shared
        bias, ``(n, 0)`` for none."""
        keep = {"per-neuron": None, "shared": 1, "none": 0}[self.bias]
        with self._reading("read its biases"):
            per = [m.biases for m in self._members]
        return [np.stack([b[l][:keep] for b in per]) for l in range(len(self.layers) - 1)]

    def __repr__(self) -> str:
        return f"Ensemble(n={len(self)}, {self._members[0]!r})"

    # ------------------------------------------------------------ maths
    def _member_data(self, name: str, value: Any, width: int) -> tuple[np.ndarray, bool]:
        """``value`` as one array shared by all members or one per member (a 3-D
        array whose first axis is the members)."""
        arr = value if isinstance(value, np.ndarray) else None
        if arr is None:
            try:
                arr = np.asarray(value)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{name} must be an array of numbers ({exc})") from None
        if arr.ndim == 3:
            if arr.shape[0] != len(self) or arr.shape[2] != width:
                raise ValueError(
                    f"{name} given per member must have one block of {width} values per "
                    f"sample per member: shape ({len(self)}, samples, {width}), got {arr.shape}"
                )
            return arr, True
        return arr, False

    def forward(self, X: Any) -> np.ndarray:
        """Every member's outputs: shape ``(n, samples, outputs)``; ``X`` is
        ``(samples, inputs)`` for all members or ``(n, samples, inputs)``."""
        arr, per = self._member_data("X", X, self.layers[0])
        width, dtype = self.layers[0], self._members[0]._dtype
        # checked here, so that a message names this method's argument (X, or X[k])
        if per:
            blocks = [
                check.samples(f"X[{k}]", arr[k], width, "input", dtype) for k in range(len(self))
            ]
        else:
            blocks = [check.samples("X", arr, width, "input", dtype)] * len(self)
        with self._reading("run it forward"):
            outs = [_named(k, m.forward, b) for k, (m, b) in enumerate(zip(self._members, blocks))]
        return np.stack(outs)

    def total_error(self, X: Any, T: Any) -> np.ndarray:
        """Every member's total error on ``X``, ``T``: shape ``(n,)``."""
        xs, px = self._member_data("X", X, self.layers[0])
        ts, pt = self._member_data("T", T, self.layers[-1])
        with self._reading("measure its error"):
            return np.array(
                [
                    _named(k, m.total_error, xs[k] if px else xs, ts[k] if pt else ts)
                    for k, m in enumerate(self._members)
                ]
            )

    # ------------------------------------------------------------ training
    def _settings(self, options: dict[str, Any]) -> list[dict[str, Any]]:
        """Each member's ``train`` keywords: the per-member settings split up."""
        n = len(self)
        per: list[dict[str, Any]] = [dict(options) for _ in range(n)]
        for name in PER_MEMBER:
            if name not in options:
                continue
            value = options[name]
            if np.ndim(value) == 0:
                continue
            values = np.asarray(value)
            if values.ndim != 1 or values.shape[0] != n:
                raise ValueError(
                    f"{name} must be a number or an array of {n} values (one per member), "
                    f"got shape {values.shape}"
                )
            if values.dtype.kind not in "iuf":
                raise TypeError(f"{name} must hold real numbers, got dtype {values.dtype}")
            for k in range(n):
                per[k][name] = values[k].item()
        return per

    def train(self, X: Any, T: Any, epochs: int = _spec.TRAIN.epochs,
              learning_rate: Any = _spec.TRAIN.learning_rate,
              update: str = _spec.TRAIN.update, *, n_jobs: int | None = 1,
              **options: Any) -> np.ndarray:  # fmt: skip
        """Train every member; returns the recorded errors, shape ``(n, epochs)``.

        ``X``, ``T``: shared (one row per sample) or per member (a leading axis
        of ``n``).  Every option of ``Network.train`` is taken, with the same
        checks; ``learning_rate``, ``momentum``, ``beta1``, ``beta2`` and
        ``epsilon`` may be arrays of one value per member.  ``n_jobs`` threads
        (``-1``: every core) share the work.

        A call succeeds, or raises with every member as it was: a member whose
        training fails is named (``TrainingError``: "member k: ...", the index
        also in its ``member`` attribute).  Ctrl-C stops training with
        ``TrainingInterrupted``, every member keeping the epochs that all of
        them completed (``epochs_completed``): the members go in step, a chunk
        of epochs (about a tenth of a second) at a time, and back to the start
        of the chunk in flight.  A call with ``validation``, ``patience`` or a
        ``callback`` is one chunk (on the member-by-member path): Ctrl-C then
        leaves the ensemble as it was (with ``n_jobs``, the members in flight
        stop at their next report).  ``progress=True`` shows one display for
        the whole ensemble (its epochs: the members' mean; its error: the
        members' mean at their last report).  A ``TrainingError``'s epoch counts
        from the call's first, however it was cut into chunks.

        The options that report act per member: with ``validation`` the result
        is a ``History`` whose ``validation`` has shape ``(n, measurements)``;
        with ``patience`` each member stops on its own (keeping its best
        weights), its history and validation errors NaN after its last epoch
        (with ``record_every=k``, its last column is the epoch it stopped
        after, as a network's alone: the other members' column there may be a
        later epoch);
        ``callback(k, epoch, error[, validation_error])`` gets the member ``k``
        first (one call at a time, whichever thread reports), and its ``False``
        stops that member.  ``checkpoint`` saves the whole ensemble (read back
        by ``backprop.load``) every ``checkpoint_every`` epochs, at the end and
        at an interrupt; ``checkpoint_every`` does not combine with the
        reporting options.

        One thread trains an ensemble at a time: a second call (from another
        thread, or from a callback) gets a RuntimeError at once, and so does a
        read of the ensemble from another thread while it trains.
        """
        with _training.training(self._owner(), self._members[0]._engine, "ensemble"):
            return self._train(X, T, epochs, learning_rate, update, n_jobs, options)

    def _train(self, X: Any, T: Any, epochs: Any, learning_rate: Any, update: Any,
               n_jobs: Any, options: dict[str, Any]) -> np.ndarray:  # fmt: skip
        """``train``, the ensemble claimed by this thread."""
        jobs = n_jobs_value(n_jobs)
        unknown = sorted(set(options) - set(_spec.TRAIN_OPTIONS))
        if unknown:
            raise TypeError(f"train() got unexpected keyword argument(s): {', '.join(unknown)}")
        given = {"learning_rate": learning_rate, **options}
        settings = self._settings(given)
        show = check.flag("progress", options.get("progress", False))
        epochs = check.non_negative_int("epochs", epochs)
        check.choice("update", update, _spec.UPDATES)
        xs, px = self._member_data("X", X, self.layers[0])
        ts, pt = self._member_data("T", T, self.layers[-1])
        # the data, checked and converted as each member's train would
        first = self._members[0]
        if px or pt:
            pairs = [
                first._data(xs[k] if px else xs, ts[k] if pt else ts) for k in range(len(self))
            ]
        else:
            pairs = [first._data(xs, ts)]
        lanes = (
            first.engine == "cython"
            and first._params.size <= LANES_MAX_PARAMS
            and update == "simultaneous"
            and all(_plain_option(k, v) for k, v in options.items() if k not in PER_MEMBER)
            and all(_plain_option(k, v) for k, v in options.items() if k in PER_MEMBER[1:])
        )
        if lanes:
            # every member's options checked as its own train call checks them
            # (once when no setting differs between members)
            distinct = settings if any(np.ndim(given.get(k, 0)) for k in PER_MEMBER) else []
            rates = []
            for s in distinct or settings[:1]:
                o = dict(s)
                lr = o.pop("learning_rate")
                rates.append(_training.make_plan(first, pairs[0][0].shape[0], epochs, lr,
                                                 update, o).learning_rate)  # fmt: skip
            lr_all = np.array(rates if distinct else rates * len(self), dtype=np.float64)
            every = check.positive_int("record_every", options.get("record_every", 1))
            display = _Display(show, len(self), epochs, pairs[0][0].shape[0])
            return self._train_lanes(pairs, px or pt, epochs, lr_all, jobs, every, display)
        display = _Display(show, len(self), epochs, pairs[0][0].shape[0])
        return self._train_each(pairs, px or pt, epochs, update, settings, jobs, display)

    def _train_lanes(
        self, pairs: list[tuple[np.ndarray, np.ndarray]], per: bool, epochs: int,
        rates: np.ndarray, jobs: int, every: int, display: _Display,
    ) -> np.ndarray:  # fmt: skip
        """Online SGD of all members side by side (``_core.ensemble_train``), in
        chunks of about a tenth of a second (Ctrl-C is seen between them);
        every ``every``-th epoch's errors (and the last's) are kept."""
        from . import _core

        n, first = len(self), self._members[0]
        sizes, layout, acts = first._shape
        X = np.ascontiguousarray(np.stack([p[0] for p in pairs]))
        T = np.ascontiguousarray(np.stack([p[1] for p in pairs]))
        for m in self._members:
            if m._owner.holder() == _core.OTHER:
                raise RuntimeError("a member of this ensemble is being trained in another thread")
        kept = _spec.recorded(0, epochs, epochs, every)
        check.fits_in_memory(
            "epochs", 8 * n * kept, f"a history of {kept} epochs for {n} members",
        )  # fmt: skip
        W = np.ascontiguousarray(np.stack([m._params for m in self._members], axis=1))
        history = np.zeros((n, kept))
        lr = rates.astype(self.dtype)
        work = max(1, X.shape[1] * W.shape[0] * n)
        chunk = max(1, min(epochs, _CHUNK_WORK // work)) if epochs else 0
        # the kernel writes each epoch's errors straight into the history when
        # every epoch is kept; else into a chunk's buffer, of which ``record`` keeps some
        direct = every == 1
        # (a chunk's buffer of up to _BUFFER_BYTES: the chunks grow into it)
        cap = epochs if direct else max(chunk, min(epochs, _BUFFER_BYTES // (8 * n)))
        errors = history if direct else np.zeros((n, cap))
        jobs = min(jobs, n)
        bounds = np.linspace(0, n, jobs + 1).astype(int)
        done = 0
        pool = ThreadPoolExecutor(jobs) if jobs > 1 else None

        def record(size: int) -> None:
            # epochs done ... done + size - 1 of the run: keep the recorded ones
            e = np.arange(done, done + size)
            keep = ((e + 1) % every == 0) | (e + 1 == epochs)
            history[:, _spec.recorded(0, done, epochs, every) + np.arange(keep.sum())] = errors[
                :, :size
            ][:, keep]

        size = off = 0  # the epochs of the chunk in flight (0: none), its column in errors
        futures: list[Any] = []  # the workers' parts of the chunk in flight, once submitted
        before = W.copy()
        try:
            while done < epochs:
                _signals.look()  # Ctrl-C between chunks (see backprop._signals)
                np.copyto(before, W)
                off = done if direct else 0
                last = off + min(chunk, epochs - done) - 1  # its column: NaN until it ends
                futures = []
                if pool is None:
                    errors[:, last] = np.nan
                size = min(chunk, epochs - done)
                started = time.perf_counter()
                args = (W, sizes, layout, acts, first.train_bias, first._loss_code, X, T,
                        size, lr, errors, off)  # fmt: skip
                if pool is None:
                    failed = _core.ensemble_train(*args, 0, n)
                else:
                    with _signals.held():  # (see _signals.held)
                        futures = [
                            pool.submit(_members_part, args, last, int(a), int(b))
                            for a, b in zip(bounds, bounds[1:])
                        ]
                    failed = min((f.result() for f in futures), key=lambda f: (f < 0, f))
                # the members with a weight that is not finite (their sum is
                # not finite then: a quick look first)
                with np.errstate(all="ignore"):  # (inf - inf in the sum: no warning)
                    finite = np.isfinite(W.sum())
                bad = np.flatnonzero(~np.isfinite(W).all(axis=0)) if not finite else []
                if failed >= 0 or len(bad):
                    rows = ~np.isfinite(errors[:, off : off + size])
                    members = np.flatnonzero(rows.any(axis=1))
                    if members.size:
                        epoch_of = rows.argmax(axis=1)
                        k = int(members[np.argmin(epoch_of[members])])
                        epoch = done + int(epoch_of[k])
                    else:
                        k, epoch = int(bad[0]), done + size - 1
                    # the members are as they were (W is a copy; only _keep
                    # writes it back): parameters, optimizer and schedule state;
                    # as the member alone would say it (data it overflows on before
                    # training, targets too large, or a divergence in this epoch)
                    Xk, Tk = pairs[k] if per else pairs[0]
                    raise _member_failure(
                        k,
                        _training.divergence(
                            self._members[k], Xk, Tk, epoch, float(rates[k])
                        ),  # fmt: skip
                    )
                if not direct:
                    record(size)
                display.update(done + size, errors[:, off + size - 1])
                # chunks of about a tenth of a second: shorter on a slow build
                # (debug, sanitizers), longer (at most 4x the last, and no more
                # than the buffer's epochs) where a chunk of the first guess is
                # quick: each chunk costs the threads a meeting and some
                # bookkeeping in this thread
                took = max(time.perf_counter() - started, 1e-6)
                chunk = max(1, min(cap, 4 * size, int(size * _CHUNK_SECONDS / took)))
                done, size = done + size, 0  # (no signal is handled inside this line)
        except KeyboardInterrupt as exc:
            if pool is not None:  # the workers finish their chunk
                pool.shutdown(wait=True)
                pool = None
            begun = size and (pool is None or futures)  # (the workers mark their own rows)
            if begun and np.isfinite(errors[:, off + size - 1]).all() and np.isfinite(W).all():
                if not direct:
                    record(size)  # the chunk in flight completed: every member keeps it
                done += size
            elif size:  # not begun, or it failed: back to its start
                W[...] = before
            self._keep(W)
            raise TrainingInterrupted(
                f"training interrupted after {done} complete epoch(s) of every "
                f"member; the members keep them",
                history[:, : _spec.recorded(0, done, epochs, every)].copy(), done, 0,
            ) from exc  # fmt: skip
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
            display.close()
        self._keep(W)
        return history

    def _uses_blas(self) -> bool:
        """Whether training may hand matrix products to BLAS: the compiled
        engine's layers of at least ``_core.BLAS_MIN_WEIGHTS`` weights (the twin
        never does).  Only then do ``n_jobs`` workers hold BLAS to one thread
        (threadpoolctl's look at the loaded libraries costs milliseconds)."""
        if self.engine != "cython":
            return False
        from . import _core

        sizes = self.layers
        return max(a * b for a, b in zip(sizes, sizes[1:])) >= _core.BLAS_MIN_WEIGHTS

    def _keep(self, W: np.ndarray) -> None:
        """Store the side-by-side parameters back in the members (their training
        state then is as after a plain call: nothing to continue)."""
        for k, m in enumerate(self._members):
            m._params[:] = W[:, k]
            m._optimizer = None
            m._schedule = None

    def _train_each(
        self, pairs: list[tuple[np.ndarray, np.ndarray]], per: bool, epochs: int, update: str,
        settings: list[dict[str, Any]], jobs: int, display: _Display,
    ) -> np.ndarray:  # fmt: skip
        """Every member by ``Network.train``, ``jobs`` at a time; all or nothing.

        The members go in step, a chunk of epochs at a time (about a tenth of a
        second of work; their training state carries over between chunks, so this
        trains as one call would), unless an option spans the whole call
        (validation, patience, a callback): then in one chunk (a progress
        display then follows the members' reports).  A checkpoint is the whole
        ensemble's, saved between chunks (they end on its epochs), at the end and
        at an interrupt.  Ctrl-C puts every member back at the start of the chunk
        in flight: they keep the epochs all of them completed.  A member that
        stops early (``patience``, a callback's False) has NaN in the rest of its
        history (and validation errors).
        """
        n = len(self)
        first = settings[0]
        checkpoint, checkpoint_every = _training.checkpoint_options(
            first.get("checkpoint"), first.get("checkpoint_every")
        )
        callback = first.get("callback")
        _training.check_callback(callback, ("k", "epoch", "error"))
        spanning = any(first.get(k) is not None for k in ("validation", "patience", "callback"))
        if spanning and checkpoint_every is not None:
            raise ValueError(
                "checkpoint_every cannot be combined with validation, patience or a callback "
                "on an ensemble (its members then train their whole run one by one): give "
                "checkpoint alone (saved at the end and at an interrupt)"
            )
        # what goes to each member's own train call (the ensemble shows the progress)
        dropped = ("checkpoint", "checkpoint_every", "callback", "progress")
        members_settings = [{k: v for k, v in s.items() if k not in dropped} for s in settings]
        stop = threading.Event()  # set: the workers' members end at their next report
        threads = jobs > 1 and n > 1
        stoppable = spanning and threads  # one chunk, each member's whole run in a worker
        reports = display if spanning and display.shown else None  # (from the members)
        failures = _Failures()
        if spanning:  # (a call that reports: its members' reports are the hooks)
            lock = threading.Lock()  # one callback at a time, whichever thread reports
            for k, s in enumerate(members_settings):
                s["callback"] = _member_callback(
                    callback,
                    k,
                    lock,
                    stop if stoppable else None,
                    reports,
                    failures,
                    self._owner(),
                )
        settings = members_settings
        # chunks of about a tenth of a second: the first of one epoch, the next
        # sized by the time the last took (whatever the build and the options)
        chunk = epochs if spanning else 1
        every = first.get("record_every", 1)
        if every != 1:
            every = check.positive_int("record_every", every)
        chunked_records = not spanning and every != 1
        if chunked_records:  # chunks record every epoch; the ensemble keeps every k-th
            settings = [{k: v for k, v in s.items() if k != "record_every"} for s in settings]
        kept = _spec.recorded(0, epochs, epochs, min(every, max(1, epochs)))
        check.fits_in_memory("epochs", 8 * n * kept, f"a history of {kept} epochs for {n} members")
        current = [m.copy() for m in self._members]
        parts: list[np.ndarray] = []
        validation: list[np.ndarray] = []
        validation_epochs = np.zeros(0, np.intp)
        done = 0
        pool = ThreadPoolExecutor(min(jobs, n)) if threads else None
        limits = _one_blas_thread() if pool is not None and self._uses_blas() else None
        if limits is not None:
            limits.__enter__()
        snapshot: list[Network] | None = None  # the members at the chunk's start
        committed = False  # the chunk in flight is recorded: no going back
        try:
            while True:
                committed, snapshot = False, None
                size = min(chunk, epochs - done)
                if checkpoint_every is not None:  # the chunk ends on a checkpoint's epoch
                    size = min(size, checkpoint_every - done % checkpoint_every)
                snapshot = [m.copy() for m in current]
                started = time.perf_counter()

                def one(k: int, size: int = size, start: int = done, nets: list = current) -> Any:
                    X, T = pairs[k] if per else pairs[0]
                    s = dict(settings[k])
                    lr = s.pop("learning_rate")
                    if start:
                        s.pop("seed", None)  # the shuffling stream continues
                    try:
                        return nets[k].train(X, T, size, lr, update, **s)
                    except TrainingError as exc:  # (dated from the chunk's first epoch)
                        message, epoch = _training.shifted(str(exc), exc.epoch, start, lr)
                        failures.add(k, _member_error(k, message, epoch))
                    except _training.TargetsError as exc:  # (before its first epoch)
                        failures.add(k, _member_failure(k, exc))
                    return None

                _signals.look()  # Ctrl-C between chunks (see backprop._signals)
                if pool is None:
                    results = [one(k) for k in range(n)]
                else:
                    with _signals.held():  # (see _signals.held)
                        futures = [pool.submit(one, k) for k in range(n)]
                    try:
                        results = [f.result() for f in futures]
                    except BaseException:
                        stop.set()  # those running end at their next report
                        for f in futures:  # those not begun
                            f.cancel()
                        raise
                if failures.first is not None:  # every member of the chunk has run
                    raise failures.first
                with _signals.held():  # the chunk's records, not cut short by Ctrl-C
                    parts.append(self._chunk_history(results, size, every, chunked_records,
                                                     done, epochs))  # fmt: skip
                    if any(isinstance(r, _training.History) for r in results):
                        longest = max(results, key=lambda r: len(r.validation))
                        validation_epochs = longest.validation_epochs
                        measured = np.full((n, len(validation_epochs)), np.nan)
                        for k, r in enumerate(results):
                            measured[k, : len(r.validation)] = r.validation
                        validation.append(measured)
                    done += size
                    committed = True
                    if not spanning and display.shown and size:
                        display.update(done, [np.asarray(r)[-1] for r in results])
                    if checkpoint is not None and (
                        done >= epochs or (checkpoint_every and done % checkpoint_every == 0)
                    ):
                        _save_members(current, self.seeds, checkpoint)
                    if not spanning:
                        took = max(time.perf_counter() - started, 1e-6)
                        chunk = max(1, min(epochs - done, int(size * _CHUNK_SECONDS / took)))
                if done >= epochs:
                    break
        except KeyboardInterrupt as exc:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
                pool = None
            if snapshot is not None and not committed:
                current = snapshot  # every member at the chunk's start
            self._members = current
            if checkpoint is not None:
                _save_members(current, self.seeds, checkpoint)
            history = np.concatenate(parts, axis=1) if parts else np.zeros((n, 0))
            raise TrainingInterrupted(
                f"training interrupted after {done} complete epoch(s) of every "
                f"member; the members keep them",
                history, done, 0,
            ) from exc  # fmt: skip
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
            if limits is not None:
                limits.__exit__(None, None, None)
            display.close()
        self._members = current
        history = np.concatenate(parts, axis=1)
        if validation:  # (one chunk: validation spans the call)
            return _training.History(history, validation[0], validation_epochs.tolist())
        return history

    @staticmethod
    def _chunk_history(
        results: list[Any], size: int, every: int, chunked: bool, done: int, epochs: int
    ) -> np.ndarray:
        """The members' recorded errors of a chunk of ``size`` epochs, one row each:
        a member that stopped early (patience, a callback) has NaN after its last;
        ``chunked``: every epoch recorded, of which the run keeps every
        ``every``-th (and its last)."""
        width = size if chunked else _spec.recorded(0, size, size, min(every, max(1, size)))
        history = np.full((len(results), width), np.nan)
        for k, r in enumerate(results):
            r = np.asarray(r)
            history[k, : r.shape[0]] = r
        if chunked:
            e = np.arange(done, done + size)
            history = history[:, ((e + 1) % every == 0) | (e + 1 == epochs)]
        return history

    # ------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the ensemble to ``path`` (``backprop.io``'s ensemble format);
        ``backprop.load(path)`` reads it back, bit for bit."""
        from . import io

        with self._reading("save it"):
            io.save_ensemble(self, path)

    def __reduce__(self) -> tuple[Any, ...]:
        with self._reading("pickle it"):
            return _rebuild, ([m.__reduce__() for m in self._members], self.seeds)


def _member_error(k: int, message: str, epoch: int | None) -> TrainingError:
    """The error of member ``k``'s failed training ("member k: ..."), which
    carries ``k`` as its ``member`` and the ``epoch`` (of the call) it failed in."""
    message = message.replace("the network is unchanged", "the ensemble is unchanged")
    return _training.training_error(f"member {k}: {message}", epoch, k)


def _member_failure(
    k: int, exc: TrainingError | _training.TargetsError
) -> TrainingError | _training.TargetsError:
    """Member ``k``'s ``TrainingError`` or ``TargetsError``, named as the
    ensemble's ("member k: ...", with ``member``)."""
    if isinstance(exc, TrainingError):
        return _member_error(k, str(exc), exc.epoch)
    message = str(exc).replace("the network is unchanged", "the ensemble is unchanged")
    error = _training.TargetsError(f"member {k}: {message}")
    error.member = k
    return error


class _Failures:
    """The members' training errors in a chunk of a call: the one raised is the
    earliest, by epoch and then by member (as on the side-by-side path),
    whatever order threads and chunks ran the members in.  A member past its
    epoch cannot fail earlier: it may stop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self.first: TrainingError | None = None

    def add(self, k: int, error: TrainingError) -> None:
        key = (-1 if error.epoch is None else error.epoch, k)  # (None: before the call)
        with self._lock:
            if self._key is None or key < self._key:
                self._key, self.first = key, error

    def passed(self, epoch: int) -> bool:
        """Whether a member after ``epoch`` (of the call) is past the first failure."""
        key = self._key
        return key is not None and epoch > key[0]


def _member_callback(
    callback: Any, k: int, lock: threading.Lock, stop: threading.Event | None,
    display: _Display | None = None, failures: _Failures | None = None, owner: Any = None,
) -> Any:  # fmt: skip
    """Member ``k``'s ``train`` callback: the ensemble's ``callback`` (or None),
    called with ``k`` first (``callback(k, epoch, error[, validation_error])``,
    one call at a time); with ``stop``, ``False`` once it is set, so that a
    member trained in a worker, which sees no signal, ends at its next report
    after Ctrl-C instead of at the end of its run; with ``display``, the
    member's report goes to the ensemble's progress display; with
    ``failures``, ``False`` once the member is past the epoch of another's
    failure (the call raises that, whatever this member would do after)."""

    def call(*args: Any) -> Any:
        if stop is not None and stop.is_set():
            return False
        if failures is not None and failures.passed(args[0]):
            return False
        if callback is None and display is None:
            return True
        with lock:
            if display is not None:
                display.report(k, args[0], args[1])
            if callback is None:
                return True
            _CALLBACK.owner = owner  # (the callback may read its ensemble, in any thread)
            try:
                return callback(k, *args)
            finally:
                _CALLBACK.owner = None

    if callback is not None and _training.takes_positional(callback, 4):

        def report(epoch: int, error: float, validation_error: float) -> Any:
            return call(epoch, error, validation_error)

        return report

    def report_plain(epoch: int, error: float) -> Any:
        return call(epoch, error)

    return report_plain


def _save_members(members: list[Network], seeds: np.ndarray | None, path: str) -> None:
    """Save an ensemble of ``members`` (with their training state) to ``path``."""
    from . import io

    ens = object.__new__(Ensemble)
    ens._members = members
    ens.seeds = seeds
    io.save_ensemble(ens, path)


def _members_part(args: tuple[Any, ...], last: int, a: int, b: int) -> int:
    """A worker's part of a side-by-side chunk: members ``a`` to ``b``.  Their
    rows of the chunk's last column are NaN until the kernel writes that epoch
    (the mark that the chunk ran to its end); the worker writes the mark itself,
    so that the first writes to a new history's rows (page faults, a tenth of
    the work on a large history) happen in the workers, side by side, and not in
    the calling thread before them."""
    from . import _core

    errors = args[-2]
    errors[a:b, last] = np.nan
    return _core.ensemble_train(*args, a, b)


def _named(k: int, method: Any, *args: Any) -> Any:
    """``method(*args)`` of member ``k``; its ``NonFiniteError`` names the member."""
    try:
        return method(*args)
    except _training.NonFiniteError as exc:
        raise _training.NonFiniteError(f"member {k}: {exc}") from None


def _rebuild(reduced: list[tuple[Any, ...]], seeds: np.ndarray | None) -> Ensemble:
    ens = object.__new__(Ensemble)
    ens._members = [fn(*args) for fn, args in reduced]
    ens.seeds = seeds
    return ens


def _plain_option(name: str, value: Any) -> bool:
    """Whether ``train`` option ``name`` is at online SGD's value (in order)."""
    if name in ("momentum", "beta1", "beta2", "epsilon", "rprop_increase", "rprop_decrease",
                "rprop_initial_step", "rprop_min_step", "rprop_max_step"):  # fmt: skip
        return True  # unused by plain SGD (checked by make_plan all the same)
    if name == "progress":
        return True  # (the ensemble shows it, between chunks)
    if name in ("validation", "callback", "patience", "checkpoint", "checkpoint_every", "seed"):
        return value is None
    if name == "shuffle":
        return value is False
    if name == "optimizer":
        return value == "sgd"
    if name == "record_every":
        return True  # (the side-by-side path keeps every k-th epoch too)
    if name in ("batch_size", "report_every"):
        return type(value) is int and value == 1
    if name in ("weight_decay", "alpha"):
        return type(value) in (int, float) and value == 0
    if name == "schedule":
        return isinstance(value, str) and value == "constant"
    return False


class _Display:
    """``progress=True``'s one display for a whole ensemble's call: shown once
    the call has taken a tenth of a second (as ``Network.train``'s), with the
    members' mean epochs done and mean error (its speed counts every member's
    samples), refreshed at most every tenth of a second.  A call that does not
    show progress gets one that does nothing."""

    def __init__(self, show: bool, n: int, epochs: int, samples: int) -> None:
        self.shown = show and epochs > 0
        self._total, self._samples = epochs, n * samples
        self._next = time.perf_counter() + _CHUNK_SECONDS  # the next refresh, at the soonest
        self._progress: Progress | None = None
        self._done = np.zeros(n)  # each member's epochs and error at its last report
        self._errors = np.full(n, np.nan)

    def update(self, done: int, errors: Any) -> None:
        """Every member has done ``done`` epochs, the last with these ``errors``."""
        if self.shown:
            self._done[:] = done
            self._errors[:] = errors
            self._refresh(False)

    def report(self, k: int, epoch: int, error: float) -> None:
        """Member ``k`` reports epoch ``epoch`` (counting from 0) and its error."""
        self._done[k], self._errors[k] = epoch + 1, error
        self._refresh(False)

    def _refresh(self, final: bool) -> None:
        now = time.perf_counter()
        if now < self._next and not (final and self._progress is not None):
            return
        self._next = now + _CHUNK_SECONDS
        if self._progress is None:
            self._progress = Progress(self._total, self._samples)
        finite = self._errors[np.isfinite(self._errors)]
        error = float(finite.mean()) if finite.size else math.nan
        self._progress.update(int(self._done.mean()), error)

    def close(self) -> None:
        """Show the last state (if the display is up) and end it."""
        if self._progress is not None:
            self._refresh(True)
            self._progress.close()


class _one_blas_thread:
    """Hold BLAS to one thread while ``n_jobs`` workers train (threadpoolctl when
    installed: OpenBLAS's own threads would oversubscribe the cores).

    The limit is process-wide: calls that overlap (ensembles trained in several
    threads) share one hold, set by the first to enter and undone by the last to
    leave (each undoing its own would leave BLAS at one thread for good, or lift
    the limit under another call's workers)."""

    _lock = threading.Lock()
    _holders = 0
    _limits: Any = None

    def __enter__(self) -> _one_blas_thread:
        cls = type(self)
        with cls._lock:
            if cls._holders == 0:
                try:
                    from threadpoolctl import threadpool_limits
                except ImportError:
                    cls._limits = None
                else:
                    cls._limits = threadpool_limits(1, user_api="blas")
            cls._holders += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        cls = type(self)
        with cls._lock:
            cls._holders -= 1
            if cls._holders == 0 and cls._limits is not None:
                cls._limits.restore_original_limits()
                cls._limits = None

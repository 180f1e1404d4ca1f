"""Saving and loading networks: a documented, safe file format.

``save(net, path)`` writes a network to ``path``; ``load(path)`` builds it again,
bit for bit: the loaded network has the same options, the very same parameters
(float64 or float32, as saved) and the same training state (the optimizer's state,
the learning-rate schedule's position and the shuffling stream that ``train``
carries from one call to the next), so it
gives the same outputs, and training it continues exactly as training the saved
network would have.  Loading a file never runs code from it (no pickle), and a
file that is damaged, truncated or not a backprop network is refused with a
``ValueError`` that names the file and says what is wrong; the loader never
returns a half-built network.

The format (version 3)
----------------------
A file is a NumPy ``.npz`` archive: a ZIP archive (entries stored or deflated)
holding one ``.npy`` file per array, which ``numpy.load(path,
allow_pickle=False)`` reads as well.  ``save`` writes exactly the path it is given
(it does not append ``.npz``); ``.npz`` is the suggested suffix.  The archive
holds these arrays, and no others:

``header``
    A 1-D ``uint8`` array: the UTF-8 bytes of a JSON object with these keys
    (``dtype``, ``optimizer``, ``schedule``, ``shuffle`` and ``columns`` may be left
    out, and no others may be given)::

        {"format": "backprop-network", "version": 3,
         "layers": [2, 2, 2], "bias": "shared", "train_bias": false,
         "activations": ["logistic", "logistic"], "loss": "half_sse",
         "dtype": "float64",
         "optimizer": {"name": "adam",
                       "settings": {"momentum": 0.9, "beta1": 0.9, "beta2": 0.999,
                                    "epsilon": 1e-08, "rprop_increase": 1.2,
                                    "rprop_decrease": 0.5, "rprop_min_step": 1e-06,
                                    "rprop_max_step": 50.0,
                                    "rprop_initial_step": 0.1}},
         "schedule": {"name": "step", "params": {"step_size": 30, "gamma": 0.5},
                      "learning_rate": 0.01, "epochs": 45, "samples": 180,
                      "rate": 0.005, "best": null, "bad": 0},
         "shuffle": {"samples": 4}}

    ``format``
        Always ``"backprop-network"``.
    ``version``
        The format version, an integer: ``3`` (``save`` writes it), ``2`` or
        ``1`` (see "Earlier versions" below).  A later version of backprop that changes the
        format writes a higher number; this one refuses those.
    ``layers``
        Units per layer, input layer first (``Network.layers``): at least two
        integers >= 1.  There are ``L = len(layers) - 1`` weight layers.
    ``bias``
        ``"per-neuron"``, ``"shared"`` or ``"none"`` (``Network.bias``).
    ``train_bias``
        ``true`` or ``false`` (``Network.train_bias``).
    ``activations``
        ``L`` activation names, one per weight layer, the output layer last
        (``Network.activations``): ``"logistic"``, ``"tanh"``, ``"relu"``,
        ``"leaky_relu"``, ``"linear"`` or ``"softmax"`` (output layer only).
    ``loss``
        ``"half_sse"``, ``"mse"`` or ``"cross_entropy"`` (``Network.loss``;
        ``"cross_entropy"`` needs a ``"logistic"`` or ``"softmax"`` output layer).
    ``dtype``
        The floating-point type of the arrays below; ``"float64"`` (the default
        when left out).
    ``optimizer``
        Present when the network keeps an optimizer's state (after ``train``;
        ``Network.reset_optimizer`` forgets it): an object with exactly the keys
        ``name``, the optimizer (``"sgd"``, ``"momentum"``, ``"nesterov"``,
        ``"adam"`` or ``"rprop"``), and ``settings``, an object giving a finite
        number for each of exactly these ``train`` options: ``momentum``,
        ``beta1``, ``beta2``, ``epsilon``, ``rprop_increase``,
        ``rprop_decrease``, ``rprop_min_step``, ``rprop_max_step``,
        ``rprop_initial_step``.  The next ``train`` call continues the state when
        it uses the same optimizer with the same settings, and starts it afresh
        otherwise.
    ``schedule``
        Present when the network keeps a learning-rate schedule's position
        (after ``train(schedule=...)`` with a schedule other than
        ``"constant"``; see ``backprop.schedule``): an object with exactly the
        keys ``name`` (``"invscaling"``, ``"adaptive"``, ``"step"``,
        ``"exponential"`` or ``"cosine"``), ``params`` (an object giving exactly
        that schedule's parameters, as ``backprop.Schedule`` takes them),
        ``learning_rate`` (the rate it started from, finite and > 0),
        ``epochs`` and ``samples`` (integers >= 0: the epochs trained under it
        and their samples), ``rate`` (the next epoch's rate, finite and > 0),
        ``best`` (the adaptive rule's best error per sample, a finite number, or
        ``null`` before its first epoch) and ``bad`` (an integer >= 0, its
        epochs without improvement).  The next ``train`` call continues it when
        it gives the same schedule and ``learning_rate``.
    ``shuffle``
        Present when the network keeps a shuffling stream (after
        ``train(shuffle=True)``): an object with exactly the key ``samples``, an
        integer >= 1, the number of samples of that training set.
    ``columns``
        Present when the network records the names of the data it was trained
        on (``Network.columns``, a ``backprop.columns.Columns``; ``backprop
        train`` records them and ``backprop predict`` matches a table's
        columns by them): an object with the keys ``inputs`` (a list of
        ``layers[0]`` names, one per input unit), ``targets`` (the target
        columns: one per output unit, or, with ``classes``, the one column of
        class labels) and, for a classifier trained on labels only,
        ``classes`` (the label of each output unit; two labels for a
        one-output network), such as ``{"inputs": ["x1", "x2"], "targets":
        ["species"], "classes": ["setosa", "versicolor"]}``.  Names are
        non-empty strings on one line of at most 1,000 characters, unique
        within each list, and no name is both an input and a target.

``weights_0`` ... ``weights_{L-1}``
    ``weights_l`` has shape ``(layers[l+1], layers[l])``: ``weights_l[j, i]`` is
    the weight from unit ``i`` of layer ``l`` to unit ``j`` of layer ``l + 1``
    (``Network.weights[l]``).

``biases_0`` ... ``biases_{L-1}``
    With ``bias="per-neuron"``, ``biases_l`` has shape ``(layers[l+1],)``: one
    bias per unit of layer ``l + 1``.  With ``bias="shared"``, shape ``(1,)``: the
    layer's one bias.  With ``bias="none"`` there are no ``biases_*`` arrays.

``optimizer_state``
    Exactly when the header has ``optimizer``: the optimizer's state, a 1-D
    array of the header's ``dtype``.  With ``P`` parameters (every weight and
    every bias of the arrays above) it holds, for ``"sgd"``, nothing (shape
    ``(0,)``); for ``"momentum"`` and ``"nesterov"``, the velocity of each
    parameter (``P`` values); for ``"adam"``, the first moments, the second
    moments, then the step count (``2 P + 1``); for ``"rprop"``, the step sizes,
    then the previous gradients (``2 P``).  Parameters are in the order of
    ``Network.params``: for each layer its weights (row-major), then its biases.

``shuffle_rng`` and ``shuffle_perm``
    Exactly when the header has ``shuffle``: ``shuffle_rng``, a ``uint64`` array
    of shape ``(1,)``, is the state of the shuffling generator (splitmix64);
    ``shuffle_perm``, an ``int64`` array of shape ``(samples,)``, is the order of
    the samples in the last shuffled epoch: a permutation of ``0 ...
    samples - 1``.

Every array but ``header`` has the dtype given above (either byte order; ``save``
writes little-endian, C order), and the floating-point ones hold finite numbers
only.  Every array's dtype and shape are checked against the header before its
data is read.  ``save`` writes the entries in the order above with fixed
timestamps, so the same network always gives the same bytes.

Earlier versions
----------------
Version 2 files (backprop before learning-rate schedules and column names) have
``"version": 2`` and no ``schedule`` or ``columns`` header entry; otherwise they
are version 3 files, and they load as such.  Version 1 files (backprop before
the training state was saved) also have ``"version": 1``, no ``optimizer`` or
``shuffle`` header entries and no ``optimizer_state``, ``shuffle_*`` arrays.
They still load: the network then keeps no training state, as if
``reset_optimizer`` had been called and it had never been trained with
``shuffle=True`` (its next ``train`` call starts the optimizer afresh, and
shuffles from a fresh stream unless ``seed`` is given).

Ensembles
---------
``Ensemble.save`` writes a ZIP archive of ``.npy`` entries too: ``header``, a
``uint8`` array holding the JSON object ``{"format": "backprop-ensemble",
"version": 1, "members": n}``, then ``member_0`` ... ``member_{n-1}``, each a
1-D ``uint8`` array holding the bytes of one member's network file (the format
above, checked as ``load`` checks a file), and, when the ensemble was built
from a seed, ``seeds``, an ``int64`` array of shape ``(n,)``.  The members must
share their layers and options.  ``load`` returns an ``Ensemble`` for such a file.

What is not saved: the engine (``load`` uses ``engine=`` or the default engine,
see ``backprop.default_engine``), and an optimizer state that the next ``train``
call would not continue (after a plain call of the compiled fast path).
"""

from __future__ import annotations

import errno
import json
import math
import os
import secrets
import stat
import struct
import sys
import zipfile
import zlib
from collections import Counter
from io import BytesIO
from typing import IO, TYPE_CHECKING, Any, Union

import numpy as np

from . import _spec, _training
from . import _validation as check
from . import network as _network
from .columns import Columns
from .schedule import Schedule, ScheduleState

if TYPE_CHECKING:
    from .network import Network

__all__ = ["FORMAT", "VERSION", "save", "load", "read_header"]

#: The ``format`` entry of every file's header.
FORMAT = "backprop-network"
#: The format version this module writes.
VERSION = 3
#: The format versions this module reads (version 1 has no training state,
#: version 2 no schedule and no column names).
READ_VERSIONS = (1, 2, 3)

PathLike = Union[str, "os.PathLike[str]"]

_HEADER = "header"
_REQUIRED_KEYS = ("format", "version", "layers", "bias", "train_bias", "activations", "loss")
#: The header's optional keys in each version.
_OPTIONAL_KEYS = {
    1: ("dtype",),
    2: ("dtype", "optimizer", "shuffle"),
    3: ("dtype", "optimizer", "schedule", "shuffle", "columns"),
}
#: The keys of the header's ``schedule`` entry.
_SCHEDULE_KEYS = ("name", "params", "learning_rate", "epochs", "samples", "rate", "best", "bad")
#: The arrays of the training state, and the header entry each needs.
_STATE_ARRAYS = {
    "optimizer_state": "optimizer",
    "shuffle_rng": "shuffle",
    "shuffle_perm": "shuffle",
}
_DEFAULT_DTYPE = "float64"
#: Largest header accepted, in bytes (a real one is a few hundred).
_MAX_HEADER_BYTES = 1 << 20
#: Fixed timestamp of every archive entry, so that saving is deterministic.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

#: What reading a damaged archive can raise (beyond our own checks): zipfile's
#: errors, a deflate stream's, a short read, a seek before the start of the file,
#: a bad ``.npy`` header or ``uint8`` text that is not UTF-8 or JSON (ValueError),
#: memory running out (MemoryError).
_READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    KeyError,
    struct.error,
    NotImplementedError,
    OverflowError,
    RecursionError,
    MemoryError,
)


class _Invalid(Exception):
    """A file is not a valid network file; the message says why (no file name)."""


# ---------------------------------------------------------------------- saving
def save(net: Network, path: PathLike) -> None:
    """Write ``net`` to ``path`` in the format described in this module.

    ``path`` (a ``str`` or ``os.PathLike``) is written exactly as given: no suffix
    is added.  The file is written whole to a temporary file in the same
    directory and then renamed over ``path``, so ``path`` holds either its old
    content or the complete new file, never a partial one (a symbolic link at
    ``path`` is replaced by the file, not followed).  An existing file keeps its
    permission bits.

    Raises ``TypeError`` if ``net`` is not a ``Network``, ``ValueError`` if
    ``path`` is a device, FIFO or socket (never replaced), ``RuntimeError`` if
    another thread is training ``net``, and what the file system raises
    (``FileNotFoundError`` for a missing directory, ``PermissionError``,
    ``IsADirectoryError`` ...) if the file cannot be written.
    """
    if not isinstance(net, _network.Network):
        raise TypeError(f"net must be a backprop Network, got {type(net).__name__}")
    target = os.fsdecode(os.fspath(path))
    with _training.reading(net._owner, net._engine, "save it"):
        data = _archive_bytes(net)
    _write_atomically(target, data)


def _contents(net: Network) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and the named arrays that describe ``net`` (file and pickle alike)."""
    columns = getattr(net, "columns", None)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "layers": [int(n) for n in net.layers],
        "bias": net.bias,
        "train_bias": bool(net.train_bias),
        "activations": list(net.activations),
        "loss": net.loss,
        "dtype": np.dtype(net.dtype).name,
    }
    optimizer = _kept_optimizer(net)
    shuffle = getattr(net, "_shuffle", None)
    if optimizer is not None:
        header["optimizer"] = {
            "name": optimizer.name,
            "settings": {k: float(v) for k, v in zip(_spec.OPTIMIZER_SETTINGS, optimizer.settings)},
        }
    schedule = _kept_schedule(net)
    if schedule is not None:
        header["schedule"] = {
            "name": schedule.schedule.name,
            "params": schedule.schedule.params,
            "learning_rate": schedule.base,
            "epochs": schedule.epochs,
            "samples": schedule.samples,
            "rate": schedule.rate,
            "best": None if math.isinf(schedule.best) else schedule.best,
            "bad": schedule.bad,
        }
    if shuffle is not None:
        header["shuffle"] = {"samples": int(shuffle.perm.shape[0])}
    if columns is not None:
        header["columns"] = columns.as_dict()
    arrays: dict[str, np.ndarray] = {}
    for l, w in enumerate(net.weights):
        arrays[f"weights_{l}"] = w
    if net.bias != "none":
        for l, b in enumerate(net.biases):
            # A shared bias is repeated over the layer's units: keep its one value.
            arrays[f"biases_{l}"] = b[:1] if net.bias == "shared" else b
    if optimizer is not None:
        arrays["optimizer_state"] = np.asarray(optimizer.state, dtype=net.dtype)
    if shuffle is not None:
        arrays["shuffle_rng"] = np.asarray(shuffle.rng, dtype=np.uint64)
        arrays["shuffle_perm"] = np.asarray(shuffle.perm, dtype=np.int64)
    return header, arrays


def _kept_optimizer(net: Network) -> _training.OptimizerState | None:
    """The network's optimizer state, if its next ``train`` call would continue it.

    A plain call of the compiled fast path since the state was kept makes ``train``
    start it afresh; such a state is not saved (a loaded network would continue it).
    """
    kept = getattr(net, "_optimizer", None)
    if kept is None or kept.fast_calls != _training._fast_calls(net):
        return None
    return kept


def _kept_schedule(net: Network) -> ScheduleState | None:
    """The network's schedule position, if its next ``train`` call would continue
    it (as for the optimizer, a plain fast-path call since makes it start afresh)."""
    kept = getattr(net, "_schedule", None)
    if kept is None or kept.fast_calls != _training._fast_calls(net):
        return None
    return kept


def _archive_bytes(net: Network) -> bytes:
    """The complete file for ``net``: a ZIP archive of ``.npy`` entries."""
    header, named = _contents(net)
    entries = _entries(header)
    text = json.dumps(header, allow_nan=False)
    arrays = {_HEADER: np.frombuffer(text.encode("utf-8"), np.uint8), **named}
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            if name != _HEADER:
                # a Network never holds a wrong array; be sure
                dtype, shape = entries[name]
                array = np.ascontiguousarray(array, dtype=dtype.newbyteorder("<"))
                if array.shape != shape:
                    raise ValueError(f"cannot save: {name} has shape {array.shape}, not {shape}")
                if not np.isfinite(array).all():
                    raise ValueError(f"cannot save: {name} contains NaN or infinity")
                if name == "shuffle_perm" and not _is_permutation(array):
                    raise ValueError(f"cannot save: {name} is not a permutation")
            entry = BytesIO()
            np.lib.format.write_array(entry, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16  # rw-r--r-- for tools that unpack it
            archive.writestr(info, entry.getvalue())
    return buffer.getvalue()


def _write_atomically(target: str, data: bytes) -> None:
    """Write ``data`` to a new file beside ``target``, then rename it to ``target``.

    The temporary file, ``.<name>.backprop-tmp-<random>`` in the same directory,
    is removed if anything fails (one left by a killed process says what it is).
    An existing ``target`` keeps its permission bits; a new one gets mode 0o666
    less the umask, as ``open`` would give it.  The data, and then the directory
    holding the new name, are flushed to disk before ``save`` returns.
    """
    directory, base = os.path.split(target)
    try:
        found = os.lstat(target).st_mode
    except OSError:  # no such file: the umask decides its mode
        found = None
    if found is not None and not (
        stat.S_ISREG(found) or stat.S_ISLNK(found) or stat.S_ISDIR(found)
    ):
        # a device, FIFO or socket is never replaced (saving to /dev/null as root
        # would otherwise put a regular file in its place)
        raise ValueError(f"cannot save to {target!r}: it is not a regular file")
    if found is not None and stat.S_ISDIR(found):
        # (before a temporary file is made beside it: the error names the path given)
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), target)
    try:
        found_target = os.stat(target).st_mode  # (through a link)
        mode = stat.S_IMODE(found_target) if stat.S_ISREG(found_target) else None
    except OSError:  # no such file (or a dangling link, replaced): the umask decides
        mode = None  # (a link to a directory, replaced, too)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        # (a long name is shortened: the temporary's must fit the file system's limit)
        temp = os.path.join(directory, f".{base[:200]}{_TEMP_MARK}{secrets.token_hex(6)}")
        try:
            fd = os.open(temp, flags, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:  # no such directory, no permission: named as given
            raise type(exc)(exc.errno, exc.strerror, target) from None
        break
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise FileExistsError(f"cannot create a temporary file beside {target!r}")
    try:
        with os.fdopen(fd, "wb") as fh:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    _sync_directory(directory or ".")


#: What names a temporary file of ``save``: ``.<name>.backprop-tmp-<random>``.
_TEMP_MARK = ".backprop-tmp-"


def _sync_directory(directory: str) -> None:
    """Flush a directory's entries to disk (the rename of a new file), where the
    system allows it (not on Windows, nor on some network file systems)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------- loading
def load(path: PathLike, engine: str | None = None) -> Any:
    """Read a network written by ``save`` (or any file in this module's format).

    ``engine`` chooses the engine of the new network ("cython" or "python";
    default: ``backprop.default_engine()``): the file does not record one.

    Raises ``FileNotFoundError`` if ``path`` does not exist (and what ``open``
    raises for other unreadable paths), and ``ValueError``, naming the file and
    the problem, if the file is not a valid network file: not a regular file (a
    directory, device, FIFO or socket: refused before anything is read), not a
    ZIP/``.npz`` archive, truncated or damaged, a header that is not JSON or has
    a wrong ``format``, an unsupported ``version``, unknown or missing keys or
    option values, missing or unexpected arrays, arrays of the wrong shape or
    dtype (checked against the header before any of their data is read or
    inflated), arrays holding Python objects (never unpickled), NaN or infinity,
    a ``shuffle_perm`` that is not a permutation, or a network larger than the
    memory available (checked before its buffers are allocated).

    Each array is read, in blocks, straight into the new network's buffers:
    loading takes little more memory than the network itself.
    """
    if engine is not None:
        check.choice("engine", engine, _spec.ENGINES)
    else:  # (an engine that cannot run is not the file's fault: said before reading it)
        engine = _network.default_engine()
    name = os.fsdecode(os.fspath(path))
    try:
        fh = _open_regular(name)
    except _Invalid as exc:
        raise ValueError(f"cannot load a network from {name!r}: {exc}") from None
    with fh:
        try:
            return _read(fh, engine)
        except _Invalid as exc:
            raise ValueError(f"cannot load a network from {name!r}: {exc}") from None
        except _READ_ERRORS as exc:
            raise ValueError(
                f"cannot load a network from {name!r}: the file is truncated, damaged "
                f"or not a backprop network file ({_describe(exc)})"
            ) from exc


def _open_regular(name: str) -> IO[bytes]:
    """``name`` opened for reading, if it is a regular file.

    It is opened without blocking (a FIFO with no writer would block ``open``
    forever) and checked with ``fstat`` before anything is read: a directory,
    device (``/dev/zero`` behind a link), FIFO or socket is refused.  Errors of
    ``open`` itself (no such file, no permission) are raised as they are.
    """
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # what opening a Unix socket gives
            raise _Invalid("it is a socket, not a regular file") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = (
                "a directory"
                if stat.S_ISDIR(mode)
                else "a FIFO"
                if stat.S_ISFIFO(mode)
                else "a socket"
                if stat.S_ISSOCK(mode)
                else "a device"
                if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "not a regular file"
            )
            raise _Invalid(f"it is {kind}, not a regular file; network files are regular files")
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)  # a regular file: plain reads from here on
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


#: Bytes read at a time from an archive member into an array's buffer.
_BLOCK = 1 << 18
#: Values checked for NaN and infinity at a time (a small temporary each).
_FINITE_BLOCK = 1 << 17
#: Most bytes a deflate stream inflates to per compressed byte (1032, and a margin).
_DEFLATE_RATIO = 1040


def _shell(header: dict[str, Any], engine: str | None, cls: type[Network] | None) -> Network:
    """A network configured from a checked header, without its parameter buffer
    yet (the constructor's checks, the memory check included)."""
    net = (cls or _network.Network).__new__(cls or _network.Network)
    try:
        net._configure(
            header["layers"],
            header["bias"],
            header["train_bias"],
            list(header["activations"]),
            None,
            header["loss"],
            header["dtype"],
            engine,
        )
    except (ValueError, TypeError) as exc:
        raise _Invalid(f"its contents do not make a valid network: {exc}") from None
    return net


def _buffers(net: Network, header: dict[str, Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The new network's parameter buffer, and a buffer per array of the file:
    each weight and bias array is its slice of the parameter buffer."""
    entries = _entries(header)
    n_params = _spec.param_count(net.layers, net.bias)
    total = sum(int(np.prod(shape)) * dtype.itemsize for dtype, shape in entries.values())
    try:
        check.fits_in_memory("the file", total, "the network and its training state")
    except ValueError as exc:
        raise _Invalid(str(exc)) from None
    params = np.empty(n_params, dtype=net.dtype)
    buffers: dict[str, np.ndarray] = {}
    for l, (w0, b0, nb) in enumerate(net._shape[1].tolist()):
        buffers[f"weights_{l}"] = params[w0:b0]
        if net.bias != "none":
            buffers[f"biases_{l}"] = params[b0 : b0 + nb]
    for n, (dtype, shape) in entries.items():
        if n not in buffers:
            buffers[n] = np.empty(shape, dtype=dtype.newbyteorder("="))
    return params, buffers


def _attach(
    net: Network, header: dict[str, Any], params: np.ndarray, buffers: dict[str, np.ndarray]
) -> Network:
    """Finish a network from its filled buffers: refused if a value is not finite
    or the shuffling order is not a permutation."""
    for n, array in buffers.items():
        if array.dtype.kind == "f" and not _all_finite(array):
            raise _Invalid(f"array {n!r} contains NaN or infinity")
    net._params = params
    if "optimizer" in header:
        name, settings = header["optimizer"]["name"], header["optimizer"]["settings"]
        _check_state(name, buffers["optimizer_state"], params.size)
        net._optimizer = _training.OptimizerState(
            name,
            tuple(settings[k] for k in _spec.OPTIMIZER_SETTINGS),
            buffers["optimizer_state"],
            0,
        )
    if "shuffle" in header:
        perm = buffers["shuffle_perm"]
        if not _is_permutation(perm):
            raise _Invalid(
                f"array 'shuffle_perm' must be a permutation of 0 ... {perm.shape[0] - 1} "
                f"(each sample index once)"
            )
        net._shuffle = _training.ShuffleState(
            buffers["shuffle_rng"], perm.astype(np.intp, copy=False)
        )
    if "schedule" in header:
        net._schedule = header["schedule"]
    if "columns" in header:
        net._columns = header["columns"]
    net._bind()
    return net


def _check_state(name: str, state: np.ndarray, n_params: int) -> None:
    """Refuse an optimizer state that training could never have made: Adam's second
    moments are >= 0 and its step count a whole number >= 0; RPROP's step sizes
    are >= 0.  (Velocities and first moments may be any finite numbers.)"""
    m = n_params
    why = None
    if name == "adam":
        steps = float(state[2 * m])
        if np.any(state[m : 2 * m] < 0):
            why = "a second moment is negative"
        elif not (steps >= 0 and steps == math.floor(steps)):
            why = f"its step count must be a whole number >= 0, got {steps!r}"
    elif name == "rprop" and np.any(state[:m] < 0):
        why = "a step size is negative"
    if why is not None:
        raise _Invalid(f"array 'optimizer_state' is not a valid {name} state: {why}")


def _all_finite(array: np.ndarray) -> bool:
    """Whether every value is finite, checked in blocks (no full-size temporary)."""
    flat = array.reshape(-1)
    return all(
        np.isfinite(flat[i : i + _FINITE_BLOCK]).all() for i in range(0, flat.size, _FINITE_BLOCK)
    )


def _entries(header: dict[str, Any]) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
    """The arrays a network with this (checked) header holds: dtype and shape of each."""
    layers, bias = header["layers"], header["bias"]
    dtype = np.dtype(header["dtype"])
    entries = {
        f"weights_{l}": (dtype, (n_out, n_in))
        for l, (n_in, n_out) in enumerate(zip(layers, layers[1:]))
    }
    if bias != "none":
        for l, n_out in enumerate(layers[1:]):
            entries[f"biases_{l}"] = (dtype, (_spec.bias_count(n_out, bias),))
    if "optimizer" in header:
        # Python integers: a huge (hostile) header cannot overflow
        size = _spec.state_size(header["optimizer"]["name"], _spec.param_count(layers, bias))
        entries["optimizer_state"] = (dtype, (size,))
    if "shuffle" in header:
        entries["shuffle_rng"] = (np.dtype(np.uint64), (1,))
        entries["shuffle_perm"] = (np.dtype(np.int64), (header["shuffle"]["samples"],))
    return entries


def _is_permutation(perm: np.ndarray) -> bool:
    """Whether the 1-D integer array ``perm`` holds each of ``0 ... len - 1`` once."""
    return bool(np.array_equal(np.sort(perm), np.arange(perm.shape[0], dtype=perm.dtype)))


# ---------------------------------------------------------------------- pickles
def pickle_state(net: Network) -> dict[str, Any]:
    """What a pickle of ``net`` holds: the file's header and arrays (the training
    state included), and the engine."""
    with _training.reading(net._owner, net._engine, "pickle it"):
        header, arrays = _contents(net)
    return {"header": header, "arrays": arrays, "engine": net.engine}


def from_pickle_state(state: Any, cls: type[Network] | None = None) -> Network:
    """The network a pickle describes, checked exactly as ``load`` checks a file:
    a damaged, inconsistent or foreign pickle is refused with a ``ValueError``."""
    try:
        if not isinstance(state, dict) or set(state) != {"header", "arrays", "engine"}:
            raise _Invalid("it is not the state of a backprop Network of this version")
        header = _parse_header(json.dumps(state["header"], allow_nan=False).encode("utf-8"))
        entries, arrays = _entries(header), state["arrays"]
        if not isinstance(arrays, dict) or set(arrays) != set(entries):
            raise _Invalid(f"its arrays must be {_listing(entries)}")
        for n, (dtype, shape) in entries.items():
            a = arrays[n]
            if not isinstance(a, np.ndarray) or a.dtype != dtype or a.shape != shape:
                raise _Invalid(f"array {n!r} must be a {dtype.name} array of shape {shape}")
        engine = state["engine"]
        if engine is not None:
            check.choice("engine", engine, _spec.ENGINES)
        net = _shell(header, engine, cls)
        params, buffers = _buffers(net, header)
        for n, buffer in buffers.items():
            buffer[...] = arrays[n].reshape(buffer.shape)
        return _attach(net, header, params, buffers)
    except (_Invalid, TypeError, ValueError) as exc:
        raise ValueError(f"cannot unpickle a backprop Network: {exc}") from None


def _read(fh: IO[bytes], engine: str | None, ensembles: bool = True) -> Any:
    """The network in an open file, checked: the header first, then every array
    (its ``.npy`` header against the network's, then its data, straight into the
    network's buffer); or, for an ensemble's file, the ensemble."""
    archive = _open_archive(fh)
    with archive:
        members, raw = _archive_raw_header(archive)
        if ensembles and _is_ensemble(raw):
            return _read_ensemble(archive, members, raw, engine)
        header = _parse_header(raw)
        entries = _entries(header)
        missing = [n for n in entries if n not in members]
        if missing:
            raise _Invalid(
                f"array {missing[0]!r} is missing ({_why(header, missing[0], entries, 'needs')})"
            )
        extra = [n for n in members if n != _HEADER and n not in entries]
        if extra:
            raise _Invalid(
                f"unexpected array {extra[0]!r} ({_why(header, extra[0], entries, 'holds only')})"
            )
        for n, (dtype, shape) in entries.items():  # every .npy header, before allocating
            _read_array(archive, members[n], n, dtype, shape, None, check_only=True)
        net = _shell(header, engine, None)
        params, buffers = _buffers(net, header)
        for n, (dtype, shape) in entries.items():
            _read_array(archive, members[n], n, dtype, shape, None, buffers[n])
    return _attach(net, header, params, buffers)


ENSEMBLE_FORMAT = "backprop-ensemble"
#: The ensemble format's version this module writes and reads.
ENSEMBLE_VERSION = 1


def _is_ensemble(raw: bytes) -> bool:
    """Whether a header (still unchecked) is an ensemble's."""
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False  # _parse_header says what is wrong
    return isinstance(header, dict) and header.get("format") == ENSEMBLE_FORMAT


def save_ensemble(ens: Any, path: PathLike) -> None:
    """Write an ``Ensemble`` to ``path`` (the "Ensembles" format above), atomically
    as ``save`` writes a network."""
    target = os.fsdecode(os.fspath(path))
    members = ens._members
    header = {"format": ENSEMBLE_FORMAT, "version": ENSEMBLE_VERSION, "members": len(members)}
    arrays = {_HEADER: np.frombuffer(json.dumps(header).encode("utf-8"), np.uint8)}
    for k, m in enumerate(members):
        with _training.reading(m._owner, m._engine, "save it"):
            arrays[f"member_{k}"] = np.frombuffer(_archive_bytes(m), np.uint8)
    if ens.seeds is not None:
        arrays["seeds"] = np.ascontiguousarray(ens.seeds, dtype="<i8")
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            entry = BytesIO()
            np.lib.format.write_array(entry, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, entry.getvalue())
    _write_atomically(target, buffer.getvalue())


def _read_ensemble(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo],
                   raw: bytes, engine: str | None) -> Any:  # fmt: skip
    """The ensemble in an open archive: its header, then each member's network
    file, read and checked as ``load`` reads one."""
    from .ensemble import Ensemble

    header = json.loads(raw.decode("utf-8"))
    keys = {"format", "version", "members"}
    if set(header) != keys:
        raise _Invalid(f"the ensemble's header must have exactly the keys {_listing(sorted(keys))}")
    if header["version"] != ENSEMBLE_VERSION or type(header["version"]) is not int:
        raise _Invalid(
            f"unsupported ensemble format version {header['version']!r}; this backprop "
            f"reads version {ENSEMBLE_VERSION}"
        )
    n = header["members"]
    if type(n) is not int or n < 1:
        raise _Invalid(f"the ensemble's members must be an integer >= 1, got {n!r}")
    if n > len(members):  # before any work in n: the count is the file's word only
        raise _Invalid(f"the header counts {n} members; the file holds {len(members) - 1} arrays")
    expected = {f"member_{k}" for k in range(n)}
    optional = {"seeds"}
    names = set(members) - {_HEADER}
    missing = sorted(expected - names, key=len)
    if missing:
        raise _Invalid(f"array {missing[0]!r} is missing (the header counts {n} members)")
    extra = sorted(names - expected - optional)
    if extra:
        raise _Invalid(f"unexpected array {extra[0]!r} in an ensemble of {n} members")
    total = sum(members[f"member_{k}"].file_size for k in range(n))
    try:
        check.fits_in_memory("the file", total, "the ensemble's members")
    except ValueError as exc:
        raise _Invalid(str(exc)) from None
    nets = []
    for k in range(n):
        name = f"member_{k}"
        info = members[name]
        data = _read_array(archive, info, name, np.dtype(np.uint8), None, info.file_size)
        try:
            net = _read(BytesIO(data.tobytes()), engine, ensembles=False)
        except _Invalid as exc:
            raise _Invalid(f"member {k}: {exc}") from None
        except _READ_ERRORS as exc:
            raise _Invalid(f"member {k} is damaged ({_describe(exc)})") from None
        nets.append(net)
    seeds = None
    if "seeds" in members:
        seeds = _read_array(archive, members["seeds"], "seeds", np.dtype(np.int64), (n,), None)
    try:
        ens = Ensemble.from_networks(nets)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None
    ens._members = nets  # (from_networks copied them: keep the loaded ones)
    ens.seeds = seeds
    return ens


def _open_archive(fh: IO[bytes]) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(fh)
    except zipfile.BadZipFile:
        raise _Invalid(
            "it is not a readable ZIP (.npz) archive: the file is truncated, "
            "damaged, or not a backprop network file"
        ) from None


def _archive_header(
    archive: zipfile.ZipFile,
) -> tuple[dict[str, zipfile.ZipInfo], dict[str, Any]]:
    """The archive's members by array name, and its header, checked."""
    members, raw = _archive_raw_header(archive)
    return members, _parse_header(raw)


def _archive_raw_header(archive: zipfile.ZipFile) -> tuple[dict[str, zipfile.ZipInfo], bytes]:
    """The archive's members by array name, and its header's bytes (unchecked)."""
    entries = archive.infolist()
    names = [info.filename for info in entries]
    duplicates = sorted(n for n, count in Counter(names).items() if count > 1)
    if duplicates:
        raise _Invalid(f"the archive holds more than one entry named {duplicates[0]!r}")
    members = {
        n[: -len(".npy")] if n.endswith(".npy") else n: info for n, info in zip(names, entries)
    }
    if _HEADER not in members:
        raise _Invalid(
            f"it is not a backprop network file: it has no {_HEADER!r} array "
            f"(its arrays: {_listing(members)})"
        )
    raw = _read_array(
        archive, members[_HEADER], _HEADER, np.dtype(np.uint8), None, _MAX_HEADER_BYTES
    )
    return members, raw.tobytes()


def read_header(path: PathLike) -> dict[str, Any]:
    """The checked header of a network file, without reading its arrays: the JSON
    object described in this module (``version``, ``layers``, ``activations`` ...,
    ``dtype`` filled in; ``columns``, when present, as a ``Columns``).  Only the
    header is checked (``load`` checks the whole file); it raises as ``load``
    does: ``FileNotFoundError``, or a ``ValueError`` naming the file."""
    name = os.fsdecode(os.fspath(path))
    try:
        with _open_regular(name) as fh, _open_archive(fh) as archive:
            return _archive_header(archive)[1]
    except _Invalid as exc:
        raise ValueError(f"cannot read a network file {name!r}: {exc}") from None
    except _READ_ERRORS as exc:
        if isinstance(exc, OSError) and exc.filename is not None:
            raise  # open() itself: no such file, no permission
        raise ValueError(
            f"cannot read a network file {name!r}: the file is truncated, damaged "
            f"or not a backprop network file ({_describe(exc)})"
        ) from exc


def _why(header: dict[str, Any], name: str, entries: Any, verb: str) -> str:
    """Why array ``name`` belongs in the file, or not: the header entry that needs it
    (training state), or what the network's layers and bias mode need."""
    key = _STATE_ARRAYS.get(name)
    if key is not None:
        if key in header:
            return f"the header's {key!r} entry needs it"
        return f"the header has no {key!r} entry"
    return (
        f"a network with layers {header['layers']} and bias={header['bias']!r} "
        f"{verb} {_listing(n for n in entries if n not in _STATE_ARRAYS)}"
    )


def _describe(exc: BaseException) -> str:
    """``"BadZipFile: Bad CRC-32 ..."``, or only the type when there is no message."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _listing(names: Any) -> str:
    """``'a', 'b'`` for the names given, or ``none``."""
    return ", ".join(repr(n) for n in names) or "none"


def _read_array(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    name: str,
    dtype: np.dtype,
    shape: tuple[int, ...] | None,
    max_bytes: int | None,
    out: np.ndarray | None = None,
    check_only: bool = False,
) -> np.ndarray | None:
    """One ``.npy`` entry as a native-order C-contiguous array, checked before reading.

    ``dtype`` must match (in either byte order); ``shape`` too unless None, in
    which case the array must be 1-D with at most ``max_bytes`` of data.  The data
    are read in blocks into ``out`` (a C-contiguous buffer of that shape's size)
    or a new array.  Object arrays are refused from their ``.npy`` header,
    before any of their data is read: nothing is unpickled.  An entry that
    declares more data than its compressed size can hold is refused before it is
    inflated.  With ``check_only``, only the checks (None).
    """
    if not info.filename.endswith(".npy"):
        raise _Invalid(f"entry {info.filename!r} is not a .npy array")
    if info.flag_bits & 0x1:
        raise _Invalid(f"array {name!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _Invalid(
            f"array {name!r} uses an unsupported ZIP compression method "
            f"({info.compress_type}); use stored or deflated entries"
        )
    most = info.compress_size * (_DEFLATE_RATIO if info.compress_type else 1) + 64
    if info.file_size > most:
        raise _Invalid(
            f"array {name!r} declares {info.file_size} bytes, more than its "
            f"{info.compress_size} stored bytes can hold"
        )
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                found_shape, fortran, found_dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                found_shape, fortran, found_dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise _Invalid(
                    f"array {name!r} is a .npy file of version "
                    f"{version[0]}.{version[1]}; only 1.0 and 2.0 are read"
                )
        except ValueError as exc:
            raise _Invalid(f"array {name!r} is not a valid .npy array ({exc})") from None
        if found_dtype.hasobject:
            raise _Invalid(
                f"array {name!r} holds Python objects (dtype {found_dtype}); "
                f"network files hold numbers only, and objects are never unpickled"
            )
        if (
            found_dtype.names is not None
            or found_dtype.subdtype is not None
            or found_dtype.newbyteorder("=") != dtype.newbyteorder("=")
        ):
            raise _Invalid(f"array {name!r} must have dtype {dtype.name}, got {found_dtype}")
        found_shape = tuple(found_shape)
        if any(type(d) is not int or d < 0 for d in found_shape):
            raise _Invalid(f"array {name!r} declares an impossible shape {found_shape}")
        if shape is None:
            if len(found_shape) != 1:
                raise _Invalid(f"array {name!r} must be 1-D, got shape {found_shape}")
        elif found_shape != shape:
            raise _Invalid(f"array {name!r} must have shape {shape}, got {found_shape}")
        count = math.prod(found_shape)
        n_bytes = count * found_dtype.itemsize
        if max_bytes is not None and n_bytes > max_bytes:
            raise _Invalid(f"array {name!r} is too large ({n_bytes} bytes, at most {max_bytes})")
        if n_bytes > info.file_size:
            raise _Invalid(
                f"array {name!r} is truncated: its shape needs {n_bytes} bytes "
                f"of data, the entry holds {info.file_size} in all"
            )
        if check_only:
            return None
        if out is None:
            out = np.empty(count, dtype=dtype.newbyteorder("="))
        if fortran and len(found_shape) == 2:
            _read_columns(member, name, n_bytes, found_dtype, out.reshape(found_shape))
        else:
            data = memoryview(out.reshape(-1).view(np.uint8))
            done = 0
            for block in _blocks(member, name, n_bytes):
                data[done : done + len(block)] = block
                done += len(block)
            if not found_dtype.isnative:
                out.byteswap(inplace=True)  # the values, in the machine's byte order
        if member.read(1):
            raise _Invalid(f"array {name!r} has data past its end")
    return out


def _blocks(member: IO[bytes], name: str, n_bytes: int) -> Any:
    """The next ``n_bytes`` of ``member`` in blocks of at most ``_BLOCK`` bytes."""
    done = 0
    while done < n_bytes:
        block = member.read(min(_BLOCK, n_bytes - done))
        if not block:
            raise _Invalid(f"array {name!r} is truncated: {done} of {n_bytes} bytes")
        done += len(block)
        yield block


def _read_columns(
    member: IO[bytes], name: str, n_bytes: int, dtype: np.dtype, out: np.ndarray
) -> None:
    """A 2-D array stored column by column (Fortran order) read straight into the
    C-ordered ``out``, in blocks: no temporary of the array's size."""
    rows = out.shape[0]
    pending = b""
    at = 0  # values placed so far, in the file's (column) order
    for block in _blocks(member, name, n_bytes):
        if pending:  # (blocks are whole values unless a read came back short)
            block, pending = pending + block, b""
        usable = len(block) - len(block) % dtype.itemsize
        if usable < len(block):
            block, pending = block[:usable], block[usable:]
        values = np.frombuffer(block, dtype=dtype)
        k = 0
        while k < values.size:
            column, row = divmod(at, rows)
            if row == 0 and values.size - k >= rows:  # whole columns at once
                whole = (values.size - k) // rows
                out[:, column : column + whole] = (
                    values[k : k + whole * rows].reshape(whole, rows).T
                )
                taken = whole * rows
            else:  # the rest of a column begun in the last block, or one begun here
                taken = min(rows - row, values.size - k)
                out[row : row + taken, column] = values[k : k + taken]
            k += taken
            at += taken


def _parse_header(raw: bytes) -> dict[str, Any]:
    """The header's JSON object, with every entry checked; ``dtype`` filled in."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Invalid(f"the header is not UTF-8 text ({exc})") from None
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise _Invalid(f"the header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _Invalid(f"the header must be a JSON object, got {type(header).__name__}")
    if header.get("format") != FORMAT:
        raise _Invalid(
            f"it is not a backprop network file: the header's format is "
            f"{header.get('format')!r}, expected {FORMAT!r}"
        )
    version = header.get("version")
    if type(version) is not int:
        raise _Invalid(f"the header's version must be an integer, got {version!r}")
    if version not in READ_VERSIONS:
        newer = " (written by a newer backprop: upgrade to read it)" if version > VERSION else ""
        raise _Invalid(
            f"unsupported format version {version}{newer}; this backprop reads "
            f"versions {' and '.join(map(str, READ_VERSIONS))}"
        )
    known = _REQUIRED_KEYS + _OPTIONAL_KEYS[version]
    unknown = sorted(set(header) - set(known))
    if unknown:
        raise _Invalid(
            f"unknown key {unknown[0]!r} in the header (version {version} has {_listing(known)})"
        )
    missing = [k for k in _REQUIRED_KEYS if k not in header]
    if missing:
        raise _Invalid(f"the header has no {missing[0]!r} entry")

    layers = header["layers"]
    if (
        not isinstance(layers, list)
        or len(layers) < 2
        or any(type(n) is not int or n < 1 for n in layers)
    ):
        raise _Invalid(
            f"the header's layers must be a list of at least two integers >= 1, got {layers!r}"
        )
    _option(header, "bias", _spec.BIAS_MODES)
    if type(header["train_bias"]) is not bool:
        raise _Invalid(
            f"the header's train_bias must be true or false, got {header['train_bias']!r}"
        )
    activations = header["activations"]
    if not isinstance(activations, list) or len(activations) != len(layers) - 1:
        raise _Invalid(
            f"the header's activations must be a list of {len(layers) - 1} "
            f"names (one per weight layer), got {activations!r}"
        )
    for a in activations:
        if not isinstance(a, str) or a not in _spec.ACTIVATIONS:
            raise _Invalid(
                f"unknown activation {a!r} in the header (known: {_listing(_spec.ACTIVATIONS)})"
            )
    _option(header, "loss", _spec.LOSSES)
    dtype_name = header.setdefault("dtype", _DEFAULT_DTYPE)
    if not isinstance(dtype_name, str) or not _is_float_dtype_name(dtype_name):
        raise _Invalid(
            f"the header's dtype must name a floating-point type such as "
            f"'float64', got {dtype_name!r}"
        )
    if "optimizer" in header:
        _check_optimizer(header["optimizer"])
    if "schedule" in header:
        header["schedule"] = _check_schedule(header["schedule"])
    if "shuffle" in header:
        shuffle = header["shuffle"]
        if not isinstance(shuffle, dict) or set(shuffle) != {"samples"}:
            raise _Invalid(
                f"the header's shuffle must be an object with the one key 'samples', "
                f"got {shuffle!r}"
            )
        samples = shuffle["samples"]
        if type(samples) is not int or not 1 <= samples <= sys.maxsize:
            raise _Invalid(f"the header's shuffle samples must be an integer >= 1, got {samples!r}")
    if "columns" in header:
        try:
            header["columns"] = Columns.from_dict(header["columns"]).check(layers)
        except (TypeError, ValueError) as exc:
            raise _Invalid(f"the header's columns are not valid: {exc}") from None
    return header


def _check_schedule(entry: Any) -> ScheduleState:
    """The header's ``schedule`` entry, checked, as the position it describes."""
    if not isinstance(entry, dict) or sorted(entry) != sorted(_SCHEDULE_KEYS):
        raise _Invalid(
            f"the header's schedule must be an object with the keys {_listing(_SCHEDULE_KEYS)}"
            f", got {entry!r}"
        )
    name, params = entry["name"], entry["params"]
    if not isinstance(name, str) or name not in _spec.SCHEDULES or name == "constant":
        known = [n for n in _spec.SCHEDULES if n != "constant"]
        raise _Invalid(f"unknown schedule {name!r} in the header (known: {_listing(known)})")
    if not isinstance(params, dict) or sorted(params) != sorted(_spec.SCHEDULES[name]):
        raise _Invalid(
            f"the header's schedule params must give exactly "
            f"{_listing(tuple(_spec.SCHEDULES[name]))} for schedule {name!r}, got {params!r}"
        )
    for key, value in params.items():
        wanted = int if key in _spec.SCHEDULE_INT_PARAMS else (int, float)
        if type(value) not in ((wanted,) if wanted is int else wanted):
            raise _Invalid(f"the header's schedule parameter {key!r} is not a number: {value!r}")
    try:
        schedule = Schedule(name, **params)
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"the header's schedule is not valid: {exc}") from None
    numbers = {}
    for key in ("learning_rate", "rate", "best"):
        value = entry[key]
        if key == "best" and value is None:
            numbers[key] = math.inf
            continue
        try:
            ok = type(value) in (int, float) and math.isfinite(float(value))
        except OverflowError:
            ok = False
        # the base rate is > 0; the rate reached may be 0 (a cosine's end at
        # eta_min=0, an exponential decay underflowed)
        if (
            not ok
            or (key == "learning_rate" and float(value) <= 0.0)
            or (key == "rate" and float(value) < 0.0)
        ):
            kind = {"best": "a finite number", "rate": "a finite number >= 0"}.get(
                key, "a finite number > 0"
            )
            raise _Invalid(f"the header's schedule {key} must be {kind}, got {value!r}")
        numbers[key] = float(value)
    counts = {}
    for key in ("epochs", "samples", "bad"):
        value = entry[key]
        if type(value) is not int or not 0 <= value <= sys.maxsize:
            raise _Invalid(f"the header's schedule {key} must be an integer >= 0, got {value!r}")
        counts[key] = value
    return ScheduleState(
        schedule,
        numbers["learning_rate"],
        counts["epochs"],
        counts["samples"],
        numbers["rate"],
        numbers["best"],
        counts["bad"],
    )


def _check_optimizer(entry: Any) -> None:
    """Check the header's ``optimizer`` entry; its settings become floats."""
    if not isinstance(entry, dict) or set(entry) != {"name", "settings"}:
        raise _Invalid(
            f"the header's optimizer must be an object with the keys 'name' and "
            f"'settings', got {entry!r}"
        )
    name = entry["name"]
    if not isinstance(name, str) or name not in _spec.OPTIMIZERS:
        raise _Invalid(
            f"unknown optimizer {name!r} in the header (known: {_listing(_spec.OPTIMIZERS)})"
        )
    settings = entry["settings"]
    if not isinstance(settings, dict):
        raise _Invalid(f"the header's optimizer settings must be an object, got {settings!r}")
    missing = [k for k in _spec.OPTIMIZER_SETTINGS if k not in settings]
    if missing:
        raise _Invalid(f"the header's optimizer settings have no {missing[0]!r} entry")
    unknown = sorted(set(settings) - set(_spec.OPTIMIZER_SETTINGS))
    if unknown:
        raise _Invalid(
            f"unknown optimizer setting {unknown[0]!r} in the header "
            f"(known: {_listing(_spec.OPTIMIZER_SETTINGS)})"
        )
    for key, value in settings.items():
        try:
            finite = type(value) in (int, float) and math.isfinite(float(value))
        except OverflowError:
            finite = False
        if not finite:
            raise _Invalid(
                f"the header's optimizer setting {key} must be a finite number, got {value!r}"
            )
        settings[key] = float(value)


def _option(header: dict[str, Any], key: str, options: tuple[str, ...]) -> None:
    """Check that ``header[key]`` is one of ``options``."""
    value = header[key]
    if not isinstance(value, str) or value not in options:
        raise _Invalid(f"unknown {key} {value!r} in the header (known: {_listing(options)})")


def _is_float_dtype_name(name: str) -> bool:
    """Whether ``name`` is the canonical name of a NumPy floating-point dtype."""
    try:
        dtype = np.dtype(name)
    except (TypeError, ValueError):
        return False
    return dtype.kind == "f" and dtype.name == name


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` hook: a JSON object, refusing a key given twice."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Invalid(f"the header gives the key {key!r} twice")
        result[key] = value
    return result

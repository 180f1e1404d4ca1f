"""Type stub of the compiled engine ``backprop._core`` (see ``_core.pyx``).

The functions take the same arguments as the pure-Python twin
``backprop._reference``; arrays are float64 or float32 (the fused type ``real``),
C-contiguous and aligned, checked and converted by the caller.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

_Real = npt.NDArray[np.float64] | npt.NDArray[np.float32]
_Sizes = npt.NDArray[np.intp]
_Layout = npt.NDArray[np.intp]
_Acts = npt.NDArray[np.intc]

#: Engine codes compiled into the module, keyed like ``backprop._spec.CODED``,
#: plus "hyper" (positions in the hyper vector), "hyper_size" and "leaky_slope".
CODES: dict[str, Any]
#: Layers with at least this many weights use BLAS for mini-batches, if found.
BLAS_MIN_WEIGHTS: int

def blas_available() -> bool: ...

#: The SIMD levels of the kernels, lowest first (``backprop._spec.SIMD_LEVELS``).
SIMD_LEVELS: tuple[str, ...]

def cpu_simd_levels() -> tuple[str, ...]: ...
def built_simd_levels() -> tuple[str, ...]: ...
def simd_levels() -> tuple[str, ...]: ...
def simd_level() -> str: ...
def use_simd(level: str | None = None) -> str | None: ...
def build_info() -> dict[str, Any]: ...
def map_values(values: _Real, fn: str) -> _Real: ...
def watch_signals(on: bool) -> bool: ...
def forward(params: _Real, sizes: _Sizes, layout: _Layout, acts: _Acts, X: _Real) -> _Real: ...
def sample_errors(
    params: _Real, sizes: _Sizes, layout: _Layout, acts: _Acts, loss: int, X: _Real, T: _Real
) -> npt.NDArray[np.float64]: ...
def trace_step(
    params: _Real,
    sizes: _Sizes,
    layout: _Layout,
    acts: _Acts,
    train_bias: bool,
    loss: int,
    x: _Real,
    t: _Real,
    lr: float,
    sequential: bool,
) -> dict[str, Any]: ...
def train(
    params: _Real,
    sizes: _Sizes,
    layout: _Layout,
    acts: _Acts,
    train_bias: bool,
    loss: int,
    X: _Real,
    T: _Real,
    epochs: int,
    lr: float,
    sequential: bool,
    history: npt.NDArray[np.float64],
    counts: npt.NDArray[np.longlong],
    total: int = -1,
    record_every: int = 1,
    batch_size: int = 1,
    optimizer: int = 0,
    hyper: npt.NDArray[np.float64] | None = None,
    state: _Real | None = None,
    perm: npt.NDArray[np.intp] | None = None,
    rng: npt.NDArray[np.uint64] | None = None,
    check_params: bool = True,
    rates: npt.NDArray[np.float64] | None = None,
) -> tuple[int, float, tuple[BaseException, int, int] | None]: ...

#: ``Owner``'s answers: nobody trains the network, this thread does, another does.
FREE: int
SELF: int
OTHER: int

class Owner:
    """Which thread, if any, is training a network: one trainer at a time."""

    thread: int

    def take(self) -> int: ...
    def give_back(self) -> None: ...
    def holder(self) -> int: ...

class Trainer:
    """A network's training loop with its workspace allocated once."""

    calls: int

    def __init__(
        self,
        params: _Real,
        sizes: _Sizes,
        layout: _Layout,
        acts: _Acts,
        train_bias: bool,
        loss: int,
        owner: Owner,
    ) -> None: ...
    def train_plain(
        self, X: _Real, T: _Real, epochs: int, learning_rate: float, sequential: bool
    ) -> npt.NDArray[np.float64] | tuple[Any, ...]: ...

def train_method(
    checked: Callable[..., npt.NDArray[np.float64]],
    diverged: Callable[..., npt.NDArray[np.float64]],
    interrupted: Callable[..., npt.NDArray[np.float64]],
    trainer_attribute: str,
    epochs: int,
    learning_rate: float,
    update: str,
) -> Callable[..., npt.NDArray[np.float64]]: ...

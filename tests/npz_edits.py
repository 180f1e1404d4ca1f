"""Helpers of the file-format tests (test_io.py, test_io_state.py): read a saved
network's arrays, damage them, write them back, and check that loading refuses
the result.  A mutation is a function that changes a dict of arrays in place."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from backprop import io as bpio

Mutation = Callable[[dict], None]


def assert_refused(path: pathlib.Path, match: str) -> None:
    """Loading ``path`` raises a ValueError that names the file and matches ``match``."""
    with pytest.raises(ValueError, match=match) as info:
        bpio.load(path)
    assert str(path) in str(info.value)


def arrays_of(path: pathlib.Path) -> dict[str, np.ndarray]:
    """The arrays of a saved network, as NumPy reads them."""
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def write_npz(path: pathlib.Path, arrays: dict[str, Any]) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def json_bytes(text: str | bytes) -> np.ndarray:
    """A header array holding ``text`` (or raw bytes)."""
    return np.frombuffer(text.encode() if isinstance(text, str) else text, dtype=np.uint8)


def edit_header(**changes: Any) -> Mutation:
    """A mutation setting header entries: ``None`` removes the entry, a callable
    changes it in place, anything else replaces it."""

    def mutate(arrays: dict) -> None:
        header = json.loads(arrays["header"].tobytes())
        for key, value in changes.items():
            if value is None:
                del header[key]
            elif callable(value):
                value(header[key])
            else:
                header[key] = value
        arrays["header"] = json_bytes(json.dumps(header))

    return mutate


def set_array(name: str, value: Any) -> Mutation:
    """A mutation replacing array ``name`` by ``value`` (a callable: of the array)."""

    def mutate(arrays: dict) -> None:
        arrays[name] = value(arrays[name]) if callable(value) else value

    return mutate


def remove_array(name: str) -> Mutation:
    return lambda arrays: arrays.pop(name)


def with_value(index: Any, value: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A copy of the array with ``value`` at ``index``."""

    def change(array: np.ndarray) -> np.ndarray:
        array = array.copy()
        array[index] = value
        return array

    return change

"""``Columns``: the names of the data a network was trained on.

A network trained from a table (``backprop train DATA.csv``) records the names of
its input columns, of its target columns and, for a classifier trained on class
labels, the label of each output.  ``backprop predict`` matches a new table's
columns by these names and writes the labels; ``save`` keeps them in the file
(format version 3) and ``load`` reads them back.  ``Network.columns`` is ``None``
for a network that records none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Columns"]

#: Longest name accepted, in characters.
MAX_NAME = 1000


@dataclass(frozen=True)
class Columns:
    """Names of a network's data: ``inputs`` (one per input unit, in order),
    ``targets`` (the target columns: one per output unit, or the one column of
    class labels of a classifier) and ``classes`` (for a classifier trained on
    labels: the label of each output unit, in order; a one-output network has
    two, for outputs below and from 0.5; else ``None``).

    Names are non-empty strings without line breaks, unique within ``inputs``,
    ``targets`` and ``classes``, and no name is both an input and a target.
    """

    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", _names("inputs", self.inputs))
        object.__setattr__(self, "targets", _names("targets", self.targets))
        if self.classes is not None:
            object.__setattr__(self, "classes", _names("classes", self.classes))
            if len(self.targets) != 1:
                raise ValueError(
                    f"a classifier's labels come from one target column, got {len(self.targets)}"
                )
            if len(self.classes) < 2:
                raise ValueError(f"classes must name at least two classes, got {self.classes}")
        both = sorted(set(self.inputs) & set(self.targets))
        if both:
            raise ValueError(f"column {both[0]!r} cannot be both an input and a target")

    @property
    def outputs(self) -> tuple[str, ...]:
        """What each output unit stands for: a class label, or a target column."""
        return self.classes if self.classes is not None else self.targets

    def check(self, layers: Sequence[int]) -> Columns:
        """``self``, if it fits a network of ``layers`` units per layer."""
        if len(self.inputs) != layers[0]:
            raise ValueError(f"columns name {len(self.inputs)} inputs; the network has {layers[0]}")
        n_out = layers[-1]
        if self.classes is not None:
            if len(self.classes) != n_out and not (n_out == 1 and len(self.classes) == 2):
                raise ValueError(
                    f"columns name {len(self.classes)} classes; the network has {n_out} "
                    f"outputs (one per class, or one output for two classes)"
                )
        elif len(self.targets) != n_out:
            raise ValueError(
                f"columns name {len(self.targets)} targets; the network has {n_out} outputs"
            )
        return self

    def as_dict(self) -> dict[str, Any]:
        """The JSON object of a network file's ``columns`` entry."""
        out: dict[str, Any] = {"inputs": list(self.inputs), "targets": list(self.targets)}
        if self.classes is not None:
            out["classes"] = list(self.classes)
        return out

    @classmethod
    def from_dict(cls, entry: Any) -> Columns:
        """The ``Columns`` of a file's ``columns`` entry; ``ValueError`` if it is not one."""
        if not isinstance(entry, dict):
            raise ValueError(f"it must be an object, got {type(entry).__name__}")
        keys = set(entry)
        if not {"inputs", "targets"} <= keys <= {"inputs", "targets", "classes"}:
            raise ValueError(
                f"it must have the keys 'inputs' and 'targets' (and 'classes' for "
                f"a classifier), got {sorted(keys)}"
            )
        for key, value in entry.items():
            if not isinstance(value, list):
                raise ValueError(f"its {key} must be a list of names, got {value!r}"[:200])
        return cls(entry["inputs"], entry["targets"], entry.get("classes"))


def _names(what: str, values: Any) -> tuple[str, ...]:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{what} must be a sequence of names, not one {type(values).__name__}")
    try:
        names = tuple(values)
    except TypeError:
        raise TypeError(
            f"{what} must be a sequence of names, got {type(values).__name__}"
        ) from None
    if not names:
        raise ValueError(f"{what} must name at least one column")
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{what} must be strings, got {name!r}"[:200])
        if not name.strip() or len(name) > MAX_NAME or "\n" in name or "\r" in name:
            raise ValueError(
                f"{what} must be non-empty names of at most {MAX_NAME} characters on "
                f"one line, got {name!r}"[:200]
            )
        if name in seen:
            raise ValueError(f"{what} names {name!r} twice"[:200])
        seen.add(name)
    return tuple(str(name) for name in names)

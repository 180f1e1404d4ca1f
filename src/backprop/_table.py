"""CSV tables for the command line: read with the standard library's ``csv``.

A table has a header row of unique column names, then one row per sample, every
row as long as the header (blank lines are skipped, and rows of empty fields at
the end, as spreadsheets write them; such a row before the last is a row whose
values are missing).  Numbers are read with
``float``; a cell that is not a finite number where one is needed is refused with
a message naming its column and line.  pandas is not needed.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np


class TableError(ValueError):
    """A table that cannot be used; the message names the file, column and line."""


@dataclass(frozen=True)
class Table:
    """A CSV file's header and its data rows as text."""

    path: str
    names: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    lines: tuple[int, ...]  # the file's line number of each row (the header is line 1)

    def index(self, name: str) -> int:
        """Position of column ``name``; ``TableError`` naming the columns there are."""
        try:
            return self.names.index(name)
        except ValueError:
            raise TableError(
                f"{self.path} has no column {name!r} (its columns: {_listing(self.names)})"
            ) from None

    def texts(self, name: str) -> list[str]:
        """Column ``name``'s cells, stripped of surrounding blanks; none may be empty."""
        k = self.index(name)
        cells = [row[k].strip() for row in self.rows]
        for cell, line in zip(cells, self.lines):
            if not cell:
                raise TableError(f"{self.path}, line {line}: column {name!r} has no value")
        return cells

    def is_numeric(self, name: str) -> bool:
        """Whether every cell of column ``name`` is a number."""
        k = self.index(name)
        return all(_number(row[k]) is not None for row in self.rows)

    def numbers(self, names: Sequence[str]) -> np.ndarray:
        """Columns ``names`` as a float64 array, one row per data row."""
        ks = [self.index(n) for n in names]
        out = np.empty((len(self.rows), len(ks)), dtype=np.float64)
        for r, (row, line) in enumerate(zip(self.rows, self.lines)):
            for c, (k, name) in enumerate(zip(ks, names)):
                value = _number(row[k])
                if value is None:
                    cell = row[k].strip()
                    what = "has no value" if not cell else f"holds {cell[:40]!r}, not a number"
                    raise TableError(f"{self.path}, line {line}: column {name!r} {what}")
                if not math.isfinite(value):
                    raise TableError(
                        f"{self.path}, line {line}: column {name!r} holds {row[k].strip()!r}; "
                        f"only finite numbers can be used"
                    )
                out[r, c] = value
        return out


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _listing(names: Iterable[str], most: int = 12) -> str:
    names = list(names)
    shown = ", ".join(repr(n) for n in names[:most])
    return shown + (f" ... ({len(names)} in all)" if len(names) > most else "")


def read_csv(path: str | os.PathLike[str]) -> Table:
    """Read a CSV file with a header row (UTF-8, a byte-order mark allowed).

    Raises what ``open`` raises for a missing or unreadable file, and
    ``TableError`` for a file that is not such a table."""
    name = os.fsdecode(os.fspath(path))
    if os.path.isdir(name):
        raise TableError(f"{name} is a directory, not a CSV file")
    with open(name, newline="", encoding="utf-8-sig") as fh:
        return _read(fh, name)


def _read(fh: IO[str], name: str) -> Table:
    reader = csv.reader(fh)
    header: list[str] | None = None
    rows: list[tuple[str, ...]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if len(row) <= 1 and not any(cell.strip() for cell in row):
                continue  # a blank line (a row of empty fields, ",,", is a row ...)
            if header is None:
                header = [cell.strip() for cell in row]
                _check_header(header, name)
                continue
            if len(row) != len(header):
                raise TableError(
                    f"{name}, line {reader.line_num}: {len(row)} fields, but the header "
                    f"has {len(header)} columns"
                )
            rows.append(tuple(row))
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise TableError(f"{name}, line {reader.line_num}: not valid CSV ({exc})") from None
    except UnicodeDecodeError as exc:
        raise TableError(f"{name} is not UTF-8 text ({exc.reason})") from None
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()  # (... but not at the end, where spreadsheets write them)
        lines.pop()
    if header is None:
        raise TableError(f"{name} is empty: a CSV file needs a header row of column names")
    if not rows:
        raise TableError(f"{name} has a header but no data rows")
    return Table(name, tuple(header), tuple(rows), tuple(lines))


def _check_header(header: list[str], name: str) -> None:
    for k, column in enumerate(header):
        if not column:
            raise TableError(f"{name}: column {k + 1} of the header has no name")
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise TableError(f"{name}: the header names column {column!r} twice")
        seen.add(column)


def write_csv(fh: IO[str], names: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Write a header and rows of text to an open file, as CSV."""
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow(row)

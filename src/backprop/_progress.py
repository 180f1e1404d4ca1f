"""The progress display of ``Network.train(..., progress=True)``.

``Progress`` shows the epoch reached out of the total, the last epoch's training
error, the validation error when there is one, the training speed in samples per
second and the time left.  It writes to a text stream, ``sys.stderr`` by default,
in one of two ways:

* with ``tqdm`` (the optional extra ``pip install "backprop-nn[progress]"``) when it
  can be imported: a ``tqdm`` bar over the epochs, which computes the time left
  itself, with the errors and the speed as its postfix;
* without it, a plain line such as
  ``epoch 1200/10000  error 3.511e-05  val 4.2e-05  1.23M samples/s  ETA 0:00:07``.
  On an interactive stream (a terminal, or a Jupyter cell) the line is rewritten
  in place with a carriage return at most ten times a second, and ends with a
  newline when the display is closed.  On any other stream (a log file, a pipe, a
  CI log) each refresh is a line of its own, at most one a second, so that a log
  stays readable and small; the closing line says how long training took.

The training loop calls :meth:`Progress.update` between chunks of training.  An
update that comes less than a refresh interval after the previous refresh only
records the state (one clock read), so the display costs next to nothing; the
last state is always shown by :meth:`Progress.close`.  A display whose stream
fails (closed, broken pipe) turns itself off instead of raising: a progress bar
must never stop a training run.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

import numpy as np

from ._version import DISTRIBUTION

__all__ = ["Progress", "make_progress"]

#: Errors a write to a closed or broken stream raises (``ValueError``: "I/O
#: operation on closed file"; ``OSError``: broken pipe, full disk ...).
_STREAM_ERRORS = (OSError, ValueError)

_SI_PREFIXES = ("", "k", "M", "G", "T", "P", "E")


def format_error(value: float) -> str:
    """An error with 4 significant digits: ``3.511e-05``, ``0.25``, ``nan``."""
    return f"{float(value):.4g}"


def format_rate(value: float) -> str:
    """A rate with 3 significant digits and an SI prefix: ``1.23M``, ``950``, ``12k``."""
    value = float(value)
    if not math.isfinite(value):
        return f"{value:g}"
    for prefix in _SI_PREFIXES:
        text = f"{value:.3g}"
        if abs(float(text)) < 1000.0 or prefix == _SI_PREFIXES[-1]:
            return text + prefix
        value /= 1000.0
    raise AssertionError("unreachable")  # pragma: no cover


def format_duration(seconds: float) -> str:
    """A duration as ``H:MM:SS`` (hours unbounded), rounded to the second: ``0:00:07``."""
    if not math.isfinite(seconds):
        return "?"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _is_interactive(stream: Any) -> bool:
    """Whether ``stream`` shows a line rewritten with ``\\r`` in place: a terminal,
    or the output stream of a Jupyter kernel (which says it is not a TTY)."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, *_STREAM_ERRORS):
        return False
    return type(stream).__module__.split(".")[0] == "ipykernel"


class Progress:
    """A progress display for a training run of ``total_epochs`` epochs.

    Parameters
    ----------
    total_epochs:
        The number of epochs the run will do at most (it may stop earlier).
    samples_per_epoch:
        The number of training samples one epoch goes through, for the speed in
        samples per second.
    stream:
        The text stream written to; ``sys.stderr`` (as it is at construction)
        when None.
    use_tqdm:
        True: a ``tqdm`` bar (ImportError without tqdm); False: the plain line;
        None: ``tqdm`` if it can be imported, else the plain line.
    clock:
        The clock, in seconds, that times the run and spaces the refreshes;
        ``time.monotonic`` unless a test brings its own.

    Use it as a context manager, or call :meth:`close` when training ends.
    """

    #: Shortest time between two refreshes on an interactive stream, and the one
    #: ``tqdm`` is given (at most ten refreshes a second).
    INTERACTIVE_INTERVAL = 0.1
    #: Shortest time between two lines of the plain display on a stream that is
    #: not interactive (a log file, a pipe).
    LOG_INTERVAL = 1.0

    def __init__(
        self,
        total_epochs: int,
        samples_per_epoch: int,
        *,
        stream: TextIO | None = None,
        use_tqdm: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total_epochs = max(0, int(total_epochs))
        self.samples_per_epoch = max(0, int(samples_per_epoch))
        self.stream: TextIO = sys.stderr if stream is None else stream
        self._clock = clock
        self._start = clock()
        self._last_refresh = self._start
        self._epochs = 0
        self._error: float | None = None
        self._validation_error: float | None = None
        self._closed = False
        self._disabled = False  # set when the stream fails: no more output
        self._line_length = 0  # of the plain line now on an interactive stream
        self._bar: Any = None

        tqdm_class = _tqdm_class(use_tqdm)
        if tqdm_class is not None:
            self._interactive = True
            self.interval = self.INTERACTIVE_INTERVAL
            try:
                self._bar = tqdm_class(
                    total=self.total_epochs,
                    unit="epoch",
                    file=self.stream,
                    mininterval=self.INTERACTIVE_INTERVAL,
                    dynamic_ncols=True,
                    leave=True,
                )
            except _STREAM_ERRORS:
                self._disabled = True
        else:
            self._interactive = _is_interactive(self.stream)
            self.interval = self.INTERACTIVE_INTERVAL if self._interactive else self.LOG_INTERVAL
            if self._interactive:  # show the run has started; a log gets no empty line
                self._render(self._start, final=False)

    @property
    def uses_tqdm(self) -> bool:
        """Whether this display is a ``tqdm`` bar (else the plain line)."""
        return self._bar is not None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    def update(self, epochs_done: int, error: float, validation_error: float | None = None) -> None:
        """Record the state after ``epochs_done`` epochs in all (not a delta), with
        the last epoch's training ``error`` and, if there is one, the validation
        error; refresh the display unless it was refreshed less than
        :attr:`interval` seconds ago.  Never raises because of the stream."""
        self._epochs = epochs_done
        self._error = error
        self._validation_error = validation_error
        if self._closed or self._disabled:
            return
        now = self._clock()
        if now - self._last_refresh < self.interval:
            return
        self._last_refresh = now
        self._render(now, final=False)

    def close(self) -> None:
        """Show the last recorded state and end the display (the plain line with
        a newline).  Calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._disabled:
            self._close_bar()
            return
        self._render(self._clock(), final=True)
        self._close_bar()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "tqdm" if self.uses_tqdm else "plain"
        state = "closed" if self._closed else "open"
        return f"<Progress {kind} epoch {self._epochs}/{self.total_epochs} {state}>"

    # ------------------------------------------------------------------ display

    def _fields(self, now: float, final: bool) -> list[str]:
        """The parts of the display after the epoch count: errors, speed, time."""
        fields = []
        if self._error is not None:
            fields.append(f"error {format_error(self._error)}")
        if self._validation_error is not None:
            fields.append(f"val {format_error(self._validation_error)}")
        elapsed = now - self._start
        if self._epochs > 0 and elapsed > 0:
            rate = self._epochs * self.samples_per_epoch / elapsed
            fields.append(f"{format_rate(rate)} samples/s")
            if self._bar is None and not final:
                left = elapsed / self._epochs * max(0, self.total_epochs - self._epochs)
                fields.append(f"ETA {format_duration(left)}")
        if self._bar is None and final:
            fields.append(f"in {format_duration(elapsed)}")
        return fields

    def line(self, now: float | None = None, final: bool = False) -> str:
        """The plain display's text for the recorded state, at time ``now``
        (the clock's now by default); ``final`` shows the time taken, not left."""
        now = self._clock() if now is None else now
        fields = [f"epoch {self._epochs}/{self.total_epochs}", *self._fields(now, final)]
        return "  ".join(fields)

    def _render(self, now: float, final: bool) -> None:
        """Write the recorded state; on a stream error, turn the display off."""
        try:
            if self._bar is not None:
                self._render_bar(now, final)
            else:
                self._render_line(now, final)
        except _STREAM_ERRORS:
            self._disabled = True

    def _render_bar(self, now: float, final: bool) -> None:
        bar = self._bar
        bar.set_postfix_str(", ".join(self._fields(now, final=False)), refresh=False)
        delta = self._epochs - bar.n
        if delta:
            bar.update(delta)  # refreshes unless tqdm's own mininterval says not yet
        elif not final:  # new errors at the same epoch; the closing bar shows them anyway
            bar.refresh()

    def _render_line(self, now: float, final: bool) -> None:
        text = self.line(now, final)
        if self._interactive:
            shorter_by = self._line_length - len(text)
            self._line_length = len(text)
            if shorter_by <= 0:
                self.stream.write("\r" + text + ("\n" if final else ""))
            elif final:  # blank the longer line first: no trailing spaces in the last line
                self.stream.write("\r" + " " * (len(text) + shorter_by) + "\r" + text + "\n")
            else:  # rub out the end of the longer line
                self.stream.write("\r" + text + " " * shorter_by)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _close_bar(self) -> None:
        if self._bar is None:
            return
        try:
            self._bar.close()
        except _STREAM_ERRORS:
            self._bar.disable = True  # so that tqdm's __del__ does not try again
        self._disabled = True


def _tqdm_class(use_tqdm: bool | None) -> Any:
    """``tqdm.tqdm`` if ``use_tqdm`` asks for it (True) or allows it (None) and
    it can be imported; else None.  True without tqdm is an ImportError."""
    if use_tqdm is False:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        if use_tqdm:
            raise ImportError(
                f'the tqdm progress bar needs tqdm: pip install "{DISTRIBUTION}[progress]"'
            ) from None
        return None
    return tqdm


def make_progress(progress: object, total_epochs: int, samples_per_epoch: int) -> Progress | None:
    """The display ``train(progress=...)`` asks for: a :class:`Progress` on
    ``sys.stderr`` for True, None for False or None.

    Raises TypeError for anything but True, False (Python or NumPy booleans) and
    None; the check runs before training starts.
    """
    if progress is None:
        return None
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    if not progress:
        return None
    return Progress(total_epochs, samples_per_epoch)

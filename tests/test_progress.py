"""The progress display of ``train(progress=True)``: ``backprop._progress``.

The display is timed by a fake clock, so that the tests say exactly what is
shown when, and written into ``io.StringIO`` streams.
"""

from __future__ import annotations

import io
import re
import sys

import numpy as np
import pytest

from backprop._progress import (
    Progress,
    format_duration,
    format_error,
    format_rate,
    make_progress,
)
from backprop._version import DISTRIBUTION


class FakeClock:
    """A clock that only moves when a test says so."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class TTYStream(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class BrokenPipe(io.StringIO):
    """A stream whose every write fails as a closed pipe does."""

    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def plain(stream, clock, total=10, samples=100) -> Progress:
    return Progress(total, samples, stream=stream, use_tqdm=False, clock=clock)


# ----------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    "value, text",
    [(3.511e-05, "3.511e-05"), (4.2e-05, "4.2e-05"), (0.25, "0.25"), (0.123456, "0.1235")],
)
def test_format_error_keeps_four_significant_digits(value, text):
    assert format_error(value) == text
    assert format_error(np.float32(value)) == format_error(float(np.float32(value)))


@pytest.mark.parametrize(
    "value, text",
    [
        (1_234_567, "1.23M"),
        (950, "950"),
        (12_000, "12k"),
        (999.6, "1k"),  # rounds up into the next prefix, not "1e+03"
        (0.5, "0.5"),
        (2.5e9, "2.5G"),
    ],
)
def test_format_rate_uses_si_prefixes(value, text):
    assert format_rate(value) == text


@pytest.mark.parametrize(
    "seconds, text",
    [(7.4, "0:00:07"), (0, "0:00:00"), (3725, "1:02:05"), (100 * 3600, "100:00:00")],
)
def test_format_duration_is_hours_minutes_seconds(seconds, text):
    assert format_duration(seconds) == text


# -------------------------------------------------------------- plain display


def test_plain_line_shows_epoch_error_rate_and_eta(clock):
    stream = io.StringIO()
    progress = plain(stream, clock)
    assert not progress.uses_tqdm
    assert stream.getvalue() == ""  # a log gets no line before the first refresh
    clock.advance(1.0)
    progress.update(5, 3.511e-05)
    # 5 epochs of 100 samples in 1 s; 5 epochs left at 0.2 s each
    assert stream.getvalue() == "epoch 5/10  error 3.511e-05  500 samples/s  ETA 0:00:01\n"


def test_plain_line_shows_validation_error_only_when_given(clock):
    stream = io.StringIO()
    progress = plain(stream, clock, total=10_000, samples=1_230_000)
    clock.advance(1.0)
    progress.update(1, 3.511e-05, 4.2e-05)
    clock.advance(1.0)
    progress.update(2, 3.5e-05)
    first, second = stream.getvalue().splitlines()
    assert first == "epoch 1/10000  error 3.511e-05  val 4.2e-05  1.23M samples/s  ETA 2:46:39"
    assert "val" not in second


def test_plain_line_on_a_log_is_one_line_a_second_at_most(clock):
    stream = io.StringIO()
    progress = plain(stream, clock, total=1000)
    for epoch in range(1, 301):  # 3 s of updates every 10 ms
        clock.advance(0.01)
        progress.update(epoch, 1.0 / epoch)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert [line.split()[1] for line in lines] == ["100/1000", "200/1000", "300/1000"]


def test_plain_line_on_a_terminal_is_rewritten_ten_times_a_second_at_most(clock):
    stream = TTYStream()
    progress = plain(stream, clock, total=1000)
    assert stream.getvalue() == "\repoch 0/1000"  # the start shows at once
    for epoch in range(1, 101):  # 1 s of updates every 10 ms
        clock.advance(0.01)
        progress.update(epoch, 0.5)
    text = stream.getvalue()
    assert "\n" not in text
    assert text.count("\r") == 1 + 10
    progress.close()
    text = stream.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    assert text.rsplit("\r", 1)[1] == "epoch 100/1000  error 0.5  10k samples/s  in 0:00:01\n"


def test_shorter_line_rubs_out_the_longer_one(clock):
    stream = TTYStream()
    progress = plain(stream, clock)
    clock.advance(1.0)
    progress.update(1, 0.5, validation_error=0.123456)
    long_line = stream.getvalue().rsplit("\r", 1)[1]
    clock.advance(1.0)
    progress.update(2, 0.5)
    last = stream.getvalue().rsplit("\r", 1)[1]
    assert len(last) == len(long_line)
    assert last.rstrip() == "epoch 2/10  error 0.5  100 samples/s  ETA 0:00:08"


def test_updates_between_refreshes_are_only_recorded_and_close_shows_the_last(clock):
    stream = io.StringIO()
    progress = plain(stream, clock)
    for epoch in range(1, 11):
        clock.advance(0.05)
        progress.update(epoch, epoch / 100)
    assert stream.getvalue() == ""  # 0.5 s in all: under the log interval
    progress.close()
    assert stream.getvalue() == "epoch 10/10  error 0.1  2k samples/s  in 0:00:00\n"


def test_close_is_idempotent_and_ends_with_a_newline(clock):
    stream = io.StringIO()
    progress = plain(stream, clock)
    clock.advance(2.0)
    progress.update(4, 0.25)  # shown: the first refresh
    progress.close()
    text = stream.getvalue()
    assert text.endswith("\n")
    assert text.splitlines()[-1] == "epoch 4/10  error 0.25  200 samples/s  in 0:00:02"
    assert progress.closed
    progress.close()
    clock.advance(5.0)
    progress.update(10, 0.1)  # after close: recorded, never shown
    progress.close()
    assert stream.getvalue() == text


def test_close_before_any_update_shows_the_start(clock):
    stream = io.StringIO()
    plain(stream, clock).close()
    assert stream.getvalue() == "epoch 0/10  in 0:00:00\n"


def test_context_manager_closes(clock):
    stream = TTYStream()
    with plain(stream, clock) as progress:
        clock.advance(1.0)
        progress.update(10, 0.01)
    assert progress.closed
    assert stream.getvalue().endswith("epoch 10/10  error 0.01  1k samples/s  in 0:00:01\n")


def test_context_manager_closes_and_lets_the_exception_through(clock):
    stream = io.StringIO()
    with pytest.raises(KeyboardInterrupt), plain(stream, clock) as progress:
        progress.update(3, 0.5)
        raise KeyboardInterrupt
    assert progress.closed
    assert stream.getvalue().startswith("epoch 3/10  error 0.5")


def test_default_stream_is_stderr_at_construction(monkeypatch, clock):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    progress = Progress(10, 1, use_tqdm=False, clock=clock)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    progress.close()
    assert progress.stream is stream
    assert stream.getvalue().startswith("epoch 0/10")


def test_repr_names_the_kind_and_state(clock):
    progress = plain(io.StringIO(), clock)
    progress.update(3, 0.5)
    assert repr(progress) == "<Progress plain epoch 3/10 open>"


# ------------------------------------------------------------- broken streams


@pytest.mark.parametrize("use_tqdm", [False, True])
def test_stream_closed_before_the_start_does_not_raise(clock, use_tqdm):
    if use_tqdm:
        pytest.importorskip("tqdm")
    stream = TTYStream()
    stream.close()
    progress = Progress(10, 1, stream=stream, use_tqdm=use_tqdm, clock=clock)
    for epoch in range(1, 11):
        clock.advance(1.0)
        progress.update(epoch, 0.5, 0.6)
    progress.close()
    progress.close()
    assert progress.closed


@pytest.mark.parametrize("use_tqdm", [False, True])
@pytest.mark.parametrize("make_stream", [io.StringIO, TTYStream])
def test_stream_closed_during_training_does_not_raise(clock, use_tqdm, make_stream):
    if use_tqdm:
        pytest.importorskip("tqdm")
    stream = make_stream()
    progress = Progress(10, 1, stream=stream, use_tqdm=use_tqdm, clock=clock)
    clock.advance(1.0)
    progress.update(1, 0.5)
    stream.close()
    for epoch in range(2, 11):
        clock.advance(1.0)
        progress.update(epoch, 0.5)
    progress.close()
    assert progress.closed


def test_broken_pipe_turns_the_display_off(clock):
    stream = BrokenPipe()
    progress = plain(stream, clock)
    clock.advance(1.0)
    progress.update(1, 0.5)  # the write fails: the display turns itself off
    clock.advance(1.0)
    progress.update(2, 0.5)
    progress.close()
    assert progress.closed


# ---------------------------------------------------------------------- tqdm


def test_tqdm_bar_shows_epochs_errors_and_speed(clock):
    pytest.importorskip("tqdm")
    stream = io.StringIO()
    progress = Progress(10, 1000, stream=stream, use_tqdm=True, clock=clock)
    assert progress.uses_tqdm
    assert "0/10" in stream.getvalue()  # tqdm shows the start
    for epoch in range(1, 11):
        clock.advance(0.5)
        progress.update(epoch, 3.511e-05, 4.2e-05)
    progress.close()
    text = stream.getvalue()
    assert text.endswith("\n")
    last = text.rsplit("\r", 1)[1]
    assert "10/10" in last
    assert "epoch" in last
    assert "error 3.511e-05, val 4.2e-05, 2k samples/s" in last
    progress.close()
    assert stream.getvalue() == text


def test_tqdm_bar_is_used_when_importable(clock):
    pytest.importorskip("tqdm")
    progress = Progress(10, 1, stream=io.StringIO(), clock=clock)
    assert progress.uses_tqdm
    progress.close()


def test_tqdm_bar_counts_epochs_not_calls(clock):
    pytest.importorskip("tqdm")
    progress = Progress(100, 1, stream=io.StringIO(), use_tqdm=True, clock=clock)
    for epochs in (7, 30, 31, 90):
        clock.advance(1.0)
        progress.update(epochs, 0.5)
    assert progress._bar.n == 90
    clock.advance(0.01)  # under the refresh interval: recorded, shown at close
    progress.update(95, 0.4)
    assert progress._bar.n == 90
    progress.close()
    assert progress._bar.n == 95
    assert "error 0.4" in progress.stream.getvalue().rsplit("\r", 1)[1]


def test_without_tqdm_the_plain_line_is_used(monkeypatch, clock):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails
    stream = io.StringIO()
    progress = Progress(10, 1, stream=stream, clock=clock)
    assert not progress.uses_tqdm
    progress.close()
    assert stream.getvalue().startswith("epoch 0/10")
    hint = f'pip install "{DISTRIBUTION}[progress]"'  # the distribution's name, not backprop
    with pytest.raises(ImportError, match=re.escape(hint)):
        Progress(10, 1, stream=stream, use_tqdm=True, clock=clock)


# -------------------------------------------------------------- make_progress


@pytest.mark.parametrize("off", [False, None, np.False_])
def test_make_progress_off_is_none(off):
    assert make_progress(off, 10, 100) is None


@pytest.mark.parametrize("on", [True, np.True_])
def test_make_progress_on_writes_to_stderr(capsys, on):
    progress = make_progress(on, 10, 100)
    assert isinstance(progress, Progress)
    assert (progress.total_epochs, progress.samples_per_epoch) == (10, 100)
    progress.update(10, 0.5)
    progress.close()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "10/10" in captured.err


@pytest.mark.parametrize("bad", ["yes", 1, 0, 1.0, "", [True]])
def test_make_progress_rejects_anything_but_true_or_false(bad):
    with pytest.raises(TypeError, match="progress must be True or False, got"):
        make_progress(bad, 10, 100)

"""Ctrl-C in loops of Python code: a look for signals that cannot be lost.

CPython runs a signal's Python handler when the main thread's evaluation loop
notices the signal, through a flag that other threads recompute too; up to
Python 3.12 a thread that cannot handle signals (any but the main one) could
clear it, so that a main thread busy in Python code (the pure-Python twin, a
loop between engine calls) ran on without ever running the handler (see the
review of CPython's gh-109369; a test's timer thread that sends SIGINT is
enough).  Setting a signal's handler first runs the handlers of the signals that
have arrived, so setting SIGINT's own handler again is a look that does not
depend on that flag.  It costs a system call: the loops call :func:`poll`,
which looks at most every few milliseconds.

:func:`held` keeps Ctrl-C out of short blocks that take locks (submitting work
to a thread pool), where an exception would leave a lock taken.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: Seconds between two looks.
INTERVAL = 0.005

_next = 0.0


def look() -> None:
    """Run the Python handlers of the signals that have arrived (a handler's
    exception, ``KeyboardInterrupt`` for Ctrl-C, propagates), in the main thread;
    elsewhere nothing."""
    if threading.current_thread() is not threading.main_thread():
        return
    handler = signal.getsignal(signal.SIGINT)
    if handler is not None:  # None: a handler not set from Python, left alone
        signal.signal(signal.SIGINT, handler)


def poll() -> None:
    """:func:`look`, if the last look was at least :data:`INTERVAL` ago."""
    global _next
    now = time.perf_counter()
    if now >= _next:
        _next = now + INTERVAL
        look()


@contextmanager
def held() -> Iterator[None]:
    """Hold SIGINT in the main thread while a short block that takes locks runs
    (submitting work to a thread pool), then run its handler if it arrived.

    An exception that a signal handler raises between a lock's acquisition and
    the cleanup that releases it (``with lock:``) leaves the lock taken for good:
    a pool's worker then waits on it forever, and so does the main thread that
    waits for the workers.  Elsewhere than in the main thread, or when SIGINT's
    handler was not set from Python, the block runs as it is."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is None
    ):
        yield
        return
    arrived: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: arrived.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if arrived:
            signal.raise_signal(signal.SIGINT)

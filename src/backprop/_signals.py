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
"""

from __future__ import annotations

import signal
import threading
import time

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

"""Work that can wait yields the CPU to work that cannot.

The server's event loop forwards media and answers ICE consent checks: when it waits for a
CPU, datagrams pile up in the kernel and connections die. Its worker threads (the composite,
the recorders, the decoders for the taps, the livestream) only lose frames or latency when
they wait. On Linux a thread's nice value is its own (``setpriority`` with its thread id),
and threads a native library starts inherit it from the thread that starts them, so a worker
lowers itself first thing in its ``run`` and its codec threads follow.

Raising a nice value needs no privilege; lowering it back would, so it is never undone.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)

#: How much lower than the event loop a worker thread runs: the CFS weight of nice 5 is
#: 335 against nice 0's 1024, so under contention the loop gets about three times the
#: CPU a worker does, and an idle loop leaves the workers everything.
WORKER_NICE = 5


def lower_this_thread(by: int = WORKER_NICE) -> bool:
    """Raise the calling thread's nice value by ``by``; False where that is not possible."""
    if by <= 0:
        return False
    if not hasattr(os, "setpriority"):
        return False
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + by))
    except OSError as exc:  # a sandbox may forbid it; the thread still works
        log.debug("could not lower thread %s's priority: %s", tid, exc)
        return False
    return True

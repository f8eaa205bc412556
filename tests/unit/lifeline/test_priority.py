"""A worker thread lowers its own priority, and only its own: the event loop's thread (here
the test's) keeps its nice value, and threads the worker starts inherit the worker's."""

from __future__ import annotations

import os
import threading

from lifeline.priority import WORKER_NICE, lower_this_thread


def _nice_of(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


def test_a_worker_lowers_itself_and_its_children_not_the_loop() -> None:
    main_before = _nice_of(threading.get_native_id())
    seen: dict[str, int] = {}

    def child() -> None:
        seen["child"] = _nice_of(threading.get_native_id())

    def worker() -> None:
        seen["lowered"] = lower_this_thread()
        seen["worker"] = _nice_of(threading.get_native_id())
        started = threading.Thread(target=child)
        started.start()
        started.join()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["lowered"] is True
    assert seen["worker"] == min(19, main_before + WORKER_NICE)
    assert seen["child"] == seen["worker"]  # a codec's threads follow the worker
    assert _nice_of(threading.get_native_id()) == main_before


def test_nothing_to_lower() -> None:
    before = _nice_of(threading.get_native_id())
    assert lower_this_thread(0) is False
    assert _nice_of(threading.get_native_id()) == before

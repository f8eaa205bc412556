"""The face worker process dies with its parent, even a parent killed by SIGKILL
(lifeline.guard is the first thing it runs, as for the transcription engine's child)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

PARENT = """
import asyncio, sys
from facekit import FaceWorker

async def main():
    worker = FaceWorker()
    await worker.start()
    print(worker.pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_worker_exits_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert child != parent.pid and _alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        t0 = time.monotonic()
        while _alive(child) and time.monotonic() - t0 < 5:
            time.sleep(0.02)
        assert not _alive(child), "the face worker outlived its SIGKILLed parent"
        print(f"face worker gone {1000 * (time.monotonic() - t0):.0f} ms after its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()

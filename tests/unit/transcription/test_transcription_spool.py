from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from transcription.spool import SpillQueue, SpoolReadError
from transcription.vad import Utterance


def spooled(folder: Path) -> list[Path]:
    return list(folder.rglob("*.f32"))


def utt(i: int) -> Utterance:
    return Utterance(i, i * 1000, np.full(1000 + i, i, dtype=np.float32))


async def test_order_kept_memory_bounded_nothing_lost(tmp_path: Path) -> None:
    q = SpillQueue(max_in_memory=2, spool_dir=tmp_path)
    for i in range(1, 8):
        q.put_nowait(utt(i))
    assert q.spilled == 5 and len(q) == 7 and q.max_depth == 7
    assert len(spooled(tmp_path)) == 5
    q.close()
    got = []
    while (u := await q.get()) is not None:
        got.append(u)
    assert [u.segment_id for u in got] == list(range(1, 8))
    for u in got:
        assert np.array_equal(u.samples, utt(u.segment_id).samples)
        assert u.start_sample == u.segment_id * 1000
    assert not spooled(tmp_path)


async def test_get_waits_for_put_and_ends_on_close() -> None:
    q = SpillQueue(1)
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.put_nowait(utt(1))
    assert (await waiter) is not None
    q.close()
    assert await q.get() is None
    with pytest.raises(RuntimeError):
        q.put_nowait(utt(2))


async def test_unreadable_spool_is_reported(tmp_path: Path) -> None:
    q = SpillQueue(1, spool_dir=tmp_path)
    q.put_nowait(utt(1))
    q.put_nowait(utt(2))
    for f in spooled(tmp_path):
        f.write_bytes(b"\0\0")
    assert (await q.get()) is not None
    with pytest.raises(SpoolReadError) as err:
        await q.get()
    assert err.value.segment_id == 2 and err.value.n_samples == 1002


async def test_discard_removes_the_spool(tmp_path: Path) -> None:
    q = SpillQueue(1, spool_dir=tmp_path)
    for i in range(3):
        q.put_nowait(utt(i))
    q.discard()
    assert not spooled(tmp_path) and len(q) == 0

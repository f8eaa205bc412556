"""A recording whose writer was killed (SIGKILL, mid-segment) is closed by the next server:
its intact entries kept, the torn last line cut, a final 'recording_stopped' marked
interrupted appended and signed, and then it verifies (the unfinished segment only warned
about). A recording still being written, or whose entries do not chain, is left alone."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from recording import (
    ProblemKind,
    RecordingSession,
    Severity,
    close_interrupted,
    load_or_create_signing_key,
    verify_recording,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    import recording_media as rm
    from recording import RecordingSession, load_or_create_signing_key

    async def main(root):
        key = load_or_create_signing_key(root / "recording.key")
        s = RecordingSession(root / "recordings", "hearing1", signing_key=key)
        await s.start()
        frames = rm.as_frames(rm.encode_audio("opus"), pid="party",
                              mono_start=s.clock.mono_start, offset=0.4, rtp_base=1000)
        source = rm.FrameSource(frames)
        source.limit = 1100  # 22 s: two segments listed, the third one open
        await s.add_track("party", "audio", "张三", "party", source)
        manifest = s.directory / "manifest.jsonl"
        while manifest.read_text().count('"type":"segment"') < 2:
            await asyncio.sleep(0.05)
        while not list(s.directory.rglob("*.part")):
            await asyncio.sleep(0.05)
        print(s.directory, flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main(Path(sys.argv[1])))
    """
)


def _killed_mid_recording(root: Path) -> Path:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE), str(REPO / "tests")])}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(root)], stdout=subprocess.PIPE, cwd=REPO, env=env
    )
    try:
        assert child.stdout is not None
        directory = Path(child.stdout.readline().decode().strip())
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return directory


def test_a_killed_recording_is_closed_and_then_verifies(tmp_path: Path) -> None:
    directory = _killed_mid_recording(tmp_path)
    manifest = directory / "manifest.jsonl"
    before = manifest.read_bytes()
    with manifest.open("ab") as fh:
        fh.write(b'{"seq":99,"type":"segm')  # the entry being written when it died
    problems = verify_recording(directory)
    assert ProblemKind.NOT_FINALIZED in {p.kind for p in problems}

    key = load_or_create_signing_key(tmp_path / "recording.key")
    detected = datetime.now(UTC)
    result = close_interrupted(directory, key, detected_at=detected, continued_in="rec-next")
    assert result.closed, result
    assert [Path(f).suffix for f in result.unfinished_files] == [".part"]
    after = manifest.read_bytes()
    assert after.startswith(before)  # every intact entry kept as it was; the torn one cut
    lines = [json.loads(line) for line in after.decode().splitlines()]
    last = lines[-1]
    assert last["type"] == "recording_stopped" and last["seq"] == len(lines)
    assert last["data"]["interrupted"] is True and last["data"]["continued_in"] == "rec-next"
    assert last["data"]["stopped_at"] == lines[-2]["at"] == result.ended_at
    assert last["data"]["segments"] == 2 and last["data"]["tracks"] == 1
    assert last["data"]["unfinished_files"] == list(result.unfinished_files)

    problems = verify_recording(directory)
    assert all(p.severity is Severity.WARNING for p in problems), problems
    assert {p.kind for p in problems} == {ProblemKind.UNFINISHED_SEGMENT}
    sig = json.loads((directory / "manifest.sig").read_text())
    assert sig["final"] is True and sig["entries"] == len(lines)

    again = close_interrupted(directory, key, detected_at=detected, continued_in="rec-other")
    assert not again.closed and again.reason == "already final"


def test_a_recording_still_being_written_is_left_alone(tmp_path: Path) -> None:
    async def run() -> None:
        key = load_or_create_signing_key(tmp_path / "recording.key")
        session = RecordingSession(tmp_path / "recordings", "hearing1", signing_key=key)
        await session.start()
        try:
            before = (session.directory / "manifest.jsonl").read_bytes()
            result = close_interrupted(
                session.directory, key, detected_at=datetime.now(UTC), continued_in=None
            )
            assert not result.closed and "live process" in result.reason
            assert (session.directory / "manifest.jsonl").read_bytes() == before
        finally:
            summary = await session.stop()
        assert summary.signed

    asyncio.run(run())


def test_a_recording_whose_entries_do_not_chain_is_left_alone(tmp_path: Path) -> None:
    directory = _killed_mid_recording(tmp_path)
    manifest = directory / "manifest.jsonl"
    lines = manifest.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"party"', b'"other"', 1)  # edited
    manifest.write_bytes(b"".join(lines))
    key = load_or_create_signing_key(tmp_path / "recording.key")
    result = close_interrupted(directory, key, detected_at=datetime.now(UTC), continued_in=None)
    assert not result.closed and "does not chain" in result.reason
    assert manifest.read_bytes() == b"".join(lines)

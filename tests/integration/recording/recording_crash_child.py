"""Run by test_recording_crash in its own process: records VP8 video and Opus audio in real
time with 1-second segments until the test kills it with SIGKILL.

Usage: python recording_crash_child.py ROOT KEY_FILE
Prints the recording directory on its first line once recording has started.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import recording_media as rm

from recording import RecordingOptions, RecordingSession, load_or_create_signing_key


async def main(root: Path, key_file: Path) -> None:
    video = rm.encode_video("vp8", gop_seconds=1.0)
    audio = rm.encode_audio("opus")
    session = RecordingSession(
        root,
        "crashing-hearing",
        signing_key=load_or_create_signing_key(key_file),
        options=RecordingOptions(segment_seconds=1.0),
    )
    await session.start()
    assert session.clock is not None
    ms = session.clock.mono_start
    v = rm.FrameSource(rm.as_frames(video, pid="p1", mono_start=ms, offset=0.1), realtime=True)
    a = rm.FrameSource(rm.as_frames(audio, pid="p1", mono_start=ms, offset=0.1), realtime=True)
    await session.add_track("p1", "video", "Witness", "witness", v)
    await session.add_track("p1", "audio", "Witness", "witness", a)
    print(session.directory, flush=True)
    await asyncio.sleep(3600)  # until killed


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))

"""Where a stopped stream's replay lives on disk.

After the stop, the replay (``replay.m3u8``, the courtroom segments it lists and their WebVTT)
sits in ``kept/``, which nothing serves from disk, or, while the judge allows it, in
``public/``, the one directory a web server may serve from disk (docs/livestream.md, nginx).
Moving it between them is one directory rename: atomic, nothing copied, never half public.
Callers hold the stream's lock and call these only while no stream of that root runs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PUBLIC = "public"
KEPT = "kept"
WITHHELD = "withheld"
REPLAY_PLAYLIST = "replay.m3u8"


def publish_replay(root: Path) -> bool:
    """Put the kept replay where it may be served from disk; False if there is none."""
    kept = root / KEPT
    if not kept.is_dir():
        return False
    public = root / PUBLIC
    if public.exists():
        # A stopped stream's public/ holds nothing but a replay; anything else is a leftover
        # (a crash mid-stream) that must not be published with it.
        shutil.rmtree(public)
    os.replace(kept, public)
    return True


def withhold_replay(root: Path) -> None:
    """Take whatever is in ``public/`` out of the served directory (into ``kept/``)."""
    public = root / PUBLIC
    if not public.is_dir():
        return
    kept = root / KEPT
    if kept.exists():
        shutil.rmtree(kept)
    os.replace(public, kept)


def replay_dir(root: Path) -> Path | None:
    """The directory holding the stopped stream's replay, wherever it is now."""
    for name in (PUBLIC, KEPT):
        if (root / name / REPLAY_PLAYLIST).is_file():
            return root / name
    return None


def tidy_stopped(root: Path, *, allowed: bool) -> None:
    """For a stream that is not running (at start-up, after a crash or an older layout):
    ``withheld/`` goes; ``public/`` keeps only an allowed replay's files, else it is kept
    out of reach."""
    if (root / WITHHELD).exists():
        shutil.rmtree(root / WITHHELD)
    public = root / PUBLIC
    playlist = public / REPLAY_PLAYLIST
    if not public.is_dir():
        if allowed:
            publish_replay(root)
        return
    if not allowed or not playlist.is_file():
        withhold_replay(root)
        return
    listed = {
        line
        for line in playlist.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    listed |= {name.rsplit(".", 1)[0] + ".vtt" for name in listed}
    listed.add(REPLAY_PLAYLIST)
    for path in public.iterdir():
        if path.name not in listed:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()

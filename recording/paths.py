"""Names that become path components, and the layout of a recording directory.

```
<root>/<hearing_id>/<recording_id>/
    manifest.jsonl          hash-chained entries, one JSON object per line
    manifest.sig            Ed25519 signature over the chain's head (checkpoint or final)
    public_key.pem          the signing key's public half
    t001-audio-<pid>/00001.webm, 00002.webm, ...    one directory per recorded track
    t002-video-<pid>/00001.webm (VP8) or .mkv (H.264)
    t003-composite/00001.mp4                        the courtroom composite (H.264 + audio)
```
A file still being written ends in ``.part``.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_PID_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def is_safe_name(name: str) -> bool:
    """A single path component we create: letters, digits, ``._-``, not starting with a
    dot or dash, at most 128 characters (so never ``..``, never a separator)."""
    return bool(_SAFE.fullmatch(name)) and ".." not in name


def check_safe_name(what: str, name: str) -> str:
    if not isinstance(name, str) or not is_safe_name(name):
        raise ValueError(f"{what} {name!r} cannot be used as a directory name")
    return name


def track_key(number: int, kind: str, pid: str | None) -> str:
    """``t001-video-<pid>``: unique per recording (the number), readable (the pid)."""
    if pid is None:
        return f"t{number:03d}-{kind}"
    safe = _PID_CHARS.sub("_", pid)[:48] or "x"
    return f"t{number:03d}-{kind}-{safe}"


def is_safe_relative_path(rel: str) -> bool:
    """A relative POSIX path without ``.``/``..``/empty parts, backslashes or NUL."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        return False
    p = PurePosixPath(rel)
    return not p.is_absolute() and all(part not in ("", ".", "..") for part in rel.split("/"))

"""``hearing-server face-match ENROL PROBE`` and ``face-match ENROL --video CLIP``.

One JSON line on standard output::

    {"decision": "same"|"different"|"no_face"|"multiple_faces",
     "distance": float|null, "threshold": float}

and with ``--video``, judged through the same frame pipeline and challenge judge as the live
check: ``"liveness": "passed"|"failed", "liveness_reason": str`` (and the challenges asked).
Exit 0 for every decision; 2 when a file cannot be read (or for a usage error).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

import av

from .check import FaceCheck, run_check
from .engine import Analysis, analyse_photo
from .images import ImageProblem, load_image
from .liveness import new_challenges, parse_challenges
from .matcher import DEFAULT_THRESHOLD, Decision, Matcher, MatchResult, check_threshold
from .video import aiter_frames
from .worker import FaceWorker

MAX_FILE_BYTES = 50 * 1024 * 1024  # a photo given on the command line


class Unreadable(Exception):
    pass


def _read_photo(path: str) -> Analysis:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise Unreadable(f"{path}: {exc.strerror or exc}") from None
    try:
        rgb = load_image(data, max_bytes=MAX_FILE_BYTES, formats=None)
    except ImageProblem as exc:
        raise Unreadable(f"{path}: {exc.message}") from None
    return analyse_photo(rgb)


def _not_one(analysis: Analysis, threshold: float, which: str) -> dict[str, Any] | None:
    if analysis.faces == 1:
        return None
    decision = Decision.NO_FACE if analysis.faces == 0 else Decision.MULTIPLE_FACES
    return {**MatchResult(decision, None, threshold).to_json(), "in": which}


def match_photos(enrol: str, probe: str, threshold: float) -> dict[str, Any]:
    reference = _read_photo(enrol)
    found = _not_one(reference, threshold, "enrol")
    if found is not None:
        return found
    assert reference.encoding is not None
    probed = _read_photo(probe)
    return Matcher(threshold).match(reference.encoding, probed).to_json()


async def match_video(
    enrol: str, clip: str, threshold: float, challenges: str | None, fps: float
) -> dict[str, Any]:
    reference = _read_photo(enrol)
    found = _not_one(reference, threshold, "enrol")
    if found is not None:
        return {**found, "liveness": "failed", "liveness_reason": "no_reference"}
    assert reference.encoding is not None
    sequence = parse_challenges(challenges) if challenges else new_challenges()
    check = FaceCheck(reference.encoding, sequence, threshold)
    worker = FaceWorker(nice=0)
    try:
        try:
            result = await run_check(check, aiter_frames(clip, fps), worker.analyse)
        except (OSError, ValueError, av.error.FFmpegError) as exc:
            raise Unreadable(f"{clip}: {exc}") from None
    finally:
        await worker.aclose()
    return result.to_json()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hearing-server face-match",
        description="Compare a face with a reference photo (and judge liveness in a video).",
    )
    parser.add_argument("enrol", help="the reference photo (one face)")
    parser.add_argument("probe", nargs="?", help="a photo to compare with it")
    parser.add_argument("--video", help="a clip (any format PyAV reads, y4m included)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument(
        "--challenges",
        help="with --video: the challenges the clip answers, in order, e.g. "
        "blink,turn_left,turn_right (default: a random order, as the live check picks)",
    )
    parser.add_argument("--fps", type=float, default=8.0, help="frames analysed per second")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.probe is None) == (args.video is None):
        parser.error("give either PROBE or --video CLIP")
    try:
        threshold = check_threshold(args.threshold)
        if args.challenges:
            parse_challenges(args.challenges)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        if args.video is None:
            out = match_photos(args.enrol, args.probe, threshold)
        else:
            out = asyncio.run(
                match_video(args.enrol, args.video, threshold, args.challenges, args.fps)
            )
    except Unreadable as exc:
        print(f"face-match: cannot read {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0

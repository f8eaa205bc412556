"""One face check: face match and liveness judged together from the frames of one camera.

The same frames feed both: each frame's landmarks go to the liveness judge, and every
``encode_every_s`` (``then_every_s`` once the decision has its first encodings) a frame facing
the camera is also encoded and compared with the reference.
The face decision is the median distance of those encodings, so the face that did the
challenges is the face that was matched, and one blurred frame decides nothing. Pure: the
frames' analyses and their times come in from the caller (the live check in the server, the
``face-match --video`` command), who runs the analysis in the face worker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from .engine import Analysis, Encoding
from .images import RGB
from .liveness import Challenge, LivenessJudge, LivenessSettings
from .matcher import DEFAULT_THRESHOLD, Decision, Matcher, MatchResult, distance

MIN_ENCODINGS = 3  # frames matched before a face decision is made


@dataclass(frozen=True, slots=True)
class CheckResult:
    match: MatchResult
    liveness_passed: bool
    liveness_reason: str
    challenges: tuple[Challenge, ...]
    frames: int
    encoded: int
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {
            **self.match.to_json(),
            "liveness": "passed" if self.liveness_passed else "failed",
            "liveness_reason": self.liveness_reason,
            "challenges": [c.value for c in self.challenges],
            "frames": self.frames,
            "encoded_frames": self.encoded,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class FaceCheck:
    reference: Encoding
    challenges: tuple[Challenge, ...]
    threshold: float = DEFAULT_THRESHOLD
    settings: LivenessSettings = field(default_factory=LivenessSettings)
    encode_every_s: float = 0.5
    # Once the decision has its MIN_ENCODINGS, further encodings only keep watching that the
    # face doing the challenges is still the one matched: an encoding costs about four times
    # the landmarks liveness needs, so on a busy machine they must not crowd those out.
    then_every_s: float = 1.5
    judge: LivenessJudge = field(init=False)
    distances: list[float] = field(default_factory=list)
    frames: int = 0
    multiple_faces: int = 0
    _last_encoded: float | None = None
    _frontal: bool = True  # the last frame faced the camera
    _first: float | None = None
    _last: float | None = None

    def __post_init__(self) -> None:
        self.judge = LivenessJudge(self.challenges, self.settings)
        self._matcher = Matcher(self.threshold)

    def wants_encoding(self, t: float) -> bool:
        """Encode this frame? Every ``encode_every_s``, while the face looks at the camera
        (a turned face matches worse, and says nothing the frontal ones do not)."""
        if not self._frontal:
            return False
        every = self.encode_every_s if len(self.distances) < MIN_ENCODINGS else self.then_every_s
        return self._last_encoded is None or t - self._last_encoded >= every

    def finished(self) -> bool:
        if self.judge.failed and self.judge.reason != "wrong_motion":
            return True
        # A wrong motion ends liveness early, maybe before the face decision has its encodings:
        # they are still taken (while the frames last), so that neither one frame decides the
        # face nor a participant who turned the wrong way is told no face was seen.
        return self.judge.done and len(self.distances) >= MIN_ENCODINGS

    def tick(self, t: float) -> None:
        if self._first is None:
            self._first = t
        self._last = t
        self.judge.tick(t)

    def feed(self, t: float, analysis: Analysis) -> bool:
        """One analysed frame. Returns True when the participant's progress changed."""
        self.tick(t)
        self.frames += 1
        before = self.judge.step, self.judge.done
        if analysis.faces > 1:
            self.multiple_faces += 1
        if analysis.landmarks is not None:
            self._frontal = self.judge.is_frontal(analysis.landmarks)
        self.judge.feed(t, analysis.faces, analysis.landmarks)
        if analysis.encoding is not None:
            self._last_encoded = t
            self.distances.append(distance(self.reference, analysis.encoding))
        return (self.judge.step, self.judge.done) != before

    def progress(self, t: float) -> dict[str, object]:
        deadline = self.judge.deadline()
        return {
            **self.judge.progress(),
            "seconds_left": None if deadline is None else max(0.0, round(deadline - t, 1)),
            "face_seen": bool(self.distances),
        }

    def result(self) -> CheckResult:
        if not self.judge.done:
            self.judge.fail("incomplete" if self.frames else "no_frames")
        median = float(np.median(self.distances)) if self.distances else None
        if self.multiple_faces:
            # Someone else in the picture: never "same", whatever the median says.
            match = MatchResult(Decision.MULTIPLE_FACES, median, self.threshold)
        elif median is None:
            match = MatchResult(Decision.NO_FACE, None, self.threshold)
        else:
            match = MatchResult(self._matcher.decide(median), median, self.threshold)
        seconds = 0.0 if self._first is None or self._last is None else self._last - self._first
        return CheckResult(
            match=match,
            liveness_passed=self.judge.passed,
            liveness_reason=self.judge.reason or "passed",
            challenges=self.challenges,
            frames=self.frames,
            encoded=len(self.distances),
            seconds=seconds,
        )


Analyse = Callable[[RGB, bool], Awaitable[Analysis]]
OnProgress = Callable[[dict[str, object]], Awaitable[None]]


async def run_check(
    check: FaceCheck,
    frames: AsyncIterator[tuple[float, RGB]],
    analyse: Analyse,
    on_progress: OnProgress | None = None,
    *,
    now: Callable[[], float] | None = None,
) -> CheckResult:
    """Analyse ``frames`` (time in seconds, RGB) until the check is decided or they end.

    ``analyse(rgb, encode)`` runs in the face worker. The caller bounds the time (the live
    check stops its frames at the judge's deadline)."""
    async for t, rgb in frames:
        check.tick(t)
        if check.finished():
            break
        analysis = await analyse(rgb, check.wants_encoding(t))
        if check.feed(t, analysis) and on_progress is not None:
            await on_progress(check.progress(t))
        if check.finished():
            break
    if now is not None:
        check.tick(now())
    return check.result()

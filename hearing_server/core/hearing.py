"""The hearing (conference) and its state machine."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from .errors import InvalidTransition, ValidationError


class HearingKind(StrEnum):
    """A court hearing or a mediation session; some actions exist in only one kind."""

    HEARING = "hearing"
    MEDIATION = "mediation"


class Visibility(StrEnum):
    """Who may watch: public hearings may be livestreamed, closed and sealed ones never."""

    PUBLIC = "public"
    CLOSED = "closed"
    SEALED = "sealed"


class HearingState(StrEnum):
    """Where a hearing is in its life (docs/domain.md "Hearing states")."""

    SCHEDULED = "scheduled"
    OPEN = "open"
    IN_SESSION = "in_session"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    ADJOURNED = "adjourned"
    CLOSED = "closed"


class HearingAction(StrEnum):
    """Actions that move a hearing between states."""

    OPEN = "open"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    SUSPEND = "suspend"
    ADJOURN = "adjourn"
    CLOSE = "close"


# (from state, action) -> to state. Anything absent is an invalid transition.
TRANSITIONS: dict[tuple[HearingState, HearingAction], HearingState] = {
    (HearingState.SCHEDULED, HearingAction.OPEN): HearingState.OPEN,
    (HearingState.SCHEDULED, HearingAction.CLOSE): HearingState.CLOSED,
    (HearingState.OPEN, HearingAction.START): HearingState.IN_SESSION,
    (HearingState.OPEN, HearingAction.CLOSE): HearingState.CLOSED,
    (HearingState.IN_SESSION, HearingAction.PAUSE): HearingState.PAUSED,
    (HearingState.IN_SESSION, HearingAction.SUSPEND): HearingState.SUSPENDED,
    (HearingState.IN_SESSION, HearingAction.ADJOURN): HearingState.ADJOURNED,
    (HearingState.IN_SESSION, HearingAction.CLOSE): HearingState.CLOSED,
    (HearingState.PAUSED, HearingAction.RESUME): HearingState.IN_SESSION,
    (HearingState.PAUSED, HearingAction.CLOSE): HearingState.CLOSED,
    (HearingState.SUSPENDED, HearingAction.RESUME): HearingState.IN_SESSION,
    (HearingState.SUSPENDED, HearingAction.CLOSE): HearingState.CLOSED,
}

TERMINAL_STATES = frozenset({HearingState.CLOSED, HearingState.ADJOURNED})


class Layout(StrEnum):
    """How the courtroom display composes the hearing room; the presiding judge chooses."""

    JUDGE_FOCUS = "judge_focus"
    GRID = "grid"
    SPEAKER_FOLLOW = "speaker_follow"


LAYOUTS = tuple(layout.value for layout in Layout)

# Chinese court case numbers look like "(2026)京0105民初12345号", with ASCII or full-width
# parentheses (written as escapes, \uff08 \uff09, so they stay visible); we also accept plain
# alphanumeric docket numbers such as "CV-2026-000123". Both: 3..64 chars, no control chars.
_CASE_NUMBER = re.compile(r"^[\w()\uff08\uff09\-/.#\u4e00-\u9fff ]{3,64}$")


def validate_case_number(value: str) -> str:
    """Return the normalised (stripped) case number or raise :class:`ValidationError`."""
    # Checked before stripping: str.strip() silently eats trailing control characters such as
    # "\x1f" or "\x85", which would otherwise let them through into logs and documents.
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        raise ValidationError(f"invalid case number: {value!r}", code="invalid_case_number")
    v = value.strip()
    if not _CASE_NUMBER.fullmatch(v) or not any(ch.isdigit() for ch in v):
        raise ValidationError(f"invalid case number: {value!r}", code="invalid_case_number")
    return v


def _require_aware(name: str, value: datetime | None) -> None:
    # Naive datetimes are ambiguous across the courtroom, the server and remote parties.
    if value is not None and value.tzinfo is None:
        raise ValidationError(f"{name} must carry a timezone", code="invalid_date")


HEARING_LANGUAGES = ("zh-CN", "en", "auto")
"""The language of a hearing's captions and transcript: Mandarin, English, or detected per
utterance. None (unset): the server's ``transcription_language``."""


@dataclass(frozen=True, slots=True)
class Hearing:
    """A scheduled hearing or mediation session. Immutable: transitions return a new value."""

    id: str
    kind: HearingKind
    case_number: str
    court: str
    title: str
    scheduled_start: datetime
    scheduled_end: datetime
    visibility: Visibility = Visibility.PUBLIC
    state: HearingState = HearingState.SCHEDULED
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    next_sitting_id: str | None = None
    created_at: datetime | None = None
    layout: str = "judge_focus"
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_aware("scheduled_start", self.scheduled_start)
        _require_aware("scheduled_end", self.scheduled_end)
        _require_aware("actual_start", self.actual_start)
        _require_aware("actual_end", self.actual_end)
        _require_aware("created_at", self.created_at)
        if self.scheduled_end <= self.scheduled_start:
            raise ValidationError(
                "scheduled_end must be after scheduled_start", code="invalid_date"
            )
        if not self.court.strip() or not self.title.strip():
            raise ValidationError("court and title must not be empty")
        if len(self.title) > 200 or len(self.court) > 200:
            raise ValidationError("court and title are at most 200 characters")
        # Frozen, so the normalised value has to be written past __setattr__.
        object.__setattr__(self, "case_number", validate_case_number(self.case_number))
        if self.extra.get("language") not in (None, *HEARING_LANGUAGES):
            raise ValidationError(f"language must be one of {', '.join(HEARING_LANGUAGES)}",
                                  code="invalid_field")

    @property
    def language(self) -> str | None:
        """Language of captions and transcript (one of :data:`HEARING_LANGUAGES`), or None:
        the server's default. Kept in ``extra`` so the stores need no new column."""
        return self.extra.get("language")

    def with_language(self, language: str | None) -> Hearing:
        """A copy with ``language`` set (None: back to the server's default)."""
        extra = {k: v for k, v in self.extra.items() if k != "language"}
        if language is not None:
            extra["language"] = language
        return replace(self, extra=extra)

    @property
    def is_terminal(self) -> bool:
        """True once the hearing is closed or adjourned: readable, but nobody may join."""
        return self.state in TERMINAL_STATES

    def can(self, action: HearingAction) -> bool:
        """True if ``action`` is a valid transition from the current state."""
        return (self.state, action) in TRANSITIONS

    def apply(
        self, action: HearingAction, now: datetime, *, next_sitting_id: str | None = None
    ) -> Hearing:
        """Return the hearing after ``action`` or raise :class:`InvalidTransition`.

        The first move into ``in_session`` stamps ``actual_start``; closing or adjourning
        stamps ``actual_end``. ``now`` must carry a timezone.
        """
        _require_aware("now", now)
        target = TRANSITIONS.get((self.state, action))
        if target is None:
            raise InvalidTransition(f"cannot {action.value} a hearing that is {self.state.value}")
        changes: dict[str, object] = {"state": target}
        if target is HearingState.IN_SESSION and self.actual_start is None:
            changes["actual_start"] = now
        if target in TERMINAL_STATES:
            changes["actual_end"] = now
        if action is HearingAction.ADJOURN:
            changes["next_sitting_id"] = next_sitting_id
        return replace(self, **changes)  # type: ignore[arg-type]

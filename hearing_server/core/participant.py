"""Participants, their roles and their state machine."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from .errors import InvalidTransition, ValidationError


class Role(StrEnum):
    """What someone is in a hearing; the permission table is keyed by it."""

    JUDGE = "judge"
    CLERK = "clerk"
    MEDIATOR = "mediator"
    PARTY = "party"
    COUNSEL = "counsel"
    WITNESS = "witness"
    EXPERT = "expert"
    INTERPRETER = "interpreter"
    OBSERVER = "observer"
    COURTROOM_DISPLAY = "courtroom_display"


# Roles that preside: they enter the hearing room directly and hold judicial powers.
PRESIDING_ROLES = frozenset({Role.JUDGE, Role.MEDIATOR})
# Court staff present in the room by office rather than by admission.
COURT_ROLES = frozenset({Role.JUDGE, Role.CLERK, Role.MEDIATOR, Role.COURTROOM_DISPLAY})
# Roles that always wait to be called or admitted, even when the hearing is in session.
ALWAYS_WAIT_ROLES = frozenset({Role.WITNESS, Role.EXPERT, Role.OBSERVER})


def speaker_name(p: Participant, principal: Participant | None) -> str:
    """The name a transcript line carries. An interpreter's says whose words they render, so
    interpreted speech is marked as such in the record (besides the role, 译 in the 笔录):
    周翻译 interpreting for 张三 is "周翻译" followed by 为张三翻译 in full-width parentheses."""
    if p.role is not Role.INTERPRETER or principal is None or principal.id != p.interprets_for:
        return p.display_name
    return f"{p.display_name}\uff08为{principal.display_name}翻译\uff09"


def is_sign_language(language: str | None) -> bool:
    """Is ``language`` (a BCP 47 tag) a sign language: ``csl`` (中国手语, Chinese Sign
    Language) or any ``sgn-...`` tag. An interpreter into one is seen, not heard: the
    composite pins them beside the person they interpret for."""
    if not language:
        return False
    tag = language.strip().lower()
    return tag == "csl" or tag == "sgn" or tag.startswith(("csl-", "sgn-"))


class PartySide(StrEnum):
    """Which side of the case a party is on."""

    PLAINTIFF = "plaintiff"
    DEFENDANT = "defendant"
    APPLICANT = "applicant"
    RESPONDENT = "respondent"
    THIRD_PARTY = "third_party"


class ParticipantState(StrEnum):
    """Where a participant is (docs/domain.md "Participant states")."""

    NOT_JOINED = "not_joined"
    JOINING = "joining"
    IDENTIFYING = "identifying"  # connected, in the identity step: no room, no media
    WAITING = "waiting"
    IN_HEARING = "in_hearing"
    IN_CONSULTATION = "in_consultation"
    DISCONNECTED = "disconnected"
    LEFT = "left"
    UNABLE_TO_JOIN = "unable_to_join"


# Allowed direct moves. DISCONNECTED, LEFT and UNABLE_TO_JOIN are reachable from any live state;
# a disconnected participant returns to the state they held before (see Participant.reconnect).
_MOVES: dict[ParticipantState, frozenset[ParticipantState]] = {
    ParticipantState.NOT_JOINED: frozenset({ParticipantState.JOINING}),
    ParticipantState.JOINING: frozenset(
        {
            ParticipantState.IDENTIFYING,
            ParticipantState.WAITING,
            ParticipantState.IN_HEARING,
            ParticipantState.UNABLE_TO_JOIN,
        }
    ),
    # Out of the identity step only once cleared (core/identity.py): then where joining
    # would have put them.
    ParticipantState.IDENTIFYING: frozenset(
        {ParticipantState.WAITING, ParticipantState.IN_HEARING, ParticipantState.UNABLE_TO_JOIN}
    ),
    # A party may consult counsel (or meet the mediator in a caucus) from the waiting room,
    # before the hearing starts or while the other side is heard: that is the common case.
    ParticipantState.WAITING: frozenset(
        {ParticipantState.IN_HEARING, ParticipantState.IN_CONSULTATION}
    ),
    ParticipantState.IN_HEARING: frozenset(
        {ParticipantState.IN_CONSULTATION, ParticipantState.WAITING}
    ),
    ParticipantState.IN_CONSULTATION: frozenset(
        {ParticipantState.IN_HEARING, ParticipantState.WAITING}
    ),
    ParticipantState.DISCONNECTED: frozenset(),
    ParticipantState.LEFT: frozenset({ParticipantState.JOINING}),
    ParticipantState.UNABLE_TO_JOIN: frozenset({ParticipantState.JOINING}),
}

LIVE_STATES = frozenset(
    {
        ParticipantState.JOINING,
        ParticipantState.IDENTIFYING,
        ParticipantState.WAITING,
        ParticipantState.IN_HEARING,
        ParticipantState.IN_CONSULTATION,
    }
)


def allowed_moves(state: ParticipantState) -> frozenset[ParticipantState]:
    """Every state reachable from ``state`` in one step (reconnect excluded)."""
    extra: set[ParticipantState] = set()
    if state in LIVE_STATES:
        extra |= {ParticipantState.DISCONNECTED, ParticipantState.LEFT}
    if state is ParticipantState.DISCONNECTED:
        extra |= {ParticipantState.LEFT}
    return _MOVES[state] | extra


# Bidirectional-text controls: marks, embeddings, overrides and isolates.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


@dataclass(frozen=True, slots=True)
class Participant:
    """Someone (or the courtroom display device) taking part in one hearing."""

    id: str
    hearing_id: str
    role: Role
    display_name: str
    state: ParticipantState = ParticipantState.NOT_JOINED
    side: PartySide | None = None
    represents: str | None = None  # counsel -> party participant id
    interprets_for: str | None = None  # interpreter -> participant id
    language: str | None = None
    resume_state: ParticipantState | None = None  # where a disconnected participant returns
    audio_muted: bool = False
    mute_locked: bool = False
    hand_raised: bool = False
    # when the hand went up: the judge's queue is in arrival order (None while lowered)
    hand_raised_at: datetime | None = None
    # a witness or expert gave the undertaking (core/oath.py) at this moment
    sworn_at: datetime | None = None
    removed: bool = False  # removed by the judge: may not rejoin

    def __post_init__(self) -> None:
        name = self.display_name.strip()
        if not name or len(name) > 100:
            raise ValidationError("display_name must be 1..100 characters")
        # The name is shown to everyone and written into the record: no control characters
        # and no bidi overrides (which can make a name read as another). Other format
        # characters stay allowed: ZWNJ/ZWJ are part of correct spelling in several scripts.
        if any(
            unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS for ch in self.display_name
        ):
            raise ValidationError("display_name must not contain control characters")
        if self.represents is not None and self.role is not Role.COUNSEL:
            raise ValidationError("only counsel may represent a party")
        if self.interprets_for is not None and self.role is not Role.INTERPRETER:
            raise ValidationError("only an interpreter may interpret for someone")
        if self.side is not None and self.role is not Role.PARTY:
            raise ValidationError("only a party has a side")

    def move(self, target: ParticipantState) -> Participant:
        """Return the participant in ``target`` state or raise :class:`InvalidTransition`."""
        if target not in allowed_moves(self.state):
            raise InvalidTransition(
                f"participant cannot go from {self.state.value} to {target.value}"
            )
        resume = self.state if target is ParticipantState.DISCONNECTED else None
        return replace(self, state=target, resume_state=resume)

    def reconnect(self) -> Participant:
        """A disconnected participant returns to where they were."""
        if self.state is not ParticipantState.DISCONNECTED or self.resume_state is None:
            raise InvalidTransition(f"cannot reconnect from {self.state.value}")
        return replace(self, state=self.resume_state, resume_state=None)

    def entry_state(self, hearing_in_session: bool) -> ParticipantState:
        """Where this participant goes on joining (docs/domain.md "Participant states").

        Court staff and the courtroom display go straight into the hearing room; witnesses,
        experts and observers always wait; everyone else goes in only when the hearing is
        in session.
        """
        if self.role in COURT_ROLES:
            return ParticipantState.IN_HEARING
        if self.role in ALWAYS_WAIT_ROLES or not hearing_in_session:
            return ParticipantState.WAITING
        return ParticipantState.IN_HEARING


def party_side_of(p: Participant, people: Mapping[str, Participant]) -> PartySide | None:
    """The side ``p`` stands for: a party's own, counsel's client's, an interpreter's
    principal's; ``None`` for everyone else (the court, witnesses, observers). ``people``:
    the hearing's participants by id."""
    if p.role is Role.PARTY:
        return p.side
    if p.role is Role.COUNSEL:
        client = people.get(p.represents or "")
        if client is not None and client.role is Role.PARTY:
            return client.side
        return None
    if p.role is Role.INTERPRETER:
        principal = people.get(p.interprets_for or "")
        if principal is not None and principal.role is not Role.INTERPRETER:
            return party_side_of(principal, people)
    return None

"""HearingService: the application layer that the HTTP API and signaling both call.

It loads domain objects from the store, asks the domain whether an action is allowed, saves the
result, appends to the audit chain and notifies listeners. No transport concerns live here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hearing_server.auth.tokens import JoinClaims, TokenService
from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEntry, AuditEvent
from hearing_server.core.errors import Conflict, NotFound, ValidationError
from hearing_server.core.hearing import (
    LAYOUTS,
    Hearing,
    HearingAction,
    HearingKind,
    HearingState,
    Visibility,
)
from hearing_server.core.identity import IdentityPolicy
from hearing_server.core.participant import Participant, PartySide, Role
from hearing_server.core.permissions import (
    TRANSITION_PERMISSIONS,
    Action,
    allowed_actions,
    authorize,
    can,
    require_staff,
)
from hearing_server.store.base import Store

from .events import EventBus, HearingChanged, ParticipantChanged, ServiceEvent

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def hearing_to_json(h: Hearing) -> dict[str, Any]:
    """The public JSON shape of a hearing (API and signaling share it)."""

    def iso(v: datetime | None) -> str | None:
        return v.astimezone(UTC).isoformat() if v else None

    return {
        "id": h.id,
        "kind": h.kind.value,
        "case_number": h.case_number,
        "court": h.court,
        "title": h.title,
        "scheduled_start": iso(h.scheduled_start),
        "scheduled_end": iso(h.scheduled_end),
        "visibility": h.visibility.value,
        "state": h.state.value,
        "actual_start": iso(h.actual_start),
        "actual_end": iso(h.actual_end),
        "next_sitting_id": h.next_sitting_id,
        "layout": h.layout,
        "spotlight": h.extra.get("spotlight"),
        "language": h.language,
    }


def participant_to_json(p: Participant, *, with_state: bool = True) -> dict[str, Any]:
    """The public JSON shape of a participant."""
    out: dict[str, Any] = {
        "id": p.id,
        "role": p.role.value,
        "display_name": p.display_name,
        "side": p.side.value if p.side else None,
        "represents": p.represents,
        "interprets_for": p.interprets_for,
        "language": p.language,
    }
    if with_state:
        out.update(
            state=p.state.value,
            audio_muted=p.audio_muted,
            mute_locked=p.mute_locked,
            hand_raised=p.hand_raised,
            hand_raised_at=p.hand_raised_at.astimezone(UTC).isoformat()
            if p.hand_raised_at
            else None,
            sworn_at=p.sworn_at.astimezone(UTC).isoformat() if p.sworn_at else None,
        )
    return out


class HearingService:
    """Use cases on hearings and participants. One instance per app, created by create_app."""

    def __init__(
        self,
        store: Store,
        tokens: TokenService,
        events: EventBus[ServiceEvent],
        *,
        public_url: str,
        token_ttl: timedelta,
        identity_policy: IdentityPolicy | None = None,
        clock: Clock = _utcnow,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.events = events
        self._public_url = public_url
        self._token_ttl = token_ttl
        # Written to each new hearing, so that a later change of the default does not change
        # the checks of hearings already scheduled.
        self._identity_policy = identity_policy
        self._now = clock

    # -- helpers ----------------------------------------------------------------------------

    def now(self) -> datetime:
        """The service's clock (UTC, aware): the one every stored time comes from."""
        return self._now()

    async def audit(
        self, hearing_id: str, actor: Actor, event: AuditEvent, data: dict[str, Any]
    ) -> AuditEntry:
        return await self.store.append_audit(hearing_id, actor.id, event.value, data, self._now())

    # -- hearings ---------------------------------------------------------------------------

    async def create_hearing(
        self,
        actor: Actor,
        *,
        kind: HearingKind,
        case_number: str,
        court: str,
        title: str,
        scheduled_start: datetime,
        scheduled_end: datetime,
        visibility: Visibility = Visibility.PUBLIC,
        identity_policy: IdentityPolicy | None = None,
        language: str | None = None,
    ) -> Hearing:
        """Create a hearing with ``identity_policy`` (default: the configured one) and the
        ``language`` of its captions and transcript (None: the server's default)."""
        require_staff(actor)
        hearing = Hearing(
            id=uuid.uuid4().hex,
            kind=kind,
            case_number=case_number.strip(),
            court=court.strip(),
            title=title.strip(),
            scheduled_start=scheduled_start,
            scheduled_end=scheduled_end,
            visibility=visibility,
            created_at=self._now(),
            extra={"language": language} if language is not None else {},
        )
        await self.store.create_hearing(hearing)
        await self.audit(hearing.id, actor, AuditEvent.HEARING_CREATED, hearing_to_json(hearing))
        policy = identity_policy or self._identity_policy
        if policy is not None:
            await self.store.set_identity_policy(hearing.id, policy)
            await self.audit(
                hearing.id, actor, AuditEvent.IDENTITY_POLICY_SET, {"policy": policy.to_json()}
            )
        return hearing

    async def list_hearings(
        self, actor: Actor, *, state: HearingState | None, limit: int, offset: int
    ) -> list[Hearing]:
        require_staff(actor)
        return await self.store.list_hearings(state=state, limit=limit, offset=offset)

    async def get_hearing(self, actor: Actor, hearing_id: str) -> Hearing:
        hearing = await self.store.get_hearing(hearing_id)
        authorize(actor, Action.VIEW_HEARING, hearing)
        return hearing

    async def update_hearing(
        self,
        actor: Actor,
        hearing_id: str,
        changes: dict[str, Any],
        *,
        booked: bool = False,
    ) -> Hearing:
        """Change schedule, title, court, case number, visibility or language (of captions
        and transcript) of a hearing not yet over. The times of a hearing with a booking
        (courtroom, people) change only through the scheduling service (``booked``), which
        checks for clashes and asks for a reason."""
        require_staff(actor)
        hearing = await self.store.get_hearing(hearing_id)
        if hearing.is_terminal:
            raise Conflict(f"hearing is {hearing.state.value}; it can no longer be changed")
        if not booked and {"scheduled_start", "scheduled_end"} & set(changes):
            try:
                await self.store.get_booking(hearing_id)
            except NotFound:
                pass
            else:
                raise Conflict(
                    "this hearing is booked: reschedule it (POST .../schedule/reschedule "
                    "with a reason), which checks the courtroom and the people",
                    code="use_reschedule",
                )
        allowed = {
            "case_number",
            "court",
            "title",
            "scheduled_start",
            "scheduled_end",
            "visibility",
            "language",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise ValidationError(f"cannot change {sorted(unknown)}", code="unknown_field")
        fields = {k: v for k, v in changes.items() if k != "language"}
        updated = replace(hearing, **fields)  # __post_init__ validates the result
        if "language" in changes:
            updated = updated.with_language(changes["language"])
        await self.store.update_hearing(updated)
        await self.audit(
            hearing.id,
            actor,
            AuditEvent.HEARING_UPDATED,
            {k: (v.isoformat() if isinstance(v, datetime) else str(v)) for k, v in changes.items()},
        )
        await self._notify_hearing(updated)
        return updated

    async def transition(
        self,
        actor: Actor,
        hearing_id: str,
        action: HearingAction,
        *,
        next_sitting_id: str | None = None,
    ) -> Hearing:
        hearing = await self.store.get_hearing(hearing_id)
        authorize(actor, TRANSITION_PERMISSIONS[action], hearing)
        updated = hearing.apply(action, self._now(), next_sitting_id=next_sitting_id)
        await self.store.update_hearing(updated)
        await self.audit(
            hearing.id,
            actor,
            AuditEvent.HEARING_STATE_CHANGED,
            {"from": hearing.state.value, "to": updated.state.value, "action": action.value},
        )
        await self._notify_hearing(updated)
        return updated

    async def set_layout(self, actor: Actor, hearing_id: str, layout: str) -> Hearing:
        hearing = await self.store.get_hearing(hearing_id)
        authorize(actor, Action.SET_LAYOUT, hearing)
        if layout not in LAYOUTS:
            raise ValidationError(f"layout must be one of {', '.join(LAYOUTS)}")
        if layout == hearing.layout:
            return hearing
        updated = replace(hearing, layout=layout)
        await self.store.update_hearing(updated)
        await self.audit(hearing_id, actor, AuditEvent.LAYOUT_SET, {"layout": layout})
        await self._notify_hearing(updated)
        return updated

    async def set_spotlight(self, actor: Actor, hearing_id: str, pid: str | None) -> Hearing:
        """Pin ``pid`` in the large tile of the courtroom display and the recording, whatever
        the layout (None: unpin). Someone who may not speak (an observer) is never shown."""
        hearing = await self.store.get_hearing(hearing_id)
        authorize(actor, Action.SET_LAYOUT, hearing)
        if pid is not None:
            p = await self.store.get_participant(pid)
            if p.hearing_id != hearing_id:
                raise NotFound(f"no participant {pid} in this hearing")
            if not can(p.role, Action.SPEAK, hearing.kind):
                raise Conflict(
                    f"{p.display_name} watches only and is never shown", code="not_shown"
                )
        if hearing.extra.get("spotlight") == pid:
            return hearing
        extra = {k: v for k, v in hearing.extra.items() if k != "spotlight"}
        if pid is not None:
            extra["spotlight"] = pid
        updated = replace(hearing, extra=extra)
        await self.store.update_hearing(updated)
        await self.audit(hearing_id, actor, AuditEvent.SPOTLIGHT_SET, {"participant_id": pid})
        await self._notify_hearing(updated)
        return updated

    async def _notify_hearing(self, hearing: Hearing) -> None:
        await self.events.publish(HearingChanged(hearing.id, hearing_to_json(hearing)))

    # -- participants -----------------------------------------------------------------------

    async def add_participant(
        self,
        actor: Actor,
        hearing_id: str,
        *,
        role: Role,
        display_name: str,
        side: PartySide | None = None,
        represents: str | None = None,
        interprets_for: str | None = None,
        language: str | None = None,
    ) -> Participant:
        require_staff(actor)
        hearing = await self.store.get_hearing(hearing_id)
        if hearing.is_terminal:
            raise Conflict(f"hearing is {hearing.state.value}")
        if role is Role.MEDIATOR and hearing.kind is not HearingKind.MEDIATION:
            raise ValidationError("a mediator belongs to a mediation", code="invalid_role")
        for linked, what in ((represents, "represents"), (interprets_for, "interprets_for")):
            if linked is None:
                continue
            other = await self.store.get_participant(linked)
            if other.hearing_id != hearing_id:
                raise ValidationError(f"{what} must name a participant of the same hearing")
            if what == "represents" and other.role is not Role.PARTY:
                raise ValidationError("counsel represents a party")
        participant = Participant(
            id=uuid.uuid4().hex,
            hearing_id=hearing_id,
            role=role,
            display_name=display_name.strip(),
            side=side,
            represents=represents,
            interprets_for=interprets_for,
            language=language,
        )
        await self.store.add_participant(participant)
        await self.audit(
            hearing_id, actor, AuditEvent.PARTICIPANT_ADDED, participant_to_json(participant)
        )
        await self.events.publish(ParticipantChanged(hearing_id, participant_to_json(participant)))
        return participant

    async def list_participants(self, hearing_id: str) -> list[Participant]:
        return await self.store.list_participants(hearing_id)

    async def issue_link(
        self, actor: Actor, participant_id: str, *, ttl: timedelta | None = None
    ) -> tuple[str, str, JoinClaims]:
        """Issue a join link; returns (url, token, claims)."""
        require_staff(actor)
        participant = await self.store.get_participant(participant_id)
        hearing = await self.store.get_hearing(participant.hearing_id)
        if hearing.is_terminal:
            raise Conflict(f"hearing is {hearing.state.value}; no one can join")
        token, claims = self.tokens.issue_join(
            hearing.id, participant.id, participant.role, ttl or self._token_ttl, now=self._now()
        )
        await self.audit(
            hearing.id,
            actor,
            AuditEvent.LINK_ISSUED,
            {
                "participant_id": participant.id,
                "jti": claims.jti,
                "expires_at": claims.expires_at.isoformat(),
            },
        )
        return f"{self._public_url}/join#token={token}", token, claims

    async def revoke_link(self, actor: Actor, token: str) -> JoinClaims:
        """Revoke a join link by its token (the jti goes on the deny-list)."""
        require_staff(actor)
        claims = await self.tokens.verify_join(token)
        await self.store.revoke_token(claims.jti, claims.expires_at)
        await self.audit(
            claims.hearing_id,
            actor,
            AuditEvent.LINK_REVOKED,
            {"participant_id": claims.participant_id, "jti": claims.jti},
        )
        return claims

    async def participant_view(self, claims: JoinClaims) -> dict[str, Any]:
        """What a participant sees of their hearing: hearing, themselves, who takes part."""
        hearing = await self.store.get_hearing(claims.hearing_id)
        me = await self.store.get_participant(claims.participant_id)
        sees_all = can(me.role, Action.VIEW_ALL_STATES, hearing.kind)
        others = await self.store.list_participants(hearing.id)
        return {
            "hearing": hearing_to_json(hearing),
            "me": participant_to_json(me),
            # The client shows only what the server would allow; it never copies the table.
            "allowed_actions": sorted(allowed_actions(me.role, hearing.kind)),
            "layouts": list(LAYOUTS),
            "participants": [participant_to_json(p, with_state=sees_all) for p in others],
        }

    async def audit_log(self, actor: Actor, hearing_id: str) -> list[AuditEntry]:
        require_staff(actor)
        await self.store.get_hearing(hearing_id)
        return await self.store.list_audit(hearing_id)

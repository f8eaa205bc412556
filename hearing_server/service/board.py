"""The clerk's board (issue 14, item 7): today's hearings at a glance, and the alerts the clerk
must act on, across every hearing of the court.

The board reads the hearings and participants from the store and the live state (who is
connected, in which room) from :class:`LiveHearings`; it keeps, in memory on this node, what
only it needs: the alerts (recording failures, identity lockouts and calls for help, repeated
disconnects, failed self-tests) with who acknowledged them, and each connected participant's
network health as their client last reported it (HMCTS grades: good below 10 % loss, bad from
15 %). The events behind every alert are also in each hearing's audit log.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo
from typing import Any

from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEvent
from hearing_server.core.errors import Forbidden, NotFound, ValidationError
from hearing_server.core.hearing import Hearing, HearingState
from hearing_server.core.participant import Participant, ParticipantState, Role
from hearing_server.core.permissions import Action, authorize, require_staff

from .events import (
    HelpRequested,
    IdentityAlertRaised,
    ParticipantChanged,
    RecordingAlertRaised,
    ServiceEvent,
)
from .hearings import HearingService, hearing_to_json
from .identity import IdentityService
from .live import LiveHearings

#: Disconnections of one participant within this window that make an alert.
DISCONNECTS_FOR_ALERT = 3
DISCONNECT_WINDOW_S = 600.0
MAX_ALERTS = 500
NETWORK_GRADES = ("good", "poor", "bad")
SELF_TEST_CHECKS = ("camera", "microphone", "speaker", "network")
_MISSING_STATES = frozenset(
    {ParticipantState.NOT_JOINED, ParticipantState.JOINING, ParticipantState.DISCONNECTED}
)
_LIVE_STATES = frozenset(
    {HearingState.OPEN, HearingState.IN_SESSION, HearingState.PAUSED, HearingState.SUSPENDED}
)


#: Why a participant asks for help: the camera or microphone refused, no device, the hearing
#: ended or they were removed, anything else.
HELP_REASONS = ("media_blocked", "no_device", "ended", "other")
#: Asking again within this many seconds alerts nobody again.
HELP_REPEAT_S = 30.0


@dataclass(frozen=True, slots=True)
class Alert:
    """Something the clerk should act on. ``key`` makes a repeat of the same problem one
    alert, not a flood."""

    id: str
    hearing_id: str
    kind: str
    message: str
    at: datetime
    key: str
    participant_id: str | None = None
    display_name: str | None = None
    severity: str = "error"
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hearing_id": self.hearing_id,
            "kind": self.kind,
            "message": self.message,
            "at": self.at.isoformat(),
            "participant_id": self.participant_id,
            "display_name": self.display_name,
            "severity": self.severity,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
        }


@dataclass(slots=True)
class _Network:
    grade: str
    loss_pct: int | None
    rtt_ms: int | None
    at: datetime


@dataclass
class _State:
    alerts: deque[Alert] = field(default_factory=lambda: deque(maxlen=MAX_ALERTS))
    network: dict[str, _Network] = field(default_factory=dict)
    disconnects: dict[str, deque[float]] = field(default_factory=dict)
    help_at: dict[str, datetime] = field(default_factory=dict)  # participant id -> last asked


class BoardService:
    """Today's hearings and the open alerts, for the court's staff."""

    def __init__(
        self,
        hearings: HearingService,
        live: LiveHearings,
        identity: IdentityService,
        *,
        court_tz: tzinfo | None = None,
        monotonic: Any = time.monotonic,
    ) -> None:
        self._hearings = hearings
        self._live = live
        self._identity = identity
        self._tz = court_tz
        self._monotonic = monotonic
        self._state = _State()

    # -- what raises alerts -------------------------------------------------------------------

    async def on_service_event(self, event: ServiceEvent) -> None:
        """Alerts from the recording, the identity checks and the participants' connections."""
        match event:
            case RecordingAlertRaised(hearing_id=hid, alert=data):
                if data.get("severity", "error") != "info":
                    self._raise(
                        hid,
                        "recording_failed",
                        str(data.get("message", "the recording failed")),
                        key=f"rec:{data.get('kind')}:{data.get('track', '')}",
                    )
            case IdentityAlertRaised(hearing_id=hid, alert=data):
                self._raise(
                    hid,
                    f"identity_{data.get('kind')}",
                    str(data.get("message", "")),
                    key=f"id:{data.get('kind')}:{data.get('participant_id')}",
                    participant_id=data.get("participant_id"),
                    display_name=data.get("display_name"),
                )
            case ParticipantChanged(hearing_id=hid, data=data):
                self._on_participant(hid, data)
            case _:
                pass

    def _on_participant(self, hearing_id: str, data: dict[str, Any]) -> None:
        pid = str(data.get("id"))
        state = data.get("state")
        if state in (ParticipantState.LEFT.value, ParticipantState.DISCONNECTED.value):
            # A network grade is of a connection: it goes with it.
            self._state.network.pop(pid, None)
        if state != ParticipantState.DISCONNECTED.value:
            return
        now = self._monotonic()
        times = self._state.disconnects.setdefault(pid, deque(maxlen=DISCONNECTS_FOR_ALERT * 4))
        times.append(now)
        recent = [t for t in times if now - t <= DISCONNECT_WINDOW_S]
        if len(recent) >= DISCONNECTS_FOR_ALERT:
            self._raise(
                hearing_id,
                "repeated_disconnects",
                f"{data.get('display_name')} lost the connection {len(recent)} times "
                f"in {int(DISCONNECT_WINDOW_S // 60)} minutes",
                key=f"disc:{pid}",
                participant_id=pid,
                display_name=data.get("display_name"),
            )

    def _raise(
        self,
        hearing_id: str,
        kind: str,
        message: str,
        *,
        key: str,
        participant_id: str | None = None,
        display_name: str | None = None,
        severity: str = "error",
    ) -> Alert:
        # The same problem again, not yet acknowledged: one alert, brought up to date.
        for i, old in enumerate(self._state.alerts):
            if old.hearing_id == hearing_id and old.key == key and old.acknowledged_at is None:
                updated = replace(old, message=message, at=self._hearings.now())
                self._state.alerts[i] = updated
                return updated
        alert = Alert(
            id=f"al-{secrets.token_hex(6)}",
            hearing_id=hearing_id,
            kind=kind,
            message=message,
            at=self._hearings.now(),
            key=key,
            participant_id=participant_id,
            display_name=display_name,
            severity=severity,
        )
        self._state.alerts.append(alert)
        return alert

    # -- what participants report -------------------------------------------------------------

    def report_network(
        self, actor: Actor, grade: str, loss_pct: int | None, rtt_ms: int | None
    ) -> None:
        """A participant's client reports its connection's health: ``grade`` one of
        :data:`NETWORK_GRADES`, packet loss in percent (0..100), round trip in ms (0..60000).
        Raises :class:`ValidationError` for anything else."""
        if grade not in NETWORK_GRADES:
            raise ValidationError(f"grade must be one of {', '.join(NETWORK_GRADES)}")
        if loss_pct is not None and not 0 <= loss_pct <= 100:
            raise ValidationError("loss_pct must be 0 to 100")
        if rtt_ms is not None and not 0 <= rtt_ms <= 60_000:
            raise ValidationError("rtt_ms must be 0 to 60000")
        self._state.network[actor.id] = _Network(grade, loss_pct, rtt_ms, self._hearings.now())

    async def report_self_test(self, actor: Actor, results: dict[str, str]) -> dict[str, Any]:
        """A participant's device self-test; a failed camera, microphone or speaker, or a bad
        network, alerts the clerk (``unable_to_join``) and goes on the record."""
        if actor.role is None or actor.hearing_id is None:
            raise Forbidden("only a participant reports their self-test")
        p = await self._hearings.store.get_participant(actor.id)
        problems = sorted(
            check
            for check, result in results.items()
            if (check == "network" and result == "bad") or (check != "network" and result == "fail")
        )
        await self._hearings.audit(
            p.hearing_id,
            actor,
            AuditEvent.SELF_TEST_REPORTED,
            {"participant_id": p.id, "results": results, "problems": problems},
        )
        alert = None
        if problems:
            alert = self._raise(
                p.hearing_id,
                "unable_to_join",
                f"{p.display_name}: the self-test failed ({', '.join(problems)})",
                key=f"selftest:{p.id}:{','.join(problems)}",
                participant_id=p.id,
                display_name=p.display_name,
            )
        return {"problems": problems, "alerted": alert is not None}

    async def request_help(self, actor: Actor, reason: str) -> dict[str, Any]:
        """The participant asks the clerk for help (``reason``: one of :data:`HELP_REASONS`):
        an alert on the board, at once on the staff's consoles, and on the record. Asking again
        within :data:`HELP_REPEAT_S` seconds tells nobody again (the clerk has been told)."""
        if reason not in HELP_REASONS:
            raise ValidationError(f"reason must be one of {', '.join(HELP_REASONS)}")
        if actor.hearing_id is None:
            raise Forbidden("only a participant asks for help")
        hearing = await self._hearings.store.get_hearing(actor.hearing_id)
        authorize(actor, Action.ASK_FOR_HELP, hearing)
        p = await self._hearings.store.get_participant(actor.id)
        now = self._hearings.now()
        last = self._state.help_at.get(p.id)
        if last is not None and (now - last).total_seconds() < HELP_REPEAT_S:
            return {"alerted": False}
        self._state.help_at[p.id] = now
        await self._hearings.audit(
            hearing.id, actor, AuditEvent.HELP_REQUESTED, {"participant_id": p.id, "reason": reason}
        )
        alert = self._raise(
            hearing.id,
            "help_requested",
            f"{p.display_name} asks for help ({reason})",
            key=f"help:{p.id}",
            participant_id=p.id,
            display_name=p.display_name,
        )
        await self._hearings.events.publish(
            HelpRequested(hearing.id, {**alert.to_json(), "reason": reason})
        )
        return {"alerted": True}

    # -- reading and acknowledging ---------------------------------------------------------------

    async def acknowledge(self, actor: Actor, alert_id: str) -> Alert:
        """The clerk has seen to it, on the hearing's record. Acknowledging twice keeps the
        first (and records nothing more)."""
        require_staff(actor, "alerts are acknowledged by the court's staff", system=False)
        for i, alert in enumerate(self._state.alerts):
            if alert.id == alert_id:
                if alert.acknowledged_at is None:
                    alert = replace(
                        alert, acknowledged_by=actor.id, acknowledged_at=self._hearings.now()
                    )
                    self._state.alerts[i] = alert
                    await self._hearings.audit(
                        alert.hearing_id,
                        actor,
                        AuditEvent.ALERT_ACKNOWLEDGED,
                        {
                            "alert_id": alert.id,
                            "kind": alert.kind,
                            "participant_id": alert.participant_id,
                        },
                    )
                return alert
        raise NotFound(f"no alert {alert_id}")

    def _today(self) -> date:
        now = self._hearings.now()
        return (now.astimezone(self._tz) if self._tz else now.astimezone()).date()

    def _is_today(self, h: Hearing, today: date) -> bool:
        start = h.scheduled_start.astimezone(self._tz) if self._tz else h.scheduled_start
        return start.date() == today or h.state in _LIVE_STATES

    async def snapshot(self, actor: Actor) -> dict[str, Any]:
        """Today's hearings (and any still running), each with its people's live state,
        identity and network health, and the alerts not yet acknowledged (plus the last
        acknowledged ones)."""
        require_staff(actor, "the board is for the court's staff", system=False)
        today = self._today()
        hearings = [
            h
            for h in await self._hearings.store.list_hearings(limit=1000)
            if self._is_today(h, today)
        ]
        out = [await self._hearing_row(h) for h in hearings]
        ids = {h.id for h in hearings}
        alerts = [a for a in self._state.alerts if a.hearing_id in ids]
        open_alerts = [a.to_json() for a in reversed(alerts) if a.acknowledged_at is None]
        done = [a.to_json() for a in reversed(alerts) if a.acknowledged_at is not None][:20]
        return {
            "date": today.isoformat(),
            "hearings": out,
            "alerts": open_alerts,
            "acknowledged": done,
        }

    async def _hearing_row(self, h: Hearing) -> dict[str, Any]:
        people = await self._hearings.store.list_participants(h.id)
        identity = await self._identity.overview(h.id)
        rows = [self._person(h, p, identity.get(p.id)) for p in people if not p.removed]
        counted = [r for r in rows if r["role"] != Role.COURTROOM_DISPLAY.value]
        return {
            **hearing_to_json(h),
            "participants": rows,
            "counts": {
                "connected": sum(1 for r in counted if r["connected"]),
                "missing": sum(1 for r in counted if r["missing"]),
                "waiting": sum(1 for r in counted if r["state"] == "waiting"),
                "in_hearing": sum(1 for r in counted if r["state"] == "in_hearing"),
                "identity_pending": sum(1 for r in counted if r["identity"] == "pending"),
                "network_bad": sum(1 for r in counted if r["network"] == "bad"),
            },
            "clerk_id": next((p.id for p in people if p.role is Role.CLERK), None),
        }

    def _person(
        self, h: Hearing, p: Participant, identity: dict[str, Any] | None
    ) -> dict[str, Any]:
        connected = self._live.is_connected(h.id, p.id)
        net = self._state.network.get(p.id) if connected else None
        return {
            "id": p.id,
            "display_name": p.display_name,
            "role": p.role.value,
            "side": p.side.value if p.side else None,
            "state": p.state.value,
            "connected": connected,
            # Expected but not there: never joined, or gone without leaving.
            "missing": not connected
            and p.state
            in (
                ParticipantState.NOT_JOINED,
                ParticipantState.DISCONNECTED,
                ParticipantState.JOINING,
            ),
            "identity": (identity or {}).get("outcome"),
            "network": net.grade if net else None,
            "loss_pct": net.loss_pct if net else None,
            "rtt_ms": net.rtt_ms if net else None,
        }

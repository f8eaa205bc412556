"""A participant's identity as the console and the participant see it: no secrets, never the
ID number, the one-time code or its digest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hearing_server.core.identity import (
    CHECKABLE_STEPS,
    IdentityPolicy,
    IdentityRules,
    IdentityStatus,
    IdentityStep,
    Registration,
    code_resend_at,
    mask_phone,
    remaining_tries,
)
from hearing_server.core.participant import Participant


def iso(value: datetime | None) -> str | None:
    """``value`` in UTC to the second, ISO 8601; None stays None."""
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def identity_json(
    p: Participant,
    policy: IdentityPolicy,
    status: IdentityStatus,
    reg: Registration | None,
    *,
    now: datetime,
    rules: IdentityRules,
    checkable: Callable[[IdentityStep], bool],
    has_photo: bool,
    face_check_running: bool,
) -> dict[str, Any]:
    """``p``'s identity step: what is required, passed and pending, locks and tries left, the
    code's times, an override, the last camera check. ``checkable``: whether a check can pass
    a step on this server (the others only the clerk or the judge can clear)."""
    required = policy.required(p.role)
    code = status.code
    ov = status.override
    return {
        "participant_id": p.id,
        "required": [s.value for s in required],
        "passed": [s.value for s in required if status.passed(s)],
        "pending": [s.value for s in status.pending(required)],
        # Steps a check can pass here; the others only the clerk or the judge can clear.
        "checkable": [s.value for s in required if checkable(s)],
        "outcome": status.outcome(required).value,
        "locked": {
            s.value: iso(until)
            for s in required
            if (until := status.locked_until(s, now)) is not None
        },
        "tries_left": {
            s.value: remaining_tries(status, s, rules) for s in required if s in CHECKABLE_STEPS
        },
        "registered": reg is not None,
        "id_type": reg.id_type.value if reg else None,
        "id_last4": reg.id_last4 if reg else None,
        "phone_hint": mask_phone(reg.phone) if reg else None,
        "code": None
        if code is None
        else {
            "sent_at": iso(code.issued_at),
            "expires_at": iso(code.expires_at),
            "resend_at": iso(code_resend_at(status, rules)),
            "tries_left": max(0, rules.code_tries - code.tries),
            "used": code.used,
            "spent": code.spent,
        },
        "override": None
        if ov is None
        else {
            "outcome": ov.outcome.value,
            "by": ov.by,
            "reason": ov.reason,
            "at": iso(ov.at),
            "pending": [s.value for s in ov.pending],
        },
        "help_requested_at": iso(status.help_requested_at),
        "reference_photo": has_photo,
        "face": None
        if status.face is None
        else {
            "decision": status.face.decision,
            "distance": status.face.distance,
            "threshold": status.face.threshold,
            "liveness": status.face.liveness,
            "reason": status.face.reason,
            "at": iso(status.face.at),
        },
        "face_check_running": face_check_running,
        "now": iso(now),
    }

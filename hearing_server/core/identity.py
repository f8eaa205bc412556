"""Identity checks before the waiting room (docs/domain.md "Identity").

The per-hearing policy (which steps each role must pass), the registration of the people on a
case, each participant's step results, and the rules of attempts, lockouts and one-time codes.
Pure: times come in as arguments; hashing, sending and storing happen elsewhere.

A participant is *cleared* when every step their role requires has passed, or a clerk verified
them by hand, or the presiding judge waived the check; until then they stay in the identity
step (``ParticipantState.IDENTIFYING``): no waiting room, no admission, no media to anyone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from .errors import Conflict, Locked, ValidationError
from .participant import COURT_ROLES, Role


class IdentityStep(StrEnum):
    """One check a policy can require, in the order they are taken."""

    ID_NUMBER = "id_number"  # name and ID number matched against the registration
    CODE = "code"  # a one-time code sent to the registered phone (or e-mail)
    FACE = "face"  # the live camera matched against the reference photo
    LIVENESS = "liveness"  # a challenge sequence (blink, turn the head) passed live


STEP_ORDER: tuple[IdentityStep, ...] = tuple(IdentityStep)

CHECKABLE_STEPS = frozenset(
    {IdentityStep.ID_NUMBER, IdentityStep.CODE, IdentityStep.FACE, IdentityStep.LIVENESS}
)
"""Steps a check of the server can pass. Face match and liveness are judged together, from
one camera check (docs/identity.md), and need the participant's reference photo."""

CAMERA_STEPS = (IdentityStep.FACE, IdentityStep.LIVENESS)
"""The steps one camera check judges, in order: liveness is recorded only once the face
matched."""


class IdType(StrEnum):
    """The kind of identity document registered."""

    RESIDENT_ID = "resident_id"  # 居民身份证, 18 characters (GB 11643-1999)
    PASSPORT = "passport"
    OTHER = "other"  # e.g. a Hong Kong/Macao/Taiwan permit, a foreigner's permanent residence


class IdentityOutcome(StrEnum):
    """Where a participant's identity check stands."""

    NOT_REQUIRED = "not_required"  # the policy requires nothing of their role (court staff)
    PENDING = "pending"
    PASSED = "passed"  # every required step passed
    VERIFIED = "verified"  # the clerk (or presiding judge) verified them by hand, with reason
    WAIVED = "waived"  # the presiding judge waived the check, with reason


CLEARED_OUTCOMES = frozenset(
    {
        IdentityOutcome.NOT_REQUIRED,
        IdentityOutcome.PASSED,
        IdentityOutcome.VERIFIED,
        IdentityOutcome.WAIVED,
    }
)

# Roles a policy speaks about. Court staff are identified by the credential the court issued
# them (their staff link), never by these checks.
POLICY_ROLES: tuple[Role, ...] = tuple(r for r in Role if r not in COURT_ROLES)


# -- the policy -------------------------------------------------------------------------------


def _ordered(steps: Any, role: str) -> tuple[IdentityStep, ...]:
    if not isinstance(steps, list | tuple):
        raise ValidationError(f"the steps of {role} must be a list", code="invalid_policy")
    try:
        chosen = {IdentityStep(s) for s in steps}
    except ValueError:
        raise ValidationError(
            f"unknown step for {role}; steps are {', '.join(STEP_ORDER)}", code="invalid_policy"
        ) from None
    if len(chosen) != len(steps):
        raise ValidationError(f"a step is listed twice for {role}", code="invalid_policy")
    return tuple(s for s in STEP_ORDER if s in chosen)


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    """Which steps each role must pass in one hearing. Roles not listed need none."""

    by_role: Mapping[Role, tuple[IdentityStep, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def __post_init__(self) -> None:
        for role, steps in self.by_role.items():
            if role in COURT_ROLES and steps:
                raise ValidationError(
                    f"{role.value} is court staff, identified by their staff link",
                    code="invalid_policy",
                )
        clean = {r: _ordered(list(s), r.value) for r, s in self.by_role.items() if s}
        object.__setattr__(self, "by_role", MappingProxyType(clean))

    def required(self, role: Role) -> tuple[IdentityStep, ...]:
        """The steps ``role`` must pass, in order."""
        return self.by_role.get(role, ())

    def with_roles(self, changes: Mapping[Role, tuple[IdentityStep, ...]]) -> IdentityPolicy:
        return IdentityPolicy(MappingProxyType({**self.by_role, **changes}))

    def to_json(self) -> dict[str, list[str]]:
        """Every policy role with its steps (an empty list: nothing required)."""
        return {r.value: [s.value for s in self.required(r)] for r in POLICY_ROLES}

    @classmethod
    def from_json(cls, data: Any) -> IdentityPolicy:
        """A policy from ``{role: [step, ...]}``; raises :class:`ValidationError`."""
        if not isinstance(data, dict):
            raise ValidationError("a policy is an object of role: [steps]", code="invalid_policy")
        by_role: dict[Role, tuple[IdentityStep, ...]] = {}
        for key, steps in data.items():
            try:
                role = Role(key)
            except ValueError:
                raise ValidationError(f"unknown role {key!r}", code="invalid_policy") from None
            by_role[role] = _ordered(steps, key)
        return cls(MappingProxyType(by_role))

    @classmethod
    def preset(cls, name: str) -> IdentityPolicy:
        """One of :data:`POLICY_PRESETS`, by name."""
        try:
            return POLICY_PRESETS[name]
        except KeyError:
            raise ValidationError(
                f"unknown policy preset {name!r}; presets are {', '.join(POLICY_PRESETS)}",
                code="invalid_policy",
            ) from None

    @classmethod
    def parse(cls, text: str) -> IdentityPolicy:
        """A preset name or a JSON object (settings, the CLI)."""
        import json

        stripped = text.strip()
        if stripped.startswith("{"):
            try:
                return cls.from_json(json.loads(stripped))
            except json.JSONDecodeError as exc:
                raise ValidationError(f"policy JSON: {exc}", code="invalid_policy") from None
        return cls.preset(stripped)


_FULL = (IdentityStep.ID_NUMBER, IdentityStep.CODE, IdentityStep.FACE, IdentityStep.LIVENESS)
_ID_AND_CODE = (IdentityStep.ID_NUMBER, IdentityStep.CODE)

POLICY_PRESETS: dict[str, IdentityPolicy] = {
    # The default of issue 12: everyone who speaks passes all four steps; observers, who only
    # watch, the ID number and the code. Face match and liveness need a reference photo of
    # each person (registered by staff) and a camera.
    "standard": IdentityPolicy(
        MappingProxyType(
            {
                Role.PARTY: _FULL,
                Role.COUNSEL: _FULL,
                Role.WITNESS: _FULL,
                Role.EXPERT: _FULL,
                Role.INTERPRETER: _FULL,
                Role.OBSERVER: _ID_AND_CODE,
            }
        )
    ),
    # What needs nothing but the registration.
    "id_and_code": IdentityPolicy(MappingProxyType({r: _ID_AND_CODE for r in POLICY_ROLES})),
    # No checks (identity established another way, e.g. in person at the court).
    "none": IdentityPolicy(),
}


# -- the registration --------------------------------------------------------------------------

_PHONE = re.compile(r"^\+?[0-9]{5,20}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,63}$")


def normalise_phone(phone: str) -> str:
    """A phone number without spaces, dashes or brackets; raises if it is not one."""
    text = re.sub(r"[\s\-()]", "", phone)
    if not _PHONE.match(text):
        raise ValidationError(
            "phone must be 5 to 20 digits, optionally after +", code="invalid_phone"
        )
    return text


def normalise_email(email: str) -> str:
    text = email.strip()
    if not _EMAIL.match(text):
        raise ValidationError("email is not an e-mail address", code="invalid_email")
    return text


def name_key(name: str) -> str:
    """A legal name as compared: NFKC, no whitespace or middle dots, case-folded."""
    text = unicodedata.normalize("NFKC", name)
    return "".join(ch for ch in text if not ch.isspace() and ch not in "·・.").casefold()


def check_legal_name(name: str) -> str:
    text = name.strip()
    if not text or len(text) > 100:
        raise ValidationError("legal_name must be 1..100 characters", code="invalid_name")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise ValidationError("legal_name must not hold control characters", code="invalid_name")
    return text


def mask_phone(phone: str) -> str:
    """``13812345678`` -> ``138****5678``: enough to recognise one's own number."""
    if len(phone) <= 7:
        return "*" * (len(phone) - 2) + phone[-2:]
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


@dataclass(frozen=True, slots=True)
class Registration:
    """Who a participant is on the case. The ID number itself is never kept: only its keyed
    hash (``id_digest``) and its last four characters, for staff to recognise it."""

    participant_id: str
    hearing_id: str
    legal_name: str
    id_type: IdType
    id_digest: str
    id_last4: str
    phone: str
    email: str | None
    registered_at: datetime
    registered_by: str

    def __post_init__(self) -> None:
        check_legal_name(self.legal_name)
        if len(self.id_last4) > 4:
            raise ValidationError("id_last4 holds at most 4 characters")


# -- each participant's progress ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdentityRules:
    """Attempts, lockouts and one-time codes (issue 12)."""

    max_failures: int = 5  # failed attempts at one step before it locks
    lockout: timedelta = timedelta(minutes=15)
    code_ttl: timedelta = timedelta(minutes=5)
    code_resend: timedelta = timedelta(seconds=60)  # cooldown between two codes
    code_tries: int = 5  # wrong entries of one code before it is spent


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step's result: passed (when), and failed attempts since the last lock."""

    passed_at: datetime | None = None
    failures: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class CodeChallenge:
    """The one-time code last sent: its keyed hash, never the code."""

    digest: str
    issued_at: datetime
    expires_at: datetime
    tries: int = 0
    used: bool = False  # entered correctly once: a second entry is a replay
    spent: bool = False  # too many wrong entries


@dataclass(frozen=True, slots=True)
class Override:
    """A person let past the pending steps: verified by hand or waived, always with reason."""

    outcome: IdentityOutcome  # VERIFIED or WAIVED
    by: str
    reason: str
    at: datetime
    pending: tuple[IdentityStep, ...]  # what was still pending then


def check_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise ValidationError("a reason is required", code="reason_required")
    if len(text) > 500:
        raise ValidationError("the reason holds at most 500 characters", code="invalid_value")
    return text


@dataclass(frozen=True, slots=True)
class FaceOutcome:
    """The last camera check: what the console shows (never a photo or an encoding)."""

    decision: str  # same, different, no_face, multiple_faces
    distance: float | None
    threshold: float
    liveness: str  # passed, failed, not_judged
    reason: str  # passed, timeout, no_camera, ...
    at: datetime


@dataclass(frozen=True, slots=True)
class IdentityStatus:
    """A participant's progress through the identity step of one hearing."""

    participant_id: str
    hearing_id: str
    steps: Mapping[IdentityStep, StepRecord] = field(default_factory=dict)
    code: CodeChallenge | None = None
    override: Override | None = None
    help_requested_at: datetime | None = None
    face: FaceOutcome | None = None

    def record(self, step: IdentityStep) -> StepRecord:
        return self.steps.get(step, StepRecord())

    def passed(self, step: IdentityStep) -> bool:
        return self.record(step).passed_at is not None

    def pending(self, required: tuple[IdentityStep, ...]) -> tuple[IdentityStep, ...]:
        """The required steps not passed yet (none once verified or waived)."""
        if self.override is not None:
            return ()
        return tuple(s for s in required if not self.passed(s))

    def outcome(self, required: tuple[IdentityStep, ...]) -> IdentityOutcome:
        if not required:
            return IdentityOutcome.NOT_REQUIRED
        if self.override is not None:
            return self.override.outcome
        if not self.pending(required):
            return IdentityOutcome.PASSED
        return IdentityOutcome.PENDING

    def cleared(self, required: tuple[IdentityStep, ...]) -> bool:
        return self.outcome(required) in CLEARED_OUTCOMES

    def locked_until(self, step: IdentityStep, now: datetime) -> datetime | None:
        until = self.record(step).locked_until
        return until if until is not None and until > now else None

    def with_step(self, step: IdentityStep, rec: StepRecord) -> IdentityStatus:
        return replace(self, steps={**self.steps, step: rec})


# -- the rules ---------------------------------------------------------------------------------


def require_attempt(
    status: IdentityStatus,
    step: IdentityStep,
    required: tuple[IdentityStep, ...],
    now: datetime,
) -> None:
    """May ``step`` be attempted now? Raises with a stable code when not."""
    if step not in required:
        raise Conflict(
            f"your identity check does not include {step.value}", code="step_not_required"
        )
    if status.override is not None:
        raise Conflict("your identity has been confirmed already", code="identity_cleared")
    if status.passed(step):
        raise Conflict(f"the {step.value} step has passed already", code="step_passed")
    if step not in CHECKABLE_STEPS:
        raise Conflict(
            f"the {step.value} check is not available yet: the clerk will verify you",
            code="step_unavailable",
        )
    before = required[: required.index(step)]
    missing = [s.value for s in before if not status.passed(s)]
    if missing:
        raise Conflict(f"first complete: {', '.join(missing)}", code="step_order")
    until = status.locked_until(step, now)
    if until is not None:
        raise Locked(
            f"too many failed attempts: try again after {until.isoformat(timespec='seconds')}",
            until=until,
        )


def pass_step(status: IdentityStatus, step: IdentityStep, now: datetime) -> IdentityStatus:
    return status.with_step(step, StepRecord(passed_at=now))


def fail_step(
    status: IdentityStatus, step: IdentityStep, now: datetime, rules: IdentityRules
) -> tuple[IdentityStatus, bool]:
    """Count one failure; the ``max_failures``-th locks the step. Returns (status, locked)."""
    rec = status.record(step)
    failures = rec.failures + 1
    if failures >= rules.max_failures:
        return status.with_step(step, StepRecord(locked_until=now + rules.lockout)), True
    return status.with_step(step, replace(rec, failures=failures)), False


def remaining_tries(status: IdentityStatus, step: IdentityStep, rules: IdentityRules) -> int:
    return max(0, rules.max_failures - status.record(step).failures)


def code_resend_at(status: IdentityStatus, rules: IdentityRules) -> datetime | None:
    """When another code may be sent (None: now)."""
    if status.code is None:
        return None
    return status.code.issued_at + rules.code_resend


def require_code_send(status: IdentityStatus, now: datetime, rules: IdentityRules) -> None:
    """Raise unless a new code may be sent now (cooldown)."""
    at = code_resend_at(status, rules)
    if at is not None and now < at:
        wait = int((at - now).total_seconds()) + 1
        raise Locked(
            f"wait {wait} s before asking for another code", until=at, code="code_cooldown"
        )


def issue_code(
    status: IdentityStatus, digest: str, now: datetime, rules: IdentityRules
) -> IdentityStatus:
    """A new code was sent: it replaces any earlier one."""
    return replace(
        status, code=CodeChallenge(digest=digest, issued_at=now, expires_at=now + rules.code_ttl)
    )


def check_code(
    challenge: CodeChallenge | None,
    matches: Callable[[str], bool],
    now: datetime,
    rules: IdentityRules,
    *,
    ask_first: str = "ask for a code first",
) -> tuple[CodeChallenge, bool]:
    """Someone entered the code of ``challenge``; ``matches(digest)`` compares it with the
    challenge's digest. Returns the challenge after (marked used when right, its tries counted
    when wrong) and whether it was right.

    Raises when no code can be entered: none sent (``no_code``, with ``ask_first``), already
    used (``code_used``: a replay), expired (``code_expired``) or spent by wrong entries
    (``code_spent``). The identity check's code and the agreement's signing code share it.
    """
    if challenge is None:
        raise Conflict(ask_first, code="no_code")
    if challenge.used:
        raise Conflict("this code has been used already; ask for a new one", code="code_used")
    if challenge.spent:
        raise Conflict(
            "this code was entered wrongly too often; ask for a new one", code="code_spent"
        )
    if now >= challenge.expires_at:
        raise Conflict("the code has expired; ask for a new one", code="code_expired")
    if matches(challenge.digest):
        return replace(challenge, used=True), True
    tries = challenge.tries + 1
    return replace(challenge, tries=tries, spent=tries >= rules.code_tries), False


def enter_code(
    status: IdentityStatus,
    matches: Callable[[str], bool],
    now: datetime,
    rules: IdentityRules,
) -> tuple[IdentityStatus, bool, bool]:
    """The identity check's code step (see :func:`check_code`): returns (status, passed,
    locked); wrong entries count towards the step's lockout too."""
    after_code, right = check_code(status.code, matches, now, rules)
    after = replace(status, code=after_code)
    if right:
        return pass_step(after, IdentityStep.CODE, now), True, False
    after, locked = fail_step(after, IdentityStep.CODE, now, rules)
    return after, False, locked


def override(
    status: IdentityStatus,
    outcome: IdentityOutcome,
    by: str,
    reason: str,
    required: tuple[IdentityStep, ...],
    now: datetime,
) -> IdentityStatus:
    """Verify by hand or waive: lets the participant past every pending step."""
    if outcome not in (IdentityOutcome.VERIFIED, IdentityOutcome.WAIVED):
        raise ValueError("an override verifies or waives")
    text = check_reason(reason)
    if status.cleared(required):
        raise Conflict("this person's identity is confirmed already", code="identity_cleared")
    return replace(
        status,
        override=Override(outcome, by, text, now, status.pending(required)),
    )

"""Identity checks: the gate before the waiting room, and the checks that open it.

:class:`~.identity_gate.IdentityGate` answers whether a participant is cleared (the hearing's
policy and their progress); :class:`~.live.LiveHearings` asks it on every join and keeps anyone
not cleared in the identity step (no room, no media, no admission). :class:`IdentityService`
runs the checks (the ID number, the one-time code, the camera check), the clerk's manual
verification and the judge's waiver, writes every attempt to the audit log (the method and the
outcome, never the ID number or the code) and tells the staff and the participant through typed
events. What they see of it is :func:`~.identity_view.identity_json`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from facekit import PROMPTS, TIME_LIMIT_S, Challenge, CheckResult, PhotoResult, new_challenges
from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEvent
from hearing_server.core.errors import (
    Conflict,
    NotFound,
    Unavailable,
    ValidationError,
)
from hearing_server.core.identity import (
    CAMERA_STEPS,
    CHECKABLE_STEPS,
    FaceOutcome,
    IdentityOutcome,
    IdentityPolicy,
    IdentityRules,
    IdentityStatus,
    IdentityStep,
    IdType,
    Registration,
    check_legal_name,
    enter_code,
    fail_step,
    issue_code,
    name_key,
    normalise_email,
    normalise_phone,
    override,
    pass_step,
    require_attempt,
    require_code_send,
)
from hearing_server.core.participant import Participant
from hearing_server.core.permissions import Action, authorize, require_staff
from hearing_server.store.biometrics import BiometricFiles
from identitykit import KeyedHasher, new_code
from messaging import Message, MessageSender, SendError

from .events import IdentityAlertRaised, IdentityChanged, IdentityProgress
from .hearings import HearingService
from .identity_gate import IdentityGate, validate_id_number
from .identity_view import identity_json, iso
from .live import LiveHearings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CodeRecipient = Literal["phone", "email"]


class FaceChecks(Protocol):
    """The camera check, run where media and the face worker are known (wiring/face.py)."""

    async def analyse_photo(self, data: bytes) -> PhotoResult:
        """Read and analyse a reference photo in the face worker."""

    def start(
        self,
        p: Participant,
        reference: list[float],
        challenges: tuple[Challenge, ...],
        threshold: float,
    ) -> None:
        """Start judging ``p``'s own published camera now; the result comes back through
        :meth:`IdentityService.record_face_result`. Raises :class:`Conflict` with
        ``no_camera`` (no video published) or ``check_running``."""

    def running(self, participant_id: str) -> bool: ...


# A second call for help within this time alerts nobody again (the clerk has been told).
HELP_REPEAT = timedelta(seconds=30)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class IdentityService:
    """The identity step's checks, the clerk's and judge's overrides, and their record."""

    def __init__(
        self,
        hearings: HearingService,
        live: LiveHearings,
        gate: IdentityGate,
        sender: MessageSender,
        hasher: KeyedHasher,
        *,
        code_recipient: CodeRecipient = "phone",
        rules: IdentityRules | None = None,
        clock: Clock = _utcnow,
    ) -> None:
        self._hearings = hearings
        self._store = hearings.store
        self._live = live
        self._gate = gate
        self._sender = sender
        self._hasher = hasher
        self._recipient = code_recipient
        self._rules = rules or IdentityRules()
        self._now = clock
        # One check at a time per participant: two tabs must not both spend the same attempt.
        self._locks: dict[str, asyncio.Lock] = {}
        self._face: FaceChecks | None = None
        self._files: BiometricFiles | None = None
        self._threshold = 0.5
        self._retention = timedelta(days=30)

    def set_face_checks(
        self,
        checks: FaceChecks | None,
        files: BiometricFiles,
        *,
        threshold: float,
        retention: timedelta,
    ) -> None:
        """The camera check (None: not available here) and where reference photos live."""
        self._face = checks
        self._files = files
        self._threshold = threshold
        self._retention = retention

    @property
    def sender(self) -> MessageSender:
        return self._sender

    @property
    def hasher(self) -> KeyedHasher:
        """Keys the digests of one-time codes (the agreement's signing codes use it too)."""
        return self._hasher

    @property
    def rules(self) -> IdentityRules:
        return self._rules

    async def contact(self, participant_id: str) -> tuple[Registration, str]:
        """Who ``participant_id`` is on the case and where their codes go (the registered
        phone, or e-mail as configured). Raises ``not_registered`` or ``no_recipient``."""
        p = await self._store.get_participant(participant_id)
        reg = await self._registered(p)
        recipient = reg.phone if self._recipient == "phone" else reg.email
        if not recipient:
            raise Conflict(
                f"no {self._recipient} is registered for you: ask the clerk for help",
                code="no_recipient",
            )
        return reg, recipient

    def _lock(self, pid: str) -> asyncio.Lock:
        return self._locks.setdefault(pid, asyncio.Lock())

    # -- views ------------------------------------------------------------------------------

    def status_json(
        self,
        p: Participant,
        policy: IdentityPolicy,
        status: IdentityStatus,
        reg: Registration | None,
    ) -> dict[str, Any]:
        """A participant's identity as the console and the participant see it (no secrets:
        never the ID number, the code or its digest)."""
        return identity_json(
            p, policy, status, reg,
            now=self._now(),
            rules=self._rules,
            checkable=self._checkable,
            has_photo=self._has_photo(p),
            face_check_running=self._face is not None and self._face.running(p.id),
        )  # fmt: skip

    def _checkable(self, step: IdentityStep) -> bool:
        if step in CAMERA_STEPS and self._face is None:
            return False  # face_checks_enabled is off here
        return step in CHECKABLE_STEPS

    def _has_photo(self, p: Participant) -> bool:
        # One stat() of a small local file: cheaper than a thread hop.
        return self._files is not None and self._files.has(p.hearing_id, p.id)

    async def _load(self, pid: str) -> tuple[Participant, IdentityPolicy, IdentityStatus]:
        p = await self._store.get_participant(pid)
        return p, await self._gate.policy(p.hearing_id), await self._gate.status(p)

    async def view(self, pid: str) -> dict[str, Any]:
        p, policy, status = await self._load(pid)
        return self.status_json(p, policy, status, await self._store.get_registration(pid))

    async def overview(self, hearing_id: str) -> dict[str, dict[str, Any]]:
        """Every participant's identity in ``hearing_id``, by participant id."""
        policy = await self._gate.policy(hearing_id)
        statuses = {s.participant_id: s for s in await self._store.list_identity_status(hearing_id)}
        regs = {r.participant_id: r for r in await self._store.list_registrations(hearing_id)}
        return {
            p.id: self.status_json(
                p, policy, statuses.get(p.id) or IdentityStatus(p.id, hearing_id), regs.get(p.id)
            )
            for p in await self._store.list_participants(hearing_id)
        }

    async def _publish(self, p: Participant) -> dict[str, Any]:
        data = await self.view(p.id)
        await self._hearings.events.publish(IdentityChanged(p.hearing_id, p.id, data))
        return data

    async def _alert(self, p: Participant, kind: str, message: str, **extra: Any) -> None:
        await self._hearings.events.publish(
            IdentityAlertRaised(
                p.hearing_id,
                {
                    "kind": kind,
                    "participant_id": p.id,
                    "display_name": p.display_name,
                    "message": message,
                    "at": iso(self._now()),
                    **extra,
                },
            )
        )

    async def _audit(self, p: Participant, actor: Actor, event: AuditEvent, **data: Any) -> None:
        await self._hearings.audit(p.hearing_id, actor, event, {"participant_id": p.id, **data})

    # -- the hearing's policy and the people on the case (staff) ----------------------------

    async def get_policy(self, actor: Actor, hearing_id: str) -> IdentityPolicy:
        hearing = await self._store.get_hearing(hearing_id)
        authorize(actor, Action.VIEW_HEARING, hearing)
        return await self._gate.policy(hearing_id)

    async def set_policy(
        self, actor: Actor, hearing_id: str, policy: IdentityPolicy
    ) -> IdentityPolicy:
        """Replace the hearing's policy. Someone already past the identity step stays there;
        someone waiting in it whom the new policy clears goes on at once."""
        require_staff(actor, "only court staff set the identity policy")
        hearing = await self._store.get_hearing(hearing_id)
        if hearing.is_terminal:
            raise Conflict(f"hearing is {hearing.state.value}")
        await self._store.set_identity_policy(hearing_id, policy)
        await self._hearings.audit(
            hearing_id, actor, AuditEvent.IDENTITY_POLICY_SET, {"policy": policy.to_json()}
        )
        for p in await self._store.list_participants(hearing_id):
            await self._publish(p)
            await self._move_on_if_cleared(p)
        return policy

    async def register(
        self,
        actor: Actor,
        participant_id: str,
        *,
        legal_name: str,
        id_type: IdType,
        id_number: str,
        phone: str,
        email: str | None = None,
    ) -> Registration:
        """Register who ``participant_id`` is on the case (replacing an earlier registration).

        The ID number is validated for its type (a resident ID by GB 11643-1999) and kept only
        as a keyed hash and its last four characters.
        """
        p = await self._store.get_participant(participant_id)
        hearing = await self._store.get_hearing(p.hearing_id)
        authorize(actor, Action.REGISTER_IDENTITY, hearing)
        if hearing.is_terminal:
            raise Conflict(f"hearing is {hearing.state.value}")
        number = validate_id_number(id_type, id_number)
        reg = Registration(
            participant_id=p.id,
            hearing_id=p.hearing_id,
            legal_name=check_legal_name(legal_name),
            id_type=id_type,
            id_digest=self._hasher.id_number(id_type.value, number),
            id_last4=number[-4:],
            phone=normalise_phone(phone),
            email=normalise_email(email) if email else None,
            registered_at=self._now(),
            registered_by=actor.id,
        )
        await self._store.put_registration(reg)
        await self._audit(
            p, actor, AuditEvent.IDENTITY_REGISTERED, id_type=id_type.value, email=bool(email)
        )
        await self._publish(p)
        return reg

    async def registration(self, actor: Actor, participant_id: str) -> Registration:
        """``participant_id``'s registration, for court staff and for the judge or clerk of
        their hearing (who register them)."""
        p = await self._store.get_participant(participant_id)
        authorize(actor, Action.REGISTER_IDENTITY, await self._store.get_hearing(p.hearing_id))
        reg = await self._store.get_registration(participant_id)
        if reg is None:
            raise NotFound("this participant is not registered", code="not_registered")
        return reg

    # -- the participant's own checks --------------------------------------------------------

    async def _registered(self, p: Participant) -> Registration:
        reg = await self._store.get_registration(p.id)
        if reg is None:
            raise Conflict(
                "you are not registered on this case yet: ask the clerk for help",
                code="not_registered",
            )
        return reg

    async def check_id_number(
        self, actor: Actor, *, legal_name: str, id_number: str
    ) -> dict[str, Any]:
        """The ID step: name and number against the registration, in constant time."""
        async with self._lock(actor.id):
            p, policy, status = await self._load(actor.id)
            now = self._now()
            required = policy.required(p.role)
            require_attempt(status, IdentityStep.ID_NUMBER, required, now)
            reg = await self._registered(p)
            method = {"method": IdentityStep.ID_NUMBER.value, "id_type": reg.id_type.value}
            try:
                number = validate_id_number(reg.id_type, id_number)
            except ValidationError as exc:
                # A typo the check digit caught tells nobody anything about the registration:
                # recorded, but not counted towards the lockout.
                await self._audit(
                    p, actor, AuditEvent.IDENTITY_CHECK_FAILED,
                    **method, outcome="invalid", reason=exc.code,
                )  # fmt: skip
                raise
            # Both comparisons always run, so the time taken does not tell which one failed.
            name_ok = hmac.compare_digest(
                name_key(legal_name).encode(), name_key(reg.legal_name).encode()
            )
            number_ok = self._hasher.same(
                self._hasher.id_number(reg.id_type.value, number), reg.id_digest
            )
            if name_ok and number_ok:
                status = pass_step(status, IdentityStep.ID_NUMBER, now)
                await self._store.put_identity_status(status)
                await self._audit(
                    p, actor, AuditEvent.IDENTITY_CHECK_PASSED, **method, outcome="passed"
                )
                return await self._after_step(p, IdentityStep.ID_NUMBER, True, None)
            status, locked = fail_step(status, IdentityStep.ID_NUMBER, now, self._rules)
            await self._store.put_identity_status(status)
            await self._audit(
                p, actor, AuditEvent.IDENTITY_CHECK_FAILED,
                **method, outcome="failed", reason="mismatch",
            )  # fmt: skip
            if locked:
                await self._locked(p, IdentityStep.ID_NUMBER, status)
            return await self._after_step(p, IdentityStep.ID_NUMBER, False, "mismatch")

    async def send_code(self, actor: Actor) -> dict[str, Any]:
        """Send a new one-time code to the registered phone (or e-mail). A failed send is
        retried by the sender, then reported to the participant and the clerk and audited;
        the cooldown only starts once a code went out."""
        async with self._lock(actor.id):
            p, policy, status = await self._load(actor.id)
            now = self._now()
            required = policy.required(p.role)
            require_attempt(status, IdentityStep.CODE, required, now)
            if status.passed(IdentityStep.CODE):
                raise Conflict("your code has been confirmed already", code="step_passed")
            require_code_send(status, now, self._rules)
            reg = await self._registered(p)
            recipient = reg.phone if self._recipient == "phone" else reg.email
            if not recipient:
                raise Conflict(
                    f"no {self._recipient} is registered for you: ask the clerk for help",
                    code="no_recipient",
                )
            code = new_code()
            hearing = await self._store.get_hearing(p.hearing_id)
            minutes = int(self._rules.code_ttl.total_seconds() // 60)
            message = Message(
                recipient=recipient,
                subject="庭审身份核验码 Hearing identity code",
                text=(
                    f"【{hearing.court}】您参加庭审的身份核验码为 {code}，{minutes}分钟内有效，"  # noqa: RUF001
                    f"请勿告诉他人。Your identity code for the hearing is {code}; it is valid "
                    f"for {minutes} minutes. Do not share it."
                ),
            )
            try:
                receipt = await self._sender.send(message)
            except SendError as exc:
                await self._audit(
                    p, actor, AuditEvent.IDENTITY_CODE_SEND_FAILED,
                    sender=self._sender.name, attempts=exc.attempts, error=exc.message[:300],
                )  # fmt: skip
                await self._alert(
                    p, "send_failed", f"the code could not be sent: {exc.message}",
                    step=IdentityStep.CODE.value,
                )  # fmt: skip
                raise Unavailable(
                    f"the code could not be sent ({exc.message}); try again or ask the clerk "
                    "for help",
                    code="send_failed",
                ) from exc
            status = issue_code(status, self._hasher.code(p.id, code), self._now(), self._rules)
            await self._store.put_identity_status(status)
            await self._audit(
                p, actor, AuditEvent.IDENTITY_CODE_SENT,
                sender=receipt.sender, attempts=receipt.attempts, to=self._recipient,
            )  # fmt: skip
            return {"identity": await self._publish(p)}

    async def enter_code(self, actor: Actor, code: str) -> dict[str, Any]:
        """The code step: single use, expires, a limited number of wrong entries."""
        async with self._lock(actor.id):
            p, policy, status = await self._load(actor.id)
            now = self._now()
            required = policy.required(p.role)
            if status.code is not None and status.code.used:
                # Checked first, so that a replayed code is named as such even once the step
                # (or the whole check) has passed.
                raise Conflict(
                    "this code has been used already; ask for a new one", code="code_used"
                )
            require_attempt(status, IdentityStep.CODE, required, now)
            if not re.fullmatch(r"\s*[0-9]{6}\s*", code):
                raise ValidationError("the code is 6 digits", code="invalid_code")
            status, passed, locked = enter_code(
                status,
                lambda digest: self._hasher.same(self._hasher.code(p.id, code), digest),
                now,
                self._rules,
            )
            await self._store.put_identity_status(status)
            method = {"method": IdentityStep.CODE.value}
            if passed:
                await self._audit(
                    p, actor, AuditEvent.IDENTITY_CHECK_PASSED, **method, outcome="passed"
                )
                return await self._after_step(p, IdentityStep.CODE, True, None)
            await self._audit(
                p, actor, AuditEvent.IDENTITY_CHECK_FAILED,
                **method, outcome="failed", reason="wrong_code",
            )  # fmt: skip
            if locked:
                await self._locked(p, IdentityStep.CODE, status)
            return await self._after_step(p, IdentityStep.CODE, False, "wrong_code")

    async def request_help(self, actor: Actor) -> dict[str, Any]:
        """The participant asks the clerk for help: the console is alerted."""
        async with self._lock(actor.id):
            p, _, status = await self._load(actor.id)
            now = self._now()
            last = status.help_requested_at
            if last is None or now - last >= HELP_REPEAT:
                await self._store.put_identity_status(replace(status, help_requested_at=now))
                await self._audit(p, actor, AuditEvent.IDENTITY_HELP_REQUESTED)
                await self._alert(p, "help_requested", f"{p.display_name} asks for help")
            return {"identity": await self._publish(p)}

    async def _locked(self, p: Participant, step: IdentityStep, status: IdentityStatus) -> None:
        until = status.record(step).locked_until
        await self._audit(
            p, Actor.system(), AuditEvent.IDENTITY_LOCKED, step=step.value, until=iso(until)
        )
        await self._alert(
            p,
            "locked",
            f"{p.display_name}: {self._rules.max_failures} failed {step.value} checks; "
            f"locked until {iso(until)}",
            step=step.value,
            until=iso(until),
        )

    async def _after_step(
        self, p: Participant, step: IdentityStep, passed: bool, reason: str | None
    ) -> dict[str, Any]:
        if passed and await self._gate.cleared(p):
            # Each step passes once, so this is recorded once: when the last one passed.
            await self._audit(p, Actor.system(), AuditEvent.IDENTITY_CLEARED, how="passed")
            await self._move_on_if_cleared(p)
        data = await self._publish(p)
        result: dict[str, Any] = {"step": step.value, "outcome": "passed" if passed else "failed"}
        if reason is not None:
            result["reason"] = reason
        return {"result": result, "identity": data}

    async def _move_on_if_cleared(self, p: Participant) -> None:
        if await self._gate.cleared(p):
            await self._live.identity_cleared(p.hearing_id, p.id)

    # -- face match and liveness --------------------------------------------------------------

    def _face_checks(self) -> tuple[FaceChecks, BiometricFiles]:
        if self._face is None or self._files is None:
            raise Conflict(
                "the face check is not available on this server: the clerk will verify you",
                code="step_unavailable",
            )
        return self._face, self._files

    async def set_reference_photo(
        self, actor: Actor, participant_id: str, data: bytes
    ) -> dict[str, Any]:
        """Store ``participant_id``'s reference photo (JPEG or PNG, 5 MB at most, exactly one
        face) and its encoding, owner-only under the data directory. Raises
        :class:`ValidationError` with ``image_invalid``, ``no_face`` or ``multiple_faces``."""
        p = await self._store.get_participant(participant_id)
        hearing = await self._store.get_hearing(p.hearing_id)
        authorize(actor, Action.REGISTER_IDENTITY, hearing)
        checks, files = self._face_checks()
        if hearing.is_terminal:
            raise Conflict(f"hearing is {hearing.state.value}")
        result = await checks.analyse_photo(data)
        if result.problem is not None:
            raise ValidationError(result.problem.message, code="image_invalid")
        analysis = result.analysis
        assert analysis is not None
        if analysis.faces == 0:
            raise ValidationError("no face was found in the photo", code="no_face")
        if analysis.faces > 1:
            raise ValidationError(
                f"the photo shows {analysis.faces} faces; it must show only this person",
                code="multiple_faces",
            )
        assert analysis.encoding is not None
        encoding = [float(v) for v in analysis.encoding]
        await asyncio.to_thread(files.put, p.hearing_id, p.id, data, encoding)
        await self._audit(p, actor, AuditEvent.IDENTITY_PHOTO_SET, size=len(data))
        return {"identity": await self._publish(p)}

    async def start_face_check(self, actor: Actor) -> dict[str, Any]:
        """Start the camera check of face match and liveness on the participant's own
        published video: returns the challenges to show, in order, and the time limit."""
        async with self._lock(actor.id):
            checks, files = self._face_checks()
            p, policy, status = await self._load(actor.id)
            now = self._now()
            required = policy.required(p.role)
            steps = [s for s in CAMERA_STEPS if s in required and not status.passed(s)]
            if not steps:
                step = next((s for s in CAMERA_STEPS if s in required), IdentityStep.FACE)
                require_attempt(status, step, required, now)  # raises: not required / passed
            require_attempt(status, steps[0], required, now)
            if checks.running(p.id):
                raise Conflict("your camera check is running", code="check_running")
            reference = await asyncio.to_thread(files.encoding, p.hearing_id, p.id)
            if reference is None and IdentityStep.FACE not in required:
                reference = [0.0] * 128  # liveness alone: the face decision is not used
            if reference is None:
                raise Conflict(
                    "no reference photo is registered for you: ask the clerk for help",
                    code="no_reference_photo",
                )
            challenges = new_challenges()
            checks.start(p, reference, challenges, self._threshold)
            await self._audit(
                p, actor, AuditEvent.IDENTITY_FACE_CHECK_STARTED,
                steps=[s.value for s in steps], challenges=[c.value for c in challenges],
            )  # fmt: skip
            check = {
                "steps": [s.value for s in steps],
                "challenges": [c.value for c in challenges],
                "prompts": [PROMPTS[c] for c in challenges],
                "time_limit_s": TIME_LIMIT_S,
            }
            return {"check": check, "identity": await self._publish(p)}

    async def face_progress(self, p: Participant, data: dict[str, Any]) -> None:
        await self._hearings.events.publish(IdentityProgress(p.hearing_id, p.id, data))

    async def record_face_result(
        self, participant_id: str, result: CheckResult | None, failure: str | None = None
    ) -> None:
        """A camera check ended: record the face step (passed or failed, with the distance)
        and then, once the face matched, the liveness step. ``result`` is None when the check
        could not run (``failure`` says why). Never stores a frame or an encoding."""
        async with self._lock(participant_id):
            p, policy, status = await self._load(participant_id)
            now = self._now()
            required = policy.required(p.role)
            if result is None:
                outcome = FaceOutcome(
                    "no_face", None, self._threshold, "failed", failure or "failed", now
                )
            else:
                outcome = FaceOutcome(
                    result.match.decision.value,
                    None if result.match.distance is None else round(result.match.distance, 4),
                    result.match.threshold,
                    "passed" if result.liveness_passed else "failed",
                    result.liveness_reason,
                    now,
                )
            status = replace(status, face=outcome)
            if status.override is not None:  # verified or waived meanwhile: shown, not counted
                await self._store.put_identity_status(status)
                await self._publish(p)
                return
            actor = Actor.system()
            passed_now: list[IdentityStep] = []
            locked: list[IdentityStep] = []
            face = IdentityStep.FACE
            if face in required and not status.passed(face):
                data: dict[str, Any] = {
                    "method": face.value,
                    "distance": outcome.distance,
                    "threshold": outcome.threshold,
                }
                if outcome.decision == "same":
                    status = pass_step(status, face, now)
                    passed_now.append(face)
                    await self._audit(
                        p, actor, AuditEvent.IDENTITY_CHECK_PASSED, **data, outcome="passed"
                    )
                else:
                    status, was_locked = fail_step(status, face, now, self._rules)
                    if was_locked:
                        locked.append(face)
                    reason = outcome.decision if result is not None else outcome.reason
                    await self._audit(
                        p, actor, AuditEvent.IDENTITY_CHECK_FAILED,
                        **data, outcome="failed", reason=reason,
                    )  # fmt: skip
            live = IdentityStep.LIVENESS
            face_ok = face not in required or status.passed(face)
            if live in required and not status.passed(live) and face_ok:
                data = {
                    "method": live.value,
                    "challenges": [] if result is None else [c.value for c in result.challenges],
                }
                if outcome.liveness == "passed":
                    status = pass_step(status, live, now)
                    passed_now.append(live)
                    await self._audit(
                        p, actor, AuditEvent.IDENTITY_CHECK_PASSED, **data, outcome="passed"
                    )
                else:
                    status, was_locked = fail_step(status, live, now, self._rules)
                    if was_locked:
                        locked.append(live)
                    await self._audit(
                        p, actor, AuditEvent.IDENTITY_CHECK_FAILED,
                        **data, outcome="failed", reason=outcome.reason,
                    )  # fmt: skip
            await self._store.put_identity_status(status)
            for step in locked:
                await self._locked(p, step, status)
            if passed_now and await self._gate.cleared(p):
                await self._audit(p, actor, AuditEvent.IDENTITY_CLEARED, how="passed")
                await self._move_on_if_cleared(p)
            await self._publish(p)

    async def purge_biometrics(self, *, now: datetime | None = None) -> list[str]:
        """Delete the reference photos and encodings of every hearing closed longer ago than
        the retention (and of hearings that no longer exist). Returns the hearings purged."""
        if self._files is None:
            return []
        files = self._files
        now = now or self._now()
        purged = []
        for hearing_id in await asyncio.to_thread(files.hearings):
            try:
                hearing = await self._store.get_hearing(hearing_id)
            except NotFound:
                await asyncio.to_thread(files.delete_hearing, hearing_id)
                purged.append(hearing_id)
                continue
            ended = hearing.actual_end
            if not hearing.is_terminal or ended is None or now - ended < self._retention:
                continue
            count = await asyncio.to_thread(files.delete_hearing, hearing_id)
            await self._hearings.audit(
                hearing_id, Actor.system(), AuditEvent.BIOMETRICS_PURGED,
                {"files": count, "retention_days": self._retention.total_seconds() / 86400},
            )  # fmt: skip
            purged.append(hearing_id)
        return purged

    # -- the clerk's and the presiding judge's overrides -------------------------------------

    async def verify(self, actor: Actor, participant_id: str, reason: str) -> dict[str, Any]:
        """The clerk (or presiding judge) confirms someone's identity by hand, with reason."""
        return await self._override(
            actor, participant_id, reason, Action.VERIFY_IDENTITY, IdentityOutcome.VERIFIED
        )

    async def waive(self, actor: Actor, participant_id: str, reason: str) -> dict[str, Any]:
        """The presiding judge lets someone in without the identity check, with reason."""
        return await self._override(
            actor, participant_id, reason, Action.WAIVE_IDENTITY, IdentityOutcome.WAIVED
        )

    async def _override(
        self,
        actor: Actor,
        participant_id: str,
        reason: str,
        action: Action,
        outcome: IdentityOutcome,
    ) -> dict[str, Any]:
        p = await self._store.get_participant(participant_id)
        hearing = await self._store.get_hearing(p.hearing_id)
        authorize(actor, action, hearing)
        if actor.hearing_id is not None and actor.hearing_id != p.hearing_id:
            raise NotFound(f"no participant {participant_id} in this hearing")
        async with self._lock(p.id):
            policy = await self._gate.policy(p.hearing_id)
            required = policy.required(p.role)
            if not required:
                raise Conflict(
                    "no identity check is required of this person", code="identity_cleared"
                )
            status = await self._gate.status(p)
            after = override(status, outcome, actor.id, reason, required, self._now())
            await self._store.put_identity_status(after)
            assert after.override is not None
            event = (
                AuditEvent.IDENTITY_VERIFIED
                if outcome is IdentityOutcome.VERIFIED
                else AuditEvent.IDENTITY_WAIVED
            )
            await self._audit(
                p, actor, event,
                reason=after.override.reason,
                pending=[s.value for s in after.override.pending],
            )  # fmt: skip
            await self._audit(p, actor, AuditEvent.IDENTITY_CLEARED, how=outcome.value)
        await self._live.identity_cleared(p.hearing_id, p.id)
        return {"identity": await self._publish(p)}

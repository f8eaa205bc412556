"""The mediation agreement (调解协议书): its content, its versions and its state machine.

Flow (docs/domain.md "Mediation flow"): draft → proposed → each party accepts, or asks for
changes (back to draft) → accepted by every party → signing → signed by each party, one at a
time, in the order they sign → sealed by the mediation organisation → (optional) judicial
confirmation (司法确认) requested. Or ``no_agreement``, with its reason, at any point before the
seal. Every method here either returns the agreement after a whole change or raises a
:class:`~hearing_server.core.errors.DomainError` and changes nothing.

The text a party accepts is named by its content hash, so that nobody accepts (or signs) a
version other than the one on their screen. The signed PDF's bytes live outside the domain
(the service stores them); the agreement keeps each revision's SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from .errors import Conflict, Forbidden, ValidationError
from .identity import CodeChallenge, IdentityRules, check_code

LANGUAGES = ("zh-CN", "en")
MAX_TERMS = 100
MAX_RECITALS = 30
MAX_TEXT = 4000  # characters of one term or recital
MAX_SHORT = 1000  # schedule, method, costs
MAX_AMOUNT = Decimal("1000000000000")
MAX_COMMENT = 2000
MAX_REASON = 1000


class AgreementState(StrEnum):
    """Where the agreement is in its flow."""

    DRAFT = "draft"
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    SIGNING = "signing"
    SIGNED = "signed"
    SEALED = "sealed"
    CONFIRMATION_REQUESTED = "confirmation_requested"
    NO_AGREEMENT = "no_agreement"


# Before the seal the mediation may still end without agreement; after it, the document is
# final and only the judicial confirmation may follow.
_MAY_FAIL = frozenset(
    {
        AgreementState.DRAFT,
        AgreementState.PROPOSED,
        AgreementState.ACCEPTED,
        AgreementState.SIGNING,
        AgreementState.SIGNED,
    }
)


def _invalid(message: str) -> Conflict:
    return Conflict(message, code="invalid_transition")


# -- content ------------------------------------------------------------------------------------


def _text(name: str, value: Any, limit: int, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string", code="invalid_field")
    text = unicodedata.normalize("NFC", value).strip()
    if required and not text:
        raise ValidationError(f"{name} must not be empty", code="invalid_field")
    if len(text) > limit:
        raise ValidationError(f"{name} is longer than {limit} characters", code="invalid_field")
    if any((ord(ch) < 32 and ch not in "\n\t") or "\ud800" <= ch <= "\udfff" for ch in text):
        raise ValidationError(f"{name} holds control characters", code="invalid_field")
    return text


def _texts(name: str, value: Any, limit: int, *, minimum: int) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValidationError(f"{name} must be a list of strings", code="invalid_field")
    if not minimum <= len(value) <= limit:
        raise ValidationError(
            f"{name} holds {minimum} to {limit} entries, not {len(value)}", code="invalid_field"
        )
    return tuple(_text(f"{name}[{i}]", v, MAX_TEXT) for i, v in enumerate(value))


def _object(name: str, value: Any, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(f"{name} must be an object", code="invalid_body")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ValidationError(f"{name}: unknown field {unknown[0]!r}", code="unknown_field")
    return value


@dataclass(frozen=True, slots=True)
class Payment:
    """What one side pays the other: amount (yuan, two decimals), when and how."""

    amount: Decimal
    currency: str
    schedule: str
    method: str

    def to_json(self) -> dict[str, str]:
        return {
            "amount": f"{self.amount:.2f}",
            "currency": self.currency,
            "schedule": self.schedule,
            "method": self.method,
        }

    @classmethod
    def from_json(cls, data: Any) -> Payment:
        raw = _object("payment", data, frozenset({"amount", "currency", "schedule", "method"}))
        amount_text = raw.get("amount")
        if isinstance(amount_text, bool) or not isinstance(amount_text, (str, int)):
            raise ValidationError("payment.amount must be a decimal string", code="invalid_field")
        text = str(amount_text).strip()
        if not re.fullmatch(r"[0-9]{1,13}(\.[0-9]{1,2})?", text):
            raise ValidationError(
                "payment.amount is a positive amount with at most two decimals, e.g. 12000.50",
                code="invalid_amount",
            )
        try:
            amount = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            raise ValidationError("payment.amount is not a number", code="invalid_amount") from None
        if not Decimal("0") < amount < MAX_AMOUNT:
            raise ValidationError("payment.amount is out of range", code="invalid_amount")
        currency = _text("payment.currency", raw.get("currency", "CNY"), 3)
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ValidationError("payment.currency is an ISO 4217 code", code="invalid_field")
        return cls(
            amount=amount,
            currency=currency,
            schedule=_text("payment.schedule", raw.get("schedule"), MAX_SHORT),
            method=_text("payment.method", raw.get("method"), MAX_SHORT),
        )


@dataclass(frozen=True, slots=True)
class AgreementContent:
    """What the mediator drafts: the recitals, the numbered terms, the payment and costs.

    Who the parties are, the case and the mediator come from the hearing, never from the
    draft, so that a draft cannot name someone who is not on the case.
    """

    language: str
    recitals: tuple[str, ...]
    terms: tuple[str, ...]
    payment: Payment | None
    costs: str
    agreed_on: date

    def to_json(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "recitals": list(self.recitals),
            "terms": list(self.terms),
            "payment": self.payment.to_json() if self.payment else None,
            "costs": self.costs,
            "agreed_on": self.agreed_on.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Any) -> AgreementContent:
        """Validate a draft: every problem is a clear :class:`ValidationError`."""
        raw = _object(
            "agreement",
            data,
            frozenset({"language", "recitals", "terms", "payment", "costs", "agreed_on"}),
        )
        language = raw.get("language", "zh-CN")
        if language not in LANGUAGES:
            raise ValidationError(
                f"language is one of {', '.join(LANGUAGES)}", code="invalid_field"
            )
        agreed_raw = raw.get("agreed_on")
        if not isinstance(agreed_raw, str):
            raise ValidationError("agreed_on is a date, e.g. 2026-12-07", code="invalid_field")
        try:
            agreed_on = date.fromisoformat(agreed_raw)
        except ValueError:
            raise ValidationError(
                "agreed_on is a date, e.g. 2026-12-07", code="invalid_date"
            ) from None
        payment = raw.get("payment")
        return cls(
            language=language,
            recitals=_texts("recitals", raw.get("recitals", []), MAX_RECITALS, minimum=0),
            terms=_texts("terms", raw.get("terms"), MAX_TERMS, minimum=1),
            payment=None if payment is None else Payment.from_json(payment),
            costs=_text("costs", raw.get("costs"), MAX_SHORT, required=False),
            agreed_on=agreed_on,
        )


@dataclass(frozen=True, slots=True)
class AgreementParty:
    """A party to the agreement, as the document names them."""

    participant_id: str
    name: str
    masked_id: str | None  # e.g. "**************1234"; None if no ID is registered
    side: str

    def to_json(self) -> dict[str, Any]:
        return {
            "participant_id": self.participant_id,
            "name": self.name,
            "masked_id": self.masked_id,
            "side": self.side,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AgreementParty:
        return cls(d["participant_id"], d["name"], d.get("masked_id"), d["side"])


@dataclass(frozen=True, slots=True)
class AgreementVersion:
    """One saved draft: its content and the hash that names it."""

    number: int
    content: AgreementContent
    content_hash: str
    created_at: datetime
    created_by: str


def content_hash(
    content: AgreementContent,
    parties: tuple[AgreementParty, ...],
    case: Mapping[str, str],
) -> str:
    """SHA-256 of the canonical JSON of everything the document says: the hash printed on
    every page and the name under which a party accepts a version."""
    doc = {
        "case": dict(case),
        "parties": [p.to_json() for p in parties],
        "content": content.to_json(),
    }
    raw = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


# -- the agreement ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Acceptance:
    participant_id: str
    version: int
    at: datetime


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    participant_id: str
    version: int
    comment: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Signature:
    """A party's signature: the PDF revision it produced and that revision's SHA-256."""

    participant_id: str
    at: datetime
    revision: int
    pdf_sha256: str


@dataclass(frozen=True, slots=True)
class Agreement:
    """The agreement of one mediation. ``revision`` counts stored changes (optimistic
    concurrency in the store); ``version`` is the current draft's number; ``pdf_revision``
    the latest PDF (1: as rendered for signing, then one per signature and the seal)."""

    id: str
    hearing_id: str
    case: Mapping[str, str]  # case_number, court, title, mediator
    parties: tuple[AgreementParty, ...]
    state: AgreementState = AgreementState.DRAFT
    version: int = 0
    content_hash: str | None = None
    acceptances: tuple[Acceptance, ...] = ()
    change_requests: tuple[ChangeRequest, ...] = ()
    signatures: tuple[Signature, ...] = ()
    sign_codes: Mapping[str, CodeChallenge] = field(default_factory=dict)
    pdf_revision: int = 0
    pdf_sha256: str | None = None
    sealed_at: datetime | None = None
    confirmation_requested_at: datetime | None = None
    confirmation_sha256: str | None = None  # the application for judicial confirmation
    no_agreement_reason: str | None = None
    revision: int = 0

    # -- reading --------------------------------------------------------------------------

    @property
    def party_ids(self) -> frozenset[str]:
        return frozenset(p.participant_id for p in self.parties)

    def party(self, pid: str) -> AgreementParty:
        for p in self.parties:
            if p.participant_id == pid:
                return p
        raise Forbidden("only a party to the agreement may do this", code="not_a_party")

    def accepted_by(self) -> frozenset[str]:
        return frozenset(a.participant_id for a in self.acceptances if a.version == self.version)

    def signed_by(self) -> frozenset[str]:
        return frozenset(s.participant_id for s in self.signatures)

    @property
    def visible_to_parties(self) -> bool:
        """Drafts are the mediator's; from the proposal on, every party sees it."""
        return self.state is not AgreementState.DRAFT or bool(self.signatures)

    # -- the mediator's moves --------------------------------------------------------------

    def revise(self, number: int, digest: str) -> Agreement:
        """A new draft version was saved (only while drafting)."""
        if self.state is not AgreementState.DRAFT:
            raise _invalid(f"the agreement is {self.state.value}: take it back to draft first")
        if number != self.version + 1:
            raise Conflict("another version was saved meanwhile", code="stale_version")
        return replace(self, version=number, content_hash=digest, acceptances=())

    def propose(self) -> Agreement:
        if self.state is not AgreementState.DRAFT:
            raise _invalid(f"only a draft can be proposed (it is {self.state.value})")
        if self.version == 0:
            raise _invalid("save a draft before proposing it")
        if not self.parties:
            raise _invalid("the mediation has no parties to agree")
        return replace(self, state=AgreementState.PROPOSED, acceptances=())

    def back_to_draft(self) -> Agreement:
        """The mediator takes a proposal back to change it (before anyone signs)."""
        if self.state not in (AgreementState.PROPOSED, AgreementState.ACCEPTED):
            raise _invalid(f"an agreement that is {self.state.value} cannot be edited")
        return replace(self, state=AgreementState.DRAFT, acceptances=())

    def open_signing(self, pdf_sha256: str) -> Agreement:
        """Every party accepted: the document is rendered once, and signing starts."""
        if self.state is not AgreementState.ACCEPTED:
            raise _invalid("signing opens once every party has accepted the proposal")
        return replace(self, state=AgreementState.SIGNING, pdf_revision=1, pdf_sha256=pdf_sha256)

    def seal(self, pdf_sha256: str, now: datetime) -> Agreement:
        if self.state is not AgreementState.SIGNED:
            raise _invalid("the organisation seals once every party has signed")
        return replace(
            self,
            state=AgreementState.SEALED,
            pdf_revision=self.pdf_revision + 1,
            pdf_sha256=pdf_sha256,
            sealed_at=now,
        )

    def request_confirmation(self, now: datetime, application_sha256: str = "") -> Agreement:
        if self.state is not AgreementState.SEALED:
            raise _invalid("judicial confirmation is requested for a sealed agreement")
        return replace(
            self,
            state=AgreementState.CONFIRMATION_REQUESTED,
            confirmation_requested_at=now,
            confirmation_sha256=application_sha256 or None,
        )

    def fail(self, reason: str) -> Agreement:
        """The mediation ends without agreement (``no_agreement``), with its reason."""
        if self.state not in _MAY_FAIL:
            raise _invalid(f"an agreement that is {self.state.value} stands")
        text = _text("reason", reason, MAX_REASON)
        return replace(self, state=AgreementState.NO_AGREEMENT, no_agreement_reason=text)

    # -- the parties' moves ----------------------------------------------------------------

    def accept(self, pid: str, digest: str, now: datetime) -> Agreement:
        """``pid`` accepts the proposal they read (named by ``digest``)."""
        self.party(pid)
        if self.state is not AgreementState.PROPOSED:
            raise _invalid(f"there is no proposal to accept (it is {self.state.value})")
        if digest != self.content_hash:
            raise Conflict(
                "the proposal changed since you read it: read it again", code="stale_version"
            )
        if pid in self.accepted_by():
            return self
        after = replace(self, acceptances=(*self.acceptances, Acceptance(pid, self.version, now)))
        if after.accepted_by() >= self.party_ids:
            after = replace(after, state=AgreementState.ACCEPTED)
        return after

    def request_changes(self, pid: str, comment: str, now: datetime) -> Agreement:
        """``pid`` asks for changes: the proposal goes back to the mediator as a draft."""
        self.party(pid)
        if self.state is not AgreementState.PROPOSED:
            raise _invalid(f"there is no proposal to comment on (it is {self.state.value})")
        text = _text("comment", comment, MAX_COMMENT)
        return replace(
            self,
            state=AgreementState.DRAFT,
            acceptances=(),
            change_requests=(
                *self.change_requests,
                ChangeRequest(pid, self.version, text, now),
            ),
        )

    def may_sign(self, pid: str) -> None:
        """Raise unless ``pid`` may sign now."""
        self.party(pid)
        if self.state is not AgreementState.SIGNING:
            raise _invalid(f"the agreement is not open for signing (it is {self.state.value})")
        if pid in self.signed_by():
            raise Conflict("you have signed already", code="already_signed")

    def with_code(self, pid: str, challenge: CodeChallenge) -> Agreement:
        return replace(self, sign_codes={**self.sign_codes, pid: challenge})

    def add_signature(self, pid: str, pdf_sha256: str, now: datetime) -> Agreement:
        self.may_sign(pid)
        revision = self.pdf_revision + 1
        after = replace(
            self,
            signatures=(*self.signatures, Signature(pid, now, revision, pdf_sha256)),
            pdf_revision=revision,
            pdf_sha256=pdf_sha256,
        )
        if after.signed_by() >= self.party_ids:
            after = replace(after, state=AgreementState.SIGNED)
        return after


# -- signing codes (the same rules as the identity check's one-time code) -----------------------


def require_sign_code_send(
    agreement: Agreement, pid: str, now: datetime, rules: IdentityRules
) -> None:
    """Raise unless a new signing code may be sent to ``pid`` now (cooldown)."""
    agreement.may_sign(pid)
    current = agreement.sign_codes.get(pid)
    if current is not None and now < current.issued_at + rules.code_resend:
        wait = int((current.issued_at + rules.code_resend - now).total_seconds()) + 1
        raise Conflict(f"wait {wait} s before asking for another code", code="code_cooldown")


def check_sign_code(
    agreement: Agreement,
    pid: str,
    matches: Callable[[str], bool],
    now: datetime,
    rules: IdentityRules,
) -> tuple[Agreement, bool]:
    """Check the code ``pid`` entered to sign (the identity code's rules, :func:`check_code`);
    returns the agreement (tries counted, the code marked used when right) and whether it was
    right."""
    agreement.may_sign(pid)
    challenge, right = check_code(
        agreement.sign_codes.get(pid), matches, now, rules, ask_first="ask for a signing code first"
    )
    return agreement.with_code(pid, challenge), right


# -- storage form ---------------------------------------------------------------------------------


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def agreement_to_json(a: Agreement) -> dict[str, Any]:
    """Every field, as stored (sign-code digests included: never hand this to a client)."""
    return {
        "id": a.id,
        "hearing_id": a.hearing_id,
        "case": dict(a.case),
        "parties": [p.to_json() for p in a.parties],
        "state": a.state.value,
        "version": a.version,
        "content_hash": a.content_hash,
        "acceptances": [
            {"participant_id": x.participant_id, "version": x.version, "at": x.at.isoformat()}
            for x in a.acceptances
        ],
        "change_requests": [
            {
                "participant_id": x.participant_id,
                "version": x.version,
                "comment": x.comment,
                "at": x.at.isoformat(),
            }
            for x in a.change_requests
        ],
        "signatures": [
            {
                "participant_id": s.participant_id,
                "at": s.at.isoformat(),
                "revision": s.revision,
                "pdf_sha256": s.pdf_sha256,
            }
            for s in a.signatures
        ],
        "sign_codes": {
            pid: {
                "digest": c.digest,
                "issued_at": c.issued_at.isoformat(),
                "expires_at": c.expires_at.isoformat(),
                "tries": c.tries,
                "used": c.used,
                "spent": c.spent,
            }
            for pid, c in a.sign_codes.items()
        },
        "pdf_revision": a.pdf_revision,
        "pdf_sha256": a.pdf_sha256,
        "sealed_at": _iso(a.sealed_at),
        "confirmation_requested_at": _iso(a.confirmation_requested_at),
        "confirmation_sha256": a.confirmation_sha256,
        "no_agreement_reason": a.no_agreement_reason,
        "revision": a.revision,
    }


def agreement_from_json(d: Mapping[str, Any]) -> Agreement:
    return Agreement(
        id=d["id"],
        hearing_id=d["hearing_id"],
        case=dict(d["case"]),
        parties=tuple(AgreementParty.from_json(p) for p in d["parties"]),
        state=AgreementState(d["state"]),
        version=d["version"],
        content_hash=d.get("content_hash"),
        acceptances=tuple(
            Acceptance(x["participant_id"], x["version"], datetime.fromisoformat(x["at"]))
            for x in d.get("acceptances", [])
        ),
        change_requests=tuple(
            ChangeRequest(
                x["participant_id"], x["version"], x["comment"], datetime.fromisoformat(x["at"])
            )
            for x in d.get("change_requests", [])
        ),
        signatures=tuple(
            Signature(
                s["participant_id"],
                datetime.fromisoformat(s["at"]),
                s["revision"],
                s["pdf_sha256"],
            )
            for s in d.get("signatures", [])
        ),
        sign_codes={
            pid: CodeChallenge(
                digest=c["digest"],
                issued_at=datetime.fromisoformat(c["issued_at"]),
                expires_at=datetime.fromisoformat(c["expires_at"]),
                tries=c["tries"],
                used=c["used"],
                spent=c["spent"],
            )
            for pid, c in d.get("sign_codes", {}).items()
        },
        pdf_revision=d.get("pdf_revision", 0),
        pdf_sha256=d.get("pdf_sha256"),
        sealed_at=_dt(d.get("sealed_at")),
        confirmation_requested_at=_dt(d.get("confirmation_requested_at")),
        confirmation_sha256=d.get("confirmation_sha256"),
        no_agreement_reason=d.get("no_agreement_reason"),
        revision=d.get("revision", 0),
    )

"""What a mediation agreement (调解协议书) says: the model the PDF is rendered from.

The model is plain data: frozen dataclasses of strings, validated when built, so a document
that renders is one whose every field fits the template. ``content_hash()`` is "the document
hash" printed on every page; it is the hash of the *content*, not of the PDF (a PDF cannot
carry its own hash, and each signature adds bytes to it).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from .errors import DocumentError

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")

# Limits. Generous for real agreements, small enough that one request cannot make the
# renderer build a thousand-page PDF or hold megabytes of text.
MAX_PARTIES = 20
MAX_TERMS = 200
MAX_RECITALS = 50
MAX_NAME = 100  # person, organisation, mediator, role label
MAX_SHORT = 200  # title, case number, currency-free short texts
MAX_TEXT = 4000  # one term, one recital, the payment schedule or method, the costs

_MASKED_ID = re.compile(r"^[0-9A-Za-z*]{4,32}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _check_text(
    value: object, what: str, limit: int, *, required: bool = True, multiline: bool = False
) -> str:
    """One text field: a str, within ``limit`` characters, no control characters.

    Control characters are refused because they cannot be drawn and would make two documents
    that look the same hash differently; newlines are allowed only in long texts.
    """
    if not isinstance(value, str):
        raise DocumentError(f"{what}_invalid", f"{what} must be a string")
    if required and not value.strip():
        raise DocumentError(f"{what}_missing", f"{what} is required")
    if len(value) > limit:
        raise DocumentError(
            f"{what}_too_long", f"{what} has {len(value)} characters, at most {limit} allowed"
        )
    for ch in value:
        if ch == "\n" and multiline:
            continue
        if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") and ch != "\t":
            raise DocumentError(
                f"{what}_invalid", f"{what} contains the control character U+{ord(ch):04X}"
            )
    return value


def _check_list(value: Iterable[str], what: str, limit: int, item_limit: int) -> tuple[str, ...]:
    if isinstance(value, str):
        raise DocumentError(f"{what}_invalid", f"{what} must be a list of strings")
    items = tuple(value)
    if len(items) > limit:
        raise DocumentError(f"{what}_too_many", f"{len(items)} {what}, at most {limit} allowed")
    for item in items:
        # the code names one item: "term_too_long", "recital_missing"
        _check_text(item, what[:-1], item_limit, multiline=True)
    return items


@dataclass(frozen=True)
class Party:
    """One party: name, masked ID number (e.g. ``**************1234``) and role label (申请人)."""

    name: str
    masked_id: str
    role: str

    def __post_init__(self) -> None:
        _check_text(self.name, "party_name", MAX_NAME)
        _check_text(self.role, "party_role", MAX_NAME)
        if not isinstance(self.masked_id, str) or not _MASKED_ID.match(self.masked_id):
            raise DocumentError(
                "party_masked_id_invalid",
                "masked_id must be 4 to 32 characters of digits, letters and '*'",
            )
        if "*" not in self.masked_id:
            # A full ID number must never reach the PDF: the application masks it first.
            raise DocumentError("party_masked_id_invalid", "masked_id must be masked with '*'")


@dataclass(frozen=True)
class Payment:
    """A payment: amount as a decimal string (``"12000.00"``), ISO currency, schedule, method."""

    amount: str
    currency: str
    schedule: str
    method: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, str):
            raise DocumentError("payment_amount_invalid", "amount must be a decimal string")
        try:
            amount = Decimal(self.amount)
        except InvalidOperation:
            raise DocumentError(
                "payment_amount_invalid", f"amount {self.amount[:40]!r} is not a decimal number"
            ) from None
        exponent = amount.as_tuple().exponent
        if (
            not amount.is_finite()
            or amount <= 0
            or amount >= Decimal("1e15")
            or not isinstance(exponent, int)
            or exponent < -2
        ):
            raise DocumentError(
                "payment_amount_invalid",
                "amount must be positive, below 10^15, with at most two decimal places",
            )
        if not isinstance(self.currency, str) or not _CURRENCY.match(self.currency):
            raise DocumentError("payment_currency_invalid", "currency must be an ISO 4217 code")
        _check_text(self.schedule, "payment_schedule", MAX_TEXT, multiline=True)
        _check_text(self.method, "payment_method", MAX_TEXT, multiline=True)


@dataclass(frozen=True)
class AgreementDocument:
    """The content of one mediation agreement, as rendered and hashed.

    Lists given for ``parties``, ``recitals`` and ``terms`` are stored as tuples (the object is
    immutable: its hash must not change under a reference someone else holds).
    Raises :class:`~esign.errors.DocumentError` (with a ``code``) on any invalid field.
    """

    case_number: str
    organisation: str
    title: str
    language: Language
    parties: tuple[Party, ...]
    mediator: str
    recitals: tuple[str, ...]
    terms: tuple[str, ...]
    costs: str
    date: datetime.date
    payment: Payment | None = None
    _hash: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_text(self.case_number, "case_number", MAX_SHORT)
        _check_text(self.organisation, "organisation", MAX_NAME)
        _check_text(self.title, "title", MAX_SHORT)
        _check_text(self.mediator, "mediator", MAX_NAME)
        _check_text(self.costs, "costs", MAX_TEXT, required=False, multiline=True)
        if self.language not in LANGUAGES:
            raise DocumentError("language_invalid", f"language must be one of {LANGUAGES}")
        if not isinstance(self.date, datetime.date) or isinstance(self.date, datetime.datetime):
            raise DocumentError("date_invalid", "date must be a datetime.date")
        parties = tuple(self.parties)
        if not 1 <= len(parties) <= MAX_PARTIES:
            raise DocumentError("parties_count", f"between 1 and {MAX_PARTIES} parties")
        if not all(isinstance(p, Party) for p in parties):
            raise DocumentError("parties_invalid", "parties must be Party objects")
        terms = _check_list(self.terms, "terms", MAX_TERMS, MAX_TEXT)
        if not terms:
            raise DocumentError("terms_missing", "an agreement needs at least one term")
        recitals = _check_list(self.recitals, "recitals", MAX_RECITALS, MAX_TEXT)
        if self.payment is not None and not isinstance(self.payment, Payment):
            raise DocumentError("payment_invalid", "payment must be a Payment or None")
        object.__setattr__(self, "parties", parties)
        object.__setattr__(self, "terms", terms)
        object.__setattr__(self, "recitals", recitals)
        object.__setattr__(self, "_hash", _sha256_canonical(self.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        """The content as JSON-ready data (what :meth:`content_hash` hashes)."""
        return {
            "case_number": self.case_number,
            "organisation": self.organisation,
            "title": self.title,
            "language": self.language,
            "parties": [
                {"name": p.name, "masked_id": p.masked_id, "role": p.role} for p in self.parties
            ],
            "mediator": self.mediator,
            "recitals": list(self.recitals),
            "terms": list(self.terms),
            "payment": None
            if self.payment is None
            else {
                "amount": self.payment.amount,
                "currency": self.payment.currency,
                "schedule": self.payment.schedule,
                "method": self.payment.method,
            },
            "costs": self.costs,
            "date": self.date.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgreementDocument:
        """Build from :meth:`to_dict`'s shape (e.g. as stored by the application)."""
        try:
            payment = data.get("payment")
            return cls(
                case_number=data["case_number"],
                organisation=data["organisation"],
                title=data["title"],
                language=data["language"],
                parties=tuple(Party(**p) for p in data["parties"]),
                mediator=data["mediator"],
                recitals=tuple(data.get("recitals", ())),
                terms=tuple(data["terms"]),
                payment=None if payment is None else Payment(**payment),
                costs=data.get("costs", ""),
                date=datetime.date.fromisoformat(data["date"]),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise DocumentError("document_invalid", f"malformed document data: {exc}") from None

    def content_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the content: "the document hash".

        Canonical: keys sorted, no insignificant whitespace, UTF-8, text NFC-normalised, so the
        same content always gives the same hash whatever produced it.
        """
        return self._hash


def _nfc(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [_nfc(v) for v in value]
    if isinstance(value, dict):
        return {k: _nfc(v) for k, v in value.items()}
    return value


def _sha256_canonical(data: dict[str, Any]) -> str:
    payload = json.dumps(
        {"format": "esign.agreement/1", "content": _nfc(data)},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()

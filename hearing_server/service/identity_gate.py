"""The gate before the waiting room: whether a participant may leave the identity step, and
the ID numbers a registration accepts."""

from __future__ import annotations

import re

from hearing_server.core.errors import ValidationError
from hearing_server.core.identity import IdentityPolicy, IdentityStatus, IdType
from hearing_server.core.participant import Participant
from hearing_server.store.base import Store
from identitykit import ResidentIdError, normalise_id_number
from identitykit import validate_resident_id as _validate_resident_id

_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")
_OTHER_ID = re.compile(r"^[A-Z0-9()]{1,40}$")


def validate_id_number(id_type: IdType, number: str) -> str:
    """``number`` normalised for ``id_type``, or :class:`ValidationError` with a code per
    problem (``id_check_digit``, ``id_birth_date``, ``id_region``, ``id_length``, ...)."""
    if id_type is IdType.RESIDENT_ID:
        try:
            return _validate_resident_id(number)
        except ResidentIdError as exc:
            raise ValidationError(exc.message, code=f"id_{exc.problem.value}") from None
    text = normalise_id_number(number)
    pattern = _PASSPORT if id_type is IdType.PASSPORT else _OTHER_ID
    if not pattern.match(text):
        what = "a passport number is 5 to 20 letters and digits"
        if id_type is IdType.OTHER:
            what = "an ID number is 1 to 40 letters and digits"
        raise ValidationError(what, code="id_format")
    return text


class IdentityGate:
    """Whether a participant may leave the identity step: their hearing's policy (stored when
    the hearing was created; the configured default for hearings older than identity checks)
    and their progress."""

    def __init__(self, store: Store, default_policy: IdentityPolicy) -> None:
        self._store = store
        self._default = default_policy

    @property
    def default_policy(self) -> IdentityPolicy:
        return self._default

    async def policy(self, hearing_id: str) -> IdentityPolicy:
        return await self._store.get_identity_policy(hearing_id) or self._default

    async def status(self, p: Participant) -> IdentityStatus:
        return await self._store.get_identity_status(p.id) or IdentityStatus(p.id, p.hearing_id)

    async def cleared(self, p: Participant) -> bool:
        required = (await self.policy(p.hearing_id)).required(p.role)
        if not required:
            return True
        return (await self.status(p)).cleared(required)

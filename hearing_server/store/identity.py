"""The identity aggregate's storage: policies, registrations and each participant's progress."""

from __future__ import annotations

from typing import Protocol

from hearing_server.core.identity import IdentityPolicy, IdentityStatus, Registration


class IdentityStore(Protocol):
    """Persistence of identity checks. Never holds an ID number or a code: only keyed hashes."""

    async def get_identity_policy(self, hearing_id: str) -> IdentityPolicy | None: ...

    async def set_identity_policy(self, hearing_id: str, policy: IdentityPolicy) -> None: ...

    async def put_registration(self, registration: Registration) -> None: ...

    async def get_registration(self, participant_id: str) -> Registration | None: ...

    async def list_registrations(self, hearing_id: str) -> list[Registration]: ...

    async def get_identity_status(self, participant_id: str) -> IdentityStatus | None: ...

    async def put_identity_status(self, status: IdentityStatus) -> None: ...

    async def list_identity_status(self, hearing_id: str) -> list[IdentityStatus]: ...

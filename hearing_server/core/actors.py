"""Who is asking: court staff (API key or staff token) or a participant (join token)."""

from __future__ import annotations

from dataclasses import dataclass

from .participant import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller of a service method."""

    id: str  # participant id, or "staff:<name>", or "system"
    role: Role | None = None  # None for staff and system
    hearing_id: str | None = None  # the one hearing a participant's token is for

    @property
    def is_staff(self) -> bool:
        return self.role is None and self.id.startswith("staff:")

    @property
    def is_system(self) -> bool:
        return self.id == "system"

    @classmethod
    def staff(cls, name: str) -> Actor:
        return cls(id=f"staff:{name}")

    @classmethod
    def system(cls) -> Actor:
        return cls(id="system")

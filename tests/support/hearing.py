"""Set up a hearing with participants and links directly through the service layer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from hearing_server.core.actors import Actor
from hearing_server.core.hearing import HearingAction, HearingKind, Visibility
from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import HEARINGS

STAFF = Actor.staff("test")


@dataclass
class Person:
    id: str
    role: Role
    name: str
    token: str


async def make_hearing(
    app: web.Application,
    people: list[tuple[Role, str]],
    *,
    state: str = "open",
    kind: HearingKind = HearingKind.HEARING,
    visibility: Visibility = Visibility.PUBLIC,
) -> tuple[str, dict[str, Person]]:
    """Create a hearing in ``state`` ('scheduled', 'open' or 'in_session') with ``people``.

    Returns the hearing id and the people by name.
    """
    service = app[HEARINGS]
    now = datetime.now(UTC)
    hearing = await service.create_hearing(
        STAFF,
        kind=kind,
        case_number="(2026)京0105民初12345号",
        court="北京市朝阳区人民法院",
        title="测试庭审",
        scheduled_start=now,
        scheduled_end=now + timedelta(hours=1),
        visibility=visibility,
    )
    out: dict[str, Person] = {}
    for role, name in people:
        side = PartySide.PLAINTIFF if role is Role.PARTY else None
        p = await service.add_participant(
            STAFF, hearing.id, role=role, display_name=name, side=side
        )
        _, token, _ = await service.issue_link(STAFF, p.id)
        out[name] = Person(p.id, role, name, token)
    if state in ("open", "in_session"):
        await service.transition(STAFF, hearing.id, HearingAction.OPEN)
    if state == "in_session":
        await service.transition(Actor.system(), hearing.id, HearingAction.START)
    return hearing.id, out

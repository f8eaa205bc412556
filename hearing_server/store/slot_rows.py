"""What both SQL stores share about windows and slot links: columns and the link's JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hearing_server.core.slots import SlotLink

WINDOW_COLUMNS = "id, mediator_key, mediator_name, start_at, end_at, created_by, created_at"
LINK_COLUMNS = "id, hearing_id, token_hash, data, expires_at, picked_at, created_by, created_at"


def link_from(
    link_id: str,
    hearing_id: str,
    token_hash: str,
    data: str,
    expires_at: datetime,
    picked_at: datetime | None,
    created_by: str,
    created_at: datetime,
) -> SlotLink:
    d: dict[str, Any] = json.loads(data)
    return SlotLink(
        id=link_id,
        hearing_id=hearing_id,
        token_hash=token_hash,
        mediator_key=str(d["mediator_key"]),
        mediator_name=str(d["mediator_name"]),
        party_name=str(d["party_name"]),
        party_key=d.get("party_key"),
        phone=d.get("phone"),
        email=d.get("email"),
        time_zone=d.get("time_zone"),
        minutes=int(d["minutes"]),
        courtroom=d.get("courtroom"),
        participant_id=d.get("participant_id"),
        expires_at=expires_at,
        created_by=created_by,
        created_at=created_at,
        picked_at=picked_at,
    )


def link_data(link: SlotLink) -> str:
    return json.dumps(link.data(), ensure_ascii=False)

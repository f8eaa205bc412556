"""Set up a hearing through the server's HTTP API, as an operator would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Person:
    participant_id: str
    token: str


@dataclass(frozen=True)
class BenchHearing:
    hearing_id: str
    judge: Person
    subscribers: list[Person]


class Api:
    """A small client of the staff HTTP API (admin API key)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._headers = {"X-API-Key": api_key}

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        """JSON in, JSON out; raise on any status >= 300."""
        async with self._session.request(
            method, self._base + path, json=body, headers=self._headers
        ) as resp:
            data = await resp.json(content_type=None)
            if resp.status >= 300:
                raise RuntimeError(f"{method} {path}: {resp.status} {data}")
            return data

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = await self.request("POST", path, body)
        return data

    async def get(self, path: str) -> dict[str, Any]:
        data: dict[str, Any] = await self.request("GET", path)
        return data

    async def _person(self, hearing_id: str, role: str, name: str, **extra: Any) -> Person:
        p = await self._post(
            f"/api/hearings/{hearing_id}/participants",
            {"role": role, "display_name": name, **extra},
        )
        link = await self._post(f"/api/participants/{p['id']}/links", {})
        return Person(p["id"], link["token"])

    async def create_bench_hearing(self, subscribers: int) -> BenchHearing:
        """An open hearing with a judge (the publisher) and ``subscribers`` parties."""
        now = datetime.now(UTC)
        hearing = await self._post(
            "/api/hearings",
            {
                "case_number": "(2026)京0105民初00001号",
                "court": "bench",
                "title": "SFU benchmark",
                "scheduled_start": now.isoformat(),
                "scheduled_end": (now + timedelta(hours=1)).isoformat(),
                "visibility": "public",
            },
        )
        hid = hearing["id"]
        judge = await self._person(hid, "judge", "judge")
        subs = [
            await self._person(hid, "party", f"party {i + 1}", side="plaintiff")
            for i in range(subscribers)
        ]
        await self._post(f"/api/hearings/{hid}/transitions", {"action": "open"})
        return BenchHearing(hid, judge, subs)

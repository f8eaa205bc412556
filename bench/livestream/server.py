"""The app for the load benchmark, alone in its process: a public hearing in session.

Prints one JSON line ``{port, hearing_id, tokens: {judge, party}}`` once it serves, then runs
until SIGTERM. Loopback only.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from hearing_server.app import create_app
from hearing_server.config import load_settings
from hearing_server.core.actors import Actor
from hearing_server.core.hearing import HearingAction, HearingKind, Visibility
from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import HEARINGS


async def main(data_dir: Path) -> None:
    settings = load_settings(
        env={},
        data_dir=data_dir,
        admin_api_key="bench-admin-key-0123456789abcdef0123456789",
        public_url="http://127.0.0.1:8080",
        media_announced_addresses=["127.0.0.1"],
        composite_enabled=True,
        transcription_enabled=False,
        overload_shedding=False,
        identity_default_policy="none",
        recording_auto_start=False,
        livestream_delay_seconds=4.0,
    )
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    staff = Actor.staff("bench")
    service = app[HEARINGS]
    now = datetime.now(UTC)
    hearing = await service.create_hearing(
        staff,
        kind=HearingKind.HEARING,
        case_number="(2026)京0105民初1号",
        court="北京市朝阳区人民法院",
        title="直播压力测试",
        scheduled_start=now,
        scheduled_end=now + timedelta(hours=1),
        visibility=Visibility.PUBLIC,
    )
    tokens = {}
    for key, role, name in (("judge", Role.JUDGE, "王法官"), ("party", Role.PARTY, "张三")):
        side = PartySide.PLAINTIFF if role is Role.PARTY else None
        p = await service.add_participant(
            staff, hearing.id, role=role, display_name=name, side=side
        )
        _, token, _ = await service.issue_link(staff, p.id)
        tokens[key] = token
    await service.transition(staff, hearing.id, HearingAction.OPEN)
    await service.transition(Actor.system(), hearing.id, HearingAction.START)
    print(json.dumps({"port": port, "hearing_id": hearing.id, "tokens": tokens}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))

"""The ``hearing-server`` command: serve, demo, create-hearing, issue-link."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import lifeline
from hearing_server.app import create_app
from hearing_server.config import ConfigError, Settings, load_settings
from hearing_server.core.actors import Actor
from hearing_server.core.errors import DomainError
from hearing_server.core.hearing import Hearing, HearingAction, HearingKind, Visibility
from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import HEARINGS, STORE
from hearing_server.serve import open_run_dir, serve
from hearing_server.service.hearings import HearingService
from hearing_server.store.base import StoreUnavailable
from recording.cli import main as verify_recording_main

T = TypeVar("T")

CLI_ACTOR = Actor.staff("cli")


async def _with_service(settings: Settings, fn: Callable[[HearingService], Awaitable[T]]) -> T:
    """Run ``fn(service)`` against the store without starting the HTTP server."""
    app = create_app(settings)
    store = app[STORE]
    await store.open()
    try:
        return await fn(app[HEARINGS])
    finally:
        await store.close()


async def _create_demo(settings: Settings) -> list[tuple[str, str, str]]:
    async def run(service: HearingService) -> tuple[Hearing, list[tuple[str, str, str]]]:
        now = datetime.now(UTC)
        hearing = await service.create_hearing(
            CLI_ACTOR,
            kind=HearingKind.HEARING,
            case_number="(2026)京0105民初12345号",
            court="北京市朝阳区人民法院",
            title="张三诉李四买卖合同纠纷 (demo)",
            scheduled_start=now,
            scheduled_end=now + timedelta(hours=2),
            visibility=Visibility.PUBLIC,
        )
        await service.transition(CLI_ACTOR, hearing.id, HearingAction.OPEN)
        people = [
            (Role.JUDGE, "王法官", None),
            (Role.CLERK, "赵书记员", None),
            (Role.PARTY, "张三", PartySide.PLAINTIFF),
            (Role.PARTY, "李四", PartySide.DEFENDANT),
            (Role.WITNESS, "陈证人", None),
            (Role.COURTROOM_DISPLAY, "第一法庭显示屏", None),
        ]
        links = []
        for role, name, side in people:
            p = await service.add_participant(
                CLI_ACTOR, hearing.id, role=role, display_name=name, side=side
            )
            url, _, _ = await service.issue_link(CLI_ACTOR, p.id)
            links.append((role.value, name, url))
        return hearing, links

    hearing, links = await _with_service(settings, run)
    print(f"Demo hearing {hearing.case_number} — {hearing.title}")
    print(f"  id: {hearing.id}")
    return links


def _print_links(links: list[tuple[str, str, str]]) -> None:
    print("Join links (one per role):")
    for role, name, url in links:
        print(f"  {role:<18} {name:<10} {url}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hearing-server", description=__doc__)
    parser.add_argument("--config", help="TOML config file (or HEARING_CONFIG)")
    # These override the config file and the environment (HEARING_DATA_DIR, _HOST, _PORT).
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data-dir", type=Path, help="where the database, keys and recordings live")
    listen = argparse.ArgumentParser(add_help=False)
    listen.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    listen.add_argument("--port", type=int, help="port to listen on (default 8080)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the server", parents=[data, listen])
    demo = sub.add_parser(
        "demo", help="create a demo hearing, print join links", parents=[data, listen]
    )
    demo.add_argument("--serve", action="store_true", help="then start the server")
    ch = sub.add_parser("create-hearing", help="create a hearing", parents=[data])
    ch.add_argument("--case-number", required=True)
    ch.add_argument("--court", required=True)
    ch.add_argument("--title", required=True)
    ch.add_argument("--start", required=True, help="ISO 8601 with offset")
    ch.add_argument("--end", required=True, help="ISO 8601 with offset")
    ch.add_argument("--kind", choices=[k.value for k in HearingKind], default="hearing")
    ch.add_argument("--visibility", choices=[v.value for v in Visibility], default="public")
    sub.add_parser(
        "verify-recording",
        help="check a recording directory: every file, the hash chain and the signature "
        "(exit 0 intact and signed, 1 problems, 2 usage, 3 intact but unsigned)",
    )
    il = sub.add_parser(
        "issue-link", help="add a participant and print their join link", parents=[data]
    )
    il.add_argument("--hearing", required=True, help="hearing id")
    il.add_argument("--role", required=True, choices=[r.value for r in Role])
    il.add_argument("--name", required=True)
    il.add_argument("--side", choices=[s.value for s in PartySide])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hearing-server`` command."""
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw and raw[0] == "verify-recording":
        # Needs no settings or server: anyone holding a recording directory can check it.
        return verify_recording_main(raw[1:])
    args = build_parser().parse_args(raw)
    try:
        flags = {
            name: value
            for name in ("data_dir", "host", "port")
            if (value := getattr(args, name, None)) is not None
        }
        settings = load_settings(args.config, **flags)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "serve" or (args.command == "demo" and args.serve):
            # Locked before anything else, the demo hearing included: a refused start changes
            # nothing in a data dir that another server is using.
            with open_run_dir(settings) as run:
                if args.command == "demo":
                    _print_links(asyncio.run(_create_demo(settings)))
                return serve(settings, run)
        elif args.command == "demo":
            _print_links(asyncio.run(_create_demo(settings)))
        elif args.command == "create-hearing":

            async def create(service: HearingService) -> Hearing:
                return await service.create_hearing(
                    CLI_ACTOR,
                    kind=HearingKind(args.kind),
                    case_number=args.case_number,
                    court=args.court,
                    title=args.title,
                    scheduled_start=datetime.fromisoformat(args.start),
                    scheduled_end=datetime.fromisoformat(args.end),
                    visibility=Visibility(args.visibility),
                )

            hearing = asyncio.run(_with_service(settings, create))
            print(hearing.id)
        elif args.command == "issue-link":

            async def issue(service: HearingService) -> str:
                p = await service.add_participant(
                    CLI_ACTOR,
                    args.hearing,
                    role=Role(args.role),
                    display_name=args.name,
                    side=PartySide(args.side) if args.side else None,
                )
                url, _, _ = await service.issue_link(CLI_ACTOR, p.id)
                return url

            print(asyncio.run(_with_service(settings, issue)))
    except DomainError as exc:
        print(f"error ({exc.code}): {exc.message}", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:
        # Already retried for database_connect_timeout_seconds: the message says what to fix.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except lifeline.DataDirInUse as exc:
        print(f"error: {exc}; one data dir serves one server at a time", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0

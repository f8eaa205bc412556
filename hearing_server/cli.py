"""The ``hearing-server`` command: serve, demo, create-hearing, issue-link, outbox."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import lifeline
from cluster import ClusterUnavailable
from esign.verify import main as verify_agreement_main
from facekit.cli import main as face_match_main
from hearing_server.app import create_app
from hearing_server.config import ConfigError, Settings, load_settings
from hearing_server.core.actors import Actor
from hearing_server.core.errors import DomainError
from hearing_server.core.evidence import ExhibitSide
from hearing_server.core.hearing import Hearing, HearingAction, HearingKind, Visibility
from hearing_server.core.identity import POLICY_PRESETS, IdentityPolicy, IdType
from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import EVIDENCE, HEARINGS, IDENTITY, STORE
from hearing_server.log_filters import install_log_filters
from hearing_server.logs import configure_logging
from hearing_server.serve import CannotListen, open_run_dir, serve
from hearing_server.service.evidence import VerifyReport
from hearing_server.service.hearings import HearingService
from hearing_server.service.identity import IdentityService
from hearing_server.store.base import StoreUnavailable
from hearing_server.workers import (
    check_workers,
    serve_workers,
    worker_count,
    worker_run_dir,
    worker_settings,
)
from identitykit import check_digit
from messaging import read_outbox
from recording.cli import main as verify_recording_main
from transcription.pdf import CJK_FONT_PATH

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


async def _with_identity(
    settings: Settings, fn: Callable[[HearingService, IdentityService], Awaitable[T]]
) -> T:
    """Run ``fn(hearings, identity)`` against the store without starting the HTTP server."""
    app = create_app(settings)
    store = app[STORE]
    await store.open()
    try:
        return await fn(app[HEARINGS], app[IDENTITY])
    finally:
        await store.close()


def _demo_contract_pdf() -> bytes:
    """A two-page sales contract for the demo's exhibit (made up)."""
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

    pdfmetrics.registerFont(TTFont("DemoCJK", str(CJK_FONT_PATH), subfontIndex=0))
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    pages = [
        ["买卖合同", "甲方（卖方）：李四", "乙方（买方）：张三",
         "第一条 甲方向乙方出售二手轿车一辆，价款人民币八万元。",
         "第二条 乙方于合同签订之日支付全部价款，甲方于收款后三日内交付车辆。"],
        ["第三条 车辆存在未告知的重大事故的，乙方有权解除合同。",
         "第四条 因本合同发生的争议，提交北京市朝阳区人民法院诉讼解决。",
         "甲方：李四          乙方：张三", "2026年3月1日"],
    ]  # fmt: skip
    for lines in pages:
        c.setFont("DemoCJK", 20)
        c.drawString(72, 760, lines[0])
        c.setFont("DemoCJK", 12)
        for i, line in enumerate(lines[1:]):
            c.drawString(72, 720 - i * 24, line)
        c.showPage()
    c.save()
    return out.getvalue()


async def _add_demo_exhibit(settings: Settings, hearing_id: str) -> str:
    """The demo's plaintiff exhibit, filed by the clerk (so the bundle is not empty)."""
    app = create_app(settings)
    store = app[STORE]
    await store.open()
    try:
        evidence = app[EVIDENCE]
        data = _demo_contract_pdf()
        state = await evidence.begin_upload(
            CLI_ACTOR, hearing_id, size=len(data), filename="买卖合同.pdf"
        )

        async def whole() -> AsyncIterator[bytes]:
            yield data

        await evidence.append(CLI_ACTOR, state.upload_id, 0, whole())
        exhibit = await evidence.complete(
            CLI_ACTOR,
            state.upload_id,
            title="买卖合同",
            purpose="证明原告与被告之间存在车辆买卖合同关系",
            side=ExhibitSide.PLAINTIFF,
        )
        return exhibit.label
    finally:
        await store.close()


async def _verify_evidence(settings: Settings, hearing_id: str) -> VerifyReport:
    """Check a hearing's exhibit bundle against its audit chain, without a server."""
    app = create_app(settings)
    store = app[STORE]
    await store.open()
    try:
        return await app[EVIDENCE].verify(hearing_id)
    finally:
        await store.close()


def _demo_id(body17: str) -> str:
    """A made-up resident ID number that passes GB 11643-1999 (for the demo only)."""
    return body17 + check_digit(body17)


# Demo people who take the identity step: (ID number, phone), all made up.
DEMO_IDENTITIES = {
    "张三": (_demo_id("11010519800312123"), "13800138000"),
    "李四": (_demo_id("31011519920730456"), "13900139000"),
    "陈证人": (_demo_id("44030619751108789"), "13700137000"),
}


Links = list[tuple[str, str, str]]


async def _create_demo(settings: Settings) -> list[tuple[str, Links]]:
    async def run(
        service: HearingService, identity: IdentityService
    ) -> tuple[Hearing, list[tuple[str, Links]]]:
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
            # What the server can check by itself today: the ID number and a one-time code
            # (read from `hearing-server outbox`). The standard policy also asks for a face
            # match and liveness, which only the clerk can clear until they are built.
            identity_policy=POLICY_PRESETS["id_and_code"],
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

        async def add_people(hid: str, people: list[tuple[Role, str, PartySide | None]]) -> Links:
            links = []
            for role, name, side in people:
                p = await service.add_participant(
                    CLI_ACTOR, hid, role=role, display_name=name, side=side
                )
                if name in DEMO_IDENTITIES:
                    number, phone = DEMO_IDENTITIES[name]
                    await identity.register(
                        CLI_ACTOR,
                        p.id,
                        legal_name=name,
                        id_type=IdType.RESIDENT_ID,
                        id_number=number,
                        phone=phone,
                    )
                url, _, _ = await service.issue_link(CLI_ACTOR, p.id)
                links.append((role.value, name, url))
            return links

        hearing_links = await add_people(hearing.id, people)
        # And a mediation after hours: caucus rooms, the agreement drafted in the session and
        # signed by both parties on their phones (codes in the outbox), sealed, verifiable.
        mediation = await service.create_hearing(
            CLI_ACTOR,
            kind=HearingKind.MEDIATION,
            case_number="(2026)京0105民调88号",
            court="北京市朝阳区人民法院",
            title="张三与李四买卖合同纠纷调解 (demo)",
            scheduled_start=now,
            scheduled_end=now + timedelta(hours=2),
            visibility=Visibility.CLOSED,
            identity_policy=POLICY_PRESETS["id_and_code"],
        )
        await service.transition(CLI_ACTOR, mediation.id, HearingAction.OPEN)
        mediation_links = await add_people(
            mediation.id,
            [
                (Role.MEDIATOR, "刘调解员", None),
                (Role.PARTY, "张三", PartySide.APPLICANT),
                (Role.PARTY, "李四", PartySide.RESPONDENT),
            ],
        )
        # The clerk's board of the day, with a staff token for the demo clerk.
        staff_token, _ = service.tokens.issue_staff("赵书记员 (demo)", timedelta(hours=12))
        board_url = f"{settings.effective_public_url}/board#token={staff_token}"
        calendar_url = f"{settings.effective_public_url}/calendar#token={staff_token}"
        board = [("board", "赵书记员", board_url), ("calendar", "赵书记员", calendar_url)]
        return hearing, [
            (f"Demo hearing {hearing.case_number} (id {hearing.id})", hearing_links),
            (f"Demo mediation {mediation.case_number} (id {mediation.id})", mediation_links),
            ("clerk's board of the day and calendar of hearings (staff links)", board),
        ]

    hearing, sections = await _with_identity(settings, run)
    exhibit = await _add_demo_exhibit(settings, hearing.id)
    print(f"Demo hearing {hearing.case_number} — {hearing.title}")
    print(f"  exhibit: {exhibit} 买卖合同 (the console's evidence tab: the judge may present it)")
    print(f"  id: {hearing.id}")
    print("Identity check (ID number, then a code: `hearing-server outbox` shows it):")
    for name, (number, phone) in DEMO_IDENTITIES.items():
        print(f"  {name:<6} ID {number}  phone {phone}  (made up)")
    return sections


def _print_links(sections: list[tuple[str, Links]]) -> None:
    for title, links in sections:
        print(f"Join links of the {title} (one per role):")
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
    serve_parser = sub.add_parser("serve", help="run the server", parents=[data, listen])
    serve_parser.add_argument(
        "--workers",
        type=_workers_flag,
        help="worker processes, each a node (needs redis_url); auto: one per CPU core "
        "(default 1, or the workers setting)",
    )
    worker = sub.add_parser(
        "worker", help="one worker of `serve --workers` (started by it)", parents=[data, listen]
    )
    worker.add_argument("--index", type=int, required=True)
    worker.add_argument("--count", type=int, required=True)
    worker.add_argument("--supervisor", type=int, required=True, help="the supervisor's pid")
    worker.add_argument("--ready-fd", type=int, required=True, help="written to once listening")
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
    ch.add_argument(
        "--identity-policy",
        help=f"{', '.join(POLICY_PRESETS)} or JSON {{role: [steps]}} "
        "(default: the identity_default_policy setting)",
    )
    sub.add_parser(
        "verify-recording",
        help="check a recording directory: every file, the hash chain and the signature "
        "(exit 0 intact and signed, 1 problems, 2 usage, 3 intact but unsigned)",
    )
    sub.add_parser(
        "verify-agreement",
        help="check a signed mediation agreement PDF: every signature, its timestamp, what it "
        "covers and whether anything changed after it; prints a JSON report (exit 0 valid, "
        "1 not, 2 unreadable). Options: FILE.pdf [--trust CA.pem ...] [--data-dir DIR]",
    )
    ve = sub.add_parser(
        "verify-evidence",
        help="check a hearing's exhibits: the audit chain, and every sealed file against the "
        "hash recorded for it; prints a JSON report (exit 0 intact, 1 problems)",
        parents=[data],
    )
    ve.add_argument("--hearing", required=True, help="hearing id")
    sub.add_parser(
        "face-match",
        help="ENROL PROBE | ENROL --video CLIP: one JSON line (decision, distance, threshold; "
        "with --video also liveness); exit 0 for every decision, 2 for an unreadable file",
    )
    il = sub.add_parser(
        "issue-link", help="add a participant and print their join link", parents=[data]
    )
    il.add_argument("--hearing", required=True, help="hearing id")
    il.add_argument("--role", required=True, choices=[r.value for r in Role])
    il.add_argument("--name", required=True)
    il.add_argument("--side", choices=[s.value for s in PartySide])
    reg = il.add_argument_group(
        "registration", "who the participant is, for the identity check (all or none)"
    )
    reg.add_argument("--legal-name", help="as on the ID document (default: --name)")
    reg.add_argument("--id-type", choices=[t.value for t in IdType], default="resident_id")
    reg.add_argument("--id-number", help="kept only as a keyed hash and its last 4 characters")
    reg.add_argument("--phone", help="where the one-time code goes")
    reg.add_argument("--email")
    sub.add_parser(
        "purge-biometrics",
        help="delete the reference photos and face encodings of hearings closed longer ago "
        "than biometrics_retention_days (the server also does this periodically)",
        parents=[data],
    )
    ob = sub.add_parser(
        "outbox", help="list the messages the outbox sender wrote (one-time codes)", parents=[data]
    )
    ob.add_argument("--limit", type=int, default=20)
    ob.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser


def _print_outbox(settings: Settings, limit: int, as_json: bool) -> int:
    if settings.message_sender != "outbox":
        print(f"messages are sent by {settings.message_sender}, not kept in an outbox")
    entries = read_outbox(settings.effective_outbox_dir, limit=max(1, limit))
    if not entries and not as_json:
        print(f"the outbox ({settings.effective_outbox_dir}) is empty")
    for e in entries:
        if as_json:
            print(json.dumps(e.to_json(), ensure_ascii=False))
        else:
            print(f"{e.at.isoformat(timespec='seconds')}  to {e.recipient}  [{e.subject}]")
            print(f"    {e.text}")
    return 0


def _workers_flag(raw: str) -> int:
    """``--workers``: a number of processes, or ``auto`` (0: one per core)."""
    if raw.strip().lower() == "auto":
        return 0
    try:
        count = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("a number of processes, or auto") from None
    if count < 0:
        raise argparse.ArgumentTypeError("a number of processes, or auto")
    return count


def _worker_flags(args: argparse.Namespace) -> list[str]:
    """The command line of a worker of this ``serve``: the same settings flags."""
    flags = ["--config", args.config] if args.config else []
    flags.append("worker")
    for name in ("data_dir", "host", "port"):
        value = getattr(args, name, None)
        if value is not None:
            flags += [f"--{name.replace('_', '-')}", str(value)]
    return flags


def _run_worker(settings: Settings, args: argparse.Namespace) -> int:
    """One worker of ``serve --workers``: a node of its own, tied to its supervisor."""
    ready_fd: int = args.ready_fd
    os.set_inheritable(ready_fd, False)  # not for the worker's own children
    lifeline.guard(
        lifeline.Parent(args.supervisor, started_from_main_thread=True),
        f"worker {args.index}",
        ignore_interrupt=False,  # alone in its process group: SIGINT comes from the supervisor
    )
    mine = worker_settings(settings, args.index, args.count)

    def ready() -> None:
        os.write(ready_fd, b"1")
        os.close(ready_fd)

    with open_run_dir(mine, worker_run_dir(settings, args.index)) as run:
        return serve(mine, run, ready)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hearing-server`` command."""
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw and raw[0] == "verify-recording":
        # Needs no settings or server: anyone holding a recording directory can check it.
        return verify_recording_main(raw[1:])
    if raw and raw[0] == "verify-agreement":
        # Likewise: anyone holding the PDF (and the court's CA certificate) can check it.
        return verify_agreement_main(raw[1:])
    if raw and raw[0] == "face-match":
        # Needs no settings either: two files in, one JSON line out.
        return face_match_main(raw[1:])
    args = build_parser().parse_args(raw)
    try:
        flags = {
            name: value
            for name in ("data_dir", "host", "port")
            if (value := getattr(args, name, None)) is not None
        }
        if getattr(args, "workers", None) is not None:
            flags["workers"] = args.workers
        settings = load_settings(args.config, **flags)
        workers = worker_count(settings) if args.command == "serve" else 1
        check_workers(settings, workers)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    worker = str(args.index) if args.command == "worker" else None
    configure_logging(settings.log_level, settings.log_format, worker)
    install_log_filters()
    try:
        if args.command == "serve" and workers > 1:
            with open_run_dir(settings) as run:
                return serve_workers(settings, run, workers, _worker_flags(args))
        if args.command == "worker":
            return _run_worker(settings, args)
        if args.command == "serve" or (args.command == "demo" and args.serve):
            # Locked before anything else, the demo hearing included: a refused start changes
            # nothing in a data dir that another server is using.
            with open_run_dir(settings) as run:
                if args.command == "demo":
                    _print_links(asyncio.run(_create_demo(settings)))
                return serve(settings, run)
        elif args.command == "demo":
            _print_links(asyncio.run(_create_demo(settings)))
        elif args.command == "verify-evidence":
            report = asyncio.run(_verify_evidence(settings, args.hearing))
            print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
            return 0 if report.ok else 1
        elif args.command == "purge-biometrics":

            async def purge(_: HearingService, identity: IdentityService) -> list[str]:
                return await identity.purge_biometrics()

            purged = asyncio.run(_with_identity(settings, purge))
            print(json.dumps({"purged_hearings": purged}))
        elif args.command == "create-hearing":
            policy = IdentityPolicy.parse(args.identity_policy) if args.identity_policy else None

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
                    identity_policy=policy,
                )

            hearing = asyncio.run(_with_service(settings, create))
            print(hearing.id)
        elif args.command == "issue-link":
            if bool(args.id_number) != bool(args.phone):
                print("error: --id-number and --phone go together", file=sys.stderr)
                return 2

            async def issue(service: HearingService, identity: IdentityService) -> str:
                p = await service.add_participant(
                    CLI_ACTOR,
                    args.hearing,
                    role=Role(args.role),
                    display_name=args.name,
                    side=PartySide(args.side) if args.side else None,
                )
                if args.id_number:
                    await identity.register(
                        CLI_ACTOR,
                        p.id,
                        legal_name=args.legal_name or args.name,
                        id_type=IdType(args.id_type),
                        id_number=args.id_number,
                        phone=args.phone,
                        email=args.email,
                    )
                url, _, _ = await service.issue_link(CLI_ACTOR, p.id)
                return url

            print(asyncio.run(_with_identity(settings, issue)))
        elif args.command == "outbox":
            return _print_outbox(settings, args.limit, args.json)
    except DomainError as exc:
        print(f"error ({exc.code}): {exc.message}", file=sys.stderr)
        return 1
    except ClusterUnavailable as exc:
        # Already retried for redis_connect_timeout_seconds: the message says what to fix.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:
        # Already retried for database_connect_timeout_seconds: the message says what to fix.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except CannotListen as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except lifeline.DataDirInUse as exc:
        print(f"error: {exc}; one data dir serves one server at a time", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0

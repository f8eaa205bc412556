"""The store protocol, aggregate by aggregate, on both backends (SQLite and PostgreSQL): the
same test bodies, so the two behave alike; and what only a server database has (several
stores on one database at once, an unreachable server at start)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hearing_server.config import load_settings
from hearing_server.core.agreement import (
    Agreement,
    AgreementContent,
    AgreementParty,
    AgreementState,
    AgreementVersion,
)
from hearing_server.core.audit import GENESIS_HASH, verify_chain
from hearing_server.core.errors import Conflict, NotFound, ValidationError
from hearing_server.core.evidence import Exhibit, ExhibitSide, Opinion, Verdict
from hearing_server.core.hearing import (
    Hearing,
    HearingAction,
    HearingKind,
    HearingState,
    Visibility,
)
from hearing_server.core.notices import Audience, Notice
from hearing_server.core.participant import Participant, ParticipantState, PartySide, Role
from hearing_server.store import postgres as postgres_module
from hearing_server.store import sqlite as sqlite_module
from hearing_server.store.base import TRANSCRIPT_FINALISED, Store, StoreUnavailable
from hearing_server.store.migrations import MIGRATIONS
from hearing_server.store.postgres import PostgresStore
from hearing_server.store.sqlite import SQLiteStore
from hearing_server.wiring.foundation import build_store
from support.postgres import PostgresServer
from support.stores import PostgresBackend, RawSQLError, StoreBackend

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))
H = timedelta(hours=1)


@pytest.fixture
async def store(store_backend: StoreBackend) -> AsyncIterator[Store]:
    s = store_backend.store()
    await s.open()
    yield s
    await s.close()


def hearing(hid: str = "h-1", start: datetime = T0, **changes: object) -> Hearing:
    h = Hearing(
        id=hid,
        kind=HearingKind.HEARING,
        case_number="(2026)京0105民初12345号",
        court="北京市朝阳区人民法院",
        title="张三诉李四买卖合同纠纷",
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
    )
    return replace(h, **changes)


def participant(pid: str, hid: str = "h-1", **changes: object) -> Participant:
    p = Participant(id=pid, hearing_id=hid, role=Role.PARTY, display_name=f"张三 {pid}")
    return replace(p, **changes)


# -- lifecycle -------------------------------------------------------------------------------


async def test_open_migrates_once_and_close_is_idempotent(store_backend: StoreBackend) -> None:
    s = store_backend.store()
    await s.open()
    await s.open()  # already open: nothing happens
    assert await s.schema_version() == MIGRATIONS[-1].version
    await s.create_hearing(hearing())
    await s.close()
    await s.close()
    again = store_backend.store()
    await again.open()  # every step already applied: none runs twice
    assert await again.schema_version() == MIGRATIONS[-1].version
    assert (await again.get_hearing("h-1")).title == "张三诉李四买卖合同纠纷"
    await again.close()


async def test_an_older_schema_is_brought_up_to_date(
    store_backend: StoreBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database written before the audit log's triggers (step 3) existed.
    for module in (sqlite_module, postgres_module):
        monkeypatch.setattr(module, "MIGRATIONS", MIGRATIONS[:2])
    old = store_backend.store()
    await old.open()
    assert await old.schema_version() == 2
    await old.create_hearing(hearing())
    await old.append_audit("h-1", "system", "hearing_created", {}, T0)
    await old.close()
    monkeypatch.undo()
    new = store_backend.store()
    await new.open()
    assert await new.schema_version() == MIGRATIONS[-1].version
    assert [e.seq for e in await new.list_audit("h-1")] == [1]
    with pytest.raises(RawSQLError, match="append-only"):
        await store_backend.execute("DELETE FROM audit_log")
    await new.close()


def test_every_step_has_both_dialects_in_order() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    for m in MIGRATIONS:
        assert m.sqlite.strip() and m.postgresql.strip()


async def test_a_closed_store_says_so(store_backend: StoreBackend) -> None:
    s = store_backend.store()
    with pytest.raises(RuntimeError, match="not open"):
        await s.get_hearing("h-1")


# -- hearings and participants ---------------------------------------------------------------


async def test_hearing_round_trip(store: Store) -> None:
    h = hearing(
        start=datetime(2026, 12, 1, 9, 0, 0, 123456, tzinfo=BEIJING),
        visibility=Visibility.CLOSED,
        created_at=T0 - timedelta(days=1),
        extra={"note": '第一次开庭 "quoted"'},
    )
    await store.create_hearing(h)
    back = await store.get_hearing("h-1")
    assert back == h  # the same instants, read back in UTC
    assert back.scheduled_start.utcoffset() == timedelta(0)
    assert back.actual_start is None and back.next_sitting_id is None
    with pytest.raises(Conflict):
        await store.create_hearing(h)
    with pytest.raises(NotFound):
        await store.get_hearing("h-2")
    started = h.apply(HearingAction.OPEN, T0)
    await store.update_hearing(replace(started, actual_start=T0, next_sitting_id="h-9"))
    back = await store.get_hearing("h-1")
    assert back.state is HearingState.OPEN and back.actual_start == T0
    assert back.next_sitting_id == "h-9"
    with pytest.raises(NotFound):
        await store.update_hearing(hearing("h-2"))


async def test_hearings_listed_by_start_then_id_with_state_limit_and_offset(store: Store) -> None:
    for hid, hours in (("h-b", 2), ("h-a", 2), ("h-c", 1), ("H-d", 3), ("h-e", 0)):
        await store.create_hearing(hearing(hid, T0 + timedelta(hours=hours)))
    closed = hearing("h-z", T0 - timedelta(hours=1), state=HearingState.CLOSED)
    await store.create_hearing(closed)
    every = [h.id for h in await store.list_hearings()]
    assert every == ["h-z", "h-e", "h-c", "h-a", "h-b", "H-d"]
    scheduled = await store.list_hearings(state=HearingState.SCHEDULED, limit=2, offset=1)
    assert [h.id for h in scheduled] == ["h-c", "h-a"]
    assert [h.id for h in await store.list_hearings(state=HearingState.CLOSED)] == ["h-z"]
    assert await store.list_hearings(state=HearingState.PAUSED) == []
    assert len(await store.list_hearings(limit=-1, offset=-5)) == 6  # SQLite's meaning
    assert [h.id for h in await store.list_hearings(offset=5)] == ["H-d"]


async def test_participants_round_trip_in_the_order_added(store: Store) -> None:
    await store.create_hearing(hearing())
    await store.create_hearing(hearing("h-2"))
    people = [
        participant("p-z", side=PartySide.PLAINTIFF, language="zh", audio_muted=True),
        participant("p-a", role=Role.COUNSEL, represents="p-z", mute_locked=True),
        participant(
            "p-m",
            role=Role.INTERPRETER,
            interprets_for="p-z",
            hand_raised=True,
            hand_raised_at=datetime(2026, 12, 7, 2, 30, 15, 123456, tzinfo=UTC),
        ),
    ]
    for p in people:
        await store.add_participant(p)
    await store.add_participant(participant("p-other", "h-2"))
    assert await store.list_participants("h-1") == people
    assert await store.get_participant("p-a") == people[1]
    with pytest.raises(Conflict):
        await store.add_participant(people[0])
    with pytest.raises(Conflict):  # no such hearing
        await store.add_participant(participant("p-x", "h-nowhere"))
    with pytest.raises(NotFound):
        await store.get_participant("p-x")
    moved = replace(
        people[0],
        state=ParticipantState.DISCONNECTED,
        resume_state=ParticipantState.IN_HEARING,
        audio_muted=False,
        removed=True,
    )
    await store.update_participant(moved)
    assert await store.get_participant("p-z") == moved
    assert [p.id for p in await store.list_participants("h-1")] == ["p-z", "p-a", "p-m"]
    with pytest.raises(NotFound):
        await store.update_participant(participant("p-x"))
    assert await store.list_participants("h-none") == []


async def test_ids_no_row_can_have_find_nothing(store: Store, store_backend: StoreBackend) -> None:
    # PostgreSQL text cannot hold NUL or a lone surrogate: such a key is simply not there, as
    # in SQLite (whose driver cannot encode a lone surrogate at all: the API refuses those).
    bad_ids = ["h\x00-1"]
    if store_backend.dialect == "postgresql":
        bad_ids.append("h-\ud800")
    for bad in bad_ids:
        with pytest.raises(NotFound):
            await store.get_hearing(bad)
        with pytest.raises(NotFound):
            await store.get_participant(bad)
        assert await store.list_participants(bad) == []
        assert await store.list_audit(bad) == []
        assert await store.list_transcript(bad) == []
        with pytest.raises(ValidationError):
            await store.append_audit(bad, "system", "hearing_created", {}, T0)


# -- the audit log ---------------------------------------------------------------------------


async def test_audit_chain_per_hearing(store: Store) -> None:
    first = await store.append_audit("h-1", "system", "hearing_created", {"名": "张三"}, T0)
    assert first.seq == 1 and first.prev_hash == GENESIS_HASH
    await store.append_audit("h-2", "staff:li", "hearing_created", {}, T0)
    second = await store.append_audit(
        "h-1", "staff:li", "muted", {"n": 1.5, "ok": True, "none": None, "list": [1, "二"]}, T0
    )
    assert second.seq == 2 and second.prev_hash == first.hash
    entries = await store.list_audit("h-1")
    assert entries == [first, second]  # exactly what was hashed, read back
    assert verify_chain(entries, hearing_id="h-1") == []
    assert [e.seq for e in await store.list_audit("h-2")] == [1]
    assert await store.list_audit("h-3") == []
    with pytest.raises(ValidationError):
        await store.append_audit("h-1", "system", "not_an_event", {}, T0)
    assert len(await store.list_audit("h-1")) == 2


@pytest.mark.parametrize("table", ["audit_log", "transcript_log"])
async def test_chains_refuse_updates_and_deletes(
    store: Store, store_backend: StoreBackend, table: str
) -> None:
    await store.append_audit("h-1", "system", "hearing_created", {}, T0)
    await store.append_transcript("h-1", "system", "segment", {"text": "好"}, T0)
    statements = [f"UPDATE {table} SET data = '{{}}' WHERE seq = 1", f"DELETE FROM {table}"]
    if store_backend.dialect == "postgresql":
        statements.append(f"TRUNCATE {table}")  # no row trigger fires for it
    for sql in statements:
        with pytest.raises(RawSQLError, match="append-only"):
            await store_backend.execute(sql)
    assert len(await store.list_audit("h-1")) == 1
    assert len(await store.list_transcript("h-1")) == 1


# -- the transcript --------------------------------------------------------------------------


async def test_transcript_with_its_audit_entry_then_final(store: Store) -> None:
    await store.append_audit("h-1", "system", "hearing_created", {}, T0)
    seg, none = await store.append_transcript("h-1", "system", "segment", {"text": "一"}, T0)
    assert none is None and seg.seq == 1
    fix, audit = await store.append_transcript(
        "h-1",
        "p-clerk",
        "correction",
        {"seq": 1, "text": "二"},
        T0,
        audit_event="transcript_segment_corrected",
        audit_data={"reason": "misheard"},
    )
    assert audit is not None and audit.seq == 2
    assert audit.data == {"reason": "misheard", "transcript_seq": 2, "transcript_hash": fix.hash}
    assert await store.list_audit("h-1") == [(await store.list_audit("h-1"))[0], audit]
    final, _ = await store.append_transcript(
        "h-1", "p-judge", TRANSCRIPT_FINALISED, {}, T0, audit_event="transcript_finalised"
    )
    with pytest.raises(Conflict):
        await store.append_transcript("h-1", "system", "segment", {"text": "late"}, T0)
    entries = await store.list_transcript("h-1")
    assert entries == [seg, fix, final] and verify_chain(entries, hearing_id="h-1") == []
    assert len(await store.list_audit("h-1")) == 3  # the refused append wrote nothing


async def test_a_refused_transcript_append_writes_nothing(store: Store) -> None:
    with pytest.raises(ValidationError):
        await store.append_transcript("h-1", "system", "segment", {"x": float("nan")}, T0)
    with pytest.raises(ValidationError):  # the audit half is refused: the whole append is
        await store.append_transcript(
            "h-1", "system", "segment", {"text": "一"}, T0, audit_event="no_such_event"
        )
    assert await store.list_transcript("h-1") == []
    assert await store.list_audit("h-1") == []


# -- revoked tokens --------------------------------------------------------------------------


async def test_revoked_tokens_until_they_expire(store: Store) -> None:
    now = datetime.now(UTC)
    await store.revoke_token("jti-1", now + timedelta(hours=1))
    await store.revoke_token("jti-1", now + timedelta(hours=2))  # again: no conflict
    await store.revoke_token("jti-old", now - timedelta(seconds=1))
    assert await store.is_token_revoked("jti-1")
    assert not await store.is_token_revoked("jti-2")
    assert not await store.is_token_revoked("jti-\x00")
    # Revoking prunes what has expired: it could never match a valid token again.
    await store.revoke_token("jti-3", now + timedelta(hours=1))
    assert not await store.is_token_revoked("jti-old")


# -- concurrent appends ----------------------------------------------------------------------


async def test_concurrent_appends_keep_every_chain_intact(store: Store) -> None:
    async def audit(hid: str, n: int) -> None:
        await store.append_audit(hid, "system", "muted", {"n": n}, T0)

    async def transcript(hid: str, n: int) -> None:
        await store.append_transcript(
            hid,
            "system",
            "correction",
            {"n": n},
            T0,
            audit_event="transcript_segment_corrected",
        )

    jobs = [audit(hid, n) for hid in ("h-1", "h-2") for n in range(30)]
    jobs += [transcript(hid, n) for hid in ("h-1", "h-2") for n in range(15)]
    await asyncio.gather(*jobs)
    for hid in ("h-1", "h-2"):
        audit_log = await store.list_audit(hid)
        assert [e.seq for e in audit_log] == list(range(1, 46))
        assert verify_chain(audit_log, hearing_id=hid) == []
        transcript_log = await store.list_transcript(hid)
        assert [e.seq for e in transcript_log] == list(range(1, 16))
        assert verify_chain(transcript_log, hearing_id=hid) == []


async def test_several_stores_on_one_database_append_in_turn(postgres_url: str) -> None:
    # Two servers (or worker processes) on one PostgreSQL database: nothing in either process
    # serialises the other's appends; the database must. And whatever isolation the database
    # defaults to: under repeatable read, a head read after waiting for the lock would be
    # the one from before the wait.
    await PostgresBackend(postgres_url).execute(
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_isolation = "
        "%L', current_database(), 'repeatable read'); END $$"
    )
    stores = [PostgresStore(postgres_url, connect_timeout=5, pool_size=5) for _ in range(3)]
    for s in stores:
        await s.open()
    try:
        await asyncio.gather(
            *(
                s.append_audit("h-1", "system", "muted", {"store": i, "n": n}, T0)
                for n in range(20)
                for i, s in enumerate(stores)
            ),
            *(
                s.append_transcript("h-1", "system", "segment", {"n": n}, T0, audit_event="muted")
                for n in range(10)
                for s in stores
            ),
        )
        audit_log = await stores[0].list_audit("h-1")
        assert [e.seq for e in audit_log] == list(range(1, 91))
        assert verify_chain(audit_log, hearing_id="h-1") == []
        transcript_log = await stores[1].list_transcript("h-1")
        assert [e.seq for e in transcript_log] == list(range(1, 31))
        assert verify_chain(transcript_log, hearing_id="h-1") == []
    finally:
        for s in stores:
            await s.close()


async def test_several_sqlite_stores_on_one_file_append_in_turn(tmp_path: Path) -> None:
    # The workers of `serve --workers` on the embedded SQLite file: each has its own
    # connection and its own in-process lock; SQLite's write lock (BEGIN IMMEDIATE) must keep
    # a chain's read-head-then-insert whole across them, and they open the file together.
    path = tmp_path / "hearings.sqlite3"
    stores = [SQLiteStore(path) for _ in range(3)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        assert {await s.schema_version() for s in stores} == {MIGRATIONS[-1].version}
        await asyncio.gather(
            *(
                s.append_audit("h-1", "system", "muted", {"store": i, "n": n}, T0)
                for n in range(20)
                for i, s in enumerate(stores)
            ),
            *(
                s.append_transcript("h-1", "system", "segment", {"n": n}, T0, audit_event="muted")
                for n in range(10)
                for s in stores
            ),
            # reads in between on the same connections: a read begun before another
            # process's commit makes SQLite refuse this connection's write at once
            *(s.list_audit("h-1") for _ in range(20) for s in stores),
        )
        audit_log = await stores[0].list_audit("h-1")
        assert [e.seq for e in audit_log] == list(range(1, 91))
        assert verify_chain(audit_log, hearing_id="h-1") == []
        transcript_log = await stores[1].list_transcript("h-1")
        assert [e.seq for e in transcript_log] == list(range(1, 31))
        assert verify_chain(transcript_log, hearing_id="h-1") == []
    finally:
        for s in stores:
            await s.close()


async def test_a_write_waits_for_a_read_begun_before_another_process_wrote(
    tmp_path: Path,
) -> None:
    # A read in progress on the connection (another task's SELECT between its steps) whose
    # snapshot predates another process's commit: SQLite refuses the write at once ("database
    # is locked", no busy wait); the store must wait for the read to end, not fail.
    path = tmp_path / "hearings.sqlite3"
    a, b = SQLiteStore(path), SQLiteStore(path)
    await a.open()
    await b.open()
    try:
        for n in range(2):
            await a.append_audit("h-1", "system", "muted", {"n": n}, T0)
        cursor = await a.db.execute("SELECT * FROM audit_log")
        await cursor.fetchone()
        await b.append_audit("h-1", "system", "muted", {"n": 2}, T0)
        write = asyncio.create_task(a.append_audit("h-1", "system", "muted", {"n": 3}, T0))
        await asyncio.sleep(0.2)
        assert not write.done(), write
        await cursor.close()
        assert (await write).seq == 4
        assert verify_chain(await b.list_audit("h-1"), hearing_id="h-1") == []
    finally:
        await a.close()
        await b.close()


async def test_a_failed_write_leaves_nothing_pending(tmp_path: Path) -> None:
    # A write that fails half-way is rolled back: the next writer's commit must not carry it.
    store = SQLiteStore(tmp_path / "hearings.sqlite3")
    await store.open()
    try:
        await store.create_hearing(hearing("h-1"))
        with pytest.raises(Conflict):
            await store.create_hearing(hearing("h-1"))
        assert not store.db.in_transaction
        await store.create_hearing(hearing("h-2"))
        assert not store.db.in_transaction
    finally:
        await store.close()


async def test_stores_starting_together_migrate_once(postgres_url: str) -> None:
    stores = [PostgresStore(postgres_url, connect_timeout=5, pool_size=1) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        assert {await s.schema_version() for s in stores} == {MIGRATIONS[-1].version}
    finally:
        for s in stores:
            await s.close()


# -- an unreachable server -------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_at_start_is_a_clear_error_after_retries() -> None:
    url = f"postgresql://hearing:s3cret@127.0.0.1:{_closed_port()}/hearings"
    store = PostgresStore(url, connect_timeout=1.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(StoreUnavailable) as caught:
        await store.open()
    waited = loop.time() - started
    message = str(caught.value)
    assert "unreachable" in message and "attempts" in message
    assert "s3cret" not in message and "hearing:***@127.0.0.1" in message
    assert 0.9 <= waited < 5, waited  # retried for the time given, then stopped


async def test_a_server_that_comes_up_late_is_waited_for(
    postgres_server: PostgresServer,
) -> None:
    name = postgres_server.create_database()
    port = _closed_port()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", postgres_server.port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def come_up_late() -> asyncio.Server:
        await asyncio.sleep(1.0)  # the store's first attempts are refused
        return await asyncio.start_server(forward, "127.0.0.1", port)

    late = asyncio.create_task(come_up_late())
    store = PostgresStore(
        f"postgresql://hearing@127.0.0.1:{port}/{name}", connect_timeout=10.0, pool_size=1
    )
    try:
        await store.open()
        assert await store.schema_version() == MIGRATIONS[-1].version
        await store.close()
    finally:
        proxy = await late
        proxy.close()
        postgres_server.drop_database(name)


async def test_a_refusal_that_waiting_cannot_fix_fails_at_once(postgres_url: str) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    store = PostgresStore(missing, connect_timeout=30.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(StoreUnavailable, match="refused the connection"):
        await store.open()
    assert loop.time() - started < 5


def test_the_postgres_backend_is_the_one_built_for_a_url() -> None:
    assert isinstance(build_store(load_settings(env={})), SQLiteStore)
    url = "postgresql://hearing@127.0.0.1:5432/hearings"
    built = build_store(load_settings(env={"HEARING_DATABASE_URL": url}))
    assert isinstance(built, PostgresStore) and built.url == url
    assert isinstance(PostgresBackend(url).store(), PostgresStore)


async def test_identity_round_trip(store: Store) -> None:
    from hearing_server.core.identity import (
        POLICY_PRESETS,
        CodeChallenge,
        FaceOutcome,
        IdentityStatus,
        IdentityStep,
        IdType,
        Registration,
        StepRecord,
    )

    await store.create_hearing(hearing())
    for pid in ("p-1", "p-2"):
        await store.add_participant(participant(pid))
    assert await store.get_identity_policy("h-1") is None
    await store.set_identity_policy("h-1", POLICY_PRESETS["id_and_code"])
    await store.set_identity_policy("h-1", POLICY_PRESETS["standard"])
    assert await store.get_identity_policy("h-1") == POLICY_PRESETS["standard"]

    regs = [
        Registration(
            pid,
            "h-1",
            name,
            IdType.RESIDENT_ID,
            f"digest-{pid}",
            "123X",
            "13800000000",
            None,
            T0.astimezone(BEIJING),
            "staff:clerk",
        )
        for pid, name in (("p-2", "李四"), ("p-1", "张三"))
    ]
    for r in regs:
        await store.put_registration(r)
    assert await store.get_registration("p-1") == regs[1]
    assert await store.list_registrations("h-1") == regs  # in the order registered
    assert await store.get_registration("nobody") is None

    status = IdentityStatus(
        "p-1",
        "h-1",
        steps={
            IdentityStep.ID_NUMBER: StepRecord(passed_at=T0),
            IdentityStep.CODE: StepRecord(failures=2),
        },
        code=CodeChallenge("code-digest", T0, T0 + timedelta(minutes=5), tries=2),
    )
    await store.put_identity_status(status)
    face = FaceOutcome("same", 0.3481, 0.5, "failed", "timeout", T0)
    await store.put_identity_status(replace(status, help_requested_at=T0, face=face))
    got = await store.get_identity_status("p-1")
    assert got == replace(status, help_requested_at=T0, face=face)
    assert await store.list_identity_status("h-1") == [got]
    assert await store.get_identity_status("p-2") is None


# -- mediation agreements ------------------------------------------------------------------------


def _agreement() -> tuple[Agreement, AgreementContent]:
    content = AgreementContent.from_json(
        {
            "language": "zh-CN",
            "recitals": ["双方因买卖合同发生纠纷"],
            "terms": ["被申请人于2027年1月31日前支付申请人货款12000元。"],
            "payment": {"amount": "12000.00", "schedule": "一次付清", "method": "银行转账"},
            "costs": "调解费由双方各半负担",
            "agreed_on": "2026-12-07",
        }
    )
    a = Agreement(
        id="ag-1",
        hearing_id="h-1",
        case={"case_number": "(2026)京0105民调1号", "mediator": "调解员"},
        parties=(AgreementParty("p-1", "张三", "**************1234", "applicant"),),
    )
    return a, content


async def test_agreement_compare_and_set_and_versions(
    store: Store, store_backend: StoreBackend
) -> None:
    await store.create_hearing(hearing())
    a, content = _agreement()
    assert await store.get_agreement("h-1") is None
    stored = await store.put_agreement(a)
    assert stored.revision == 1
    version = AgreementVersion(1, content, "ab" * 32, T0, "p-med")
    await store.add_agreement_version("ag-1", version)
    with pytest.raises(Conflict):
        await store.add_agreement_version("ag-1", version)
    proposed = await store.put_agreement(
        replace(stored.revise(1, "ab" * 32), state=AgreementState.PROPOSED)
    )
    assert proposed.revision == 2
    # Someone holding the older revision loses, and nothing of theirs is written.
    with pytest.raises(Conflict) as info:
        await store.put_agreement(replace(stored, state=AgreementState.NO_AGREEMENT))
    assert info.value.code == "concurrent_change"
    back = await store.get_agreement("h-1")
    assert back == proposed and back.state is AgreementState.PROPOSED
    assert await store.list_agreement_versions("ag-1") == [version]
    # A second agreement for the same hearing is refused.
    with pytest.raises(Conflict):
        await store.put_agreement(replace(a, id="ag-2"))
    # Saved versions are append-only in the database itself.
    with pytest.raises(RawSQLError):
        await store_backend.execute("UPDATE agreement_versions SET content_hash = 'x'")


async def test_notices_and_receipts(store: Store) -> None:
    await store.create_hearing(hearing())
    await store.create_hearing(hearing("h-2"))
    first = Notice("n-1", "h-1", "p-judge", Audience.WAITING_ROOM, None, "show_id", "请出示", T0)
    later = replace(
        first, id="n-2", audience=Audience.SIDE, target="defendant", template=None,
        text="答辩", created_at=T0 + timedelta(minutes=1),
    )  # fmt: skip
    await store.add_notice(later, ["p-b"])
    await store.add_notice(first, ["p-a", "p-b"])
    await store.add_notice(replace(first, id="n-3", hearing_id="h-2"), ["p-z"])
    with pytest.raises(Conflict):
        await store.add_notice(first, ["p-a"])
    listed = await store.list_notices("h-1")
    assert [r.notice for r in listed] == [first, later]
    assert [x.participant_id for x in listed[0].receipts] == ["p-a", "p-b"]
    assert all(x.delivered_at is None and x.read_at is None for x in listed[0].receipts)

    seen = T0 + timedelta(minutes=2)
    receipt, delivered, read = await store.mark_receipt("n-1", "p-a", delivered=seen, read=None)
    assert (receipt.delivered_at, receipt.read_at, delivered, read) == (seen, None, True, False)
    t2 = seen + timedelta(seconds=30)
    receipt, delivered, read = await store.mark_receipt("n-1", "p-a", delivered=t2, read=t2)
    assert (receipt.delivered_at, receipt.read_at, delivered, read) == (seen, t2, False, True)
    again = await store.mark_receipt("n-1", "p-a", delivered=T0, read=T0)
    assert again == (receipt, False, False)
    with pytest.raises(NotFound):
        await store.mark_receipt("n-1", "p-z", delivered=seen, read=None)
    with pytest.raises(NotFound):
        await store.get_notice("n-none")

    mine = await store.notices_for("p-b")
    assert [r.notice.id for r in mine] == ["n-1", "n-2"]
    assert all(len(r.receipts) == 1 and r.receipts[0].participant_id == "p-b" for r in mine)
    got = await store.get_notice("n-1")
    assert got.receipt_of("p-a") == receipt and got.receipt_of("p-z") is None
    assert await store.list_notices("h-none") == [] and await store.notices_for("nobody") == []


def exhibit(eid: str, **changes: object) -> Exhibit:
    e = Exhibit(
        id=eid, hearing_id="h-1", side=ExhibitSide.PLAINTIFF, number=1, version=1,
        title="借款合同", purpose="证明借款关系成立", media_type="application/pdf", size=1234,
        sha256="ab" * 32, file_id="f" * 32, filename="合同.pdf", uploaded_by="p-a",
        uploaded_at=T0, pages=3,
    )  # fmt: skip
    return replace(e, **changes)


async def test_exhibits_sealed_numbered_and_marked(
    store: Store, store_backend: StoreBackend
) -> None:
    await store.create_hearing(hearing())
    await store.create_hearing(hearing("h-2"))
    first = exhibit("e-1")
    second = exhibit("e-2", number=2, title="转账记录", media_type="image/png", pages=1)
    court = exhibit("e-3", side=ExhibitSide.COURT, uploaded_by="staff:clerk")
    for e in (second, first, court):
        await store.add_exhibit(e)
    await store.add_exhibit(exhibit("e-9", hearing_id="h-2"))
    with pytest.raises(Conflict):  # the same number and version twice
        await store.add_exhibit(exhibit("e-4"))
    assert await store.last_exhibit_number("h-1", ExhibitSide.PLAINTIFF) == 2
    assert await store.last_exhibit_number("h-1", ExhibitSide.DEFENDANT) == 0
    assert [e.id for e in await store.list_exhibits("h-1")] == ["e-3", "e-1", "e-2"]
    assert await store.get_exhibit("e-1") == first
    with pytest.raises(NotFound):
        await store.get_exhibit("e-none")

    # A correction is a new version that supersedes the old in one step, and only once.
    v2 = exhibit("e-1v2", version=2, supersedes="e-1", sha256="cd" * 32, uploaded_at=T0 + H)
    await store.add_exhibit(v2)
    assert (await store.get_exhibit("e-1")).superseded_by == "e-1v2"
    with pytest.raises(Conflict):
        await store.add_exhibit(exhibit("e-1v3", version=3, supersedes="e-1"))
    with pytest.raises(Conflict):  # another hearing's exhibit cannot be superseded
        await store.add_exhibit(exhibit("e-x", hearing_id="h-2", version=2, supersedes="e-2"))
    assert "e-1v3" not in [e.id for e in await store.list_exhibits("h-1")]

    released, changed = await store.mark_exhibit("e-2", released_at=T0 + H)
    assert released.released_at == T0 + H and released.presented_at is None and changed
    again, changed = await store.mark_exhibit("e-2", released_at=T0 + 2 * H)
    assert again.released_at == T0 + H and not changed
    shown, changed = await store.mark_exhibit("e-2", presented_at=T0 + 2 * H)
    assert shown.presented_at == T0 + 2 * H and shown.released_at == T0 + H and changed
    with pytest.raises(NotFound):
        await store.mark_exhibit("e-none", released_at=T0)

    op = Opinion(
        "o-1", "e-1", "h-1", ExhibitSide.DEFENDANT, Verdict.ACCEPTED, Verdict.ACCEPTED,
        Verdict.DISPUTED, "与本案无关", "p-clerk", T0 + 3 * H,
    )  # fmt: skip
    earlier = replace(op, id="o-0", relevance=None, text="", recorded_at=T0 + 2 * H)
    await store.add_opinion(op)
    await store.add_opinion(earlier)
    assert await store.list_opinions("h-1") == [earlier, op]
    with pytest.raises(Conflict):
        await store.add_opinion(op)
    with pytest.raises(NotFound):  # an exhibit of another hearing
        await store.add_opinion(replace(op, id="o-2", exhibit_id="e-9"))
    # Sealed in the database itself: the file's hash and the opinions never change.
    with pytest.raises(RawSQLError):
        await store_backend.execute("UPDATE exhibits SET sha256 = 'x'")
    with pytest.raises(RawSQLError):
        await store_backend.execute("DELETE FROM exhibits")
    with pytest.raises(RawSQLError):
        await store_backend.execute("UPDATE exhibit_opinions SET text = 'x'")


async def test_an_open_that_fails_leaves_no_connection_thread(tmp_path: Path) -> None:
    """A file that is not a database: the open fails with SQLite's error, and the connection
    it made is closed (aiosqlite's worker thread would keep the process from exiting)."""
    path = tmp_path / "hearings.sqlite3"
    path.write_bytes(b"this is not a database file at all" * 100)
    store = SQLiteStore(path)
    with pytest.raises(sqlite3.DatabaseError):
        await store.open()
    await asyncio.sleep(0.05)
    workers = [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]
    assert workers == []

"""Served documents and deliveries on both backends: stored together, found by the hash of
their tracking token, advanced atomically and only forward."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.hearing import Hearing, HearingKind
from hearing_server.core.serving import (
    Channel,
    Delivery,
    DeliveryStatus,
    DocumentKind,
    ServedDocument,
    needs_follow_up,
    new_token,
)
from hearing_server.store.base import Store
from support.stores import StoreBackend

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
async def store(store_backend: StoreBackend) -> AsyncIterator[Store]:
    s = store_backend.store()
    await s.open()
    await s.create_hearing(
        Hearing(
            id="h-1",
            kind=HearingKind.HEARING,
            case_number="(2026)京0105民初12345号",
            court="北京市朝阳区人民法院",
            title="张三诉李四买卖合同纠纷",
            scheduled_start=T0,
            scheduled_end=T0 + timedelta(hours=2),
        )
    )
    yield s
    await s.close()


DOC = ServedDocument(
    "doc-1", "h-1", DocumentKind.SUMMONS, "传票", "application/pdf", 1234, "ab" * 32, "staff:王", T0
)


def delivery(n: int, channel: Channel = Channel.SMS, **kw: object) -> Delivery:
    _, digest = new_token()
    values: dict[str, object] = {
        "id": f"dl-{n}",
        "document_id": "doc-1",
        "hearing_id": "h-1",
        "recipient": "李四",
        "channel": channel,
        "address": "13800138000" if channel is Channel.SMS else "li@example.cn",
        "token_hash": digest,
        "expires_at": T0 + timedelta(days=7),
        "status": DeliveryStatus.QUEUED,
        "queued_at": T0 + timedelta(seconds=n),
    }
    values.update(kw)
    return Delivery(**values)  # type: ignore[arg-type]


async def test_served_documents_and_deliveries_round_trip(store: Store) -> None:
    sms, email = delivery(1), delivery(2, Channel.EMAIL, participant_id="p-li")
    await store.add_served(DOC, [sms, email])
    assert await store.get_served_document("doc-1") == DOC
    assert await store.list_served_documents("h-1") == [DOC]
    assert await store.list_served_documents("h-none") == []
    assert await store.get_delivery("dl-2") == email
    assert sms.token_hash is not None
    assert await store.delivery_by_token(sms.token_hash) == sms
    with pytest.raises(NotFound):
        await store.delivery_by_token("0" * 64)
    with pytest.raises(NotFound):
        await store.get_delivery("nul\0")
    with pytest.raises(NotFound):
        await store.get_served_document("doc-none")
    with pytest.raises(Conflict):  # a document of a hearing that does not exist
        await store.add_served(replace(DOC, id="doc-2", hearing_id="h-none"), [])
    with pytest.raises(Conflict):  # the same token twice
        await store.add_delivery(delivery(3, token_hash=sms.token_hash))
    manual = delivery(
        4, Channel.POST, address="北京市朝阳区…", token_hash=None, expires_at=None,
        status=DeliveryStatus.CONFIRMED, confirmed_at=T0, note="挂号信 XA123",
        recorded_by="staff:王",
    )  # fmt: skip
    await store.add_delivery(manual)
    listed = await store.list_deliveries(hearing_id="h-1")
    assert [d.id for d in listed] == ["dl-1", "dl-2", "dl-4"]
    assert [d.id for d in await store.list_deliveries(document_id="doc-1", open_only=True)] == [
        "dl-1",
        "dl-2",
    ]


async def test_deliveries_only_move_forward_even_when_reports_race(store: Store) -> None:
    await store.add_served(DOC, [delivery(1), delivery(2)])
    t = [T0 + timedelta(minutes=n) for n in range(6)]
    d, changed = await store.advance_delivery("dl-1", DeliveryStatus.SENT, t[1], gateway_ref="g1")
    assert changed and (d.status, d.sent_at, d.gateway_ref) == (DeliveryStatus.SENT, t[1], "g1")
    d, changed = await store.advance_delivery("dl-1", DeliveryStatus.SENT, t[2])
    assert not changed and d.sent_at == t[1]
    d, _ = await store.advance_delivery("dl-1", DeliveryStatus.DELIVERED, t[2])
    d, _ = await store.advance_delivery("dl-1", DeliveryStatus.CONFIRMED, t[3])
    assert (d.status, d.opened_at, d.confirmed_at) == (DeliveryStatus.CONFIRMED, t[3], t[3])
    d, changed = await store.advance_delivery("dl-1", DeliveryStatus.FAILED, t[4], reason="x")
    assert not changed and d.status is DeliveryStatus.CONFIRMED and d.failed_at is None
    d, _ = await store.advance_delivery("dl-1", DeliveryStatus.OPENED, t[5])
    assert d == await store.get_delivery("dl-1") and d.opened_at == t[3]
    # Many reports at once: each time set once, the status the highest reached.
    reports = [DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.OPENED] * 5
    await asyncio.gather(
        *(store.advance_delivery("dl-2", s, t[i % 6]) for i, s in enumerate(reports))
    )
    d = await store.get_delivery("dl-2")
    assert d.status is DeliveryStatus.OPENED and d.opened_at is not None
    failed, _ = await store.advance_delivery("dl-2", DeliveryStatus.FAILED, t[5], reason="late")
    assert failed.status is DeliveryStatus.OPENED
    with pytest.raises(NotFound):
        await store.advance_delivery("dl-none", DeliveryStatus.SENT, t[0])
    assert not needs_follow_up(failed, T0 + timedelta(days=30), timedelta(days=3))

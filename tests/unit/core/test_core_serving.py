"""The rules of electronic service: addresses, a delivery's forward-only statuses, the
follow-up rule, tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hearing_server.core.errors import ValidationError
from hearing_server.core.serving import (
    Channel,
    Delivery,
    DeliveryStatus,
    advance,
    expired,
    needs_follow_up,
    new_token,
    normalise_address,
    token_hash,
)

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
S = DeliveryStatus


def delivery(channel: Channel = Channel.SMS) -> Delivery:
    return Delivery(
        "dl-1", "doc-1", "h-1", "张三", channel, "13800138000", "x", T0 + timedelta(days=7),
        S.QUEUED, T0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("13800138000", "13800138000"), ("+86 138-0013-8000", "13800138000"),
     ("8619912345678", "19912345678")],
)  # fmt: skip
def test_mobile_numbers_are_normalised(raw: str, stored: str) -> None:
    assert normalise_address(Channel.SMS, raw) == stored


@pytest.mark.parametrize(
    "raw", ["", "12345", "23800138000", "1380013800", "138001380001", "+1 2025550100", "abc"]
)
def test_other_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        normalise_address(Channel.SMS, raw)


def test_email_addresses() -> None:
    assert normalise_address(Channel.EMAIL, " li@court.example.cn ") == "li@court.example.cn"
    for bad in ("li", "li@", "@x.cn", "a b@x.cn", "li@x", "a@x.cn, b@y.cn"):
        with pytest.raises(ValidationError):
            normalise_address(Channel.EMAIL, bad)


def test_statuses_move_forward_and_times_are_set_once() -> None:
    d, changed = advance(delivery(), S.QUEUED, T0)
    assert not changed
    d, _ = advance(d, S.SENT, T0 + timedelta(seconds=1), gateway_ref="r1")
    d, _ = advance(d, S.OPENED, T0 + timedelta(seconds=5))
    # A late delivery report records its time but cannot move the status back.
    d, changed = advance(d, S.DELIVERED, T0 + timedelta(seconds=3))
    assert changed and d.status is S.OPENED and d.delivered_at == T0 + timedelta(seconds=3)
    d, changed = advance(d, S.FAILED, T0 + timedelta(seconds=6), reason="x")
    assert not changed and d.failed_at is None
    d, _ = advance(d, S.CONFIRMED, T0 + timedelta(seconds=7))
    assert (d.status, d.opened_at, d.sent_at) == (
        S.CONFIRMED, T0 + timedelta(seconds=5), T0 + timedelta(seconds=1),
    )  # fmt: skip


def test_a_failure_before_opening_sticks_until_the_link_is_opened() -> None:
    d, _ = advance(delivery(), S.FAILED, T0, reason="r" * 900)
    assert d.status is S.FAILED and len(d.failure or "") == 500
    d, changed = advance(d, S.FAILED, T0 + timedelta(seconds=1), reason="again")
    assert not changed
    d, _ = advance(d, S.DELIVERED, T0 + timedelta(seconds=2))
    assert d.status is S.FAILED
    # The recipient opened it after all (the gateway was wrong): served.
    d, _ = advance(d, S.OPENED, T0 + timedelta(seconds=3))
    assert d.status is S.OPENED and not d.open


def test_follow_up_and_expiry() -> None:
    after = timedelta(days=3)
    d = delivery()
    assert not needs_follow_up(d, T0 + timedelta(days=2), after)
    assert needs_follow_up(d, T0 + timedelta(days=3), after)
    failed, _ = advance(d, S.FAILED, T0, reason="x")
    assert needs_follow_up(failed, T0, after)
    opened, _ = advance(d, S.OPENED, T0)
    assert not needs_follow_up(opened, T0 + timedelta(days=30), after)
    assert not expired(d, T0 + timedelta(days=7) - timedelta(seconds=1))
    assert expired(d, T0 + timedelta(days=7))


def test_tokens_are_unguessable_and_only_their_hash_is_kept() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    token, digest = next(iter(tokens))
    assert len(token) >= 43 and digest == token_hash(token) and token not in digest

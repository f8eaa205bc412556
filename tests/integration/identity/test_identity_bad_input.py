"""Bad input to identity checks: wrong types, huge bodies, replays, brute force, checks for
someone else, skipping the step. Every answer is a clear 4xx or error event, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from hearing_server.app import create_app
from hearing_server.config import Settings
from hearing_server.core.participant import Role
from hearing_server.keys import STORE
from signaling.client import HearingClient, SignalingError
from support.identity import (
    LI_ID,
    LI_PHONE,
    ZHANG_ID,
    ZHANG_PHONE,
    Me,
    identity_hearing,
    outbox_code,
    resident_id,
)

MakeClient = Callable[..., HearingClient]
PEOPLE = [
    (Role.JUDGE, "王法官"),
    (Role.CLERK, "赵书记员"),
    (Role.PARTY, "张三"),
    (Role.PARTY, "李四"),
]
REGISTER = {"张三": (ZHANG_ID, ZHANG_PHONE), "李四": (LI_ID, LI_PHONE)}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def me(http: aiohttp.ClientSession, server: TestServer, token: str) -> Me:
    return Me(http, f"http://127.0.0.1:{server.port}", token)


async def test_wrong_types_unknown_fields_and_huge_bodies(
    server: TestServer, http: aiohttp.ClientSession, admin_headers: dict[str, str]
) -> None:
    h = await identity_hearing(server.app, PEOPLE, register=REGISTER)
    mine = me(http, server, h.people["张三"].token)
    cases = [
        ({"legal_name": "张三", "id_number": 110105198003121234}, 422, "invalid_field"),
        ({"legal_name": ["张三"], "id_number": ZHANG_ID}, 422, "invalid_field"),
        ({"legal_name": "张三", "id_number": None}, 422, "invalid_field"),
        ({"legal_name": "张三"}, 422, "missing_field"),
        # Checks for someone else: there is no such field, only "me".
        (
            {"legal_name": "李四", "id_number": LI_ID, "participant_id": h.people["李四"].id},
            422,
            "unknown_field",
        ),
        ([ZHANG_ID], 400, "invalid_body"),
        ({"legal_name": "张三", "id_number": "1" * 41}, 422, "invalid_field"),
        ({"legal_name": "张三", "id_number": "11010519800312\x00123"}, 422, "invalid_field"),
        ({"legal_name": "张三", "id_number": "1101051980031212"}, 422, "id_length"),
        ({"legal_name": "张三", "id_number": resident_id("99010519800312123")}, 422, "id_region"),
        (
            {"legal_name": "张三", "id_number": resident_id("11010519800230123")},
            422,
            "id_birth_date",
        ),
    ]
    for body, status, code in cases:
        got, answer = await mine.call("POST", "/api/me/identity/id-number", body)
        assert (got, answer.get("code")) == (status, code), (body, answer)
    got, answer = await mine.call("POST", "/api/me/identity/code", {"code": 123456})
    assert (got, answer["code"]) == (422, "invalid_field")
    got, answer = await mine.call("POST", "/api/me/identity/code/send", {"extra": 1})
    assert (got, answer["code"]) == (422, "unknown_field")
    async with http.post(
        f"http://127.0.0.1:{server.port}/api/me/identity/id-number",
        data=b"{" + b" " * (200 * 1024) + b"}",
        headers={
            "Authorization": f"Bearer {h.people['张三'].token}",
            "Content-Type": "application/json",
        },
    ) as resp:
        assert resp.status == 413 and (await resp.json())["code"] == "body_too_large"
    async with http.post(
        f"http://127.0.0.1:{server.port}/api/me/identity/id-number",
        data=b"{not json",
        headers={
            "Authorization": f"Bearer {h.people['张三'].token}",
            "Content-Type": "application/json",
        },
    ) as resp:
        assert resp.status == 400 and (await resp.json())["code"] == "invalid_json"
    # No token, a staff key instead of a join token.
    async with http.get(f"http://127.0.0.1:{server.port}/api/me/identity") as resp:
        assert resp.status == 401
    # None of the refused inputs counted as a failed attempt.
    assert (await mine.identity())["tries_left"]["id_number"] == 5

    # Staff registration input.
    base = f"http://127.0.0.1:{server.port}/api/participants/{h.people['李四'].id}/registration"
    bad = [
        ({"legal_name": "李四", "id_type": "resident_id", "id_number": "123", "phone": LI_PHONE},
         "id_length"),
        ({"legal_name": "李四", "id_type": "dna", "id_number": LI_ID, "phone": LI_PHONE},
         "invalid_field"),
        ({"legal_name": "李四", "id_type": "passport", "id_number": "E1234567", "phone": "call me"},
         "invalid_phone"),
        ({"legal_name": "李四", "id_type": "passport", "id_number": "E1234567",
          "phone": LI_PHONE, "email": "nobody"}, "invalid_email"),
        ({"legal_name": "\u202e李四", "id_type": "passport", "id_number": "E1234567",
          "phone": LI_PHONE}, "invalid_name"),
    ]  # fmt: skip
    for body, code in bad:
        async with http.put(base, json=body, headers=admin_headers) as resp:
            answer = await resp.json()
            assert resp.status == 422 and answer["code"] == code, (body, answer)
    async with http.put(
        base.replace(h.people["李四"].id, "nobody"),
        json={"legal_name": "x", "id_type": "passport", "id_number": "E1234567", "phone": "12345"},
        headers=admin_headers,
    ) as resp:
        assert resp.status == 404
    async with http.get(base, headers=admin_headers) as resp:
        reg = await resp.json()
        assert reg["id_last4"] == LI_ID[-4:] and LI_ID not in str(reg)
        assert reg["phone"] == "139****9000"
    # A party's join token may not register anyone, not even themselves (the judge or clerk
    # of the hearing may: test_registration_by_court.py); a token that is neither is 401.
    async with http.put(
        base,
        json={"legal_name": "李四", "id_type": "passport", "id_number": "E1234567", "phone": "1"},
        headers={"Authorization": f"Bearer {h.people['李四'].token}"},
    ) as resp:
        assert resp.status == 403 and (await resp.json())["code"] == "forbidden"
    async with http.put(base, json={}, headers={"Authorization": "Bearer nonsense"}) as resp:
        assert resp.status == 401
    async with http.put(
        f"http://127.0.0.1:{server.port}/api/hearings/{h.hearing_id}/identity-policy",
        json={"party": ["retina"]},
        headers=admin_headers,
    ) as resp:
        assert resp.status == 422 and (await resp.json())["code"] == "invalid_field"
    async with http.put(
        f"http://127.0.0.1:{server.port}/api/hearings/{h.hearing_id}/identity-policy",
        json={"judge": ["id_number"]},
        headers=admin_headers,
    ) as resp:
        assert resp.status == 422


async def test_five_wrong_id_numbers_lock_the_step_and_alert_the_clerk(
    server: TestServer, make_client: MakeClient, http: aiohttp.ClientSession
) -> None:
    h = await identity_hearing(server.app, PEOPLE, register=REGISTER)
    zhang = h.people["张三"]
    clerk = make_client(h.people["赵书记员"].token)
    await clerk.connect()
    await clerk.join()
    mine = me(http, server, zhang.token)
    for i in range(5):
        status, body = await mine.id_number("张三", LI_ID)
        assert status == 200 and body["result"]["outcome"] == "failed"
        assert body["identity"]["tries_left"]["id_number"] == (4 - i if i < 4 else 5)
    assert "id_number" in body["identity"]["locked"]
    # Locked: even the right number is refused for 15 minutes.
    status, body = await mine.id_number("张三", ZHANG_ID)
    assert (status, body["code"]) == (429, "identity_locked")
    alert = await clerk.wait_for_event("identity_alert", lambda a: a["kind"] == "locked")
    assert alert["participant_id"] == zhang.id and alert["step"] == "id_number"
    events = [e.event for e in await server.app[STORE].list_audit(h.hearing_id)]
    assert events.count("identity_check_failed") == 5 and "identity_locked" in events
    # The clerk can still verify them by hand.
    await clerk.call("verify_identity", {"participant_id": zhang.id, "reason": "电话核实"})
    assert (await mine.identity())["outcome"] == "verified"


async def test_codes_wait_sixty_seconds_and_cannot_be_guessed(
    server: TestServer, http: aiohttp.ClientSession
) -> None:
    h = await identity_hearing(server.app, PEOPLE, register=REGISTER)
    mine = me(http, server, h.people["李四"].token)
    assert (await mine.code("123456"))[1]["code"] == "step_order"
    assert (await mine.id_number("李四", LI_ID))[0] == 200
    assert (await mine.code("123456"))[1]["code"] == "no_code"
    assert (await mine.send_code())[0] == 200
    status, body = await mine.send_code()
    assert (status, body["code"]) == (429, "code_cooldown")
    code = outbox_code(server.app, LI_PHONE)
    status, body = await mine.code("12345")
    assert (status, body["code"]) == (422, "invalid_code")
    wrong = "000000" if code != "000000" else "999999"
    for _ in range(5):
        status, body = await mine.code(wrong)
        assert status == 200 and body["result"]["outcome"] == "failed"
    # Spent and locked: not even the right code now.
    status, body = await mine.code(code)
    assert status in (409, 429) and body["code"] in ("code_spent", "identity_locked")
    assert (await mine.identity())["outcome"] == "pending"


async def test_skipping_the_step_and_acting_for_others(
    server: TestServer, make_client: MakeClient
) -> None:
    h = await identity_hearing(server.app, PEOPLE, register=REGISTER)
    other = await identity_hearing(server.app, PEOPLE, register=REGISTER)
    zhang = make_client(h.people["张三"].token)
    await zhang.connect()
    info = await zhang.join()
    assert info["me"]["state"] == "identifying"
    # Only their own identity is in their join answer.
    assert list(info["identity"]) == [h.people["张三"].id]
    for event, data, code in [
        ("verify_identity", {"participant_id": h.people["张三"].id, "reason": "me"}, "forbidden"),
        ("waive_identity", {"participant_id": h.people["李四"].id, "reason": "x"}, "forbidden"),
        ("admit", {"participant_id": h.people["张三"].id}, "forbidden"),
        ("verify_identity", {"participant_id": 7, "reason": "x"}, "invalid_field"),
        ("verify_identity", {"participant_id": h.people["李四"].id}, "missing_field"),
        ("verify_identity", "not an object", "invalid_body"),
    ]:
        seen = len(zhang.events)
        with pytest.raises(SignalingError) as err:
            await zhang.call(event, data)  # type: ignore[arg-type]
        assert err.value.code == code, event
        got = await zhang.wait_for_event(
            "error", lambda e, ev=event: e["event"] == ev, start=seen
        )
        assert got["code"] == code
    # A clerk of one hearing cannot verify someone of another.
    clerk = make_client(h.people["赵书记员"].token)
    await clerk.connect()
    await clerk.join()
    with pytest.raises(SignalingError) as err:
        await clerk.call(
            "verify_identity", {"participant_id": other.people["张三"].id, "reason": "x"}
        )
    assert err.value.code in ("forbidden", "not_found")
    with pytest.raises(SignalingError) as err:
        await clerk.call("verify_identity", {"participant_id": "nobody", "reason": "x"})
    assert err.value.code == "not_found"
    # Joining again does not skip it either.
    await zhang.close()
    again = make_client(h.people["张三"].token)
    await again.connect()
    assert (await again.join())["me"]["state"] == "identifying"


async def test_someone_not_registered_is_told_to_ask_the_clerk(
    server: TestServer, http: aiohttp.ClientSession
) -> None:
    h = await identity_hearing(server.app, PEOPLE, register={})
    mine = me(http, server, h.people["张三"].token)
    status, body = await mine.id_number("张三", ZHANG_ID)
    assert (status, body["code"]) == (409, "not_registered")
    view = await mine.identity()
    assert view["registered"] is False and view["pending"] == ["id_number", "code"]


async def test_a_new_hearing_gets_the_configured_default_policy(
    aiohttp_server: object, settings: Settings, admin_headers: dict[str, str]
) -> None:
    server = await aiohttp_server(  # type: ignore[operator]
        create_app(replace(settings, identity_default_policy="standard")), host="127.0.0.1"
    )
    async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as http:
        async with http.post(
            "/api/hearings",
            json={
                "case_number": "(2026)京0105民初1号",
                "court": "法院",
                "title": "t",
                "scheduled_start": "2026-12-01T09:00:00+08:00",
                "scheduled_end": "2026-12-01T11:00:00+08:00",
            },
            headers=admin_headers,
        ) as resp:
            hid = (await resp.json())["id"]
        async with http.get(f"/api/hearings/{hid}/identity-policy", headers=admin_headers) as r:
            policy = await r.json()
        assert policy["party"] == ["id_number", "code", "face", "liveness"]
        assert policy["observer"] == ["id_number", "code"]
        async with http.put(
            f"/api/hearings/{hid}/identity-policy",
            json={"preset": "id_and_code", "observer": []},
            headers=admin_headers,
        ) as r:
            changed = await r.json()
        assert changed["party"] == ["id_number", "code"] and changed["observer"] == []

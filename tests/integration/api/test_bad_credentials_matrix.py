"""Every HTTP operation that needs a credential, tried with every kind of bad one: none, an
expired token, a token signed with another key, an unsigned token (``alg: none``), a revoked
link, a staff token where a join token belongs and the reverse, the judge of another hearing,
a wrong admin key. Generated from the route table, so a new route is covered when it is
declared. None of them may succeed (2xx or 3xx), and none may break the server (5xx).

(The roles' own rights, allowed or refused by the permission table, are
tests/integration/signaling/test_permission_matrix.py's.)"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp.test_utils import TestServer

from hearing_server.api.routes import ROUTES, Route
from hearing_server.auth.tokens import TokenService
from hearing_server.core.participant import Role
from hearing_server.keys import HEARINGS, TOKENS
from support.hearing import STAFF, make_hearing


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unsigned(token: str) -> str:
    """The same claims with ``alg: none`` and no signature."""
    payload = token.split(".")[1]
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."


def _path(route: Route, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)(?::[^}]*)?}", lambda m: values.get(m.group(1), "x"), route.path)


async def test_no_bad_credential_opens_any_operation(server: TestServer) -> None:
    app = server.app
    hid, people = await make_hearing(
        app, [(Role.JUDGE, "王法官"), (Role.PARTY, "张三")], state="in_session"
    )
    _, others = await make_hearing(app, [(Role.JUDGE, "李法官")], state="in_session")
    judge, party = people["王法官"], people["张三"]
    tokens = app[TOKENS]
    elsewhere = TokenService("another-key-0123456789abcdef0123456789abcdef", tokens._is_revoked)
    past = datetime.now(UTC) - timedelta(days=2)
    expired_join, _ = tokens.issue_join(hid, judge.id, Role.JUDGE, timedelta(hours=1), now=past)
    expired_staff, _ = tokens.issue_staff("书记员", timedelta(hours=1), now=past)
    foreign_join, _ = elsewhere.issue_join(hid, judge.id, Role.JUDGE, timedelta(hours=1))
    foreign_staff, _ = elsewhere.issue_staff("书记员", timedelta(hours=1))
    staff, _ = tokens.issue_staff("书记员", timedelta(hours=1))
    await app[HEARINGS].revoke_link(STAFF, party.token)

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    nobody: dict[str, dict[str, str]] = {"no credential": {}}
    bad_join = {
        **nobody,
        "expired join token": bearer(expired_join),
        "join token signed with another key": bearer(foreign_join),
        "unsigned join token (alg none)": bearer(_unsigned(judge.token)),
        "revoked link": bearer(party.token),
        "staff token as a join token": bearer(staff),
        "garbage": bearer("not.a.token"),
    }
    bad_staff = {
        **nobody,
        "wrong admin key": {"X-API-Key": "wrong-key-0123456789abcdef0123456789"},
        "expired staff token": bearer(expired_staff),
        "staff token signed with another key": bearer(foreign_staff),
        "unsigned staff token (alg none)": bearer(_unsigned(staff)),
        "a party's join token as staff": bearer(people["张三"].token),
    }
    bad_by_auth = {
        "join": bad_join,
        "staff": {**bad_staff, "the judge's join token as staff": bearer(judge.token)},
        "admin": {**bad_staff, "a staff token for the admin key": bearer(staff)},
        # the judge's console: a join token of this hearing's court, or staff
        "court": {
            **{k: v for k, v in bad_join.items() if k != "staff token as a join token"},
            **{k: v for k, v in bad_staff.items() if k != "a party's join token as staff"},
            "the judge of another hearing": bearer(others["李法官"].token),
        },
        "metrics": {**nobody, "wrong metrics token": bearer("wrong-metrics-token-0123456789")},
    }
    values = {"hearing_id": hid, "participant_id": judge.id}
    opened: list[str] = []
    broke: list[str] = []
    tried = 0
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as http:
        for route in ROUTES:
            if route.auth == "none":
                continue
            for what, headers in bad_by_auth[route.auth].items():
                body = {} if route.method in ("POST", "PUT", "PATCH") else None
                async with http.request(
                    route.method, _path(route, values), json=body, headers=headers
                ) as resp:
                    tried += 1
                    where = f"{route.method} {route.path} with {what}: {resp.status}"
                    if resp.status < 400:
                        opened.append(where)
                    elif resp.status >= 500:
                        broke.append(where)
    assert not opened, "escalations:\n" + "\n".join(opened)
    assert not broke, "server errors:\n" + "\n".join(broke)
    assert tried > 500, tried  # every protected route, every bad credential of its kind

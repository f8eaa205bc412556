"""The summons generated as a PDF and served: a booked hearing's summons for a participant, in
Chinese and in English, names the court, the case, the time with its zone, the courtroom and
the participant's own join link (read back with pdftotext), reaches them by e-mail, and the
join link in it opens the hearing for them."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from hearing_server import keys
from support.api import HEARING_BODY, add_participant, create_hearing
from support.serving import Mailbox, link_in

BEIJING = ZoneInfo("Asia/Shanghai")


def pdf_text(data: bytes, *options: str) -> str:
    out = subprocess.run(
        ["pdftotext", *options, "-", "-"], input=data, capture_output=True, check=True
    )
    return out.stdout.decode()


async def test_the_summons_is_generated_with_the_join_link_and_served(
    client: TestClient, admin_headers: dict[str, str], mailbox: tuple[Mailbox, int]
) -> None:
    box = mailbox[0]
    day = datetime.now(BEIJING).date() + timedelta(days=3)
    start = datetime(day.year, day.month, day.day, 9, 30, tzinfo=BEIJING)
    hid = (await create_hearing(client, admin_headers))["id"]
    resp = await client.post(
        f"/api/hearings/{hid}/schedule",
        json={"start": start.isoformat(), "duration_minutes": 90, "courtroom": "第一法庭",
              "people": [{"role": "judge", "name": "王法官"}]},
        headers=admin_headers,
    )  # fmt: skip
    assert resp.status == 201, await resp.text()
    party = await add_participant(client, admin_headers, hid, "party", "李四", side="defendant")

    texts, pdfs = {}, {}
    for lang, email in (("zh-CN", "lisi@example.com"), ("en", "lisi.en@example.com")):
        resp = await client.post(
            f"/api/hearings/{hid}/summons",
            json={"recipient": {"name": "李四", "email": email, "participant_id": party["id"]},
                  "lang": lang},
            headers=admin_headers,
        )  # fmt: skip
        assert resp.status == 201, await resp.text()
        body = await resp.json()
        assert body["document"]["kind"] == "summons"
        assert [d["channel"] for d in body["deliveries"]] == ["email"]
        assert await client.app[keys.JOBS].drain(30.0, horizon_s=60)
        link = link_in(box.body_to(email))
        pdfs[lang] = await (await client.get(urlsplit(link).path + "/document")).read()
        texts[lang] = pdf_text(pdfs[lang], "-layout")

    zh, en = texts["zh-CN"], texts["en"]
    when = f"{start:%Y-%m-%d} 09:30 - 11:00 (Asia/Shanghai)"
    for text in (zh, en):
        assert HEARING_BODY["case_number"] in text and HEARING_BODY["court"] in text
        assert when in text and "第一法庭" in text and "李四" in text
    assert "开庭传票" in zh and "被传唤人" in zh
    assert "Summons" in en and "Notice of hearing" in en
    # The participant's own join link: the one the PDF opens when tapped, and the same link
    # printed for those who type it in (it wraps anywhere, and the table's label, centred
    # beside it, lands between its lines in reading order).
    match = re.search(rb"/URI \((https?://[^)]*/join#token=([A-Za-z0-9_.-]+))\)", pdfs["zh-CN"])
    assert match is not None, "the join link is not clickable"
    join_link, token = match.group(1).decode(), match.group(2).decode()
    printed = re.sub(r"\s+", "", pdf_text(pdfs["zh-CN"])).replace("在线参加链接", "")
    assert join_link in printed, zh
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200, await me.text()
    assert (await me.json())["me"]["id"] == party["id"]

    # Bad input: an unknown language, a participant of another hearing, no address.
    other = (await create_hearing(client, admin_headers, case_number="(2026)京01民初77号"))["id"]
    stranger = await add_participant(client, admin_headers, other, "party", "王五")
    for data, status in (
        ({"recipient": {"name": "李四", "email": "l@example.com"}, "lang": "fr"}, 422),
        ({"recipient": {"name": "王五", "email": "w@example.com",
                        "participant_id": stranger["id"]}}, 404),
        ({"recipient": {"name": "李四"}}, 422),
        ({"recipient": {"name": "李四", "phone": "12345"}}, 422),
        ({"to": "李四"}, 422),
    ):  # fmt: skip
        resp = await client.post(f"/api/hearings/{hid}/summons", json=data, headers=admin_headers)
        assert resp.status == status, (data, await resp.text())

"""Presenting evidence through the real server (issue 26, items 2 and 4): the judge gives a
party the floor to present, the party shows an exhibit and turns its pages, and everyone in
the hearing room follows; nobody in the waiting room receives any of it; the presenter alone
moves it, the court stops it, and a presenter who leaves stops presenting. The record holds
when each exhibit was shown and by whom."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pypdfium2
import pytest
from aiohttp.test_utils import TestServer

from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import HEARINGS, STORE, TRANSCRIPTS
from signaling.client import HearingClient, SignalingError
from support import exhibits as files
from support.exhibits import upload_exhibit
from support.hearing import STAFF, Person, make_hearing
from support.waiting import wait_until

MakeClient = Callable[..., HearingClient]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


async def court(server: TestServer) -> tuple[str, dict[str, Person]]:
    hid, people = await make_hearing(
        server.app,
        [(Role.JUDGE, "王法官"), (Role.CLERK, "赵书记员"), (Role.PARTY, "张三")],
        state="in_session",
    )
    service = server.app[HEARINGS]
    for name, role, kw in (
        ("李四", Role.PARTY, {"side": PartySide.DEFENDANT}),
        ("旁听者", Role.OBSERVER, {}),
        ("陈证人", Role.WITNESS, {}),
    ):
        p = await service.add_participant(STAFF, hid, role=role, display_name=name, **kw)  # type: ignore[arg-type]
        _, token, _ = await service.issue_link(STAFF, p.id)
        people[name] = Person(p.id, role, name, token)
    return hid, people


def showing(data: Any) -> Any:
    return data["showing"] if data else None


async def refused(client: HearingClient, event: str, data: dict[str, Any]) -> str:
    with pytest.raises(SignalingError) as info:
        await client.call(event, data)
    return info.value.code


async def test_a_party_presents_and_the_hearing_room_follows(
    server: TestServer, make_client: MakeClient
) -> None:
    hid, people = await court(server)
    contract = await upload_exhibit(server, people["张三"], files.pdf(3), "借款合同")
    clients = {name: make_client(p.token) for name, p in people.items()}
    for client in clients.values():
        await client.connect()
        await client.join()
    judge, clerk, zhang, li = (clients[n] for n in ("王法官", "赵书记员", "张三", "李四"))
    watcher, witness = clients["旁听者"], clients["陈证人"]
    await judge.call("admit", {"participant_id": people["旁听者"].id})  # observers wait first
    assert zhang.join_info["presentation"] == {"granted_to": None, "showing": None}
    assert witness.join_info["presentation"] is None  # the waiting room is shown nothing

    # Not before the judge gives the floor to present; never for an observer or a witness.
    present = {"exhibit_id": contract["id"]}
    assert await refused(zhang, "present", present) == "not_granted"
    assert await refused(watcher, "present", present) == "forbidden"
    assert await refused(li, "grant_presenting", {"participant_id": people["张三"].id}) == (
        "forbidden"
    )
    await judge.call("grant_presenting", {"participant_id": people["张三"].id})
    await zhang.wait_for_event("presentation", lambda d: d["granted_to"] == people["张三"].id)
    # The other side cannot show 张三's unreleased exhibit (it does not exist for them).
    await judge.call("grant_presenting", {"participant_id": people["李四"].id})
    assert await refused(li, "present", present) == "not_found"
    await judge.call("grant_presenting", {"participant_id": people["张三"].id})

    reply = await zhang.call("present", present)
    assert reply["showing"]["exhibit"]["label"] == "原告证据1" and reply["showing"]["page"] == 1
    for name in ("王法官", "赵书记员", "李四", "旁听者"):
        seen = await clients[name].wait_for_event(
            "presentation", lambda d: showing(d) and showing(d)["page"] == 1
        )
        assert showing(seen)["presenter_name"] == "张三"
    # Presented: now the other side and the observers may open it.
    async with aiohttp.ClientSession() as http:
        r = await http.get(
            f"http://127.0.0.1:{server.port}/api/me/evidence/{contract['id']}/pages/1",
            headers={"Authorization": f"Bearer {people['旁听者'].token}"},
        )
        assert r.status == 200 and r.content_type == "image/jpeg"

    # The presenter turns to page 3, zooms in and points; everyone follows, in order.
    await zhang.call("presentation_move", {"page": 3})
    await zhang.call(
        "presentation_move", {"zoom": 2.0, "center": [0.3, 0.4], "pointer": [0.5, 0.5]}
    )
    for client in (judge, li, watcher):
        last = await client.wait_for_event(
            "presentation", lambda d: showing(d) and showing(d)["zoom"] == 2.0
        )
        assert showing(last)["page"] == 3 and showing(last)["pointer"] == [0.5, 0.5]
        seqs = [showing(d)["seq"] for e, d in client.events if e == "presentation" and showing(d)]
        assert seqs == sorted(seqs)
    assert await refused(li, "presentation_move", {"page": 2}) == "not_presenter"
    for bad in ({"page": 9}, {"zoom": 99}, {"zoom": "big"}, {"pointer": [2, 0]}, {"page": "2"}):
        assert await refused(zhang, "presentation_move", bad) in ("invalid_value", "invalid_field")
    assert await refused(zhang, "present", {"exhibit_id": "nope"}) == "not_found"
    # The waiting room received nothing of it.
    assert not [e for e, _ in witness.events if e == "presentation"]

    # The court stops it; a party cannot stop someone else's.
    assert await refused(li, "stop_presenting", {}) == "not_presenter"
    await clerk.call("stop_presenting", {})
    await li.wait_for_event("presentation", lambda d: d["showing"] is None)

    # A presenter who leaves the hearing room stops presenting and loses the floor.
    await zhang.call("present", present)
    await li.wait_for_event("presentation", lambda d: showing(d) is not None, start=0)
    await zhang.close()
    await wait_until(
        lambda: (
            [d for e, d in judge.events if e == "presentation"][-1]
            == {"granted_to": None, "showing": None}
        ),
        what="the presentation to end when the presenter left",
    )

    entries = await server.app[STORE].list_audit(hid)
    shown = [e for e in entries if e.event == "evidence_presented"]
    assert len(shown) == 2 and shown[0].data["label"] == "原告证据1"
    assert shown[0].data["presenter"] == "张三" and shown[0].data["sha256"] == contract["sha256"]
    ended = [e.data["reason"] for e in entries if e.event == "evidence_presentation_ended"]
    assert ended == ["stopped", "presenter_left"]
    assert [e.event for e in entries if e.event.startswith("presenting_")][:1] == [
        "presenting_granted"
    ]


async def test_the_record_lists_the_exhibits_and_marks_each_presentation(
    server: TestServer, make_client: MakeClient
) -> None:
    """The 笔录 (PDF and JSON) lists every exhibit with its hash and the opinions on it, and
    marks, among the speech, when each was presented and by whom."""
    hid, people = await court(server)
    contract = await upload_exhibit(server, people["张三"], files.pdf(2), "借款合同")
    judge = make_client(people["王法官"].token)
    await judge.connect()
    await judge.join()
    await judge.call("present", {"exhibit_id": contract["id"]})
    await judge.call("stop_presenting", {})
    async with aiohttp.ClientSession() as http:
        r = await http.post(
            f"http://127.0.0.1:{server.port}/api/me/evidence/{contract['id']}/opinions",
            json={"by_side": "defendant", "authenticity": "accepted", "relevance": "disputed",
                  "text": "借款未实际交付"},
            headers={"Authorization": f"Bearer {people['赵书记员'].token}"},
        )  # fmt: skip
        assert r.status == 201, await r.text()

    exported = await server.app[TRANSCRIPTS].export(STAFF, hid, "json")
    header = json.loads(exported.content)["hearing"]
    (listed,) = header["exhibits"]
    assert listed["label"] == "原告证据1" and listed["sha256"] == contract["sha256"]
    assert listed["opinions"] == ["被告：真实性无异议，关联性有异议。借款未实际交付"]
    assert [e["text"] for e in header["events"]] == ["王法官出示原告证据1《借款合同》"]

    pdf = await server.app[TRANSCRIPTS].export(STAFF, hid, "pdf")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "evidence-record.pdf").write_bytes(pdf.content)  # to look at
    doc = pypdfium2.PdfDocument(pdf.content)
    text = "".join(page.get_textpage().get_text_range() for page in doc)
    for expected in ("证据目录及质证意见", "原告证据1", contract["sha256"][:32], "借款未实际交付",
                     "【王法官出示原告证据1《借款合同》】"):  # fmt: skip
        assert expected in text.replace("\r", "").replace("\n", ""), expected

"""The exhibit bundle through the real server and store (issue 26, item 1): resumable
upload, content checks, numbering by side, the hash on the audit chain, release to the other
side, download with the hash, pages rendered by PDFium, corrections as new versions, the
opinions, and a tampered file caught by verification. Bad input: clear 4xx, nothing stored."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import sys
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from hearing_server.app import create_app
from hearing_server.config import Settings
from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import HEARINGS, STORE
from support import exhibits as files
from support.hearing import STAFF, Person, make_hearing


def bearer(person: Person) -> dict[str, str]:
    return {"Authorization": f"Bearer {person.token}"}


async def _case(client: TestClient) -> tuple[str, dict[str, Person]]:
    app = client.server.app
    hid, people = await make_hearing(
        app, [(Role.JUDGE, "王法官"), (Role.CLERK, "赵书记员"), (Role.PARTY, "张三")]
    )
    service = app[HEARINGS]
    li = await service.add_participant(
        STAFF, hid, role=Role.PARTY, display_name="李四", side=PartySide.DEFENDANT
    )
    lawyer = await service.add_participant(
        STAFF, hid, role=Role.COUNSEL, display_name="周律师", represents=li.id
    )
    watcher = await service.add_participant(STAFF, hid, role=Role.OBSERVER, display_name="旁听")
    for p in (li, lawyer, watcher):
        _, token, _ = await service.issue_link(STAFF, p.id)
        people[p.display_name] = Person(p.id, p.role, p.display_name, token)
    return hid, people


async def upload(
    client: TestClient,
    who: dict[str, str],
    data: bytes,
    *,
    title: str = "借款合同",
    prefix: str = "/api/me/evidence",
    pieces: int = 1,
    **extra: Any,
) -> Any:
    """Announce, send in ``pieces`` PATCHes, complete; returns the completing response."""
    r = await client.post(
        f"{prefix}/uploads", json={"size": len(data), "filename": "合同.pdf"}, headers=who
    )
    assert r.status == 201, await r.text()
    state = await r.json()
    step = -(-len(data) // pieces)
    for start in range(0, len(data), step):
        r = await client.patch(
            f"{prefix}/uploads/{state['upload_id']}",
            data=data[start : start + step],
            headers={
                **who,
                "Upload-Offset": str(start),
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert r.status == 200, await r.text()
    return await client.post(
        f"{prefix}/uploads/{state['upload_id']}/complete",
        json={"title": title, "purpose": "证明借款关系成立", **extra},
        headers=who,
    )


async def test_upload_seal_release_download_and_verify(
    client: TestClient, settings: Settings, admin_headers: dict[str, str]
) -> None:
    hid, people = await _case(client)
    zhang, li, lawyer = bearer(people["张三"]), bearer(people["李四"]), bearer(people["周律师"])
    clerk, watcher = bearer(people["赵书记员"]), bearer(people["旁听"])
    contract = files.pdf(3)

    # A broken line: the first half arrives, the phone asks where to go on, sends the rest.
    r = await client.post(
        "/api/me/evidence/uploads",
        json={"size": len(contract), "filename": "../../etc/合同.pdf"},
        headers=zhang,
    )
    up = (await r.json())["upload_id"]
    half = len(contract) // 2
    r = await client.patch(
        f"/api/me/evidence/uploads/{up}",
        data=contract[:half],
        headers={**zhang, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert (await r.json())["offset"] == half
    r = await client.get(f"/api/me/evidence/uploads/{up}", headers=zhang)
    assert (await r.json())["offset"] == half and r.headers["Upload-Offset"] == str(half)
    # Resending from the wrong place is refused, nothing is written.
    r = await client.patch(
        f"/api/me/evidence/uploads/{up}",
        data=contract[:10],
        headers={**zhang, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert r.status == 409 and (await r.json())["code"] == "offset_mismatch"
    # Someone else's upload does not exist for them.
    assert (await client.get(f"/api/me/evidence/uploads/{up}", headers=li)).status == 404
    r = await client.post(
        f"/api/me/evidence/uploads/{up}/complete", json={"title": "合同"}, headers=zhang
    )
    assert r.status == 409 and (await r.json())["code"] == "incomplete"
    r = await client.patch(
        f"/api/me/evidence/uploads/{up}",
        data=contract[half:],
        headers={
            **zhang,
            "Upload-Offset": str(half),
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert (await r.json())["offset"] == len(contract)
    r = await client.post(
        f"/api/me/evidence/uploads/{up}/complete",
        json={"title": "借款合同", "purpose": "证明借款关系成立"},
        headers=zhang,
    )
    assert r.status == 201, await r.text()
    first = await r.json()
    assert first["label"] == "原告证据1" and first["pages"] == 3
    assert first["sha256"] == hashlib.sha256(contract).hexdigest()
    assert first["media_type"] == "application/pdf" and first["filename"] == "合同.pdf"

    # The defendant's counsel files for the defendant: numbered on that side.
    r = await upload(client, lawyer, files.png(), title="转账截图")
    theirs = await r.json()
    assert r.status == 201 and theirs["label"] == "被告证据1"
    r = await upload(client, zhang, files.jpeg(), title="收据")
    assert (await r.json())["label"] == "原告证据2"

    # The chain holds each exhibit's hash.
    entries = await client.server.app[STORE].list_audit(hid)
    submitted = [e.data for e in entries if e.event == "evidence_submitted"]
    assert submitted[0]["sha256"] == first["sha256"]

    # Who sees what: the court everything, a side its own, observers nothing yet.
    async def labels(who: dict[str, str]) -> list[str]:
        r = await client.get("/api/me/evidence", headers=who)
        assert r.status == 200, await r.text()
        return sorted(e["label"] for e in (await r.json())["exhibits"])

    assert await labels(clerk) == ["原告证据1", "原告证据2", "被告证据1"]
    assert await labels(zhang) == ["原告证据1", "原告证据2"]
    assert await labels(li) == ["被告证据1"] == await labels(lawyer)
    assert await labels(watcher) == []
    assert (await client.get(f"/api/me/evidence/{first['id']}/file", headers=li)).status == 404
    # A side cannot release; the clerk can (证据交换), once.
    r = await client.post(f"/api/me/evidence/{first['id']}/release", headers=zhang)
    assert r.status == 403
    r = await client.post(f"/api/me/evidence/{first['id']}/release", headers=clerk)
    assert r.status == 200 and (await r.json())["released_at"]
    assert await labels(li) == ["原告证据1", "被告证据1"]

    # Download with the sealed hash in the headers; the bytes match it.
    r = await client.get(f"/api/me/evidence/{first['id']}/file", headers=li)
    body = await r.read()
    assert r.status == 200 and body == contract
    assert r.headers["X-Content-SHA256"] == first["sha256"]
    assert r.headers["Repr-Digest"].startswith("sha-256=:")
    # Page 2 rendered by PDFium: green (the test PDF's page colours).
    r = await client.get(f"/api/me/evidence/{first['id']}/pages/2?width=300", headers=li)
    assert r.status == 200 and r.content_type == "image/jpeg"
    image = Image.open(io.BytesIO(await r.read())).convert("RGB")
    assert image.width == 300 and image.height > 400
    red, green, blue = image.getpixel((10, 10))
    assert green > 120 and red < 80 and blue < 80
    assert (await client.get(f"/api/me/evidence/{first['id']}/pages/4", headers=li)).status == 404
    r = await client.get(f"/api/me/evidence/{first['id']}/pages/1?width=99999", headers=li)
    assert r.status == 422

    # A correction: the same number, the next version; both stay on the record.
    r = await upload(client, zhang, files.pdf(2), title="借款合同（更正）", supersedes=first["id"])
    v2 = await r.json()
    assert r.status == 201 and v2["label"] == "原告证据1（第2版）" and v2["version"] == 2
    r = await upload(client, lawyer, files.pdf(1), supersedes=v2["id"])
    assert r.status == 403  # the other side cannot correct it
    r = await upload(client, zhang, files.pdf(1), supersedes=first["id"])
    assert r.status == 409  # that version was already corrected

    # The other side's opinion, recorded by the clerk; a side's own is refused.
    r = await client.post(
        f"/api/me/evidence/{first['id']}/opinions",
        json={"by_side": "defendant", "authenticity": "accepted", "legality": "accepted",
              "relevance": "disputed", "text": "与本案争议无关"},
        headers=clerk,
    )  # fmt: skip
    assert r.status == 201, await r.text()
    r = await client.post(
        f"/api/me/evidence/{first['id']}/opinions",
        json={"by_side": "plaintiff", "text": "x"},
        headers=clerk,
    )
    assert r.status == 422
    r = await client.post(
        f"/api/me/evidence/{first['id']}/opinions",
        json={"by_side": "defendant", "text": "x"},
        headers=li,
    )
    assert r.status == 403
    bundle = await (await client.get(f"/api/hearings/{hid}/evidence", headers=admin_headers)).json()
    assert [o["relevance"] for o in bundle["opinions"]] == ["disputed"]

    # Verification: intact, then a file swapped on disk is caught.
    r = await client.get(f"/api/hearings/{hid}/evidence-verification", headers=admin_headers)
    report = await r.json()
    assert report["ok"] and report["exhibits"] == 4, report
    assert (await verify_cli(settings, hid))[0] == 0
    sealed = next((settings.data_dir / "evidence" / "files" / hid).iterdir())
    os.chmod(sealed, 0o644)
    sealed.write_bytes(sealed.read_bytes() + b"x")
    report = await (
        await client.get(f"/api/hearings/{hid}/evidence-verification", headers=admin_headers)
    ).json()
    assert not report["ok"] and any("SHA-256" in p for p in report["problems"]), report
    code, out = await verify_cli(settings, hid)
    assert code == 1 and not out["ok"] and any("SHA-256" in p for p in out["problems"]), out


async def verify_cli(settings: Settings, hearing_id: str) -> tuple[int, Any]:
    """``hearing-server verify-evidence`` on the test's data dir, in its own process."""
    env = {
        **os.environ,
        "HEARING_DATA_DIR": str(settings.data_dir),
        "HEARING_DATABASE_PATH": str(settings.effective_database_path),
    }
    if settings.database_url:
        env["HEARING_DATABASE_URL"] = settings.database_url
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hearing_server", "verify-evidence", "--hearing", hearing_id,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode in (0, 1), err.decode()
    assert out.strip(), err.decode()[-2000:]
    return proc.returncode, json.loads(out)


@pytest.mark.parametrize(
    ("name", "data", "code", "status"),
    [
        ("text", b"just some text, not an exhibit", "unsupported_type", 422),
        ("polyglot png", files.png_pdf_polyglot(), "polyglot", 422),
        ("pdf with an archive", files.pdf_with_zip(), "polyglot", 422),
        ("truncated pdf", files.truncated_pdf(), "malformed_pdf", 422),
        ("png bomb", files.png_bomb(), "decompression_bomb", 422),
        ("garbage mp4", b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000), "malformed_media", 422),
    ],
)
async def test_hostile_files_are_refused_and_nothing_is_kept(
    client: TestClient,
    settings: Settings,
    admin_headers: dict[str, str],
    name: str,
    data: bytes,
    code: str,
    status: int,
) -> None:
    hid, people = await _case(client)
    r = await upload(client, bearer(people["张三"]), data)
    assert r.status == status, (name, await r.text())
    assert (await r.json())["code"] == code
    bundle = await (await client.get(f"/api/hearings/{hid}/evidence", headers=admin_headers)).json()
    assert bundle["exhibits"] == []
    uploads = settings.data_dir / "evidence" / "uploads"
    assert not any(uploads.iterdir()), "a refused file's bytes stay on disk"
    entries = await client.server.app[STORE].list_audit(hid)
    assert not [e for e in entries if e.event == "evidence_submitted"]


async def test_bad_requests_get_clear_errors(
    client: TestClient, settings: Settings, admin_headers: dict[str, str]
) -> None:
    hid, people = await _case(client)
    other, others = await make_hearing(client.server.app, [(Role.PARTY, "王五")])
    zhang, watcher = bearer(people["张三"]), bearer(people["旁听"])
    mine = await (await upload(client, zhang, files.png())).json()

    async def status(method: str, url: str, who: dict[str, str], **kw: Any) -> tuple[int, str]:
        r = await client.request(method, url, headers=who, **kw)
        body = await r.json() if r.content_type == "application/json" else {}
        return r.status, body.get("code", "")

    limit = settings.evidence_max_bytes
    too_big = {"size": limit + 1, "filename": "a.pdf"}
    assert await status("POST", "/api/me/evidence/uploads", zhang, json=too_big) == (
        413,
        "too_large",
    )
    assert (await status("POST", "/api/me/evidence/uploads", zhang,
                         json={"size": "big", "filename": "a.pdf"}))[0] in (400, 422)  # fmt: skip
    assert (await status("POST", "/api/me/evidence/uploads", zhang,
                         json={"size": 0, "filename": "a.pdf"}))[0] == 422  # fmt: skip
    assert (await status("POST", "/api/me/evidence/uploads", zhang, data=b"{"))[0] in (400, 415)
    assert await status("POST", "/api/me/evidence/uploads", watcher,
                        json={"size": 10, "filename": "a.pdf"}) == (403, "forbidden")  # fmt: skip
    # Bytes beyond the announced size are refused.
    r = await client.post("/api/me/evidence/uploads", json={"size": 4, "filename": "a"},
                          headers=zhang)  # fmt: skip
    up = (await r.json())["upload_id"]
    r = await client.patch(
        f"/api/me/evidence/uploads/{up}", data=b"123456",
        headers={**zhang, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )  # fmt: skip
    assert r.status == 413
    r = await client.patch(
        f"/api/me/evidence/uploads/{up}", data=b"12",
        headers={**zhang, "Upload-Offset": "x", "Content-Type": "application/offset+octet-stream"},
    )  # fmt: skip
    assert r.status == 400
    # Unfinished uploads hold disk space: a few at a time per person (the one above is one).
    announce = {"size": 10, "filename": "a.pdf"}
    for _ in range(3):
        assert (await status("POST", "/api/me/evidence/uploads", zhang, json=announce))[0] == 201
    assert await status("POST", "/api/me/evidence/uploads", zhang, json=announce) == (
        409,
        "too_many_uploads",
    )
    assert (await status("DELETE", f"/api/me/evidence/uploads/{up}", zhang))[0] == 204
    assert (await status("POST", "/api/me/evidence/uploads", zhang, json=announce))[0] == 201
    assert (await status("GET", "/api/me/evidence/uploads/..%2F..%2Fetc", zhang))[0] == 404
    assert (await status("GET", "/api/me/evidence/uploads/" + "a" * 32, zhang))[0] == 404
    # An exhibit of another case is not there for this hearing's people, nor via its path.
    theirs = await (await upload(client, bearer(others["王五"]), files.png())).json()
    assert (await status("GET", f"/api/me/evidence/{theirs['id']}/file", zhang))[0] == 404
    r = await client.get(f"/api/hearings/{hid}/evidence/{theirs['id']}/file", headers=admin_headers)
    assert r.status == 404
    assert (await status("GET", f"/api/me/evidence/{mine['id']}/pages/abc", zhang))[0] == 400
    assert (await status("GET", "/api/me/evidence", {"Authorization": "Bearer nope"}))[0] == 401
    r = await client.post(
        f"/api/me/evidence/{mine['id']}/opinions",
        json={"by_side": "defendant", "authenticity": "maybe"},
        headers=bearer(people["赵书记员"]),
    )
    assert r.status == 422
    assert other != hid


async def test_audio_and_video_stream_by_a_short_lived_ticket(client: TestClient) -> None:
    """A player cannot send the join token: it streams by a ticket, with ranges; a forged or
    altered ticket, or one asked for by someone who may not see the exhibit, gets nothing."""
    _, people = await _case(client)
    clip = files.mp4(1.0)
    r = await upload(client, bearer(people["张三"]), clip, title="监控录像")
    video = await r.json()
    assert r.status == 201 and video["media_type"] == "video/mp4", video
    r = await client.post(f"/api/me/evidence/{video['id']}/ticket", headers=bearer(people["李四"]))
    assert r.status == 404  # the other side may not see it yet
    r = await client.post(f"/api/me/evidence/{video['id']}/ticket", headers=bearer(people["张三"]))
    url = (await r.json())["url"]
    r = await client.get(url, headers={"Range": "bytes=100-199"})
    assert r.status == 206 and await r.read() == clip[100:200]
    assert r.headers["Content-Type"] == "video/mp4"
    assert r.headers["X-Content-SHA256"] == video["sha256"]
    r = await client.get(url)
    assert r.status == 200 and await r.read() == clip
    exhibit_id, expires, mac = url.rsplit("/", 1)[1].split(".")
    for forged in (
        f"{exhibit_id}.{int(expires) + 3600}.{mac}",  # a longer life
        f"{exhibit_id}.{expires}.{'0' * 64}",
        f"{exhibit_id}.{expires}",
        "..",
        f"{exhibit_id}.1.{mac}",
    ):
        r = await client.get(f"/api/evidence-files/{forged}")
        assert r.status == 404, forged


async def test_an_upload_resumes_after_the_server_restarts(
    aiohttp_client: Any, settings: Settings
) -> None:
    """Half a file arrives, the server restarts (a deploy, a crash), the phone asks where it
    stands and sends the rest: one exhibit, the whole file, the right hash."""
    first = await aiohttp_client(create_app(settings))
    _, people = await _case(first)
    zhang = bearer(people["张三"])
    contract = files.pdf(3)
    r = await first.post(
        "/api/me/evidence/uploads", json={"size": len(contract), "filename": "a.pdf"}, headers=zhang
    )
    up = (await r.json())["upload_id"]
    half = len(contract) // 2
    octets = {**zhang, "Content-Type": "application/offset+octet-stream"}
    r = await first.patch(
        f"/api/me/evidence/uploads/{up}",
        data=contract[:half],
        headers={**octets, "Upload-Offset": "0"},
    )
    assert r.status == 200
    await first.close()

    second = await aiohttp_client(create_app(settings))
    r = await second.get(f"/api/me/evidence/uploads/{up}", headers=zhang)
    assert (await r.json())["offset"] == half
    r = await second.patch(
        f"/api/me/evidence/uploads/{up}",
        data=contract[half:],
        headers={**octets, "Upload-Offset": str(half)},
    )
    assert (await r.json())["offset"] == len(contract)
    r = await second.post(
        f"/api/me/evidence/uploads/{up}/complete", json={"title": "借款合同"}, headers=zhang
    )
    exhibit = await r.json()
    assert r.status == 201 and exhibit["sha256"] == hashlib.sha256(contract).hexdigest()

"""The transcript store (append-only, hash-chained), the service's permissions and
corrections, and the exports (WebVTT, SRT, JSON, PDF).

What goes through the store runs on both backends (``store_backend``: SQLite and PostgreSQL);
the exports, which only read what the store returns, on SQLite."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import webvtt
from transcript_fixtures import CASE, COURT, SPOKEN, make_record, segment

from hearing_server.core.actors import Actor
from hearing_server.core.audit import AuditEvent, verify_chain
from hearing_server.core.errors import Conflict, Forbidden, NotFound, ValidationError
from hearing_server.core.hearing import HearingKind
from hearing_server.service.transcripts import ExportFormat
from hearing_server.store.sqlite import SQLiteStore
from support.stores import RawSQLError, StoreBackend
from transcription.exports import timestamp
from transcription.pdf import PdfExportError, PdfOptions, to_pdf


async def test_segments_form_an_intact_hash_chain(store_backend: StoreBackend) -> None:
    rec = await make_record(store_backend.store())
    entries = await rec.store.list_transcript("h-1")
    assert [e.seq for e in entries] == rec.seqs == [1, 2, 3, 4, 5]
    assert not verify_chain(entries, hearing_id="h-1")
    assert entries[1].prev_hash == entries[0].hash
    assert entries[0].event == "segment" and entries[0].actor == "system"
    assert entries[1].data["text"] == SPOKEN[1][5]
    assert await rec.store.list_transcript("other") == []
    assert await rec.store.schema_version() >= 2
    await rec.store.close()


async def test_the_table_refuses_updates_and_deletes(store_backend: StoreBackend) -> None:
    rec = await make_record(store_backend.store())
    await rec.store.close()
    with pytest.raises(RawSQLError, match="append-only"):
        await store_backend.execute("UPDATE transcript_log SET data = '{}' WHERE seq = 1")
    with pytest.raises(RawSQLError, match="append-only"):
        await store_backend.execute("DELETE FROM transcript_log")


async def test_tampering_is_detected(store_backend: StoreBackend) -> None:
    rec = await make_record(store_backend.store())
    await rec.store.close()
    # Someone with write access to the database file, or the database's owner.
    await store_backend.execute(
        store_backend.pick(
            sqlite="DROP TRIGGER transcript_log_no_update",
            postgresql="DROP TRIGGER transcript_log_no_update ON transcript_log",
        )
    )
    await store_backend.execute(
        "UPDATE transcript_log SET data = replace(data, 'car', 'bus') WHERE seq = 3"
    )
    await rec.store.open()
    transcript = await rec.service.get_transcript(Actor.staff("auditor"), "h-1")
    assert not transcript.intact
    assert [p.seq for p in transcript.problems] == [3]
    await rec.store.close()


async def test_clerk_corrects_original_kept_and_audited(store_backend: StoreBackend) -> None:
    rec = await make_record(store_backend.store())
    clerk = rec.actor("p-clerk")
    fixed = "I saw the car stop outside the gate."
    line = await rec.service.correct_segment(clerk, "h-1", 3, fixed, reason="misheard")
    assert line.text == "I saw the car stop outside the gate."
    assert line.original_text == SPOKEN[2][5] and line.corrected
    assert line.corrections[0].actor == "p-clerk" and line.corrections[0].reason == "misheard"
    again = await rec.service.correct_segment(clerk, "h-1", 3, "I saw the car stop at the gate.")
    assert again.original_text == SPOKEN[2][5] and len(again.corrections) == 2
    # The segment entry itself is untouched; corrections are new entries.
    entries = await rec.store.list_transcript("h-1")
    assert entries[2].data["text"] == SPOKEN[2][5]
    assert [e.event for e in entries[5:]] == ["correction", "correction"]
    assert not verify_chain(entries, hearing_id="h-1")
    audit = await rec.store.list_audit("h-1")
    corrected = [a for a in audit if a.event == AuditEvent.TRANSCRIPT_SEGMENT_CORRECTED]
    assert len(corrected) == 2 and corrected[0].actor == "p-clerk"
    assert corrected[0].data["original_text"] == SPOKEN[2][5]
    assert corrected[1].data["previous_text"] == "I saw the car stop outside the gate."
    assert corrected[0].data["transcript_seq"] == 6
    assert corrected[0].data["transcript_hash"] == entries[5].hash
    assert not verify_chain(audit, hearing_id="h-1")
    await rec.store.close()


async def test_who_may_correct_finalise_and_read(store_backend: StoreBackend) -> None:
    rec = await make_record(store_backend.store())
    svc = rec.service
    for pid in ("p-party", "p-witness", "p-observer", "p-judge"):
        with pytest.raises(Forbidden):
            await svc.correct_segment(rec.actor(pid), "h-1", 1, "changed")
    for pid in ("p-clerk", "p-party"):
        with pytest.raises(Forbidden):
            await svc.finalise(rec.actor(pid), "h-1")
    for pid in ("p-party", "p-witness", "p-observer", "p-display"):
        with pytest.raises(Forbidden):
            await svc.export(rec.actor(pid), "h-1", "json")
    outsider = Actor(id="p-clerk", role=rec.actor("p-clerk").role, hearing_id="another")
    with pytest.raises(Forbidden):
        await svc.correct_segment(outsider, "h-1", 1, "changed")
    for pid in ("p-judge", "p-clerk"):
        assert (await svc.get_transcript(rec.actor(pid), "h-1")).lines
    assert (await svc.export(Actor.staff("registry"), "h-1", "srt")).content
    with pytest.raises(NotFound):
        await svc.correct_segment(rec.actor("p-clerk"), "h-1", 99, "changed")
    with pytest.raises(ValidationError):
        await svc.correct_segment(rec.actor("p-clerk"), "h-1", 1, "  ")
    with pytest.raises(ValidationError):
        await svc.correct_segment(rec.actor("p-clerk"), "h-1", 1, "bad\u202etext")
    with pytest.raises(ValidationError):
        await svc.export(rec.actor("p-judge"), "h-1", "docx")
    await rec.store.close()


async def test_mediator_finalises_in_a_mediation_only(store_backend: StoreBackend) -> None:
    rec = await make_record(store_backend.store(), HearingKind.MEDIATION)
    await rec.close_hearing()
    from hearing_server.core.participant import Role

    mediator = Actor(id="p-med", role=Role.MEDIATOR, hearing_id="h-1")
    assert (await rec.service.finalise(mediator, "h-1")).finalised is not None
    await rec.store.close()


async def test_finalise_after_close_then_nothing_more(store_backend: StoreBackend) -> None:
    rec = await make_record(store_backend.store())
    judge = rec.actor("p-judge")
    with pytest.raises(Conflict):
        await rec.service.finalise(judge, "h-1")  # the hearing is still running
    await rec.close_hearing()
    final = await rec.service.finalise(judge, "h-1")
    assert final.finalised is not None and final.finalised.actor == "p-judge"
    entries = await rec.store.list_transcript("h-1")
    assert entries[-1].event == "finalised"
    assert entries[-1].data == {"segments": 5, "head_hash": entries[-2].hash}
    audit = await rec.store.list_audit("h-1")
    assert audit[-1].event == AuditEvent.TRANSCRIPT_FINALISED and audit[-1].actor == "p-judge"
    assert audit[-1].data["transcript_hash"] == entries[-1].hash
    assert audit[-1].data["segments"] == 5 and verify_chain(audit) == []
    with pytest.raises(Conflict):
        await rec.service.correct_segment(rec.actor("p-clerk"), "h-1", 1, "late change")
    with pytest.raises(Conflict):
        await rec.service.finalise(judge, "h-1")
    with pytest.raises(Conflict):  # the store itself refuses: a late segment is not lost
        await rec.service.record_segment(segment("h-1", SPOKEN[0]))
    await rec.store.close()


async def test_webvtt_export_parses(tmp_path: Path) -> None:
    rec = await make_record(SQLiteStore(tmp_path / "db.sqlite3"))
    await rec.service.correct_segment(rec.actor("p-clerk"), "h-1", 3, "I saw the car stop.")
    out = await rec.service.export(rec.actor("p-judge"), "h-1", ExportFormat.WEBVTT)
    assert out.media_type.startswith("text/vtt") and out.filename.endswith(".vtt")
    path = tmp_path / "t.vtt"
    path.write_bytes(out.content)
    captions = webvtt.read(str(path))
    assert len(captions) == 5
    first = captions[0]
    assert first.start == "00:00:00.500" and first.end == "00:00:04.000"
    assert first.voice == "Judge Li 李法官 (judge)"
    assert first.text == SPOKEN[0][5]
    # Escaped as the WebVTT spec requires (webvtt-py leaves entities as they are).
    assert captions[1].raw_text.endswith(">My name is Zhang San &amp; I live in &lt;Beijing&gt;.")
    assert html.unescape(captions[1].text) == SPOKEN[1][5]
    assert captions[2].text == "I saw the car stop."  # the corrected text
    assert captions[3].text == "我同意调解方案。"
    assert captions[4].text.startswith("[audio lost: 25 audio frame(s) lost")
    await rec.store.close()


def run(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, check=True, text=True, timeout=60).stdout


def parse_srt(text: str) -> list[tuple[int, str, str, str]]:
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    out = []
    for block in blocks:
        index, times, *lines = block.split("\n")
        m = re.fullmatch(r"(\d\d:\d\d:\d\d,\d{3}) --> (\d\d:\d\d:\d\d,\d{3})", times)
        assert m, times
        out.append((int(index), m.group(1), m.group(2), "\n".join(lines)))
    return out


async def test_srt_export_parses(tmp_path: Path) -> None:
    rec = await make_record(SQLiteStore(tmp_path / "db.sqlite3"))
    out = await rec.service.export(rec.actor("p-clerk"), "h-1", "srt")
    cues = parse_srt(out.content.decode())
    assert [c[0] for c in cues] == [1, 2, 3, 4, 5]
    assert cues[1][1:3] == ("00:00:05,000", "00:00:08,200")
    assert cues[1][3] == "Zhang San 张三 (party): " + SPOKEN[1][5]
    assert cues[3][3].endswith("我同意调解方案。")
    await rec.store.close()


async def test_finalise_waits_until_recognition_has_finished(store_backend: StoreBackend) -> None:
    rec = await make_record(store_backend.store())
    judge = rec.actor("p-judge")
    rec.service.begin_recognition("h-1")
    await rec.close_hearing()
    export = await rec.service.export(judge, "h-1", "json")
    assert json.loads(export.content)["complete"] is False
    with pytest.raises(Conflict) as refused:  # queued speech would land after the final mark
        await rec.service.finalise(judge, "h-1")
    assert refused.value.code == "transcript_pending"
    await rec.service.record_segment(segment("h-1", SPOKEN[0]))  # the last utterance arrives
    rec.service.end_recognition("h-1")
    export = await rec.service.export(judge, "h-1", "json")
    assert json.loads(export.content)["complete"] is True
    final = await rec.service.finalise(judge, "h-1")
    assert final.finalised is not None and len(final.lines) == 6
    await rec.store.close()


async def test_json_export(tmp_path: Path) -> None:
    rec = await make_record(SQLiteStore(tmp_path / "db.sqlite3"))
    await rec.service.correct_segment(rec.actor("p-clerk"), "h-1", 1, "State your name.")
    doc = json.loads((await rec.service.export(rec.actor("p-judge"), "h-1", "json")).content)
    assert doc["hearing"]["court"] == COURT and doc["hearing"]["case_number"] == CASE
    people = doc["hearing"]["participants"]
    assert {"name": "Courtroom 1", "role": "courtroom_display"} not in people
    assert {"name": "Zhang San 张三", "role": "party"} in people
    assert doc["final"] is False and doc["complete"] is True and doc["chain"]["intact"] is True
    assert doc["chain"]["entries"] == 6
    seg = doc["segments"][0]
    assert seg["text"] == "State your name." and seg["original_text"] == SPOKEN[0][5]
    assert seg["name"] == "Judge Li 李法官" and seg["start"] == 0.5
    assert [s["status"] for s in doc["segments"]] == ["ok", "ok", "ok", "ok", "gap"]
    await rec.store.close()


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
async def test_pdf_export_has_header_and_every_segment(tmp_path: Path) -> None:
    rec = await make_record(SQLiteStore(tmp_path / "db.sqlite3"))
    await rec.service.correct_segment(rec.actor("p-clerk"), "h-1", 3, "I saw the car stop.",
                                      reason="clarity")
    await rec.close_hearing()
    await rec.service.finalise(rec.actor("p-judge"), "h-1")
    out = await rec.service.export(rec.actor("p-judge"), "h-1", ExportFormat.PDF)
    assert out.media_type == "application/pdf" and out.content.startswith(b"%PDF")
    pdf = tmp_path / "t.pdf"
    pdf.write_bytes(out.content)
    text = run(["pdftotext", "-layout", str(pdf), "-"])
    flat = " ".join(text.split())
    for needle in (COURT, CASE, "买卖合同纠纷", "Judge Li 李法官", "Zhang San 张三",
                   "Wang Wu 王五", "Clerk Zhao 赵书记员", "2026-11-22 01:30:00", "FINAL"):
        assert needle in flat, needle
    assert "Courtroom 1" not in flat
    for _, _, _, start, _, said in SPOKEN:
        if said != SPOKEN[2][5]:
            assert " ".join(said.split()) in flat, said
        assert timestamp(start)[:8] in flat
    assert "I saw the car stop." in flat and "recognised as: " + SPOKEN[2][5] in flat
    assert "[audio lost:" in flat
    fonts = run(["pdffonts", str(pdf)])
    cjk = [ln for ln in fonts.splitlines() if "WenQuanYiZenHei" in ln]
    assert cjk and all("yes yes yes" in ln for ln in cjk)  # embedded, subset, ToUnicode
    await rec.store.close()


async def test_pdf_needs_its_font(tmp_path: Path) -> None:
    rec = await make_record(SQLiteStore(tmp_path / "db.sqlite3"))
    transcript = await rec.service.get_transcript(rec.actor("p-judge"), "h-1")
    from hearing_server.service.transcripts import header_from

    header = header_from(rec.hearing, await rec.store.list_participants("h-1"))
    with pytest.raises(PdfExportError):
        to_pdf(transcript, header, PdfOptions(font_path=tmp_path / "missing.ttc"))
    await rec.store.close()


def test_the_store_and_the_transcript_agree_on_the_final_entry() -> None:
    # The store refuses entries after this event; the library folds it as the final mark.
    from hearing_server.store.base import TRANSCRIPT_FINALISED
    from transcription.transcript import FINALISED

    assert FINALISED == TRANSCRIPT_FINALISED

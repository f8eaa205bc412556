"""The final pass's text in the transcript: a ``revision`` entry replaces the live text in
the transcript and its exports, the live text stays in the chain; a clerk's correction wins;
nothing is revised once the transcript is final."""

from __future__ import annotations

import json
from pathlib import Path

from transcript_fixtures import SPOKEN, make_record

from hearing_server.store.sqlite import SQLiteStore

ENGINE = "faster-whisper:whisper-base"


async def test_a_revision_replaces_the_live_text_and_keeps_it(tmp_path: Path) -> None:
    rec = await make_record(SQLiteStore(tmp_path / "db.sqlite3"))
    seq = rec.seqs[3]  # "我同意调解方案。"
    assert await rec.service.revise_segment("h-1", seq, "我同意这个调解方案。", ENGINE)
    t = await rec.service.current("h-1")
    line = t.line(seq)
    assert line is not None and t.intact
    assert line.text == "我同意这个调解方案。" and line.original_text == SPOKEN[3][5]
    assert line.revised_text == "我同意这个调解方案。" and line.revised_by == ENGINE
    assert not line.corrected
    doc = json.loads((await rec.service.export(rec.actor("p-judge"), "h-1", "json")).content)
    seg = next(s for s in doc["segments"] if s["seq"] == seq)
    assert seg["text"] == "我同意这个调解方案。" and seg["original_text"] == SPOKEN[3][5]
    assert seg["final_pass_text"] == "我同意这个调解方案。"
    vtt = (await rec.service.export(rec.actor("p-judge"), "h-1", "vtt")).content.decode()
    assert "我同意这个调解方案。" in vtt and SPOKEN[3][5] not in vtt
    # A later pass's text is the one that counts.
    assert await rec.service.revise_segment("h-1", seq, "我同意调解方案。", ENGINE)
    line = (await rec.service.current("h-1")).line(seq)
    assert line is not None and line.text == "我同意调解方案。"
    await rec.store.close()


async def test_the_clerks_correction_wins_over_the_final_pass(tmp_path: Path) -> None:
    rec = await make_record(SQLiteStore(tmp_path / "db.sqlite3"))
    clerk = rec.actor("p-clerk")
    first, second = rec.seqs[3], rec.seqs[0]
    # Corrected before the pass: the pass stores nothing.
    await rec.service.correct_segment(clerk, "h-1", first, "我同意本案调解方案。")
    assert not await rec.service.revise_segment("h-1", first, "我同意调解方案了。", ENGINE)
    # Revised, then corrected: the correction is the text.
    assert await rec.service.revise_segment("h-1", second, "Please state your name.", ENGINE)
    await rec.service.correct_segment(clerk, "h-1", second, "State your full name.")
    t = await rec.service.current("h-1")
    a, b = t.line(first), t.line(second)
    assert a is not None and a.text == "我同意本案调解方案。" and a.revised_text is None
    assert b is not None and b.text == "State your full name."
    assert b.revised_text == "Please state your name." and b.original_text == SPOKEN[0][5]
    await rec.store.close()


async def test_nothing_is_revised_once_final_or_unknown(tmp_path: Path) -> None:
    rec = await make_record(SQLiteStore(tmp_path / "db.sqlite3"))
    assert not await rec.service.revise_segment("h-1", 999, "无", ENGINE)
    await rec.close_hearing()
    await rec.service.finalise(rec.actor("p-judge"), "h-1")
    assert not await rec.service.revise_segment("h-1", rec.seqs[3], "我同意。", ENGINE)
    line = (await rec.service.current("h-1")).line(rec.seqs[3])
    assert line is not None and line.text == SPOKEN[3][5]
    await rec.store.close()

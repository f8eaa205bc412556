"""The Chinese 笔录 PDF of a zh-CN hearing: the court and 庭审笔录 as the title, the header a
Chinese court writes (时间, 地点, 案号, 案由, 审判人员, 书记员, the parties by side, their
counsel), each utterance under its role's prefix (审：, 原：, 被：, 原代：, 证：), the clerk's
corrections, the CJK font embedded; checked with pdftotext."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hearing_server.core.actors import Actor
from hearing_server.core.hearing import Hearing, HearingAction, HearingKind
from hearing_server.core.participant import Participant, PartySide, Role
from hearing_server.service.transcripts import ExportFormat, TranscriptService
from hearing_server.store.sqlite import SQLiteStore
from transcription.exports import HeaderPerson
from transcription.pdf import role_prefix, speaker_prefixes
from transcription.segments import SegmentStatus, TranscriptSegment

T0 = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)  # 09:30 in Beijing
PEOPLE = [
    ("p-judge", Role.JUDGE, "王法官", None, None),
    ("p-clerk", Role.CLERK, "赵书记员", None, None),
    ("p-plaintiff", Role.PARTY, "张三", PartySide.PLAINTIFF, None),
    ("p-defendant", Role.PARTY, "李四", PartySide.DEFENDANT, None),
    ("p-counsel", Role.COUNSEL, "陈律师", None, "p-plaintiff"),  # side from whom they represent
    ("p-witness", Role.WITNESS, "王五", None, None),
    ("p-display", Role.COURTROOM_DISPLAY, "第一法庭显示屏", None, None),
]
SPOKEN = [
    ("p-judge", 0.5, "现在开庭。原告陈述诉讼请求。"),
    ("p-plaintiff", 5.0, "请求判令被告支付货款50万元。"),
    ("p-counsel", 9.0, "补充一点，利息按年利率3.5%计算。"),
    ("p-defendant", 13.0, "我不同意原告的诉讼请求。"),
    ("p-witness", 17.0, "我看见他们签了合同。"),
]


def run(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout


def pdftotext(pdf: Path) -> str:
    return run(["pdftotext", "-layout", str(pdf), "-"])


def test_prefixes_follow_role_and_side() -> None:
    assert role_prefix(HeaderPerson("a", "王法官", "judge")) == "审"
    assert role_prefix(HeaderPerson("b", "张三", "party", "plaintiff")) == "原"
    assert role_prefix(HeaderPerson("c", "李四", "party", "defendant")) == "被"
    assert role_prefix(HeaderPerson("d", "陈律师", "counsel", "plaintiff")) == "原代"
    assert role_prefix(HeaderPerson("e", "申某", "party", "applicant")) == "申"
    assert role_prefix(HeaderPerson("f", "某人", "party")) == "当"
    assert role_prefix(HeaderPerson("g", "赵书记员", "clerk")) == "书"
    two = speaker_prefixes((HeaderPerson("a", "张三", "party", "plaintiff"),
                            HeaderPerson("b", "张四", "party", "plaintiff"),
                            HeaderPerson("c", "李四", "party", "defendant")))
    assert two == {"a": "原（张三）", "b": "原（张四）", "c": "被"}


async def make(tmp_path: Path, language: str | None, default: str | None) -> TranscriptService:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    hearing = Hearing(id="h-1", kind=HearingKind.HEARING,
                      case_number="（2026）京0105民初12345号", court="北京市朝阳区人民法院",
                      title="买卖合同纠纷", scheduled_start=T0,
                      scheduled_end=T0 + timedelta(hours=2)).with_language(language)
    await store.create_hearing(hearing)
    for pid, role, name, side, represents in PEOPLE:
        await store.add_participant(Participant(id=pid, hearing_id="h-1", role=role,
                                                display_name=name, side=side,
                                                represents=represents))
    service = TranscriptService(store, clock=lambda: T0 + timedelta(hours=1),
                                default_language=default)
    names = {pid: (name, role.value) for pid, role, name, _, _ in PEOPLE}
    for pid, start, text in SPOKEN:
        name, role = names[pid]
        await service.record_segment(TranscriptSegment(
            "h-1", pid, name, role, start, start + 3.0, T0 + timedelta(seconds=start), text,
            "faster-whisper:whisper-base", "zh", SegmentStatus.OK))
    h = hearing
    for action in (HearingAction.OPEN, HearingAction.START, HearingAction.CLOSE):
        h = h.apply(action, T0 if action is not HearingAction.CLOSE else T0 + timedelta(minutes=75))
    await store.update_hearing(h)
    return service


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
@pytest.mark.parametrize(("language", "default"), [(None, "zh-CN"), ("zh-CN", None)])
async def test_a_chinese_hearing_gets_a_chinese_bilu(
    tmp_path: Path, language: str | None, default: str | None
) -> None:
    service = await make(tmp_path, language, default)
    clerk = Actor("p-clerk", Role.CLERK, "h-1")
    await service.correct_segment(clerk, "h-1", 4, "我不同意原告的全部诉讼请求。",
                                  reason="核对录音")
    await service.finalise(Actor("p-judge", Role.JUDGE, "h-1"), "h-1")
    from zoneinfo import ZoneInfo

    out = await service.export(Actor("p-judge", Role.JUDGE, "h-1"), "h-1", ExportFormat.PDF,
                               tz=ZoneInfo("Asia/Shanghai"))
    pdf = tmp_path / "bilu.pdf"
    pdf.write_bytes(out.content)
    text = pdftotext(pdf)
    flat = "".join(text.split())  # Chinese has no spaces; layout adds some
    for needle in ("北京市朝阳区人民法院", "庭审笔录", "时间：2026年11月22日9时30分至10时45分",
                   "地点：北京市朝阳区人民法院（在线庭审）", "案号：（2026）京0105民初12345号",
                   "案由：买卖合同纠纷", "审判人员：王法官", "书记员：赵书记员", "原告：张三",
                   "被告：李四", "原告委托诉讼代理人：陈律师", "证人：王五", "笔录状态：已定稿",
                   "审：现在开庭。原告陈述诉讼请求。", "原：请求判令被告支付货款50万元。",
                   "原代：补充一点，利息按年利率3.5%计算。", "被：我不同意原告的全部诉讼请求。",
                   "原识别为：我不同意原告的诉讼请求。", "理由：核对录音",
                   "证：我看见他们签了合同。", "09:30:00", "审判人员（签名）", "书记员（签名）"):
        assert needle in flat, needle
    assert "第一法庭显示屏" not in flat and "Speaker" not in flat
    # Prefixes come in speaking order.
    starts = ("审：现在", "原：请求", "原代：补充", "被：我不同意", "证：我看见")
    order = [flat.index(p) for p in starts]
    assert order == sorted(order)
    fonts = run(["pdffonts", str(pdf)])
    cjk = [ln for ln in fonts.splitlines() if "WenQuanYiZenHei" in ln]
    assert cjk and all("yes yes yes" in ln for ln in cjk)  # embedded, subset, ToUnicode
    await service.store.close()  # type: ignore[attr-defined]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
async def test_an_english_hearing_keeps_the_bilingual_table(tmp_path: Path) -> None:
    service = await make(tmp_path, "en", "zh-CN")
    out = await service.export(Actor("p-judge", Role.JUDGE, "h-1"), "h-1", ExportFormat.PDF)
    pdf = tmp_path / "t.pdf"
    pdf.write_bytes(out.content)
    flat = " ".join(pdftotext(pdf).split())
    assert "Speaker 发言人" in flat and "庭审笔录" in flat and "审：" not in flat
    await service.store.close()  # type: ignore[attr-defined]

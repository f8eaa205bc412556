"""Rendering: both templates, the CJK font embedded, header and footer on every page."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from esign import FontMissingError, render
from esign.render import chinese_numeral
from support.esign import sample_document

needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext missing: apt install poppler-utils"
)


def pages_text(pdf: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True
    ).stdout.decode("utf-8")
    return [p for p in out.split("\f") if p.strip()]


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_chinese_numerals() -> None:
    got = [chinese_numeral(n) for n in (1, 10, 11, 20, 21, 99, 100, 101, 110, 115, 200)]
    assert got == [
        "一",
        "十",
        "十一",
        "二十",
        "二十一",
        "九十九",
        "一百",
        "一百零一",
        "一百一十",
        "一百一十五",
        "二百",
    ]


@needs_pdftotext
def test_chinese_template(tmp_path: Path) -> None:
    doc = sample_document("zh-CN", terms=40)
    result = render(doc)
    pages = pages_text(result.pdf, tmp_path)
    assert len(pages) == result.page_count > 1
    whole = flat("".join(pages))
    assert "调解协议书" in whole and "申请人：张三" in whole and "**************1234" in whole
    for i, term in enumerate(doc.terms, 1):
        assert flat(f"{chinese_numeral(i)}、{term}") in whole, i
    assert "12000.00CNY" in whole and "调解组织（盖章）" in whole and "2026年12月7日" in whole
    for n, page in enumerate(pages, 1):
        text = flat(page)
        assert f"第{n}页共{len(pages)}页" in text
        assert doc.content_hash() in text
        assert doc.case_number in text
    # the CJK font is embedded (a subset), not referenced
    assert b"/FontFile2" in result.pdf


@needs_pdftotext
def test_english_template(tmp_path: Path) -> None:
    doc = sample_document("en", terms=3)
    result = render(doc)
    pages = pages_text(result.pdf, tmp_path)
    whole = " ".join(pages)
    assert "Mediation Agreement" in whole
    for i, term in enumerate(doc.terms, 1):
        assert flat(f"{i}. {term}") in flat(whole)
    for n, page in enumerate(pages, 1):
        assert f"Page {n} of {len(pages)}" in page
        assert doc.content_hash() in flat(page)


def test_signature_boxes_are_on_the_page_in_order() -> None:
    result = render(sample_document())
    names = [b.field_name for b in result.boxes]
    assert names == ["party_1", "party_2", "seal"]
    for box in result.boxes:
        x1, y1, x2, y2 = box.rect
        assert 0 < x1 < x2 <= 595 and 0 < y1 < y2 <= 842
        assert 0 <= box.page < result.page_count
    assert result.box("seal").kind == "seal"


def test_rendering_is_deterministic() -> None:
    assert render(sample_document()).pdf == render(sample_document()).pdf


def test_markup_in_text_is_printed_not_interpreted(tmp_path: Path) -> None:
    doc = dataclasses.replace(sample_document("en", 1), terms=("<b>pay</b> & <font size=90>",))
    assert render(doc).page_count >= 1


def test_missing_font_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FontMissingError) as err:
        render(sample_document(), font_path=tmp_path / "nope.ttc")
    assert err.value.code == "font_missing" and "fonts-wqy-zenhei" in str(err.value)

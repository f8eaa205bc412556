"""Mandarin captions in Chromium, by default: a hearing that names no language is a zh-CN
hearing. The party's fake microphone speaks a real Mandarin recording (AISHELL-1 read speech,
``../shared/testdata/mandarin``) in a loop; the judge starts the hearing and admits the party;
a final caption reaches the judge's console in Simplified Chinese, attributed to the party,
close to the recording's reference text. The judge closes the hearing and marks the
transcript final; its PDF is a 庭审笔录 with the party's words under the plaintiff's
prefix, read back with pdftotext. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from hearing_server.config import Settings
from hearing_server.core.participant import Role
from support.hearing import make_hearing
from support.journey import SERVER_MS, walk_in
from transcription.chinese import ChineseText, cer
from transcription.models import ModelError, bundled_base_model
from transcription.testing import MANDARIN_TESTDATA, mandarin_speech_set

RECORDING = "BAC009S0764W0121.wav"  # AISHELL-1 test set, 4.2 s of clear read speech
JUDGE, PARTY = "王审判员", "张三"
# Batch recognition of this recording (beam 1) makes 1 error in 13 characters; the live cut
# (where the VAD ends the utterance, and where admission lands in the microphone's loop)
# differs from batch, hence the margin.
MAX_CER = 0.35
# Whisper base costs 1.5-2 s a call on two idle cores, several times that on a loaded machine.
CAPTION_S = 60


def _recording() -> Any:
    for u in mandarin_speech_set():
        if u.name == RECORDING:
            return u
    return None


def _skip_reason() -> str | None:
    if _recording() is None:
        return f"no Mandarin test recording {RECORDING} at {MANDARIN_TESTDATA} (see PROVENANCE.md)"
    try:
        bundled_base_model(Path("/nonexistent"))
    except ModelError as exc:
        return str(exc)
    if shutil.which("pdftotext") is None:
        return "pdftotext (Debian poppler-utils) is not installed"
    return None


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(_skip_reason()), reason=_skip_reason() or ""),
]

# Every final caption on the page now (only the last few stay on screen, so the test reads
# them as they come).
FINALS = """() => [...document.querySelectorAll('.captions .caption.final')].map((p) => ({
  speaker: p.querySelector('.caption-speaker').textContent,
  text: p.querySelector('.caption-text').textContent,
}))"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    assert settings.transcription_language == "zh-CN"  # the default, not set by this test
    return replace(settings, transcription_enabled=True)


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", *args, "-y"], check=True, capture_output=True, timeout=60
    )


def _fake_microphone(folder: Path, recording: Path) -> Path:
    """The wav Chromium plays in a loop (48 kHz mono, 16-bit): the recording 15 dB louder (it
    peaks at -26 dBFS, too quiet for the self-test's microphone check to hear it reliably),
    with a second of silence before and six after (the VAD ends each utterance; fewer of them
    wait for recognition on a loaded machine)."""
    speech = folder / "party-zh.wav"
    _ffmpeg(
        "-i",
        str(recording),
        "-af",
        "volume=15dB,adelay=1000:all=1,apad=pad_dur=6",
        "-ar",
        "48000",
        "-ac",
        "1",
        "-c:a",
        "pcm_s16le",
        str(speech),
    )
    return speech


def _pdf_text(pdf: Path) -> str:
    """The PDF's text as pdftotext reads it, without whitespace."""
    out = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return "".join(out.split())


async def _good_caption(page: Page, reference: str, conv: ChineseText) -> list[dict[str, str]]:
    """Every final caption seen until one of the party's is within MAX_CER of the reference
    (the first may be cut where admission landed in the microphone's loop)."""
    seen: list[dict[str, str]] = []
    deadline = time.monotonic() + CAPTION_S
    while time.monotonic() < deadline:
        for c in await page.evaluate(FINALS):
            if c not in seen:
                seen.append(c)
                if (
                    c["speaker"].startswith(PARTY)
                    and cer(reference, c["text"], conv).rate <= MAX_CER
                ):
                    return seen
        await asyncio.sleep(0.3)
    raise AssertionError(f"no caption of {PARTY} within CER {MAX_CER} in {CAPTION_S} s: {seen}")


async def _transcript_done(http: aiohttp.ClientSession, base: str, token: str) -> dict[str, Any]:
    """The JSON transcript once live recognition and the final pass (beam 5) are done."""
    deadline = time.monotonic() + 120
    while True:
        async with http.get(
            f"{base}/api/me/transcript/json", headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 200, await resp.text()
            doc: dict[str, Any] = await resp.json(content_type=None)
        if doc["complete"] and not doc["final_pass_pending"]:
            return doc
        assert time.monotonic() < deadline, "recognition did not finish within 120 s"
        await asyncio.sleep(0.5)


async def test_mandarin_from_a_browser_microphone_gives_simplified_captions_and_bilu(
    server: TestServer, launch: Any, artifacts: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    said = _recording()
    speech = _fake_microphone(tmp_path, said.path)
    _, people = await make_hearing(
        server.app, [(Role.JUDGE, JUDGE), (Role.PARTY, PARTY)], state="open"
    )
    base = f"http://127.0.0.1:{server.port}"
    # The judge's microphone is silent (the default one speaks English, with flite).
    judge, party = await asyncio.gather(
        launch("judge", "silent", width=1440, height=900),
        launch("party", "party", width=390, height=844, mobile=True, audio=speech),
    )
    jp = judge.page
    await jp.goto(f"{base}/join#token={people[JUDGE].token}")
    await expect(jp.locator(".screen.console")).to_be_visible()
    await walk_in(party.page, base, people[PARTY].token, room="waiting-room")

    # The judge starts the hearing and admits the party, whose microphone speaks Mandarin.
    await jp.click("[data-hearing-action='start']")
    await expect(jp.locator(".console-bar .badge")).to_have_attribute(
        "data-state", "in_session", timeout=SERVER_MS
    )
    row = jp.locator(f".prow[data-participant-id='{people[PARTY].id}']")
    await row.locator("[data-action='admit']").click()
    await expect(party.page.locator("[data-testid='hearing-room']")).to_be_visible(
        timeout=SERVER_MS
    )

    conv = ChineseText()
    seen = await _good_caption(jp, said.reference, conv)
    print(f"{time.monotonic() - started:5.1f} s  captions: {seen}")
    # The whole utterance's caption: Chinese characters, Simplified. The ones before it may be
    # a fragment (cut where admission landed in the loop), which Whisper may write as anything.
    text = seen[-1]["text"]
    hanzi = re.findall(r"[\u4e00-\u9fff]", text)
    assert len(hanzi) >= 0.8 * len(re.sub(r"[\s\W]", "", text)), f"not Chinese: {text!r}"
    for c in seen:
        assert conv.simplified(c["text"]) == c["text"], f"not Simplified: {c}"
        assert c["speaker"].startswith(PARTY), f"the judge's microphone is silent: {c}"
    await jp.screenshot(path=str(artifacts / "mandarin-captions-console-1440x900.png"))
    await party.page.screenshot(path=str(artifacts / "mandarin-captions-party-390x844.png"))
    # Enough said: the judge mutes the party, so the final pass has only a few utterances.
    await row.locator("[data-action='mute']").click()

    # The judge closes the hearing; once recognition and the final pass are done, marks the
    # transcript final; its PDF is the 笔录.
    await jp.click("[data-hearing-action='close']")
    await jp.click("[data-hearing-action='close']")
    await expect(jp.locator(".screen.record")).to_be_visible(timeout=SERVER_MS)
    async with aiohttp.ClientSession() as http:
        doc = await _transcript_done(http, base, people[JUDGE].token)
        mine = [s for s in doc["segments"] if s["participant_id"] == people[PARTY].id]
        assert mine and all(s["name"] == PARTY for s in mine), doc["segments"]
        text = "".join(s["text"] for s in mine)
        assert conv.simplified(text) == text, text
        await expect(jp.locator(".tbadge[data-kind='pending']")).to_have_count(0, timeout=SERVER_MS)
        finalise = jp.locator("[data-action='finalise']")
        await finalise.click()
        await finalise.click()
        await expect(jp.locator(".transcript-panel")).to_have_attribute(
            "data-final", "true", timeout=SERVER_MS
        )
        async with http.get(
            f"{base}/api/me/transcript/pdf",
            headers={"Authorization": f"Bearer {people[JUDGE].token}"},
        ) as resp:
            assert resp.status == 200, await resp.text()
            (tmp_path / "bilu.pdf").write_bytes(await resp.read())
    flat = await asyncio.to_thread(_pdf_text, tmp_path / "bilu.pdf")
    assert "庭审笔录" in flat and f"审判人员：{JUDGE}" in flat, flat  # noqa: RUF001
    assert f"原告：{PARTY}" in flat, flat  # noqa: RUF001
    for s in mine:
        assert "原：" + "".join(s["text"].split()) in flat, (s["text"], flat)  # noqa: RUF001
    print(f"{time.monotonic() - started:5.1f} s  done; 笔录: {flat[:300]}")

"""Browser tests: the real app on 127.0.0.1 and Debian's Chromium driven by Playwright.

Each participant gets their own Chromium (a persistent context with a fresh profile), because
the fake camera and microphone files are per browser process. Chromium is never downloaded:
``executable_path`` points at the Debian package.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import (
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    async_playwright,
    expect,
)

from hearing_server.app import create_app
from hearing_server.config import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    # getDisplayMedia (a shared screen as evidence) picks the (headless, fake) screen itself
    "--auto-select-desktop-capture-source=Entire screen",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# An assertion without its own timeout waits this long (Playwright's default is 5 s): on a
# loaded two-core machine a page that follows the server's push can take longer, and a
# check that is never true still fails, only later.
expect.set_options(timeout=15_000)
WEB_CLIENT = Path(__file__).resolve().parents[2] / "web_client"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip (with the reason) when the machine lacks what the browser tests need."""
    missing = [tool for tool in ("ffmpeg", "flite") if shutil.which(tool) is None]
    if not Path(CHROMIUM).exists():
        missing.append(CHROMIUM)
    if not (WEB_CLIENT / "node_modules" / "socket.io-client").is_dir():
        missing.append("web_client/node_modules (run npm ci in web_client)")
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"browser tests need: {', '.join(missing)}")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@dataclass(frozen=True)
class FakeMedia:
    video: Path
    audio: Path


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def fake_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FakeMedia]:
    """A moving test pattern (.y4m) and synthetic speech (.wav) per participant."""
    out = tmp_path_factory.mktemp("fake-media")
    media: dict[str, FakeMedia] = {}
    sources = {
        "judge": ("testsrc=size=640x360:rate=25", "The court is in session. Please be seated."),
        "party": ("testsrc2=size=640x360:rate=25", "Thank you, your honour. I can hear you."),
        "display": ("smptebars=size=640x360:rate=25", "Courtroom display."),
    }
    for name, (pattern, words) in sources.items():
        video = out / f"{name}.y4m"
        speech = out / f"{name}-speech.wav"
        audio = out / f"{name}.wav"
        _run(
            "ffmpeg",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            pattern,
            "-t",
            "4",
            "-pix_fmt",
            "yuv420p",
            "-y",
            str(video),
        )
        _run("flite", "-t", words, "-o", str(speech))
        # 48 kHz mono, and long enough that the loop has little silence.
        _run(
            "ffmpeg",
            "-loglevel",
            "error",
            "-i",
            str(speech),
            "-af",
            "apad=pad_dur=0.3",
            "-ar",
            "48000",
            "-ac",
            "1",
            "-y",
            str(audio),
        )
        media[name] = FakeMedia(video, audio)
    # A microphone in a quiet room: digital silence (the party's picture)
    silent = out / "silent.wav"
    _run(
        "ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono",
        "-t", "4", "-y", str(silent),
    )  # fmt: skip
    media["silent"] = FakeMedia(media["party"].video, silent)
    return media


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def server(aiohttp_server: Any, settings: Settings) -> TestServer:
    """The real app on 127.0.0.1; its public URL is the address the browsers use (CORS)."""
    port = _free_port()
    settings = replace(settings, public_url=f"http://127.0.0.1:{port}")
    return await aiohttp_server(create_app(settings), host="127.0.0.1", port=port)


@pytest.fixture
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as pw:
        yield pw


@dataclass
class Participant:
    """One person's browser: its context, page and everything the page logged."""

    name: str
    context: BrowserContext
    page: Page
    logs: list[str] = field(default_factory=list)


Launcher = Callable[..., Awaitable[Participant]]


@pytest.fixture
async def launch(
    playwright: Playwright, tmp_path: Path, fake_media: dict[str, FakeMedia]
) -> AsyncIterator[Launcher]:
    """Start a Chromium for one participant, with that participant's fake camera and mic."""
    started: list[Participant] = []

    async def start(
        name: str,
        media: str,
        *,
        width: int,
        height: int,
        mobile: bool = False,
        ask: bool = False,
        audio: Path | None = None,
    ) -> Participant:
        """``ask``: the browser asks before opening the camera and microphone, as a real one
        does, instead of granting them: its per-site settings decide (Browser.setPermission),
        and an unanswered prompt is a refusal. ``audio``: a wav the fake microphone plays (in
        a loop) instead of ``media``'s synthetic speech."""
        fake = fake_media[media]
        if audio is not None:
            fake = replace(fake, audio=audio)
        flags = [f for f in CHROMIUM_FLAGS if not (ask and f == "--use-fake-ui-for-media-stream")]
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / f"profile-{name}"),
            executable_path=CHROMIUM,
            headless=True,
            args=[
                *flags,
                f"--use-file-for-fake-video-capture={fake.video}",
                f"--use-file-for-fake-audio-capture={fake.audio}",
            ],
            viewport={"width": width, "height": height},
            device_scale_factor=1,
            is_mobile=mobile,
            has_touch=mobile,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        context.set_default_timeout(15_000)
        page = context.pages[0] if context.pages else await context.new_page()
        person = Participant(name, context, page)

        def log(msg: ConsoleMessage) -> None:
            person.logs.append(f"[{msg.type}] {msg.text}")

        page.on("console", log)
        page.on("pageerror", lambda exc: person.logs.append(f"[pageerror] {exc}"))
        started.append(person)
        return person

    yield start
    for person in started:
        if person.logs:
            print(f"--- browser console of {person.name} ---")
            print("\n".join(person.logs[-60:]))
        await person.context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS

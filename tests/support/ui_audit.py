"""A page's usability on a phone, measured in the browser: header controls that something
covers, text that is cut or runs off the screen, controls smaller than 44x44 CSS px, text
smaller than 14 px or with less than 4.5:1 contrast against what is behind it, :hover rules
outside ``@media (hover: hover)``; and in the hearing room, the judge's picture the largest and
not covered by the self-view.

The checks are one script run in the page (``ui_audit.js``); each returns a list of findings,
and an empty list means the screen passes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

SCRIPT = (Path(__file__).with_name("ui_audit.js")).read_text(encoding="utf-8")


async def audit(page: Page, *, stage: bool = False) -> list[dict[str, Any]]:
    """The findings on the page as it is now; with ``stage``, also the hearing room's stage
    (the judge in it)."""
    findings: list[dict[str, Any]] = await page.evaluate(f"() => ({SCRIPT}).audit()")
    if stage:
        findings += await page.evaluate(f"() => ({SCRIPT}).stage()")
    return findings


#: The phones of the issue: three upright, two on their side.
VIEWPORTS = [(320, 568), (360, 640), (390, 844), (640, 360), (844, 390)]
LANGUAGES = ["zh-CN", "en"]


class Auditor:
    """Audits the page as it is in every viewport and language (switched with a tap, as a
    person does), keeps every finding and a screenshot of each screen in ``out``."""

    def __init__(self, page: Page, logs: list[str], out: Path) -> None:
        self.page = page
        self.logs = logs
        self.out = out
        self.findings: list[dict[str, Any]] = []
        self.screens = 0

    async def screen(self, state: str, *, stage: bool = False) -> None:
        page = self.page
        for width, height in VIEWPORTS:
            await page.set_viewport_size({"width": width, "height": height})
            for lang in LANGUAGES:
                await page.locator(f".lang-btn[lang='{lang}']:visible").first.tap()
                await expect(page.locator("html")).to_have_attribute("lang", lang)
                await page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r()))")
                where = f"{state} {width}x{height} {lang}"
                for finding in await audit(page, stage=stage):
                    self.findings.append({"where": where, **finding})
                await page.screenshot(path=str(self.out / f"{state}-{width}x{height}-{lang}.png"))
                self.screens += 1
        errors = [line for line in self.logs if line.startswith(("[error]", "[pageerror]"))]
        for line in errors:
            self.findings.append({"where": state, "check": "console-error", "what": line})
        self.logs.clear()

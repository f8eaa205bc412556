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

from playwright.async_api import Page

SCRIPT = (Path(__file__).with_name("ui_audit.js")).read_text(encoding="utf-8")


async def audit(page: Page, *, stage: bool = False) -> list[dict[str, Any]]:
    """The findings on the page as it is now; with ``stage``, also the hearing room's stage
    (the judge in it)."""
    findings: list[dict[str, Any]] = await page.evaluate(f"() => ({SCRIPT}).audit()")
    if stage:
        findings += await page.evaluate(f"() => ({SCRIPT}).stage()")
    return findings

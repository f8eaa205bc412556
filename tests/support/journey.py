"""A participant's way in, in a real browser: the link, the device self-test, the hearing
rules and the declaration, then the waiting room or (a hearing in session) the hearing room."""

from __future__ import annotations

from playwright.async_api import Page, expect

#: Waits that follow the server's work: generous on a loaded machine.
SERVER_MS = 30_000


async def pass_self_test(page: Page, base: str, token: str) -> None:
    """Open the join link and pass the device self-test (the fake camera and microphone, the
    test tone heard), ending at the step after it."""
    await page.goto(f"{base}/join#token={token}")
    await expect(page.locator(".screen.flow[data-step='selftest']")).to_be_visible()
    await page.click("[data-action='play-tone']")
    await page.click("[data-action='heard']")
    await expect(page.locator(".check-status[data-result='ok']")).to_have_count(4, timeout=20_000)
    await page.click("[data-action='continue']")


async def walk_in(page: Page, base: str, token: str, *, room: str = "hearing-room") -> None:
    """The whole way in for someone with no identity check: self-test, rules, declaration;
    ``room`` is where they should end up (``hearing-room`` or ``waiting-room``)."""
    await pass_self_test(page, base, token)
    await page.check("[data-action='declare']")
    await page.click("[data-action='enter-waiting']")
    await expect(page.locator(f"[data-testid='{room}']")).to_be_visible(timeout=SERVER_MS)

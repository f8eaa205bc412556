"""A whole mediation in Chromium: the mediator (desktop console) and two parties on phones run
the joint session → caucus with the applicant → caucus with the respondent → joint session →
draft → proposal → both accept → each draws a signature with touch events and enters the code
from the outbox, then they sign one after the other (the second's drawing and code survive the
first's signature arriving) → the organisation seals → a party downloads the PDF, which
validates. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from esign import verify
from esign.verify import load_trust_roots
from hearing_server.core.hearing import HearingAction, HearingKind, Visibility
from hearing_server.core.identity import IdentityPolicy, IdType
from hearing_server.core.participant import PartySide, Role
from hearing_server.keys import HEARINGS, IDENTITY, SETTINGS
from support.hearing import STAFF, Person
from support.identity import LI_ID, LI_PHONE, ZHANG_ID, ZHANG_PHONE, outbox_code
from support.journey import walk_in

pytestmark = pytest.mark.browser

# Waits for what the server does in between (moves, proposals, PDFs): generous, since the whole
# suite shares two cores with three browsers here.
SERVER_S = 30_000

# How many pixels of the signature pad carry ink.
INKED = """() => {
  const c = document.querySelector('[data-testid=signature-canvas]');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n += 1;
  return n;
}"""


async def _mediation(server: TestServer) -> tuple[str, dict[str, Person]]:
    """A mediation in session: 调解员, 张三 (applicant), 李四 (respondent), both registered."""
    app = server.app
    service = app[HEARINGS]
    now = datetime.now(UTC)
    hearing = await service.create_hearing(
        STAFF,
        kind=HearingKind.MEDIATION,
        case_number="(2026)京0105民调88号",
        court="北京市朝阳区人民法院",
        title="张三与李四买卖合同纠纷",
        scheduled_start=now,
        scheduled_end=now + timedelta(hours=1),
        visibility=Visibility.CLOSED,
    )
    await app[IDENTITY].set_policy(STAFF, hearing.id, IdentityPolicy.parse("none"))
    people: dict[str, Person] = {}
    for name, role, side, reg in (
        ("调解员", Role.MEDIATOR, None, None),
        ("张三", Role.PARTY, PartySide.APPLICANT, (ZHANG_ID, ZHANG_PHONE)),
        ("李四", Role.PARTY, PartySide.RESPONDENT, (LI_ID, LI_PHONE)),
    ):
        p = await service.add_participant(
            STAFF, hearing.id, role=role, display_name=name, side=side
        )
        if reg is not None:
            await app[IDENTITY].register(
                STAFF, p.id, legal_name=name, id_type=IdType.RESIDENT_ID,
                id_number=reg[0], phone=reg[1],
            )  # fmt: skip
        _, token, _ = await service.issue_link(STAFF, p.id)
        people[name] = Person(p.id, role, name, token)
    await service.transition(STAFF, hearing.id, HearingAction.OPEN)
    await service.transition(STAFF, hearing.id, HearingAction.START)
    return hearing.id, people


async def _receives(page: Page, pid: str) -> bool:
    return bool(await page.evaluate("(pid) => window.hearingApp.session.streams.has(pid)", pid))


async def _until_receives(page: Page, pid: str, expected: bool, what: str) -> None:
    """Wait until ``page`` does (or does not) receive ``pid``'s media, or fail with ``what``."""
    deadline = asyncio.get_running_loop().time() + 30
    while await _receives(page, pid) != expected:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def _draw(page: Page, seed: int) -> None:
    """A signature drawn with the finger: touch events through the DevTools protocol, which the
    page sees as a real touch screen's (pointer events of type touch)."""
    canvas = page.locator("[data-testid='signature-canvas']")
    await expect(canvas).to_be_visible()
    await canvas.scroll_into_view_if_needed()
    box = await canvas.bounding_box()
    assert box is not None
    cdp = await page.context.new_cdp_session(page)
    for stroke in range(2):
        y0 = box["y"] + box["height"] * (0.35 + 0.3 * stroke)
        points = [
            (box["x"] + box["width"] * (0.15 + 0.7 * i / 24), y0 + 25 * ((i + seed) % 5 - 2))
            for i in range(25)
        ]
        await cdp.send(
            "Input.dispatchTouchEvent",
            {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]},
        )
        for x, y in points[1:]:
            await cdp.send(
                "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]}
            )
        await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    await cdp.detach()
    inked = await page.evaluate(INKED)
    assert inked > 200, f"the signature pad drew {inked} pixels"


async def test_a_whole_mediation_in_the_browser(
    server: TestServer, launch: Any, artifacts: Path
) -> None:
    _, people = await _mediation(server)
    base = f"http://127.0.0.1:{server.port}"
    mediator, zhang, li = await asyncio.gather(
        launch("mediator", "judge", width=1440, height=900),
        launch("zhang", "party", width=390, height=844, mobile=True),
        launch("li", "party", width=390, height=844, mobile=True),
    )
    med = mediator.page
    await med.goto(f"{base}/join#token={people['调解员'].token}")
    await expect(med.locator(".screen.console")).to_be_visible()
    await asyncio.gather(
        walk_in(zhang.page, base, people["张三"].token),
        walk_in(li.page, base, people["李四"].token),
    )
    z_id, l_id, m_id = (people[n].id for n in ("张三", "李四", "调解员"))
    # The joint session: both parties receive each other and the mediator.
    for page, other in ((zhang.page, l_id), (li.page, z_id)):
        for pid in (other, m_id):
            await _until_receives(page, pid, True, f"{pid} in the joint session")

    # -- caucus with the applicant: 李四 is told, and receives neither 张三 nor the mediator --
    await med.click("[data-tab='mediation']")
    await med.click("[data-action='open-caucus'][data-side='applicant']")
    z_banner = zhang.page.locator("[data-testid='caucus-banner']")
    l_banner = li.page.locator("[data-testid='caucus-banner']")
    await expect(z_banner).to_have_attribute("data-kind", "in-caucus", timeout=SERVER_S)
    await expect(l_banner).to_have_attribute("data-kind", "other-side", timeout=SERVER_S)
    await expect(l_banner).to_contain_text("申请人")
    await _until_receives(li.page, z_id, False, "李四 to stop receiving 张三")
    await _until_receives(li.page, m_id, False, "李四 to stop receiving the mediator")
    await _until_receives(zhang.page, l_id, False, "张三 in the caucus to stop receiving 李四")
    assert await _receives(zhang.page, m_id)
    await li.page.screenshot(path=str(artifacts / "mediation-1-other-side-waits-390x844.png"))
    await med.screenshot(path=str(artifacts / "mediation-2-caucus-console-1440x900.png"))
    # The room's clock advances in place: its buttons stay the same elements (a panel rebuilt
    # every second loses a tap that lands during the rebuild).
    room = med.locator(".caucus-room[data-side='applicant']")
    await room.locator("[data-action='close-caucus']").evaluate("b => { b.__kept = true; }")
    elapsed = room.locator(".elapsed")
    before = await elapsed.text_content()
    await expect(elapsed).not_to_have_text(before or "", timeout=SERVER_S)
    assert await room.locator("[data-action='close-caucus']").evaluate("b => b.__kept === true"), (
        "the caucus panel rebuilt its buttons while only its clock changed"
    )

    # -- then with the respondent, and back to the joint session --
    await med.click(".caucus-room[data-side='applicant'] [data-action='close-caucus']")
    await expect(z_banner).to_be_hidden()
    await med.click("[data-action='open-caucus'][data-side='respondent']")
    await expect(z_banner).to_have_attribute("data-kind", "other-side", timeout=SERVER_S)
    await expect(l_banner).to_have_attribute("data-kind", "in-caucus", timeout=SERVER_S)
    await _until_receives(zhang.page, l_id, False, "张三 to stop receiving 李四")
    await med.click(".caucus-room[data-side='respondent'] [data-action='close-caucus']")
    await expect(l_banner).to_be_hidden()
    await _until_receives(zhang.page, l_id, True, "张三 to receive 李四 again")

    # -- the mediator drafts and proposes --
    recital = "申请人张三与被申请人李四因买卖合同发生纠纷，经调解自愿达成如下协议。"  # noqa: RUF001
    await med.fill("#ag-recitals", recital)
    await med.fill(
        "#ag-terms",
        "李四于2027年1月31日前支付张三货款人民币一万元整。\n双方就本案再无其他争议。",
    )
    await med.fill("#ag-amount", "10000")
    await med.fill("#ag-schedule", "2027年1月31日前一次付清")
    await med.fill("#ag-method", "银行转账")
    await med.fill("#ag-costs", "本次调解不收费。")
    await med.click("[data-action='save-draft']")
    await expect(med.locator("[data-action='propose']")).to_be_visible(timeout=SERVER_S)
    await med.screenshot(path=str(artifacts / "mediation-3-draft-1440x900.png"))
    await med.click("[data-action='propose']")

    # -- each party reads it on the phone and accepts --
    for party in (zhang, li):
        sheet = party.page.locator("[data-testid='agreement-sheet']")
        await expect(sheet).to_be_visible(timeout=SERVER_S)
        await expect(sheet.locator("[data-testid='agreement-text']")).to_contain_text("一万元整")
    await zhang.page.screenshot(
        path=str(artifacts / "mediation-4-proposal-390x844.png"), full_page=True
    )
    # One after the other, as people do (accepting at the same moment is the API test's case).
    for party in (zhang, li):
        await party.page.click("[data-action='accept']")
        await expect(party.page.locator(".agreement-panel .done")).to_be_visible(timeout=SERVER_S)
    await expect(med.locator("[data-testid='agreement-state']")).to_have_text(
        "各方均已同意，等待签署",  # noqa: RUF001
        timeout=SERVER_S,
    )
    await med.click("[data-action='open-signing']")
    await expect(med.locator(".agreement-panel")).to_have_attribute(
        "data-state", "signing", timeout=60_000
    )

    # -- both sign at once: each draws a signature and enters the code from the outbox, then
    # 张三 signs first; 李四's drawing and code survive 张三's signature arriving on his phone --
    for seed, (party, phone) in enumerate(((zhang, ZHANG_PHONE), (li, LI_PHONE))):
        page = party.page
        await expect(page.locator("[data-testid='agreement-sheet']")).to_be_visible(
            timeout=SERVER_S
        )
        await _draw(page, seed)
        await page.click("[data-action='send-sign-code']")
        # Sent (the server's work: allow for a loaded machine): the button counts down.
        await expect(page.locator("[data-action='send-sign-code']")).to_contain_text(
            "秒", timeout=SERVER_S
        )
        await page.fill("[data-field='code']", outbox_code(server.app, phone))
        if seed == 0:
            await page.screenshot(
                path=str(artifacts / "mediation-5-signing-390x844.png"), full_page=True
            )
    li_code = await li.page.input_value("[data-field='code']")
    li_ink = await li.page.evaluate(INKED)
    await zhang.page.click("[data-action='sign']")
    # The signature is applied on the server (PAdES, a timestamp): allow a loaded machine.
    await expect(zhang.page.locator(".agreement-panel .done")).to_be_visible(timeout=60_000)
    await expect(li.page.locator(".signatures li[data-signed='true']")).to_have_count(
        1, timeout=SERVER_S
    )
    assert await li.page.input_value("[data-field='code']") == li_code
    assert await li.page.evaluate(INKED) >= li_ink * 0.9, "李四's drawing was wiped"
    await li.page.click("[data-action='sign']")
    await expect(li.page.locator(".agreement-panel .done")).to_be_visible(timeout=60_000)
    await expect(med.locator("[data-action='seal']")).to_be_visible(timeout=60_000)
    await med.click("[data-action='seal']")
    await expect(med.locator(".agreement-panel")).to_have_attribute(
        "data-state", "sealed", timeout=60_000
    )

    # -- a party downloads the sealed agreement; it validates --
    download_btn = li.page.locator("[data-action='download-agreement']")
    await expect(download_btn).to_be_visible(timeout=SERVER_S)
    async with li.page.expect_download(timeout=SERVER_S) as info:
        await download_btn.click()
    download = await info.value
    pdf = await asyncio.to_thread(Path(await download.path()).read_bytes)
    (artifacts / "mediation-agreement-sealed.pdf").write_bytes(pdf)
    await li.page.screenshot(path=str(artifacts / "mediation-6-sealed-390x844.png"), full_page=True)
    roots = load_trust_roots([server.app[SETTINGS].effective_signing_dir / "ca.cert.pem"])
    report = await asyncio.to_thread(verify, pdf, roots)
    assert report.verdict == "valid", report.to_json()
    assert {s.signer for s in report.signatures} >= {"张三", "李四"}

    for person in (mediator, zhang, li):
        missing = await person.page.evaluate("[...window.hearingApp.missingKeys]")
        assert missing == [], f"{person.name}: missing i18n keys {missing}"
        assert not [line for line in person.logs if "[pageerror]" in line], person.logs

"""The portal in a real browser: Debian's headless Chromium, driven by Playwright, against the gateway on a real port.

A requester follows their magic link, sees their own cases with due times in
BluB0X's time zone, asks to escalate one, and cannot open someone else's
case. If Chromium cannot run here, this test fails: it never skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest_asyncio
import uvicorn
from browser import CHROMIUM, CHROMIUM_ARGS
from gateway_fixtures import Gateway, gateway  # noqa: F401
from playwright.async_api import async_playwright
from receivers import listener_on

from starter.gateway.app import create_app

LOCAL_TIME = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d [A-Z][a-z]{2} \d\d:\d\d E[SD]T")


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest_asyncio.fixture(scope="module")
async def live_url(gateway: Gateway) -> AsyncIterator[str]:
    """The gateway on 127.0.0.1:<free port>, with its public URL (and so its magic links) pointing there."""
    listener = listener_on()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings = replace(gateway.settings, delivery=replace(gateway.settings.delivery, public_url=url))

    async def same_client():
        return gateway.client

    config = uvicorn.Config(
        create_app(client_factory=same_client, settings=settings), log_config=None, log_level="warning"
    )
    server = _QuietServer(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        assert not serving.done(), "the gateway did not start"
        await asyncio.sleep(0.01)
    yield url
    server.should_exit = True
    await serving


async def open_case(gateway: Gateway, email: str, subject: str) -> str:
    form = {
        "name": "Requester",
        "email": email,
        "phone": "+15555550142",
        "company": "Tower Co",
        "building": "Tower One",
        "subject": subject,
        "description": f"{subject} since 7am.",
    }
    answer = await gateway.post("/v1/intake/web?tenant=blub0x&channel=help_button", data=form)
    assert answer.status_code == 201, answer.text
    return answer.json()["case_id"]


async def test_a_requester_follows_the_magic_link_sees_their_cases_and_not_another(
    gateway: Gateway, live_url: str, tmp_path: Path
):
    assert os.access(CHROMIUM, os.X_OK), (
        f"{CHROMIUM} is missing: scripts/setup installs Debian's chromium (apt-get install chromium)"
    )
    tag = uuid.uuid4().hex[:6]
    ana, bob = f"ana-{tag}@tower.example", f"bob-{tag}@tower.example"
    ana_cases = {
        await open_case(gateway, ana, f"Lobby doors {tag}"): f"Lobby doors {tag}",
        await open_case(gateway, ana, f"Visitor kiosk {tag}"): f"Visitor kiosk {tag}",
    }
    bob_case = await open_case(gateway, bob, f"Bob's elevator {tag}")
    async with httpx.AsyncClient(base_url=live_url) as http:
        link = (
            await http.post("/v1/portal/links", headers=gateway.auth("admin"), json={"tenant": "blub0x", "email": ana})
        ).json()
    assert link["url"].startswith(f"{live_url}/portal/login?token=")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context()).new_page()
            await page.goto(link["url"])
            assert page.url == f"{live_url}/portal"
            for _ in range(50):  # visibility catches up with just-opened cases in a moment
                text = await page.inner_text("main")
                if all(subject in text for subject in ana_cases.values()):
                    break
                await asyncio.sleep(0.2)
                await page.reload()
            assert all(subject in text for subject in ana_cases.values()), text
            assert "Bob's elevator" not in text and bob_case not in text
            assert len(LOCAL_TIME.findall(text)) >= 4, "next, response and resolution due times, in Eastern time"
            await page.screenshot(path=str(tmp_path / "portal.png"), full_page=True)

            cookies = await page.context.cookies()
            session = next(c for c in cookies if c["name"] == "supportflow_portal")
            assert session["httpOnly"] and session["sameSite"] == "Lax"
            assert await page.evaluate("document.cookie") == "", "scripts cannot read the session"

            await page.click(f"text=Lobby doors {tag}")
            await page.wait_for_selector("text=Response due")
            assert LOCAL_TIME.search(await page.inner_text("main"))
            await page.fill("#reason", "Residents cannot get in")
            await page.click("button:has-text('Ask to escalate')")
            await page.wait_for_selector("text=Escalation requested")
            await page.screenshot(path=str(tmp_path / "case.png"), full_page=True)

            stranger = await page.goto(f"{live_url}/portal/cases/{bob_case}")
            assert stranger.status == 404 and "Case not found" in await page.inner_text("main")
        finally:
            await browser.close()
    escalated = await gateway.status(next(iter(ana_cases)))
    assert "customer_escalation" in escalated.escalation.running


LAYOUT = """() => {
    const width = window.innerWidth;
    const table = document.querySelector('table.cases');
    const cells = [...table.querySelectorAll('tbody td')];
    const header = table.querySelector('thead');
    return {
        width,
        pageWidth: document.documentElement.scrollWidth,
        headerShown: getComputedStyle(header).display !== 'none',
        rows: table.querySelectorAll('tbody tr').length,
        cellsInside: cells.every(td => { const box = td.getBoundingClientRect(); return box.left >= 0 && box.right <= width + 0.5; }),
        subjectWidth: Math.min(...[...table.querySelectorAll('td.subject')].map(td => td.getBoundingClientRect().width)),
        smallestText: Math.min(...cells.map(td => parseFloat(getComputedStyle(td).fontSize))),
        labels: cells.map(td => getComputedStyle(td, '::before').content),
        rowTops: [...table.querySelectorAll('tbody tr')].map(tr => [...tr.children].map(td => Math.round(td.getBoundingClientRect().top))),
    };
}"""


async def test_the_case_table_fits_a_phone_and_a_desktop(gateway: Gateway, live_url: str, tmp_path: Path):
    """At 390 px each case is a card of labelled lines with nothing off-screen; at 1280 px it is one table row."""
    tag = uuid.uuid4().hex[:6]
    email = f"phone-{tag}@tower.example"
    subjects = [f"Garage barrier will not lift for residents with new fobs {tag}", f"Lobby intercom {tag}"]
    for subject in subjects:
        await open_case(gateway, email, subject)
    async with httpx.AsyncClient(base_url=live_url) as http:
        link = (
            await http.post(
                "/v1/portal/links", headers=gateway.auth("admin"), json={"tenant": "blub0x", "email": email}
            )
        ).json()["url"]

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for width, height in ((390, 844), (1280, 800)):
                page = await (await browser.new_context(viewport={"width": width, "height": height})).new_page()
                await page.goto(link)
                for _ in range(50):  # visibility catches up with just-opened cases in a moment
                    if await page.locator("table.cases tbody tr").count() == len(subjects):
                        break
                    await asyncio.sleep(0.2)
                    await page.reload()
                layout = await page.evaluate(LAYOUT)
                await page.screenshot(path=str(tmp_path / f"portal-{width}.png"), full_page=True)
                assert layout["rows"] == len(subjects)
                assert layout["pageWidth"] <= width, f"the page scrolls sideways at {width} px: {layout}"
                assert layout["cellsInside"] and layout["smallestText"] >= 14, layout
                if width == 390:
                    assert not layout["headerShown"], "a phone shows each case as a card"
                    assert '"Next deadline"' in layout["labels"], "each line names what it shows"
                    assert all(len(set(tops)) == len(tops) for tops in layout["rowTops"]), "one line per fact"
                else:
                    assert layout["headerShown"]
                    assert all(len(set(tops)) == 1 for tops in layout["rowTops"]), "one row per case"
                    assert layout["subjectWidth"] >= 250, "the subject is not squeezed into a narrow column"
                await page.click(f"text={subjects[0]}")
                await page.wait_for_selector("text=Response due")
                wide = await page.evaluate("document.documentElement.scrollWidth")
                await page.screenshot(path=str(tmp_path / f"case-{width}.png"), full_page=True)
                assert wide <= width, f"the case page scrolls sideways at {width} px"
                await page.context.close()
        finally:
            await browser.close()

"""The requester portal: magic links, sessions, and isolation (a requester never sees another's case)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
from gateway_fixtures import PUBLIC_URL, Gateway, eventually, gateway  # noqa: F401

LOCAL_TIME = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d\d:\d\d (EST|EDT)"
)


async def open_help_button(gateway: Gateway, email: str, subject: str) -> str:
    form = {
        "name": "Requester",
        "email": email,
        "phone": "+15555550142",
        "company": "Tower Co",
        "building": "Tower One",
        "subject": subject,
        "description": f"{subject}, since this morning.",
    }
    answer = await gateway.post("/v1/intake/web?tenant=blub0x&channel=help_button", data=form)
    assert answer.status_code == 201, answer.text
    return answer.json()["case_id"]


async def link_for(gateway: Gateway, tenant: str, email: str) -> str:
    answer = await gateway.post("/v1/portal/links", scope="admin", json={"tenant": tenant, "email": email})
    assert answer.status_code == 200, answer.text
    assert answer.json()["url"].startswith(f"{PUBLIC_URL}/portal/login?token=")
    return answer.json()["url"]


@asynccontextmanager
async def browser_session(gateway: Gateway, url: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """A separate cookie jar, signed in through the magic link when one is given."""
    transport = httpx.ASGITransport(app=gateway.app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as visitor:
        if url:
            parts = urlsplit(url)
            answer = await visitor.get(f"{parts.path}?{parts.query}")
            assert answer.status_code == 303 and answer.headers["location"] == "/portal"
            cookie = answer.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=lax" in cookie and "path=/portal" in cookie
        yield visitor


async def test_a_requester_sees_only_their_own_cases_with_local_due_times(gateway: Gateway):
    tag = uuid.uuid4().hex[:6]
    ana, bob = f"ana-{tag}@tower.example", f"bob-{tag}@tower.example"
    ana_cases = [await open_help_button(gateway, ana, f"Ana door {n} {tag}") for n in (1, 2)]
    bob_case = await open_help_button(gateway, bob, f"Bob elevator {tag}")

    async with browser_session(gateway, await link_for(gateway, "blub0x", ana.upper())) as visitor:

        async def listing():
            page = (await visitor.get("/portal")).text
            return page if all(case in page for case in ana_cases) else None

        page = await eventually(listing)
        assert f"Ana door 1 {tag}" in page and f"Ana door 2 {tag}" in page
        assert bob_case not in page and "Bob elevator" not in page
        assert LOCAL_TIME.search(page), "due times are shown in the tenant's time zone"

        own = await visitor.get(f"/portal/cases/{ana_cases[0]}")
        assert own.status_code == 200 and "Response due" in own.text and LOCAL_TIME.search(own.text)
        assert "Case opened" in own.text

        theirs = await visitor.get(f"/portal/cases/{bob_case}")
        nobody = await visitor.get("/portal/cases/case-blub0x-000000000000000000000000")
        assert theirs.status_code == nobody.status_code == 404
        assert theirs.text == nobody.text, "a stranger's case looks exactly like no case"
        csrf = re.search(r'name=csrf value="([^"]+)"', own.text).group(1)
        stolen = await visitor.post(f"/portal/cases/{bob_case}/escalate", data={"reason": "mine now", "csrf": csrf})
        assert stolen.status_code == 404
        assert not any(e.event == "escalation_requested" for e in (await gateway.status(bob_case)).timeline)


async def test_ask_to_escalate_runs_the_customer_escalation_ladder(gateway: Gateway):
    email = f"esc-{uuid.uuid4().hex[:6]}@tower.example"
    case = await open_help_button(gateway, email, "Garage gate stuck")
    async with browser_session(gateway, await link_for(gateway, "blub0x", email)) as visitor:
        page = (await visitor.get(f"/portal/cases/{case}")).text
        csrf = re.search(r'name=csrf value="([^"]+)"', page).group(1)
        forged = await visitor.post(f"/portal/cases/{case}/escalate", data={"reason": "please", "csrf": "x" + csrf})
        assert forged.status_code == 403
        done = await visitor.post(
            f"/portal/cases/{case}/escalate", data={"reason": "Tenants are locked out", "csrf": csrf}
        )
        assert done.status_code == 200 and "Escalation requested" in done.text
        status = await gateway.status(case)
        assert "customer_escalation" in status.escalation.running
        again = await visitor.post(f"/portal/cases/{case}/escalate", data={"reason": "still", "csrf": csrf})
        assert again.status_code == 409 and "already running" in again.text


async def test_a_tenant_without_customer_escalation_shows_the_reason(gateway: Gateway):
    email = f"clinic-{uuid.uuid4().hex[:6]}@clinic.example"
    body = {
        "tenant": "blockit",
        "channel": "api",
        "requester": {"email": email},
        "subject": "Fax down",
        "description": "d",
    }
    case = (await gateway.post("/v1/cases", json=body)).json()["case_id"]
    async with browser_session(gateway, await link_for(gateway, "blockit", email)) as visitor:
        page = (await visitor.get(f"/portal/cases/{case}")).text
        assert re.search(r"\d\d:\d\d C[SD]T", page), "blockit times are Central"
        csrf = re.search(r'name=csrf value="([^"]+)"', page).group(1)
        refused = await visitor.post(f"/portal/cases/{case}/escalate", data={"reason": "urgent", "csrf": csrf})
        assert refused.status_code == 409 and "no customer_escalation ladder" in refused.text


async def test_the_same_email_at_another_tenant_sees_nothing(gateway: Gateway):
    email = f"both-{uuid.uuid4().hex[:6]}@tower.example"
    case = await open_help_button(gateway, email, "Turnstile")
    async with browser_session(gateway, await link_for(gateway, "blockit", email)) as visitor:
        assert (await visitor.get(f"/portal/cases/{case}")).status_code == 404
        assert case not in (await visitor.get("/portal")).text


async def test_bad_links_and_cookies_do_not_sign_in(gateway: Gateway):
    url = await link_for(gateway, "blub0x", "someone@tower.example")
    token = url.split("token=")[1]
    async with browser_session(gateway) as visitor:
        assert (await visitor.get(f"/portal/login?token={token[:-3]}abc")).status_code == 400
        assert (await visitor.get("/portal/login")).status_code == 400
        assert (await visitor.get("/portal")).status_code == 401
        visitor.cookies.set("supportflow_portal", token, domain="gateway.test", path="/portal")
        assert (await visitor.get("/portal")).status_code == 401, "a link token is not a session"
    bad = await gateway.post("/v1/portal/links", scope="admin", json={"tenant": "nosuchco", "email": "a@b.example"})
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "tenant"
    bad = await gateway.post("/v1/portal/links", scope="admin", json={"tenant": "blub0x", "email": "x' OR '1'='1"})
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "email"


async def test_an_expired_link_says_so(gateway: Gateway):
    from datetime import UTC, datetime, timedelta

    import signed_links as signing

    token = signing.sign(
        "portal-link",
        {"t": "blub0x", "e": "a@b.example"},
        datetime.now(UTC) - timedelta(seconds=1),
        gateway.settings.signing_secret,
    )
    async with browser_session(gateway) as visitor:
        answer = await visitor.get(f"/portal/login?token={token}")
        assert answer.status_code == 410 and "expired" in answer.text


async def test_an_apostrophe_in_the_address_lists_that_requesters_cases(gateway: Gateway):
    tag = uuid.uuid4().hex[:6]
    email = f"o'brien-{tag}@tower.example"
    case = await open_help_button(gateway, email, f"Parking barrier {tag}")
    sneaky = await open_help_button(gateway, f"x-{tag}@tower.example", f"Not yours {tag}")
    async with browser_session(gateway, await link_for(gateway, "blub0x", email)) as visitor:

        async def listing():
            page = (await visitor.get("/portal")).text
            return page if case in page else None

        page = await eventually(listing)
        assert sneaky not in page


async def test_the_acknowledgement_email_carries_a_portal_link_that_signs_the_requester_in(gateway: Gateway):
    tag = uuid.uuid4().hex[:6]
    email = f"kim-{tag}@tower.example"
    case = await open_help_button(gateway, email, f"Turnstile {tag}")

    async def acknowledgement():
        mails = [m for m in gateway.smtp.messages if email in m.rcpt_tos]
        return mails[0] if mails else None

    mail = await eventually(acknowledgement)
    link = re.search(r"http://gateway\.test/portal/login\?token=[A-Za-z0-9_\-.]+", mail.text).group(0)
    async with browser_session(gateway, link) as visitor:

        async def listing():
            page = (await visitor.get("/portal")).text
            return page if case in page else None

        assert f"Turnstile {tag}" in await eventually(listing)

"""The requester portal: magic links, sessions, and isolation (a requester never sees another's case)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from gateway_fixtures import PUBLIC_URL, Gateway, eventually, gateway  # noqa: F401

from archive.migrate import migrate
from archive.store import archive_at, archive_url

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


def csrf_of(page: str) -> str:
    return re.search(r'name=csrf value="([^"]+)"', page).group(1)


async def test_ask_to_escalate_runs_the_customer_escalation_ladder(gateway: Gateway):
    email = f"esc-{uuid.uuid4().hex[:6]}@tower.example"
    case = await open_help_button(gateway, email, "Garage gate stuck")
    async with browser_session(gateway, await link_for(gateway, "blub0x", email)) as visitor:
        page = (await visitor.get(f"/portal/cases/{case}")).text
        assert "new installation, or a property being configured" in page
        csrf = csrf_of(page)
        forged = await visitor.post(f"/portal/cases/{case}/escalate", data={"reason": "please", "csrf": "x" + csrf})
        assert forged.status_code == 403
        done = await visitor.post(
            f"/portal/cases/{case}/escalate", data={"reason": "Tenants are locked out", "csrf": csrf}
        )
        assert done.status_code == 200 and "Escalation requested" in done.text
        status = await gateway.status(case)
        assert "customer_escalation" in status.escalation.running and not status.new_installation
        assert "Your escalation is in progress" in done.text and "<textarea" not in done.text
        again = await visitor.post(f"/portal/cases/{case}/escalate", data={"reason": "still", "csrf": csrf})
        assert again.status_code == 409 and "Your escalation is in progress" in again.text
        assert "already running" not in again.text, "the workflow's own sentence stays with the support team"


async def test_blub0x_new_installation_choice_is_sent_so_the_ladder_reaches_step_4(gateway: Gateway):
    email = f"install-{uuid.uuid4().hex[:6]}@tower.example"
    case = await open_help_button(gateway, email, "Readers offline in the new wing")
    async with browser_session(gateway, await link_for(gateway, "blub0x", email)) as visitor:
        csrf = csrf_of((await visitor.get(f"/portal/cases/{case}")).text)
        form = {"reason": "Opening day is Friday", "new_installation": "true", "csrf": csrf}
        done = await visitor.post(f"/portal/cases/{case}/escalate", data=form)
        assert done.status_code == 200 and "Escalation requested" in done.text
    status = await gateway.status(case)
    assert status.new_installation, "step 4 (when: new_installation) applies to this case"
    assert "customer_escalation" in status.escalation.running


async def open_blockit(gateway: Gateway, email: str, severity: int) -> str:
    body = {
        "tenant": "blockit",
        "channel": "api",
        "requester": {"email": email},
        "subject": f"Fax down (Sev {severity})",
        "description": "d",
        "severity": severity,
    }
    answer = await gateway.post("/v1/cases", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["case_id"]


async def test_blockit_sev2_offers_emergency_maintenance_and_sev3_offers_nothing(gateway: Gateway):
    email = f"clinic-{uuid.uuid4().hex[:6]}@clinic.example"
    sev2, sev3 = await open_blockit(gateway, email, 2), await open_blockit(gateway, email, 3)
    async with browser_session(gateway, await link_for(gateway, "blockit", email)) as visitor:
        page = (await visitor.get(f"/portal/cases/{sev3}")).text
        assert re.search(r"\d\d:\d\d C[SD]T", page), "blockit times are Central"
        assert "<form" not in page and "escalat" not in page.lower(), "no button where there is no option"
        offered = (await visitor.get(f"/portal/cases/{sev2}")).text
        assert "Request emergency maintenance" in offered and "48 hours" in offered
        assert "new installation" not in offered
        csrf = csrf_of(offered)
        refused = await visitor.post(f"/portal/cases/{sev3}/escalate", data={"reason": "urgent", "csrf": csrf})
        assert refused.status_code == 409 and "This case has no escalation option" in refused.text
        assert (await gateway.status(sev3)).emergency_requested_at is None
        done = await visitor.post(f"/portal/cases/{sev2}/escalate", data={"reason": "Clinics closed", "csrf": csrf})
        assert done.status_code == 200 and "Emergency maintenance requested" in done.text
        status = await gateway.status(sev2)
        assert status.emergency_due_at - status.emergency_requested_at == timedelta(hours=48)
        requested = next(entry.detail for entry in status.timeline if entry.event == "emergency_requested")
        assert requested["actor"] == {"kind": "portal", "name": "requester"}, "who acted: the signed-in requester"
        again = await visitor.post(f"/portal/cases/{sev2}/escalate", data={"reason": "again", "csrf": csrf})
        assert again.status_code == 409 and "has been requested" in again.text


async def test_the_portal_says_we_will_acknowledge_until_the_acknowledgement_is_delivered(gateway: Gateway):
    """Rendered from a real case's status, with and without the `acknowledgement_sent` entry."""
    from starter.gateway.portal_offers import offer_for
    from starter.gateway.portal_pages import ACKNOWLEDGE_SHORTLY, case_page, cases_page
    from starter.gateway.portal_session import Session
    from tenant_policies import tenant_policy

    email = f"ack-{uuid.uuid4().hex[:6]}@tower.example"
    case_id = await open_help_button(gateway, email, "Gate arm broken")

    async def acknowledged():
        status = await gateway.status(case_id)
        return status if any(e.event == "acknowledgement_sent" for e in status.timeline) else None

    delivered = await eventually(acknowledged)
    pending = delivered.model_copy(
        update={"timeline": [e for e in delivered.timeline if e.event != "acknowledgement_sent"]}
    )
    policy, session = tenant_policy("blub0x"), Session("blub0x", email, "cookie")
    for case, expected in ((pending, True), (delivered, False)):
        one = case_page(session, "BluB0X", "America/New_York", case, "csrf", offer_for(policy, case)).body.decode()
        listed = cases_page(session, "BluB0X", "America/New_York", [case]).body.decode()
        assert (ACKNOWLEDGE_SHORTLY in one, ACKNOWLEDGE_SHORTLY in listed) == (expected, expected)


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


@asynccontextmanager
async def from_address(gateway: Gateway, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """A visitor at client address `ip` (the sign-in limit counts per IP)."""
    transport = httpx.ASGITransport(app=gateway.app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as visitor:
        yield visitor


async def sign_ins_finished(gateway: Gateway) -> None:
    """The lookups and emails a sign-in request starts after answering."""
    await asyncio.gather(*list(getattr(gateway.app.state, "portal_sign_ins", ())))


def sign_in_links(gateway: Gateway, email: str) -> list[str]:
    return [
        re.search(r"http://gateway\.test/portal/login\?token=[A-Za-z0-9_\-.]+", mail.text).group(0)
        for mail in gateway.smtp.messages
        if email in mail.rcpt_tos and "sign-in link" in str(mail.message["Subject"])
    ]


async def test_a_requester_asks_for_a_sign_in_link_and_it_signs_them_in(gateway: Gateway):
    tag = uuid.uuid4().hex[:6]
    email = f"lin-{tag}@tower.example"
    case = await open_help_button(gateway, email, f"Intercom {tag}")
    async with from_address(gateway, "198.51.100.10") as visitor:
        form = await visitor.get("/portal/sign-in?tenant=blub0x")
        assert form.status_code == 200 and "name=email type=email" in form.text
        assert "frame-ancestors 'none'" in form.headers["content-security-policy"]

        async def visible():  # the requester's case must be listed in visibility before the lookup can find it
            return await gateway.case_ids(f"WorkflowId = '{case}'")

        await eventually(visible)
        answer = await visitor.post("/portal/sign-in?tenant=blub0x", data={"email": email.upper()})
        assert answer.status_code == 200 and f"If {email} has requests with BluB0X Support" in answer.text
        await sign_ins_finished(gateway)
        (link,) = sign_in_links(gateway, email)
    async with browser_session(gateway, link) as signed_in:
        assert f"Intercom {tag}" in (await signed_in.get("/portal")).text


async def test_an_unknown_address_gets_the_same_answer_and_nothing_is_sent(gateway: Gateway):
    tag = uuid.uuid4().hex[:6]
    known, unknown = f"known-{tag}@tower.example", f"nobody-{tag}@tower.example"
    await open_help_button(gateway, known, f"Doors {tag}")
    await eventually(lambda: gateway.case_ids(f"RequesterEmail = '{known}'"))
    async with from_address(gateway, "198.51.100.20") as visitor:
        for_known = await visitor.post("/portal/sign-in?tenant=blub0x", data={"email": known})
        for_unknown = await visitor.get("/portal/sign-in", params={"tenant": "blub0x", "email": unknown})
    await sign_ins_finished(gateway)
    assert for_known.status_code == for_unknown.status_code == 200
    assert for_known.text.replace(known, "ADDRESS") == for_unknown.text.replace(unknown, "ADDRESS")
    assert len(sign_in_links(gateway, known)) == 1
    assert not [mail for mail in gateway.smtp.attempts if unknown in mail.rcpt_tos], "nothing goes to a stranger"


async def test_sign_in_requests_are_limited_per_address_and_per_ip(gateway: Gateway):
    tag = uuid.uuid4().hex[:6]
    email = f"many-{tag}@tower.example"
    for n in range(5):  # five tries from five places: the address's hourly allowance
        async with from_address(gateway, f"203.0.113.{n + 1}") as visitor:
            assert (await visitor.post("/portal/sign-in?tenant=blub0x", data={"email": email})).status_code == 200
    async with from_address(gateway, "203.0.113.99") as visitor:
        limited = await visitor.post("/portal/sign-in?tenant=blub0x", data={"email": email})
        assert limited.status_code == 429 and 0 < int(limited.headers["retry-after"]) <= 3600
        for n in range(5):  # one place, five addresses: the IP's allowance
            other = {"email": f"other-{n}-{tag}@tower.example"}
            assert (await visitor.post("/portal/sign-in?tenant=blub0x", data=other)).status_code == 200
        over = await visitor.post("/portal/sign-in?tenant=blub0x", data={"email": f"sixth-{tag}@tower.example"})
        assert over.status_code == 429 and "Too many sign-in requests" in over.text
    await sign_ins_finished(gateway)


async def test_a_bad_sign_in_request_names_its_field(gateway: Gateway):
    async with from_address(gateway, "198.51.100.30") as visitor:
        bad = await visitor.post("/portal/sign-in?tenant=blub0x", data={"email": "x' OR '1'='1"})
        assert bad.status_code == 422 and "email: enter one email address" in bad.text
        assert (await visitor.get("/portal/sign-in?tenant=nosuchco")).status_code == 404
        assert (await visitor.get("/portal/sign-in")).status_code == 404


async def test_a_closed_case_temporal_no_longer_holds_is_listed_and_shown_from_the_archive(gateway: Gateway):
    """Retention deletes a closed case's history; the archive's record keeps it in the requester's portal."""
    tag = uuid.uuid4().hex[:6]
    ana = f"ana-{tag}@tower.example"
    live_case = await open_help_button(gateway, ana, f"Ana gate {tag}")
    status = await gateway.status(live_case)
    gone = f"case-blub0x-{uuid.uuid4().hex[:24]}"
    closed_at = status.received_at + timedelta(days=3)
    record = status.model_copy(
        update={"case_id": gone, "subject": f"Ana old badge reader {tag}", "state": "closed", "closed_at": closed_at}
    )
    archive = archive_at(archive_url())
    await asyncio.to_thread(migrate, archive)
    await asyncio.to_thread(archive.write, record)
    stranger = record.model_copy(
        update={
            "case_id": f"case-blub0x-{uuid.uuid4().hex[:24]}",
            "subject": f"Bob old lift {tag}",
            "requester": record.requester.model_copy(update={"email": f"bob-{tag}@tower.example"}),
        }
    )
    await asyncio.to_thread(archive.write, stranger)

    async with browser_session(gateway, await link_for(gateway, "blub0x", ana)) as visitor:

        async def listing():
            page = (await visitor.get("/portal")).text
            return page if live_case in page else None

        page = await eventually(listing)
        assert f"Ana old badge reader {tag}" in page and gone in page, "the archived case is listed beside the open one"
        assert f"Bob old lift {tag}" not in page
        shown = await visitor.get(f"/portal/cases/{gone}")
        assert shown.status_code == 200 and f"Ana old badge reader {tag}" in shown.text
        theirs = await visitor.get(f"/portal/cases/{stranger.case_id}")
        assert theirs.status_code == 404, "another requester's archived case is not theirs"

"""What the gateway promises before anything reaches Temporal: duplicates are one case, PHI never
reaches the history, and a rejected request starts nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from gateway_fixtures import Gateway, eventually, gateway  # noqa: F401

from starter.client import case_id
from workflows.contracts import CaseRequest

SSN, DOB, MRN = "123-45-6789", "03/14/1962", "A7734521"


def api_request(**extra) -> dict:
    return {
        "tenant": "blockit",
        "channel": "api",
        "requester": {"name": "Ana Diaz", "email": "ana@clinic.example"},
        "subject": "Scheduling page down",
        "description": "The scheduling page shows an error.",
    } | extra


async def test_the_same_source_id_twice_is_one_case(gateway: Gateway):
    body = api_request(source_id=f"ticket-{uuid.uuid4().hex}")
    first = await gateway.post("/v1/cases", json=body)
    second = await gateway.post("/v1/cases", json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["case_id"] == second.json()["case_id"] and second.json()["duplicate"] is True


async def test_twenty_concurrent_identical_requests_open_exactly_one_case(gateway: Gateway):
    body = api_request(source_id=f"ticket-{uuid.uuid4().hex}")
    answers = await asyncio.gather(*(gateway.post("/v1/cases", json=body) for _ in range(20)))
    assert Counter(a.status_code for a in answers) == {201: 1, 200: 19}
    ids = {a.json()["case_id"] for a in answers}
    assert len(ids) == 1
    (only,) = ids

    async def listed():
        return await gateway.case_ids(f"WorkflowId = '{only}'")

    assert await eventually(listed) == {only}


async def test_twenty_concurrent_copies_of_one_email_open_exactly_one_case(gateway: Gateway):
    raw = (
        f"From: Ana Diaz <ana@clinic.example>\r\nTo: support@blockit.example\r\nSubject: Fax inbox empty\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@clinic.example>\r\n\r\nThe fax inbox is empty since Monday.\r\n"
    ).encode()
    headers = {"Content-Type": "message/rfc822"}
    answers = await asyncio.gather(
        *(gateway.post("/v1/intake/email?tenant=blockit", content=raw, headers=headers) for _ in range(20))
    )
    assert Counter(a.status_code for a in answers) == {201: 1, 200: 19}
    assert len({a.json()["case_id"] for a in answers}) == 1


async def test_phi_is_redacted_before_it_reaches_the_workflow_history(gateway: Gateway):
    description = f"Patient SSN {SSN}, DOB: {DOB}, MRN: {MRN} cannot be scheduled."
    answer = await gateway.post(
        "/v1/cases", json=api_request(subject=f"Booking fails for SSN {SSN}", description=description)
    )
    assert answer.status_code == 201, answer.text
    case = answer.json()["case_id"]
    comment = await gateway.post(
        f"/v1/cases/{case}/comment", json={"author": "ana@clinic.example", "text": f"Also member id {MRN}9 and {SSN}"}
    )
    assert comment.status_code == 202
    responded = await gateway.post(
        f"/v1/cases/{case}/respond", scope="operate", json={"by": "eng-1", "message": f"Looking at SSN {SSN} now"}
    )
    assert responded.status_code == 200

    status = await gateway.status(case)
    assert status.phi_redacted and any(e.event == "phi_redacted" for e in status.timeline)
    assert "[redacted]" in (status.subject or "")
    history = await gateway.history_text(case)
    assert "cannot be scheduled" in history and "[redacted]" in history
    for secret in (SSN, DOB, MRN):
        assert secret not in history, f"{secret} reached the workflow history"


async def test_phi_in_a_blockit_email_is_redacted_too(gateway: Gateway):
    raw = (
        f"From: ana@clinic.example\r\nSubject: Chart for DOB {DOB}\r\nMessage-ID: <{uuid.uuid4().hex}@clinic.example>\r\n\r\n"
        f"Patient SSN: {SSN} shows twice.\r\n"
    ).encode()
    answer = await gateway.post(
        "/v1/intake/email?tenant=blockit", content=raw, headers={"Content-Type": "message/rfc822"}
    )
    assert answer.status_code == 201
    history = await gateway.history_text(answer.json()["case_id"])
    assert SSN not in history and DOB not in history and "shows twice" in history


async def test_every_rejected_request_starts_nothing(gateway: Gateway):
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    email = {"Content-Type": "message/rfc822"}
    source_ids: list[tuple[str, str, str]] = []

    def tagged(tenant: str, channel: str, **extra) -> dict:
        source = f"reject-{uuid.uuid4().hex}"
        source_ids.append((tenant, channel, source))
        return api_request(tenant=tenant, channel=channel, source_id=source) | extra

    rejected = [
        ("POST", "/v1/cases", {"json": tagged("nosuchco", "api")}),
        ("POST", "/v1/cases", {"json": tagged("blockit", "api", requester={"name": "No Email"})}),
        ("POST", "/v1/cases", {"json": tagged("blockit", "web", received_at=future)}),
        ("POST", "/v1/cases", {"json": tagged("blub0x", "chat")}),
        ("POST", "/v1/cases", {"json": tagged("blockit", "api", severity=9)}),
        ("POST", "/v1/cases", {"json": tagged("blockit", "api", colour="blue")}),
        ("POST", "/v1/cases", {"json": tagged("blockit", "fax")}),
        ("POST", "/v1/cases", {"json": tagged("../etc", "api")}),
        ("POST", "/v1/cases", {"json": tagged("blockit", "api", description="log line\n" * 120_000)}),
        ("POST", "/v1/cases", {"content": b'{"tenant": "blockit",', "headers": {"Content-Type": "application/json"}}),
        ("POST", "/v1/cases", {"json": tagged("blockit", "api"), "headers": {"Authorization": "Bearer wrong"}}),
        ("POST", "/v1/cases", {"json": tagged("blockit", "api"), "scope": "operate"}),
        (
            "POST",
            "/v1/intake/voicemail?tenant=nosuchco",
            {"json": {"caller_number": "+15555550100", "transcription": "hi"}},
        ),
        (
            "POST",
            "/v1/intake/voicemail?tenant=blub0x",
            {"json": {"caller_number": "+15555550100", "transcription": ["hi"]}},
        ),
        ("POST", "/v1/intake/voicemail?tenant=blub0x", {"json": {"caller_number": "+15555550100"}}),
        ("POST", "/v1/intake/voicemail", {"json": {"caller_number": "+15555550100", "transcription": "hi"}}),
        (
            "POST",
            "/v1/intake/chat?tenant=blub0x",
            {"json": {"conversation_id": "c-x", "message": "hi", "email": "s@t.example"}},
        ),
        (
            "POST",
            "/v1/intake/chat?tenant=blockit",
            {"json": {"conversation_id": "c-y", "message": "", "email": "a@b.example"}},
        ),
        ("POST", "/v1/intake/chat?tenant=blockit", {"json": {"conversation_id": "c-z", "message": "hi"}}),
        ("POST", "/v1/intake/web?tenant=blockit", {"data": {"name": "Ana", "email": "ana@clinic.example"}}),
        (
            "POST",
            "/v1/intake/web?tenant=blub0x&channel=help_button",
            {"data": {"name": "S", "email": "s@t.example", "description": "x"}},
        ),
        (
            "POST",
            "/v1/intake/web?tenant=blockit&channel=email",
            {"data": {"name": "A", "email": "a@b.example", "description": "x"}},
        ),
        (
            "POST",
            "/v1/intake/web?tenant=blockit",
            {"data": {"name": "A", "email": "a@b.example", "description": "x", "time_critical": "maybe"}},
        ),
        (
            "POST",
            "/v1/intake/email?tenant=blockit",
            {"content": b"From: a@b.example\r\n\r\nhi", "headers": {"Content-Type": "text/plain"}},
        ),
        ("POST", "/v1/intake/email?tenant=blockit", {"content": b"Subject: no sender\r\n\r\nhi", "headers": email}),
        ("POST", "/v1/intake/email?tenant=nosuchco", {"content": b"From: a@b.example\r\n\r\nhi", "headers": email}),
        ("POST", "/v1/intake/email?tenant=blockit", {"content": b"", "headers": email}),
    ]
    sentinel = await _sentinel(gateway)
    before = await gateway.case_ids("WorkflowType = 'SupportCase'")
    assert sentinel in before
    for _method, path, options in rejected:
        scope = options.pop("scope", "intake")
        answer = await gateway.post(path, scope=scope, **options)
        assert 400 <= answer.status_code < 500, f"{path} {options}: {answer.status_code} {answer.text}"
        assert "error" in answer.json()
    after_sentinel = await _sentinel(gateway)
    await asyncio.sleep(0.5)
    after = await gateway.case_ids("WorkflowType = 'SupportCase'")
    assert after - before == {after_sentinel}
    for tenant, channel, source in source_ids:
        if tenant in ("blockit", "blub0x") and channel != "fax":
            would_be = case_id(CaseRequest(tenant=tenant, channel=channel, source_id=source))
            assert would_be not in after


async def _sentinel(gateway: Gateway) -> str:
    answer = await gateway.post("/v1/cases", json=api_request(source_id=f"sentinel-{uuid.uuid4().hex}"))
    assert answer.status_code == 201
    sentinel = answer.json()["case_id"]

    async def visible():
        return sentinel in await gateway.case_ids(f"WorkflowId = '{sentinel}'")

    assert await eventually(visible)
    return sentinel


async def test_a_caller_cannot_claim_the_gateway_redacted_phi_or_add_its_own_notes(gateway: Gateway):
    body = {
        "tenant": "blub0x",
        "channel": "api",
        "requester": {
            "name": "Sam",
            "email": "sam@tower.example",
            "phone": "+15555550142",
            "company": "Tower Co",
            "building": "Tower One",
        },
        "subject": "Badge reader",
        "description": "Lobby badge reader is dark",
        "phi_redacted": True,
        "notes": ["approved by the CEO"],
    }
    opened = await gateway.post("/v1/cases", json=body)
    assert opened.status_code == 201
    status = await gateway.status(opened.json()["case_id"])
    assert status.phi_redacted is False
    assert "approved by the CEO" not in str(status.timeline[0].detail)

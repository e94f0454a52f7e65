"""Acting on cases through the gateway: updates, comments, listing, and the paged engineer's ack link."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import urlsplit

import pytest
from gateway_fixtures import ACK_SECRET, Gateway, eventually, gateway  # noqa: F401

from signed_links import ack_token
from tenant_policies import loaded_policy
from workflows.updates import UPDATES

UNKNOWN = "case-blockit-000000000000000000000000"
ONCALL_1 = "+15555550201"  # blub0x.yaml: the first on-call engineer


async def open_blockit(gateway: Gateway, severity: int = 3, email: str = "ana@clinic.example", **extra) -> str:
    body = {
        "tenant": "blockit",
        "channel": "api",
        "severity": severity,
        "requester": {"name": "Ana Diaz", "email": email},
        "subject": "Scheduling page down",
        "description": "The scheduling page shows an error.",
    } | extra
    answer = await gateway.post("/v1/cases", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["case_id"]


async def update(gateway: Gateway, case_id: str, name: str, body: dict | None = None, scope: str = "operate"):
    return await gateway.post(f"/v1/cases/{case_id}/{name}", scope=scope, json=body)


async def test_updates_move_the_case_and_answer_its_new_status(gateway: Gateway):
    case = await open_blockit(gateway)
    answered = await update(gateway, case, "respond", {"by": "eng-1", "message": "Looking now."})
    assert answered.status_code == 200 and answered.json()["state"] == "responded"
    assert (await update(gateway, case, "assign", {"to": "support-lead"})).json()["assignee"] == "support-lead"
    assert (await update(gateway, case, "pause", None)).json()["state"] == "waiting_on_customer"
    # The requester's comment resumes a case waiting on them.
    comment = await gateway.post(
        f"/v1/cases/{case}/comment", json={"author": "ana@clinic.example", "text": "Here is the log."}
    )
    assert comment.status_code == 202 and comment.json() == {"case_id": case, "comment": True}

    async def resumed():
        return (await gateway.status(case)).state == "responded"

    assert await eventually(resumed)
    severity = await update(gateway, case, "set_severity", {"severity": 2, "reason": "whole clinic affected"})
    assert severity.json()["severity_name"] == "High"
    assert (await update(gateway, case, "request_emergency", {"reason": "workaround failed"})).json()[
        "emergency_due_at"
    ]
    resolved = await update(gateway, case, "resolve", {"by": "eng-1", "resolution": "Cache cleared."})
    assert resolved.json()["state"] == "resolved"
    assert (await update(gateway, case, "reopen", {"reason": "back again"})).json()["state"] == "responded"


async def test_a_rejected_update_is_a_409_saying_why(gateway: Gateway):
    case = await open_blockit(gateway)
    answer = await update(gateway, case, "resume", {})
    assert answer.status_code == 409
    assert answer.json() == {"error": "cannot resume: the case is open, not waiting_on_customer"}
    escalate = await update(gateway, case, "request_escalation", {"reason": "urgent"})
    assert escalate.status_code == 409 and "no customer_escalation ladder" in escalate.json()["error"]


async def test_a_bad_update_body_is_a_422_naming_the_field(gateway: Gateway):
    case = await open_blockit(gateway)
    answer = await update(gateway, case, "set_severity", {"severity": "very high"})
    assert answer.status_code == 422 and answer.json()["fields"][0]["field"] == "severity"
    answer = await update(gateway, case, "respond", {})
    assert answer.status_code == 422 and answer.json()["fields"] == [
        {"field": "by", "problem": "required field is missing"}
    ]
    answer = await update(gateway, case, "provide_workaround", {"by": "e", "description": "d", "kind": "magic"})
    assert answer.status_code == 422 and answer.json()["fields"][0]["field"] == "kind"


async def test_every_update_has_a_route_and_an_unknown_case_is_a_404(gateway: Gateway):
    loaded = loaded_policy("blockit", 2027).model_dump(mode="json")
    bodies = {
        "respond": {"by": "e"},
        "acknowledge": {"by": "e"},
        "assign": {"to": "e"},
        "set_severity": {"severity": 2},
        "pause": {},
        "resume": {},
        "provide_workaround": {"by": "e", "description": "d"},
        "request_escalation": {"reason": "r"},
        "request_emergency": {"reason": "r"},
        "amend": {"subject": "s"},
        "resolve": {"by": "e", "resolution": "r"},
        "reopen": {"reason": "r"},
        "close": {"reason": "spam"},
        "apply_policy": {"policy": loaded},
    }
    assert set(bodies) == {update.name for update in UPDATES}
    for name, body in bodies.items():
        answer = await update(gateway, UNKNOWN, name, body, scope="admin")
        assert answer.status_code == 404, f"{name}: {answer.status_code} {answer.text}"
    assert (await gateway.get(f"/v1/cases/{UNKNOWN}")).status_code == 404
    assert (await gateway.post(f"/v1/cases/{UNKNOWN}/comment", json={"author": "a", "text": "t"})).status_code == 404
    assert (await gateway.post(f"/v1/cases/{UNKNOWN}/fly", scope="admin", json={})).status_code in (404, 405)
    # Only case-<tenant>-<key> ids name cases, whatever else runs in the namespace.
    assert (await gateway.get("/v1/cases/fleet-audit")).status_code == 404


async def test_a_body_over_the_limit_is_a_413_even_when_chunked(gateway: Gateway):
    async def chunks():
        for _ in range(40):
            yield b"x" * 32_768

    answer = await gateway.post(
        f"/v1/cases/{UNKNOWN}/comment", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413 and "larger than 1 MB" in answer.json()["error"]


async def test_apply_policy_needs_admin(gateway: Gateway):
    case = await open_blockit(gateway)
    loaded = loaded_policy("blockit", 2027).model_dump(mode="json")
    assert (await update(gateway, case, "apply_policy", {"policy": loaded}, scope="operate")).status_code == 403
    applied = await update(gateway, case, "apply_policy", {"policy": loaded}, scope="admin")
    assert applied.status_code == 200 and any(e["event"] == "policy_applied" for e in applied.json()["timeline"])


async def test_a_closed_case_refuses_updates_and_comments_with_409_but_still_reads(gateway: Gateway):
    case = await open_blockit(gateway)
    assert (await update(gateway, case, "close", {"reason": "spam"})).json()["state"] == "closed"

    async def finished():
        return (await gateway.client.get_workflow_handle(case).describe()).status.name == "COMPLETED"

    assert await eventually(finished)
    assert (await update(gateway, case, "respond", {"by": "e"})).status_code == 409
    comment = await gateway.post(f"/v1/cases/{case}/comment", json={"author": "a", "text": "hello?"})
    assert comment.status_code == 409 and "closed" in comment.json()["error"]
    assert (await gateway.status(case)).state == "closed"


async def test_listing_filters_by_search_attributes_and_pages(gateway: Gateway):
    email = f"lister-{uuid.uuid4().hex[:6]}@clinic.example"
    mine = {await open_blockit(gateway, severity=4, email=email) for _ in range(3)}

    async def listed():
        answer = await gateway.get("/v1/cases?tenant=blockit&severity=4&state=open&limit=1000")
        rows = {row["case_id"] for row in answer.json()["cases"]}
        return rows if mine <= rows else None

    assert await eventually(listed)
    seen: list[str] = []
    token = None
    for _ in range(50):
        query = "/v1/cases?tenant=blockit&severity=4&limit=2" + (f"&page_token={token}" if token else "")
        page = (await gateway.get(query)).json()
        assert len(page["cases"]) <= 2
        seen += [row["case_id"] for row in page["cases"]]
        token = page["next_page_token"]
        if not token:
            break
    assert mine <= set(seen) and len(seen) == len(set(seen))
    row = next(
        row
        for row in (await gateway.get("/v1/cases?tenant=blockit&severity=4")).json()["cases"]
        if row["case_id"] in mine
    )
    assert row["state"] == "open" and row["severity"] == 4 and row["requester_email"] == email
    assert (await gateway.get("/v1/cases?breached=true&tenant=blub0x")).status_code == 200
    bad = await gateway.get("/v1/cases?state=sleeping")
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "state"
    for garbage in ("%%%", "AAAA", "bm90IGEgdG9rZW4"):
        answer = await gateway.get("/v1/cases", params={"page_token": garbage})
        assert answer.status_code == 422 and answer.json()["fields"][0]["field"] == "page_token", answer.text


# --- the acknowledgement link ----------------------------------------------------


async def emergency_call(gateway: Gateway) -> str:
    body = {
        "caller_number": "+15555550142",
        "caller_name": "Sam Lee",
        "extension": "6",
        "transcription": "Tower One lobby doors are all offline.",
        "recording_url": f"https://pbx.example/{uuid.uuid4().hex}.wav",
    }
    answer = await gateway.post("/v1/intake/voicemail?tenant=blub0x", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["case_id"]


async def paged(gateway: Gateway, case_id: str, kind: str) -> str:
    """The ack link the first page of `case_id` carried, by SMS (`Messages`) or voice (`Calls`)."""

    async def sent():
        return [
            r.form()
            for r in gateway.twilio.requests
            if r.path.endswith(f"{kind}.json") and r.form().get("To") == ONCALL_1 and case_id in str(r.form())
        ]

    (first, *_) = await eventually(sent)
    text = first["Body"] if kind == "Messages" else first["Twiml"]
    return unescape(re.search(r"http://gateway\.test/v1/ack/[A-Za-z0-9_\-.]+", text).group(0))


async def test_the_ack_link_in_the_on_call_sms_stops_the_emergency_rotation(gateway: Gateway):
    case = await emergency_call(gateway)
    link = await paged(gateway, case, "Messages")
    assert (await gateway.status(case)).escalation.running == ["emergency_intake"]

    opened = await gateway.http.get(urlsplit(link).path)  # no API key: the link is the credential
    assert (
        opened.status_code == 200 and "Acknowledge as oncall-1" in opened.text and "<form method=post>" in opened.text
    )
    assert (await gateway.status(case)).escalation.running == ["emergency_intake"], (
        "opening the link (or a mail scanner prefetching it) acknowledges nothing"
    )

    answer = await gateway.http.post(urlsplit(link).path)
    assert answer.status_code == 200 and "Acknowledged — paging stopped" in answer.text
    status = await gateway.status(case)
    assert status.escalation.running == [] and status.escalation.acknowledged_by == "oncall-1"
    assert status.escalation.outcome == "acknowledged"

    again = await gateway.http.post(urlsplit(link).path)
    assert again.status_code == 409 and "already acknowledged" in again.text
    reopened = await gateway.http.get(urlsplit(link).path)
    assert reopened.status_code == 409 and "already acknowledged" in reopened.text


async def test_pressing_a_key_on_the_on_call_phone_call_acknowledges_in_twiml(gateway: Gateway):
    case = await emergency_call(gateway)
    link = await paged(gateway, case, "Calls")
    answer = await gateway.http.get(
        urlsplit(link).path, params={"Digits": "1", "CallSid": "CA0123456789abcdef", "AccountSid": "ACx"}
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
    assert answer.text == "<Response><Say>Acknowledged</Say></Response>"
    assert (await gateway.status(case)).escalation.acknowledged_by == "oncall-1"


@pytest.mark.parametrize(
    "token, status, words",
    [
        (
            lambda case: ack_token(case, "oncall-1", datetime.now(UTC) - timedelta(minutes=1), ACK_SECRET),
            410,
            "expired",
        ),
        (
            lambda case: ack_token(case, "oncall-1", datetime.now(UTC) + timedelta(hours=1), "forged"),
            400,
            "altered",
        ),
        (lambda case: "garbage", 400, "incomplete"),
        (
            lambda case: ack_token(UNKNOWN, "oncall-1", datetime.now(UTC) + timedelta(hours=1), ACK_SECRET),
            404,
            "does not exist",
        ),
    ],
    ids=["expired", "forged", "garbage", "unknown-case"],
)
async def test_a_bad_ack_link_gets_a_clear_page(gateway: Gateway, token, status, words):
    answer = await gateway.http.get(f"/v1/ack/{token('case-blub0x-111111111111111111111111')}")
    assert answer.status_code == status and words in answer.text
    assert answer.headers["content-type"].startswith("text/html")

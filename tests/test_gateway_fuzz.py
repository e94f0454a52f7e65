"""Fuzzing the intake routes: random JSON, form bodies, raw mail and query strings never get a 5xx.

Each route gets a mix of shapeless input (any JSON, any bytes) and
near-valid input (the right field names with hostile values), so the fuzz
reaches past the first validation error. Inputs that are valid open real
cases on the dev server, and those must not fail either. The counts are
printed at the end of the module; SUPPORTFLOW_FUZZ_EXAMPLES (default 150)
sets the examples per route.
"""

from __future__ import annotations

import os
import string
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from gateway_fixtures import Gateway, gateway  # noqa: F401
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflows.policy import CHANNELS

pytestmark = pytest.mark.takes(11)  # seconds, about: the longest files start first (conftest)

TRIED: Counter[str] = Counter()
OUTCOMES: Counter[str] = Counter()
FUZZ = settings(
    max_examples=int(os.environ.get("SUPPORTFLOW_FUZZ_EXAMPLES", "150")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

any_text = st.text(max_size=40)
hostile_text = st.one_of(
    any_text,
    st.sampled_from(
        [
            "",
            " ",
            "null",
            "../../etc/passwd",
            "' OR '1'='1",
            "<script>alert(1)</script>",
            "\x00",
            "é" * 300,
            "123-45-6789",
            "DOB: 03/14/1962",
            "a@b",
            "@",
            "x" * 5000,
        ]
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
good_tenants = st.sampled_from(["blockit", "blub0x"])
tenants = st.one_of(
    good_tenants, good_tenants, st.sampled_from(["nosuchco", "", "BLOCKIT", "../blockit", "block it"]) | any_text
)
good_emails = st.sampled_from(["ana@clinic.example", "sam@tower.example", "O'Brien@Clinic.example"]) | st.emails()
good_text = st.text(min_size=1, max_size=200).filter(str.strip)
moments = st.one_of(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.timezones()).map(
        lambda d: d.isoformat()
    ),
    st.sampled_from(
        [
            (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            "2027-01-08T16:30:00",
            "yesterday",
            "2027-02-30T00:00:00Z",
        ]
    ),
    json_values,
)
queries = st.dictionaries(
    st.sampled_from(["tenant", "channel", "CallSid", "x"]) | any_text,
    st.sampled_from(["blockit", "blub0x", "web", "help_button", "email"]) | any_text,
    max_size=3,
)


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


def partial(
    fields: dict[str, st.SearchStrategy], required: dict[str, st.SearchStrategy] | None = None
) -> st.SearchStrategy:
    """A dict with `required` and any subset of `fields`."""
    return st.fixed_dictionaries(required or {}, optional=fields)


def shapes(plausible: st.SearchStrategy, hostile: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly plausible bodies (they reach the policy checks and Temporal), some hostile, some shapeless."""
    return st.one_of(plausible, plausible, hostile, json_values, st.binary(max_size=200))


requester_fields = {name: maybe(hostile_text) for name in ("name", "phone", "company", "building")}
case_fields = {
    "subject": maybe(hostile_text),
    "description": maybe(hostile_text),
    "severity": maybe(st.integers(-1, 6)),
    "time_critical": st.booleans(),
    "new_installation": st.booleans(),
    "existing_case": maybe(hostile_text),
    "worked_with": maybe(hostile_text),
    "received_at": maybe(moments),
    "source_id": maybe(hostile_text),
    "phi_redacted": st.booleans(),
    "notes": st.lists(hostile_text, max_size=2),
}
case_requests = shapes(
    partial(
        case_fields,
        {
            "tenant": good_tenants,
            "channel": st.sampled_from(CHANNELS),
            "requester": partial(requester_fields, {"email": good_emails}),
        },
    ),
    partial(
        case_fields
        | {
            "tenant": tenants,
            "channel": st.sampled_from(CHANNELS) | any_text,
            "unexpected": json_values,
            "requester": partial(requester_fields | {"email": maybe(hostile_text)}) | json_values,
        }
    ),
)
voicemail_fields = {
    "caller_name": maybe(hostile_text),
    "received_at": maybe(moments),
    "recording_url": maybe(st.sampled_from(["https://pbx.example/r.wav", "ftp://x", "http://a b"]) | hostile_text),
    "extension": maybe(st.sampled_from(["2", "6", 6, 2, "99", True]) | hostile_text),
}
voicemails = shapes(
    partial(
        voicemail_fields,
        {
            "caller_number": st.sampled_from(["+15555550142", "(555) 555-0142", "5550142"]),
            "transcription": hostile_text,
        },
    ),
    partial(voicemail_fields | {"caller_number": hostile_text | json_values, "transcription": json_values}),
)
chat_fields = {"name": maybe(hostile_text), "transcript": maybe(hostile_text | st.lists(hostile_text, max_size=3))}
chats = shapes(
    partial(chat_fields, {"conversation_id": good_text, "email": good_emails, "message": good_text}),
    partial(chat_fields | {"conversation_id": json_values, "email": maybe(hostile_text), "message": json_values}),
)
web_optional = {
    name: hostile_text
    for name in (
        "subject",
        "severity",
        "company",
        "building",
        "phone",
        "time_critical",
        "new_installation",
        "source_id",
    )
}
forms = st.one_of(
    partial(web_optional, {"name": good_text, "email": good_emails, "description": good_text}),
    st.dictionaries(
        st.sampled_from(["name", "email", "description", *web_optional]) | any_text, hostile_text, max_size=12
    ),
)
bodies = st.one_of(json_values, st.binary(max_size=200))


def header_line(name: str, values: st.SearchStrategy | None = None) -> st.SearchStrategy:
    return st.tuples(
        st.just(name), values if values is not None else st.text(string.printable, max_size=60) | hostile_text
    )


our_ids = st.sampled_from(
    ["<case-blockit-000000000000000000000000.0123456789abcdef@supportflow.invalid>", "<m1@clinic.example>"]
)
mail_headers = st.lists(
    st.one_of(
        *(
            header_line(n)
            for n in (
                "Reply-To",
                "Subject",
                "Message-ID",
                "Date",
                "Content-Type",
                "Content-Transfer-Encoding",
                "Auto-Submitted",
            )
        ),
        header_line("In-Reply-To", our_ids),
        header_line("References", our_ids),
    ),
    max_size=6,
)
senders = st.one_of(good_emails, good_emails.map(lambda a: f"Ana Diaz <{a}>"), hostile_text)
mails = st.one_of(
    st.tuples(senders, mail_headers, st.binary(max_size=200) | good_text.map(str.encode)).map(
        lambda parts: (
            f"From: {parts[0]}\r\n".encode("utf-8", "surrogateescape")
            + b"".join(f"{k}: {v}\r\n".encode("utf-8", "surrogateescape") for k, v in parts[1])
            + b"\r\n"
            + parts[2]
        )
    ),
    st.binary(max_size=300),
)


OPENED: set[str] = set()


def record(route: str, answer) -> None:
    TRIED[route] += 1
    OUTCOMES[f"{route} {answer.status_code}"] += 1
    assert answer.status_code < 500, f"{route}: {answer.status_code} {answer.text[:500]}"
    if answer.status_code in (200, 201) and "case_id" in answer.json():
        OPENED.add(answer.json()["case_id"])


@pytest_asyncio.fixture(scope="module", autouse=True)
async def report(request: pytest.FixtureRequest):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"gateway fuzz: {sum(TRIED.values())} inputs tried"]
    lines += [f"  {route}: {count}" for route, count in sorted(TRIED.items())]
    lines += [f"  outcomes: {', '.join(f'{k}×{v}' for k, v in sorted(OUTCOMES.items()))}"]
    if reporter:
        reporter.write_line("\n" + "\n".join(lines))
    else:
        print("\n".join(lines))


@FUZZ
@given(body=case_requests, query=queries)
async def test_post_cases_never_answers_5xx(gateway: Gateway, body, query):
    options = {"content": body} if isinstance(body, bytes) else {"json": body}
    answer = await gateway.post("/v1/cases", params=query, **options)
    record("POST /v1/cases", answer)


@FUZZ
@given(body=voicemails, tenant=tenants, query=queries)
async def test_voicemail_intake_never_answers_5xx(gateway: Gateway, body, tenant, query):
    options = {"content": body} if isinstance(body, bytes) else {"json": body}
    answer = await gateway.post("/v1/intake/voicemail", params=query | {"tenant": tenant}, **options)
    record("POST /v1/intake/voicemail", answer)


@FUZZ
@given(body=chats, tenant=tenants, query=queries)
async def test_chat_intake_never_answers_5xx(gateway: Gateway, body, tenant, query):
    options = {"content": body} if isinstance(body, bytes) else {"json": body}
    answer = await gateway.post("/v1/intake/chat", params=query | {"tenant": tenant}, **options)
    record("POST /v1/intake/chat", answer)


@FUZZ
@given(form=forms, tenant=tenants, query=queries, raw=st.none() | st.none() | st.binary(max_size=200))
async def test_web_intake_never_answers_5xx(gateway: Gateway, form, tenant, query, raw):
    params = {"tenant": tenant} | query
    if raw is not None:
        answer = await gateway.post(
            "/v1/intake/web", params=params, content=raw, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
    else:
        answer = await gateway.post("/v1/intake/web", params=params, data=form)
    record("POST /v1/intake/web", answer)


@FUZZ
@given(
    mail=mails,
    tenant=tenants,
    query=queries,
    content_type=st.sampled_from(["message/rfc822", "message/rfc822; charset=utf-8", "text/plain", ""]),
)
async def test_email_intake_never_answers_5xx(gateway: Gateway, mail, tenant, query, content_type):
    answer = await gateway.post(
        "/v1/intake/email", params=query | {"tenant": tenant}, content=mail, headers={"Content-Type": content_type}
    )
    record("POST /v1/intake/email", answer)


async def test_every_case_the_fuzz_opened_is_healthy(gateway: Gateway):
    """Accepted input must also be input the workflow can run: each case answers its status, none failed."""
    assert OPENED, "the fuzz opened no case at all: the strategies no longer reach past validation"
    for case_id in sorted(OPENED):
        status = await gateway.status(case_id)
        assert status.case_id == case_id
    failed = await gateway.case_ids(
        "WorkflowType = 'SupportCase' AND ExecutionStatus != 'Running' AND ExecutionStatus != 'Completed'"
    )
    assert not failed

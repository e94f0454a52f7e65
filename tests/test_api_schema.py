"""Schemathesis against the gateway's live OpenAPI: every documented operation gets about 50 generated
requests (data that fits the schema, data that does not, and updates aimed at a real open case), over one
kept-alive connection to a real gateway process with a real worker and dev server behind it.

Every answer must be a documented status code with a documented content type, a body that matches its
schema and documented headers; none may be a 5xx, and no answer may drop the connection. The budget is
bounded (SUPPORTFLOW_SCHEMA_EXAMPLES, default 50 per operation; the run stops adding examples after
SUPPORTFLOW_SCHEMA_SECONDS, default 100).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from live_gateway import LiveGateway, live_gateway  # noqa: F401
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.takes(21)  # seconds, about: the longest files start first (conftest)

# A raw email is bytes on the wire, as schemathesis sends any binary body.
schemathesis.serializer.alias("message/rfc822", "application/octet-stream")
EXAMPLES = int(os.environ.get("SUPPORTFLOW_SCHEMA_EXAMPLES", "50"))
BUDGET_SECONDS = float(os.environ.get("SUPPORTFLOW_SCHEMA_SECONDS", "100"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def open_case(gateway: LiveGateway, session: requests.Session) -> str:
    """A fresh Sev 2 blockit case for one operation's updates to work on."""
    answer = session.post(
        f"{gateway.url}/v1/cases",
        headers=gateway.auth(),
        json={
            "tenant": "blockit",
            "channel": "api",
            "severity": 2,
            "requester": {"name": "Ana Diaz", "email": "ana@clinic.example"},
            "subject": "Schemathesis target",
            "description": "Updates generated from the OpenAPI are aimed at this case.",
        },
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["case_id"]


def strategies(operation, gateway: LiveGateway, session: requests.Session) -> list:
    """Data that fits the schema and data that does not, plus positive data aimed past the first 404/422:
    a real tenant where the route takes one, and a real open case where the path names one."""
    positive, negative = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
    found = [operation.as_strategy(positive), operation.as_strategy(negative)]
    if "{case_id}" in operation.path:
        found.append(operation.as_strategy(path_parameters={"case_id": open_case(gateway, session)}))
    if any(parameter.name == "tenant" for parameter in operation.query):
        found.append(operation.as_strategy(query={"tenant": "blockit"}))
    if operation.path == "/v1/cases" and operation.method.upper() == "POST":
        found.append(operation.as_strategy(positive).map(for_blockit))
    return found


def for_blockit(case):
    if isinstance(case.body, dict):
        case.body["tenant"] = "blockit"
    return case


def fuzz(gateway: LiveGateway) -> tuple[Counter[str], dict[str, str]]:
    """Every operation, one after another; (status counts, failure per operation)."""
    schema = schemathesis.openapi.from_url(f"{gateway.url}/openapi.json")
    session = requests.Session()
    statuses: Counter[str] = Counter()
    failures: dict[str, str] = {}
    deadline = time.monotonic() + BUDGET_SECONDS
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        examples = EXAMPLES if time.monotonic() < deadline else 5
        try:
            fuzz_one(operation, gateway, session, examples, statuses)
        except (Exception, BaseExceptionGroup) as failure:  # one operation's failure must not hide the others'
            failures[name] = described(failure)
    return statuses, failures


def fuzz_one(operation, gateway: LiveGateway, session: requests.Session, examples: int, statuses: Counter) -> None:
    name = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies(operation, gateway, session)))
    def run(case) -> None:
        response = case.call(session=session, headers=gateway.auth(), timeout=60)
        statuses[f"{name} {response.status_code}"] += 1
        case.validate_response(response, checks=CHECKS)

    run()


def described(failure: BaseException) -> str:
    parts = failure.exceptions if isinstance(failure, BaseExceptionGroup) else [failure]
    return "\n".join(f"{type(part).__name__}: {part}"[:1500] for part in parts)


async def test_every_operation_answers_as_documented_and_never_with_a_server_error(live_gateway: LiveGateway):
    started = time.monotonic()
    statuses, failures = await asyncio.to_thread(fuzz, live_gateway)
    elapsed = time.monotonic() - started
    print(f"\nschemathesis: {sum(statuses.values())} requests in {elapsed:.0f} s")
    for line in sorted(statuses.items()):
        print(f"  {line[0]}: {line[1]}")
    assert not failures, "\n\n".join(f"{name}\n{problem}" for name, problem in failures.items())
    tried = Counter()
    for key, count in statuses.items():
        tried[key.rsplit(" ", 1)[0]] += count
    # A small input space (GET /healthz has none) gives fewer examples; the rest must have had their budget.
    assert sum(1 for count in tried.values() if count >= min(EXAMPLES, 10)) >= len(tried) - 3, tried
    assert not any(key.endswith((" 500", " 502", " 503", " 504")) for key in statuses if "healthz" not in key)

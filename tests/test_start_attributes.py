"""A case starts with the search attributes its first task would publish (`start_case`), so opening costs
no upsert; a start that brings none, or a wrong one, is put right by the workflow's first task."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from case_fixtures import blockit_request, opening_upserts
from temporalio.common import SearchAttributePair, TypedSearchAttributes

import tenant_policies
from workflows import search_attributes as sa
from workflows.contracts import CaseStatus
from workflows.opening import opened_case

MONDAY_10 = datetime(2030, 1, 7, 10, 0, tzinfo=ZoneInfo("America/Chicago"))


def published(status: CaseStatus) -> dict[str, object]:
    """What the contract says the attributes of a just-opened Sev 2 blockit case hold."""
    return {
        "CaseTenant": "blockit",
        "CaseState": "open",
        "CaseChannel": "email",
        "RequesterEmail": "ana@clinic.example",
        "CaseSeverity": 2,
        "EscalationStep": 0,
        "SlaBreached": False,
        "ResponseDueAt": status.response_due_at,
        "ResolutionDueAt": status.resolution_due_at,
        "NextDueAt": status.response_due_at,
    }


async def found(case) -> dict[str, object]:
    attributes = (await case.describe()).typed_search_attributes
    return {key.name: attributes.get(key) for key in sa.ALL}


async def test_a_case_started_with_its_attributes_upserts_none_when_it_opens(case_env):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(2, MONDAY_10))
    status = await case_env.settled(case)
    assert await opening_upserts(case) == []
    assert await found(case) == published(status)


async def test_a_start_without_attributes_gets_them_all_from_the_first_task(case_env):
    """Any Temporal client may open a case with the request alone (DESIGN: plain JSON, one argument)."""
    await case_env.skip_to(MONDAY_10)
    request = blockit_request(2, MONDAY_10)
    case = await case_env.client.start_workflow(
        "SupportCase",
        request.model_dump(mode="json"),
        id=f"case-blockit-{uuid.uuid4().hex[:24]}",
        task_queue=case_env.queue,
        result_type=CaseStatus,
    )
    status = await case_env.settled(case)
    assert await opening_upserts(case) == [set(published(status))]
    assert await found(case) == published(status)


async def test_a_wrong_attribute_at_start_is_corrected_and_only_it_is_upserted(case_env):
    """A gateway reading another policy than the worker's, say: the workflow's own figures win."""
    await case_env.skip_to(MONDAY_10)
    request = blockit_request(2, MONDAY_10)
    opened = opened_case("case-blockit-x", request, tenant_policies.loaded_policy("blockit", 2030), MONDAY_10)
    given = sa.as_pairs(sa.values_of(opened))
    wrong_due = given.get(sa.RESPONSE_DUE_AT) + timedelta(hours=3)
    start_attributes = TypedSearchAttributes(
        [pair for pair in given.search_attributes if pair.key.name not in ("ResponseDueAt", "CaseSeverity")]
        + [SearchAttributePair(sa.RESPONSE_DUE_AT, wrong_due), SearchAttributePair(sa.CASE_SEVERITY, 4)]
    )
    case = await case_env.client.start_workflow(
        "SupportCase",
        args=[request, None, tenant_policies.loaded_policy("blockit", 2030)],
        id=f"case-blockit-{uuid.uuid4().hex[:24]}",
        task_queue=case_env.queue,
        result_type=CaseStatus,
        search_attributes=start_attributes,
    )
    status = await case_env.settled(case)
    assert await opening_upserts(case) == [{"ResponseDueAt", "CaseSeverity"}]
    assert await found(case) == published(status)

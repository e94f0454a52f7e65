"""`start_request` writes a case's search attributes byte for byte as the SDK's own encoder does, so the
server indexes them and the workflow reads them back exactly as when `Client.start_workflow` sent them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from case_fixtures import blockit_request
from temporalio.api.common.v1 import SearchAttributes
from temporalio.converter import encode_search_attributes

import tenant_policies
from starter.start_request import search_attributes
from workflows import search_attributes as sa
from workflows.opening import opened_case

FRIDAY_1630 = datetime(2027, 1, 8, 16, 30, tzinfo=ZoneInfo("America/Chicago"))


def sdk_encoded(values: dict[str, object]) -> SearchAttributes:
    encoded = SearchAttributes()
    encode_search_attributes(sa.as_pairs(values), encoded)
    return encoded


def test_a_just_opened_case_is_encoded_as_the_sdk_encodes_it():
    policy = tenant_policies.loaded_policy("blockit", FRIDAY_1630.year)
    case = opened_case("case-blockit-x", blockit_request(2, FRIDAY_1630), policy, FRIDAY_1630)
    values = sa.values_of(case)
    assert values["ResponseDueAt"] is not None and values["SlaBreached"] is False, "every type is represented"
    assert search_attributes(values) == sdk_encoded(values)


def test_every_type_offset_and_unset_value_is_encoded_as_the_sdk_encodes_it():
    values: dict[str, object] = {
        "CaseTenant": "blub0x",
        "CaseState": "waiting_on_customer",
        "CaseChannel": "emergency_line",
        "RequesterEmail": "hmac:0a1b",
        "CaseSeverity": 1,
        "EscalationStep": 4,
        "ResponseDueAt": datetime(2027, 3, 14, 2, 30, tzinfo=timezone(timedelta(hours=-5))),
        "ResolutionDueAt": datetime(2027, 3, 14, 7, 30, 0, 123456, tzinfo=UTC),
        "NextDueAt": None,
        "SlaBreached": True,
    }
    encoded = search_attributes(values)
    assert "NextDueAt" not in encoded.indexed_fields, "an unset attribute is left out of the start"
    assert encoded == sdk_encoded(values)

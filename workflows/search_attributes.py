"""The contract's search attributes: exactly these, no others (DESIGN "Search attributes").

Adding one means updating, in the same commit, DESIGN's list, the dev
launcher, the compose setup job and the test fixtures: all of them read this
module, so an attribute the server does not know never reaches a workflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from workflows.state import TARGETS

if TYPE_CHECKING:
    from workflows.state import CaseState

CASE_TENANT = SearchAttributeKey.for_keyword("CaseTenant")
CASE_STATE = SearchAttributeKey.for_keyword("CaseState")
CASE_CHANNEL = SearchAttributeKey.for_keyword("CaseChannel")
REQUESTER_EMAIL = SearchAttributeKey.for_keyword("RequesterEmail")
CASE_SEVERITY = SearchAttributeKey.for_int("CaseSeverity")
ESCALATION_STEP = SearchAttributeKey.for_int("EscalationStep")
RESPONSE_DUE_AT = SearchAttributeKey.for_datetime("ResponseDueAt")
RESOLUTION_DUE_AT = SearchAttributeKey.for_datetime("ResolutionDueAt")
NEXT_DUE_AT = SearchAttributeKey.for_datetime("NextDueAt")
SLA_BREACHED = SearchAttributeKey.for_bool("SlaBreached")

ALL = (
    CASE_TENANT,
    CASE_STATE,
    CASE_CHANNEL,
    REQUESTER_EMAIL,
    CASE_SEVERITY,
    ESCALATION_STEP,
    RESPONSE_DUE_AT,
    RESOLUTION_DUE_AT,
    NEXT_DUE_AT,
    SLA_BREACHED,
)


def values_of(case: CaseState) -> dict[str, object]:
    """What each attribute holds for `case` (None: unset). One definition, for the workflow's upserts and
    for the attributes a case is started with."""
    # The first breach among `case.alarms()`, without working out every warning's moment too. A running
    # clock is neither met nor breached, so the due time shown for it is the computed one: each deadline is
    # worked out once (business-hours arithmetic, asked for at every start and upsert; issue 17).
    shown = {which: case.due_at(which) for which in ("response", "resolution")}
    deadlines = [shown.get(which) or case.computed_due(which) for which in TARGETS if case.clock_running(which)]
    breach_ahead = min((due for due in deadlines if due is not None), default=None)
    return {
        CASE_TENANT.name: case.policy.tenant,
        CASE_STATE.name: case.state,
        CASE_CHANNEL.name: case.channel,
        REQUESTER_EMAIL.name: case.requester_index,
        CASE_SEVERITY.name: case.severity,
        ESCALATION_STEP.name: case.escalation.step,
        RESPONSE_DUE_AT.name: shown["response"],
        RESOLUTION_DUE_AT.name: shown["resolution"],
        NEXT_DUE_AT.name: breach_ahead,
        SLA_BREACHED.name: bool(case.breaches),
    }


def as_pairs(values: dict[str, object]) -> TypedSearchAttributes:
    """`values` as a start's search attributes: the set ones."""
    return TypedSearchAttributes(
        [SearchAttributePair(key, values[key.name]) for key in ALL if values[key.name] is not None]
    )


def given(attributes: TypedSearchAttributes) -> dict[str, object]:
    """What a run began with, in `values_of` form: an attribute it was not given is unset."""
    return {key.name: attributes.get(key) for key in ALL}


# Names as the temporal CLI's `--search-attribute Name=Type` spells the types.
CLI_TYPES = {"KEYWORD": "Keyword", "INT": "Int", "DATETIME": "Datetime", "BOOL": "Bool"}


def type_name(key: SearchAttributeKey[Any]) -> str:
    """`Keyword`, `Int`, `Datetime` or `Bool`: the CLI's spelling, and the `type` a payload of `key` carries."""
    return CLI_TYPES[key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")]


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={type_name(key)}"]
    return flags

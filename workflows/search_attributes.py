"""The contract's search attributes: exactly these, no others (DESIGN "Search attributes").

Adding one means updating, in the same commit, DESIGN's list, the dev
launcher, the compose setup job and the test fixtures: all of them read this
module, so an attribute the server does not know never reaches a workflow.
"""

from temporalio.common import SearchAttributeKey

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
    CASE_TENANT, CASE_STATE, CASE_CHANNEL, REQUESTER_EMAIL, CASE_SEVERITY, ESCALATION_STEP,
    RESPONSE_DUE_AT, RESOLUTION_DUE_AT, NEXT_DUE_AT, SLA_BREACHED,
)  # fmt: skip

# Names as the temporal CLI's `--search-attribute Name=Type` spells the types.
CLI_TYPES = {"KEYWORD": "Keyword", "INT": "Int", "DATETIME": "Datetime", "BOOL": "Bool"}


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={CLI_TYPES[key.indexed_value_type.name.removeprefix('INDEXED_VALUE_TYPE_')]}"]
    return flags

"""PHI never reaches Temporal for a tenant whose policy says `redact_phi`: free text in comments and
updates is redacted here, as intake requests are by `redact_request`."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

import tenant_policies
from starter.client import tenant_of
from starter.intake import redact

FREE_TEXT = ("text", "message", "description", "resolution", "reason", "subject", "worked_with", "existing_case")
Args = TypeVar("Args", bound=BaseModel)


def redacts(case_id: str) -> bool:
    tenant = tenant_of(case_id)
    if tenant is None:
        return False
    try:
        return tenant_policies.tenant_policy(tenant).intake.redact_phi
    except tenant_policies.UnknownTenant:  # not one of our tenants: the case lookup answers 404
        return False


def redact_free_text(case_id: str, args: Args) -> Args:
    if not redacts(case_id):
        return args
    changed = {}
    for name in FREE_TEXT:
        value = getattr(args, name, None)
        if isinstance(value, str):
            cleaned, count = redact(value)
            if count:
                changed[name] = cleaned
    return args.model_copy(update=changed) if changed else args

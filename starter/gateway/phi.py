"""What a comment or an update may carry into Temporal: stored text only, and no PHI for a tenant whose policy
says `redact_phi`. Intake requests get the same treatment from `admit`; the sender's id is hashed by the
client layer (`starter/client.py`)."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

import tenant_policies
from starter.client import tenant_of
from starter.gateway.errors import FieldErrors
from starter.intake import redact
from starter.intake.phi import phi_in_requester, redact_identifier
from starter.intake.text import with_stored_text
from workflows.contracts import Amend
from workflows.policy import Policy

FREE_TEXT = ("text", "message", "description", "resolution", "reason", "subject", "worked_with", "existing_case")
# Who someone says they are: kept when it names one of the tenant's contacts or the key that authenticated,
# redacted like any other text the caller chose otherwise.
CLAIMED_NAMES = ("by", "author", "to")
Args = TypeVar("Args", bound=BaseModel)


def redacting_policy(case_id: str) -> Policy | None:
    """The case's tenant policy when it says `redact_phi`, else None."""
    tenant = tenant_of(case_id)
    if tenant is None:
        return None
    try:
        policy = tenant_policies.tenant_policy(tenant)
    except tenant_policies.UnknownTenant:  # not one of our tenants: the case lookup answers 404
        return None
    return policy if policy.intake.redact_phi else None


def redact_free_text(case_id: str, args: Args) -> Args:
    """`args` as they may reach the case: control characters gone, and, for a `redact_phi` tenant, PHI redacted
    from free text and from names nobody vouches for. An amended requester field holding PHI is a 422."""
    args = with_stored_text(args)
    policy = redacting_policy(case_id)
    if policy is None:
        return args
    if isinstance(args, Amend) and args.requester is not None and (fields := phi_in_requester(args.requester)):
        problem = f"{policy.tenant} takes no PHI: this looks like an SSN, a date of birth or a record number"
        raise FieldErrors([(field, problem) for field in fields])
    changed = {}
    for name in FREE_TEXT:
        value = getattr(args, name, None)
        if isinstance(value, str):
            cleaned, count = redact(value)
            if count:
                changed[name] = cleaned
    known = known_names(policy, args)
    for name in CLAIMED_NAMES:
        value = getattr(args, name, None)
        if isinstance(value, str) and value not in known:
            cleaned, count = redact_identifier(value)
            if count:
                changed[name] = cleaned
    return args.model_copy(update=changed) if changed else args


def known_names(policy: Policy, args: BaseModel) -> set[str]:
    """The tenant's contact ids and names, and the authenticated actor's name (set by the route)."""
    names = set(policy.contacts) | {contact.name for contact in policy.contacts.values()}
    actor = getattr(args, "actor", None)
    if actor is not None:
        names.add(actor.name)
    return names

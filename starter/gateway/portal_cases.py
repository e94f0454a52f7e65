"""A requester's own cases, as the portal may show them: found by tenant and email, each checked again.

A case that is not theirs is NotFound, exactly like a case that does not exist, so the portal never confirms
another requester's case id.
"""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from starter import client as cases
from starter.encryption import keyring_of, requester_email_keys
from workflows import search_attributes as sa
from workflows.contracts import CaseStatus

LISTED = 100


def requester_query(client: Client, tenant: str, email: str) -> str | None:
    """The visibility query for one requester's cases at one tenant; None for an address no case can have."""
    if '"' in email or "\\" in email:  # never issued: links and the sign-in form refuse such addresses
        return None
    quote = '"' if "'" in email else "'"  # o'brien@clinic.example
    # With encryption on, RequesterEmail holds the address's keyed hash, one per listed key (cases opened before
    # a rotation keep the older key's), and the address itself is never sent to Temporal.
    indexed = requester_email_keys(email, keyring_of(client)) or [email]
    return (
        f"WorkflowType = 'SupportCase' AND {sa.CASE_TENANT.name} = '{tenant}' "
        f"AND {sa.REQUESTER_EMAIL.name} IN ({', '.join(f'{quote}{value}{quote}' for value in indexed)})"
    )


async def own_cases(client: Client, tenant: str, email: str) -> list[CaseStatus]:
    """The requester's cases Temporal still holds, newest first.

    Closed cases whose history Temporal's retention has deleted live in the case archive (DESIGN "Case
    records": "the portal lists a requester's closed cases from the archive too"); they belong here, merged
    with these by case id, once the archive can be read.
    """
    query = requester_query(client, tenant, email)
    if query is None:
        return []
    ids = [execution.id async for execution in client.list_workflows(query, limit=LISTED)]
    found = await asyncio.gather(*(own_case(client, tenant, email, case_id) for case_id in ids), return_exceptions=True)
    cases = [case for case in found if isinstance(case, CaseStatus)]
    return sorted(cases, key=lambda case: case.received_at, reverse=True)


async def newest_case(client: Client, tenant: str, email: str) -> CaseStatus | None:
    """One of the requester's cases (the most recently started), or None when they have none with this tenant."""
    query = requester_query(client, tenant, email)
    if query is None:
        return None
    async for execution in client.list_workflows(query, limit=1):
        try:
            return await own_case(client, tenant, email, execution.id)
        except cases.CaseNotFound:
            return None
    return None


async def own_case(client: Client, tenant: str, email: str, case_id: str) -> CaseStatus:
    """The case, only if it belongs to this tenant and requester; NotFound otherwise."""
    if cases.tenant_of(case_id) != tenant:
        raise cases.CaseNotFound(case_id)
    try:
        case = await cases.case_status(client, case_id)
    except cases.CaseError:
        raise cases.CaseNotFound(case_id) from None
    if case.tenant != tenant or (case.requester.email or "").lower() != email.lower():
        raise cases.CaseNotFound(case_id)
    return case

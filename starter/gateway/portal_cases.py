"""A requester's own cases, as the portal may show them: found by tenant and email, each checked again.

A case that is not theirs is NotFound, exactly like a case that does not exist, so the portal never confirms
another requester's case id.
"""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client

from archive.portal import closed_cases
from archive.store import ArchiveError, archive_at, archive_url
from starter import client as cases
from starter.encryption import keyring_of, requester_email_keys
from workflows import search_attributes as sa
from workflows.contracts import CaseStatus

LISTED = 100

log = logging.getLogger(__name__)


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
    """The requester's cases, newest first: the ones Temporal still holds, and the closed ones from the case
    archive, which outlive Temporal's retention (DESIGN "Case records"). Temporal's copy wins for a case in both."""
    query = requester_query(client, tenant, email)
    if query is None:
        return []
    ids = [execution.id async for execution in client.list_workflows(query, limit=LISTED)]
    found = await asyncio.gather(*(own_case(client, tenant, email, case_id) for case_id in ids), return_exceptions=True)
    live = {case.case_id: case for case in found if isinstance(case, CaseStatus)}
    archived = {case.case_id: case for case in await archived_closed(tenant, email)}
    return sorted({**archived, **live}.values(), key=lambda case: case.received_at, reverse=True)[:LISTED]


async def archived_closed(tenant: str, email: str) -> list[CaseStatus]:
    """The requester's closed cases in the archive; none (and a warning) while the archive cannot be read, so
    the portal still shows the open ones."""
    try:
        archive = await asyncio.to_thread(archive_at, archive_url())
        keys = requester_email_keys(email, archive.keyring) or [archive.requester_index(email) or ""]
        archived = await asyncio.to_thread(closed_cases, archive, tenant, keys, LISTED)
    except ArchiveError as problem:
        log.warning("the portal lists open cases only: %s", problem)
        return []
    return [case for case in archived if (case.requester.email or "").lower() == email.lower()]


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
    except cases.CaseNotFound:
        case = await archived_case(case_id)
    except cases.CaseError:
        raise cases.CaseNotFound(case_id) from None
    if case.tenant != tenant or (case.requester.email or "").lower() != email.lower():
        raise cases.CaseNotFound(case_id)
    return case


async def archived_case(case_id: str) -> CaseStatus:
    """A case Temporal no longer holds, from the archive; NotFound when it is not there either."""
    try:
        archive = await asyncio.to_thread(archive_at, archive_url())
        found = await asyncio.to_thread(archive.status, case_id)
    except ArchiveError as problem:
        log.warning("case %s is not in Temporal and the archive cannot be read: %s", case_id, problem)
        found = None
    if found is None:
        raise cases.CaseNotFound(case_id)
    return found

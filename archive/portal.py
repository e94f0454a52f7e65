"""The portal's closed cases: a requester's cases that Temporal may already have deleted, from the archive.

The portal finds a requester by RequesterEmail's value; with payloads
encrypted that is `hmac:<hex>` under each listed key (`starter.encryption.
requester_email_keys`), so cases indexed before a key rotation are found too.
"""

from __future__ import annotations

from collections.abc import Sequence

from archive.store import Archive
from workflows.contracts import CaseStatus

LISTED = 100


def closed_cases(archive: Archive, tenant: str, requester_keys: Sequence[str], limit: int = LISTED) -> list[CaseStatus]:
    """`tenant`'s closed cases whose requester index is any of `requester_keys`, most recently closed first."""
    return archive.closed_of_requester(tenant, requester_keys, limit)

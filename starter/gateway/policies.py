"""Tenant policies as the gateway reads them: from SUPPORTFLOW_POLICY_DIR, re-read when the file changes."""

from __future__ import annotations

import re
from pathlib import Path

from activities.policy import PolicyError, policy_path, read_policy_file
from starter.gateway.errors import Unavailable, field_error
from workflows.policy import Policy

TENANT = re.compile(r"[a-z0-9][a-z0-9_-]*")
# (path, mtime, size) → policy: parsing checks every holiday name, which is too slow for each request.
_cache: dict[Path, tuple[tuple[int, int], Policy]] = {}


def tenant_policy(tenant: str | None) -> Policy:
    """The tenant's policy; an unknown tenant is a 422 naming `tenant`."""
    if not tenant:
        raise field_error("tenant", "required: name the tenant, for example ?tenant=blockit")
    path = policy_path(tenant)
    if not TENANT.fullmatch(tenant) or not path.is_file():
        raise field_error("tenant", f"unknown tenant {tenant[:80]!r}")
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        policy = read_policy_file(path)
    except PolicyError as problem:
        raise Unavailable(f"the {tenant} policy cannot be used: {problem}") from None
    _cache[path] = (stamp, policy)
    return policy

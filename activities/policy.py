"""The `load_policy` activity: a case's policy, holidays expanded, read through `tenant_policies`."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

import tenant_policies
from tenant_policies import PolicyError, UnknownTenant
from workflows.policy import LoadedPolicy, LoadPolicyRequest, years_around


@activity.defn
async def load_policy(request: LoadPolicyRequest) -> LoadedPolicy:
    """A missing tenant or a broken file will not fix itself by retrying."""
    if request.policy is not None:
        return tenant_policies.expand_holidays(request.policy, *years_around(request.year))
    try:
        return tenant_policies.loaded_policy(request.tenant, request.year)
    except UnknownTenant as unknown:
        raise ApplicationError(str(unknown), type="UnknownTenant", non_retryable=True) from None
    except PolicyError as problem:
        raise ApplicationError(str(problem), type="InvalidPolicy", non_retryable=True) from None

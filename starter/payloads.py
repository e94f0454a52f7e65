"""The pydantic payload converter, encoding each tenant policy once.

Every case starts with its `LoadedPolicy` (about 4 KB of JSON: the policy
and its expanded holidays), and the gateway opens cases with the same few
policies all day. A policy's digest names exactly one content
(tenant_policies.expand_holidays), so its payload is encoded once per
digest and reused: about 40 µs of the gateway's CPU per open (issue 17).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter

from workflows.policy import LoadedPolicy

KEPT = 64  # policies; a process rarely sees more than a few tenants times a few years


class PolicyOnceConverter(PydanticPayloadConverter):
    """`PydanticPayloadConverter`, with a digested policy's payload kept by digest."""

    def __init__(self) -> None:
        super().__init__()
        self._policies: dict[str, Payload] = {}

    def to_payloads(self, values: Sequence[Any]) -> list[Payload]:
        if not any(isinstance(value, LoadedPolicy) and value.digest for value in values):
            return super().to_payloads(values)
        payloads = []
        for value in values:
            digested = isinstance(value, LoadedPolicy) and value.digest
            payloads.append(self._policy(value) if digested else super().to_payloads([value])[0])
        return payloads

    def _policy(self, policy: LoadedPolicy) -> Payload:
        found = self._policies.get(policy.digest)  # type: ignore[arg-type]
        if found is None:
            if len(self._policies) >= KEPT:
                self._policies.clear()
            found = self._policies[policy.digest] = PydanticPayloadConverter.to_payloads(self, [policy])[0]  # type: ignore[index]
        return found

"""The one error intake adapters raise for input they cannot turn into a case."""

from __future__ import annotations


class IntakeError(ValueError):
    """`field` names what was wrong (`from`, `tenant`, …) so the gateway can answer 422 with it."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

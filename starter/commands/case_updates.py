"""The operator's verbs: one `supportflow case <verb>` per workflow update (DESIGN "Temporal contract").

Each row names the update, its argument model (whose fields become the
options) and the aliases operators type. `apply_policy` is not here: it
goes to every case of a tenant at once, through `supportflow policy apply`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from workflows.contracts import (
    Acknowledge,
    Amend,
    Assign,
    Close,
    Pause,
    ProvideWorkaround,
    Reopen,
    RequestEmergency,
    RequestEscalation,
    Resolve,
    Respond,
    Resume,
    SetSeverity,
)


@dataclass(frozen=True)
class UpdateCommand:
    update: str
    model: type[BaseModel]
    help: str
    aliases: tuple[str, ...] = ()
    nested: tuple[str, ...] = ()

    @property
    def command(self) -> str:
        return self.update.replace("_", "-")


UPDATES: tuple[UpdateCommand, ...] = (
    UpdateCommand("respond", Respond, "answer the requester; the first response meets the response target"),
    UpdateCommand("acknowledge", Acknowledge, "stop every running escalation ladder", aliases=("ack",)),
    UpdateCommand("assign", Assign, "set the assignee (a contact id or a name)"),
    UpdateCommand(
        "set_severity", SetSeverity, "change the severity; unmet targets are recomputed", aliases=("severity",)
    ),
    UpdateCommand("pause", Pause, "wait on the customer: the resolution clock stops"),
    UpdateCommand("resume", Resume, "end the pause; the resolution clock runs again"),
    UpdateCommand(
        "provide_workaround", ProvideWorkaround, "record a workaround or data correction", aliases=("workaround",)
    ),
    UpdateCommand("request_escalation", RequestEscalation, "run the customer escalation ladder", aliases=("escalate",)),
    UpdateCommand(
        "request_emergency",
        RequestEmergency,
        "request emergency maintenance (severities with an emergency target)",
        aliases=("emergency",),
    ),
    UpdateCommand("amend", Amend, "fill in fields the request lacked", nested=("requester",)),
    UpdateCommand("resolve", Resolve, "resolve the case; every clock and ladder stops"),
    UpdateCommand("reopen", Reopen, "reopen a resolved case"),
    UpdateCommand("close", Close, "close a resolved case, or any case with a reason (spam, duplicate)"),
)

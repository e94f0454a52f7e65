"""`supportflow up --demo`: a handful of realistic cases for both seed tenants, so the web UI and
the portal show something real on first run. The BluB0X emergency-line case
is left paging its on-call rotation: in outbox mode its pages to `oncall-1`
are in `/outbox`, and their ack link stops the ladder.

Each demo case has a fixed source id, so it always gets the same workflow id:
a second `--demo` finds the cases already open and changes nothing. Only a
case this run opened gets its updates (a response, a workaround, a pause…).
Requesters and contacts are placeholders; nothing here is PHI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from temporalio.client import Client

import tenant_policies
from starter import client as cases
from workflows.contracts import (
    Assign,
    CaseRequest,
    CaseStatus,
    Pause,
    ProvideWorkaround,
    Requester,
    RequestEscalation,
    Resolve,
    Respond,
)

OPENING_PATIENCE = 30.0


@dataclass(frozen=True)
class DemoCase:
    """One case as a support manager would tell it: how it came in, and what has happened since."""

    slug: str
    tenant: str
    channel: str
    minutes_ago: int
    subject: str
    description: str
    requester: Requester
    severity: int | None = None
    new_installation: bool = False
    steps: list[tuple[str, BaseModel]] = field(default_factory=list)
    expected_state: str = "open"

    def request(self, now: datetime) -> CaseRequest:
        return CaseRequest(
            tenant=self.tenant,
            channel=self.channel,
            requester=self.requester,
            subject=self.subject,  # type: ignore[arg-type]
            description=self.description,
            severity=self.severity,
            new_installation=self.new_installation,
            received_at=now - timedelta(minutes=self.minutes_ago),
            source_id=f"supportflow-demo:{self.slug}",
        )


CLINIC = Requester(name="Ana Diaz", email="ana.diaz@clinic.example", phone="+15555550123", company="Clinic Co")
PRACTICE = Requester(name="Ravi Patel", email="ravi@practice.example", company="Lakeside Practice")
TOWER = Requester(
    name="Sam Lee", email="sam.lee@tower.example", phone="+15555550142", company="Tower Co", building="Tower One"
)
CAMPUS = Requester(
    name="Jo Park", email="jo.park@campus.example", phone="+15555550177", company="North Campus", building="Hall B"
)

DEMO_CASES: tuple[DemoCase, ...] = (
    DemoCase(
        "blockit-sev1-scheduling-down",
        "blockit",
        "email",
        12,
        "Scheduling page down for every clinic",
        "Since about 9:40 the scheduling page shows 'Service unavailable' at all three locations.",
        CLINIC,
        severity=1,
        steps=[("respond", Respond(by="support-lead", message="We are on it: the scheduling service is restarting."))],
        expected_state="responded",
    ),
    DemoCase(
        "blockit-sev2-reminders",
        "blockit",
        "chat",
        45,
        "Appointment reminders are not being sent",
        "No reminder texts went out this morning; the reminder log shows nothing queued.",
        PRACTICE,
        severity=2,
        steps=[
            ("respond", Respond(by="support-team", message="Looking into the reminder queue now.")),
            (
                "provide_workaround",
                ProvideWorkaround(
                    by="support-lead",
                    description="Send today's reminders from Reports > Reminders > Send now while we fix the queue.",
                ),
            ),
        ],
        expected_state="workaround_provided",
    ),
    DemoCase(
        "blockit-sev3-export-totals",
        "blockit",
        "web",
        90,
        "Monthly export shows the wrong totals",
        "The October export totals differ from the dashboard by a few visits.",
        CLINIC,
        severity=3,
        steps=[
            ("respond", Respond(by="support-team", message="Could you send us the export file you downloaded?")),
            ("pause", Pause(reason="waiting for the customer's export file")),
        ],
        expected_state="waiting_on_customer",
    ),
    DemoCase(
        "blockit-sev4-dark-mode",
        "blockit",
        "help_button",
        30,
        "Dark mode for the front desk screens",
        "Our front desk would like a darker theme for the evening shift.",
        PRACTICE,
        severity=4,
        steps=[("assign", Assign(to="support-team"))],
    ),
    DemoCase(
        "blockit-sev3-password-reset",
        "blockit",
        "email",
        180,
        "Password reset emails arrive late",
        "Reset emails take about 20 minutes to arrive.",
        CLINIC,
        severity=3,
        steps=[
            (
                "resolve",
                Resolve(by="support-lead", resolution="A stuck mail queue was cleared; resets now arrive at once."),
            )
        ],
        expected_state="resolved",
    ),
    DemoCase(
        "blub0x-emergency-lobby-doors",
        "blub0x",
        "emergency_line",
        6,
        "Lobby doors will not unlock",
        "Voicemail on the emergency line: the lobby doors stay locked and badges are refused.",
        TOWER,
        # Left paging on purpose: `oncall-1` is called and texted now, and the ack link in the outbox stops it.
    ),
    DemoCase(
        "blub0x-regular-badge-printing",
        "blub0x",
        "email",
        120,
        "Visitor badges print blank",
        "Since the new printers were installed, visitor badges come out blank.",
        CAMPUS,
        new_installation=True,
        steps=[
            ("respond", Respond(by="support-team", message="Thanks, Jo. We are checking the printer driver.")),
            (
                "request_escalation",
                RequestEscalation(reason="Opening day is Friday and visitors need badges", new_installation=True),
            ),
        ],
        expected_state="responded",
    ),
)


@dataclass(frozen=True)
class DemoOutcome:
    case_id: str
    slug: str
    opened: bool  # False: it was already open from an earlier --demo
    status: CaseStatus


async def open_demo_cases(client: Client, demos: tuple[DemoCase, ...] = DEMO_CASES) -> list[DemoOutcome]:
    """Open each demo case, or find it open already; run the updates only on the ones opened now."""
    now = datetime.now(UTC)
    outcomes = []
    for demo in demos:
        opened = await cases.start_case(client, demo.request(now), tenant_policies.loaded_policy(demo.tenant, now.year))
        status = await cases.case_status(client, opened.case_id)
        if not opened.duplicate:
            for update, args in demo.steps:
                status = await cases.run_update(client, opened.case_id, update, args)
        outcomes.append(DemoOutcome(opened.case_id, demo.slug, not opened.duplicate, status))
    return outcomes


def describe(outcomes: list[DemoOutcome]) -> str:
    new = sum(outcome.opened for outcome in outcomes)
    lines = [f"demo cases: {new} opened, {len(outcomes) - new} already open"]
    for outcome in outcomes:
        status = outcome.status
        lines.append(
            f"  {outcome.case_id}  {status.tenant:<7}  Sev{status.severity}  {status.state:<20}  {status.subject}"
        )
    return "\n".join(lines)


async def open_demo_on(address: str, namespace: str) -> str:
    """What `supportflow up --demo` runs once everything is ready: the demo cases, described for the terminal."""
    from starter.encryption import data_converter

    client = await Client.connect(address, namespace=namespace, data_converter=data_converter())
    return describe(await open_demo_cases(client))

"""The policy file contract: one support organisation's written promises as data.

Parsing and every check that needs no I/O live here. Expanding named
holidays needs the `holidays` package, so it happens in `activities/policy.py`.
"""

from __future__ import annotations

import re
import weakref
from datetime import date, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from workflows.calendar import BusinessCalendar, merge_ranges, parse_hours
from workflows.durations import parse_duration

Channel = Literal["email", "chat", "messaging", "web", "phone", "voicemail", "help_button", "emergency_line", "api"]
CHANNELS: tuple[Channel, ...] = Channel.__args__  # type: ignore[attr-defined]
SYNCHRONOUS_CHANNELS: frozenset[str] = frozenset({"api", "web", "help_button", "chat"})
PhoneChannel = Literal["phone", "voicemail", "emergency_line"]  # what a call to the tenant's number can open

DeliveryChannel = Literal["email", "sms", "voice", "chat", "webhook"]
ClockKind = Literal["24x7", "business"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = Weekday.__args__  # type: ignore[attr-defined]
LadderName = Literal[
    "response_warning",
    "response_breach",
    "resolution_warning",
    "resolution_breach",
    "emergency_request",
    "emergency_warning",
    "emergency_breach",
    "customer_escalation",
    "emergency_intake",
    "requester_update",
]
RequiredField = Literal[
    "requester.name",
    "requester.email",
    "requester.phone",
    "requester.company",
    "requester.building",
    "subject",
    "description",
    "existing_case",
    "worked_with",
]
TargetName = Literal["response", "resolution", "emergency"]
ASSIGNEE = "assignee"
CONTACT_CHANNEL_FIELD: dict[str, str] = {
    "email": "email",
    "sms": "phone",
    "voice": "phone",
    "chat": "chat",
    "webhook": "webhook",
}


def _duration(text: str) -> str:
    parse_duration(text)
    return text


def _wait(text: str) -> str:
    parse_duration(text, allow_zero=True)
    return text


def _e164(text: str) -> str:
    if not (text.startswith("+") and text[1:].isdigit() and 8 <= len(text) <= 16):
        raise ValueError(f"{text!r} is not an E.164 number like +15555550100")
    return text


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"{text!r} is not an http(s) URL")
    return text


def _env_name(text: str) -> str:
    if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", text):
        raise ValueError(f"{text!r} is not an environment variable name such as BLOCKIT_WEBHOOK_SECRET")
    return text


Duration = Annotated[str, AfterValidator(_duration)]
Wait = Annotated[str, AfterValidator(_wait)]
Phone = Annotated[str, AfterValidator(_e164)]
Url = Annotated[str, AfterValidator(_url)]
# The name of a variable holding a secret, never the secret: policy files are shared and reviewed.
EnvName = Annotated[str, AfterValidator(_env_name)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(Strict):
    within: Duration
    clock: ClockKind
    workaround_stops_clock: bool = False

    @model_validator(mode="after")
    def _no_days_on_business_clock(self) -> Target:
        if self.clock == "business" and self.within.endswith("d"):
            raise ValueError(f"within: {self.within!r} is in days, which a business clock cannot count; use hours")
        return self

    @property
    def span(self) -> timedelta:
        return parse_duration(self.within)


class Severity(Strict):
    name: str
    response: Target
    resolution: Target | None = None
    emergency: Target | None = None


class CalendarSpec(Strict):
    timezone: str
    hours: dict[Weekday, list[str]]
    holidays: list[date] = []
    holiday_country: str | None = None
    holiday_names: list[str] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{name!r} is not an IANA time zone such as America/Chicago") from None
        return name

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, hours: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, ranges in hours.items():
            try:
                merge_ranges(parse_hours(text) for text in ranges)
            except ValueError as problem:
                raise ValueError(f"{day}: {problem}") from None
        if not any(hours.values()):
            raise ValueError("a calendar needs open hours on at least one weekday")
        return hours

    @model_validator(mode="after")
    def _names_need_a_country(self) -> CalendarSpec:
        if self.holiday_names and not self.holiday_country:
            raise ValueError("holiday_names needs holiday_country")
        return self

    def business_calendar(self, holidays_known_until: date | None = None) -> BusinessCalendar:
        """The calendar math object; `holidays` must already hold every date (see activities.policy)."""
        weekly = {
            WEEKDAYS.index(day): merge_ranges(parse_hours(text) for text in ranges)
            for day, ranges in self.hours.items()
        }
        return BusinessCalendar(self.timezone, weekly, frozenset(self.holidays), holidays_known_until)


class PhoneLine(Strict):
    """One line of a phone menu (Decision 10): who rings, when, and the channel its cases open with.

    `rotation` dials its members one at a time; `ring` dials contacts (or a
    rotation's members) all at once; with neither, the line is voicemail only.
    Outside its `hours` a line goes to voicemail."""

    channel: PhoneChannel
    hours: Literal["business", "always"] = "always"
    rotation: str | None = None
    ring: list[str] = []
    ring_seconds: int = Field(default=20, ge=5, le=120)

    @model_validator(mode="after")
    def _one_way_to_ring(self) -> PhoneLine:
        if self.rotation and self.ring:
            raise ValueError("a line has either rotation (one at a time) or ring (all at once), not both")
        return self


class Voicemail(Strict):
    prompt: str = "Please leave a message after the tone, with your name and the number to call you back on."
    max_seconds: int = Field(default=300, ge=10, le=3600)


class PhoneIntake(Strict):
    """`intake.phone`: what a call to the tenant's number does (DESIGN Decision 10).

    Without a menu the number is one line that goes straight to voicemail, and
    its cases open with `channel` (blockit's monitored voicemail)."""

    greeting: str | None = None
    menu: dict[str, PhoneLine] = {}
    channel: PhoneChannel = "voicemail"
    voicemail: Voicemail = Voicemail()

    @field_validator("menu", mode="before")
    @classmethod
    def _digits_as_text(cls, value: object) -> object:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("menu")
    @classmethod
    def _one_digit_each(cls, menu: dict[str, PhoneLine]) -> dict[str, PhoneLine]:
        for digit in menu:
            if not (len(digit) == 1 and digit.isdigit()):
                raise ValueError(f"menu key {digit!r} is not one digit 0-9")
        return menu


class Intake(Strict):
    channels: list[Channel]
    required: list[RequiredField] = []
    redact_phi: bool = False
    extensions: dict[str, Channel] = {}
    channel_severity: dict[Channel, int] = {}
    phone: PhoneIntake | None = None

    @field_validator("extensions", mode="before")
    @classmethod
    def _extension_keys_are_strings(cls, value: object) -> object:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


class Contact(Strict):
    name: str
    email: str | None = None
    phone: Phone | None = None
    chat: Url | None = None
    webhook: Url | None = None
    webhook_secret_env: EnvName | None = None  # signs this contact's webhooks (DESIGN Decision 19)

    def address(self, channel: DeliveryChannel) -> str | None:
        return getattr(self, CONTACT_CHANNEL_FIELD[channel])


class When(Strict):
    """Every test given must hold; an unknown test is a load error."""

    after_hours: bool | None = None
    business_hours: bool | None = None
    new_installation: bool | None = None
    time_critical: bool | None = None
    severity: list[int] | None = None
    channel: list[Channel] | None = None


class Notify(Strict):
    """One `notify` entry with its own test: BluB0X's step 2 is "Ext. 2 or Ext. 6, depending on the time of
    day", so it holds both, each with a `when`, and the step keeps the seed's number."""

    to: str
    when: When


class Step(Strict):
    notify: list[str | Notify] = Field(min_length=1)
    via: list[DeliveryChannel] = Field(min_length=1)
    wait: Wait = "0m"
    when: When | None = None

    @property
    def wait_span(self) -> timedelta:
        return parse_duration(self.wait, allow_zero=True)

    @property
    def targets(self) -> list[tuple[str, When | None]]:
        """(contact, rotation or `assignee`; the test it needs, if any), as written."""
        return [(entry, None) if isinstance(entry, str) else (entry.to, entry.when) for entry in self.notify]


def _steps_as_ladder(value: object) -> object:
    return {"steps": value} if isinstance(value, list) else value


class Ladder(Strict):
    repeat: int = Field(default=0, ge=0, le=100)
    steps: list[Step] = Field(min_length=1)


def _warn_fractions(value: float | list[float]) -> list[float]:
    fractions = value if isinstance(value, list) else [value]
    for fraction in fractions:
        if not 0 < fraction < 1:
            raise ValueError(f"{fraction} is not a fraction strictly between 0 and 1")
    return sorted(set(fractions))


class Policy(Strict):
    tenant: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    display_name: str
    calendar: CalendarSpec
    intake: Intake
    default_severity: int
    warn_at: Annotated[
        list[float], BeforeValidator(lambda v: v if isinstance(v, list) else [v]), AfterValidator(_warn_fractions)
    ] = [0.75]
    auto_close_after: Duration = "7d"
    severities: dict[int, Severity] = Field(min_length=1)
    contacts: dict[str, Contact] = {}
    rotations: dict[str, list[str]] = {}
    escalations: dict[LadderName, Annotated[Ladder, BeforeValidator(_steps_as_ladder)]] = {}
    webhook_secret_env: EnvName | None = None  # signs webhooks of contacts that name no secret of their own

    def severity(self, level: int) -> Severity:
        return self.severities[level]

    def contact_for(self, who: str | None) -> tuple[str, Contact] | None:
        """(contact id, contact) for a contact id, name or email address; None for anyone else."""
        if not who:
            return None
        if who in self.contacts:
            return who, self.contacts[who]
        wanted = who.strip().lower()
        for contact_id, contact in self.contacts.items():
            if wanted in (contact.name.lower(), (contact.email or "").lower()):
                return contact_id, contact
        return None

    def severity_for(self, channel: str, given: int | None) -> int:
        if given is not None:
            return given
        return self.intake.channel_severity.get(channel, self.default_severity)  # type: ignore[call-overload]

    def reference_problems(self) -> list[tuple[str, str]]:
        """Cross-references pydantic cannot see: (field path, problem)."""
        problems: list[tuple[str, str]] = []
        if self.default_severity not in self.severities:
            problems.append(("default_severity", f"severity {self.default_severity} is not defined in severities"))
        for channel, level in self.intake.channel_severity.items():
            if level not in self.severities:
                problems.append(
                    (f"intake.channel_severity.{channel}", f"severity {level} is not defined in severities")
                )
        for rotation, members in self.rotations.items():
            if not members:
                problems.append((f"rotations.{rotation}", "a rotation needs at least one member"))
            for i, member in enumerate(members):
                if member not in self.contacts:
                    problems.append((f"rotations.{rotation}[{i}]", f"unknown contact {member!r}"))
        for name, ladder in self.escalations.items():
            for i, step in enumerate(ladder.steps):
                problems += self._step_problems(f"escalations.{name}[{i}]", step)
        if self.intake.phone:
            for digit, line in self.intake.phone.menu.items():
                problems += self._line_problems(f"intake.phone.menu.{digit}", line)
        return problems

    def dialled(self, line: PhoneLine) -> list[str]:
        """The contacts a line dials, in order: a rotation's members, or `ring`'s contacts with rotations expanded."""
        if line.rotation:
            return list(self.rotations.get(line.rotation, []))
        return [member for name in line.ring for member in self.rotations.get(name, [name])]

    def _line_problems(self, path: str, line: PhoneLine) -> list[tuple[str, str]]:
        if line.rotation and line.rotation not in self.rotations:
            return [(f"{path}.rotation", f"unknown rotation {line.rotation!r}")]
        problems = [
            (f"{path}.ring[{j}]", f"unknown contact or rotation {name!r}")
            for j, name in enumerate(line.ring)
            if name not in self.contacts and name not in self.rotations
        ]
        where = f"{path}.rotation" if line.rotation else f"{path}.ring"
        for member in self.dialled(line):
            contact = self.contacts.get(member)
            if contact is not None and not contact.phone:
                problems.append((where, f"{contact.name} has no phone number to dial"))
        return problems

    def _step_problems(self, path: str, step: Step) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        for j, (target, when) in enumerate(step.targets):
            if when and when.severity:
                problems += self._severity_problems(f"{path}.notify[{j}].when.severity", when.severity)
            if target == ASSIGNEE:
                continue
            if target in self.rotations:
                contacts = [self.contacts[m] for m in self.rotations[target] if m in self.contacts]
            elif target in self.contacts:
                contacts = [self.contacts[target]]
            else:
                problems.append((f"{path}.notify[{j}]", f"unknown contact or rotation {target!r}"))
                continue
            for contact in contacts:
                if not any(contact.address(channel) for channel in step.via):
                    problems.append((f"{path}.via", f"{contact.name} has no address for any of {', '.join(step.via)}"))
        if step.when and step.when.severity:
            problems += self._severity_problems(f"{path}.when.severity", step.when.severity)
        return problems

    def _severity_problems(self, path: str, levels: list[int]) -> list[tuple[str, str]]:
        return [
            (path, f"severity {level} is not defined in severities") for level in levels if level not in self.severities
        ]


class LoadedPolicy(BaseModel):
    """A policy as a case keeps it: named holidays already expanded to dates
    for `first_year`..`last_year`, so the workflow never imports `holidays`."""

    policy: Policy
    first_year: int
    last_year: int
    digest: str | None = None  # of everything above, set by the loader: equal digests, equal policies
    _calendar: BusinessCalendar | None = PrivateAttr(default=None)

    def business_calendar(self) -> BusinessCalendar:
        """Built once per copy; a shared copy also shares the calendar's cache of open hours per day."""
        calendar = self._calendar  # a private attribute is read through pydantic's __getattr__: once, not twice
        if calendar is None:
            calendar = self._calendar = self.policy.calendar.business_calendar(date(self.last_year, 12, 31))
        return calendar


# The copy of each policy version that this worker's cases share, for as long as any case holds it.
_shared: weakref.WeakValueDictionary[str, LoadedPolicy] = weakref.WeakValueDictionary()


def shared(loaded: LoadedPolicy) -> LoadedPolicy:
    """One copy per worker of a policy that a thousand open cases hold (about 30 KB each, holidays
    included). Deterministic: a digest stands for exactly one content, so every case, and every
    replay, reads the same policy whichever copy it holds. Policies without a digest stay unshared."""
    if loaded.digest is None:
        return loaded
    return _shared.setdefault(loaded.digest, loaded)


def years_around(year: int) -> tuple[int, int]:
    """The years a case received in `year` needs holidays for: the year before to two after."""
    return year - 1, year + 2


class LoadPolicyRequest(BaseModel):
    """Read the tenant's file, or (with `policy`) re-expand the holidays of the policy a case already holds,
    for `years_around(year)`."""

    tenant: str
    year: int
    policy: Policy | None = None

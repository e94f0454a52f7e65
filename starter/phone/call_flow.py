"""What each step of a call to a tenant's number answers, as TwiML: pure functions of the policy, what
Twilio reported, and whether the tenant is open now (DESIGN "Phone, SMS, mailbox and chat", Decisions 9, 10).

A call walks: `answer` (greeting and menu) → `choose` (a digit picks a line)
→ the line rings (`ring`: its contacts at once) or dials its rotation one
member at a time (`after_dial` moves on when nobody answers) → `voicemail`
when nobody took the call or the line is closed. Every step is a function of
its inputs alone, so a step Twilio repeats gets the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from workflows.policy import Channel, PhoneLine, Policy

MENU_TIMEOUT = 8  # seconds Twilio waits for a digit
MENU_TRIES = 2  # a caller who picks nothing (or nothing valid) this often is offered the voicemail
ANSWERED = "completed"  # Twilio's DialCallStatus when the dialled person picked up (Decision 9)
SPOKEN_LINE = {"phone": "the support line", "emergency_line": "the emergency line"}


@dataclass(frozen=True)
class Callbacks:
    """Absolute callback URLs under SUPPORTFLOW_PUBLIC_URL (Decision 9): Twilio signs exactly what it requests."""

    public_url: str
    tenant: str

    def url(self, step: str = "", **params: str | int | None) -> str:
        path = "/v1/twilio/voice" + (f"/{step}" if step else "")
        given = {"tenant": self.tenant} | {name: str(value) for name, value in params.items() if value is not None}
        return f"{self.public_url}{path}?{urlencode(given)}"


@dataclass(frozen=True)
class AfterDial:
    """The next TwiML, and who took the call when a rotation member answered (a case opens for them)."""

    twiml: VoiceResponse
    answered_by: str | None = None


def not_set_up() -> VoiceResponse:
    """A tenant without `intake.phone` (or none at all): say so and hang up, never an application error."""
    response = VoiceResponse()
    response.say("Sorry, this number is not set up to take calls. Please contact support by email. Goodbye.")
    response.hangup()
    return response


def answer(policy: Policy, callbacks: Callbacks, tries: int = 0) -> VoiceResponse:
    """The greeting, then the menu; a number without a menu goes straight to voicemail."""
    phone = policy.intake.phone
    if phone is None:
        return not_set_up()
    if not phone.menu:
        return voicemail(policy, None, callbacks, intro=phone.greeting)
    if tries >= MENU_TRIES:
        return voicemail(policy, None, callbacks, intro="We did not get a choice.")
    response = VoiceResponse()
    gather = response.gather(
        num_digits=1, action=callbacks.url("menu", tries=tries), method="POST", timeout=MENU_TIMEOUT
    )
    if phone.greeting and tries == 0:
        gather.say(phone.greeting)
    gather.say(menu_sentence(policy))
    response.redirect(callbacks.url(tries=tries + 1), method="POST")
    return response


def menu_sentence(policy: Policy) -> str:
    menu = policy.intake.phone.menu if policy.intake.phone else {}
    return " ".join(f"For {spoken(line.channel)}, press {digit}." for digit, line in sorted(menu.items()))


def choose(policy: Policy, digits: str, callbacks: Callbacks, open_now: bool, tries: int = 0) -> VoiceResponse:
    """The caller pressed `digits` on the menu."""
    phone = policy.intake.phone
    if phone is None:
        return not_set_up()
    line = phone.menu.get(digits.strip())
    if line is None:
        response = VoiceResponse()
        response.say(f"Sorry, {digits.strip() or 'that'} is not an option.")
        response.redirect(callbacks.url(tries=tries + 1), method="POST")
        return response
    return call_line(policy, digits.strip(), line, callbacks, open_now)


def call_line(policy: Policy, digit: str, line: PhoneLine, callbacks: Callbacks, open_now: bool) -> VoiceResponse:
    if line.hours == "business" and not open_now:
        return voicemail(
            policy, digit, callbacks, intro=f"{SPOKEN_LINE.get(line.channel, 'this line')} is closed now.".capitalize()
        )
    if line.rotation:
        return dial_member(policy, digit, line, 0, callbacks)
    phones = [number for number in (_phone(policy, c) for c in policy.dialled(line)) if number]
    if not phones:
        return voicemail(policy, digit, callbacks)
    response = VoiceResponse()
    response.say(f"Connecting you to {SPOKEN_LINE.get(line.channel, 'support')}.")
    dial = response.dial(timeout=line.ring_seconds, action=callbacks.url("dialed", line=digit), method="POST")
    for number in phones:
        dial.number(number)
    return response


def dial_member(policy: Policy, digit: str, line: PhoneLine, index: int, callbacks: Callbacks) -> VoiceResponse:
    """Ring one rotation member for `ring_seconds`; Twilio reports the outcome to `dialed`."""
    members = policy.dialled(line)
    number = _phone(policy, members[index]) if index < len(members) else None
    if number is None:
        return voicemail(policy, digit, callbacks, intro="Nobody could take your call.")
    response = VoiceResponse()
    if index == 0:
        response.say("Please hold while we find an engineer for you.")
    dial = response.dial(
        timeout=line.ring_seconds, action=callbacks.url("dialed", line=digit, member=index), method="POST"
    )
    dial.number(number)
    return response


def after_dial(policy: Policy, digit: str | None, member: int | None, status: str, callbacks: Callbacks) -> AfterDial:
    """Twilio's `<Dial action>`: the dialled person answered (the call is over), or the next one is tried."""
    line = _line(policy, digit)
    if line is None:  # the policy changed while the call was ringing
        return AfterDial(voicemail(policy, None, callbacks, intro="Nobody could take your call."))
    if status == ANSWERED:
        response = VoiceResponse()
        response.hangup()
        members = policy.dialled(line)
        took = members[member] if line.rotation and member is not None and 0 <= member < len(members) else None
        return AfterDial(response, answered_by=took)
    if line.rotation and member is not None and member + 1 < len(policy.dialled(line)):
        return AfterDial(dial_member(policy, digit or "", line, member + 1, callbacks))
    return AfterDial(voicemail(policy, digit, callbacks, intro="Nobody could take your call right now."))


def voicemail(policy: Policy, digit: str | None, callbacks: Callbacks, intro: str | None = None) -> VoiceResponse:
    """The prompt, then a recording: its `action` opens the case, its transcription amends it."""
    phone = policy.intake.phone
    if phone is None:
        return not_set_up()
    response = VoiceResponse()
    if intro:
        response.say(intro)
    response.say(phone.voicemail.prompt)
    response.record(
        max_length=phone.voicemail.max_seconds,
        action=callbacks.url("recorded", line=digit),
        method="POST",
        play_beep=True,
        finish_on_key="#",
        transcribe=True,
        transcribe_callback=callbacks.url("transcribed", line=digit),
    )
    # Twilio moves on to here only when nothing was recorded.
    response.say("We did not receive a message. Goodbye.")
    response.hangup()
    return response


def recorded(channel: Channel) -> VoiceResponse:
    response = VoiceResponse()
    if channel == "emergency_line":
        response.say("Thank you. Your message is recorded and the on-call engineers are being paged now. Goodbye.")
    else:
        response.say("Thank you. Your message is recorded and a support case is open. Goodbye.")
    response.hangup()
    return response


def line_channel(policy: Policy, digit: str | None) -> Channel:
    """The channel a case from this line opens with: the menu line's, or the number's own."""
    line = _line(policy, digit)
    if line is not None:
        return line.channel
    return policy.intake.phone.channel if policy.intake.phone else "voicemail"


def _line(policy: Policy, digit: str | None) -> PhoneLine | None:
    phone = policy.intake.phone
    return phone.menu.get(digit) if phone and digit else None


def _phone(policy: Policy, contact_id: str) -> str | None:
    contact = policy.contacts.get(contact_id)
    return contact.phone if contact else None


def spoken(channel: str) -> str:
    return SPOKEN_LINE.get(channel, channel.replace("_", " "))

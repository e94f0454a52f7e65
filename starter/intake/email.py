"""RFC 5322 mail → `CaseRequest`: a pure function, safe on any bytes.

The stdlib's compat32 parser never raises on malformed input; this module
decodes headers and bodies itself, leniently, because nobody is there to
answer a bounce at 3 am. The only refusals (`IntakeError`) are mail with no
sender address, a tenant name that cannot be one, and hostile MIME nesting.
"""

from __future__ import annotations

import binascii
import email
import email.errors
import email.header
import email.utils
import re
from datetime import datetime
from email.message import Message
from email.policy import Compat32

from pydantic import BaseModel, ConfigDict, ValidationError

from starter.intake.errors import IntakeError
from starter.intake.html_text import html_to_text
from starter.intake.text import one_line, printable
from workflows.contracts import CaseRequest, Requester

OUR_MESSAGE_ID = re.compile(r"<?(case-[a-z0-9][a-z0-9_-]*)\.[0-9a-f]{16}@supportflow\.invalid>?")
_MSG_ID = re.compile(r"<[^<>\s]+>")
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+")
_AUTO_PRECEDENCE = {"bulk", "junk", "auto_reply"}
# No mail client nests this deep; hostile mail that does would exhaust the stack.
MAX_NESTING = 32
LISTED_ATTACHMENTS = 20


class _RawHeaders(Compat32):
    """compat32 turns 8-bit header bytes into an `unknown-8bit` Header that loses them; keep the raw text instead."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_PARSING = _RawHeaders()


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    size_bytes: int
    content_type: str


class EmailIntake(BaseModel):
    """The case to open, plus what the gateway needs to thread replies and avoid mail loops."""

    model_config = ConfigDict(extra="forbid")

    request: CaseRequest
    message_id: str | None
    thread_ids: list[str]
    date_header: str | None
    attachments: list[Attachment]
    auto_submitted: bool


def case_id_from_message_id(msg_id: str) -> str | None:
    """The case our outbound `<{case_id}.{n}@supportflow.invalid>` mail belongs to; None for anyone else's id."""
    match = OUR_MESSAGE_ID.fullmatch(msg_id.strip())
    return match.group(1) if match else None


def parse_email(raw: bytes, tenant: str, received_at: datetime) -> EmailIntake:
    """`received_at` is the gateway's receipt time; the Date header is only reported, never trusted."""
    try:
        message = email.message_from_bytes(bytes(raw), policy=_PARSING)
    except RecursionError:
        raise IntakeError("body", f"MIME parts are nested more than {MAX_NESTING} deep") from None
    if _nesting(message) > MAX_NESTING:
        raise IntakeError("body", f"MIME parts are nested more than {MAX_NESTING} deep")
    notes: list[str] = []
    name, address = _requester(message)
    attachments: list[Attachment] = []
    body = _body(message, attachments, notes)
    if attachments:
        body = f"{body}\n\n{_attachment_line(attachments)}" if body else _attachment_line(attachments)
    message_id = _first_id(_header(message, "Message-ID"))
    try:
        request = CaseRequest(
            tenant=tenant,
            channel="email",
            requester=Requester(name=name, email=address),
            subject=one_line(_header(message, "Subject") or "") or None,
            description=body or None,
            received_at=received_at,
            source_id=message_id,
            notes=notes,
        )
    except ValidationError as problem:
        error = problem.errors()[0]
        raise IntakeError(".".join(str(part) for part in error["loc"]) or "request", error["msg"]) from None
    return EmailIntake(
        request=request,
        message_id=message_id,
        thread_ids=_thread_ids(message),
        date_header=one_line(_header(message, "Date") or "") or None,
        attachments=attachments,
        auto_submitted=_auto_submitted(message),
    )


# --- headers -------------------------------------------------------------------


def _raw(message: Message, name: str) -> str | None:
    value = message.get(name)
    if value is None:
        return None
    return printable(value if isinstance(value, str) else str(value))


def _header(message: Message, name: str) -> str | None:
    """A header with RFC 2047 encoded words decoded; an unknown charset or bad base64 degrades, never raises."""
    value = _raw(message, name)
    return None if value is None else _decode_words(value)


def _decode_words(value: str) -> str:
    try:
        parts = email.header.decode_header(value)
    except (email.errors.HeaderParseError, binascii.Error, ValueError):
        return value
    text = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            text.append(chunk)
        elif charset is None:
            text.append(chunk.decode("raw-unicode-escape", "replace"))
        else:
            text.append(_decode_bytes(chunk, charset)[0])
    return printable("".join(text))


def _requester(message: Message) -> tuple[str | None, str]:
    if _raw(message, "From") is None:
        raise IntakeError("from", "the message has no From: header, so there is nobody to answer")
    for header in ("Reply-To", "From"):
        for name, address in email.utils.getaddresses([_raw(message, header) or ""]):
            if _ADDRESS.fullmatch(address):
                return (one_line(_decode_words(name)) or None), address
    raise IntakeError("from", f"no email address in From: {one_line(_raw(message, 'From') or '')!r}")


def _first_id(value: str | None) -> str | None:
    if value is None:
        return None
    found = _MSG_ID.search(value)
    return found.group(0) if found else (one_line(value) or None)


def _thread_ids(message: Message) -> list[str]:
    ids: dict[str, None] = {}
    for header in ("In-Reply-To", "References"):
        for value in message.get_all(header) or []:
            ids.update(dict.fromkeys(_MSG_ID.findall(printable(str(value)))))
    return list(ids)


def _auto_submitted(message: Message) -> bool:
    """RFC 3834 Auto-Submitted, or the older Precedence convention: answering these would loop."""
    auto = (_raw(message, "Auto-Submitted") or "").split(";")[0].strip().lower()
    precedence = (_raw(message, "Precedence") or "").strip().lower()
    return auto not in ("", "no") or precedence in _AUTO_PRECEDENCE


# --- bodies ------------------------------------------------------------------


def _subparts(part: Message) -> list[Message]:
    # Only for multipart parts: on a leaf, get_payload() without decode=True runs the declared
    # charset's codec, and some (idna) raise even with errors="replace".
    return [sub for sub in part.get_payload() if isinstance(sub, Message)]


def _nesting(message: Message) -> int:
    deepest, stack = 0, [(message, 0)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        if part.is_multipart() and depth <= MAX_NESTING:
            stack.extend((sub, depth + 1) for sub in _subparts(part))
    return deepest


def _body(part: Message, attachments: list[Attachment], notes: list[str]) -> str:
    """The readable text of a part; everything that is not body text is listed in `attachments`."""
    ctype = part.get_content_type()
    if ctype == "multipart/alternative" and part.is_multipart():
        return _alternative(_subparts(part), attachments, notes)
    if part.get_content_maintype() == "multipart" and part.is_multipart():
        texts = [_body(sub, attachments, notes) for sub in _subparts(part)]
        return "\n\n".join(text for text in texts if text)
    if part.get_content_maintype() == "multipart":  # no boundary: the parser kept it as one text
        return _text(part, notes).strip()
    if ctype in ("text/plain", "text/html") and not _is_attachment(part):
        text = _text(part, notes)
        return html_to_text(text) if ctype == "text/html" else text.strip()
    attachments.append(_attachment(part))
    return ""


def _alternative(parts: list[Message], attachments: list[Attachment], notes: list[str]) -> str:
    """The plain version when there is one, else the richest other version that yields text."""
    plain = [p for p in parts if p.get_content_type() == "text/plain" and not _is_attachment(p)]
    others = [p for p in parts if p not in plain]
    for candidate in plain + others[::-1]:
        found: list[Attachment] = []
        text = _body(candidate, found, notes)
        if text:
            attachments.extend(found)
            return text
    return ""


def _is_attachment(part: Message) -> bool:
    disposition = (_raw(part, "Content-Disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment" or _filename(part) is not None


def _text(part: Message, notes: list[str]) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    text, problem = _decode_bytes(payload, part.get_content_charset())
    if problem and problem not in notes:
        notes.append(problem)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode with the declared charset, replacing bad bytes; an unknown charset falls back to UTF-8."""
    charset = (charset or "utf-8").strip().lower()
    if charset in ("us-ascii", "ascii"):
        charset = "utf-8"  # mislabelled 8-bit mail is far more common than true 7-bit
    try:
        return printable(data.decode(charset, "replace")), None
    except (LookupError, UnicodeError, ValueError, TypeError):
        text = printable(data.decode("utf-8", "replace"))
        return text, f"body charset {printable(charset)[:40]!r} is not one we can decode; read as UTF-8"


def _attachment(part: Message) -> Attachment:
    payload = part.get_payload(decode=not part.is_multipart())  # type: ignore[call-overload]
    name = _filename(part)
    if isinstance(payload, bytes):
        size = len(payload)
    elif isinstance(payload, list):  # message/rfc822 and friends: a forwarded message, named by its subject
        size = sum(_approximate_size(inner) for inner in payload if isinstance(inner, Message))
        inner_subject = next((_header(inner, "Subject") for inner in payload if isinstance(inner, Message)), None)
        name = name or (f"{one_line(inner_subject)}.eml" if inner_subject and inner_subject.strip() else None)
    else:
        size = len(printable(str(payload or "")).encode())
    return Attachment(name=name or "(unnamed)", size_bytes=size, content_type=printable(part.get_content_type()))


def _approximate_size(message: Message) -> int:
    """Headers plus decoded leaves; re-serialising hostile mail to measure it can raise."""
    size, stack = 0, [message]
    while stack:
        part = stack.pop()
        size += sum(len(name) + len(str(value)) + 4 for name, value in part.items())
        if part.is_multipart():
            stack.extend(_subparts(part))
        else:
            payload = part.get_payload(decode=True)
            size += len(payload) if isinstance(payload, bytes) else 0
    return size


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename() or part.get_param("name")
    except (LookupError, UnicodeError, ValueError):
        return None
    if isinstance(name, tuple):  # an RFC 2231 value the stdlib could not collapse
        name = name[2]
    if not name:
        return None
    return one_line(_decode_words(printable(str(name)))) or None


def _attachment_line(attachments: list[Attachment]) -> str:
    listed = ", ".join(f"{a.name} ({_size(a.size_bytes)})" for a in attachments[:LISTED_ATTACHMENTS])
    more = len(attachments) - LISTED_ATTACHMENTS
    return f"Attachments: {listed}" + (f" and {more} more" if more > 0 else "")


def _size(size_bytes: int) -> str:
    if size_bytes < 1024:
        return f"{size_bytes} bytes"
    if size_bytes < 1024 * 1024:
        return f"{round(size_bytes / 1024)} KB"
    return f"{size_bytes / (1024 * 1024):.1f} MB"

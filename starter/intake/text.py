"""Small text rules every intake adapter shares: blanks, one-line subjects, phone numbers."""

from __future__ import annotations

import re
from typing import TypeVar

from pydantic import BaseModel

from workflows.contracts import HTTPS_URL, Contract

SUBJECT_LIMIT = 80
# Every control character but TAB, LF and CR (Decision 14): C0, DEL and C1. A NUL or an escape sequence in a
# stored subject breaks terminals, logs and mail headers downstream, and no person typed it on purpose.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
Model = TypeVar("Model", bound=BaseModel)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-/]")


def blank_to_none(value: object) -> object:
    """HTML forms and JSON clients send "" for "not given"."""
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


def printable(text: str) -> str:
    """Lone surrogates (raw 8-bit header bytes, odd codecs) become U+FFFD, so the text serialises as JSON."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


def stored_text(text: str) -> str:
    """`text` as it may be stored: no control characters but TAB, LF and CR, no lone surrogates."""
    if text.isascii() and not _CONTROLS.search(text):  # most text, decided without copying it (issue 17)
        return text
    return _CONTROLS.sub("", printable(text))


def with_stored_text(model: Model) -> Model:
    """`model` with every string in it (nested models and lists of strings included) made `stored_text`."""
    changed: dict[str, object] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        cleaned = _stored_value(value)
        if cleaned is not value:
            changed[name] = cleaned
    return model.model_copy(update=changed) if changed else model


def _stored_value(value: object) -> object:
    if isinstance(value, str):
        cleaned = stored_text(value)
        return value if cleaned == value else cleaned
    if isinstance(value, list) and any(isinstance(item, str) for item in value):
        cleaned_items = [_stored_value(item) for item in value]
        return value if all(a is b for a, b in zip(cleaned_items, value, strict=True)) else cleaned_items
    if isinstance(value, Contract):  # a requester, an actor; never a whole policy (apply_policy)
        return with_stored_text(value)
    return value


def one_line(text: str) -> str:
    return " ".join(text.split())


def subject_from(text: str) -> str | None:
    """The first line, or its first sentence, of free text, at most 80 characters; a line of nothing but
    control characters is no subject (they are not stored)."""
    for line in text.splitlines():
        line = one_line(stored_text(line))
        if line:
            first = _SENTENCE_END.split(line, maxsplit=1)[0]
            return truncate(first, SUBJECT_LIMIT)
    return None


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


def normalise_phone(text: str) -> str:
    """E.164 where the number says enough (+…, or US 10/11 digits); other digit strings are kept as digits.

    Raises ValueError for anything that is not a phone number.
    """
    digits = _PHONE_PUNCTUATION.sub("", text.strip())
    if re.fullmatch(r"\+[0-9]{7,15}", digits):
        return digits
    if re.fullmatch(r"[0-9]+", digits):
        if len(digits) == 10:
            return "+1" + digits
        if len(digits) == 11 and digits.startswith("1"):
            return "+" + digits
        if 4 <= len(digits) <= 15:
            return digits
    raise ValueError(f"{text!r} is not a phone number such as +15555550123 or (555) 555-0123")


def is_https_url(text: str) -> bool:
    """What `CaseRequest.recording_url` accepts: an intake drops any other link with a note instead of failing."""
    return re.fullmatch(HTTPS_URL, text) is not None

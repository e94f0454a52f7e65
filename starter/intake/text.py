"""Small text rules every intake adapter shares: blanks, one-line subjects, phone numbers."""

from __future__ import annotations

import re

SUBJECT_LIMIT = 80
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


def one_line(text: str) -> str:
    return " ".join(text.split())


def subject_from(text: str) -> str | None:
    """The first line, or its first sentence, of free text, at most 80 characters."""
    for line in text.splitlines():
        line = one_line(line)
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

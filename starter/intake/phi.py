"""The PHI guard for tenants whose policy says `redact_phi` (blockit: "Please avoid using PHI").

Only identifiers with an unmistakable shape, or a label in front, are
replaced: a support case is full of dates, phone numbers and order numbers
that must survive. A label is kept and only its value becomes "[redacted]",
so the text still reads ("DOB: [redacted]"). The case records that something
was removed, never what.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urlsplit

from workflows.contracts import CaseRequest, Requester

MARKER = "[redacted]"

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"  # 03/14/1962, 14.03.62
    r"|\d{4}[/.-]\d{1,2}[/.-]\d{1,2}"  # 1962-03-14
    rf"|{_MONTH}\s+{_DAY},?\s+\d{{4}}"  # March 14, 1962
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}"  # 14 March 1962
    r"|\d{8})(?!\d)"  # 19620314
)
# An identifier: letters, digits and dashes, optionally followed by space-separated digit groups
# ("XYZ 123 456"); it counts only with at least MIN_ID_DIGITS digits ("policy number is 5 days" is not one).
_ID = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\s\d{2,})*(?![a-z0-9])"
MIN_ID_DIGITS = 3
_NUMBER_WORD = r"(?:\s*(?:id|identifier|number|num\.?|no\.?|#)(?![a-z]))"
# Between a label and its value: spaces and a little punctuation or a verb ("DOB is", "MRN: ", "member id #").
_JOIN = r"(?:\s*(?:[:#=]|-(?!\d)|\bis\b|\bwas\b|\bof\b)){0,3}\s*"

_LABELLED = [
    # Dates of birth, only when labelled: "the outage on 2027-01-08" is not PHI.
    (r"\b(?:dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|born(?:\s+on)?)", _DATE),
    (r"\b(?:mrn|mr\s*#|medical\s+record(?:" + _NUMBER_WORD + r")?)", _ID),
    # Legacy Medicare HICN (SSN + beneficiary code) and any labelled Medicare number.
    (r"\b(?:hicn|hic" + _NUMBER_WORD + r"|medicare(?:\s+beneficiary)?(?:\s+claim)?" + _NUMBER_WORD + r"|mbi)", _ID),
    (
        r"\b(?:(?:insurance|health\s+plan|plan)\s+)?(?:member|subscriber|policy|insurance|beneficiary)" + _NUMBER_WORD,
        _ID,
    ),
    (r"\b(?:ssn|social\s+security(?:" + _NUMBER_WORD + r")?)", r"\d{3}[- ]?\d{2}[- ]?\d{4}(?!\d)"),
]
LABELLED = [
    re.compile(rf"(?P<label>{label}(?![a-z]){_JOIN})(?P<value>{value})", re.IGNORECASE) for label, value in _LABELLED
]

# Unlabelled shapes that are identifiers and nothing else.
_EDGE_BEFORE, _EDGE_AFTER = r"(?<![A-Za-z0-9-])", r"(?![A-Za-z0-9-])"
# SSN: same separator twice, SSA's never-issued ranges excluded; a trailing beneficiary code makes it a HICN.
SSN = re.compile(
    _EDGE_BEFORE + r"(?!000|666)\d{3}(?P<sep>[- ])(?!00)\d{2}(?P=sep)(?!0000)\d{4}(?:[A-Z][A-Z0-9]?)?" + _EDGE_AFTER
)
# Medicare Beneficiary Identifier (CMS): C A AN N A AN N A A N N, letters never S L O I B Z.
_L, _AN = "[AC-HJKMNP-RT-Y]", "[AC-HJKMNP-RT-Y0-9]"
MBI = re.compile(
    _EDGE_BEFORE
    + rf"(?:[1-9]{_L}{_AN}\d{_L}{_AN}\d{_L}{_L}\d\d|[1-9]{_L}{_AN}\d-{_L}{_AN}\d-{_L}{_L}\d\d)"
    + _EDGE_AFTER
)


# Every shape above holds three digits or more (a labelled value MIN_ID_DIGITS, a date four, an SSN nine, an MBI
# five): text with fewer, as most names, companies and sentences are, has nothing to redact, and one search
# says so instead of seven (issue 17: the gateway's CPU per open).
ENOUGH_DIGITS = re.compile(r"\d\D*\d\D*\d")
assert MIN_ID_DIGITS >= 3


def redact(text: str) -> tuple[str, int]:
    """`text` with each PHI identifier replaced by "[redacted]", and how many were replaced."""
    if not ENOUGH_DIGITS.search(text):
        return text, 0
    count = 0

    def labelled(match: re.Match[str]) -> str:
        nonlocal count
        if sum(c.isdigit() for c in match.group("value")) < MIN_ID_DIGITS:
            return match.group(0)
        count += 1
        return match.group("label") + MARKER

    for pattern in LABELLED:
        text = pattern.sub(labelled, text)
    for pattern in (SSN, MBI):
        text, hits = pattern.subn(MARKER, text)
        count += hits
    return text, count


# In names, ids, notes and URLs an SSN may stand against any edge ("conv-123-45-6789", "SSN-123-45-6789"):
# nothing there is running text whose ticket numbers must survive.
LOOSE_SSN = re.compile(r"(?<!\d)\d{3}(?P<sep>[- ])\d{2}(?P=sep)\d{4}(?!\d)")
# A URL's separators, read as spaces two ways: labels run into their values ("DOB-03/14/1962", "mrn_A77").
_URL_SEPARATORS = (re.compile(r"[/_+=&;:]"), re.compile(r"[-_+=&;:]"))


def redact_identifier(text: str) -> tuple[str, int]:
    """`redact` for short caller-chosen text (an author, a caller id, a note quoting one): SSN shapes anywhere."""
    text, count = redact(text)
    text, hits = LOOSE_SSN.subn(MARKER, text)
    return text, count + hits


def redact_url(url: str) -> tuple[str | None, int]:
    """A URL whose path, query or fragment holds PHI-like text keeps only its scheme and host
    (`https://host/[redacted]`); one whose host does is dropped (None)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None, 1
    readable = unquote_plus(f"{parts.path}?{parts.query}#{parts.fragment}")
    found = sum(redact_identifier(text)[1] for text in [readable, *(s.sub(" ", readable) for s in _URL_SEPARATORS)])
    if redact_identifier(unquote_plus(parts.netloc))[1]:
        return None, 1
    if not found:
        return url, 0
    return f"{parts.scheme}://{parts.netloc}/{MARKER}", found


REQUESTER_FIELDS = ("name", "email", "phone", "company", "building")


def phi_in_requester(requester: Requester) -> list[str]:
    """The requester's contact fields that hold PHI-like text (Decision 14: refused, or moved to `missing`)."""
    return [
        f"requester.{name}"
        for name in REQUESTER_FIELDS
        if (value := getattr(requester, name)) is not None and redact_identifier(value)[1]
    ]


REQUEST_FREE_TEXT = ("subject", "description", "worked_with", "existing_case")


def redact_request(request: CaseRequest) -> CaseRequest:
    """Every free-text field, every note (they quote what the sender gave: a Date header, a caller id) and the
    recording URL redacted; `phi_redacted` set when anything was removed. The requester's contact fields are
    `admit`'s to judge (`phi_in_requester`); `source_id` is stored hashed by `start_case`."""
    update: dict[str, object] = {}
    for name in REQUEST_FREE_TEXT:
        value = getattr(request, name)
        if value is not None:
            text, found = redact(value)
            if found:
                update[name] = text
    notes = [redact_identifier(note) for note in request.notes]
    if any(found for _, found in notes):
        update["notes"] = [note for note, _ in notes]
    if request.recording_url is not None:
        url, found = redact_url(request.recording_url)
        if found:
            update["recording_url"] = url
    if not update:
        return request
    return request.model_copy(update=update | {"phi_redacted": True})

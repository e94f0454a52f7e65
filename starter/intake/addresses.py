"""What counts as an email address here: exactly one RFC 5322 addr-spec, in its common dot-atom form.

One rule for every route that takes an address (intake, web form, chat,
portal links), so `a@b.example,postmaster` can never become a second
recipient of a message we send.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

LIMIT = 254
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"(?:[A-Za-z0-9\u00a1-\uffff](?:[A-Za-z0-9\u00a1-\uffff-]{0,61}[A-Za-z0-9\u00a1-\uffff])?)"
ADDR_SPEC = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")
EXAMPLE = "ana@clinic.example"


def is_email_address(text: str) -> bool:
    return len(text) <= LIMIT and len(text.partition("@")[0]) <= 64 and ADDR_SPEC.fullmatch(text) is not None


def _email_address(text: str) -> str:
    if not is_email_address(text):
        raise ValueError(f"not one email address such as {EXAMPLE}")
    return text


EmailAddress = Annotated[str, AfterValidator(_email_address)]

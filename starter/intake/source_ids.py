"""What a case keeps of the sender's own id (Decision 14): `sha256:<hex>`, unless it is an id we issued.

A Message-ID, a chat's conversation id or a recording URL is text the sender
chose, and it can carry a name or a record number. The workflow id is still
derived from the raw id (`starter/client.py: case_id`), so the same message
is the same case; only what is stored changes. Our own outbound Message-IDs
(`<case-….<n>@supportflow.invalid>`) and ids already hashed are kept as
they are: they say nothing about anyone.
"""

from __future__ import annotations

import hashlib
import re

from starter.intake.email import OUR_MESSAGE_ID

HASHED = re.compile(r"sha256:[0-9a-f]{64}")


def stored_source_id(source_id: str | None) -> str | None:
    if source_id is None or HASHED.fullmatch(source_id) or OUR_MESSAGE_ID.fullmatch(source_id):
        return source_id
    return "sha256:" + hashlib.sha256(source_id.encode("utf-8", "surrogatepass")).hexdigest()

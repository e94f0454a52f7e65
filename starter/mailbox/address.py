"""`imap[s]://USER@HOST[:PORT]/FOLDER`: which mailbox to read. The password never rides in it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

PASSWORD_VARIABLE = "SUPPORTFLOW_IMAP_PASSWORD"
DEFAULT_PORTS = {"imap": 143, "imaps": 993}


class MailboxAddressError(ValueError):
    """A mailbox URL we cannot use; the message says what to write instead."""


@dataclass(frozen=True)
class MailboxAddress:
    scheme: str  # imaps: TLS from the first byte; imap: STARTTLS when the server offers it
    user: str
    host: str
    port: int
    folder: str

    @property
    def tls(self) -> bool:
        return self.scheme == "imaps"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.user}@{self.host}:{self.port}/{self.folder}"


def parse_address(url: str) -> MailboxAddress:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as problem:
        raise MailboxAddressError(f"--imap {url!r}: {problem}") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise MailboxAddressError(f"--imap must start imap:// or imaps:// (got {parts.scheme or 'no scheme'})")
    if parts.password is not None:
        raise MailboxAddressError(
            f"--imap must not carry the password (command lines are visible to every user); set {PASSWORD_VARIABLE}"
        )
    if not parts.username or not parts.hostname:
        raise MailboxAddressError(
            "--imap needs a user and a host: imaps://support%40example.com@mail.example.com/INBOX"
        )
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return MailboxAddress(
        parts.scheme, unquote(parts.username), parts.hostname, port or DEFAULT_PORTS[parts.scheme], folder
    )

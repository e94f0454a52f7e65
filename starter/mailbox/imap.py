"""One IMAP session on the support mailbox, with imapclient: the waiting messages, and moving each one.

Blocking calls: the reader runs them in a thread. `Processed` and `Rejected`
are top-level folders (Decision 20), under the server's personal namespace
prefix when it has one, and are created when missing.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from starter.mailbox.address import MailboxAddress

PROCESSED = "Processed"
REJECTED = "Rejected"
TIMEOUT = 60.0  # seconds for any one command; IDLE waits are shorter than this
# What a lost or refused connection looks like from imapclient: worth reconnecting later.
CONNECTION_TROUBLE = (OSError, socket.timeout, ssl.SSLError, IMAPClientError)


class MailboxUnreachable(Exception):
    """The mailbox cannot be reached or opened now; the message is one line, fit for a log or a terminal."""


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes
    arrived: datetime | None  # the server's INTERNALDATE: when the message reached the mailbox


class Mailbox:
    def __init__(self, address: MailboxAddress, password: str):
        self.address = address
        self._password = password
        self._client: IMAPClient | None = None
        self.processed = PROCESSED
        self.rejected = REJECTED

    def open(self) -> None:
        """Connect, log in, create the two folders if missing and select the one we read."""
        where = str(self.address)
        try:
            client = IMAPClient(self.address.host, port=self.address.port, ssl=self.address.tls, timeout=TIMEOUT)
        except CONNECTION_TROUBLE as problem:
            raise MailboxUnreachable(f"cannot reach {where}: {_said(problem)}") from None
        try:
            client.normalise_times = False  # INTERNALDATE with its offset, not naive local time
            if not self.address.tls and client.has_capability("STARTTLS"):
                client.starttls(ssl.create_default_context())
            client.login(self.address.user, self._password)
            self._ensure_folders(client)
            client.select_folder(self.address.folder)
        except CONNECTION_TROUBLE as problem:
            _close(client)
            raise MailboxUnreachable(f"cannot open {where}: {_said(problem)}") from None
        self._client = client

    @property
    def offers_idle(self) -> bool:
        return self._session().has_capability("IDLE")

    def waiting(self) -> list[int]:
        return sorted(self._session().search(["NOT", "DELETED"]))

    def fetch(self, uid: int) -> Fetched | None:
        """The whole message, unread flag untouched; None when it is gone (another reader moved it)."""
        found = self._session().fetch([uid], ["BODY.PEEK[]", "INTERNALDATE"]).get(uid)
        if not found or b"BODY[]" not in found:
            return None
        arrived = found.get(b"INTERNALDATE")
        return Fetched(uid, bytes(found[b"BODY[]"]), arrived if isinstance(arrived, datetime) else None)

    def move(self, uid: int, folder: str) -> None:
        client = self._session()
        if client.has_capability("MOVE"):
            client.move([uid], folder)
            return
        client.copy([uid], folder)
        client.delete_messages([uid])
        if client.has_capability("UIDPLUS"):
            client.uid_expunge([uid])
        else:
            client.expunge()

    def wait(self, seconds: float) -> None:
        """Until something changes in the folder (IDLE, where the server offers it), or `seconds` pass."""
        client = self._session()
        if not client.has_capability("IDLE"):
            client.noop()
            time.sleep(seconds)
            return
        client.idle()
        try:
            if not _told_on_entering_idle(client):
                client.idle_check(timeout=seconds)
        finally:
            client.idle_done()

    def close(self) -> None:
        if self._client is not None:
            _close(self._client)
        self._client = None

    def _session(self) -> IMAPClient:
        if self._client is None:
            raise MailboxUnreachable(f"{self.address} is not open")
        return self._client

    def _ensure_folders(self, client: IMAPClient) -> None:
        prefix = ""
        if client.has_capability("NAMESPACE"):
            personal = client.namespace().personal or ()
            prefix = personal[0][0] if personal else ""
            prefix = prefix.decode() if isinstance(prefix, bytes) else prefix
        self.processed, self.rejected = f"{prefix}{PROCESSED}", f"{prefix}{REJECTED}"
        for folder in (self.processed, self.rejected):
            if not client.folder_exists(folder):
                client.create_folder(folder)


def _told_on_entering_idle(client: IMAPClient) -> bool:
    """Whether the server reported a change as IDLE began: mail that came after our last SEARCH.

    The report comes in the same read as `+ idling`, so it waits in imaplib's read buffer, where idle_check's
    poll of the socket cannot see it; the mail would wait for the server's next keepalive or our timeout.
    imapclient offers no public view of that buffer, hence its session's `file`.
    """
    sock = client.socket()
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return bool(client._imap.file.peek(1))
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    finally:
        sock.settimeout(timeout)


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except CONNECTION_TROUBLE:
        with contextlib.suppress(*CONNECTION_TROUBLE):
            client.shutdown()


def _said(problem: BaseException) -> str:
    text = " ".join(str(problem).split())
    if text.startswith("b'") and text.endswith("'"):  # imapclient hands on the server's bytes
        text = text[2:-1]
    return f"{type(problem).__name__}: {text}" if text else type(problem).__name__

"""Reading the support mailbox into the email intake (DESIGN "Phone, SMS, mailbox and chat", Decision 20).

Each waiting message goes to `take_email`, the same intake as
`POST /v1/intake/email`, as a Temporal client. Only once its case or comment
is confirmed does the message move to `Processed`; one that cannot be used
(it does not parse, or has no From) moves to `Rejected`, with the reason
logged. A crash between the two steps loses nothing: the message is still
waiting, and its Message-ID makes the second intake the same case or comment.
A message without a Message-ID gets one derived from its bytes, so the same
holds for it. An unreachable mailbox or Temporal is retried with backoff,
and logged once per outage, not once per try.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError
from temporalio.client import Client
from temporalio.service import RPCError

from starter.admission import Refused
from starter.client import CaseError
from starter.email_intake import take_email
from starter.intake.errors import IntakeError
from starter.mailbox.address import MailboxAddress
from starter.mailbox.imap import CONNECTION_TROUBLE, Fetched, Mailbox, MailboxUnreachable

log = logging.getLogger("supportflow.mailbox")
T = TypeVar("T")
IDLE_SECONDS = 300.0  # re-issue IDLE well inside the 30 minutes servers allow (RFC 2177)
POLL_SECONDS = 30.0  # for servers without IDLE


class TemporalTrouble(Exception):
    """Temporal could not take a message now; it stays waiting in the mailbox."""


@dataclass(frozen=True)
class Backoff:
    first: float = 1.0
    most: float = 60.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(delay * 2, self.most)


@dataclass
class Outage:
    """One warning when something stops answering, one line when it answers again; retries in between are debug."""

    what: str
    since: float | None = None

    def begin(self, reason: str, retry_in: float) -> None:
        if self.since is None:
            self.since = time.monotonic()
            log.warning("%s: %s; retrying with backoff, logged again when it answers", self.what, reason)
        else:
            log.debug("%s still unreachable (%s); next try in %.1f s", self.what, reason, retry_in)

    def over(self) -> None:
        if self.since is not None:
            log.warning("%s answers again after %.0f s", self.what, time.monotonic() - self.since)
            self.since = None


@dataclass
class MailboxReader:
    address: MailboxAddress
    password: str
    tenant: str
    connect: Callable[[], Awaitable[Client]]
    backoff: Backoff = Backoff()
    poll_seconds: float = POLL_SECONDS
    idle_seconds: float = IDLE_SECONDS
    _client: Client | None = None
    # IMAP calls block; they run on a thread of our own, which a stopping process need not wait for.
    _threads: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "imap"))

    async def once(self) -> int:
        """Handle what is waiting and return how many messages were handled; raises MailboxUnreachable or
        TemporalTrouble with a one-line reason."""
        box = Mailbox(self.address, self.password)
        await self._blocking(box.open)
        try:
            return await self.handle_waiting(box)
        except CONNECTION_TROUBLE as problem:
            raise MailboxUnreachable(f"{self.address}: {trouble_with(problem)}") from None
        finally:
            await self._blocking(box.close)

    async def forever(self, stop: asyncio.Event) -> None:
        mailbox, temporal = Outage(f"mailbox {self.address}"), Outage("Temporal")
        delays = self.backoff.delays()
        while not stop.is_set():
            box = Mailbox(self.address, self.password)
            try:
                await self._blocking(box.open)
                while not stop.is_set():
                    await self.handle_waiting(box)
                    mailbox.over()  # only a whole pass proves it: a server that connects but refuses is still out
                    temporal.over()
                    delays = self.backoff.delays()
                    wait = self.idle_seconds if box.offers_idle else self.poll_seconds
                    await self._until(stop, self._blocking(box.wait, wait))
            except TemporalTrouble as trouble:
                delay = next(delays)
                temporal.begin(str(trouble), delay)
            except MailboxUnreachable as trouble:
                delay = next(delays)
                mailbox.begin(str(trouble), delay)
            except CONNECTION_TROUBLE as problem:
                delay = next(delays)
                mailbox.begin(trouble_with(problem), delay)
            else:
                delay = 0
            finally:
                if not stop.is_set():  # when stopping, an IDLE may still hold the IMAP thread: just leave
                    await self._blocking(box.close)
            await self._until(stop, asyncio.sleep(delay))

    async def handle_waiting(self, box: Mailbox) -> int:
        handled = 0
        for uid in await self._blocking(box.waiting):
            fetched = await self._blocking(box.fetch, uid)
            if fetched is not None:
                await self.handle(box, fetched)
                handled += 1
        return handled

    async def handle(self, box: Mailbox, fetched: Fetched) -> None:
        """Intake first, the move second: a crash in between leaves the message to be taken again, harmlessly."""
        raw = with_message_id(fetched.raw)
        try:
            client = await self._temporal()
            outcome = await take_email(client, self.tenant, raw, receipt_time(fetched.arrived))
        except IntakeError as unusable:
            await self._blocking(box.move, fetched.uid, box.rejected)
            log.warning("message %d rejected (%s); moved to %s", fetched.uid, unusable, box.rejected)
            return
        except Refused as refused:  # an email is never refused at admission; should that change, keep the message
            raise TemporalTrouble(f"message {fetched.uid} waits: {refused}") from None
        except CaseError as trouble:
            raise TemporalTrouble(f"message {fetched.uid} waits: {trouble.message}") from None
        await self._blocking(box.move, fetched.uid, box.processed)
        what = "comment on" if outcome.comment else "duplicate of" if outcome.duplicate else "opened"
        log.info("message %d: %s %s; moved to %s", fetched.uid, what, outcome.case_id, box.processed)

    async def _temporal(self) -> Client:
        if self._client is None:
            try:
                self._client = await self.connect()
            except (RuntimeError, RPCError, OSError) as problem:
                raise TemporalTrouble(f"cannot reach Temporal: {str(problem).splitlines()[0]}") from None
        return self._client

    async def _blocking(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, call, *args)

    @staticmethod
    async def _until(stop: asyncio.Event, work: Awaitable[Any]) -> None:
        stopping = asyncio.ensure_future(stop.wait())
        working = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({stopping, working}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if working in done:
            working.result()


def trouble_with(problem: BaseException) -> str:
    """A refusal (the server answered NO or BAD) reads differently from a lost connection."""
    said = " ".join(str(problem).split())
    if isinstance(problem, IMAPClientError) and not isinstance(problem, IMAPClientAbortError):
        return f"the server refused: {said}"
    return f"lost the connection: {type(problem).__name__}: {said}"


def with_message_id(raw: bytes) -> bytes:
    """A message without a Message-ID gets one from a hash of its bytes, so taking it twice is recognised."""
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    if parsed.get("Message-ID"):
        return raw
    digest = hashlib.sha256(raw).hexdigest()[:32]
    return f"Message-ID: <{digest}@mailbox.supportflow.invalid>\r\n".encode() + raw


def receipt_time(arrived: datetime | None) -> datetime:
    """When the message reached the mailbox (its INTERNALDATE), so a mailbox read late still starts the clock
    on time; now, when the server gave no usable date."""
    now = datetime.now(UTC)
    if arrived is None or arrived.tzinfo is None or arrived > now:
        return now
    return arrived

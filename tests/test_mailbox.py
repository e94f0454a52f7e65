"""The support mailbox (`supportflow mailbox`) against a real Dovecot and a real Temporal dev server with the
production worker: mail becomes cases and comments, then moves to Processed; unusable mail moves to Rejected;
a mailbox process killed between the intake and the move loses nothing and duplicates nothing on restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from dovecot_fixtures import ImapUser, dovecot, imap_user  # noqa: F401
from gateway_fixtures import Gateway, eventually, gateway  # noqa: F401
from support import REPO
from temporalio.service import RPCError

from starter.client import case_id
from starter.mailbox.address import parse_address
from starter.mailbox.imap import Mailbox
from starter.mailbox.reader import Backoff, MailboxReader, TemporalTrouble
from workflows.contracts import CaseRequest

TENANT = "blub0x"


def a_mail(subject: str, *, message_id: str | None = None, reply_to: str | None = None, sender="ana@tower.example"):
    headers = [f"From: Ana Lopez <{sender}>", "To: support@blub0x.example", f"Subject: {subject}"]
    if message_id:
        headers.append(f"Message-ID: {message_id}")
    if reply_to:
        headers += [f"In-Reply-To: {reply_to}", f"References: {reply_to}"]
    body = f"{subject}. The lobby readers at Harbor Point reject every badge. Call me on 555-0123."
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()


def new_id() -> str:
    return f"<{uuid.uuid4().hex}@tower.example>"


def opened_by(message_id: str) -> str:
    return case_id(CaseRequest(tenant=TENANT, channel="email", source_id=message_id))


def reader_for(user: ImapUser, gw: Gateway, **options) -> MailboxReader:
    async def same_client():
        return gw.client

    return MailboxReader(parse_address(user.url()), user.password, TENANT, same_client, **options)


async def exists(gw: Gateway, case: str) -> bool:
    try:
        await gw.client.get_workflow_handle(case).describe()
    except RPCError:
        return False
    return True


async def comments_on(gw: Gateway, case: str) -> list[dict]:
    return [entry.detail for entry in (await gw.status(case)).timeline if entry.event == "comment"]


async def test_a_new_mail_opens_a_case_and_a_reply_threads_to_it_each_then_moved_to_processed(gateway, imap_user):
    gw, first = gateway, new_id()
    imap_user.deliver(a_mail("Badge readers down", message_id=first))
    reader = reader_for(imap_user, gw)

    assert await reader.once() == 1

    case = opened_by(first)
    status = await gw.status(case)
    assert (status.channel, status.requester.email, status.subject) == (
        "email",
        "ana@tower.example",
        "Badge readers down",
    )
    assert imap_user.folder("INBOX") == [] and len(imap_user.folder("Processed")) == 1
    assert imap_user.folder("Rejected") == []  # created when missing, and empty

    imap_user.deliver(a_mail("Re: Badge readers down", message_id=new_id(), reply_to=first))
    assert await reader.once() == 1

    assert len(await comments_on(gw, case)) == 1
    assert imap_user.folder("INBOX") == [] and len(imap_user.folder("Processed")) == 2


async def test_a_message_without_a_sender_goes_to_rejected_with_the_reason_logged(gateway, imap_user, caplog):
    no_from = b"To: support@blub0x.example\r\nSubject: who am I\r\nMessage-ID: <nofrom@x.example>\r\n\r\nhello\r\n"
    not_mail = b"\x00\x01\x02 this is not an email at all"
    imap_user.deliver(no_from)
    imap_user.deliver(not_mail)

    with caplog.at_level(logging.WARNING, logger="supportflow.mailbox"):
        assert await reader_for(imap_user, gateway).once() == 2

    assert imap_user.folder("INBOX") == [] and imap_user.folder("Processed") == []
    rejected = imap_user.folder("Rejected")
    assert len(rejected) == 2 and b"who am I" in rejected[0]
    reasons = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert len(reasons) == 2 and all("From" in reason for reason in reasons)
    assert not await exists(gateway, opened_by("<nofrom@x.example>"))


async def test_a_mail_that_arrives_while_the_reader_idles_is_taken_at_once(gateway, imap_user):
    reader = reader_for(imap_user, gateway, idle_seconds=300)  # only IDLE, not a poll, can wake it in time
    stop = asyncio.Event()
    running = asyncio.create_task(reader.forever(stop))
    try:
        assert await eventually(lambda: _async(imap_user.has_folder("Processed")))  # it has opened the mailbox
        message_id = new_id()
        imap_user.deliver(a_mail("Garage gate stuck", message_id=message_id))

        moved = await eventually(lambda: _async(len(imap_user.folder("Processed")) == 1), timeout=20)
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)

    assert moved and await exists(gateway, opened_by(message_id))


def test_a_mail_that_arrives_between_the_search_and_the_idle_ends_the_wait_at_once(imap_user):
    """Dovecot reports it together with `+ idling`; that report must not wait in the client's read buffer."""
    box = Mailbox(parse_address(imap_user.url()), imap_user.password)
    box.open()
    try:
        assert box.waiting() == []
        imap_user.deliver(a_mail("Garage gate stuck", message_id=new_id()))
        with ThreadPoolExecutor(1) as thread:
            waited = thread.submit(box.wait, 120)  # only the report, not the timeout, can end it in time
            waited.result(timeout=20)
        assert len(box.waiting()) == 1
    finally:
        box.close()


# --- a crash between the intake and the move -------------------------------------------


def mailbox_process(gw: Gateway, user: ImapUser, log: Path, *extra: str) -> subprocess.Popen:
    env = os.environ | {
        "TEMPORAL_ADDRESS": gw.client.service_client.config.target_host,
        "SUPPORTFLOW_IMAP_PASSWORD": user.password,
        "SUPPORTFLOW_LOG_FORMAT": "text",
        "PYTHONPATH": str(REPO),
    }
    command = [sys.executable, "-m", "starter.cli", "mailbox", "--tenant", TENANT, "--imap", user.url(), *extra]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


@contextlib.contextmanager
def processed_folder_refuses_mail(user: ImapUser):
    """Dovecot's own files for Processed made read-only: the MOVE fails after the intake succeeded."""
    with user.client() as client:
        if not client.folder_exists("Processed"):
            client.create_folder("Processed")
    folders = [user.home / "Maildir" / ".Processed" / part for part in ("cur", "new", "tmp")]
    for folder in folders:
        folder.chmod(0o555)
    try:
        yield
    finally:
        for folder in folders:
            folder.chmod(0o700)


async def test_a_mailbox_killed_between_intake_and_move_loses_nothing_and_duplicates_nothing(
    gateway, imap_user, tmp_path
):
    gw, original, fresh = gateway, new_id(), new_id()
    imap_user.deliver(a_mail("Elevator access broken", message_id=original))
    await reader_for(imap_user, gw).once()
    case = opened_by(original)
    imap_user.deliver(a_mail("Re: Elevator access broken", message_id=new_id(), reply_to=original))
    imap_user.deliver(a_mail("Visitor kiosk frozen", message_id=fresh))
    log = tmp_path / "mailbox.log"

    with processed_folder_refuses_mail(imap_user):
        crashing = mailbox_process(gw, imap_user, log)
        try:
            # The reply is taken in (its comment recorded), then its move fails, again and again: kill it there.
            taken = await eventually(lambda: _comment_count_is(gw, case, 1), timeout=30, every=0.2)
            refused = await eventually(lambda: _async("server refused" in log.read_text()), timeout=30)
        finally:
            crashing.send_signal(signal.SIGKILL)
            crashing.wait(10)
        assert taken and refused, log.read_text()
        assert len(imap_user.folder("INBOX")) == 2 and len(imap_user.folder("Processed")) == 1

    restarted = mailbox_process(gw, imap_user, tmp_path / "again.log", "--once")
    assert restarted.wait(60) == 0, (tmp_path / "again.log").read_text()

    assert imap_user.folder("INBOX") == [] and len(imap_user.folder("Processed")) == 3
    assert f"comment on {case}" in (tmp_path / "again.log").read_text()  # taken a second time...
    assert len(await comments_on(gw, case)) == 1  # ...and recorded once, by its Message-ID
    assert await exists(gw, opened_by(fresh))


# --- an unreachable mailbox -------------------------------------------------------------


async def test_once_against_an_unreachable_mailbox_exits_non_zero_with_one_line(gateway, imap_user, tmp_path):
    with socket.socket() as bound:  # a port nobody listens on
        bound.bind(("127.0.0.1", 0))
        nowhere = dataclasses.replace(imap_user, port=bound.getsockname()[1])
        process = mailbox_process(gateway, nowhere, tmp_path / "out.log", "--once")
        code = process.wait(60)

    lines = (tmp_path / "out.log").read_text().strip().splitlines()
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith("supportflow mailbox: cannot reach imap://") and "refused" in lines[0]


async def test_an_outage_is_retried_with_backoff_and_logged_once_not_once_per_try(gateway, imap_user, caplog):
    port = _unused_port()
    behind_relay = dataclasses.replace(imap_user, port=port)
    reader = reader_for(behind_relay, gateway, backoff=Backoff(first=0.02, most=0.05))
    stop = asyncio.Event()
    with caplog.at_level(logging.DEBUG, logger="supportflow.mailbox"):
        running = asyncio.create_task(reader.forever(stop))
        try:
            retried = await eventually(lambda: _async(len(_said(caplog, "still unreachable")) >= 5))
            async with _forwarder(port, imap_user.port):  # the mailbox comes back
                message_id = new_id()
                imap_user.deliver(a_mail("Back again", message_id=message_id))
                back = await eventually(lambda: _async(len(imap_user.folder("Processed")) == 1), timeout=20)
        finally:
            stop.set()
            await asyncio.wait_for(running, 5)

    assert retried and back
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if "retrying with backoff" in w]) == 1
    assert len([w for w in warnings if "answers again" in w]) == 1


# --- helpers ------------------------------------------------------------------------------


async def _async(value):
    return value


async def _comment_count_is(gw: Gateway, case: str, count: int) -> bool:
    return len(await comments_on(gw, case)) == count


def _said(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.asynccontextmanager
async def _forwarder(port: int, target: int) -> AsyncIterator[None]:
    """A TCP relay on `port` to Dovecot: while it runs, the mailbox at `port` is reachable."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(relay, "127.0.0.1", port, reuse_address=True)
    try:
        yield
    finally:
        server.close()


async def test_when_temporal_cannot_be_reached_the_message_stays_in_the_mailbox(imap_user):
    async def unreachable_temporal():
        from temporalio.client import Client

        return await Client.connect(f"127.0.0.1:{_unused_port()}")

    imap_user.deliver(a_mail("Fire panel offline", message_id=new_id()))
    reader = MailboxReader(parse_address(imap_user.url()), imap_user.password, TENANT, unreachable_temporal)

    with pytest.raises(TemporalTrouble) as trouble:
        await reader.once()

    assert "cannot reach Temporal" in str(trouble.value)
    assert len(imap_user.folder("INBOX")) == 1 and imap_user.folder("Processed") == []


@pytest.mark.parametrize(
    ("url", "password", "said"),
    [
        ("imap://support:secret@mail.example/INBOX", "pw", "must not carry the password"),
        ("imap://support@mail.example/INBOX", "", "set SUPPORTFLOW_IMAP_PASSWORD"),
        ("pop3://support@mail.example/INBOX", "pw", "imap:// or imaps://"),
        ("imap://mail.example/INBOX", "pw", "needs a user and a host"),
    ],
)
def test_a_mailbox_command_that_cannot_work_exits_2_saying_why(url, password, said, monkeypatch, capsys):
    from starter.cli import main

    monkeypatch.setenv("SUPPORTFLOW_IMAP_PASSWORD", password)
    monkeypatch.setenv("SUPPORTFLOW_POLICY_DIR", str(REPO / "policies"))

    code = main(["mailbox", "--tenant", "blub0x", "--imap", url, "--once"])

    assert code == 2 and said in capsys.readouterr().err


@pytest.mark.parametrize("tenant", ["nobody-here", "../policies/blub0x"])
def test_a_mailbox_for_a_tenant_without_a_policy_exits_2(tenant, monkeypatch, capsys):
    from starter.cli import main

    monkeypatch.setenv("SUPPORTFLOW_IMAP_PASSWORD", "pw")
    monkeypatch.setenv("SUPPORTFLOW_POLICY_DIR", str(REPO / "policies"))

    code = main(["mailbox", "--tenant", tenant, "--imap", "imap://support@mail.example/INBOX", "--once"])

    assert code == 2 and "no policy file" in capsys.readouterr().err

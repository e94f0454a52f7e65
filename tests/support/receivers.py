"""Real local servers that stand in for the outside world in tests: webhooks, chat, Twilio, SMTP.

No mocks: deliveries open real sockets, so a test sees what a receiver would
see (headers, bodies, retries) and the HTTP and SMTP classification runs on
real replies. Both receivers run inside the test's own event loop, so code
under test must not block that loop while talking to them (httpx.AsyncClient
is fine; smtplib must run in a thread, as `deliver` does).

    async with HttpReceiver() as hooks:
        hooks.script("/hook", 503, 503, 200)       # fail twice, then succeed
        ... deliver to hooks.url("/hook") ...
        assert [r.status for r in hooks.requests_to("/hook")] == [503, 503, 200]

    async with HttpReceiver() as hooks:
        hooks.require_signature("/signed", "whsec_...")  # Standard Webhooks: a bad signature gets 401
        ... deliver to hooks.url("/signed/x") ...
        assert hooks.requests_to("/signed/x")[0].signature == "valid"

    async with SmtpReceiver() as smtp:
        smtp.script("451 4.3.0 Try again later")   # the next message is deferred once
        ... send to smtp.host:smtp.port ...
        assert smtp.messages[0].message["Message-ID"]
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import email.policy
import json as jsonlib
import socket
import warnings
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# --- HTTP ---------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP answer. `delay` (seconds) holds the answer back, to provoke client timeouts."""

    status: int = 200
    json: Any = None
    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def payload(self) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.json is not None:
            content = jsonlib.dumps(self.json).encode()
            headers.setdefault("content-type", "application/json")
        else:
            content = self.body.encode() if isinstance(self.body, str) else self.body
        headers["content-length"] = str(len(content))
        return content, [(k.encode(), v.encode()) for k, v in headers.items()]


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the receiver saw it, and the status it answered with."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    received_at: datetime
    status: int
    # For paths under `require_signature`: "valid", or why standardwebhooks refused it. None elsewhere.
    signature: str | None = None

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body (the last value wins for repeated fields)."""
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        scheme, _, encoded = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        return user, password


class _QuietServer(uvicorn.Server):
    """Leaves signal handling to pytest: uvicorn would otherwise take over Ctrl+C while it serves."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpReceiver:
    """A real HTTP server on 127.0.0.1 (a free port) that records every request and answers from a script.

    Unscripted requests get `default` (200 `{"ok": true}`). `script(path, ...)`
    queues answers for one path, consumed in order, then the default again.
    `stop()` and then `start()` again serve the same port: in between,
    connections are refused, as when a real endpoint is down.
    """

    def __init__(self, default: Reply | int = Reply(json={"ok": True})):
        self.default = _reply(default)
        self.requests: list[ReceivedRequest] = []
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._secrets: dict[str, str] = {}
        self._arrived = asyncio.Condition()
        self._server: _QuietServer | None = None
        self._serving: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def script(self, path: str, *replies: Reply | int) -> None:
        """Queue answers for `path`: an int is a bare status, e.g. `script("/hook", 503, 503, 200)`."""
        self._scripts[path].extend(_reply(r) for r in replies)

    def require_signature(self, prefix: str, secret: str) -> None:
        """Verify requests under `prefix` as a Standard Webhooks receiver does, with the `standardwebhooks`
        library: a missing, wrong or stale signature is answered 401, whatever the script says."""
        self._secrets[prefix] = secret

    def requests_to(self, path: str) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, count: int, path: str | None = None, timeout: float = 10.0) -> list[ReceivedRequest]:
        """Wait until `count` requests (to `path`, if given) have arrived; for deliveries a workflow starts on its own."""

        def seen() -> list[ReceivedRequest]:
            return self.requests_to(path) if path else list(self.requests)

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(seen()) >= count), timeout)
        return seen()

    async def start(self) -> HttpReceiver:
        listener = listener_on(self.port)  # a restarted receiver keeps its port, and the URLs given out
        self.port = listener.getsockname()[1]
        config = uvicorn.Config(
            self._asgi,
            interface="asgi3",
            lifespan="off",
            proxy_headers=False,
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = _QuietServer(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[listener]))
        while not self._server.started:
            if self._serving.done():
                self._serving.result()  # raises the startup error
                raise RuntimeError("HttpReceiver stopped while starting")
            await asyncio.sleep(0.005)
        return self

    async def stop(self) -> None:
        if self._server and self._serving:
            self._server.should_exit = True
            await self._serving
        self._server = self._serving = None

    async def __aenter__(self) -> HttpReceiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _asgi(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        path = scope["path"]
        reply = self._scripts[path].popleft() if self._scripts[path] else self.default
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        signature = self._verify(path, headers, body)
        if signature not in (None, "valid"):
            reply = Reply(401, json={"error": signature})
        request = ReceivedRequest(
            method=scope["method"],
            path=path,
            query=scope["query_string"].decode(),
            headers=headers,
            body=body,
            received_at=datetime.now(UTC),
            status=reply.status,
            signature=signature,
        )
        async with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        content, reply_headers = reply.payload()
        await send({"type": "http.response.start", "status": reply.status, "headers": reply_headers})
        await send({"type": "http.response.body", "body": content})

    def _verify(self, path: str, headers: dict[str, str], body: bytes) -> str | None:
        secret = next((secret for prefix, secret in self._secrets.items() if path.startswith(prefix)), None)
        if secret is None:
            return None
        try:
            Webhook(secret).verify(body, headers)
        except WebhookVerificationError as refused:
            return str(refused)
        return "valid"


def listener_on(port: int = 0) -> socket.socket:
    """A socket bound to 127.0.0.1:`port` (0: one the system picks), holding the port from now on. A port only
    chosen, then bound after a dev server and a worker start, was once taken in between by an outgoing
    connection's ephemeral port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    return listener


def _reply(reply: Reply | int) -> Reply:
    return Reply(status=reply) if isinstance(reply, int) else reply


_refusing: socket.socket | None = None


def refused_url(path: str = "/") -> str:
    """A URL on 127.0.0.1 where connections are refused: the port is bound, so nobody else gets it, but never listens."""
    global _refusing
    if _refusing is None:
        _refusing = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        _refusing.bind(("127.0.0.1", 0))
    return f"http://127.0.0.1:{_refusing.getsockname()[1]}{path}"


def refused_port() -> int:
    """The port behind `refused_url`, for SMTP and other non-HTTP clients."""
    refused_url()
    return _refusing.getsockname()[1]  # type: ignore[union-attr]


# --- SMTP ---------------------------------------------------------------------

ACCEPT = "250 2.0.0 OK"
DEFER = "451 4.3.0 Try again later"
REFUSE = "550 5.1.1 Mailbox unavailable"


@dataclass(frozen=True)
class ReceivedMail:
    """One DATA transaction, accepted or not, parsed with the stdlib email package."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    received_at: datetime
    reply: str
    login: str | None

    @property
    def accepted(self) -> bool:
        return self.reply.startswith("2")

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 (a free port) recording every message.

    `script(reply, ...)` answers the next messages' DATA with those replies
    (e.g. DEFER for a 451, REFUSE for a 550), then accepts again. With
    `login=(user, password)` it requires AUTH (over plain text: it is a test).
    `attempts` holds every DATA transaction, `messages` the accepted ones.
    """

    host = "127.0.0.1"

    def __init__(self, *, login: tuple[str, str] | None = None):
        self.login = login
        self.attempts: list[ReceivedMail] = []
        self._script: deque[str] = deque()
        self._arrived = asyncio.Condition()
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    @property
    def messages(self) -> list[ReceivedMail]:
        return [m for m in self.attempts if m.accepted]

    def script(self, *replies: str) -> None:
        self._script.extend(replies)

    def env(self) -> dict[str, str]:
        """The worker settings that point `deliver` at this receiver."""
        settings = {
            "SUPPORTFLOW_SMTP_HOST": self.host,
            "SUPPORTFLOW_SMTP_PORT": str(self.port),
            "SUPPORTFLOW_SMTP_TLS": "none",
        }
        if self.login:
            settings |= {"SUPPORTFLOW_SMTP_USER": self.login[0], "SUPPORTFLOW_SMTP_PASSWORD": self.login[1]}
        return settings

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Wait until `count` messages have been accepted."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.messages) >= count), timeout)
        return self.messages

    async def start(self) -> SmtpReceiver:
        loop = asyncio.get_running_loop()
        options: dict[str, Any] = {"hostname": "receiver.test", "loop": loop}
        if self.login:
            options |= {"auth_required": True, "auth_require_tls": False, "authenticator": self._authenticate}

        def session() -> SMTP:
            with warnings.catch_warnings():
                # AUTH without TLS is what a test receiver on 127.0.0.1 should do; the warning is for real servers.
                warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
                return SMTP(self, **options)

        self._server = await loop.create_server(session, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> SmtpReceiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        raw = raw if isinstance(raw, bytes) else raw.encode()
        reply = self._script.popleft() if self._script else ACCEPT
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
        mail = ReceivedMail(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            message=email.message_from_bytes(raw, policy=email.policy.default),  # type: ignore[arg-type]
            raw=raw,
            received_at=datetime.now(UTC),
            reply=reply,
            login=login,
        )
        async with self._arrived:
            self.attempts.append(mail)
            self._arrived.notify_all()
        return reply

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self.login:
            given = (auth_data.login.decode(), auth_data.password.decode())
            if given == self.login:
                return AuthResult(success=True, auth_data=auth_data.login)
        return AuthResult(success=False, handled=False)

"""The attacks of issue 16, repeated on a real gateway over one kept-alive socket: each is a 4xx (JSON, or a
page for a browser), never a 500, and the connection carries the next request afterwards.

Lone surrogates, year-1 and 1900 timestamps, absurd token expiries, bytes that are not UTF-8, invalid
base64 for the codec; and every HTML page the gateway serves sends its Content-Security-Policy with
`frame-ancestors 'none'` and `X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import uvicorn
from live_gateway import ACK_SECRET, LiveGateway, live_gateway  # noqa: F401

import signed_links
from starter.devserver import free_port
from starter.gateway.app import create_app
from starter.gateway.json_bodies import body_problems
from starter.gateway.settings import GatewaySettings

A_CASE = "case-blockit-000000000000000000000000"


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        assert self.headers.get("content-type", "").startswith("application/json"), self.headers
        return json.loads(self.body)


class KeptAlive:
    """One HTTP/1.1 connection; every request must come back on the socket the first one opened."""

    def __init__(self, url: str, auth: dict[str, str]):
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.auth = auth
        self.socket = None

    def send(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Answer:
        self.connection.request(method, path, body=body, headers=self.auth | (headers or {}))
        response = self.connection.getresponse()
        answer = Answer(response.status, response.headers, response.read())
        assert response.getheader("connection", "").lower() != "close", f"{method} {path} closed the connection"
        if self.socket is None:
            self.socket = self.connection.sock
        assert self.connection.sock is self.socket, f"{method} {path}: the kept-alive connection was dropped"
        return answer

    def json(self, method: str, path: str, raw: bytes, content_type: str | None = "application/json") -> Answer:
        return self.send(method, path, raw, {"Content-Type": content_type} if content_type else {})


@pytest.fixture
def socket_to(live_gateway: LiveGateway) -> Iterator[KeptAlive]:
    kept = KeptAlive(live_gateway.url, live_gateway.auth())
    yield kept
    health = kept.send("GET", "/healthz")  # the connection still carries a request after the attacks
    assert health.status == 200
    kept.connection.close()


def case_request(**fields) -> dict:
    return {
        "tenant": "blockit",
        "channel": "api",
        "requester": {"name": "Ana Diaz", "email": "ana@clinic.example"},
        "subject": "Chart page blank",
        "description": "The chart page is blank since this morning.",
    } | fields


SURROGATE = '"a \\ud800 b"'  # JSON text: an escaped lone surrogate


def with_surrogate(body: dict, dotted: str) -> bytes:
    """`body` as JSON text, with the field at `dotted` set to a string holding a lone surrogate."""
    marker = f"@@{uuid.uuid4().hex}@@"
    target = body
    *parents, last = dotted.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = marker
    else:
        target[last] = marker
    return json.dumps(body).replace(f'"{marker}"', SURROGATE).encode()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/cases", case_request(), "subject"),
        ("/v1/cases", case_request(), "description"),
        ("/v1/cases", case_request(), "requester.name"),
        ("/v1/cases", case_request(source_id="x"), "source_id"),
        (
            "/v1/intake/voicemail?tenant=blockit",
            {"caller_number": "+15555550123", "transcription": "x"},
            "transcription",
        ),
        (
            "/v1/intake/chat?tenant=blockit",
            {"conversation_id": "c1", "message": "x", "transcript": ["a"]},
            "transcript.0",
        ),
        (f"/v1/cases/{A_CASE}/comment", {"author": "ana@clinic.example", "text": "x"}, "text"),
        (f"/v1/cases/{A_CASE}/respond", {"by": "eng-1", "message": "x"}, "by"),
        ("/v1/portal/links", {"tenant": "blockit", "email": "ana@clinic.example"}, "email"),
    ],
)
def test_a_lone_surrogate_in_any_text_field_is_a_422_naming_it(socket_to: KeptAlive, path, body, field):
    answer = socket_to.json("POST", path, with_surrogate(body, field))
    assert answer.status == 422, answer.body
    assert field in {problem["field"] for problem in answer.json()["fields"]}, answer.body


@pytest.mark.parametrize(
    ("raw", "found"),
    [
        (rb'{"subject": "a \uDFFF b"}', ["subject"]),  # JSON escapes may be upper case
        (rb'{"requester": {"a \udbff": 1}}', ["requester.(a key)"]),
        (rb'{"subject": "a \\ud800 b"}', []),  # an escaped backslash, then the text "ud800": no surrogate
        (rb'{"subject": "caf\u00e9 \ud83d\ude00"}', []),  # a pair is one character, not two halves
    ],
)
def test_only_a_lone_surrogate_escape_is_a_problem_in_a_json_body(raw: bytes, found: list[str]):
    assert [field for field, _ in body_problems(raw)] == found


@pytest.mark.parametrize(
    "received_at",
    ["0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00-14:00", "9999-12-31T23:59:59-14:00"],
)
def test_received_at_of_year_1_or_9999_is_a_422_naming_it_on_the_json_route(socket_to: KeptAlive, received_at):
    answer = socket_to.json("POST", "/v1/cases", json.dumps(case_request(received_at=received_at)).encode())
    assert answer.status == 422, answer.body
    assert [problem["field"] for problem in answer.json()["fields"]] == ["received_at"], answer.body


def test_received_at_of_1900_is_a_422_on_a_synchronous_channel(socket_to: KeptAlive):
    body = case_request(received_at="1900-01-01T00:00:00Z", source_id=f"old-{uuid.uuid4().hex}")
    answer = socket_to.json("POST", "/v1/cases", json.dumps(body).encode())
    assert answer.status == 422 and "30 days in the past" in answer.json()["fields"][0]["problem"], answer.body


@pytest.mark.parametrize("received_at", ["0001-01-01T00:00:00+05:00", "1900-01-01T00:00:00Z"])
def test_a_voicemail_from_year_1_or_1900_opens_at_the_receipt_time_with_a_note(socket_to: KeptAlive, received_at: str):
    body = {"caller_number": "+15555550123", "transcription": "The chart page is blank.", "received_at": received_at}
    before = time.time()
    answer = socket_to.json("POST", "/v1/intake/voicemail?tenant=blockit", json.dumps(body).encode())
    assert answer.status == 201, answer.body
    status = socket_to.send("GET", f"/v1/cases/{answer.json()['case_id']}").json()
    from datetime import datetime

    assert datetime.fromisoformat(status["received_at"]).timestamp() >= before - 1
    opened = next(entry for entry in status["timeline"] if entry["event"] == "opened")
    assert any(received_at[:4] in note and "receipt time" in note for note in opened["detail"]["notes"]), opened


def test_control_characters_are_stripped_from_stored_text_but_tab_newline_and_return_are_kept(
    socket_to: KeptAlive,
):
    body = case_request(
        subject="Chart\x00 page\x1b[31m blank\x07\x7f\x85",
        description="Line one\r\nLine two\tindented\x00\x0b\x0c",
        requester={"name": "Ana\x00 Diaz", "email": "ana@clinic.example"},
    )
    answer = socket_to.json("POST", "/v1/cases", json.dumps(body).encode())
    assert answer.status == 201, answer.body
    case = answer.json()["case_id"]
    comment = {"author": "ana@clinic.example", "text": "Still\x00 blank\x1b"}
    assert socket_to.json("POST", f"/v1/cases/{case}/comment", json.dumps(comment).encode()).status == 202
    deadline = time.monotonic() + 30
    while True:
        status = socket_to.send("GET", f"/v1/cases/{case}").json()
        comments = [e["detail"]["text"] for e in status["timeline"] if e["event"] == "comment"]
        if comments or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status["subject"] == "Chart page[31m blank"
    assert status["description"] == "Line one\r\nLine two\tindented"
    assert status["requester"]["name"] == "Ana Diaz"
    assert comments == ["Still blank"]


def forged_ack_token(exp: object) -> str:
    """An acknowledgement token signed with the gateway's own secret, carrying an expiry no link would have."""
    claims = {"case_id": A_CASE, "contact": "support-lead", "exp": exp}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{payload}.{signed_links.mac('ack', payload, ACK_SECRET)}"


@pytest.mark.parametrize("exp", [10**20, 1e300, -(10**20), "tomorrow", None, 2**63])
def test_an_ack_token_with_an_absurd_expiry_is_a_400_page(socket_to: KeptAlive, exp):
    token = forged_ack_token(exp)
    for method in ("GET", "POST"):
        answer = socket_to.send(method, f"/v1/ack/{token}")
        assert answer.status == 400, (method, answer.status, answer.body[:300])
        assert answer.headers["content-type"].startswith("text/html")


def test_an_ack_token_with_a_forged_signature_is_a_400_page(socket_to: KeptAlive):
    payload = base64.urlsafe_b64encode(json.dumps({"case_id": A_CASE, "contact": "x", "exp": 4102444000}).encode())
    token = f"{payload.rstrip(b'=').decode()}.{signed_links.mac('ack', payload.decode(), 'not-the-secret')}"
    assert socket_to.send("POST", f"/v1/ack/{token}").status == 400


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b'{"tenant": "blockit", "subject": "\xff\xfe"}', "application/json"),
        (b"\xc3\x28", "application/json"),
        (b'{"tenant": "blockit", "subject": "\xed\xa0\x80"}', None),  # a surrogate encoded as UTF-8 bytes
        (b'{"tenant": ', "application/json"),
        (b"[" * 50_000, "application/json"),
    ],
)
def test_a_body_that_is_not_json_text_is_a_422(socket_to: KeptAlive, raw: bytes, content_type):
    answer = socket_to.json("POST", "/v1/cases", raw, content_type)
    assert answer.status == 422, answer.body
    assert answer.json()["fields"][0]["field"] == "body", answer.body


def test_a_form_that_cannot_be_parsed_is_a_422(socket_to: KeptAlive):
    answer = socket_to.send(
        "POST", "/v1/intake/web?tenant=blockit", b"--x\r\nbroken", {"Content-Type": "multipart/form-data"}
    )
    assert answer.status == 422, answer.body


@pytest.mark.parametrize("data", ["!!!!", "YQ=", "YQ==YQ==", "a b c d", "Y"])
def test_the_codec_refuses_payloads_that_are_not_base64(socket_to: KeptAlive, data: str):
    body = json.dumps({"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": data}]}).encode()
    answer = socket_to.json("POST", "/codec/decode", body)
    assert answer.status == 422, answer.body
    assert answer.json()["fields"][0]["field"] == "payloads.0.data"
    good = json.dumps({"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "InllcyI="}]}).encode()
    assert socket_to.json("POST", "/codec/decode", good).status == 200


HTML_PAGES = [
    "/docs",
    "/portal",
    "/portal/sign-in?tenant=blockit",
    "/portal/sign-in?tenant=nosuchco",
    "/portal/login?token=nonsense",
    f"/portal/cases/{A_CASE}",
    "/codec/login",
    "/codec/login?key=not-a-key",
    "/codec/login?key=live-admin-key",
    "/codec/logout",
    "/v1/ack/nonsense",
    f"/v1/ack/{forged_ack_token(10**20)}",
]


@pytest.mark.parametrize("path", HTML_PAGES)
def test_every_html_page_sends_its_csp_with_frame_ancestors_none_and_nosniff(socket_to: KeptAlive, path: str):
    answer = socket_to.send("GET", path)
    assert answer.headers["content-type"].startswith("text/html"), (path, answer.status, answer.headers)
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy, policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"


def test_json_answers_say_nosniff_too(socket_to: KeptAlive):
    for path in ("/healthz", f"/v1/cases/{A_CASE}", "/openapi.json"):
        assert socket_to.send("GET", path).headers["x-content-type-options"] == "nosniff", path


def test_the_openapi_documents_every_code_of_the_ack_link_codec_login_and_intake(socket_to: KeptAlive):
    spec = socket_to.send("GET", "/openapi.json").json()
    paths = spec["paths"]
    for method in ("get", "post"):
        assert {"200", "400", "404", "409", "410", "503"} <= set(paths["/v1/ack/{token}"][method]["responses"])
    assert {"200", "401", "403", "422", "503"} <= set(paths["/codec/login"]["get"]["responses"])
    for path in ("/v1/cases", "/v1/intake/email", "/v1/intake/voicemail", "/v1/intake/chat", "/v1/intake/web"):
        responses = paths[path]["post"]["responses"]
        assert {"401", "403", "413", "422", "429", "503"} <= set(responses), path
        assert "Retry-After" in responses["429"]["headers"], path
    validation = {
        operation["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
        for path in paths.values()
        for operation in path.values()
        if "422" in operation["responses"]
    }
    assert validation == {"#/components/schemas/FieldErrorBody"}


# --- the last line: an unexpected failure ---------------------------------------------------------------


@pytest.fixture
def failing_gateway(live_gateway: LiveGateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The real gateway app plus one route that fails the way a bug would, served by uvicorn."""
    for name, value in live_gateway.env.items():
        if name.startswith(("SUPPORTFLOW_", "TEMPORAL_", "TWILIO_", "SLACK_")):
            monkeypatch.setenv(name, value)
    app = create_app(settings=GatewaySettings.from_env())

    @app.get(f"/v1/cases/{A_CASE}/bug", include_in_schema=False)
    async def bug() -> None:
        raise RuntimeError("a bug nobody has found yet")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_an_unexpected_failure_is_a_json_500_logged_with_the_case_id_and_the_connection_stays_open(
    failing_gateway: str, caplog: pytest.LogCaptureFixture
):
    kept = KeptAlive(failing_gateway, {})
    with caplog.at_level("ERROR", logger="supportflow.gateway"):
        answer = kept.send("GET", f"/v1/cases/{A_CASE}/bug")
    assert answer.status == 500 and "error" in answer.json()
    assert b"Traceback" not in answer.body and b"RuntimeError" not in answer.body
    assert any(A_CASE in record.getMessage() for record in caplog.records), caplog.text
    assert kept.send("GET", "/healthz").status == 200

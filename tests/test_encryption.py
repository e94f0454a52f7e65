"""Payload encryption (SUPPORTFLOW_ENCRYPTION_KEY): the requester's details never sit readable in Temporal,
the people holding the key still read every case, and keys rotate without losing old cases.

The codec itself is tested alone first. Then, on a real dev server with the
production worker and the gateway in-process: the raw history of a case
opened through `start_case` and through the gateway, the portal, the codec
routes (Bearer key, UI cookie, CORS), a plain-JSON start from a client
without the codec, and a rotation from `k1` to `k2,k1` served by a new worker
process.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import uvicorn
from gateway_fixtures import ACK_SECRET, KEYS, PORTAL_SECRET, PUBLIC_URL, eventually
from google.protobuf import json_format
from google.protobuf.message import Message
from playwright.async_api import async_playwright
from receivers import SmtpReceiver, listener_on
from support import delivery_stand_ins, start_case
from temporal_fixtures import case_worker
from temporalio.api.common.v1 import Payload, Payloads, SearchAttributes
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError

from activities.settings import Settings
from environment import SettingsError
from starter import encryption
from starter.client import ClientSettings, connect
from starter.devserver import DevServer
from starter.encryption import DecryptionError, EncryptionCodec, EncryptionKeyError, parse_keyring
from starter.gateway.app import create_app
from starter.gateway.settings import GatewaySettings, SettingsError, parse_api_keys
from starter.processes import ChildProcess
from worker import WorkerSettings
from workflows.contracts import CaseRequest, CaseStatus, Requester

pytestmark = pytest.mark.takes(13)  # seconds, about: the longest files start first (conftest)

# Fixed test keys (random ones would give every xdist worker different test ids).
KEY1, KEY2 = (base64.b64encode(hashlib.sha256(f"supportflow test key {n}".encode()).digest()).decode() for n in (1, 2))
ONE_KEY, ROTATED = f"k1:{KEY1}", f"k2:{KEY2},k1:{KEY1}"
UI_ORIGIN = "http://127.0.0.1:8233"
HMAC = re.compile(r"^hmac:[0-9a-f]{64}$")
REQUESTER_EMAIL = SearchAttributeKey.for_keyword("RequesterEmail")
# What must never be readable in Temporal's storage: the requester and what they wrote.
NAME, EMAIL, PHONE, COMPANY = (
    "Ana Quintero-Diaz",
    "Ana.Quintero@Clinic.example",
    "+15555550123",
    "Quintero Family Clinic",
)
SUBJECT, DESCRIPTION = "Reminder texts stopped", "Appointment reminders stopped going out after the Tuesday upgrade."
SECRETS = (NAME, EMAIL, EMAIL.lower(), PHONE, COMPANY, SUBJECT, DESCRIPTION)


def request(source_id: str, email: str = EMAIL, **changes) -> CaseRequest:
    return CaseRequest(
        tenant="blockit",
        channel="api",
        source_id=source_id,
        requester=Requester(name=NAME, email=email, phone=PHONE, company=COMPANY),
        subject=SUBJECT,
        description=DESCRIPTION,
        severity=3,
        **changes,
    )


# --- the codec alone -------------------------------------------------------------


def json_payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_a_payload_round_trips_and_its_stored_bytes_hide_the_address():
    codec = EncryptionCodec(parse_keyring(ONE_KEY))
    original = json_payload(EMAIL)
    [sealed] = await codec.encode([original])
    assert sealed.metadata["encoding"] == b"binary/encrypted" and sealed.metadata["encryption-key-id"] == b"k1"
    assert EMAIL.encode() not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [original]
    [again] = await codec.encode([original])
    assert again.data != sealed.data, "every payload gets its own nonce"


async def test_the_first_key_encrypts_and_every_listed_key_decrypts():
    old, rotated = EncryptionCodec(parse_keyring(ONE_KEY)), EncryptionCodec(parse_keyring(ROTATED))
    [under_k1] = await old.encode([json_payload("before")])
    [under_k2] = await rotated.encode([json_payload("after")])
    assert under_k2.metadata["encryption-key-id"] == b"k2"
    assert await rotated.decode([under_k1, under_k2]) == [json_payload("before"), json_payload("after")]


async def test_a_payload_under_a_key_no_longer_listed_fails_naming_that_key_id():
    [under_k1] = await EncryptionCodec(parse_keyring(ONE_KEY)).encode([json_payload(EMAIL)])
    with pytest.raises(
        DecryptionError, match=r"key id 'k1', which SUPPORTFLOW_ENCRYPTION_KEY does not list \(it lists k2\)"
    ):
        await EncryptionCodec(parse_keyring(f"k2:{KEY2}")).decode([under_k1])


async def test_the_wrong_key_under_the_same_id_fails_authentication():
    [sealed] = await EncryptionCodec(parse_keyring(ONE_KEY)).encode([json_payload(EMAIL)])
    with pytest.raises(DecryptionError, match="failed authentication"):
        await EncryptionCodec(parse_keyring(f"k1:{KEY2}")).decode([sealed])


async def test_tampered_ciphertext_or_a_relabelled_key_id_is_refused():
    ring = parse_keyring(
        f"k1:{KEY1},k9:{KEY1}"
    )  # the same key under two ids: only the associated data tells them apart
    codec = EncryptionCodec(ring)
    [sealed] = await codec.encode([json_payload(EMAIL)])
    flipped = bytearray(sealed.data)
    flipped[20] ^= 0x01
    tampered = Payload(metadata=dict(sealed.metadata), data=bytes(flipped))
    relabelled = Payload(metadata=dict(sealed.metadata) | {"encryption-key-id": b"k9"}, data=sealed.data)
    cut = Payload(metadata=dict(sealed.metadata), data=sealed.data[:10])
    for damaged in (tampered, relabelled):
        with pytest.raises(DecryptionError, match="failed authentication"):
            await codec.decode([damaged])
    with pytest.raises(DecryptionError, match="too short"):
        await codec.decode([cut])


async def test_payloads_without_our_encoding_pass_through_unchanged():
    codec = EncryptionCodec(parse_keyring(ONE_KEY))
    plain = [
        json_payload(EMAIL),
        Payload(metadata={"encoding": b"binary/null"}),
        Payload(metadata={"encoding": b"binary/zlib"}, data=b"x"),
    ]
    assert await codec.decode(plain) == plain


async def test_failure_messages_travel_encrypted_and_a_key_holder_reads_them():
    converter = encryption.data_converter(parse_keyring(ONE_KEY))
    refused = ApplicationError(
        f"email to requester: SMTP server refused the recipient: 550 <{EMAIL}> unknown", type="DeliveryRejected"
    )
    for problem in (refused, ValueError(f"invalid CaseRequest: requester.email {EMAIL!r}")):
        failure = Failure()
        await converter.encode_failure(problem, failure)
        assert failure.message == "Encoded failure" and EMAIL.encode() not in failure.SerializeToString()
        assert EMAIL in str(await converter.decode_failure(failure))


async def test_the_workflows_answers_to_callers_stay_readable_but_their_causes_do_not():
    converter = encryption.data_converter(parse_keyring(ONE_KEY))
    for answer in (
        ApplicationError("cannot resume: the case is open", type="UpdateRejected"),
        ApplicationError("the case is still opening; ask again in a moment"),
        DecryptionError("a payload is encrypted under key id 'k0', which SUPPORTFLOW_ENCRYPTION_KEY does not list"),
    ):
        failure = Failure()
        await converter.encode_failure(answer, failure)
        assert failure.message == str(answer.message if isinstance(answer, ApplicationError) else answer)
        assert not failure.HasField("encoded_attributes")
    try:
        try:
            raise ValueError(f"bad address {EMAIL}")
        except ValueError as cause:
            raise ApplicationError("cannot amend: rejected", type="UpdateRejected") from cause
    except ApplicationError as chained:
        failure = Failure()
        await converter.encode_failure(chained, failure)
    assert failure.message == "cannot amend: rejected" and failure.cause.message == "Encoded failure"
    assert EMAIL.encode() not in failure.SerializeToString()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("k1", r"entry 1 is not id:base64"),
        (f"k1:{KEY1},k2", r"entry 2 is not id:base64"),
        ("k1:not base64!", r"entry 1 \(id 'k1'\): the key is not base64"),
        ("k1:" + base64.b64encode(b"sixteen byte key").decode(), r"the key is 16 bytes; AES-256-GCM needs 32"),
        (f"k1:{KEY1},k1:{KEY2}", r"entry 2: key id 'k1' is listed twice"),
        (f"k 1:{KEY1}", r"entry 1: the key id may use letters"),
        (" , ,", r"lists no key"),
    ],
)
def test_an_unusable_key_setting_names_the_variable_and_the_entry_but_never_the_key(value, problem):
    with pytest.raises(EncryptionKeyError, match=problem) as refused:
        parse_keyring(value)
    assert "SUPPORTFLOW_ENCRYPTION_KEY" in str(refused.value)
    assert KEY1 not in str(refused.value) and KEY2 not in str(refused.value)
    with pytest.raises(SettingsError, match="SUPPORTFLOW_ENCRYPTION_KEY"):
        WorkerSettings.from_env({"SUPPORTFLOW_ENCRYPTION_KEY": value})
    with pytest.raises(SettingsError, match="SUPPORTFLOW_ENCRYPTION_KEY"):
        GatewaySettings.from_env({"SUPPORTFLOW_ENCRYPTION_KEY": value})


def test_keys_are_read_in_either_base64_alphabet_and_never_shown():
    urlsafe = base64.urlsafe_b64encode(base64.b64decode(KEY1)).decode().rstrip("=")
    ring = parse_keyring(f" k1:{urlsafe} , k2:{KEY2} ")
    assert (
        ring.ids == ("k1", "k2")
        and ring.encrypting_id == "k1"
        and ring == parse_keyring(ROTATED.split(",")[1] + f",k2:{KEY2}")
    )
    assert repr(ring) == "Keyring(ids=['k1', 'k2'])"
    assert KEY1 not in repr(WorkerSettings.from_env({"SUPPORTFLOW_ENCRYPTION_KEY": ONE_KEY}))
    assert encryption.keyring_from_env({"SUPPORTFLOW_ENCRYPTION_KEY": "  "}) is None


def test_the_requester_index_is_a_keyed_hash_of_the_lower_cased_address():
    one, rotated = parse_keyring(ONE_KEY), parse_keyring(ROTATED)
    key = encryption.requester_email_key(EMAIL, one)
    assert HMAC.match(key) and key == encryption.requester_email_key(f" {EMAIL.lower()} ", one)
    assert encryption.requester_email_keys(EMAIL, rotated) == [
        encryption.requester_email_key(EMAIL, parse_keyring(f"k2:{KEY2}")),
        key,
    ]
    assert encryption.requester_email_key(EMAIL, None) is None and encryption.requester_email_key(None, one) is None
    plain = encryption.data_converter(None)
    assert plain.payload_codec is None and plain.failure_converter_class is not encryption.EncryptedFailureConverter


# --- the codec routes without Temporal ------------------------------------------------


def keyed_settings(public_url: str = PUBLIC_URL, **changes) -> GatewaySettings:
    return GatewaySettings(
        **{
            "api_keys": parse_api_keys(",".join(f"{key}={scope}" for scope, key in KEYS.items())),
            "delivery": Settings(public_url=public_url, ack_secret=ACK_SECRET, portal_secret=PORTAL_SECRET),
            "encryption": parse_keyring(ONE_KEY),
            **changes,
        }
    )


async def no_temporal() -> Client:
    raise AssertionError("the codec routes never need Temporal")


def browser(app, base_url: str = PUBLIC_URL) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


def payloads_json(*payloads: Payload) -> str:
    return json_format.MessageToJson(Payloads(payloads=list(payloads)))


def payloads_from(answer: httpx.Response) -> list[Payload]:
    assert answer.status_code == 200, answer.text
    return list(json_format.Parse(answer.text, Payloads()).payloads)


async def test_the_codec_routes_say_encryption_is_off_when_no_key_is_set():
    app = create_app(client_factory=no_temporal, settings=keyed_settings(encryption=None))
    async with browser(app) as http:
        answer = await http.post(
            "/codec/decode",
            content=payloads_json(json_payload("x")),
            headers={"Authorization": f"Bearer {KEYS['operate']}", "Content-Type": "application/json"},
        )
        assert answer.status_code == 503 and "encryption is off" in answer.json()["error"]
        assert (
            await http.post("/codec/decode", content="{}")
        ).status_code == 401  # no key: nothing said about the setup


async def test_over_https_the_codec_cookie_is_secure_httponly_samesite_none_and_holds_no_key():
    app = create_app(client_factory=no_temporal, settings=keyed_settings("https://support.example.com"))
    async with browser(app, "https://support.example.com") as http:
        answer = await http.get("/codec/login", params={"key": KEYS["operate"]})
        assert answer.status_code == 200, answer.text
        cookie = answer.headers["set-cookie"]
        for attribute in ("supportflow_codec=", "HttpOnly", "Secure", "SameSite=none", "Path=/codec", "Max-Age=43200"):
            assert attribute.lower() in cookie.lower(), cookie
        assert KEYS["operate"] not in cookie
        assert answer.headers["cache-control"] == "no-store" and answer.headers["referrer-policy"] == "no-referrer"
        decoded = await http.post(
            "/codec/decode",
            content=payloads_json(json_payload("x")),
            headers={"Content-Type": "application/json", "Origin": UI_ORIGIN},
        )
        assert payloads_from(decoded) == [json_payload("x")]


async def test_over_http_the_codec_cookie_is_samesite_lax_for_a_ui_on_the_same_host():
    app = create_app(client_factory=no_temporal, settings=keyed_settings())
    async with browser(app) as http:
        cookie = (await http.get("/codec/login", params={"key": KEYS["admin"]})).headers["set-cookie"].lower()
        assert "samesite=lax" in cookie and "secure" not in cookie and "httponly" in cookie


async def test_a_key_without_operate_cannot_start_a_codec_session_and_the_form_keeps_the_key_out_of_the_url():
    app = create_app(client_factory=no_temporal, settings=keyed_settings())
    async with browser(app) as http:
        assert (await http.get("/codec/login", params={"key": KEYS["intake"]})).status_code == 403
        assert (await http.get("/codec/login", params={"key": "guessed"})).status_code == 401
        assert "set-cookie" not in (await http.get("/codec/login", params={"key": "guessed"})).headers
        form = await http.get("/codec/login")
        assert form.status_code == 200 and "method=post" in form.text and "type=password" in form.text
        posted = await http.post("/codec/login", data={"key": KEYS["operate"]})
        assert posted.status_code == 200 and "supportflow_codec" in http.cookies


async def test_withdrawing_the_key_ends_the_codec_sessions_made_with_it():
    app = create_app(client_factory=no_temporal, settings=keyed_settings())
    async with browser(app) as http:
        await http.get("/codec/login", params={"key": KEYS["operate"]})
        call = dict(content=payloads_json(json_payload("x")), headers={"Content-Type": "application/json"})
        assert (await http.post("/codec/decode", **call)).status_code == 200
        app.state.settings = keyed_settings(api_keys=parse_api_keys(f"{KEYS['admin']}=admin"))
        assert (await http.post("/codec/decode", **call)).status_code == 401
        await http.get("/codec/logout")
        assert "supportflow_codec" not in http.cookies


async def test_the_codec_takes_only_json_and_names_a_body_that_is_not_payloads():
    app = create_app(client_factory=no_temporal, settings=keyed_settings())
    auth = {"Authorization": f"Bearer {KEYS['operate']}"}
    async with browser(app) as http:
        form = await http.post(
            "/codec/decode", content=payloads_json(json_payload("x")), headers=auth | {"Content-Type": "text/plain"}
        )
        assert form.status_code == 415
        broken = await http.post(
            "/codec/decode", content='{"payloads": [{"data": 5}]}', headers=auth | {"Content-Type": "application/json"}
        )
        assert broken.status_code == 422 and broken.json()["fields"][0]["field"] == "payloads"
        empty = await http.post("/codec/encode", content="{}", headers=auth | {"Content-Type": "application/json"})
        assert empty.json() == {"payloads": []}


# --- on the dev server -------------------------------------------------------------


@dataclass
class Encrypted:
    server: DevServer
    client: Client
    queue: str
    app: object
    http: httpx.AsyncClient
    smtp: SmtpReceiver
    root: Path

    async def status(self, case_id: str, client: Client | None = None) -> CaseStatus:
        """The status once the requester's acknowledgement delivery has ended (so it is in the history)."""
        handle = (client or self.client).get_workflow_handle(case_id)

        async def settled():
            try:
                status = await handle.query("status", result_type=CaseStatus)
            except Exception:
                return None
            delivered = any(
                e.event == "acknowledgement_sent"
                or (e.event == "notification_failed" and e.detail.get("ladder") == "requester_ack")
                for e in status.timeline
            )
            return status if delivered else None

        status = await eventually(settled, timeout=30)
        assert status, f"{case_id} never sent its acknowledgement"
        return status

    async def requester_index(self, case_id: str, expected: str) -> str | None:
        """RequesterEmail once it is `expected` (visibility is eventually consistent), else its last value."""
        handle = self.client.get_workflow_handle(case_id)

        async def indexed():
            return (await handle.describe()).typed_search_attributes.get(REQUESTER_EMAIL) == expected

        await eventually(indexed, timeout=10)
        return (await handle.describe()).typed_search_attributes.get(REQUESTER_EMAIL)


@pytest_asyncio.fixture(scope="module")
async def encrypted(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Encrypted]:
    """A dev server, the production worker and the gateway, all with SUPPORTFLOW_ENCRYPTION_KEY=k1:…"""
    root = tmp_path_factory.mktemp("encryption")
    with pytest.MonkeyPatch.context() as env:
        async with delivery_stand_ins(root, env) as (_hooks, _twilio, smtp):
            env.setenv("SUPPORTFLOW_ACK_SECRET", ACK_SECRET)
            env.setenv("SUPPORTFLOW_PORTAL_SECRET", PORTAL_SECRET)
            env.setenv("SUPPORTFLOW_PUBLIC_URL", PUBLIC_URL)
            env.delenv("SUPPORTFLOW_UI_ORIGIN", raising=False)
            env.setenv("SUPPORTFLOW_API_KEYS", ",".join(f"{key}={scope}" for scope, key in KEYS.items()))
            env.setenv("SUPPORTFLOW_ENCRYPTION_KEY", ONE_KEY)
            async with DevServer(root / "temporal", ui=False) as server:
                env.setenv("TEMPORAL_ADDRESS", server.address)
                env.setenv("TEMPORAL_NAMESPACE", server.namespace)
                # The production connection: the codec comes from the environment, as for the worker, CLI and gateway.
                client = await connect(ClientSettings.from_env(os.environ))
                assert isinstance(client.data_converter.payload_codec, EncryptionCodec)
                async with case_worker(client) as queue:
                    env.setenv("SUPPORTFLOW_TASK_QUEUE", queue)

                    async def same_client() -> Client:
                        return client

                    app = create_app(client_factory=same_client, settings=GatewaySettings.from_env())
                    async with browser(app) as http:
                        yield Encrypted(server, client, queue, app, http, smtp, root)


def history_payloads(message: Message, in_search_attributes: bool = False) -> Iterator[tuple[bool, Payload]]:
    """Every Payload in a history (event) message, and whether it is a search attribute's."""
    if isinstance(message, Payload):
        yield in_search_attributes, message
        return
    inside = in_search_attributes or isinstance(message, SearchAttributes)
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            yield from history_payloads(value, inside)
            continue
        for item in value.values() if hasattr(value, "values") else value:  # a map, or a repeated field
            if isinstance(item, Message):
                yield from history_payloads(item, inside)


async def raw_history(client: Client, case_id: str) -> list[tuple[bool, Payload]]:
    """Every payload of the history, markers included: a case records no `workflow.patched` marker and runs
    no local activity, so nothing in it may bypass the codec."""
    history = await client.get_workflow_handle(case_id).fetch_history()
    found = []
    for event in history.events:
        found += history_payloads(event)
    return found


def assert_nothing_readable(found: list[tuple[bool, Payload]], *secrets: str) -> None:
    stored = b"\n".join(payload.SerializeToString() for _, payload in found)
    for secret in secrets:
        assert secret.encode() not in stored and secret.lower().encode() not in stored, (
            f"{secret!r} is readable in the history"
        )
    plain = [
        payload.metadata.get("encoding")
        for attribute, payload in found
        if not attribute and payload.metadata.get("encoding") != b"binary/encrypted"
    ]
    assert not plain, f"payloads stored unencrypted: {plain}"
    indexed = [payload.data.decode() for attribute, payload in found if attribute and b"hmac:" in payload.data]
    assert indexed, "RequesterEmail was never indexed"


async def test_a_case_opened_through_start_case_keeps_the_requester_unreadable_in_history(encrypted: Encrypted):
    opened = await start_case(encrypted.client, request(f"<{uuid.uuid4().hex}@mail.example>"))
    status = await encrypted.status(opened.case_id)
    assert status.requester.email == EMAIL and status.requester.name == NAME, "the key holder reads the case as usual"
    expected = encryption.requester_email_key(EMAIL, parse_keyring(ONE_KEY))
    assert HMAC.match(expected) and await encrypted.requester_index(opened.case_id, expected) == expected
    assert_nothing_readable(await raw_history(encrypted.client, opened.case_id), *SECRETS)
    mail = [m for m in encrypted.smtp.messages if EMAIL.lower() in [r.lower() for r in m.rcpt_tos]]
    assert mail, "the worker decrypted the delivery and sent the acknowledgement to the real address"


async def test_a_case_opened_through_the_gateway_is_encrypted_listed_in_the_portal_and_amendable(encrypted: Encrypted):
    operate = {"Authorization": f"Bearer {KEYS['operate']}"}
    body = request(f"gw-{uuid.uuid4().hex}").model_dump(mode="json", exclude_none=True)
    body["requester_email_key"] = "hmac:" + "0" * 64  # the index is the gateway's to compute, never the caller's
    opened = await encrypted.http.post("/v1/cases", json=body, headers={"Authorization": f"Bearer {KEYS['intake']}"})
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    # At once: the gateway asks again while the case answers "still opening", which must stay readable.
    read = await encrypted.http.get(f"/v1/cases/{case_id}", headers=operate)
    assert read.status_code == 200 and read.json()["requester"]["email"] == EMAIL
    await encrypted.status(case_id)
    expected = encryption.requester_email_key(EMAIL, parse_keyring(ONE_KEY))
    assert await encrypted.requester_index(case_id, expected) == expected
    assert_nothing_readable(await raw_history(encrypted.client, case_id), *SECRETS)

    refused = await encrypted.http.post(f"/v1/cases/{case_id}/resume", json={}, headers=operate)
    assert refused.status_code == 409 and "waiting_on_customer" in refused.json()["error"], (
        "failures decrypt for the gateway"
    )

    link = await encrypted.http.post(
        "/v1/portal/links",
        json={"tenant": "blockit", "email": EMAIL},
        headers={"Authorization": f"Bearer {KEYS['admin']}"},
    )
    async with browser(encrypted.app) as requester:
        assert (await requester.get(link.json()["url"])).status_code == 303
        listed = await eventually(lambda: _portal_lists(requester, case_id), timeout=10)
        assert listed, "the portal found the requester's case by its keyed hash"

    new_address = "ana.q@new-clinic.example"
    amended = await encrypted.http.post(
        f"/v1/cases/{case_id}/amend", json={"requester": {"email": new_address}}, headers=operate
    )
    assert amended.status_code == 200 and amended.json()["requester"]["email"] == new_address
    new_key = encryption.requester_email_key(new_address, parse_keyring(ONE_KEY))
    assert await encrypted.requester_index(case_id, new_key) == new_key
    assert_nothing_readable(await raw_history(encrypted.client, case_id), *SECRETS, new_address)


async def _portal_lists(requester: httpx.AsyncClient, case_id: str) -> bool:
    page = await requester.get("/portal")
    return page.status_code == 200 and case_id in page.text


async def test_the_codec_route_decodes_history_for_an_operate_key_or_the_ui_cookie_and_refuses_anyone_else(
    encrypted: Encrypted,
):
    opened = await start_case(encrypted.client, request(f"<{uuid.uuid4().hex}@mail.example>"))
    await encrypted.status(opened.case_id)
    history = await encrypted.client.get_workflow_handle(opened.case_id).fetch_history()
    started_input = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert started_input.metadata["encoding"] == b"binary/encrypted"
    body = payloads_json(started_input)
    as_json = {"Content-Type": "application/json", "X-Namespace": "default"}

    # The temporal CLI: --codec-endpoint <gateway>/codec --codec-auth "Bearer <operate key>".
    cli = await encrypted.http.post(
        "/codec/decode", content=body, headers=as_json | {"Authorization": f"Bearer {KEYS['operate']}"}
    )
    [decoded] = payloads_from(cli)
    assert (
        decoded.metadata["encoding"] == b"json/plain"
        and EMAIL.encode() in decoded.data
        and DESCRIPTION.encode() in decoded.data
    )
    assert cli.headers["cache-control"] == "no-store"

    # The web UI: a cookie from /codec/login, sent by a credentialed fetch from the UI's origin.
    async with browser(encrypted.app) as ui:
        assert (await ui.get("/codec/login", params={"key": KEYS["operate"]})).status_code == 200
        from_ui = await ui.post("/codec/decode", content=body, headers=as_json | {"Origin": UI_ORIGIN})
        assert payloads_from(from_ui) == [decoded]
        assert from_ui.headers["access-control-allow-origin"] == UI_ORIGIN
        assert from_ui.headers["access-control-allow-credentials"] == "true"
        elsewhere = await ui.post("/codec/decode", content=body, headers=as_json | {"Origin": "https://evil.example"})
        assert elsewhere.status_code == 403 and EMAIL not in elsewhere.text

    async with browser(encrypted.app) as stranger:
        nobody = await stranger.post("/codec/decode", content=body, headers=as_json)
        assert nobody.status_code == 401 and EMAIL not in nobody.text
        intake = await stranger.post(
            "/codec/decode", content=body, headers=as_json | {"Authorization": f"Bearer {KEYS['intake']}"}
        )
        assert intake.status_code == 403 and EMAIL not in intake.text
        stranger.cookies.set("supportflow_codec", "forged.cookie", path="/codec")
        assert (await stranger.post("/codec/decode", content=body, headers=as_json)).status_code == 401

    encoded = await encrypted.http.post(
        "/codec/encode", content=payloads_json(decoded), headers=as_json | {"Authorization": f"Bearer {KEYS['admin']}"}
    )
    [sealed] = payloads_from(encoded)
    assert sealed.metadata["encryption-key-id"] == b"k1" and await EncryptionCodec(parse_keyring(ONE_KEY)).decode(
        [sealed]
    ) == [decoded]


async def test_cors_preflight_is_allowed_from_the_ui_origin_only_and_only_for_the_codec(encrypted: Encrypted):
    asking = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
    }
    for origin in ("http://127.0.0.1:8233", "http://localhost:8233"):
        allowed = await encrypted.http.options("/codec/decode", headers=asking | {"Origin": origin})
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["access-control-allow-origin"] == origin
        assert allowed.headers["access-control-allow-credentials"] == "true"
        granted = {header.strip().lower() for header in allowed.headers["access-control-allow-headers"].split(",")}
        assert {"content-type", "x-namespace", "authorization"} <= granted
    refused = await encrypted.http.options("/codec/decode", headers=asking | {"Origin": "https://evil.example"})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    api = await encrypted.http.options("/v1/cases", headers=asking | {"Origin": UI_ORIGIN})
    assert "access-control-allow-origin" not in api.headers, "the rest of the gateway is not readable cross-origin"


async def test_a_plain_json_start_from_a_client_without_the_codec_still_runs_under_an_encrypting_worker(
    encrypted: Encrypted,
):
    plain = await Client.connect(
        encrypted.server.address, namespace=encrypted.server.namespace
    )  # `temporal workflow start` style
    case_id = f"case-blockit-{uuid.uuid4().hex[:24]}"
    await plain.start_workflow(
        "SupportCase",
        {
            "tenant": "blockit",
            "channel": "api",
            "requester": {"name": "Bo Plain", "email": "bo@plain.example"},
            "subject": "Started elsewhere",
            "description": "Opened by another team's client.",
        },
        id=case_id,
        task_queue=encrypted.queue,
    )
    status = await encrypted.status(case_id)
    assert status.state == "open" and status.requester.email == "bo@plain.example"
    found = await raw_history(encrypted.client, case_id)
    encodings = [payload.metadata.get("encoding") for attribute, payload in found if not attribute]
    assert encodings[0] == b"json/plain", "the start was not ours to encrypt, and passed through"
    assert b"binary/encrypted" in encodings[1:], "what the worker wrote afterwards is encrypted"
    answered = await encrypted.client.get_workflow_handle(case_id).execute_update(
        "respond", {"by": "eng"}, result_type=CaseStatus
    )
    assert answered.state == "responded"


async def test_a_case_started_under_key_1_still_decodes_after_rotation_to_key_2_then_key_1(
    encrypted: Encrypted, monkeypatch: pytest.MonkeyPatch
):
    queue = f"rotation-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SUPPORTFLOW_TASK_QUEUE", queue)
    async with case_worker(encrypted.client, queue):
        opened = await start_case(encrypted.client, request(f"<{uuid.uuid4().hex}@mail.example>"))
        await encrypted.status(opened.case_id)

    # A new worker process and a new client, configured only through the rotated environment.
    rotated_env = dict(os.environ) | {"SUPPORTFLOW_ENCRYPTION_KEY": ROTATED, "SUPPORTFLOW_TASK_QUEUE": queue}
    worker = ChildProcess(
        "worker", [sys.executable, "-m", "worker"], encrypted.root / "rotated-worker.log", rotated_env
    )
    worker.start()
    try:
        await _polling(worker)
        rotated = await connect(ClientSettings.from_env(rotated_env))
        status = await encrypted.status(opened.case_id, rotated)
        assert status.requester.email == EMAIL, "the new worker replayed the k1 history, and the new client read it"
        answered = await rotated.get_workflow_handle(opened.case_id).execute_update(
            "respond", {"by": "eng"}, result_type=CaseStatus
        )
        assert answered.state == "responded"

        found = await raw_history(rotated, opened.case_id)
        key_ids = {payload.metadata.get("encryption-key-id") for attribute, payload in found if not attribute}
        assert key_ids == {b"k1", b"k2"}, key_ids
        assert_nothing_readable(found, *SECRETS)

        settings = GatewaySettings.from_env(rotated_env)

        async def rotated_client() -> Client:
            return rotated

        app = create_app(client_factory=rotated_client, settings=settings)
        async with browser(app) as http:
            sealed = [payload for attribute, payload in found if not attribute]
            answer = await http.post(
                "/codec/decode",
                content=payloads_json(*sealed),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEYS['operate']}"},
            )
            decoded = payloads_from(answer)
            assert len(decoded) == len(sealed) and all(p.metadata["encoding"] != b"binary/encrypted" for p in decoded)
            assert EMAIL.encode() in decoded[0].data

            link = await http.post(
                "/v1/portal/links",
                json={"tenant": "blockit", "email": EMAIL},
                headers={"Authorization": f"Bearer {KEYS['admin']}"},
            )
            async with browser(app) as requester:
                await requester.get(link.json()["url"])
                assert await eventually(lambda: _portal_lists(requester, opened.case_id), timeout=10), (
                    "after rotation the portal still finds the case indexed under k1's hash"
                )

        without_k1 = EncryptionCodec(parse_keyring(f"k2:{KEY2}"))
        with pytest.raises(DecryptionError, match="'k1'"):
            await without_k1.decode(sealed[:1])
    finally:
        await worker.stop()


async def _polling(worker: ChildProcess, timeout: float = 30.0) -> None:
    """Until the worker logs that it polls (it first checks the search attributes)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while "polling" not in worker.log_tail(200):
        assert worker.running, worker.exit_report()
        assert asyncio.get_running_loop().time() < deadline, f"the rotated worker never polled:\n{worker.log_tail()}"
        await asyncio.sleep(0.1)


def test_the_access_log_never_shows_a_codec_key_or_a_portal_token():
    import logging

    from starter.gateway.codec import QueryCredentialsHidden

    # uvicorn's access line: client, method, path with query, HTTP version, status.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/codec/login?key={KEYS['operate']}&x=1", "1.1", 200),
        None,
    )
    portal = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/portal/login?token=abc.def", "1.1", 303),
        None,
    )
    assert QueryCredentialsHidden().filter(record) and QueryCredentialsHidden().filter(portal)
    assert KEYS["operate"] not in record.getMessage() and "key=[hidden]&x=1" in record.getMessage()
    assert "abc.def" not in portal.getMessage()


# --- the Temporal web UI, in a real browser ---------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def test_the_temporal_web_ui_decodes_a_case_through_the_gateway_with_the_codec_cookie(
    encrypted: Encrypted, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """The dev server's own UI (as `supportflow up` runs it), Debian's Chromium, and the gateway on a real port."""
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: scripts/setup installs Debian's chromium"
    listener = listener_on()
    gateway_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    async with DevServer(tmp_path / "temporal", ui=True, ui_codec_endpoint=f"{gateway_url}/codec") as server:
        env = dict(os.environ) | {
            "TEMPORAL_ADDRESS": server.address,
            "SUPPORTFLOW_PUBLIC_URL": gateway_url,
            "SUPPORTFLOW_UI_ORIGIN": server.ui_url,
        }
        client = await connect(ClientSettings.from_env(env))
        async with case_worker(client) as queue:
            monkeypatch.setenv("SUPPORTFLOW_TASK_QUEUE", queue)
            opened = await start_case(client, request(f"<{uuid.uuid4().hex}@mail.example>"))
            await encrypted.status(opened.case_id, client)

            async def same_client() -> Client:
                return client

            app = create_app(client_factory=same_client, settings=GatewaySettings.from_env(env))
            gateway = _QuietServer(uvicorn.Config(app, log_config=None, log_level="warning"))
            serving = asyncio.create_task(gateway.serve(sockets=[listener]))
            try:
                while not gateway.started:
                    assert not serving.done(), "the gateway did not start"
                    await asyncio.sleep(0.01)
                async with async_playwright() as playwright:
                    browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                    try:
                        page = await (await browser.new_context()).new_page()
                        case_page = f"{server.ui_url}/namespaces/default/workflows/{opened.case_id}"
                        await page.goto(case_page)
                        await page.wait_for_function(
                            "id => document.body.innerText.includes(id)", arg=opened.case_id, timeout=20_000
                        )
                        await page.wait_for_timeout(1_000)
                        assert EMAIL not in await page.inner_text("body"), "no codec session yet: nothing decodes"

                        assert (await page.goto(f"{gateway_url}/codec/login?key={KEYS['operate']}")).status == 200
                        cookie = next(c for c in await page.context.cookies() if c["name"] == "supportflow_codec")
                        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/codec"
                        # What "include cross-origin credentials" in the UI's codec settings stores in the browser.
                        await page.goto(case_page)
                        await page.evaluate(
                            """endpoint => {
                            localStorage.setItem('endpoint', JSON.stringify(endpoint));
                            localStorage.setItem('includeCredentials', 'true');
                            localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
                        }""",
                            f"{gateway_url}/codec",
                        )
                        await page.goto(case_page)
                        await page.wait_for_function(
                            "email => document.body.innerText.includes(email)", arg=EMAIL, timeout=20_000
                        )
                        shown = await page.inner_text("body")
                        assert DESCRIPTION in shown and NAME in shown
                        await page.screenshot(path=str(tmp_path / "ui-decoded.png"), full_page=True)
                    finally:
                        await browser.close()
            finally:
                gateway.should_exit = True
                await serving


class _QuietServer(uvicorn.Server):
    """uvicorn.Server without its signal handlers (the test's event loop owns them)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

"""The codec routes (DESIGN "Gateway" → Codec): the Temporal web UI and CLI decode case payloads here.

`POST /codec/decode` and `/codec/encode` speak Temporal's codec-server
protocol: a `Payloads` message as protobuf JSON (`{"payloads": [{"metadata":
{...base64}, "data": "base64"}]}`) in, the same shape out. `X-Namespace` is
accepted; the keys are the same for every namespace.

They need `operate` (or `admin`), given either way:
- `Authorization: Bearer <key>`: the temporal CLI's `--codec-auth`;
- the `supportflow_codec` cookie that `GET /codec/login?key=…` sets, because
  the web UI cannot send a key of ours. The cookie holds a signed, expiring
  fingerprint of the key (never the key): withdrawing the key from
  SUPPORTFLOW_API_KEYS ends every session made with it. It is HttpOnly and
  limited to `/codec`; over https it is `Secure; SameSite=None`, so the UI's
  cross-site `fetch(…, {credentials: "include"})` carries it. Over plain http
  browsers refuse `SameSite=None` without `Secure`, so it is `Lax`: the UI and
  the gateway must then share a host name (127.0.0.1 with 127.0.0.1).

CORS (`CodecCors`) answers only for these routes and only the UI's origins
(SUPPORTFLOW_UI_ORIGIN), with credentials and the headers `Content-Type,
X-Namespace, Authorization`. A cookie-authenticated call from any other
origin is refused outright, and a body that is not `application/json` is
refused, so a cross-site form can never reach the codec with the cookie.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from google.protobuf import json_format
from starlette.middleware.cors import CORSMiddleware
from temporalio.api.common.v1 import Payloads

import signed_links as signing
from starter.encryption import DecryptionError, EncryptionCodec
from starter.gateway.auth import find_key
from starter.gateway.errors import FieldErrors, Forbidden, GatewayError, Unauthorized, Unavailable, field_error
from starter.gateway.pages import message_page, page
from starter.gateway.responses import ErrorBody, FieldErrorBody, Responses
from starter.gateway.settings import ApiKey, GatewaySettings

router = APIRouter(tags=["codec"])
COOKIE = "supportflow_codec"
PATH = "/codec"
SCOPES = frozenset({"operate", "admin"})
HEADERS = ("Content-Type", "X-Namespace", "Authorization")
# A working day: long enough not to nag, short enough that a forgotten browser stops decoding.
SESSION_LIFETIME = timedelta(hours=12)
BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
REFUSED: Responses = {
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    415: {"model": ErrorBody},
    422: {"model": FieldErrorBody, "description": "Not Payloads JSON, or a payload this gateway's keys cannot open"},
    503: {"model": ErrorBody, "description": "Encryption is off: SUPPORTFLOW_ENCRYPTION_KEY is not set"},
}
PROTOCOL = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["payloads"],
                    "properties": {
                        "payloads": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "metadata": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string", "format": "byte"},
                                    },
                                    "data": {"type": "string", "format": "byte"},
                                },
                            },
                        }
                    },
                }
            }
        },
    }
}


class QueryCredentialsHidden(logging.Filter):
    """Access-log lines never carry `?key=` (codec login) or `?token=` (portal login) values."""

    CREDENTIAL = re.compile(r"([?&](?:key|token)=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.CREDENTIAL.sub(r"\1[hidden]", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def hide_credentials_in_access_log(logger: str = "uvicorn.access") -> None:
    access = logging.getLogger(logger)
    if not any(isinstance(existing, QueryCredentialsHidden) for existing in access.filters):
        access.addFilter(QueryCredentialsHidden())


class CodecCors:
    """CORS for the codec routes alone: the rest of the gateway is never readable cross-origin."""

    def __init__(self, app, origins: tuple[str, ...]):
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_credentials=True,
            allow_methods=["POST"],
            allow_headers=list(HEADERS),
            max_age=600,
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(PATH + "/"):
            return await self.cors(scope, receive, send)
        return await self.app(scope, receive, send)


@router.post("/codec/decode", responses=REFUSED, openapi_extra=PROTOCOL, summary="Decode payloads (codec server)")
async def decode(http: Request) -> JSONResponse:
    """Temporal's codec-server protocol: encrypted payloads in, the original payloads out; others unchanged."""
    return await _convert(http, decoding=True)


@router.post("/codec/encode", responses=REFUSED, openapi_extra=PROTOCOL, summary="Encode payloads (codec server)")
async def encode(http: Request) -> JSONResponse:
    """Temporal's codec-server protocol: payloads in, encrypted under the first key out."""
    return await _convert(http, decoding=False)


LOGIN_ANSWERS: Responses = {
    401: {"description": "The key is not valid", "content": {"text/html": {"schema": {"type": "string"}}}},
    403: {"description": "The key lacks the operate scope", "content": {"text/html": {"schema": {"type": "string"}}}},
    503: {
        "description": "Encryption is off: SUPPORTFLOW_ENCRYPTION_KEY is not set",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
}


@router.get(
    "/codec/login",
    response_class=HTMLResponse,
    responses=LOGIN_ANSWERS,
    summary="Start a codec session in this browser",
)
async def login_link(http: Request, key: Annotated[str, Query(max_length=1000)] = "") -> Response:
    """With `?key=` (an operate key), sets the codec cookie; without, a form that posts the key instead,
    which keeps it out of browser history and proxy logs."""
    if not key:
        return _login_form()
    return _login(http, key)


@router.post(
    "/codec/login",
    response_class=HTMLResponse,
    responses=LOGIN_ANSWERS,
    summary="Start a codec session in this browser (the form's POST, which keeps the key out of the URL)",
)
async def login_form(http: Request, key: Annotated[str, Form(max_length=1000)] = "") -> Response:
    return _login(http, key)


@router.get("/codec/logout", response_class=HTMLResponse, summary="End the codec session in this browser")
async def logout(http: Request) -> Response:
    response = message_page("Signed out of the codec", "This browser can no longer decode case payloads.", 200, "ok")
    response.delete_cookie(COOKIE, path=PATH, httponly=True, **_cookie_site(http.app.state.settings))
    response.headers.update(NO_STORE)
    return response


async def _convert(http: Request, decoding: bool) -> JSONResponse:
    authorised(http)
    codec = _codec(http)
    media_type = http.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise _Unsupported("send the payloads as Content-Type: application/json")
    body = await http.body()
    if problems := strict_base64_problems(body):
        raise FieldErrors(problems)
    try:
        payloads = json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError, RecursionError) as problem:
        raise field_error("payloads", f"not Temporal Payloads JSON ({problem})") from None
    try:
        converted = await (codec.decode if decoding else codec.encode)(payloads.payloads)
    except DecryptionError as problem:
        raise FieldErrors([("payloads", str(problem))]) from None
    answer = json_format.MessageToDict(Payloads(payloads=converted))
    answer.setdefault("payloads", [])
    return JSONResponse(answer, headers=NO_STORE)


def strict_base64_problems(body: bytes) -> list[tuple[str, str]]:
    """Every `data` and `metadata` value must be base64 as written (standard or URL-safe, padding optional but
    right): protobuf's own parser skips characters it does not know, so `"!!"` would decode as nothing."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return []  # json_format reports it
    payloads = parsed.get("payloads") if isinstance(parsed, dict) else None
    if not isinstance(payloads, list):
        return []
    problems = []
    for i, payload in enumerate(payloads):
        if not isinstance(payload, dict):
            continue
        values = [("data", payload.get("data"))]
        metadata = payload.get("metadata")
        if isinstance(metadata, dict):
            values += [(f"metadata.{name}", value) for name, value in metadata.items()]
        for field, value in values:
            if isinstance(value, str) and not _is_base64(value):
                problems.append((f"payloads.{i}.{field}", "not base64"))
    return problems


def _is_base64(text: str) -> bool:
    standard = text.replace("-", "+").replace("_", "/")
    if not BASE64.fullmatch(standard) or ("=" in standard and len(standard) % 4):
        return False
    unpadded = standard.rstrip("=")
    if len(unpadded) % 4 == 1:
        return False
    try:
        base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), validate=True)
    except binascii.Error:
        return False
    return True


def authorised(http: Request) -> ApiKey:
    """The operate (or admin) key behind this call: a Bearer key, or the codec session cookie."""
    settings: GatewaySettings = http.app.state.settings
    scheme, _, presented = http.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and presented.strip():
        key = find_key(settings, presented.strip())
        if key is not None:
            if not key.scopes & SCOPES:
                raise Forbidden("this API key lacks the scope for the codec (needs one of: admin, operate)")
            return key
    # An unknown Bearer value (the UI may pass its own access token) falls back to the session cookie.
    cookie = http.cookies.get(COOKIE)
    if not cookie:
        raise Unauthorized("send an operate key as Authorization: Bearer <key>, or open /codec/login in this browser")
    origin = http.headers.get("origin")
    if origin is not None and origin not in settings.ui_origins:
        raise Forbidden(
            f"the codec session may be used only from the Temporal UI (SUPPORTFLOW_UI_ORIGIN), not {origin}"
        )
    key = session_key(settings, cookie)
    if key is None:
        raise Unauthorized("the codec session expired, or its key was withdrawn; open /codec/login again")
    return key


def session_key(settings: GatewaySettings, cookie: str) -> ApiKey | None:
    """The configured operate key this cookie was made with, if it is still valid and still configured."""
    try:
        claims = signing.verify("codec-session", cookie, datetime.now(UTC), settings.signing_secret)
    except signing.TokenError:
        return None
    presented = str(claims.get("f", ""))
    found = None
    for candidate in settings.api_keys:
        if (
            hmac.compare_digest(_fingerprint(settings, candidate.key).encode(), presented.encode())
            and candidate.scopes & SCOPES
        ):
            found = candidate
    return found


def _fingerprint(settings: GatewaySettings, key: str) -> str:
    return signing.mac("codec-key", key, settings.signing_secret)


def _codec(http: Request) -> EncryptionCodec:
    settings: GatewaySettings = http.app.state.settings
    if settings.encryption is None:
        raise Unavailable(
            "payload encryption is off: SUPPORTFLOW_ENCRYPTION_KEY is not set on the gateway, so nothing needs decoding"
        )
    codec = getattr(http.app.state, "codec", None)
    if codec is None or codec.keyring != settings.encryption:
        codec = http.app.state.codec = EncryptionCodec(settings.encryption)
    return codec


def _login(http: Request, presented: str) -> Response:
    settings: GatewaySettings = http.app.state.settings
    try:
        _codec(http)
        key = find_key(settings, presented.strip()) if presented.strip() else None
        if key is None:
            raise Unauthorized("this API key is not valid")
        if not key.scopes & SCOPES:
            raise Forbidden("this API key lacks the scope for the codec (needs one of: admin, operate)")
    except GatewayError as refused:
        response = message_page("The codec session did not start", refused.message, refused.status)
        response.headers.update(NO_STORE)
        return response
    expires_at = datetime.now(UTC) + SESSION_LIFETIME
    cookie = signing.sign("codec-session", {"f": _fingerprint(settings, key.key)}, expires_at, settings.signing_secret)
    response = page(
        "Codec session started",
        "<h1>Codec session started</h1><div class=card><p class=ok>For the next "
        f"{int(SESSION_LIFETIME.total_seconds() // 3600)} hours, the Temporal web UI in this browser can decode case "
        f"payloads through {escape(settings.public_url)}{PATH}.</p><p class=muted>In the UI's codec server settings, "
        "include cross-origin credentials. Close this tab; <a href=/codec/logout>sign out</a> ends the session.</p></div>",
    )
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path=PATH,
        httponly=True,
        **_cookie_site(settings),
    )
    response.headers.update(NO_STORE)
    return response


def _cookie_site(settings: GatewaySettings) -> dict:
    """Over https: Secure and SameSite=None, so the UI's cross-site fetch carries it. Over http, browsers
    drop SameSite=None without Secure: Lax, which same-site (same host name, any port) fetches still carry."""
    secure = settings.public_url.startswith("https://")
    return {"secure": secure, "samesite": "none" if secure else "lax"}


def _login_form() -> HTMLResponse:
    response = page(
        "Codec sign-in",
        "<h1>Decode case payloads in the Temporal UI</h1><div class=card><form method=post action=/codec/login>"
        "<p><label>An API key with the operate scope<br><input type=password name=key autocomplete=off required></label></p>"
        "<button type=submit>Start a codec session</button></form></div>",
    )
    response.headers.update(NO_STORE)
    return response


class _Unsupported(GatewayError):
    status = 415

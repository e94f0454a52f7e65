"""Payload encryption (DESIGN "Encryption"): an AES-256-GCM `PayloadCodec` with key ids, so keys rotate
and old cases still decode, and the keyed hash that `RequesterEmail` holds instead of the address.

`SUPPORTFLOW_ENCRYPTION_KEY` is `id:base64[,id:base64…]` with 32-byte keys.
The first key encrypts; every listed key decrypts. An encrypted payload is

    metadata: {encoding: binary/encrypted, encryption-key-id: <id>}
    data:     12-byte nonce ‖ AES-GCM(the original Payload, serialized; associated data binds the key id)

A payload without that encoding (a plain-JSON start from another client)
passes through decode unchanged. Search attributes and workflow ids never go
through a codec, so the address is indexed as `hmac:<hex>`: HMAC-SHA256 of
the lower-cased address under a key derived (HKDF) from an encryption key.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import hmac
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverter, PayloadCodec, PayloadConverter
from temporalio.exceptions import ApplicationError

import environment
from environment import SettingsError

if TYPE_CHECKING:
    from temporalio.client import Client

VARIABLE = "SUPPORTFLOW_ENCRYPTION_KEY"
ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Binds each ciphertext to the key id in its metadata: relabelling a payload with another id fails to decrypt.
_ASSOCIATED = b"supportflow-payload-v1:"
_EMAIL_INFO = b"supportflow requester-email v1"
MAKE_A_KEY = "python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'"


class EncryptionKeyError(SettingsError):
    """SUPPORTFLOW_ENCRYPTION_KEY cannot be used; the message names the variable and the entry, never key material."""


class DecryptionError(ValueError):
    """An encrypted payload this keyring cannot open: an unlisted key id, or altered bytes."""


@dataclass(frozen=True)
class Keyring:
    """The listed keys in order: the first encrypts, all decrypt. Its repr shows ids, never keys."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise EncryptionKeyError(f"{VARIABLE} lists no key")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(key_id for key_id, _ in self.keys)

    @property
    def encrypting_id(self) -> str:
        return self.keys[0][0]

    def __repr__(self) -> str:
        return f"Keyring(ids={list(self.ids)})"


def parse_keyring(text: str) -> Keyring:
    """`id:base64[,id:base64…]` → Keyring; raises EncryptionKeyError naming the variable and the entry."""
    keys: list[tuple[str, bytes]] = []
    entries = [entry.strip() for entry in text.split(",")]
    for number, entry in enumerate(entries, start=1):
        if not entry:
            continue
        key_id, colon, encoded = entry.partition(":")
        key_id, encoded = key_id.strip(), encoded.strip()
        where = f"{VARIABLE} entry {number}"
        if not colon or not key_id or not encoded:
            raise EncryptionKeyError(f"{where} is not id:base64 (for example k1:<32 random bytes in base64>)")
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise EncryptionKeyError(f"{where}: the key id may use letters, digits, '.', '_' and '-' (1 to 64 of them)")
        if key_id in (known for known, _ in keys):
            raise EncryptionKeyError(f"{where}: key id {key_id!r} is listed twice")
        key = _base64(encoded)
        if key is None:
            raise EncryptionKeyError(f"{where} (id {key_id!r}): the key is not base64")
        if len(key) != KEY_BYTES:
            raise EncryptionKeyError(
                f"{where} (id {key_id!r}): the key is {len(key)} bytes; AES-256-GCM needs {KEY_BYTES} "
                f"(make one with: {MAKE_A_KEY})"
            )
        keys.append((key_id, key))
    if not keys:
        raise EncryptionKeyError(f"{VARIABLE} lists no key; unset it to turn encryption off")
    return Keyring(tuple(keys))


def _base64(text: str) -> bytes | None:
    """Standard or URL-safe alphabet, padding optional."""
    normal = text.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(normal + "=" * (-len(normal) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def keyring_from_env(env: Mapping[str, str] | None = None) -> Keyring | None:
    """The environment's keyring, or None when SUPPORTFLOW_ENCRYPTION_KEY (or its _FILE) is unset (encryption off)."""
    text = environment.value(VARIABLE, env)
    return parse_keyring(text) if text else None


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM with key ids; payloads without our encoding pass through decode unchanged."""

    def __init__(self, keyring: Keyring):
        self.keyring = keyring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(payload) for payload in payloads]

    def seal(self, payload: Payload) -> Payload:
        key_id = self.keyring.encrypting_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), _ASSOCIATED + key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed)

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(
                f"a payload is encrypted under key id {key_id!r}, which {VARIABLE} does not list "
                f"(it lists {', '.join(self.keyring.ids)}); list that key again, after the first, to read it"
            )
        if len(payload.data) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError(f"a payload under key id {key_id!r} is too short to be ours: it was cut or altered")
        try:
            plain = cipher.decrypt(
                payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], _ASSOCIATED + key_id.encode()
            )
        except InvalidTag:
            raise DecryptionError(
                f"a payload under key id {key_id!r} failed authentication: it was altered, or the key listed as "
                f"{key_id!r} is not the one that encrypted it"
            ) from None
        original = Payload()
        try:
            original.ParseFromString(plain)
        except DecodeError:
            raise DecryptionError(
                f"a payload under key id {key_id!r} decrypted to something that is not a payload"
            ) from None
        return original


# The workflow's own answers to callers (a rejected update; an untyped "the case is still opening") stay readable:
# they quote no requester data, and a failed query reaches clients as its bare message, which the SDK never decodes.
READABLE_FAILURE_TYPES = frozenset({"UpdateRejected", None})


class EncryptedFailureConverter(DefaultFailureConverter):
    """Failure messages and stack traces travel as an (encrypted) payload, as Temporal's "encoded attributes":
    an SMTP refusal or a validation error often quotes an address. Key holders read them as usual; anyone
    else sees "Encoded failure". Each level of a cause chain is judged on its own."""

    def to_failure(self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure) -> None:
        super().to_failure(exception, payload_converter, failure)
        if _readable(exception) or failure.HasField("encoded_attributes"):
            return
        failure.encoded_attributes.CopyFrom(
            payload_converter.to_payloads([{"message": failure.message, "stack_trace": failure.stack_trace}])[0]
        )
        failure.message, failure.stack_trace = "Encoded failure", ""


def _readable(exception: BaseException) -> bool:
    if isinstance(exception, DecryptionError):  # names key ids only; an operator must see it to fix the keys
        return True
    return (
        isinstance(exception, ApplicationError)
        and exception.failure is None
        and exception.type in READABLE_FAILURE_TYPES
    )


def data_converter(keyring: Keyring | Literal["env"] | None = "env") -> DataConverter:
    """The pydantic data converter, with the codec and encrypted failure messages when there is a key
    (by default, the environment's)."""
    if isinstance(keyring, str):
        keyring = keyring_from_env()
    from starter.payloads import PolicyOnceConverter

    converter = dataclasses.replace(pydantic_data_converter, payload_converter_class=PolicyOnceConverter)
    if keyring is None:
        return converter
    return dataclasses.replace(
        converter,
        payload_codec=EncryptionCodec(keyring),
        failure_converter_class=EncryptedFailureConverter,
    )


def keyring_of(client: Client) -> Keyring | None:
    """The keyring `client` encrypts with, or None when its payloads are plain."""
    codec = client.data_converter.payload_codec
    return codec.keyring if isinstance(codec, EncryptionCodec) else None


def requester_email_key(email: str | None, keyring: Keyring | Literal["env"] | None = "env") -> str | None:
    """`hmac:<hex>` of the lower-cased address under the first key; None without an address or a key."""
    keys = requester_email_keys(email, keyring)
    return keys[0] if keys else None


def requester_email_keys(email: str | None, keyring: Keyring | Literal["env"] | None = "env") -> list[str]:
    """The address's hash under every listed key, the encrypting key's first: after a rotation, the cases
    opened under an older key are indexed under that key's hash."""
    if isinstance(keyring, str):
        keyring = keyring_from_env()
    address = (email or "").strip().lower()
    if keyring is None or not address:
        return []
    return [
        f"hmac:{hmac.new(_email_hash_key(key), address.encode(), hashlib.sha256).hexdigest()}"
        for _, key in keyring.keys
    ]


@functools.lru_cache(maxsize=16)
def _email_hash_key(key: bytes) -> bytes:
    """A key of its own for the hash, so the index never reuses the encryption key itself."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_EMAIL_INFO).derive(key)

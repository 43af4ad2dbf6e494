"""Encryption at rest: an AES-256-GCM payload codec with rotating keys.

Every payload a Convoflow process sends to Temporal (workflow and activity inputs and results,
update and signal arguments, query results, memo, summaries, failure details) is encrypted
before it leaves the process; Temporal stores only ciphertext. An encrypted payload is::

    metadata: {"encoding": "binary/encrypted", "encryption-key-id": "<id>",
               "encryption-cipher": "AES256-GCM"}
    data:     12-byte random nonce || AES-256-GCM(serialized original payload) || 16-byte tag

The key id is also the GCM associated data, so a payload cannot be relabelled with another
key's id. Keys live in a key ring (a JSON file or an env var)::

    {"current": "k2", "keys": {"k1": "<base64 of 32 bytes>", "k2": "<base64 of 32 bytes>"}}

New payloads use ``current``; decoding uses whichever key the payload names, so rotating is
"add a key, make it current, keep the old ones" (:func:`write_new_key`). Payloads that are not
encrypted pass through decoding unchanged, so sessions started before encryption was turned
on keep working.
"""

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from models.settings import Settings
from models.storage import private_dir, warn_if_shared

ENCODING = b"binary/encrypted"
KEY_ID_KEY = "encryption-key-id"
CIPHER_KEY = "encryption-cipher"
CIPHER = b"AES256-GCM"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


class CodecConfigError(ValueError):
    """The key ring is missing, malformed or inconsistent (says which, never the key)."""


class PayloadDecryptionError(ValueError):
    """An encrypted payload cannot be decrypted: unknown key id, or tampered/corrupt data."""


def _decode_key(key_id: str, value: object, source: str) -> bytes:
    if not isinstance(value, str):
        raise CodecConfigError(f"{source}: key {key_id!r} must be a base64 string")
    standard = value.strip().replace("-", "+").replace("_", "/")  # url-safe base64 too
    standard += "=" * (-len(standard) % 4)  # and unpadded
    try:
        key = base64.b64decode(standard, validate=True)
    except (binascii.Error, ValueError):
        raise CodecConfigError(f"{source}: key {key_id!r} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise CodecConfigError(
            f"{source}: key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}"
        )
    return key


@dataclass(frozen=True)
class KeyRing:
    """Encryption keys by id, and which one encrypts new payloads."""

    current: str
    keys: Mapping[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        for key_id, key in self.keys.items():
            if not KEY_ID_PATTERN.fullmatch(key_id):
                raise CodecConfigError(f"key id {key_id!r} must match {KEY_ID_PATTERN.pattern}")
            if len(key) != KEY_BYTES:
                raise CodecConfigError(f"key {key_id!r} must be {KEY_BYTES} bytes")
        if self.current not in self.keys:
            raise CodecConfigError(f"current key {self.current!r} is not among the keys")

    @classmethod
    def from_json(cls, text: str, source: str = "codec keys") -> "KeyRing":
        """Parse ``{"current": id, "keys": {id: base64}}``; errors name ``source``."""
        try:
            document: Any = json.loads(text)
        except json.JSONDecodeError as err:
            raise CodecConfigError(f"{source}: not valid JSON ({err.msg})") from None
        if not isinstance(document, dict):
            raise CodecConfigError(f"{source}: expected a JSON object")
        keys = document.get("keys")
        if not isinstance(keys, dict) or not keys:
            raise CodecConfigError(f'{source}: "keys" must be a non-empty object of id: base64')
        current = document.get("current")
        if not isinstance(current, str):
            raise CodecConfigError(f'{source}: "current" must name one of the keys')
        decoded = {
            str(key_id): _decode_key(str(key_id), value, source) for key_id, value in keys.items()
        }
        try:
            return cls(current=current, keys=decoded)
        except CodecConfigError as err:
            raise CodecConfigError(f"{source}: {err}") from None

    @classmethod
    def from_file(cls, path: Path) -> "KeyRing":
        """Load a key file written by :func:`write_new_key` (or by hand)."""
        try:
            text = path.read_text()
        except OSError as err:
            raise CodecConfigError(f"cannot read codec key file {path}: {err.strerror}") from None
        warn_if_shared(path, "codec key file")
        return cls.from_json(text, source=f"codec key file {path}")

    def to_json(self) -> str:
        """The key file document (contains the keys: keep it secret)."""
        keys = {key_id: base64.b64encode(key).decode() for key_id, key in self.keys.items()}
        return json.dumps({"current": self.current, "keys": keys}, indent=2) + "\n"

    def with_new_key(self, key_id: str | None = None) -> "KeyRing":
        """This ring plus a fresh random key, which becomes current (old keys stay)."""
        key_id = key_id or new_key_id()
        if key_id in self.keys:
            raise CodecConfigError(f"key id {key_id!r} already exists")
        return KeyRing(current=key_id, keys={**self.keys, key_id: generate_key()})


def generate_key() -> bytes:
    """32 random bytes for AES-256."""
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def new_key_id() -> str:
    """A sortable, unique key id such as ``k20250101-120000-1a2b3c``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"k{stamp}-{secrets.token_hex(3)}"


def write_new_key(path: Path, key_id: str | None = None) -> KeyRing:
    """Create ``path`` with one key, or rotate: add a new current key and keep the old ones.

    The file is written atomically with mode 0600. Returns the new ring.
    """
    ring = KeyRing.from_file(path).with_new_key(key_id) if path.exists() else None
    if ring is None:
        key_id = key_id or new_key_id()
        ring = KeyRing(current=key_id, keys={key_id: generate_key()})
    private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(ring.to_json())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return ring


def key_ring_from_settings(settings: Settings) -> KeyRing | None:
    """The key ring configured by ``codec_key_file`` or ``codec_keys``; None if neither."""
    if settings.codec.codec_key_file is not None and settings.codec.codec_keys is not None:
        raise CodecConfigError(
            "set either CONVOFLOW_CODEC_KEY_FILE or CONVOFLOW_CODEC_KEYS, not both"
        )
    if settings.codec.codec_key_file is not None:
        return KeyRing.from_file(settings.codec.codec_key_file.expanduser())
    if settings.codec.codec_keys is not None:
        return KeyRing.from_json(
            settings.codec.codec_keys.get_secret_value(), "CONVOFLOW_CODEC_KEYS"
        )
    return None


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM payload codec over a :class:`KeyRing` (see the module docstring)."""

    def __init__(self, ring: KeyRing) -> None:
        super().__init__()
        self.ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}

    @property
    def current_key_id(self) -> str:
        """The id of the key new payloads are encrypted with."""
        return self.ring.current

    def encrypt(self, payload: Payload) -> Payload:
        """One payload, encrypted with the current key."""
        key_id = self.ring.current
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_KEY: key_id.encode(), CIPHER_KEY: CIPHER},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        """One payload, decrypted; unencrypted payloads are returned as they are."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        cipher = payload.metadata.get(CIPHER_KEY, CIPHER)
        if cipher != CIPHER:
            raise PayloadDecryptionError(f"unsupported cipher {cipher.decode(errors='replace')!r}")
        key_id = payload.metadata.get(KEY_ID_KEY, b"").decode(errors="replace")
        aes = self._ciphers.get(key_id)
        if aes is None:
            known = ", ".join(sorted(self._ciphers))
            raise PayloadDecryptionError(
                f"payload was encrypted with key {key_id!r}, which is not in the key ring"
                f" (known: {known}); add that key to decrypt it"
            )
        data = payload.data
        if len(data) < NONCE_BYTES + TAG_BYTES:
            raise PayloadDecryptionError(f"encrypted payload too short ({len(data)} bytes)")
        try:
            plain = aes.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload failed authentication with key {key_id!r}: tampered or corrupt"
            ) from None
        try:
            return Payload.FromString(plain)
        except DecodeError:
            raise PayloadDecryptionError("decrypted data is not a Temporal payload") from None

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt every payload with the current key."""
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt encrypted payloads with the key each names; pass the others through."""
        return [self.decrypt(payload) for payload in payloads]


def codec_from_settings(settings: Settings) -> EncryptionCodec | None:
    """The codec for ``settings``, or None when no keys are configured."""
    ring = key_ring_from_settings(settings)
    return None if ring is None else EncryptionCodec(ring)

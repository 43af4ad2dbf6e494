"""The AES-256-GCM payload codec: round trip, rotation, tampering, passthrough, key files."""

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from strands.types.exceptions import MaxTokensReachedException
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.strands_agents._failure_converter import StrandsFailureConverter

from models import ChatMessage
from models.settings import Settings
from worker.client import EncryptionPlugin
from worker.codec import (
    CIPHER_KEY,
    ENCODING,
    KEY_ID_KEY,
    CodecConfigError,
    EncryptionCodec,
    KeyRing,
    PayloadDecryptionError,
    codec_from_settings,
    generate_key,
    key_ring_from_settings,
    write_new_key,
)
from worker.converter import SharedAdapterPydanticPayloadConverter
from worker.failures import EncodedSessionFailureConverter, SessionFailureConverter
from worker.replay import replayer

SECRET = "the blue heron sings at midnight"


def _ring(*ids: str, current: str | None = None) -> KeyRing:
    return KeyRing(current=current or ids[-1], keys={key_id: generate_key() for key_id in ids})


def _json_payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_round_trip_hides_the_plaintext_and_restores_the_payload() -> None:
    codec = EncryptionCodec(_ring("k1"))
    original = [_json_payload(SECRET), Payload(metadata={"encoding": b"binary/null"})]
    encoded = await codec.encode(original)
    assert len(encoded) == 2
    for payload in encoded:
        assert payload.metadata["encoding"] == ENCODING
        assert payload.metadata[KEY_ID_KEY] == b"k1"
        assert payload.metadata[CIPHER_KEY] == b"AES256-GCM"
        assert SECRET.encode() not in payload.SerializeToString()
        assert b"json/plain" not in payload.data  # the inner metadata is encrypted too
    assert await codec.decode(encoded) == original


async def test_every_encryption_uses_a_fresh_nonce() -> None:
    codec = EncryptionCodec(_ring("k1"))
    first, second = await codec.encode([_json_payload(SECRET), _json_payload(SECRET)])
    assert first.data[:12] != second.data[:12]
    assert first.data != second.data


async def test_rotation_decrypts_old_payloads_and_encrypts_with_the_new_key() -> None:
    old_ring = _ring("k1")
    old_payload = (await EncryptionCodec(old_ring).encode([_json_payload(SECRET)]))[0]

    rotated = old_ring.with_new_key("k2")
    assert rotated.current == "k2" and set(rotated.keys) == {"k1", "k2"}
    codec = EncryptionCodec(rotated)
    assert await codec.decode([old_payload]) == [_json_payload(SECRET)]
    new_payload = (await codec.encode([_json_payload("fresh")]))[0]
    assert new_payload.metadata[KEY_ID_KEY] == b"k2"
    # ...which the old ring cannot read: it names a key that ring does not have.
    with pytest.raises(PayloadDecryptionError, match=r"key 'k2'.*not in the key ring"):
        await EncryptionCodec(old_ring).decode([new_payload])


async def test_unknown_key_id_is_a_clear_error() -> None:
    payload = (await EncryptionCodec(_ring("gone")).encode([_json_payload(SECRET)]))[0]
    with pytest.raises(PayloadDecryptionError) as err:
        await EncryptionCodec(_ring("k1", "k2")).decode([payload])
    assert "'gone'" in str(err.value) and "known: k1, k2" in str(err.value)


@pytest.mark.parametrize("position", [0, 12, -1])  # nonce, ciphertext, tag
async def test_a_flipped_byte_is_detected(position: int) -> None:
    codec = EncryptionCodec(_ring("k1"))
    payload = (await codec.encode([_json_payload(SECRET)]))[0]
    data = bytearray(payload.data)
    data[position] ^= 0x01
    tampered = Payload(metadata=dict(payload.metadata), data=bytes(data))
    with pytest.raises(PayloadDecryptionError, match="tampered or corrupt"):
        await codec.decode([tampered])


async def test_relabelled_key_id_and_truncated_data_are_detected() -> None:
    ring = KeyRing(current="k1", keys={"k1": generate_key(), "k2": generate_key()})
    codec = EncryptionCodec(ring)
    payload = (await codec.encode([_json_payload(SECRET)]))[0]
    relabelled = Payload(metadata={**dict(payload.metadata), KEY_ID_KEY: b"k2"}, data=payload.data)
    with pytest.raises(PayloadDecryptionError, match="tampered or corrupt"):
        await codec.decode([relabelled])
    # Same key bytes under another id: the id is authenticated data, so this fails too.
    same_key = KeyRing(current="k1", keys={"k1": ring.keys["k1"], "k9": ring.keys["k1"]})
    moved = Payload(metadata={**dict(payload.metadata), KEY_ID_KEY: b"k9"}, data=payload.data)
    with pytest.raises(PayloadDecryptionError, match="tampered or corrupt"):
        await EncryptionCodec(same_key).decode([moved])
    short = Payload(metadata=dict(payload.metadata), data=payload.data[:20])
    with pytest.raises(PayloadDecryptionError, match="too short"):
        await codec.decode([short])
    other_cipher = Payload(metadata={**dict(payload.metadata), CIPHER_KEY: b"ROT13"}, data=b"")
    with pytest.raises(PayloadDecryptionError, match="unsupported cipher"):
        await codec.decode([other_cipher])


async def test_unencrypted_payloads_pass_through_decode_unchanged() -> None:
    codec = EncryptionCodec(_ring("k1"))
    plain = [
        _json_payload("from before encryption"),
        Payload(metadata={"encoding": b"binary/null"}),
    ]
    assert await codec.decode(plain) == plain
    mixed = [plain[0], (await codec.encode([_json_payload(SECRET)]))[0]]
    assert await codec.decode(mixed) == [plain[0], _json_payload(SECRET)]


def test_key_file_is_created_then_rotated_keeping_old_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "codec.json"
    first = write_new_key(path, "first")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert KeyRing.from_file(path) == first and first.current == "first"

    second = write_new_key(path)
    assert second.current != "first" and set(second.keys) == {"first", second.current}
    assert second.keys["first"] == first.keys["first"]
    assert KeyRing.from_file(path) == second
    document = json.loads(path.read_text())
    assert document["current"] == second.current
    assert all(len(base64.b64decode(value)) == 32 for value in document["keys"].values())
    with pytest.raises(CodecConfigError, match="already exists"):
        write_new_key(path, "first")
    assert [p.name for p in path.parent.iterdir()] == ["codec.json"]  # no temp files left


def _document(current: str, **keys: str) -> str:
    return json.dumps({"current": current, "keys": keys})


GOOD = base64.b64encode(bytes(range(32))).decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        (json.dumps({"current": "a"}), '"keys" must be a non-empty object'),
        (json.dumps({"current": "a", "keys": {}}), '"keys" must be a non-empty object'),
        (json.dumps({"keys": {"a": GOOD}}), '"current" must name one of the keys'),
        (_document("b", a=GOOD), "current key 'b' is not among the keys"),
        (_document("a", a="***"), "key 'a' is not valid base64"),
        (_document("a", a=base64.b64encode(b"short").decode()), "is 5 bytes; AES-256 needs 32"),
        (_document("bad id", **{"bad id": GOOD}), "key id 'bad id' must match"),
        (json.dumps({"current": "a", "keys": {"a": 7}}), "must be a base64 string"),
    ],
)
def test_key_file_validation_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(CodecConfigError, match=r"keys\.json") as err:
        KeyRing.from_json(text, source="keys.json")
    assert message in str(err.value)
    assert GOOD not in str(err.value)  # never the key material


def test_key_ring_accepts_url_safe_base64_and_hides_keys_in_repr() -> None:
    key = bytes([0xFB] * 32)  # '+' and '/' in standard base64
    ring = KeyRing.from_json(_document("a", a=base64.urlsafe_b64encode(key).decode()))
    assert ring.keys["a"] == key
    assert "keys" not in repr(ring) and base64.b64encode(key).decode() not in repr(ring)


def test_settings_choose_the_key_source(tmp_path: Path) -> None:
    assert key_ring_from_settings(Settings()) is None
    assert codec_from_settings(Settings()) is None
    path = tmp_path / "codec.json"
    ring = write_new_key(path, "k1")
    assert key_ring_from_settings(Settings(codec_key_file=path)) == ring
    inline = Settings(codec_keys=ring.to_json())
    assert key_ring_from_settings(inline) == ring
    assert ring.to_json() not in repr(inline)  # SecretStr
    with pytest.raises(CodecConfigError, match="not both"):
        key_ring_from_settings(Settings(codec_key_file=path, codec_keys=ring.to_json()))
    with pytest.raises(CodecConfigError, match="cannot read codec key file"):
        key_ring_from_settings(Settings(codec_key_file=tmp_path / "missing.json"))


def test_settings_read_the_key_file_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ring = write_new_key(tmp_path / "codec.json", "env-key")
    monkeypatch.setenv("CONVOFLOW_CODEC_KEY_FILE", str(tmp_path / "codec.json"))
    codec = codec_from_settings(Settings())
    assert codec is not None and codec.ring == ring
    monkeypatch.delenv("CONVOFLOW_CODEC_KEY_FILE")
    monkeypatch.setenv("CONVOFLOW_CODEC_KEYS", ring.to_json())
    codec = codec_from_settings(Settings())
    assert codec is not None and codec.current_key_id == "env-key"


# ------------------------------------------------------- composition with the Strands plugin


def _replayer_converter(settings: Settings) -> DataConverter:
    converter = replayer(settings).config(active_config=True).get("data_converter")
    assert converter is not None
    return converter


def test_without_keys_the_converter_is_the_strands_plugins_own() -> None:
    converter = _replayer_converter(Settings())
    assert converter.payload_codec is None
    # The Strands plugin's pydantic conversions, with a process-wide adapter cache.
    assert converter.payload_converter_class is SharedAdapterPydanticPayloadConverter
    # Strands' failure converter plus our rules (worker/failures.py).
    assert converter.failure_converter_class is SessionFailureConverter
    assert issubclass(SessionFailureConverter, StrandsFailureConverter)


async def test_with_keys_the_strands_converters_stay_and_the_codec_is_added(
    tmp_path: Path,
) -> None:
    write_new_key(tmp_path / "codec.json", "k1")
    converter = _replayer_converter(Settings(codec_key_file=tmp_path / "codec.json"))
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert converter.payload_converter_class is SharedAdapterPydanticPayloadConverter
    assert converter.failure_converter_class is EncodedSessionFailureConverter
    assert isinstance(converter.failure_converter, StrandsFailureConverter)

    # Pydantic models round-trip through the codec.
    message = ChatMessage(message_id="m-1", role="user", message=SECRET)
    payloads = await converter.encode([message])
    assert payloads[0].metadata["encoding"] == ENCODING
    assert SECRET.encode() not in payloads[0].SerializeToString()
    assert await converter.decode(payloads, [ChatMessage]) == [message]

    # A Strands failure still becomes the same typed, non-retryable error; its message and
    # stack trace travel encrypted and come back on decode.
    failure = Failure()
    try:
        raise MaxTokensReachedException(f"ran out of tokens: {SECRET}")
    except MaxTokensReachedException as exc:
        await converter.encode_failure(exc, failure)
    assert failure.message == "Encoded failure" and failure.stack_trace == ""
    assert failure.application_failure_info.type == "MaxTokensReachedException"
    assert failure.application_failure_info.non_retryable
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    assert SECRET.encode() not in failure.SerializeToString()
    error = await converter.decode_failure(failure)
    assert isinstance(error, ApplicationError)
    assert error.message == f"ran out of tokens: {SECRET}"
    assert error.type == "MaxTokensReachedException" and error.non_retryable


async def test_failure_encoding_can_be_turned_off(tmp_path: Path) -> None:
    write_new_key(tmp_path / "codec.json", "k1")
    settings = Settings(codec_key_file=tmp_path / "codec.json", codec_encode_failures=False)
    converter = _replayer_converter(settings)
    assert converter.failure_converter_class is SessionFailureConverter
    failure = Failure()
    await converter.encode_failure(MaxTokensReachedException("visible"), failure)
    assert failure.message == "visible"


def test_plugin_on_a_bare_converter_uses_the_default_encoded_failure_converter() -> None:
    plugin = EncryptionPlugin(EncryptionCodec(_ring("k1")))
    config = plugin.configure_client({"data_converter": DataConverter.default})  # type: ignore[typeddict-item]
    converter = config["data_converter"]
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert converter.failure_converter_class.__name__ == (
        "DefaultFailureConverterWithEncodedAttributes"
    )

"""Encryption at rest on a real dev server: what Temporal stores is ciphertext, the codec
client reads it back, the codec server decodes it for the UI/CLI, the replayer replays it."""

import asyncio
import base64
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.strands_agents._failure_converter import StrandsFailureConverter

from client import SessionClient, TurnFailedError
from client.streaming import Delta
from models import ChatReply, SessionConfig, session_workflow_id
from models.settings import Settings
from tests.conftest import TEMPORAL_CLI, make_settings
from tests.helpers import eventually, new_session_id
from tests.providers import TEST_PROVIDERS
from worker.client import connect_client
from worker.codec import ENCODING, EncryptionCodec, KeyRing, write_new_key
from worker.codec_server import DEFAULT_CORS_ORIGINS, build_codec_app, ui_origins
from worker.failures import EncodedSessionFailureConverter
from worker.lifecycle import bound_socket, serving
from worker.replay import load_history, replay_histories
from worker.run import running_worker

SECRET = "quokka-zanzibar-7741 hides the violet key"
SECRET_WORDS = ("quokka-zanzibar-7741", "violet")
FAILURE_TEXT = "provider exploded on purpose"
TOKEN = "test-codec-token-0123456789abcdefghij"
UI_ORIGIN = "http://localhost:8233"


@dataclass
class Encrypted:
    """A codec-configured worker and client, and one finished encrypted session."""

    settings: Settings
    sessions: SessionClient
    plain: Client
    codec: EncryptionCodec
    session_id: str
    workflow_id: str
    raw_history: WorkflowHistory  # as fetched by a client without the codec
    replies: list[str]


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _payloads(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every ``Payload`` inside a proto message, with its field path."""
    if isinstance(message, Payload):
        yield path, message
        return
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        name = f"{path}.{field.name}" if path else field.name
        if _is_map(field):
            for key, item in value.items():
                if isinstance(item, Message):
                    yield from _payloads(item, f"{name}[{key}]")
        elif field.is_repeated:
            for index, item in enumerate(value):
                yield from _payloads(item, f"{name}[{index}]")
        else:
            yield from _payloads(value, name)


def _failures(message: Message) -> Iterator[Failure]:
    """Every ``Failure`` inside a proto message (causes included)."""
    if isinstance(message, Failure):
        yield message
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE or _is_map(field):
            continue
        for item in value if field.is_repeated else [value]:
            yield from _failures(item)


def _event_payloads(history: WorkflowHistory) -> list[tuple[HistoryEvent, str, Payload]]:
    return [
        (event, path, payload) for event in history.events for path, payload in _payloads(event)
    ]


CORE_MARKER_DETAILS = (
    "marker_recorded_event_attributes.details[patch-data]",  # a patch id
    "marker_recorded_event_attributes.details[data]",  # local activity seq, type, times
)


def _not_codec_subject(path: str) -> bool:
    """What never goes through a codec: search attributes (the server indexes them), headers,
    and the SDK core's own marker bookkeeping (a local activity's result is encrypted)."""
    return "search_attributes" in path or "header" in path or path.startswith(CORE_MARKER_DETAILS)


@pytest.fixture(scope="module")
async def encrypted(
    dev_address: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Encrypted]:
    data_dir = tmp_path_factory.mktemp("convoflow-encrypted")
    key_file = data_dir / "codec-keys.json"
    write_new_key(key_file, "test-k1")
    settings = make_settings(dev_address, data_dir, codec_key_file=key_file)
    client = await connect_client(settings, TEST_PROVIDERS)
    plain = await Client.connect(dev_address)
    sessions = SessionClient(client, settings)
    codec = client.data_converter.payload_codec
    assert isinstance(codec, EncryptionCodec)

    async with running_worker(client, settings, TEST_PROVIDERS):
        session_id = new_session_id("secret")
        config = SessionConfig(model="failing", model_max_attempts=1)
        replies = []
        # An update turn (update-with-start), a streamed turn, a failed turn, a signalled
        # message and a close reason: every route a user's text can take into history.
        reply = await sessions.send(
            session_id, f"remember {SECRET}", user_id="alice", config=config
        )
        replies.append(reply.reply)
        streamed = [
            item async for item in sessions.stream(session_id, f"stream {SECRET}", user_id="alice")
        ]
        assert any(isinstance(item, Delta) for item in streamed)
        final = streamed[-1]
        assert isinstance(final, ChatReply)
        replies.append(final.reply)
        with pytest.raises(TurnFailedError, match=FAILURE_TEXT):
            await sessions.send(session_id, f"please fail {SECRET}", user_id="alice")
        await sessions.submit(session_id, f"queued {SECRET}", user_id="alice")
        await eventually(
            lambda: sessions.history(session_id),
            lambda history: len(history) == 8 and history[-1].role == "assistant",
        )
        history = await sessions.history(session_id)
        roles = ["user", "assistant", "user", "assistant", "user", "error", "user", "assistant"]
        assert [m.role for m in history] == roles
        assert history[5].message == f"Session error: ProviderExplodedError: {FAILURE_TEXT}"
        replies.append(history[-1].message)
        summary = await sessions.close(session_id, reason=f"closing {SECRET}")
        assert summary is not None and summary.turns == 4

        workflow_id = session_workflow_id("default", session_id)
        raw_history = await plain.get_workflow_handle(workflow_id).fetch_history()
        yield Encrypted(
            settings, sessions, plain, codec, session_id, workflow_id, raw_history, replies
        )


async def test_the_codec_client_reads_the_conversation_back(encrypted: Encrypted) -> None:
    assert encrypted.replies == [
        f"echo: remember {SECRET}",
        f"echo: stream {SECRET}",
        f"echo: queued {SECRET}",
    ]
    # The client keeps the Strands plugin's failure converter (in its encoded variant).
    converter = encrypted.sessions.temporal.data_converter
    assert isinstance(converter.failure_converter, StrandsFailureConverter)
    assert converter.failure_converter_class is EncodedSessionFailureConverter
    # The finished session's result and its kept messages decode through the codec client.
    summary = await encrypted.sessions.handle(encrypted.session_id).result()
    assert summary.reason == f"closing {SECRET}"
    history = await encrypted.sessions.history(encrypted.session_id)
    assert [m.message for m in history if m.role == "user"] == [
        f"remember {SECRET}",
        f"stream {SECRET}",
        f"please fail {SECRET}",
        f"queued {SECRET}",
    ]


async def test_nothing_temporal_stores_contains_the_plaintext(encrypted: Encrypted) -> None:
    history = encrypted.raw_history
    for event in history.events:
        raw = event.SerializeToString()
        for text in (SECRET, *SECRET_WORDS, FAILURE_TEXT):
            assert text.encode() not in raw, f"{text!r} in plaintext in event {event.event_id}"
    as_json = history.to_json()
    for text in (SECRET, *SECRET_WORDS, FAILURE_TEXT):
        assert text not in as_json

    found = _event_payloads(history)
    clear = [
        f"{event.event_id} {path}"
        for event, path, payload in found
        if not _not_codec_subject(path) and payload.metadata.get("encoding") != ENCODING
    ]
    assert clear == [], "payloads stored without encryption"
    encrypted_paths = {path.split(".")[0] for _, path, p in found if not _not_codec_subject(path)}
    for kind in (
        "workflow_execution_started_event_attributes",  # session input
        "workflow_execution_update_accepted_event_attributes",  # send_message
        "workflow_execution_update_completed_event_attributes",  # the reply
        "workflow_execution_signaled_event_attributes",  # submit_message, close, stream
        "activity_task_scheduled_event_attributes",  # model and memory inputs
        "activity_task_completed_event_attributes",  # model output
        "activity_task_failed_event_attributes",  # the failed turn's error
        "workflow_execution_completed_event_attributes",  # the session summary
    ):
        assert kind in encrypted_paths, f"no encrypted payload in any {kind}"

    # The failed model call's error message is stored encoded, with its type still visible...
    failed = [e for e in history.events if e.HasField("activity_task_failed_event_attributes")]
    failure = failed[0].activity_task_failed_event_attributes.failure
    assert failure.message == "Encoded failure" and failure.stack_trace == ""
    assert failure.application_failure_info.type == "ProviderExplodedError"
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    # ...and so is every other failure in the history (the failed update's, causes included).
    failures = [f for event in history.events for f in _failures(event)]
    assert len(failures) >= 2
    assert {f.message for f in failures} == {"Encoded failure"}

    # ...and the ciphertext really holds the conversation.
    subject = [payload for _, path, payload in found if not _not_codec_subject(path)]
    plaintexts = b"".join(p.data for p in await encrypted.codec.decode(subject))
    for text in (SECRET, FAILURE_TEXT):
        assert text.encode() in plaintexts


async def test_replayer_replays_the_encrypted_history_with_the_codec_settings(
    encrypted: Encrypted,
) -> None:
    history = encrypted.raw_history
    outcomes = await replay_histories([("live", history)], encrypted.settings)
    assert [(o.ok, o.error) for o in outcomes] == [(True, None)]

    without_keys = encrypted.settings.updated(codec_key_file=None)
    (outcome,) = await replay_histories([("live", history)], without_keys)
    assert not outcome.ok and outcome.error is not None
    assert "Unknown payload encoding binary/encrypted" in outcome.error

    # Plaintext histories recorded before encryption still replay with the codec configured.
    histories = Path(__file__).resolve().parent.parent / "histories"
    recorded = sorted(histories.glob("*.json"))[:3]
    assert recorded
    outcomes = await replay_histories(
        [(path.name, load_history(path)) for path in recorded], encrypted.settings
    )
    assert [o.error for o in outcomes] == [None] * len(recorded)


# ------------------------------------------------------------------------ codec server


@pytest.fixture(scope="module")
async def codec_url(encrypted: Encrypted) -> AsyncIterator[str]:
    app = build_codec_app(encrypted.codec, token=TOKEN, cors_origins=[UI_ORIGIN])
    async with serving(app, "127.0.0.1", 0, lifespan="off") as url:
        yield url


def _body(payloads: list[Payload]) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def _stored_payloads(encrypted: Encrypted) -> list[Payload]:
    return [
        payload
        for _, path, payload in _event_payloads(encrypted.raw_history)
        if not _not_codec_subject(path)
    ]


async def test_codec_server_decodes_stored_payloads_for_the_ui(
    encrypted: Encrypted, codec_url: str
) -> None:
    stored = _stored_payloads(encrypted)
    auth = {"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default"}
    async with httpx.AsyncClient(base_url=codec_url) as http:
        response = await http.post(
            "/decode",
            content=_body(stored),
            headers={**auth, "Content-Type": "application/json", "Origin": UI_ORIGIN},
        )
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == UI_ORIGIN
        decoded = json_format.Parse(response.content, Payloads()).payloads
        assert len(decoded) == len(stored)
        assert all(p.metadata["encoding"] != ENCODING for p in decoded)
        assert SECRET.encode() in b"".join(p.data for p in decoded)

        # The CLI templates the namespace into the path: /{namespace}/decode works too.
        response = await http.post("/default/decode", content=_body(stored[:1]), headers=auth)
        assert response.status_code == 415  # no JSON content type: refused
        response = await http.post(
            "/default/decode",
            content=_body(stored[:1]),
            headers={**auth, "Content-Type": "application/json"},
        )
        assert response.status_code == 200

        # Encode, then decode: the round trip the UI uses to send a signal.
        plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(SECRET).encode())
        json_auth = {**auth, "Content-Type": "application/json"}
        response = await http.post("/encode", content=_body([plain]), headers=json_auth)
        encoded = json_format.Parse(response.content, Payloads()).payloads
        assert encoded[0].metadata["encoding"] == ENCODING
        assert SECRET.encode() not in encoded[0].data
        response = await http.post("/decode", content=_body(list(encoded)), headers=json_auth)
        assert json_format.Parse(response.content, Payloads()).payloads == [plain]


async def test_codec_server_refuses_without_the_token(encrypted: Encrypted, codec_url: str) -> None:
    body = _body(_stored_payloads(encrypted)[:1])
    json_type = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=codec_url) as http:
        for headers in (
            json_type,
            {**json_type, "Authorization": "Bearer wrong"},
            {**json_type, "Authorization": TOKEN},  # not a bearer header
        ):
            response = await http.post("/decode", content=body, headers=headers)
            assert response.status_code == 401, headers
            assert SECRET not in response.text
        response = await http.post(
            "/decode",
            content=body,
            headers={**json_type, "Origin": UI_ORIGIN},
        )
        # The browser can read the refusal (CORS headers on errors too).
        assert response.status_code == 401
        assert response.headers["access-control-allow-origin"] == UI_ORIGIN


async def test_codec_server_answers_cors_preflight_for_the_ui_only(codec_url: str) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    async with httpx.AsyncClient(base_url=codec_url) as http:
        response = await http.options("/decode", headers={**preflight, "Origin": UI_ORIGIN})
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == UI_ORIGIN
        assert "POST" in response.headers["access-control-allow-methods"]
        allowed = response.headers["access-control-allow-headers"].lower()
        for header in ("authorization", "content-type", "x-namespace"):
            assert header in allowed
        assert response.headers["access-control-allow-credentials"] == "true"

        response = await http.options(
            "/decode", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert response.status_code == 403
        assert "access-control-allow-origin" not in response.headers
        response = await http.post(
            "/decode",
            content="{}",
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "Content-Type": "application/json",
                "Origin": "https://evil.example",
            },
        )
        assert response.status_code == 403


async def test_codec_server_reports_bad_requests(encrypted: Encrypted, codec_url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    stored = _stored_payloads(encrypted)[0]
    tampered = Payload(metadata=dict(stored.metadata), data=stored.data[:-1] + b"\x00")
    foreign = (await EncryptionCodec(KeyRing.from_json(_other_ring())).encode([stored]))[0]
    async with httpx.AsyncClient(base_url=codec_url) as http:
        response = await http.post("/decode", content="not json", headers=headers)
        assert response.status_code == 400
        response = await http.post("/decode", content=_body([tampered]), headers=headers)
        assert response.status_code == 400 and "tampered" in response.json()["error"]
        response = await http.post("/decode", content=_body([foreign]), headers=headers)
        assert response.status_code == 400 and "'other'" in response.json()["error"]
        response = await http.post("/elsewhere", content="{}", headers=headers)
        assert response.status_code == 404
        response = await http.get("/decode", headers=headers)
        assert response.status_code == 405


async def test_codec_server_refuses_hostile_json_with_400(codec_url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    hostile = {
        "deep": "[" * 5000 + "]" * 5000,  # a RecursionError (500) before
        "repeated keys": '{"payloads": [], "payloads": []}',
    }
    async with httpx.AsyncClient(base_url=codec_url) as http:
        for what, body in hostile.items():
            response = await http.post("/decode", content=body, headers=headers)
            assert response.status_code == 400, what
            assert "Payloads JSON" in response.json()["error"], what


async def test_codec_server_logs_refused_origins(
    codec_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Origin": "http://localhost:9999"}
    with caplog.at_level("WARNING", "convoflow.codec_server"):
        async with httpx.AsyncClient(base_url=codec_url) as http:
            response = await http.options("/decode", headers=preflight)
    assert response.status_code == 403
    assert "refused origin 'http://localhost:9999'" in caplog.text
    assert "--cors-origin" in caplog.text


def test_codec_server_token_must_be_as_long_as_the_gateway_secret(encrypted: Encrypted) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        build_codec_app(encrypted.codec, token="short-token")
    assert build_codec_app(encrypted.codec, token="x" * 32) is not None


def test_codec_server_default_origins_are_both_loopback_names() -> None:
    assert set(DEFAULT_CORS_ORIGINS) == {"http://localhost:8233", "http://127.0.0.1:8233"}
    assert ui_origins(9233) == ("http://localhost:9233", "http://127.0.0.1:9233")


def _other_ring() -> str:
    return KeyRing(current="other", keys={"other": bytes(32)}).to_json()


def test_codec_server_will_not_start_without_a_token(encrypted: Encrypted) -> None:
    with pytest.raises(ValueError, match="bearer token"):
        build_codec_app(encrypted.codec, token=None)
    assert build_codec_app(encrypted.codec, token=None, insecure=True) is not None


async def test_temporal_cli_shows_the_conversation_through_the_codec_server(
    encrypted: Encrypted, codec_url: str, dev_address: str
) -> None:
    base = [
        str(TEMPORAL_CLI),
        "workflow",
        "show",
        "--address",
        dev_address,
        "--workflow-id",
        encrypted.workflow_id,
        "--output",
        "json",
    ]

    def run(*extra: str) -> str:
        done = subprocess.run([*base, *extra], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    without = await asyncio.to_thread(run)
    with_codec = await asyncio.to_thread(
        run, "--codec-endpoint", codec_url, "--codec-auth", f"Bearer {TOKEN}"
    )
    assert SECRET not in with_codec  # JSON output keeps payload data base64...
    # ...but the codec server turned it into plaintext JSON payloads.
    assert SECRET.encode() not in _cli_payload_data(without)
    assert SECRET.encode() in _cli_payload_data(with_codec)


def _cli_payload_data(output: str) -> bytes:
    """The bytes of every payload in ``temporal workflow show -o json`` output."""
    found: list[bytes] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("metadata"), dict) and isinstance(node.get("data"), str):
                found.append(base64.b64decode(node["data"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(output))
    return b"\n".join(found)


def test_cli_keygen_creates_and_rotates_a_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    convoflow = TEMPORAL_CLI.parent / "convoflow"
    for expected_keys in (1, 2):
        done = subprocess.run(
            [str(convoflow), "codec-keygen", "--out", str(path), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        ring = KeyRing.from_file(path)
        assert result["current"] == ring.current and len(result["key_ids"]) == expected_keys
        for key in ring.keys.values():  # the keys never reach stdout
            assert base64.b64encode(key).decode() not in done.stdout


def _free_port() -> int:
    with bound_socket("127.0.0.1", 0) as sock:
        port: int = sock.getsockname()[1]
        return port


async def test_cli_codec_server_needs_keys_and_a_token(tmp_path: Path) -> None:
    convoflow = str(TEMPORAL_CLI.parent / "convoflow")
    key_file = tmp_path / "keys.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVOFLOW_CODEC")}

    def refused(*args: str) -> str:
        done = subprocess.run(
            [convoflow, "codec-server", *args], capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 2, done.stderr
        return done.stderr

    assert "no codec keys" in await asyncio.to_thread(refused)
    write_new_key(key_file, "cli-key")
    stderr = await asyncio.to_thread(refused, "--codec-key-file", str(key_file))
    assert "CONVOFLOW_CODEC_SERVER_TOKEN" in stderr

    port = _free_port()
    server = await asyncio.create_subprocess_exec(
        *(convoflow, "codec-server", "--codec-key-file", str(key_file), "--port", str(port)),
        env={**env, "CONVOFLOW_CODEC_SERVER_TOKEN": TOKEN},
        stderr=subprocess.PIPE,
    )
    try:
        plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(SECRET).encode())
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def encode() -> httpx.Response | None:
                try:
                    return await http.post("/encode", content=_body([plain]), headers=headers)
                except httpx.ConnectError:
                    return None

            response = await eventually(encode, lambda r: r is not None, timeout=30)
            assert response is not None and response.status_code == 200
            encoded = json_format.Parse(response.content, Payloads()).payloads
            assert encoded[0].metadata["encryption-key-id"] == b"cli-key"
            response = await http.post("/decode", content=_body(list(encoded)), headers=headers)
            assert json_format.Parse(response.content, Payloads()).payloads == [plain]
            response = await http.post("/decode", content=_body(list(encoded)))
            assert response.status_code == 401
    finally:
        server.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(server.communicate(), 30)
    stderr = err.decode()
    assert server.returncode == 0, stderr
    assert f"codec server on http://127.0.0.1:{port}" in stderr
    assert base64.b64encode(KeyRing.from_file(key_file).keys["cli-key"]).decode() not in stderr

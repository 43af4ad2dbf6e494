"""``convoflow dev`` as a person runs it: dev server, worker, gateway with the chat page, and
the codec server wired into the Temporal UI; its files private on disk."""

import asyncio
import os
import re
import signal
import stat
import sys
from pathlib import Path

import httpx

from tests.helpers import new_session_id
from worker.lifecycle import bound_socket


def _free_ports(count: int) -> list[int]:
    sockets = [bound_socket() for _ in range(count)]
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


async def _read_until(stream: asyncio.StreamReader, pattern: bytes, seen: list[bytes]) -> None:
    while not re.search(pattern, b"".join(seen)):
        line = await asyncio.wait_for(stream.readline(), timeout=90)
        assert line, b"".join(seen).decode(errors="replace")
        seen.append(line)


async def test_dev_serves_the_chat_page_and_the_codec_server(tmp_path: Path) -> None:
    grpc, ui, gateway, codec = _free_ports(4)
    data_dir = tmp_path / "data"
    env = {**os.environ, "CONVOFLOW_MODEL": "echo"}
    env.pop("CONVOFLOW_CODEC_KEY_FILE", None)
    old_umask = os.umask(0o022)  # the usual umask: files would be 0644 without care
    try:
        dev = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli.main",
            "dev",
            "--no-chat",
            "--data-dir",
            str(data_dir),
            "--port",
            str(grpc),
            "--ui-port",
            str(ui),
            "--gateway-port",
            str(gateway),
            "--codec-server",
            "--codec-port",
            str(codec),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    finally:
        os.umask(old_umask)
    seen: list[bytes] = []
    try:
        assert dev.stderr is not None
        await _read_until(dev.stderr, rb"Press Ctrl-C", seen)
        banner = b"".join(seen).decode()
        assert f"Chat page: http://127.0.0.1:{gateway}/" in banner
        assert f"Codec server: http://127.0.0.1:{codec}" in banner
        assert f"Temporal UI: http://127.0.0.1:{ui}/" in banner

        async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
            page = await http.get(f"http://127.0.0.1:{gateway}/")
            assert page.status_code == 200 and "<html" in page.text.lower()
            session_id = new_session_id("dev")
            reply = await http.post(
                f"http://127.0.0.1:{gateway}/invocations",
                json={"prompt": "hello", "session_id": session_id},
            )
            assert reply.status_code == 200, reply.text
            assert reply.json()["reply"] == "echo: hello"
            # The UI reaches the codec server under either name of loopback.
            for origin in (f"http://localhost:{ui}", f"http://127.0.0.1:{ui}"):
                preflight = await http.options(
                    f"http://127.0.0.1:{codec}/decode",
                    headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
                )
                assert preflight.status_code == 204, origin
            # The Web UI was told where to decode.
            ui_settings = await http.get(f"http://127.0.0.1:{ui}/api/v1/settings")
            assert f"127.0.0.1:{codec}" in ui_settings.text

        # Everything at rest is private to the user: data dir 0700, files 0600.
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        for name in ("temporal.db", "memory.db", "codec-keys.json"):
            mode = stat.S_IMODE((data_dir / name).stat().st_mode)
            assert mode == 0o600, (name, oct(mode))
        for extra in data_dir.glob("memory.db-*"):
            assert stat.S_IMODE(extra.stat().st_mode) == 0o600, extra.name
    finally:
        if dev.returncode is None:
            dev.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(dev.wait(), timeout=60)
    assert code == 0, b"".join(seen).decode(errors="replace")

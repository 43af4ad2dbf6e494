"""Real processes for fault tests: ``convoflow worker`` subprocesses and free ports."""

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from pathlib import Path

READY_LINE = b"worker polling task queue"


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports."""
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


class WorkerProcess:
    """One ``convoflow worker`` at a time on a private task queue, killable and restartable.

    Each start writes its own log in ``log_dir``; :meth:`kill` is SIGKILL (no graceful
    shutdown, in-flight tasks are simply lost), :meth:`stop` is SIGTERM.
    """

    def __init__(
        self,
        address: str,
        task_queue: str,
        data_dir: Path,
        log_dir: Path,
        *,
        echo_delay_ms: float = 20,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        """Configure the worker's ``CONVOFLOW_*`` environment."""
        self.env = {
            **os.environ,
            "CONVOFLOW_TEMPORAL_ADDRESS": address,
            "CONVOFLOW_TASK_QUEUE": task_queue,
            "CONVOFLOW_DATA_DIR": str(data_dir),
            "CONVOFLOW_ECHO_DELAY_MS": str(echo_delay_ms),
            "CONVOFLOW_MODEL": "echo",
            **(extra_env or {}),
        }
        self.log_dir = log_dir
        self.process: asyncio.subprocess.Process | None = None
        self.log_path: Path | None = None
        self.starts = 0
        self.kills = 0
        self.startup_seconds: list[float] = []

    @property
    def running(self) -> bool:
        """Whether a worker process is alive."""
        return self.process is not None and self.process.returncode is None

    async def start(self, *, wait_ready: float = 60.0) -> None:
        """Start a worker and wait until it polls its task queue (its log says so)."""
        assert not self.running, "a worker is already running"
        self.starts += 1
        self.log_path = self.log_dir / f"worker-{self.starts:03d}.log"
        began = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cli.main",
                "worker",
                env=self.env,
                stdout=log,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
            )
        deadline = began + wait_ready
        while READY_LINE not in self.log_path.read_bytes():
            if self.process.returncode is not None:
                raise RuntimeError(f"worker exited at start; see {self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker not ready after {wait_ready}s; see {self.log_path}")
            await asyncio.sleep(0.05)
        self.startup_seconds.append(time.monotonic() - began)

    async def kill(self) -> None:
        """SIGKILL the worker and reap it."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            self.kills += 1
        await self.process.wait()

    async def stop(self) -> None:
        """SIGTERM the worker (graceful), SIGKILL it if it does not exit in 30 s."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()

"""The embedded default memory store: one SQLite file under the data dir."""

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from activities.memory.store import MemoryStore
from models import ChatMessage, SessionRef, SessionSummary

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    tenant_id   TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    role        TEXT NOT NULL,
    reply_to    TEXT,
    user_id     TEXT,
    body        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, session_id, message_id)
);
CREATE INDEX IF NOT EXISTS messages_by_seq ON messages (tenant_id, session_id, seq);
CREATE INDEX IF NOT EXISTS messages_by_reply ON messages (tenant_id, session_id, reply_to);
CREATE TABLE IF NOT EXISTS sessions (
    tenant_id   TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    user_id     TEXT,
    archived_at TEXT,
    summary     TEXT,
    PRIMARY KEY (tenant_id, session_id)
);
"""


class SqliteMemoryStore(MemoryStore):
    """Memory store in a SQLite database (WAL mode, safe for several worker processes)."""

    def __init__(self, path: Path) -> None:
        """Open (and create if needed) the database at ``path``."""
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return fn(self._db)

        return await asyncio.to_thread(locked)

    async def record_messages(self, session: SessionRef, messages: list[ChatMessage]) -> int:
        """Insert messages, ignoring ids already stored; return the count inserted."""
        rows = []
        for message in messages:
            if message.message_id is None or message.seq is None:
                raise ValueError("only messages accepted by a session (id and seq set) are stored")
            rows.append(
                (
                    session.tenant_id,
                    session.session_id,
                    message.message_id,
                    message.seq,
                    message.role,
                    message.reply_to,
                    message.user_id,
                    message.model_dump_json(),
                )
            )

        def write(db: sqlite3.Connection) -> int:
            with db:
                before = db.total_changes
                db.executemany(
                    "INSERT OR IGNORE INTO messages (tenant_id, session_id, message_id, seq, role,"
                    " reply_to, user_id, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                return db.total_changes - before

        return await self._run(write)

    async def recent_messages(self, session: SessionRef, limit: int) -> list[ChatMessage]:
        """Return the last ``limit`` messages, oldest first."""

        def read(db: sqlite3.Connection) -> list[str]:
            cursor = db.execute(
                "SELECT body FROM messages WHERE tenant_id = ? AND session_id = ?"
                " ORDER BY seq DESC LIMIT ?",
                (session.tenant_id, session.session_id, limit),
            )
            return [row[0] for row in cursor]

        bodies = await self._run(read)
        return [ChatMessage.model_validate_json(body) for body in reversed(bodies)]

    async def list_messages(
        self, session: SessionRef, *, after_seq: int = -1, limit: int = 100
    ) -> list[ChatMessage]:
        """Page through a session's messages in order."""

        def read(db: sqlite3.Connection) -> list[str]:
            cursor = db.execute(
                "SELECT body FROM messages WHERE tenant_id = ? AND session_id = ? AND seq > ?"
                " ORDER BY seq LIMIT ?",
                (session.tenant_id, session.session_id, after_seq, limit),
            )
            return [row[0] for row in cursor]

        return [ChatMessage.model_validate_json(body) for body in await self._run(read)]

    async def find_reply(self, session: SessionRef, message_id: str) -> ChatMessage | None:
        """Return the message answering ``message_id``, if recorded."""

        def read(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT body FROM messages WHERE tenant_id = ? AND session_id = ? AND reply_to = ?"
                " ORDER BY seq LIMIT 1",
                (session.tenant_id, session.session_id, message_id),
            ).fetchone()
            return None if row is None else str(row[0])

        body = await self._run(read)
        return None if body is None else ChatMessage.model_validate_json(body)

    async def archive_session(self, session: SessionRef, summary: SessionSummary) -> None:
        """Upsert the session row with its summary."""

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.execute(
                    "INSERT INTO sessions (tenant_id, session_id, user_id, archived_at, summary)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, session_id) DO UPDATE SET"
                    " user_id = excluded.user_id, archived_at = excluded.archived_at,"
                    " summary = excluded.summary",
                    (
                        session.tenant_id,
                        session.session_id,
                        session.user_id,
                        summary.ended_at.isoformat(),
                        summary.model_dump_json(),
                    ),
                )

        await self._run(write)

    async def session_summary(self, session: SessionRef) -> SessionSummary | None:
        """Return the archived summary, if any."""

        def read(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT summary FROM sessions WHERE tenant_id = ? AND session_id = ?",
                (session.tenant_id, session.session_id),
            ).fetchone()
            return None if row is None or row[0] is None else str(row[0])

        body = await self._run(read)
        return None if body is None else SessionSummary.model_validate_json(body)

    async def close(self) -> None:
        """Close the database connection."""
        await self._run(lambda db: db.close())

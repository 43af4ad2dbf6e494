"""The embedded default memory store: one SQLite file under the data dir."""

import asyncio
import re
import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from activities.memory.store import MemoryStore
from models import ChatMessage, SessionRef, SessionSummary
from models.memory import ActorRef, MemoryRecord
from models.storage import private_file

T = TypeVar("T")

_WORD = re.compile(r"\w+", re.UNICODE)
_MEMORY_COLUMNS = "record_id, namespace, kind, text, session_id, created_at"


def fts_query(text: str) -> str | None:
    """An FTS5 query matching any word of ``text`` (quoted, so user text is never syntax)."""
    words = sorted({word.lower() for word in _WORD.findall(text) if len(word) > 1})
    return " OR ".join(f'"{word}"' for word in words) or None


def _record(row: tuple[object, ...], score: float | None = None) -> MemoryRecord:
    record_id, namespace, kind, text, session_id, created_at = row
    return MemoryRecord(
        record_id=str(record_id),
        namespace=str(namespace),
        kind=str(kind),
        text=str(text),
        session_id=None if session_id is None else str(session_id),
        created_at=None if created_at is None else datetime.fromisoformat(str(created_at)),
        score=score,
    )


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
CREATE TABLE IF NOT EXISTS memories (
    tenant_id   TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    text        TEXT NOT NULL,
    session_id  TEXT,
    created_at  TEXT,
    UNIQUE (tenant_id, actor_id, record_id)
);
CREATE INDEX IF NOT EXISTS memories_by_actor ON memories (tenant_id, actor_id, namespace);
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(
    text, content='memories', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS memories_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER IF NOT EXISTS memories_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
CREATE TABLE IF NOT EXISTS tool_results (
    tenant_id   TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    tool_use_id TEXT NOT NULL,
    user_id     TEXT,
    text        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, session_id, message_id, tool_use_id)
);
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
        private_file(path)  # conversations in plaintext: owner only (models/storage.py)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        # Reads get their own connection: in WAL mode they never wait for a writer, so a
        # write stuck on a locked database does not hold up recall.
        self._read_lock = threading.Lock()
        self._reader = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._reader.execute("PRAGMA busy_timeout=10000")

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return fn(self._db)

        return await asyncio.to_thread(locked)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._read_lock:
                return fn(self._reader)

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

        bodies = await self._read(read)
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

        return [ChatMessage.model_validate_json(body) for body in await self._read(read)]

    async def find_reply(self, session: SessionRef, message_id: str) -> ChatMessage | None:
        """Return the message answering ``message_id``, if recorded."""

        def read(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT body FROM messages WHERE tenant_id = ? AND session_id = ? AND reply_to = ?"
                " ORDER BY seq LIMIT 1",
                (session.tenant_id, session.session_id, message_id),
            ).fetchone()
            return None if row is None else str(row[0])

        body = await self._read(read)
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

        body = await self._read(read)
        return None if body is None else SessionSummary.model_validate_json(body)

    async def save_tool_result(
        self, session: SessionRef, message_id: str, tool_use_id: str, text: str
    ) -> None:
        """Upsert the call's row (the newest save wins)."""
        row = (session.tenant_id, session.session_id, message_id, tool_use_id, session.user_id)

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.execute(
                    "INSERT OR REPLACE INTO tool_results (tenant_id, session_id, message_id,"
                    " tool_use_id, user_id, text) VALUES (?, ?, ?, ?, ?, ?)",
                    (*row, text),
                )

        await self._run(write)

    async def tool_result(
        self, session: SessionRef, message_id: str, tool_use_id: str
    ) -> str | None:
        """The call's text, if it was saved for this tenant, session and user."""
        key = (session.tenant_id, session.session_id, message_id, tool_use_id, session.user_id)

        def read(db: sqlite3.Connection) -> str | None:
            # ``IS`` compares NULL with NULL too: an ownerless session's results are read
            # without a user, and never with one.
            row = db.execute(
                "SELECT text FROM tool_results WHERE tenant_id = ? AND session_id = ?"
                " AND message_id = ? AND tool_use_id = ? AND user_id IS ?",
                key,
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._read(read)

    async def save_memories(self, actor: ActorRef, records: list[MemoryRecord]) -> int:
        """Insert records, ignoring record ids this actor already has."""
        rows = [
            (
                actor.tenant_id,
                actor.actor_id,
                record.record_id,
                record.namespace,
                record.kind,
                record.text,
                record.session_id,
                record.created_at.isoformat() if record.created_at else None,
            )
            for record in records
        ]

        def write(db: sqlite3.Connection) -> int:
            with db:
                # rowcount counts inserted rows only, not the FTS trigger's writes.
                cursor = db.executemany(
                    "INSERT OR IGNORE INTO memories (tenant_id, actor_id, record_id, namespace,"
                    " kind, text, session_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                return max(cursor.rowcount, 0)

        return await self._run(write)

    async def search_memories(
        self, actor: ActorRef, query: str, *, top_k: int = 5, namespaces: list[str] | None = None
    ) -> list[MemoryRecord]:
        """BM25-ranked records of ``actor`` matching any word of ``query``."""
        match = fts_query(query)
        if match is None:
            return []
        namespace_filter = ""
        params: list[object] = [match, actor.tenant_id, actor.actor_id]
        if namespaces:
            namespace_filter = f" AND m.namespace IN ({', '.join('?' * len(namespaces))})"
            params += namespaces
        params.append(top_k)
        columns = ", ".join(f"m.{c.strip()}" for c in _MEMORY_COLUMNS.split(","))

        def read(db: sqlite3.Connection) -> list[tuple[object, ...]]:
            return db.execute(
                f"SELECT {columns}, bm25(memories_fts) AS rank FROM memories_fts"
                " JOIN memories m ON m.rowid = memories_fts.rowid"
                " WHERE memories_fts MATCH ? AND m.tenant_id = ? AND m.actor_id = ?"
                f"{namespace_filter} ORDER BY rank LIMIT ?",
                params,
            ).fetchall()

        return [_record(row[:6], score=-float(str(row[6]))) for row in await self._read(read)]

    async def list_memories(
        self, actor: ActorRef, *, namespace: str | None = None, limit: int = 100
    ) -> list[MemoryRecord]:
        """Records of ``actor``, newest first."""
        namespace_filter = "" if namespace is None else " AND namespace = ?"
        params: list[object] = [actor.tenant_id, actor.actor_id]
        if namespace is not None:
            params.append(namespace)
        params.append(limit)

        def read(db: sqlite3.Connection) -> list[tuple[object, ...]]:
            return db.execute(
                f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE tenant_id = ? AND actor_id = ?"
                f"{namespace_filter} ORDER BY rowid DESC LIMIT ?",
                params,
            ).fetchall()

        return [_record(row) for row in await self._read(read)]

    async def close(self) -> None:
        """Close the database connection."""
        await self._run(lambda db: db.close())
        await self._read(lambda db: db.close())

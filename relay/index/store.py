"""Reading and writing the session index: rows from the session files, holds, removals.

:class:`SessionIndex` wraps an open :class:`wire.database.Database` migrated to the
current schema.  The files under ``--data/sessions/`` stay the source of truth:
:meth:`SessionIndex.reindex` rebuilds every row from them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from relay.index.schema import COLUMN_NAMES, migrate
from relay.index.summary import summarize
from wire.chain import utc_now
from wire.database import Database, open_database

log = logging.getLogger(__name__)

_UPSERT = ("INSERT INTO sessions (" + ", ".join(COLUMN_NAMES) + ") VALUES (" + ", ".join("?" for _ in COLUMN_NAMES)
           + ") ON CONFLICT (session_id) DO UPDATE SET "
           + ", ".join(f"{c} = excluded.{c}" for c in COLUMN_NAMES if c != "session_id"))


class SessionIndex:
    """The index of one relay's sessions (see the module docstring)."""

    def __init__(self, db: Database, data_dir: Path) -> None:
        self.db = db
        self.data_dir = data_dir

    @classmethod
    def open(cls, data_dir: Path, url: str | None = None) -> SessionIndex:
        """Open (and create or migrate) the index of *data_dir*: SQLite inside it, or *url*.

        Raises :class:`wire.errors.Unavailable` when the database cannot be reached,
        :class:`wire.errors.BadParams` for a URL that names no database.
        """
        data_dir.mkdir(parents=True, exist_ok=True)
        db = open_database(url or data_dir, create=True)
        try:
            migrate(db)
        except BaseException:
            db.close()
            raise
        return cls(db, data_dir)

    def close(self) -> None:
        self.db.close()

    def session_dir(self, session_id: str) -> Path:
        return self.data_dir / "sessions" / session_id

    def row(self, session_id: str) -> dict[str, Any] | None:
        names, rows = self.db.query("SELECT * FROM sessions WHERE session_id = ?", (session_id,))
        return dict(zip(names, rows[0], strict=False)) if rows else None

    def update_from_files(self, session_id: str) -> dict[str, Any]:
        """Write the row of *session_id* from its files; returns it.  Raises OSError/ValueError."""
        row = summarize(self.session_dir(session_id), self.row(session_id))
        self.upsert([row])
        return row

    def upsert(self, rows: list[dict[str, Any]]) -> None:
        with self.db.transaction():
            self.db.executemany(_UPSERT, [[row.get(c) for c in COLUMN_NAMES] for row in rows])

    def reindex(self, *, only_missing: bool = False, batch: int = 500) -> int:
        """Rebuild rows from every session's files; *only_missing*: those absent or still open in the index.

        A session whose ``session.json`` cannot be read is logged and skipped.  Returns how many rows were written.
        """
        known: dict[str, bool] = {}
        if only_missing:
            _, rows = self.db.query("SELECT session_id, ended_at FROM sessions")
            known = {str(r[0]): bool(r[1]) for r in rows}
        written = 0
        pending: list[dict[str, Any]] = []
        for meta in sorted((self.data_dir / "sessions").glob("*/session.json")):
            session_id = meta.parent.name
            if known.get(session_id):
                continue
            try:
                pending.append(summarize(meta.parent, self.row(session_id)))
            except (OSError, ValueError, KeyError) as err:
                log.warning("session %s not indexed: %s", session_id, err)
                continue
            if len(pending) >= batch:
                self.upsert(pending)
                written, pending = written + len(pending), []
        self.upsert(pending)
        return written + len(pending)

    # -- holds and removals ------------------------------------------------

    def holds(self, session_ids: list[str] | None = None) -> dict[str, str]:
        """Sessions under a legal hold now → why."""
        _, rows = self.db.query("SELECT session_id, why FROM holds WHERE released_at IS NULL")
        wanted = None if session_ids is None else set(session_ids)
        return {str(r[0]): str(r[1]) for r in rows if wanted is None or r[0] in wanted}

    def add_hold(self, session_id: str, why: str, by: str, at: str) -> None:
        self.db.execute("INSERT INTO holds (session_id, why, held_by, held_at) VALUES (?, ?, ?, ?)",
                        (session_id, why, by, at))

    def release_hold(self, session_id: str, at: str) -> int:
        _, rows = self.db.query("SELECT count(*) FROM holds WHERE session_id = ? AND released_at IS NULL",
                                (session_id,))
        self.db.execute("UPDATE holds SET released_at = ? WHERE session_id = ? AND released_at IS NULL",
                        (at, session_id))
        return int(rows[0][0])

    def removed(self) -> set[tuple[str, str]]:
        """(session id, data class) already removed."""
        _, rows = self.db.query("SELECT session_id, data_class FROM removals")
        return {(str(r[0]), str(r[1])) for r in rows}

    def record_removals(self, rows: list[tuple[str, str, str, int]]) -> None:
        """Each (session id, data class, reason, bytes) removed now."""
        now = utc_now()
        with self.db.transaction():
            self.db.executemany(
                "INSERT INTO removals (session_id, data_class, removed_at, reason, bytes) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (session_id, data_class) DO UPDATE SET removed_at = excluded.removed_at, "
                "reason = excluded.reason, bytes = excluded.bytes",
                [(s, c, now, reason, size) for s, c, reason, size in rows])

    def clear_personal(self, session_ids: list[str]) -> None:
        """Null every personal column of these sessions' rows."""
        from relay.index.schema import PERSONAL_COLUMNS

        sets = ", ".join(f"{c} = NULL" for c in PERSONAL_COLUMNS)
        with self.db.transaction():
            self.db.executemany(f"UPDATE sessions SET {sets} WHERE session_id = ?", [(s,) for s in session_ids])

"""The session index's schema, created and migrated by the relay itself (SQLite and PostgreSQL alike).

One row per session in ``sessions``; every column is described in :data:`COLUMNS` with
whether it holds a personal fact and which retention class it belongs to, and those marks
are stored in the database itself (``field_marks``), so a reader (``workbench.fleet``, an
export) knows what is personal without this module.  ``holds`` keeps legal holds,
``removals`` what retention or erasure removed from each session (class, when).

:func:`migrate` brings a database to :data:`SCHEMA_VERSION`, one step at a time, each in a
transaction; a database newer than this relay is refused (:class:`wire.errors.Unsupported`).
"""

from __future__ import annotations

from dataclasses import dataclass

from wire.database import Database
from wire.errors import Unsupported


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    #: a personal fact (GDPR): exports can redact it, retention's ``personal_facts`` class erases it
    personal: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("session_id", "TEXT PRIMARY KEY", "the session's random id (R1)"),
    Column("technician", "TEXT", "the technician's name"),
    Column("machine_id", "TEXT", "the customer machine's identifier (its id, else its host name)", personal=True),
    Column("machine_hostname", "TEXT", "the customer machine's host name", personal=True),
    Column("machine_user", "TEXT", "the customer's user name on the machine", personal=True),
    Column("machine_serial", "TEXT", "the machine's serial number", personal=True),
    Column("machine_os", "TEXT", "the customer machine's OS"),
    Column("link", "TEXT", "the customer's network link as the agent described it, else 'unknown'"),
    Column("started_at", "TEXT", "start, UTC ISO 8601 (R3)"),
    Column("ended_at", "TEXT", "end, UTC ISO 8601; NULL while open"),
    Column("day", "TEXT", "the start's day, YYYY-MM-DD (UTC)"),
    Column("duration_s", "DOUBLE PRECISION", "seconds from start to end"),
    Column("consent_terms", "TEXT", "the terms' name"),
    Column("consent_sha256", "TEXT", "the terms' sha256"),
    Column("consent_language", "TEXT", "the terms' language"),
    Column("consent_how", "TEXT", "how consent was given"),
    Column("end_reason", "TEXT", "how the session ended"),
    Column("ended_by", "TEXT", "who ended it: customer, technician, relay"),
    Column("calls", "INTEGER", "technician calls"),
    Column("calls_by_kind", "TEXT", "JSON: calls per method family (files, registry, screen, ...)"),
    Column("refusals", "INTEGER", "calls refused by a customer rule"),
    Column("refused_forbidden_folder", "INTEGER", "refused: a forbidden folder (C3) or registry subtree"),
    Column("refused_hidden_area", "INTEGER", "refused: a hidden area of the screen (C4)"),
    Column("refused_not_granted", "INTEGER", "refused: a power the customer had not granted"),
    Column("errors", "INTEGER", "calls that failed otherwise"),
    Column("bytes_to_agent", "BIGINT", "bytes relayed towards the customer"),
    Column("bytes_from_agent", "BIGINT", "bytes relayed from the customer"),
    Column("frames", "INTEGER", "screen frames relayed"),
    Column("frames_per_s", "DOUBLE PRECISION", "frames over the session's duration"),
    Column("latency_p50_ms", "DOUBLE PRECISION", "call round trip at the relay, median"),
    Column("latency_p90_ms", "DOUBLE PRECISION", "call round trip at the relay, 90th percentile"),
    Column("latency_p99_ms", "DOUBLE PRECISION", "call round trip at the relay, 99th percentile"),
    Column("control_s", "DOUBLE PRECISION", "seconds of the technician's live input (T6)"),
    Column("files_changed", "INTEGER", "files written, edited, moved, deleted or uploaded"),
    Column("playbooks", "TEXT", "JSON: playbooks run, in order"),
    Column("playbook", "TEXT", "the first playbook run, for per-playbook figures"),
    Column("recording_bytes", "BIGINT", "size of the session's recordings and screenshots (R5)"),
    Column("journal_records", "INTEGER", "records in the relay's copy of the journal"),
    Column("journal_alerts", "INTEGER", "journal alerts"),
    Column("indexed_at", "TEXT", "when this row was last written from the session's files"),
)

PERSONAL_COLUMNS = tuple(c.name for c in COLUMNS if c.personal)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)

_V1 = [
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "INSERT INTO schema_version (version) VALUES (0)",
    "CREATE TABLE sessions (" + ", ".join(f"{c.name} {c.type}" for c in COLUMNS) + ")",
    "CREATE INDEX sessions_started ON sessions (started_at)",
    "CREATE INDEX sessions_technician ON sessions (technician, started_at)",
    "CREATE INDEX sessions_machine ON sessions (machine_id)",
    "CREATE INDEX sessions_ended ON sessions (ended_at)",
    "CREATE TABLE field_marks (table_name TEXT NOT NULL, column_name TEXT NOT NULL, personal INTEGER NOT NULL, "
    "description TEXT, PRIMARY KEY (table_name, column_name))",
    "CREATE TABLE holds (session_id TEXT NOT NULL, why TEXT NOT NULL, held_by TEXT, held_at TEXT NOT NULL, "
    "released_at TEXT)",
    "CREATE INDEX holds_session ON holds (session_id)",
    "CREATE TABLE removals (session_id TEXT NOT NULL, data_class TEXT NOT NULL, removed_at TEXT NOT NULL, "
    "reason TEXT NOT NULL, bytes BIGINT NOT NULL, PRIMARY KEY (session_id, data_class))",
]

#: Each step's statements; step *n* brings the schema from version n-1 to n.
MIGRATIONS: tuple[list[str], ...] = (_V1,)
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(db: Database) -> int:
    """The schema version of *db*; 0 for an empty database."""
    if db.kind == "postgresql":
        _, rows = db.query("SELECT to_regclass('schema_version') IS NOT NULL")
        exists = bool(rows[0][0])
    else:
        _, rows = db.query("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
        exists = bool(rows[0][0])
    if not exists:
        return 0
    _, rows = db.query("SELECT version FROM schema_version")
    return int(rows[0][0]) if rows else 0


def migrate(db: Database) -> int:
    """Create or upgrade the schema of *db*; returns the version it is now at.

    Raises :class:`wire.errors.Unsupported` when *db* was made by a newer relay.
    """
    version = current_version(db)
    if version > SCHEMA_VERSION:
        raise Unsupported(f"the session index at {db.where} has schema version {version}; this relay knows "
                          f"up to {SCHEMA_VERSION}: upgrade the relay")
    for step in range(version, SCHEMA_VERSION):
        with db.transaction():
            for statement in MIGRATIONS[step]:
                db.execute(statement)
            if step == 0:
                db.executemany("INSERT INTO field_marks (table_name, column_name, personal, description) "
                               "VALUES (?, ?, ?, ?)",
                               [("sessions", c.name, int(c.personal), c.description) for c in COLUMNS])
            db.execute("UPDATE schema_version SET version = ?", (step + 1,))
    return SCHEMA_VERSION

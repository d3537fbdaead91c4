"""One way to open the session index, SQLite or PostgreSQL, for the relay (writes) and the workbench (reads).

A *target* is one of:

- a directory: the relay's ``--data DIR``, whose index is ``DIR/index.sqlite3`` (SQLite: nothing to install);
- a file ending ``.sqlite3``/``.sqlite``/``.db``, or ``sqlite:///PATH``;
- ``postgresql://USER@HOST:PORT/DB`` (or ``postgres://``): PostgreSQL through psycopg 3 (the
  ``relay-postgres`` extra), imported only then.

SQL is written once with ``?`` placeholders; :class:`Database` turns them into psycopg's ``%s``.
Standard library only (psycopg is imported lazily, for a PostgreSQL URL).

Raises :class:`wire.errors.BadParams` for a target that names no database, and
:class:`wire.errors.Unavailable` for a database that cannot be reached or opened.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from wire.errors import BadParams, Unavailable

#: The index's file name inside a relay's ``--data`` directory.
SQLITE_NAME = "index.sqlite3"
_SQLITE_SUFFIXES = (".sqlite3", ".sqlite", ".db")
#: Seconds to wait for a PostgreSQL server before calling it unreachable.
CONNECT_TIMEOUT = 5


def redact_url(url: str) -> str:
    """*url* without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def is_postgres(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


class Database:
    """An open connection, in autocommit; :meth:`transaction` groups writes.

    Not shared between threads: each thread opens its own.
    """

    def __init__(self, connection: Any, kind: str, where: str) -> None:
        self.connection = connection
        self.kind = kind
        #: the file or the redacted URL, for messages
        self.where = where

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.kind == "postgresql" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.connection.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        cursor = self.connection.cursor()
        try:
            cursor.executemany(self._sql(sql), [tuple(r) for r in rows])
        finally:
            cursor.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The column names and rows of a SELECT."""
        cursor = self.connection.cursor()
        try:
            cursor.execute(self._sql(sql), tuple(params))
            names = [d[0] for d in cursor.description or ()]
            return names, [tuple(r) for r in cursor.fetchall()]
        finally:
            cursor.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together, or not at all."""
        if self.kind == "postgresql":
            with self.connection.transaction():
                yield
            return
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()


def sqlite_path(target: str | Path) -> Path:
    """The SQLite file *target* names; raises :class:`BadParams` when it names none."""
    text = str(target)
    if text.startswith("sqlite:///"):
        return Path(text[len("sqlite:///"):])  # sqlite:///relative, sqlite:////absolute
    if "://" in text:
        raise BadParams(f"{redact_url(text)} is not a database this service uses: give a relay's --data directory, "
                        "a .sqlite3 file, or a postgresql:// URL")
    path = Path(text)
    if path.is_dir():
        return path / SQLITE_NAME
    if path.suffix in _SQLITE_SUFFIXES:
        return path
    raise BadParams(f"{text} is neither a relay's --data directory nor a .sqlite3 file")


def open_database(target: str | Path, *, create: bool = False) -> Database:
    """Open the index *target* names (see the module docstring).

    SQLite's file is made only when *create* is true (the relay); a reader given a
    directory without an index is told so.  Raises :class:`BadParams` or :class:`Unavailable`.
    """
    if is_postgres(target):
        return _open_postgres(str(target))
    path = sqlite_path(target)
    if not create and not path.exists():
        raise Unavailable(f"there is no session index at {path}: has a relay run with this --data?")
    try:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error as err:
        raise Unavailable(f"cannot open the session index {path}: {err}") from err
    return Database(connection, "sqlite", str(path))


def _open_postgres(url: str) -> Database:
    try:
        import psycopg
    except ImportError as err:
        raise Unavailable("a postgresql:// index needs psycopg: pip install 'workbench[relay-postgres]'") from err
    try:
        connection = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.Error as err:
        raise Unavailable(f"cannot reach the database at {redact_url(url)}: {str(err).strip()}") from err
    return Database(connection, "postgresql", redact_url(url))


def database_errors() -> tuple[type[BaseException], ...]:
    """The driver errors an open database can raise (sqlite3's, and psycopg's when it is installed)."""
    errors: list[type[BaseException]] = [sqlite3.Error]
    try:
        import psycopg
    except ImportError:
        pass
    else:
        errors.append(psycopg.Error)
    return tuple(errors)

"""A real PostgreSQL server for the tests, from Debian's ``postgresql`` package (scripts/setup installs it).

:class:`PostgresServer` runs ``initdb`` in a temporary directory and ``postgres`` on a free port of
127.0.0.1 with its unix socket in that directory; as root it runs both as ``nobody`` (PostgreSQL
refuses to run as root).  It waits for the server's own "ready to accept connections" line, never
for a fixed time, and stops only the server it started.
"""

from __future__ import annotations

import contextlib
import glob
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

from tests import requires


def pg_program(name: str) -> str:
    """The path of PostgreSQL's *name* (initdb, postgres); the test fails naming the package when absent."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    return requires.tool(name, "postgresql")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="wb-pg-"))
        self.port = free_port()
        self.user: str | None = "nobody" if os.geteuid() == 0 else None
        self.proc: subprocess.Popen[str] | None = None

    def _own(self) -> None:
        if self.user:
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, self.user)

    def start(self) -> None:
        self._own()
        data = self.root / "data"
        init = subprocess.run([pg_program("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                               "-E", "UTF8", "--no-sync", "--locale=C"],
                              user=self.user, capture_output=True, text=True, cwd=self.root, timeout=300)
        if init.returncode != 0:
            pytest.fail(f"initdb failed: {init.stderr}", pytrace=False)
        self.proc = subprocess.Popen(
            [pg_program("postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.root),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "logging_collector=off"],
            user=self.user, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=self.root)
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        seen = []
        while True:
            try:
                line = lines.get(timeout=120)
            except queue.Empty:
                self.stop()
                pytest.fail("postgres did not say it was ready within 120 s:\n" + "".join(seen), pytrace=False)
            if line is None:
                pytest.fail("postgres stopped at start:\n" + "".join(seen), pytrace=False)
            seen.append(line)
            if "ready to accept connections" in line:
                return

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def set_connections(self, url: str, allowed: bool) -> None:
        """Let clients into the database of *url*, or shut them out and cut those connected (an outage)."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {'true' if allowed else 'false'}")
            if not allowed:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # "smart" shutdown of the server this object started
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)

"""A real NATS with JetStream in a temporary directory, and relays of one cluster, as processes.

One ``nats-server`` serves the module (the buckets hold codes and sessions of every test: they are
all random); each test starts the relays it needs on the data directory they share, and every
process is stopped by its own PID.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import requires
from workbench.lab import Proc, free_port, start_relay


class Nats:
    """``nats-server -js -sd DIR`` on a free loopback port; :meth:`stop` and :meth:`start` again on the same port."""

    def __init__(self, store: Path) -> None:
        self.program = requires.tool(shutil.which("nats-server") or "/usr/sbin/nats-server", "nats-server")
        self.store = store
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: Proc | None = None
        self.start()

    def start(self) -> None:
        self.proc = Proc([self.program, "-js", "-sd", str(self.store), "-a", "127.0.0.1", "-p", str(self.port)],
                         name="nats-server")
        self.proc.wait_for(r"Server is ready")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


@pytest.fixture(scope="module")
def nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nats]:
    server = Nats(tmp_path_factory.mktemp("jetstream"))
    try:
        yield server
    finally:
        server.stop()


StartRelay = Callable[..., tuple[Proc, str]]


@pytest.fixture
def cluster(nats: Nats, tmp_path: Path) -> Iterator[tuple[Path, StartRelay]]:
    """The relays' shared data directory and a function starting one more relay of the cluster on it
    (``start(port=0)`` → its Proc and URL); every relay started is stopped at the end."""
    data = tmp_path / "relay-data"
    started: list[Proc] = []

    def start(port: int = 0) -> tuple[Proc, str]:
        proc, url = start_relay(data, port, "--nats", nats.url)
        started.append(proc)
        return proc, url

    try:
        yield data, start
    finally:
        for proc in started:
            proc.stop()


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    """Agents and other processes a test starts; each is stopped (by its own PID) at the end."""
    started: list[Proc] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.stop()

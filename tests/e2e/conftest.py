"""Real processes on loopback: a relay and agents, started and stopped per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.lab import Proc, start_relay


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[tuple[Proc, str, Path]]:
    data = tmp_path / "relay-data"
    proc, url = start_relay(data)
    try:
        yield proc, url, data
    finally:
        proc.stop()


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    """Processes a test starts; each is stopped (by its own PID) at the end."""
    started: list[Proc] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.stop()

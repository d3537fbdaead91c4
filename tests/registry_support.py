"""Helpers shared by the registry tests (no tests here): a real dispatcher, real hive files, real tools.

* :class:`AgentHarness` runs calls through :class:`agent.dispatch.Dispatcher` with a real
  :class:`wire.chain.Journal`, each request and reply encoded and decoded by :mod:`wire.protocol`
  as on the wire, and it is also a :class:`workbench.calls.Caller` for the technician's namespace.
* Hives are made here, never downloaded: :func:`make_hive` writes the product's own new empty hive,
  :func:`hivexsh` drives Debian's independent implementation (libhivex) to read or fill them.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import subprocess
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from regipy.registry import RegistryHive

from agent.dispatch import Dispatcher, MethodTable
from agent.journal import Journal
from agent.policy import Policy
from agent.registry import Registry
from agent.registry.regf_edit import new_hive
from wire import protocol
from wire.errors import WorkbenchError, error_from_wire
from workbench.calls import CallResult

needs_hivex = pytest.mark.needs("hivexsh", "libhivex-bin")


class AgentHarness:
    """One agent's registry service behind a real dispatcher and journal."""

    def __init__(self, root: Path, registry: Registry, policy: Policy | None = None) -> None:
        self.policy = policy or Policy()
        self.journal = Journal(root / "journal.jsonl")
        self.state_dir = root / "state"
        self.told: list[str] = []
        self.dispatcher = Dispatcher(MethodTable(registry.methods()), self.journal, self.policy, self.state_dir,
                                     self.told.append, workers=1)
        self._ids = itertools.count(1)

    def call(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
             *, timeout: float | None = None) -> CallResult:
        """Send *method* as the relay would deliver it; raise the agent's error as the workbench does."""
        frame = protocol.encode(protocol.request(f"r{next(self._ids)}", method, params or {}, data))
        reply = asyncio.run(self.dispatcher.handle(protocol.decode(frame)))
        decoded = protocol.decode(protocol.encode(reply))
        if decoded.type == "error":
            raise error_from_wire(decoded.fields)
        return CallResult(decoded["result"], decoded.data)

    def submit(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
               *, timeout: float | None = None) -> Future[CallResult]:
        future: Future[CallResult] = Future()
        try:
            future.set_result(self.call(method, params, data))
        except Exception as err:
            future.set_exception(err)
        return future

    def result(self, method: str, **params: Any) -> Any:
        return self.call(method, params).value

    def code(self, method: str, **params: Any) -> str:
        """The error code *method* fails with (the test fails when it succeeds)."""
        with pytest.raises(WorkbenchError) as caught:
            self.result(method, **params)
        return caught.value.code

    def outcomes(self) -> list[dict[str, Any]]:
        return [record for record in self.journal.records if record["kind"] == "outcome"]

    def close(self) -> None:
        self.dispatcher.close()
        self.journal.close()


def make_hive(path: Path, root: str = "ROOT", embedded: str = "") -> Path:
    """A new, empty hive file at *path*."""
    path.write_bytes(new_hive(root, embedded))
    return path


def hivexsh(path: Path, *commands: str, write: bool = False) -> str:
    """Run hivexsh (libhivex, an independent implementation) on *path*; its output."""
    script = path.parent / f".{path.name}.hivexsh"
    script.write_text("\n".join(commands) + "\n", encoding="utf-8")
    try:
        done = subprocess.run(["hivexsh", *(["-w"] if write else []), "-f", str(script), str(path)],
                              capture_output=True, text=True, timeout=60, check=False)
    finally:
        script.unlink()
    assert done.returncode == 0, done.stderr
    return done.stdout


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def regipy_values(path: Path, key: str) -> dict[str, Any]:
    """The values of *key* as regipy (an independent reader) finds them; the default one is "(default)"."""
    hive: Any = RegistryHive(str(path))  # type: ignore[no-untyped-call]
    return {value.name: value.value for value in hive.get_key(key).iter_values()}


def regipy_subkeys(path: Path, key: str) -> list[str]:
    """The subkey names of *key* as regipy finds them."""
    hive: Any = RegistryHive(str(path))  # type: ignore[no-untyped-call]
    return [subkey.name for subkey in hive.get_key(key).iter_subkeys()]

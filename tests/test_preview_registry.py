"""Dry runs of the registry methods through a real dispatcher and journal, on real hive files.

A planned ``set``, ``delete_value``, ``delete_key`` or ``undo`` answers the key,
the value's name, its data and type before and after; the hive file's bytes,
the agent's backups and undo slots are as before; the customer's protected keys,
a missing value, a bad type and a hive that cannot take a change are refused
as the real call would refuse them.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import preview
from agent.dispatch import Dispatcher, MethodTable
from agent.forbidden import Guard
from agent.policy import Policy
from agent.registry import Registry
from agent.registry.choice import open_hive_file
from agent.registry.hive import HiveBackend
from agent.registry.model import RegValue
from tests.registry_support import AgentHarness, make_hive, sha256
from wire import protocol
from wire.chain import verify_file
from wire.errors import WorkbenchError, error_from_wire


def backend_for(path: Path) -> HiveBackend:
    return HiveBackend(open_hive_file(str(path), lambda: Guard(None)))


class PreviewHarness(AgentHarness):
    """The registry service behind a dispatcher with the agent's dry-run rules."""

    def __init__(self, root: Path, registry: Registry, policy: Policy | None = None) -> None:
        super().__init__(root, registry, policy)
        self.dispatcher.close()
        self.dispatcher = Dispatcher(MethodTable(registry.methods()), self.journal, self.policy, self.state_dir,
                                     self.told.append, workers=1,
                                     previews=preview.Previews(preview.UNCHANGING, _planners(registry)))
        self._preview_ids = itertools.count(1)

    def plan(self, method: str, **params: Any) -> dict[str, Any]:
        frame = protocol.encode(protocol.request(f"p{next(self._preview_ids)}", method, params, preview=True))
        reply = protocol.decode(protocol.encode(asyncio.run(self.dispatcher.handle(protocol.decode(frame)))))
        if reply.type == "error":
            raise error_from_wire(reply.fields)
        assert reply["result"]["preview"] is True
        return dict(reply["result"], **reply["result"]["plan"])

    def refused(self, method: str, **params: Any) -> str:
        with pytest.raises(WorkbenchError) as caught:
            self.plan(method, **params)
        return caught.value.code


def _planners(registry: Registry) -> dict[str, Any]:
    """This test's registry service's own handlers, under the names the agent plans."""
    from agent.preview.registry import PLANNED

    return {m.name: m.handler for m in registry.methods() if m.name in PLANNED}


def seeded(path: Path) -> Path:
    make_hive(path)
    backend = backend_for(path)
    backend.set(("Software", "Microsoft", "Windows", "CurrentVersion", "Run"),
                RegValue("Updater", "REG_SZ", "C:\\Users\\ana\\AppData\\evil.exe"))
    backend.set(("Vendor", "Secret"), RegValue("token", "REG_SZ", "s3cr3t"))
    return path


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[PreviewHarness]:
    live = make_hive(tmp_path / "live.hiv")
    harness = PreviewHarness(tmp_path, Registry(lambda: backend_for(live)),
                             Policy(forbidden_registry=[f"{tmp_path / 'SOFTWARE'}\\Vendor\\Secret"]))
    yield harness
    harness.close()


RUN = "Software\\Microsoft\\Windows\\CurrentVersion\\Run"


def test_changes_to_a_hive_are_planned_with_their_values_and_nothing_is_written(agent: PreviewHarness,
                                                                                 tmp_path: Path) -> None:
    path = seeded(tmp_path / "SOFTWARE")
    hive = agent.result("registry.open_hive", path=str(path))["hive"]
    before = sha256(path)

    removed = agent.plan("registry.delete_value", hive=hive, path=RUN, name="Updater")
    assert removed["action"] == "delete_value" and removed["name"] == "Updater"
    assert removed["before"] == {"name": "Updater", "type": "REG_SZ", "data": "C:\\Users\\ana\\AppData\\evil.exe"}
    assert removed["hive_path"] == str(path) and "would delete the value “Updater”" in removed["summary"]
    changed = agent.plan("registry.set", hive=hive, path=RUN, name="Updater", type="REG_SZ", data="C:\\ok.exe")
    assert changed["before"]["data"].endswith("evil.exe") and changed["after"]["data"] == "C:\\ok.exe"
    made = agent.plan("registry.set", hive=hive, path="New\\Key", name="x", type="REG_DWORD", data=7)
    assert made["before"] is None and made["after"] == {"name": "x", "type": "REG_DWORD", "data": 7}
    assert made["creates_key"] == "New"
    gone = agent.plan("registry.delete_key", hive=hive, path="Software\\Microsoft")
    assert gone["action"] == "delete_key" and gone["path"] == "Software\\Microsoft"

    assert sha256(path) == before
    assert agent.code("registry.undo") == "not_found"  # no backup was kept, no undo slot taken
    planned = [r for r in agent.outcomes() if r.get("outcome") == "planned"]
    assert len(planned) == 4
    calls = {r["request"]: r for r in agent.journal.records if r["kind"] == "call"}
    for outcome in planned:
        assert calls[outcome["request"]]["preview"] is True
        assert calls[outcome["request"]]["words"].startswith("Preview — nothing was changed: the technician would ")
    assert "; a backup was kept" not in " ".join(c["words"] for c in calls.values() if c.get("preview"))
    agent.journal.close()
    assert verify_file(agent.journal.path).ok


def test_a_registry_preview_meets_the_same_refusals(agent: PreviewHarness, tmp_path: Path) -> None:
    path = seeded(tmp_path / "SOFTWARE")
    hive = agent.result("registry.open_hive", path=str(path))["hive"]
    before = sha256(path)
    assert agent.refused("registry.set", hive=hive, path="Vendor\\Secret", name="token", type="REG_SZ",
                         data="x") == "forbidden"
    assert agent.refused("registry.delete_key", hive=hive, path="Vendor") == "forbidden"  # it holds the secret
    assert agent.refused("registry.delete_value", hive=hive, path=RUN, name="Absent") == "not_found"
    assert agent.refused("registry.delete_key", hive=hive, path="No\\Such") == "not_found"
    assert agent.refused("registry.set", hive=hive, path=RUN, name="x", type="REG_NOPE", data=1) == "bad_params"
    assert agent.refused("registry.set", hive=hive, path=RUN, name="x", type="REG_SZ") == "bad_params"
    assert sha256(path) == before
    # a hive that was not closed cleanly cannot take a change: its preview says so too
    dirty = seeded(tmp_path / "dirty.hiv")
    raw = bytearray(dirty.read_bytes())
    raw[4:8] = (int.from_bytes(raw[4:8], "little") + 1).to_bytes(4, "little")  # primary != secondary sequence
    dirty.write_bytes(bytes(raw))
    other = agent.result("registry.open_hive", path=str(dirty))["hive"]
    assert agent.refused("registry.delete_value", hive=other, path=RUN, name="Updater") == "conflict"


def test_the_undo_of_a_real_change_is_planned_and_stays_undoable(agent: PreviewHarness, tmp_path: Path) -> None:
    path = seeded(tmp_path / "SOFTWARE")
    hive = agent.result("registry.open_hive", path=str(path))["hive"]
    agent.result("registry.delete_value", hive=hive, path=RUN, name="Updater")
    after = sha256(path)
    undo = agent.plan("registry.undo")
    assert undo["action"] == "undo" and "Updater" in undo["undoes"] and undo["hive_path"] == str(path)
    assert sha256(path) == after
    agent.result("registry.undo")
    assert agent.result("registry.get", hive=hive, path=RUN, name="Updater")["data"].endswith("evil.exe")

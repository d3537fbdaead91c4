"""The registry.* methods through a real dispatcher and journal, on real hive files."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.dispatch import REFUSAL_WORDS
from agent.forbidden import Guard
from agent.policy import Policy
from agent.registry import METHODS, Registry
from agent.registry.choice import open_hive_file
from agent.registry.hive import HiveBackend
from agent.registry.model import MAX_DATA_BYTES, RegValue
from tests.registry_support import AgentHarness, make_hive, regipy_values, sha256
from wire.errors import WorkbenchError


def backend_for(path: Path) -> HiveBackend:
    return HiveBackend(open_hive_file(str(path), lambda: Guard(None)))


@pytest.fixture
def live_hive(tmp_path: Path) -> Path:
    """A hive standing in for this OS's live registry, so these tests run everywhere."""
    return make_hive(tmp_path / "live.hiv")


@pytest.fixture
def agent(tmp_path: Path, live_hive: Path) -> Iterator[AgentHarness]:
    harness = AgentHarness(tmp_path, Registry(lambda: backend_for(live_hive)))
    yield harness
    harness.close()


def test_a_hive_is_opened_changed_read_exported_and_closed(agent: AgentHarness, tmp_path: Path) -> None:
    path = make_hive(tmp_path / "SOFTWARE")
    opened = agent.result("registry.open_hive", path=str(path))
    assert opened["hive"] == "hive-1" and opened["writable"] and opened["root"] == "ROOT"
    assert agent.result("registry.open_hive", path=str(tmp_path / "." / "SOFTWARE"))["hive"] == "hive-1"
    hive = opened["hive"]

    changed = agent.result("registry.set", hive=hive, path="Vendor\\App", name="Mode", type="REG_SZ", data="safe")
    assert changed["before"] is None and changed["after"]["data"] == "safe"
    assert changed["created"] == "Vendor" and changed["undo"] == "00000001"
    blob = bytes(range(40))
    agent.result("registry.set", hive=hive, path="Vendor/App", name="Blob", type="REG_BINARY",
                 data={"base64": base64.b64encode(blob).decode()})
    again = agent.result("registry.set", hive=hive, path="vendor\\app", name="mode", type="REG_SZ", data="normal")
    assert again["before"]["data"] == "safe" and again["created"] is None

    assert agent.result("registry.keys", hive=hive, path="") == {"hive": hive, "path": "", "key": [],
                                                                 "keys": ["Vendor"], "hidden": 0}
    assert agent.result("registry.get", hive=hive, path="Vendor\\App", name="Mode")["data"] == "normal"
    values = agent.result("registry.values", hive=hive, path="Vendor\\App")["values"]
    assert [(value["name"], value["type"]) for value in values] == [("Mode", "REG_SZ"), ("Blob", "REG_BINARY")]
    assert base64.b64decode(values[1]["data"]["base64"]) == blob

    found = regipy_values(path, "\\Vendor\\App")
    assert found["Mode"] == "normal"  # an independent reader sees the change in the file

    text = agent.result("registry.export", hive=hive, path="Vendor")["text"]
    assert text.startswith("Windows Registry Editor Version 5.00\r\n")
    assert "[HKEY_LOCAL_MACHINE\\OFFLINE\\Vendor\\App]\r\n\"Mode\"=\"normal\"\r\n\"Blob\"=hex:00,01,02" in text
    assert "[HKLM\\RESCUE\\Vendor]" in agent.result("registry.export", hive=hive, path="Vendor",
                                                     prefix="HKLM\\RESCUE")["text"]

    assert agent.result("registry.hives")["hives"] == [{"hive": hive, "path": str(path)}]
    assert agent.result("registry.close_hive", hive=hive)["closed"]
    assert agent.code("registry.keys", hive=hive) == "not_found"
    assert agent.result("registry.hives")["hives"] == []


def test_the_customer_is_told_in_plain_words_and_the_journal_keeps_them(agent: AgentHarness, tmp_path: Path) -> None:
    path = make_hive(tmp_path / "NTUSER.DAT")
    hive = agent.result("registry.open_hive", path=str(path))["hive"]
    agent.result("registry.set", hive=hive, path="Software\\Demo", name="Enabled", type="REG_DWORD", data=1)
    agent.result("registry.delete_value", hive=hive, path="Software\\Demo", name="Enabled")
    agent.result("registry.set", path="Live\\Key", name="", type="REG_SZ", data="x")
    agent.result("registry.delete_key", path="Live")
    assert agent.told == [
        f"The technician opened the registry file {path} (a registry copied from a computer)",
        f"The technician changed the value “Enabled” in the registry file {path}, key Software\\Demo to 1 "
        "(REG_DWORD); a backup was kept",
        f"The technician deleted the value “Enabled” in the registry file {path}, key Software\\Demo; "
        "a backup was kept",
        "The technician changed the default value in registry key Live\\Key to “x” (REG_SZ); a backup was kept",
        "The technician deleted registry key Live and everything in it; a backup was kept",
    ]
    calls = [record for record in agent.journal.records if record["kind"] == "call"]
    assert [record["words"] for record in calls[1:]] == agent.told[1:]
    outcome = agent.outcomes()[1]
    assert outcome["outcome"] == "ok" and outcome["undo"] == "00000001"
    assert outcome["sha256_before"] != outcome["sha256_after"] and outcome["after"]["data"] == 1


def test_undo_puts_back_exactly_what_was_there_one_change_at_a_time(agent: AgentHarness, tmp_path: Path) -> None:
    path = make_hive(tmp_path / "SYSTEM")
    hive = agent.result("registry.open_hive", path=str(path))["hive"]
    states = [sha256(path)]
    agent.result("registry.set", hive=hive, path="A\\B", name="v", type="REG_MULTI_SZ", data=["x", "y"])
    states.append(sha256(path))
    agent.result("registry.set", hive=hive, path="A", name="w", type="REG_QWORD", data=2**60)
    states.append(sha256(path))
    agent.result("registry.delete_key", hive=hive, path="A")
    assert not backend_for(path).exists(("A",))
    for expected, remaining in zip(reversed(states), (2, 1, 0), strict=False):
        undone = agent.result("registry.undo")
        assert sha256(path) == expected and undone["remaining"] == remaining
    assert sha256(path) == states[0]
    assert agent.code("registry.undo") == "not_found"
    assert agent.told[-1].startswith("That did not happen:")  # the last undo found nothing to undo
    assert agent.told[-3] == "Undone: the technician's last registry change was reversed"  # the journal says which


def test_undo_works_after_the_hive_is_closed_and_for_the_live_backend(agent: AgentHarness, tmp_path: Path,
                                                                      live_hive: Path) -> None:
    original_live = sha256(live_hive)
    agent.result("registry.set", path="Live", name="n", type="REG_DWORD", data=5)
    path = make_hive(tmp_path / "h")
    original = sha256(path)
    hive = agent.result("registry.open_hive", path=str(path))["hive"]
    agent.result("registry.set", hive=hive, path="K", name="n", type="REG_SZ", data="x")
    agent.result("registry.close_hive", hive=hive)
    assert agent.result("registry.undo")["hive_path"] == str(path)
    assert sha256(path) == original
    agent.result("registry.undo")
    assert sha256(live_hive) == original_live


def test_undo_refuses_when_someone_changed_it_since_unless_forced(agent: AgentHarness, tmp_path: Path) -> None:
    path = make_hive(tmp_path / "h")
    original = sha256(path)
    hive = agent.result("registry.open_hive", path=str(path))["hive"]
    agent.result("registry.set", hive=hive, path="K", name="n", type="REG_DWORD", data=1)
    backend_for(path).set(("K",), RegValue("n", "REG_DWORD", 2))  # another program
    changed = sha256(path)
    assert agent.code("registry.undo") == "conflict"
    assert sha256(path) == changed
    agent.result("registry.undo", force=True)
    assert sha256(path) == original


def seeded(tmp_path: Path, name: str = "h") -> Path:
    path = make_hive(tmp_path / name)
    backend = backend_for(path)
    backend.set(("Vendor", "Secret"), RegValue("token", "REG_SZ", "s3cr3t-value"))
    backend.set(("Vendor", "Secret", "Deeper"), RegValue("x", "REG_DWORD", 1))
    backend.set(("Vendor", "Public"), RegValue("open", "REG_SZ", "visible"))
    backend.set(("Vendor",), RegValue("PIN", "REG_SZ", "0000"))
    return path


def test_protected_subtrees_are_hidden_and_refused(tmp_path: Path, live_hive: Path) -> None:
    path = seeded(tmp_path)
    policy = Policy(forbidden_registry=[f"{path}\\vendor\\SECRET", f"{path}/Vendor/PIN"])
    agent = AgentHarness(tmp_path, Registry(lambda: backend_for(live_hive)), policy)
    try:
        hive = agent.result("registry.open_hive", path=str(path))["hive"]
        before = sha256(path)
        listing = agent.result("registry.keys", hive=hive, path="Vendor")
        assert listing["keys"] == ["Public"] and listing["hidden"] == 1
        values = agent.result("registry.values", hive=hive, path="Vendor")
        assert values["values"] == [] and values["hidden"] == 1
        for method, params in [
            ("registry.keys", {"path": "Vendor\\Secret"}),
            ("registry.values", {"path": "Vendor/Secret/Deeper"}),
            ("registry.get", {"path": "Vendor\\Secret", "name": "token"}),
            ("registry.get", {"path": "Vendor", "name": "pin"}),
            ("registry.set", {"path": "Vendor\\Secret", "name": "token", "type": "REG_SZ", "data": "mine"}),
            ("registry.set", {"path": "Vendor\\Secret\\New", "name": "x", "type": "REG_SZ", "data": "mine"}),
            ("registry.delete_value", {"path": "Vendor\\Secret", "name": "token"}),
            ("registry.delete_key", {"path": "Vendor\\Secret"}),
            ("registry.delete_key", {"path": "Vendor"}),  # it holds the protected key
            ("registry.export", {"path": "Vendor\\Secret"}),
        ]:
            assert agent.code(method, hive=hive, **params) == "forbidden", (method, params)
        assert sha256(path) == before
        text = agent.result("registry.export", hive=hive, path="")["text"]
        assert "Public" in text and "visible" in text
        assert "Secret" not in text and "s3cr3t" not in text and "0000" not in text
        assert "protected by the customer" in text
        assert agent.told.count(REFUSAL_WORDS["registry"]) == 10
        assert agent.code("registry.undo") == "not_found"  # nothing was changed, so nothing to undo
    finally:
        agent.close()


def test_a_rule_on_the_live_registry_also_covers_a_copy_of_that_hive(tmp_path: Path, live_hive: Path) -> None:
    path = seeded(tmp_path, "SOFTWARE")
    policy = Policy(forbidden_registry=["HKLM\\SOFTWARE\\Vendor\\Secret"])
    agent = AgentHarness(tmp_path, Registry(lambda: backend_for(live_hive)), policy)
    try:
        hive = agent.result("registry.open_hive", path=str(path))["hive"]
        assert agent.code("registry.get", hive=hive, path="Vendor\\Secret", name="token") == "forbidden"
        assert agent.result("registry.get", hive=hive, path="Vendor\\Public", name="open")["data"] == "visible"
        policy.forbidden_registry.append(str(path))
        assert agent.code("registry.keys", hive=hive) == "forbidden"
        assert agent.code("registry.open_hive", path=str(path)) == "forbidden"
    finally:
        agent.close()


@pytest.mark.parametrize(("method", "params", "code"), [
    ("registry.set", {"path": "K", "name": "a\x00b", "type": "REG_SZ", "data": "x"}, "bad_params"),
    ("registry.set", {"path": "K", "name": "n", "type": "REG_FOO", "data": "x"}, "bad_params"),
    ("registry.set", {"path": "K", "name": "n", "type": "REG_DWORD", "data": "12"}, "bad_params"),
    ("registry.set", {"path": "K", "name": "n", "type": "REG_DWORD", "data": 2**32}, "bad_params"),
    ("registry.set", {"path": "K", "name": "n", "type": "REG_SZ"}, "bad_params"),
    ("registry.set", {"path": "K", "name": "n", "type": "REG_SZ", "data": "x" * MAX_DATA_BYTES}, "bad_params"),
    ("registry.set", {"path": "K\x00", "name": "n", "type": "REG_SZ", "data": "x"}, "bad_params"),
    ("registry.get", {"path": "Existing", "name": "missing"}, "not_found"),
    ("registry.get", {"path": "Missing", "name": "x"}, "not_found"),
    ("registry.keys", {"path": "Missing"}, "not_found"),
    ("registry.delete_value", {"path": "Existing", "name": "missing"}, "not_found"),
    ("registry.delete_key", {"path": "Missing\\Deeper"}, "not_found"),
    ("registry.delete_key", {"path": ""}, "bad_params"),
    ("registry.keys", {"path": 5}, "bad_params"),
])
def test_bad_input_gets_a_clear_code_and_changes_nothing(agent: AgentHarness, tmp_path: Path, method: str,
                                                         params: dict[str, Any], code: str) -> None:
    path = make_hive(tmp_path / "h")
    backend_for(path).set(("Existing",), RegValue("v", "REG_SZ", "x"))
    before = sha256(path)
    hive = agent.result("registry.open_hive", path=str(path))["hive"]
    assert agent.code(method, hive=hive, **params) == code
    assert sha256(path) == before
    assert agent.code("registry.undo") == "not_found"
    assert agent.result("registry.get", hive=hive, path="Existing", name="v")["data"] == "x"  # the session goes on
    assert agent.outcomes()[-3]["code"] == code


def test_the_size_limit_is_stated(agent: AgentHarness, tmp_path: Path) -> None:
    hive = agent.result("registry.open_hive", path=str(make_hive(tmp_path / "h")))["hive"]
    with pytest.raises(WorkbenchError) as caught:
        agent.result("registry.set", hive=hive, path="K", name="n", type="REG_BINARY",
                     data={"base64": base64.b64encode(b"x" * (MAX_DATA_BYTES + 1)).decode()})
    assert caught.value.code == "bad_params" and caught.value.details["limit"] == MAX_DATA_BYTES


def test_bad_hive_files_and_handles(agent: AgentHarness, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a hive")
    assert agent.code("registry.open_hive", path=str(tmp_path / "notes.txt")) == "bad_params"
    assert agent.code("registry.open_hive", path=str(tmp_path / "missing")) == "not_found"
    assert agent.code("registry.open_hive", path=str(tmp_path)) == "is_a_directory"
    assert agent.code("registry.open_hive", path=str(agent.state_dir / "x")) == "forbidden"
    assert agent.code("registry.keys", hive="hive-99") == "not_found"
    assert agent.code("registry.close_hive", hive="hive-99") == "not_found"


def test_the_agent_s_own_backups_cannot_be_opened_as_hives(agent: AgentHarness, tmp_path: Path) -> None:
    hive = agent.result("registry.open_hive", path=str(make_hive(tmp_path / "h")))["hive"]
    agent.result("registry.set", hive=hive, path="K", name="n", type="REG_SZ", data="x")
    backup = agent.state_dir / "registry-undo" / "00000001" / "hive"
    assert backup.is_file()
    assert agent.code("registry.open_hive", path=str(backup)) == "forbidden"


def test_without_the_customer_s_permission_nothing_runs(tmp_path: Path, live_hive: Path) -> None:
    policy = Policy()
    policy.permissions.registry = False
    agent = AgentHarness(tmp_path, Registry(lambda: backend_for(live_hive)), policy)
    try:
        before = sha256(live_hive)
        assert agent.code("registry.set", path="K", name="n", type="REG_SZ", data="x") == "not_granted"
        assert sha256(live_hive) == before
        assert not (agent.state_dir / "registry-undo").exists()
    finally:
        agent.close()


def test_every_documented_method_is_there_with_plain_words() -> None:
    methods = {method.name: method for method in METHODS}
    assert set(methods) == {f"registry.{name}" for name in (
        "keys", "values", "get", "set", "delete_value", "delete_key", "walk", "export", "undo", "open_hive",
        "close_hive", "hives")}
    params = {"path": "HKCU\\Software\\Demo", "name": "Flag", "type": "REG_DWORD", "data": 1, "hive": None}
    for method in methods.values():
        assert method.permission == "registry"
        words = method.describe(params)
        assert words.startswith("The technician ") and ("registry" in words or "settings" in words), words
    assert "HKCU\\Software\\Demo" in methods["registry.set"].describe(params)
    assert "binary data" in methods["registry.set"].describe({**params, "data": {"base64": "AA=="}})


def test_hives_are_forgotten_when_the_session_ends(tmp_path: Path, live_hive: Path) -> None:
    registry = Registry(lambda: backend_for(live_hive))
    agent = AgentHarness(tmp_path, registry)
    try:
        hive = agent.result("registry.open_hive", path=str(make_hive(tmp_path / "h")))["hive"]
        registry.close_all()
        assert agent.code("registry.keys", hive=hive) == "not_found"
    finally:
        agent.close()

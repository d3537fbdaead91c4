"""The technician's side, ``s.registry``, calling a real agent dispatcher on real hive files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.forbidden import Guard
from agent.policy import Policy
from agent.registry import Registry
from agent.registry.choice import open_hive_file
from agent.registry.hive import HiveBackend
from tests.registry_support import AgentHarness, make_hive, sha256
from wire.errors import Conflict, Forbidden, NotFound, Unsupported
from workbench.registry import HiveHandle, RegistryNamespace, RegistryValue, RegText, infer_type


@pytest.fixture
def live(tmp_path: Path) -> Path:
    return make_hive(tmp_path / "live.hiv")


@pytest.fixture
def harness(tmp_path: Path, live: Path) -> Iterator[AgentHarness]:
    agent = AgentHarness(tmp_path, Registry(lambda: HiveBackend(open_hive_file(str(live), lambda: Guard(None)))),
                         Policy(forbidden_registry=[f"{live}\\Private"]))
    yield agent
    agent.close()


@pytest.fixture
def registry(harness: AgentHarness) -> RegistryNamespace:
    return RegistryNamespace(harness)


def test_python_data_stands_for_registry_types(registry: RegistryNamespace) -> None:
    for name, data in [("text", "x"), ("small", 42), ("big", 2**40), ("blob", b"\x00\xff"), ("list", ["a", "b"])]:
        registry.set("App", name, data)
    registry.set("App", "path", "%TEMP%\\x", type="REG_EXPAND_SZ")
    registry.set("App", "copy", registry.get("App", "blob"))
    values = registry.values("App")
    assert [(value.name, value.type) for value in values] == [
        ("text", "REG_SZ"), ("small", "REG_DWORD"), ("big", "REG_QWORD"), ("blob", "REG_BINARY"),
        ("list", "REG_MULTI_SZ"), ("path", "REG_EXPAND_SZ"), ("copy", "REG_BINARY")]
    assert values["BLOB"].data == b"\x00\xff" and values["copy"].data == b"\x00\xff"
    assert registry.get("App", "list") == RegistryValue("list", "REG_MULTI_SZ", ["a", "b"])
    with pytest.raises(TypeError):
        infer_type(1.5)
    assert infer_type(-1) == "REG_DWORD" and infer_type(2**32) == "REG_QWORD"


def test_results_display_in_a_notebook(registry: RegistryNamespace, tmp_path: Path) -> None:
    registry.set("App", "<b>bold</b>", 42)
    registry.set("App", "", "default")
    page = registry.values("App")._repr_html_()
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page
    assert "0x0000002a (42)" in page and "<i>(Default)</i>" in page
    change = registry.set("App", "<b>bold</b>", 43)
    assert change.before is not None and change.before.data == 42 and change.after is not None
    assert "0x0000002b (43)" in change._repr_html_()
    text = registry.export("App")
    assert isinstance(text, RegText) and text.path == "App"
    assert text._repr_markdown_().startswith("```ini\nWindows Registry Editor Version 5.00\n")
    saved = text.save(tmp_path / "app.reg").read_bytes()
    assert saved.startswith(b"\xff\xfe") and saved[2:].decode("utf-16-le") == str(text)
    assert '"<b>bold</b>"=dword:0000002b' in saved[2:].decode("utf-16-le")


def test_hidden_keys_and_errors_come_back_as_python(registry: RegistryNamespace, live: Path) -> None:
    HiveBackend(open_hive_file(str(live), lambda: Guard(None))).create_key(("Private",))
    with pytest.raises(Forbidden):
        registry.set("Private", "pin", "1234")
    registry.set("Public", "open", "yes")
    keys = registry.keys("")
    assert keys == ["Public"] and keys.hidden == 1
    with pytest.raises(Forbidden):
        registry.get("Private", "pin")
    with pytest.raises(NotFound):
        registry.get("Public", "nope")


def test_a_hive_handle_is_a_namespace_aimed_at_the_file(registry: RegistryNamespace, harness: AgentHarness,
                                                        tmp_path: Path) -> None:
    path = make_hive(tmp_path / "SOFTWARE")
    original = sha256(path)
    with registry.open_hive(str(path)) as hive:
        assert isinstance(hive, HiveHandle) and hive.info["writable"] and hive.path == str(path)
        hive.set("Policies\\Demo", "Enabled", 1)
        assert hive.keys("Policies") == ["Demo"]
        assert "[HKEY_LOCAL_MACHINE\\OFFLINE\\Policies\\Demo]" in hive.export()
        assert registry.hives() == [{"hive": hive.handle, "path": str(path)}]
        with pytest.raises(TypeError):
            hive.open_hive(str(path))
    assert registry.hives() == []
    with pytest.raises(NotFound):
        hive.keys("")
    assert registry.undo()["hive_path"] == str(path)
    assert sha256(path) == original
    with pytest.raises(NotFound):
        registry.undo()


def test_undo_conflicts_come_back_as_python(registry: RegistryNamespace, live: Path) -> None:
    other_program = HiveBackend(open_hive_file(str(live), lambda: Guard(None)))
    registry.set("K", "n", 0)
    registry.set("K", "n", 1)
    other_program.delete_key(("K",))
    with pytest.raises(Conflict):
        registry.undo()
    registry.undo(force=True)
    assert registry.get("K", "n").data == 0


def test_types_the_store_lacks_are_refused(tmp_path: Path) -> None:
    from agent.registry.defaults import DefaultsBackend
    from tests.test_registry_defaults import FakeDefaults

    agent = AgentHarness(tmp_path, Registry(lambda: DefaultsBackend(FakeDefaults())))
    try:
        with pytest.raises(Unsupported):
            RegistryNamespace(agent).set("org.example", "p", "%HOME%", type="REG_EXPAND_SZ")
    finally:
        agent.close()

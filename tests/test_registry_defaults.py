"""macOS preferences: the property list mapping (everywhere), the adapter over a stand-in for the
``defaults`` command (everywhere), and the real command (macOS only)."""

from __future__ import annotations

import datetime as dt
import plistlib
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.registry import Registry
from agent.registry.backend import Scope
from agent.registry.defaults import DefaultsBackend, parse_domains, plist_object, plist_value
from agent.registry.model import PLIST, RegValue
from tests.registry_support import AgentHarness
from wire.errors import BadParams, NotFound, Unsupported


@pytest.mark.parametrize(("obj", "type_", "data", "native"), [
    ("text", "REG_SZ", "text", "string"),
    (True, "REG_DWORD", 1, "boolean"),
    (False, "REG_DWORD", 0, "boolean"),
    (-5, "REG_QWORD", -5, "integer"),
    (2**63, "REG_QWORD", 2**63, "integer"),
    (b"\x00\x01", "REG_BINARY", b"\x00\x01", "data"),
    (["a", "b"], "REG_MULTI_SZ", ["a", "b"], "array"),
    (1.5, PLIST, "real 1.5", "real"),
    (dt.datetime(2024, 5, 1, 12, 0), PLIST, "date 2024-05-01T12:00:00", "date"),
    ([1, "a"], PLIST, "array of 2 items", "array"),
])
def test_property_list_objects_map_to_registry_values(obj: Any, type_: str, data: Any, native: str) -> None:
    value = plist_value("k", obj)
    assert (value.type, value.data, value.native) == (type_, data, native)


def test_writing_keeps_the_type_already_there() -> None:
    assert plist_object(RegValue("k", "REG_DWORD", 1), True) is True
    assert plist_object(RegValue("k", "REG_DWORD", 7), 3) == 7
    assert plist_object(RegValue("k", "REG_QWORD", 2**40), None) == 2**40
    assert plist_object(RegValue("k", "REG_MULTI_SZ", ["x"]), ["a"]) == ["x"]
    for value, current, error in [(RegValue("k", "REG_SZ", "x"), 3, BadParams),
                                  (RegValue("k", "REG_DWORD", 2), True, BadParams),
                                  (RegValue("k", "REG_DWORD", 1), 1.5, BadParams),
                                  (RegValue("k", "REG_SZ", "x"), {"a": 1}, BadParams),
                                  (RegValue("", "REG_SZ", "x"), None, BadParams),
                                  (RegValue("k", "REG_EXPAND_SZ", "%x%"), None, Unsupported)]:
        with pytest.raises(error):
            plist_object(value, current)


def test_domain_lists_are_parsed() -> None:
    assert parse_domains("com.apple.finder, com.apple.dock,\norg.example\n") == [
        "com.apple.dock", "com.apple.finder", "NSGlobalDomain", "org.example"]


class FakeDefaults:
    """Stands in for /usr/bin/defaults: domains kept as binary property lists, like cfprefsd."""

    def __init__(self) -> None:
        self.domains: dict[str, bytes] = {}
        self.calls: list[str] = []

    def __call__(self, arguments: Sequence[str], stdin: bytes | None) -> tuple[int, bytes, bytes]:
        command, *rest = arguments
        self.calls.append(command)
        if command == "domains":
            return 0, ", ".join(sorted(self.domains)).encode(), b""
        domain = rest[0]
        if command == "export":
            if domain not in self.domains:
                return 1, b"", f"Domain {domain} does not exist".encode()
            return 0, plistlib.dumps(plistlib.loads(self.domains[domain])), b""
        if command == "import":
            assert stdin is not None
            self.domains[domain] = plistlib.dumps(plistlib.loads(stdin), fmt=plistlib.FMT_BINARY)
            return 0, b"", b""
        if command == "delete":
            if self.domains.pop(domain, None) is None:
                return 1, b"", b"not found"
            return 0, b"", b""
        return 1, b"", b"unknown command"

    def content(self, domain: str) -> Any:
        return plistlib.loads(self.domains[domain])


@pytest.fixture
def fake() -> FakeDefaults:
    stand_in = FakeDefaults()
    stand_in.domains["com.example.app"] = plistlib.dumps(
        {"Name": "x", "Flag": True, "Ratio": 1.5, "Window": {"Width": 800, "Title": "Main"}},
        fmt=plistlib.FMT_BINARY)
    return stand_in


def test_the_adapter_reads_and_writes_whole_domains(fake: FakeDefaults) -> None:
    backend = DefaultsBackend(fake)
    assert backend.keys(()) == ["com.example.app", "NSGlobalDomain"]
    assert backend.keys(("com.example.app",)) == ["Window"]
    assert [value.name for value in backend.values(("com.example.app",))] == ["Flag", "Name", "Ratio"]
    assert backend.get(("com.example.app", "Window"), "Width") == RegValue("Width", "REG_QWORD", 800)
    backend.set(("com.example.app", "Window"), RegValue("Width", "REG_DWORD", 1024))
    backend.set(("com.example.app", "New", "Deeper"), RegValue("List", "REG_MULTI_SZ", ["a"]))
    backend.set(("org.example.fresh",), RegValue("Hello", "REG_SZ", "world"))
    content = fake.content("com.example.app")
    assert content["Window"] == {"Width": 1024, "Title": "Main"}
    assert content["New"] == {"Deeper": {"List": ["a"]}} and content["Ratio"] == 1.5
    assert fake.content("org.example.fresh") == {"Hello": "world"}
    with pytest.raises(BadParams):
        backend.set(("com.example.app",), RegValue("Flag", "REG_SZ", "yes"))
    with pytest.raises(BadParams, match="a value, not a key"):
        backend.set(("com.example.app", "Name", "Sub"), RegValue("x", "REG_SZ", "y"))
    assert fake.content("com.example.app") == content  # refused writes changed nothing
    backend.delete_value(("com.example.app", "Window"), "Title")
    backend.delete_key(("com.example.app", "New"))
    assert fake.content("com.example.app")["Window"] == {"Width": 1024}
    assert "New" not in fake.content("com.example.app")
    backend.delete_key(("org.example.fresh",))
    assert "org.example.fresh" not in fake.domains
    for call in (lambda: backend.get(("com.example.app",), "Nope"), lambda: backend.keys(("no.such.domain",)),
                 lambda: backend.delete_key(("com.example.app", "Nope")),
                 lambda: backend.get(("com.example.app",), "Window")):
        with pytest.raises(NotFound):
            call()


def test_captures_restore_values_keys_and_whole_domains(fake: FakeDefaults) -> None:
    backend = DefaultsBackend(fake)
    original = fake.content("com.example.app")
    for scope in (Scope(("com.example.app",), "Ratio"), Scope(("com.example.app", "Window")),
                  Scope(("com.example.app",)), Scope(("com.example.app", "Absent")), Scope(("absent.domain",))):
        state = backend.capture(scope, None)
        backend.set(("com.example.app", "Window"), RegValue("Width", "REG_DWORD", 1))
        backend.set(("com.example.app", "Absent"), RegValue("x", "REG_SZ", "y"))
        backend.set(("absent.domain",), RegValue("x", "REG_SZ", "y"))
        if scope.name is not None:
            backend.delete_value(scope.key, scope.name)
        backend.restore(scope, state, Path("."))
        restored = backend.capture(scope, None)
        assert restored == state, scope
        fake.domains["com.example.app"] = plistlib.dumps(original, fmt=plistlib.FMT_BINARY)
        fake.domains.pop("absent.domain", None)


@pytest.fixture
def agent(tmp_path: Path, fake: FakeDefaults) -> Iterator[AgentHarness]:
    harness = AgentHarness(tmp_path, Registry(lambda: DefaultsBackend(fake)))
    yield harness
    harness.close()


def test_preferences_through_the_dispatcher_with_undo(agent: AgentHarness, fake: FakeDefaults) -> None:
    original = fake.domains["com.example.app"]
    changed = agent.result("registry.set", path="com.example.app/Window", name="Title", type="REG_SZ", data="New")
    assert changed["before"]["data"] == "Main"
    agent.result("registry.delete_key", path="com.example.app/Window")
    assert "The technician deleted preferences key com.example.app/Window" in agent.told[-1]
    text = agent.result("registry.export", path="com.example.app")["text"]
    assert '"Flag"=dword:00000001' in text and "real 1.5" in text
    agent.result("registry.undo")
    agent.result("registry.undo")
    assert plistlib.loads(fake.domains["com.example.app"]) == plistlib.loads(original)


@pytest.mark.skipif(sys.platform != "darwin", reason="the defaults command exists only on macOS; its mapping is "
                                                     "tested above with a stand-in")
def test_the_real_defaults_command() -> None:  # pragma: no cover - macOS
    backend = DefaultsBackend()
    domain = "org.example.workbench-registry-test"
    try:
        backend.set((domain, "Nested"), RegValue("Count", "REG_DWORD", 3))
        assert backend.get((domain, "Nested"), "Count").data == 3
        assert domain in backend.keys(())
        out = subprocess.run(["defaults", "export", domain, "-"], capture_output=True, check=True).stdout
        assert plistlib.loads(out) == {"Nested": {"Count": 3}}
    finally:
        subprocess.run(["defaults", "delete", domain], capture_output=True, check=False)

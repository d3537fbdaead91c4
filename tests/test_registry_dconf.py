"""GNOME dconf as the registry: GVariant text both ways, then the real dconf on a private session bus.

The real tests start their own ``dbus-daemon --session`` (what ``dbus-run-session`` does) with a
private HOME, XDG_CONFIG_HOME and XDG_RUNTIME_DIR, so the user's own settings are never touched;
dconf's service is started by that bus and ends with it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.policy import Policy
from agent.registry import Registry
from agent.registry.backend import Scope
from agent.registry.dconf import DconfBackend, Unmapped, gvariant_value, parse_gvariant, to_gvariant
from agent.registry.model import GVARIANT, RegValue
from tests.dconf_session import private_dconf_session
from tests.registry_support import AgentHarness
from wire.errors import BadParams, NotFound, Unavailable, Unsupported

# Texts as `dconf read` printed them on this machine.
PRINTED: list[tuple[str, str, str, Any]] = [
    ("'hello'", "s", "REG_SZ", "hello"),
    ('"it\'s"', "s", "REG_SZ", "it's"),
    ("'tab\\there \\u0001 \\\\ q\"'", "s", "REG_SZ", 'tab\there \x01 \\ q"'),
    ("'\\U0001f600 é ✓'", "s", "REG_SZ", "😀 é ✓"),
    ("uint32 5", "u", "REG_DWORD", 5),
    ("-3", "i", "REG_DWORD", -3),
    ("int16 -5", "n", "REG_DWORD", -5),
    ("byte 0x05", "y", "REG_DWORD", 5),
    ("true", "b", "REG_DWORD", 1),
    ("int64 7", "x", "REG_QWORD", 7),
    ("uint64 18446744073709551615", "t", "REG_QWORD", 2**64 - 1),
    ("['a', \"it's\"]", "as", "REG_MULTI_SZ", ["a", "it's"]),
    ("@as []", "as", "REG_MULTI_SZ", []),
    ("b'a\\001b\\n'", "ay", "REG_BINARY", b"a\x01b\n\x00"),
    ("[byte 0x41, 0x42]", "ay", "REG_BINARY", b"AB"),
    ("@ay []", "ay", "REG_BINARY", b""),
]
UNMAPPED = ["1.5", "(1, 'a')", "objectpath '/a'", "@a{ss} {}", "[(1, 2)]", "[['a']]", "<'x'>", "@mi 5", "[1.5]"]


@pytest.mark.parametrize(("text", "native", "type_", "data"), PRINTED)
def test_printed_gvariants_map_to_registry_values(text: str, native: str, type_: str, data: Any) -> None:
    value = gvariant_value("k", text)
    assert (value.native, value.type, value.data) == (native, type_, data)


@pytest.mark.parametrize("text", UNMAPPED)
def test_other_gvariants_are_shown_as_they_are_not_forced_into_a_type(text: str) -> None:
    with pytest.raises(Unmapped):
        parse_gvariant(text)
    value = gvariant_value("k", text)
    assert value.type == GVARIANT and value.data == text


@pytest.mark.parametrize(("text", "native", "type_", "data"), [row for row in PRINTED if row[1] != "ay" or row[3]])
def test_what_is_written_parses_back_to_the_same_value(text: str, native: str, type_: str, data: Any) -> None:
    if native == "ay" and data.endswith(b"\x00"):
        data = data[:-1] + b"\x00"
    written = to_gvariant(RegValue("k", type_, data), native)
    assert parse_gvariant(written) == (native, bool(data) if native == "b" else data)


def test_writing_keeps_the_native_type_and_its_range() -> None:
    assert to_gvariant(RegValue("k", "REG_DWORD", 7), "u") == "uint32 7"
    assert to_gvariant(RegValue("k", "REG_DWORD", 0), "b") == "false"
    assert to_gvariant(RegValue("k", "REG_DWORD", 2**31)) == "uint32 2147483648"
    assert to_gvariant(RegValue("k", "REG_DWORD", -1)) == "int32 -1"
    assert to_gvariant(RegValue("k", "REG_QWORD", 2**63)) == "uint64 9223372036854775808"
    assert to_gvariant(RegValue("k", "REG_MULTI_SZ", [])) == "@as []"
    for value, native, error in [(RegValue("k", "REG_DWORD", -1), "u", BadParams),
                                 (RegValue("k", "REG_DWORD", 2), "b", BadParams),
                                 (RegValue("k", "REG_DWORD", 300), "y", BadParams),
                                 (RegValue("k", "REG_SZ", "x"), "u", BadParams),
                                 (RegValue("k", "REG_DWORD", 1), "d", BadParams),
                                 (RegValue("k", "REG_EXPAND_SZ", "%x%"), None, Unsupported)]:
        with pytest.raises(error):
            to_gvariant(value, native)


# ---------------------------------------------------------------------------------------------------- real dconf


# Runs the bus as its child and adopts what the bus starts (a child subreaper), so that dconf's
# service, which outlives the bus by a moment, is reaped here rather than left to init.


@pytest.fixture(scope="module")
def session_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with private_dconf_session(tmp_path_factory.mktemp("dconf-home")) as env:
        yield env


@pytest.fixture
def dconf(session_env: dict[str, str]) -> Iterator[DconfBackend]:
    backend = DconfBackend(session_env)
    yield backend
    backend._run("reset", "-f", "/wbtest/")


def read(env: dict[str, str], key: str) -> str:
    """What the dconf command itself says: the independent check."""
    return subprocess.run(["dconf", "read", key], env=env, capture_output=True, text=True, check=True).stdout.strip()


def write(env: dict[str, str], key: str, text: str) -> None:
    subprocess.run(["dconf", "write", key, text], env=env, check=True)


def test_values_of_each_type_are_written_as_dconf_expects(dconf: DconfBackend, session_env: dict[str, str]) -> None:
    key = ("wbtest", "app")
    for value, printed in [(RegValue("name", "REG_SZ", "it's é\n"), '"it\'s é\\n"'),
                           (RegValue("count", "REG_DWORD", 42), "42"),
                           (RegValue("large", "REG_DWORD", 2**32 - 1), "uint32 4294967295"),
                           (RegValue("big", "REG_QWORD", -(2**40)), "int64 -1099511627776"),
                           (RegValue("list", "REG_MULTI_SZ", ["a", "b"]), "['a', 'b']"),
                           (RegValue("blob", "REG_BINARY", b"\x00\xff"), "[byte 0x00, 0xff]")]:
        dconf.set(key, value)
        assert read(session_env, f"/wbtest/app/{value.name}") == printed
        assert dconf.get(key, value.name).data == value.data
    assert [value.name for value in dconf.values(key)] == ["big", "blob", "count", "large", "list", "name"]
    assert dconf.keys(("wbtest",)) == ["app"]
    assert dconf.display(key) == "/wbtest/app"


def test_an_existing_key_keeps_its_type(dconf: DconfBackend, session_env: dict[str, str]) -> None:
    write(session_env, "/wbtest/u", "uint32 5")
    write(session_env, "/wbtest/flag", "true")
    write(session_env, "/wbtest/ratio", "1.5")
    dconf.set(("wbtest",), RegValue("u", "REG_DWORD", 7))
    assert read(session_env, "/wbtest/u") == "uint32 7"
    assert dconf.get(("wbtest",), "flag") == RegValue("flag", "REG_DWORD", 1)
    dconf.set(("wbtest",), RegValue("flag", "REG_DWORD", 0))
    assert read(session_env, "/wbtest/flag") == "false"
    for name, value in [("u", RegValue("u", "REG_SZ", "x")), ("flag", RegValue("flag", "REG_DWORD", 2)),
                        ("ratio", RegValue("ratio", "REG_DWORD", 1)), ("u", RegValue("u", "REG_DWORD", -1))]:
        before = read(session_env, f"/wbtest/{name}")
        with pytest.raises(BadParams):
            dconf.set(("wbtest",), value)
        assert read(session_env, f"/wbtest/{name}") == before
    assert dconf.get(("wbtest",), "ratio") == RegValue("ratio", GVARIANT, "1.5")
    with pytest.raises(Unsupported):
        dconf.set(("wbtest",), RegValue("new", "REG_EXPAND_SZ", "%HOME%"))
    with pytest.raises(BadParams, match="default"):
        dconf.set(("wbtest",), RegValue("", "REG_SZ", "x"))
    assert read(session_env, "/wbtest/new") == ""


def test_missing_things_and_deletions(dconf: DconfBackend, session_env: dict[str, str]) -> None:
    with pytest.raises(NotFound):
        dconf.keys(("wbtest", "nothing"))
    with pytest.raises(NotFound):
        dconf.values(("wbtest", "nothing"))
    with pytest.raises(NotFound):
        dconf.get(("wbtest",), "nothing")
    with pytest.raises(NotFound):
        dconf.delete_value(("wbtest",), "nothing")
    with pytest.raises(NotFound):
        dconf.delete_key(("wbtest", "nothing"))
    dconf.set(("wbtest", "a", "b"), RegValue("v", "REG_SZ", "x"))
    dconf.set(("wbtest", "a"), RegValue("w", "REG_SZ", "y"))
    dconf.delete_value(("wbtest", "a"), "w")
    assert read(session_env, "/wbtest/a/w") == ""
    dconf.delete_key(("wbtest", "a"))
    assert read(session_env, "/wbtest/a/b/v") == "" and not dconf.exists(("wbtest", "a"))


def test_a_directory_is_captured_and_restored_exactly(dconf: DconfBackend, session_env: dict[str, str]) -> None:
    write(session_env, "/wbtest/t/ratio", "1.5")
    write(session_env, "/wbtest/t/sub/pair", "(1, 'a')")
    write(session_env, "/wbtest/t/name", "'x'")
    state = dconf.capture(Scope(("wbtest", "t")), None)
    dump = subprocess.run(["dconf", "dump", "/wbtest/t/"], env=session_env, capture_output=True, text=True,
                          check=True).stdout
    dconf.delete_key(("wbtest", "t"))
    dconf.set(("wbtest", "t"), RegValue("intruder", "REG_SZ", "y"))
    dconf.restore(Scope(("wbtest", "t")), state, Path("."))
    assert subprocess.run(["dconf", "dump", "/wbtest/t/"], env=session_env, capture_output=True, text=True,
                          check=True).stdout == dump


def test_without_a_session_bus_writes_are_unavailable_and_change_nothing(session_env: dict[str, str]) -> None:
    write(session_env, "/wbtest/keep", "'kept'")
    cut_off = DconfBackend({**session_env, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"})
    assert cut_off.get(("wbtest",), "keep").data == "kept"  # reading needs only the files
    with pytest.raises(Unavailable, match="dconf's service"):
        cut_off.set(("wbtest",), RegValue("keep", "REG_SZ", "changed"))
    assert read(session_env, "/wbtest/keep") == "'kept'"
    with pytest.raises(Unavailable, match="not installed"):
        DconfBackend(session_env, command="/nonexistent/dconf").keys(())
    DconfBackend(session_env).delete_key(("wbtest",))


@pytest.fixture
def agent(tmp_path: Path, dconf: DconfBackend) -> Iterator[AgentHarness]:
    harness = AgentHarness(tmp_path, Registry(lambda: dconf),
                           Policy(forbidden_registry=["/wbtest/Private"]))
    yield harness
    harness.close()


def test_dconf_through_the_dispatcher_with_undo(agent: AgentHarness, session_env: dict[str, str]) -> None:
    write(session_env, "/wbtest/app/mode", "'safe'")
    write(session_env, "/wbtest/app/deep/n", "uint32 3")
    dump = subprocess.run(["dconf", "dump", "/wbtest/"], env=session_env, capture_output=True, text=True,
                          check=True).stdout
    changed = agent.result("registry.set", path="/wbtest/app", name="mode", type="REG_SZ", data="fast")
    assert changed["before"] == {"name": "mode", "type": "REG_SZ", "data": "safe", "native": "s"}
    created = agent.result("registry.set", path="wbtest/new/deeper", name="x", type="REG_DWORD", data=1)
    assert created["created"] == "/wbtest/new"
    agent.result("registry.delete_key", path="/wbtest/app")
    assert read(session_env, "/wbtest/app/deep/n") == ""
    assert "The technician deleted desktop settings (dconf) key /wbtest/app and everything in it" in agent.told[-1]
    text = agent.result("registry.export", path="/wbtest")["text"]
    assert '[/wbtest/new/deeper]\r\n"x"=dword:00000001' in text
    for _ in range(3):
        agent.result("registry.undo")
    assert subprocess.run(["dconf", "dump", "/wbtest/"], env=session_env, capture_output=True, text=True,
                          check=True).stdout == dump
    write(session_env, "/wbtest/Private/pin", "'1234'")
    assert agent.code("registry.get", path="/wbtest/private", name="pin") == "forbidden"
    assert agent.code("registry.delete_key", path="/wbtest") == "forbidden"
    assert agent.result("registry.keys", path="/wbtest")["hidden"] == 1
    assert "1234" not in agent.result("registry.export", path="/wbtest")["text"]

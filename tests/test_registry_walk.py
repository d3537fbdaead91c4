"""Key names with any character (paths as lists of names), and the paged ``registry.walk``, from the notebook
through a real dispatcher to real hive files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.forbidden import Guard
from agent.policy import Policy
from agent.registry import Registry
from agent.registry.choice import open_hive_file
from agent.registry.hive import HiveBackend
from agent.registry.paths import key_from_names
from tests.hive_factory import Node, build_hive, system_like_tree
from tests.registry_support import AgentHarness, make_hive, regipy_subkeys
from wire.errors import BadParams, Conflict, NotFound
from workbench.registry import HiveHandle, RegistryNamespace


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentHarness]:
    live = make_hive(tmp_path / "live.hiv")
    harness = AgentHarness(tmp_path, Registry(lambda: HiveBackend(open_hive_file(str(live), lambda: Guard(None)))),
                           Policy(forbidden_registry=[f"{tmp_path / 'SOFTWARE'}\\Vendor\\Secret"]))
    yield harness
    harness.close()


def open_hive(agent: AgentHarness, path: Path) -> HiveHandle:
    return RegistryNamespace(agent).open_hive(str(path))


def test_a_key_named_with_a_slash_is_listed_and_opened(agent: AgentHarness, tmp_path: Path) -> None:
    hive = open_hive(agent, make_hive(tmp_path / "SOFTWARE"))
    hive.set(["application/json"], "Extension", ".json")
    hive.set(["MIME", "text/html"], "Extension", ".html")
    hive.set(["odd\\name"], "v", 1)  # a backslash too: a hive file stores any name
    listed = hive.keys("")
    assert list(listed) == ["application/json", "MIME", "odd\\name"]  # sorted as Windows does: upper-cased
    for name in listed:
        assert hive.values(listed.path_of(name)).key == (name,)
    assert hive.get(["application/json"], "Extension").data == ".json"
    assert hive.get("MIME\\text/html", "Extension").data == ".html"  # a string with "\\" splits at "\\" only
    with pytest.raises(NotFound):  # a string without "\\" splits at "/": the list form is the way
        hive.values("application/json")
    assert regipy_subkeys(tmp_path / "SOFTWARE", "\\MIME") == ["text/html"]
    assert hive.walk() and [listing.key for listing in hive.walk()] == [
        (), ("application/json",), ("MIME",), ("MIME", "text/html"), ("odd\\name",)]
    hive.delete_key(["odd\\name"])
    assert "odd\\name" not in list(hive.keys(""))
    text = str(hive.export(["application/json"]))
    assert "[HKEY_LOCAL_MACHINE\\OFFLINE\\application/json]" in text


def test_names_in_a_list_are_checked(agent: AgentHarness, tmp_path: Path) -> None:
    hive = open_hive(agent, make_hive(tmp_path / "SOFTWARE"))
    for bad in (["a", ""], ["a\0b"], ["x" * 256], [1], ["a"] * 600):
        with pytest.raises(BadParams):
            agent.result("registry.keys", hive=hive.handle, path=bad)
    with pytest.raises(TypeError):
        hive.keys([b"bytes"])  # type: ignore[list-item]
    assert key_from_names(["Software", "a/b"], "\\") == ("Software", "a/b")
    with pytest.raises(BadParams, match="cannot hold"):  # the live registry would read two keys
        key_from_names(["Software\\Evil"], "\\")


def test_the_customers_rules_hold_for_names_given_as_lists(agent: AgentHarness, tmp_path: Path) -> None:
    hive = open_hive(agent, make_hive(tmp_path / "SOFTWARE"))
    hive.set("Vendor\\Open", "v", 1)
    with pytest.raises(Exception, match="protected"):
        hive.set(["Vendor", "Secret"], "pin", "1234")
    with pytest.raises(Exception, match="protected"):
        hive.keys(["Vendor", "SECRET", "below"])


def test_a_walk_in_pages_gives_every_key_once_in_order_with_its_values(agent: AgentHarness,
                                                                        tmp_path: Path) -> None:
    tree = system_like_tree(1500)
    tree.children.append(Node("Vendor", [("", 1, "x\0".encode("utf-16-le"))],
                              [Node("Secret", [("pin", 4, b"\x01\0\0\0")]), Node("Open")]))
    path = tmp_path / "SOFTWARE"
    path.write_bytes(build_hive(tree))
    backend = HiveBackend(open_hive_file(str(path), lambda: Guard(None)))
    expected = [listing for listing in backend.walk((), lambda key: False) if "Secret" not in listing.key]
    hive = open_hive(agent, path)
    before = len(agent.outcomes())
    for page in (1, 7, 1000):
        walked = list(hive.walk(page=page)) if page != 1 else list(hive.walk("Vendor", page=page))
        wanted = expected if page != 1 else [item for item in expected if item.key[:1] == ("Vendor",)]
        assert [item.key for item in walked] == [item.key for item in wanted]
        assert [item.subkeys for item in walked] == [[name for name in item.subkeys if name != "Secret"]
                                                      for item in wanted]
        assert [[value.data for value in item.values] for item in walked] == [
            [value.data for value in item.values] for item in wanted]
    calls = len(agent.outcomes()) - before
    assert calls == 2 + -(-len(expected) // 7) + 2  # one journaled call per page, not two per key
    assert [item.key for item in hive.walk("Vendor", values=False)] == [("Vendor",), ("Vendor", "Open")]


def test_a_walk_stops_clearly_when_the_key_it_stopped_at_is_gone(agent: AgentHarness, tmp_path: Path) -> None:
    hive = open_hive(agent, make_hive(tmp_path / "SOFTWARE"))
    for name in ("A", "B", "C"):
        hive.set([name, "x"], "v", 1)
    pages = hive.walk(page=2)
    assert [next(pages).key, next(pages).key] == [(), ("A",)]
    hive.delete_key("A")
    with pytest.raises(Conflict, match="changed between pages"):
        next(pages)
    with pytest.raises(BadParams, match="inside"):
        agent.result("registry.walk", hive=hive.handle, path="B", after=["C"])

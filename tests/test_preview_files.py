"""Dry runs of the file methods through a real dispatcher and journal: planned, checked, never made.

Each changing method is previewed on real files: the answer is the plan (the
diff, the paths, the sizes), the files, the agent's undo records and trash are
exactly as before, the journal says ``preview`` and ``planned`` (and still
verifies), and the customer reads "Preview — nothing was changed".  A preview
meets the same refusals as the real call (the customer's forbidden folder,
reached by another path, is refused by its identity), and one that succeeds is
followed by the real call succeeding.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import files, preview
from agent.dispatch import Dispatcher, Method, MethodTable
from agent.forbidden import ForbiddenFolders
from agent.journal import Journal
from agent.policy import Policy
from wire import protocol
from wire.chain import verify_file
from wire.errors import WorkbenchError, error_from_wire

PREVIEW_LINE = "Preview — nothing was changed: the technician would "


class PreviewAgent:
    """The file methods behind a real dispatcher (with the agent's dry-run rules) and journal."""

    _ids = itertools.count(1)

    def __init__(self, root: Path, extra: list[Method] | None = None) -> None:
        self.root = root
        self.state_dir = root / "agent-state"
        self.journal_path = root / "journal.jsonl"
        self.journal = Journal(self.journal_path)
        self.policy = Policy()
        self.folders = ForbiddenFolders()
        self.policy.forbidden_folders = self.folders
        self.said: list[str] = []
        self.dispatcher = Dispatcher(MethodTable([*files.METHODS, *(extra or [])]), self.journal, self.policy,
                                     self.state_dir, self.said.append, previews=preview.previews())

    def call(self, method: str, data: bytes | None = None, *, dry: bool = False, **params: Any) -> Any:
        frame = protocol.encode(protocol.request(f"r{next(self._ids)}", method, params, data, preview=dry))
        reply = protocol.decode(protocol.encode(asyncio.run(self.dispatcher.handle(protocol.decode(frame)))))
        if reply.type == "error":
            raise error_from_wire(reply.fields)
        return reply["result"]

    def plan(self, method: str, data: bytes | None = None, **params: Any) -> dict[str, Any]:
        answer = self.call(method, data, dry=True, **params)
        assert answer["preview"] is True and isinstance(answer["summary"], str) and answer["summary"]
        return dict(answer["plan"])

    def refused(self, method: str, **params: Any) -> str:
        with pytest.raises(WorkbenchError) as caught:
            self.call(method, dry=True, **params)
        return caught.value.code

    def close(self) -> None:
        self.dispatcher.close()
        self.journal.close()
        self.folders.close()


def snapshot(*folders: Path) -> dict[str, str]:
    """Every entry under *folders*: files by content hash, folders and links by kind."""
    seen: dict[str, str] = {}
    for folder in folders:
        if not folder.exists():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_symlink():
                seen[str(path)] = "link:" + os.readlink(path)
            elif path.is_dir():
                seen[str(path)] = "dir"
            else:
                seen[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[PreviewAgent]:
    a = PreviewAgent(tmp_path)
    yield a
    a.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    (h / "docs").mkdir(parents=True)
    (h / "docs" / "hosts").write_text("127.0.0.1 localhost\n10.0.0.1 bad.example\n")
    (h / "docs" / "notes.txt").write_text("one\ntwo\n")
    (h / "keep").mkdir()
    return h


def test_every_changing_method_is_planned_and_nothing_changes(agent: PreviewAgent, home: Path) -> None:
    docs = home / "docs"
    hosts = docs / "hosts"
    before = snapshot(home)

    write = agent.plan("files.write", path=str(hosts), text="127.0.0.1 localhost\n")
    assert write["action"] == "write" and write["path"] == str(hosts) and write["created"] is False
    assert write["size_before"] == hosts.stat().st_size and write["size_after"] == len("127.0.0.1 localhost\n")
    assert "-10.0.0.1 bad.example" in write["diff"]
    created = agent.plan("files.write", path=str(docs / "new.txt"), text="fresh\n")
    assert created["created"] is True and "+fresh" in created["diff"] and created["size_before"] is None

    edit = agent.plan("files.edit", path=str(hosts), old="10.0.0.1 bad.example\n", new="")
    assert edit["diff"].splitlines()[-1] == "-10.0.0.1 bad.example"
    move = agent.plan("files.move", src=str(docs / "notes.txt"), dst=str(home / "keep") + "/")
    assert move == {"action": "move", "src": str(docs / "notes.txt"), "dst": str(home / "keep" / "notes.txt"),
                    "kind": "file", "size": 8, "replaces": False}
    copy = agent.plan("files.copy", src=str(docs), dst=str(home / "docs-copy"))
    assert copy["kind"] == "folder" and copy["dst"] == str(home / "docs-copy")
    delete = agent.plan("files.delete", path=str(docs))
    assert delete["path"] == str(docs) and delete["recoverable"] is True
    mkdir = agent.plan("files.mkdir", path=str(home / "a" / "b"), parents=True)
    assert mkdir["created"] == [str(home / "a"), str(home / "a" / "b")]
    upload = agent.plan("files.upload_open", path=str(docs / "big.bin"), size=5_000_000)
    assert upload == {"action": "upload", "path": str(docs / "big.bin"), "size": 5_000_000, "replaces": False,
                      "sha256": None}

    assert snapshot(home) == before  # no file changed, made or removed, no .part file
    # the agent's own folders may now exist, empty: no undo record, no kept item, no upload part
    assert [p for p in agent.state_dir.rglob("*") if not p.is_dir()] == []
    assert agent.refused("files.undo") == "not_found"  # and nothing to undo
    assert all(line.startswith(PREVIEW_LINE) for line in agent.said if "did not happen" not in line)
    assert f"{PREVIEW_LINE}change the file {hosts}" in agent.said
    assert f"{PREVIEW_LINE}delete {docs}" in agent.said  # not "(kept in the agent's trash…)": nothing was kept


def test_the_journal_keeps_each_preview_as_planned_and_still_verifies(agent: PreviewAgent, home: Path) -> None:
    hosts = home / "docs" / "hosts"
    agent.plan("files.write", path=str(hosts), text="x\n")
    agent.call("files.read", dry=True, path=str(hosts))
    calls = [r for r in agent.journal.records if r["kind"] == "call"]
    outcomes = [r for r in agent.journal.records if r["kind"] == "outcome"]
    assert [c["method"] for c in calls] == ["files.write", "files.read"]
    assert all(c["preview"] is True for c in calls)
    assert calls[0]["words"] == f"{PREVIEW_LINE}change the file {hosts}"
    assert [o["outcome"] for o in outcomes] == ["planned", "ok"]  # a read runs as usual in a dry run
    assert "would replace the content" in outcomes[0]["summary"]
    agent.journal.close()
    assert verify_file(agent.journal_path).ok


def test_a_preview_meets_the_same_refusals_as_the_real_call(agent: PreviewAgent, home: Path) -> None:
    secret = home / "secret"
    secret.mkdir()
    (secret / "data.txt").write_text("private\n")
    agent.folders.add(str(secret))
    (home / "alias").symlink_to(secret)  # another path to the same folder: refused by its identity
    before = snapshot(home)
    for method, params in [
        ("files.write", {"path": str(home / "alias" / "data.txt"), "text": "x"}),
        ("files.edit", {"path": str(home / "alias" / "data.txt"), "old": "private", "new": "x"}),
        ("files.delete", {"path": str(secret)}),
        ("files.delete", {"path": str(home)}),  # it holds the protected folder
        ("files.move", {"src": str(home / "docs" / "hosts"), "dst": str(home / "alias") + "/"}),
        ("files.copy", {"src": str(home / "alias"), "dst": str(home / "out")}),
        ("files.mkdir", {"path": str(home / "alias" / "new")}),
        ("files.upload_open", {"path": str(home / "alias" / "up.bin"), "size": 3}),
    ]:
        assert agent.refused(method, **params) == "forbidden", (method, params)
    assert agent.refused("files.edit", path=str(home / "docs" / "hosts"), old="absent", new="x") == "conflict"
    assert agent.refused("files.write", path=str(home / "missing" / "f"), text="x") == "not_found"
    assert agent.refused("files.delete", path=str(home / "nothing")) == "not_found"
    assert agent.refused("files.write", path=str(home / "docs" / "hosts"), text="x", overwrite=False) == "exists"
    assert agent.refused("files.write", path=str(home / "docs" / "hosts")) == "bad_params"  # neither text nor data
    assert agent.refused("files.move", src=str(home / "docs"), dst=str(home / "docs" / "inner")) == "bad_params"
    assert agent.refused("files.mkdir", path=str(home / "docs")) == "exists"
    assert snapshot(home) == before


def test_a_preview_that_succeeds_is_followed_by_the_real_call_succeeding(agent: PreviewAgent, home: Path) -> None:
    hosts = home / "docs" / "hosts"
    plan = agent.plan("files.edit", path=str(hosts), old="10.0.0.1 bad.example\n", new="")
    done = agent.call("files.edit", path=str(hosts), old="10.0.0.1 bad.example\n", new="")
    assert done["diff"] == plan["diff"] and done["sha256"] == plan["sha256_after"]
    assert hosts.read_text() == "127.0.0.1 localhost\n"
    # the undo of that real change, previewed: its steps are shown and the change stays undoable
    undo = agent.plan("files.undo")
    assert undo["undoes"] == f"edited {hosts}" and undo["steps"][0]["kind"] == "replaced"
    assert hosts.read_text() == "127.0.0.1 localhost\n"
    agent.call("files.undo")
    assert "bad.example" in hosts.read_text()


def test_a_method_without_a_planner_and_control_input_are_refused_never_run(tmp_path: Path) -> None:
    ran: list[str] = []

    def click(ctx: Any) -> dict[str, Any]:
        ran.append("click")
        return {}

    agent = PreviewAgent(tmp_path, [Method("control.click", click, "control", lambda p: "The technician clicked")])
    agent.policy.permissions.control = True
    try:
        assert agent.refused("control.click", x=1, y=1) == "preview_unsupported"
        assert agent.refused("files.upload_chunk", id="t", offset=0) == "preview_unsupported"
        assert ran == []
        agent.call("control.click", x=1, y=1)  # the same method, not in a dry run, runs
        assert ran == ["click"]
    finally:
        agent.close()


def test_every_agent_method_has_a_dry_run_rule() -> None:
    """A method must be placed on purpose: it runs (changes nothing), is planned, or is refused."""
    from agent.registry import METHODS as REGISTRY_METHODS

    names = {m.name for m in files.METHODS} | {m.name for m in REGISTRY_METHODS}
    names |= {"session.ping", "session.describe", "session.playbook", "inventory.collect", "screen.screenshot",
              "screen.monitors", "annotate.add", "annotate.remove", "annotate.clear", "annotate.list"}
    rules = preview.previews()
    assert rules.planners.keys() | rules.unchanging <= names
    refused_on_purpose = {"files.upload_chunk", "files.upload_status", "files.upload_finish", "files.upload_abort"}
    for name in names:
        assert rules.mode(name) == "refuse" if name in refused_on_purpose else rules.mode(name) in ("run", "plan")
    for name in ("control.click", "control.move", "control.drag", "control.scroll", "control.type", "control.key"):
        assert rules.mode(name) == "refuse"

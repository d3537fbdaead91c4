"""agent.files.undo: backups kept before each change, atomic replacement, and undo that never destroys."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.files import keeping
from tests.files.harness import Agent

ROOT = Path(__file__).resolve().parents[2]


def test_write_keeps_hard_linked_backup_intact(agent: Agent, home: Path) -> None:
    target = home / "w.txt"
    target.write_text("original")
    inode = target.stat().st_ino
    agent("files.write", path=str(target), text="new")
    agent("files.undo")
    assert target.read_text() == "original"
    assert target.stat().st_ino == inode, "undo brings back the very file, not a copy"


def test_undo_never_destroys(agent: Agent, home: Path) -> None:
    (home / "src").mkdir()
    agent("files.copy", src=str(home / "src"), dst=str(home / "copy"))
    (home / "copy" / "customer.txt").write_text("written by the customer since")
    agent("files.undo")
    assert not (home / "copy").exists()
    kept = list((agent.state_dir / "files" / "items").rglob("customer.txt"))
    assert [p.read_text() for p in kept] == ["written by the customer since"]


def test_undo_refuses_when_changed_since(agent: Agent, home: Path) -> None:
    target = home / "t.txt"
    target.write_text("v1")
    agent("files.write", path=str(target), text="v2")
    target.write_text("customer's own edit")
    err = agent.error("files.undo")
    assert err.code == "conflict"
    assert target.read_text() == "customer's own edit"


def test_undo_keeps_a_bounded_history(agent: Agent, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keeping, "KEEP_CHANGES", 3)  # the shared bookkeeping prunes
    target = home / "t.txt"
    for n in range(6):
        agent("files.write", path=str(target), text=str(n))
    for _ in range(3):
        agent("files.undo")
    assert target.read_text() == "2"
    assert agent.error("files.undo").code == "not_found"


def test_kill_9_mid_write_leaves_old_or_new_never_half(tmp_path: Path) -> None:
    """The writer is killed after its temporary file is written, before the rename."""
    target = tmp_path / "home" / "doc.txt"
    target.parent.mkdir()
    target.write_bytes(b"old content\n" * 1000)
    code = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from tests.files.harness import Agent
        import agent.files.undo as undo
        a = Agent(Path({str(tmp_path / 'child')!r}))
        real_rename = os.rename
        def stop_before_rename(src, dst, **kw):
            if ".wb-" in str(src):
                sys.stdout.write("ready\\n"); sys.stdout.flush()
                sys.stdin.read()  # wait to be killed
            return real_rename(src, dst, **kw)
        undo.os.rename = stop_before_rename
        a("files.write", path={str(target)!r}, text="new content\\n" * 100000)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert target.read_bytes() == b"old content\n" * 1000
    # A fresh agent on the same state undoes nothing wrong: the recorded change never took effect.
    a = Agent(tmp_path / "child")
    try:
        a("files.undo")
        assert target.read_bytes() == b"old content\n" * 1000
    finally:
        a.close()

"""A scene for the C3 attacks: a home with a protected folder, and an agent that checks refusals leak nothing."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.forbidden import ForbiddenFolders
from tests.files.harness import Agent as FilesAgent
from wire.errors import WorkbenchError

SECRET = b"the customer's secret"


class Agent(FilesAgent):
    """The file methods behind a real dispatcher and journal, checking that refusals leak no secret."""

    def refused(self, method: str, data: bytes | None = None, **params: Any) -> WorkbenchError:
        """Call, expect an error, and check that no secret leaked in it."""
        with pytest.raises(WorkbenchError) as caught:
            self(method, data, **params)
        assert SECRET.decode() not in caught.value.message
        return caught.value

    def forbidden(self, method: str, data: bytes | None = None, **params: Any) -> None:
        err = self.refused(method, data, **params)
        assert err.code == "forbidden", f"{method} {params}: {err.code} {err.message}"


class Scene:
    """/home/ana with a protected folder ``secret`` (holding a file and ``sub``), and ``out``."""

    def __init__(self, root: Path, folders: ForbiddenFolders | None = None) -> None:
        self.root = root
        self.home = root / "home" / "ana"
        self.secret = self.home / "secret"
        (self.secret / "sub").mkdir(parents=True)
        (self.secret / "s.txt").write_bytes(SECRET)
        (self.secret / "sub" / "deep.txt").write_bytes(SECRET)
        (self.home / "notes.txt").write_text("notes")
        self.out = root / "out"
        self.out.mkdir()
        self.folders = folders if folders is not None else ForbiddenFolders()
        self.folders.add(str(self.secret))
        self.agent = Agent(root, self.folders)

    def close(self) -> None:
        self.agent.dispatcher.close()
        self.agent.journal.close()
        self.folders.close()


def all_reads(agent: Agent, path: str) -> None:
    """Every way of looking at *path* is refused."""
    agent.forbidden("files.read", path=path)
    agent.forbidden("files.read", path=path, encoding=None, length=5)
    agent.forbidden("files.stat", path=path)
    agent.forbidden("files.download_open", path=path)
    agent.forbidden("files.copy", src=path, dst=str(Path(agent.state_dir).parent / "out" / "stolen"))


@contextlib.contextmanager
def mounted(*args: str) -> Iterator[None]:
    point = args[-1]
    run = subprocess.run(["mount", *args], capture_output=True, text=True)
    if run.returncode:
        pytest.fail(f"cannot mount (the mount tests need root, as CI runs them): {run.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", point], check=True)

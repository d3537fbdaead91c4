"""The file methods behind a real Dispatcher and journal, without a network (shared by the files and C3 tests).

Every call goes through the wire format (encode, decode) both ways, so sizes
and types are those the link would carry.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agent import files
from agent.dispatch import Dispatcher, MethodTable
from agent.forbidden import ForbiddenFolders
from agent.journal import Journal
from agent.policy import Policy
from wire import protocol
from wire.errors import WorkbenchError, error_from_wire


class Agent:
    """The file methods behind a real dispatcher and journal, without a network."""

    _ids = itertools.count(1)

    def __init__(self, root: Path, folders: ForbiddenFolders | None = None) -> None:
        self.state_dir = root / "agent-state"
        self.journal = Journal(root / "journal.jsonl")
        self.policy = Policy()
        self.policy.forbidden_folders = folders if folders is not None else ForbiddenFolders()
        self.said: list[str] = []
        self.dispatcher = Dispatcher(MethodTable(files.METHODS), self.journal, self.policy, self.state_dir,
                                     self.said.append)

    def raw(self, method: str, data: bytes | None = None, **params: Any) -> tuple[Any, bytes | None]:
        request = protocol.decode(protocol.encode(protocol.request(f"r{next(self._ids)}", method, params, data)))
        reply = protocol.decode(protocol.encode(asyncio.run(self.dispatcher.handle(request))))
        if reply.type == "error":
            raise error_from_wire(reply.fields)
        return reply["result"], reply.data

    def __call__(self, method: str, data: bytes | None = None, **params: Any) -> Any:
        return self.raw(method, data, **params)[0]

    def error(self, method: str, data: bytes | None = None, **params: Any) -> WorkbenchError:
        with pytest.raises(WorkbenchError) as caught:
            self(method, data, **params)
        return caught.value

    def outcome(self) -> dict[str, Any]:
        return self.journal.records[-1]

    def close(self) -> None:
        self.dispatcher.close()
        self.journal.close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".wb-" in p.name)


#: What Windows' ``os`` lacks that POSIX code reaches for (the flags of a walk that never follows a link,
#: user ids, positioned reads and writes).
POSIX_ONLY_OS_NAMES = ("O_NOFOLLOW", "O_DIRECTORY", "O_CLOEXEC", "O_NONBLOCK", "O_NOCTTY", "O_PATH", "getuid",
                       "getgid", "geteuid", "getegid", "pread", "pwrite", "posix_fallocate", "fchown")


def run_as_on_windows(code: str) -> str:
    """Run *code* in a fresh Python where ``sys.platform`` is "win32" and Windows' missing ``os`` names are gone.

    The standard library modules that choose their own backend by platform
    (asyncio, subprocess) are loaded first, as themselves: only the agent's
    modules see Windows.  Returns the standard output; fails the test when
    the code fails.
    """
    prelude = textwrap.dedent(f"""
        import asyncio, concurrent.futures, json, os, subprocess, sys, tempfile
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        sys.platform = "win32"
        for name in {POSIX_ONLY_OS_NAMES!r}:
            if hasattr(os, name):
                delattr(os, name)
    """)
    run = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode == 0, run.stderr
    return run.stdout

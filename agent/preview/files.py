"""The planners of the file methods that change the customer's files.

Each handler of these methods (POSIX and Windows alike, see
:mod:`agent.files.methods`) checks a dry run exactly as the real call and then,
seeing :attr:`~agent.dispatch.CallContext.preview`, answers a plan
(:mod:`agent.files.planning`) before the first change: no file, no ``.part``
and no undo record is made.  ``upload_chunk``, ``upload_finish``,
``upload_status`` and ``upload_abort`` have no planner: a dry run's upload
stops at its open, so they are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.files import METHODS

#: The changing file methods whose handler plans when the call is a dry run.
PLANNED: frozenset[str] = frozenset({
    "files.write", "files.edit", "files.move", "files.copy", "files.delete", "files.mkdir", "files.undo",
    "files.upload_open",
})

FILE_PLANNERS: dict[str, Callable[[Any], Any]] = {m.name: m.handler for m in METHODS if m.name in PLANNED}

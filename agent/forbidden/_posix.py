"""The shared POSIX layer of the guard: open flags that never follow a link, and held-descriptor helpers.

Everything here touches POSIX-only ``os`` constants at import time
(``O_DIRECTORY``, ``O_NOFOLLOW``), so only POSIX modules import it.

Availability: Linux, macOS.
"""

from __future__ import annotations

import os
import sys
from typing import Final

from agent.forbidden.rules import MAX_STEPS, Identity

if sys.platform == "win32":  # the choice is made in agent.forbidden
    raise ImportError(f"{__name__} is POSIX-only")

_O_PATH: Final = getattr(os, "O_PATH", 0)
#: Opening a directory during a walk: never through a link.
DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
HOLD_FLAGS: Final = (_O_PATH or os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC
#: Opening a file to read: never through a link, never blocking on a pipe, never a terminal.
FILE_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)


def fd_path(fd: int) -> str | None:
    """The kernel's current path for a held descriptor (Linux), or None."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def ancestors(fd: int) -> set[Identity]:
    """Identities of the directories above the one *fd* holds, up to the root."""
    found: set[Identity] = set()
    current = os.dup(fd)
    try:
        here = Identity.of(os.fstat(current))
        for _ in range(MAX_STEPS):
            parent = os.open("..", HOLD_FLAGS, dir_fd=current)
            os.close(current)
            current = parent
            up = Identity.of(os.fstat(current))
            if up == here:
                break
            found.add(up)
            here = up
    except OSError:
        pass  # a deleted folder has no parents left to protect
    finally:
        os.close(current)
    return found


def path_ancestors(path: str) -> set[Identity]:
    try:
        fd = os.open(path, HOLD_FLAGS)
    except OSError:
        return set()
    try:
        return ancestors(fd) | {Identity.of(os.fstat(fd))}
    finally:
        os.close(fd)

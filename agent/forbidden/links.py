"""The hard-link index: files inside a protected folder that have a second name elsewhere.

At :meth:`~agent.forbidden.folders.ForbiddenFolders.add` every file with
``st_nlink > 1`` inside the folder is indexed (up to a limit); the guard
refuses those identities wherever they are reached.

Availability: Linux, macOS (the walk holds directory descriptors).
"""

from __future__ import annotations

import errno
import os
import stat
import sys

from agent.forbidden._posix import DIR_FLAGS
from agent.forbidden.rules import INDEX_DEPTH, INDEX_LIMIT, Identity

if sys.platform == "win32":  # the choice is made in agent.forbidden
    raise ImportError(f"{__name__} is POSIX-only")


def index_links(fd: int, limit: int = INDEX_LIMIT, depth: int = INDEX_DEPTH) -> tuple[frozenset[Identity], bool]:
    """Identities of files with more than one link below the directory *fd* holds.

    Returns them and whether the walk was complete (it stops after *limit*
    entries or *depth* nested folders).  Unreadable folders make it incomplete.
    """
    found: set[Identity] = set()
    complete = True
    seen = 0
    try:
        top = os.open(".", DIR_FLAGS, dir_fd=fd)
    except OSError:
        return frozenset(), False
    frames: list[tuple[int, list[str]]] = []

    def scan(dir_fd: int) -> list[str]:
        nonlocal seen, complete
        subdirs = []
        with os.scandir(dir_fd) as entries:
            for entry in entries:
                seen += 1
                if seen > limit:
                    complete = False
                    break
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    subdirs.append(entry.name)
                elif st.st_nlink > 1:
                    found.add(Identity.of(st))
        return subdirs

    try:
        frames.append((top, scan(top)))
        while frames and complete:
            dir_fd, pending = frames[-1]
            if not pending:
                os.close(dir_fd)
                frames.pop()
                continue
            name = pending.pop()
            if len(frames) >= depth:
                complete = False
                break
            try:
                child = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
            except OSError as err:
                if err.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    complete = False
                continue
            frames.append((child, []))
            frames[-1] = (child, scan(child))
    except OSError:
        complete = False
    finally:
        for dir_fd, _ in frames:
            os.close(dir_fd)
    return frozenset(found), complete

"""Stand-ins for the guard where no walk is written yet (Windows, until ``_windows_walk.py``).

The POSIX walk's design needs handles opened relative to a directory handle
and volume file ids on Windows, which is not written yet.  Until it is, every
way into the customer's files raises :class:`~wire.errors.Unsupported`, so no
file can be reached unchecked.  Platform-free: it imports nothing POSIX-only.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

from wire.errors import Unsupported

UNSUPPORTED_MESSAGE = "file access is not available on this operating system yet"


def _unsupported() -> NoReturn:
    raise Unsupported(UNSUPPORTED_MESSAGE)


class Location:
    """The type a walk returns; never made here (every walk raises :class:`~wire.errors.Unsupported`)."""


class Guard:
    """A guard that lets nothing through: constructing it raises :class:`~wire.errors.Unsupported`."""

    def __init__(self, folders: Any, *, private: Iterable[Path] = (), home: str | None = None) -> None:
        _unsupported()


class ForbiddenFolders:
    """No folder can be protected here: constructing it raises :class:`~wire.errors.Unsupported`.

    A caller that can run without protected folders catches it and leaves
    ``policy.forbidden_folders`` None; the customer's window then says that
    this version cannot protect folders.
    """

    def __init__(self, **options: Any) -> None:
        _unsupported()

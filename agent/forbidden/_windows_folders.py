"""The folders the customer protected on Windows, held by handle so the rule follows a renamed folder.

Each folder is known by its identity (volume serial number and file id, see
:mod:`agent.forbidden._windows_api`) and held open (sharing delete, so the
customer can still rename or move it: the identity moves with it, and
:meth:`ForbiddenFolders.describe` says where it is now).

Hard links: on Windows the guard asks for every name of a multi-link file
(``FindFirstFileNameW``) and walks each.  Where that call is missing (Wine 8),
the identities of the multi-link files inside each protected folder are
indexed instead, as on POSIX, and indexed again when a multi-link file the
index does not know is met (links made after the index); a folder too large
to index makes every multi-link file refused (fail closed).

Availability: Windows (chosen only there, see :mod:`agent.forbidden`; it imports anywhere, and
its Win32 calls raise :class:`~wire.errors.Unsupported` where there is no kernel32).
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from agent import paths
from agent.forbidden import _windows_api as win
from agent.forbidden.rules import INDEX_DEPTH, INDEX_LIMIT, MAX_FOLDERS, Identity, Rules
from wire.errors import BadParams, Conflict, NotADirectory, NotFound, WorkbenchError, from_os_error


class _Folder:
    __slots__ = ("added_as", "complete", "handle", "identity", "linked")

    def __init__(self, handle: int, identity: Identity, added_as: str) -> None:
        self.handle = handle
        self.identity = identity
        self.added_as = added_as
        self.linked: frozenset[Identity] = frozenset()
        self.complete = True


def index_links(top: str, limit: int = INDEX_LIMIT, depth: int = INDEX_DEPTH) -> tuple[frozenset[Identity], bool]:
    """Identities of files with more than one name below the folder *top*, and whether all were seen.

    Junctions and symbolic links are not entered.  Unreadable folders make it incomplete.
    """
    found: set[Identity] = set()
    seen = 0
    pending: list[tuple[str, int]] = [(top, 0)]
    while pending:
        folder, level = pending.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    seen += 1
                    if seen > limit:
                        return frozenset(found), False
                    full = os.path.join(folder, entry.name)
                    try:
                        info = win.info_at(full)
                    except OSError:
                        return frozenset(found), False
                    if info.is_link:
                        continue
                    if info.is_dir:
                        if level + 1 >= depth:
                            return frozenset(found), False
                        pending.append((full, level + 1))
                    elif info.links > 1:
                        found.add(info.identity)
        except OSError:
            return frozenset(found), False
    return frozenset(found), True


class ForbiddenFolders:
    """The folders the customer protected (Windows); thread-safe.

    Same methods as the POSIX class: :meth:`add`, :meth:`add_private`,
    :meth:`remove`, :meth:`describe`, :meth:`rules`, :meth:`refresh`,
    :meth:`containers`, :meth:`close`, ``len`` and ``generation``.
    """

    def __init__(self, *, flavour: paths.Flavour | None = None, index_limit: int = INDEX_LIMIT,
                 **_options: Any) -> None:
        self.flavour: paths.Flavour = flavour or "windows"
        self.index_limit = index_limit
        self._lock = threading.RLock()
        self._folders: list[_Folder] = []
        self._private: list[_Folder] = []
        self._generation = 0

    @property
    def generation(self) -> int:
        """Goes up each time a folder is added or removed."""
        return self._generation

    @property
    def names_listable(self) -> bool:
        """Whether Windows lists a file's other names here (False under Wine 8: the index is used)."""
        return hasattr(win.kernel32(), "FindFirstFileNameW")

    def __len__(self) -> int:
        with self._lock:
            return len(self._folders)

    def add(self, path: str) -> None:
        """Protect the folder at *path* (a junction or link is followed: its target is protected).

        Raises NotFound, NotADirectory, BadParams (empty, NUL), PermissionDenied,
        Conflict when :data:`~agent.forbidden.rules.MAX_FOLDERS` are protected.
        """
        self._add(path, self._folders, index=True)

    def add_private(self, path: str) -> None:
        """Protect one of the agent's own folders (not listed, not counted).  Raises like :meth:`add`."""
        self._add(path, self._private, index=False)

    def _add(self, path: str, into: list[_Folder], *, index: bool) -> None:
        if not path or "\x00" in path:
            raise BadParams("a folder path must be non-empty and without NUL characters")
        where = os.path.realpath(os.path.abspath(path))  # the customer's own word: links lead to the target
        try:
            handle = win.open_handle(where, share_delete=True)
        except OSError as err:
            raise from_os_error(err, path) from err
        try:
            info = win.file_info(handle)
            if not info.is_dir:
                raise NotADirectory(f"{path}: not a folder")
            folder = _Folder(handle, info.identity, where)
            if index and not self.names_listable:
                folder.linked, folder.complete = index_links(where, self.index_limit)
        except BaseException:
            win.close_handle(handle)
            raise
        with self._lock:
            if any(f.identity == folder.identity for f in into):
                win.close_handle(handle)
                return
            if len(into) >= MAX_FOLDERS:
                win.close_handle(handle)
                raise Conflict(f"at most {MAX_FOLDERS} folders can be protected")
            into.append(folder)
            self._generation += 1

    def remove(self, path: str) -> None:
        """Stop protecting the folder at *path* (where it is now, or as it was added).  Raises NotFound."""
        with self._lock:
            match: _Folder | None = None
            with contextlib.suppress(OSError, WorkbenchError):
                identity = win.info_at(os.path.abspath(path)).identity
                match = next((f for f in self._folders if f.identity == identity), None)
            if match is None:
                match = next((f for f in self._folders if self._spelled(f, path)), None)
            if match is None:
                raise NotFound(f"{path}: not a protected folder")
            self._folders.remove(match)
            win.close_handle(match.handle)
            self._generation += 1

    def _spelled(self, folder: _Folder, path: str) -> bool:
        try:
            wanted = paths.parse(path, "windows")
        except WorkbenchError:
            return False
        for known in (folder.added_as, self._current_path(folder)):
            with contextlib.suppress(WorkbenchError):
                if paths.same_path(wanted, paths.parse(known, "windows")):
                    return True
        return False

    def _current_path(self, folder: _Folder) -> str:
        """Where the folder is now: as the customer spelled it while that still names it, else Windows' word."""
        with contextlib.suppress(OSError, WorkbenchError):
            if win.info_at(folder.added_as).identity == folder.identity:
                return folder.added_as
        return win.final_path(folder.handle) or folder.added_as

    def describe(self) -> list[str]:
        """The protected folders, where they are now, for the customer's eyes only."""
        with self._lock:
            return [self._current_path(f) for f in self._folders]

    def refresh(self) -> None:
        """Index the multi-link files of every protected folder again (where names cannot be listed)."""
        with self._lock:
            work = [(folder, self._current_path(folder)) for folder in self._folders]
        for folder, where in work:
            linked, complete = index_links(where, self.index_limit)
            with self._lock:
                folder.linked, folder.complete = linked, complete

    def rules(self) -> Rules:
        """A snapshot of the protected identities."""
        with self._lock:
            linked = frozenset().union(*(f.linked for f in self._folders)) if self._folders else frozenset()
            return Rules(frozenset(f.identity for f in self._folders), linked,
                         all(f.complete for f in self._folders), self._generation,
                         frozenset(f.identity for f in self._private))

    def containers(self) -> set[Identity]:
        """Identities of every folder that holds a protected one (moving or deleting it is refused)."""
        with self._lock:
            where = [self._current_path(f) for f in [*self._folders, *self._private]]
        found: set[Identity] = set()
        for path in where:
            found |= ancestors(path)
        return found

    def close(self) -> None:
        """Release the held handles; the object protects nothing afterwards."""
        with self._lock:
            for folder in [*self._folders, *self._private]:
                win.close_handle(folder.handle)
            self._folders.clear()
            self._private.clear()
            self._generation += 1


def ancestors(path: str) -> set[Identity]:
    """Identities of the folders above *path* (not *path* itself), up to its drive's root."""
    found: set[Identity] = set()
    current = os.path.dirname(path)
    while True:
        with contextlib.suppress(OSError):
            found.add(win.info_at(current).identity)
        parent = os.path.dirname(current)
        if parent == current:
            return found
        current = parent

"""The folders the customer protected on Windows, held by handle so the rule follows a renamed folder.

Each folder is known by its identity (volume serial number and file id, see
:mod:`agent.forbidden._windows_api`) and held open (sharing delete, so the
customer can still rename or move it: the identity moves with it, and
:meth:`ForbiddenFolders.describe` says where it is now).

A rule keeps the folder's identity *and* the path the customer chose: when
the folder is deleted, or another takes its name, the folder now at that path
is protected too, until the customer removes the rule (see
:mod:`agent.forbidden.follow`; the customer is told through ``on_notice``).

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
from agent.forbidden.follow import MAX_HELD, Notice, follow, tell
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


class _Rule:
    """One rule of the customer: the path they chose, and the folders it holds (the chosen one first)."""

    __slots__ = ("chosen", "held", "missing")

    def __init__(self, chosen: str, first: _Folder) -> None:
        self.chosen = chosen
        self.held = [first]
        self.missing = False


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
                 on_notice: Notice | None = None, **_options: Any) -> None:
        self.flavour: paths.Flavour = flavour or "windows"
        self.index_limit = index_limit
        #: Told in plain words when a rule follows its path (see :mod:`agent.forbidden.follow`).
        self.on_notice = on_notice
        self._lock = threading.RLock()
        self._rules: list[_Rule] = []
        self._private: list[_Folder] = []
        self._generation = 0

    @property
    def _folders(self) -> list[_Folder]:
        """Every folder the customer's rules hold (a rule may hold several)."""
        return [folder for rule in self._rules for folder in rule.held]

    @property
    def generation(self) -> int:
        """Goes up each time a folder is added, removed, or protected again at its path."""
        return self._generation

    @property
    def names_listable(self) -> bool:
        """Whether Windows lists a file's other names here (False under Wine 8: the index is used)."""
        return hasattr(win.kernel32(), "FindFirstFileNameW")

    def __len__(self) -> int:
        with self._lock:
            return len(self._rules)

    def add(self, path: str) -> None:
        """Protect the folder at *path* (a junction or link is followed: its target is protected).

        The rule keeps the folder's identity and its path (see
        :mod:`agent.forbidden.follow`).  Raises NotFound, NotADirectory,
        BadParams (empty, NUL), PermissionDenied, Conflict when
        :data:`~agent.forbidden.rules.MAX_FOLDERS` are protected.
        """
        folder = self._hold(path, index=True)
        with self._lock:
            if any(f.identity == folder.identity for f in self._folders):
                win.close_handle(folder.handle)
                return
            if len(self._rules) >= MAX_FOLDERS:
                win.close_handle(folder.handle)
                raise Conflict(f"at most {MAX_FOLDERS} folders can be protected")
            self._rules.append(_Rule(folder.added_as, folder))
            self._generation += 1

    def add_private(self, path: str) -> None:
        """Protect one of the agent's own folders (not listed, not counted).  Raises like :meth:`add`."""
        folder = self._hold(path, index=False)
        with self._lock:
            if any(f.identity == folder.identity for f in self._private):
                win.close_handle(folder.handle)
                return
            if len(self._private) >= MAX_FOLDERS:
                win.close_handle(folder.handle)
                raise Conflict(f"at most {MAX_FOLDERS} folders can be protected")
            self._private.append(folder)
            self._generation += 1

    def _hold(self, path: str, *, index: bool) -> _Folder:
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
        return folder

    def remove(self, path: str) -> None:
        """Stop protecting the folder at *path* (where it is now, or as it was added), and what its rule
        protected again at its path.  Raises NotFound."""
        with self._lock:
            match: _Rule | None = None
            with contextlib.suppress(OSError, WorkbenchError):
                identity = win.info_at(os.path.abspath(path)).identity
                match = next((r for r in self._rules if any(f.identity == identity for f in r.held)), None)
            if match is None:
                match = next((r for r in self._rules if self._spelled(r, path)), None)
            if match is None:
                raise NotFound(f"{path}: not a protected folder")
            self._rules.remove(match)
            for folder in match.held:
                win.close_handle(folder.handle)
            self._generation += 1

    def _spelled(self, rule: _Rule, path: str) -> bool:
        try:
            wanted = paths.parse(path, "windows")
        except WorkbenchError:
            return False
        for known in [rule.chosen, *(self._current_path(f) for f in rule.held)]:
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

    def _alive(self, folder: _Folder) -> bool:
        """Whether the held folder still exists somewhere (not deleted, whatever its name now).

        Windows says so of the handle itself (``FileStandardInfo``); only where
        it cannot, the folder's names are asked (as added, or its final path).
        """
        with contextlib.suppress(OSError, WorkbenchError):
            return not win.deleted(folder.handle)
        with contextlib.suppress(OSError, WorkbenchError):
            if win.info_at(folder.added_as).identity == folder.identity:
                return True
            where = win.final_path(folder.handle)
            return where is not None and win.info_at(where).identity == folder.identity
        return False

    def _moved_to(self, folder: _Folder, chosen: str) -> str | None:
        """Where the held *folder* is now, when Windows says so and that path names it; else None.

        Under Wine the final path of a held folder is the one it had when
        opened, so it is never trusted without asking what that path names.
        """
        with contextlib.suppress(OSError, WorkbenchError):
            where = win.final_path(folder.handle)
            if where is not None and where.upper() != chosen.upper() and \
                    win.info_at(where).identity == folder.identity:
                return where
        return None

    def describe(self) -> list[str]:
        """The protected folders, for the customer's eyes only: where each chosen one is now, else its path."""
        self._follow_paths()
        with self._lock:
            return [self._current_path(rule.held[0]) if rule.held else rule.chosen for rule in self._rules]

    def _follow_paths(self) -> None:
        """Look at each rule's chosen path: protect what now stands there (see :mod:`agent.forbidden.follow`)."""
        said: list[str] = []
        with self._lock:
            for rule in self._rules:
                for folder in [f for f in rule.held if not self._alive(f)]:
                    rule.held.remove(folder)
                    win.close_handle(folder.handle)
                    self._generation += 1
                try:
                    info = win.info_at(rule.chosen)
                    at_path = info.identity if info.is_dir and not info.is_link else None
                except (OSError, WorkbenchError):
                    at_path = None
                first = rule.held[0] if rule.held else None
                moved_to = self._moved_to(first, rule.chosen) if first is not None and first.identity != at_path \
                    else None
                change = follow(rule.chosen, at_path, {f.identity for f in rule.held}, moved_to,
                                missing_before=rule.missing)
                rule.missing = change.missing
                if change.rearm is not None and self._rearm(rule):
                    said.append(change.words or "")
                elif change.rearm is None and change.words:
                    said.append(change.words)
        tell(self.on_notice, said)

    def _rearm(self, rule: _Rule) -> bool:
        """Hold the folder now at *rule*'s path (whatever stands there when opened); False when none or held."""
        try:
            folder = self._hold(rule.chosen, index=True)
        except (OSError, WorkbenchError):
            return False
        if any(f.identity == folder.identity for f in rule.held):
            win.close_handle(folder.handle)
            return False
        rule.held.append(folder)
        while len(rule.held) > MAX_HELD:  # bounded: the oldest moved-away folder is released first
            win.close_handle(rule.held.pop(0).handle)
        self._generation += 1
        return True

    def refresh(self) -> None:
        """Index the multi-link files of every protected folder again (where names cannot be listed)."""
        with self._lock:
            work = [(folder, self._current_path(folder)) for folder in self._folders]
        for folder, where in work:
            linked, complete = index_links(where, self.index_limit)
            with self._lock:
                folder.linked, folder.complete = linked, complete

    def rules(self) -> Rules:
        """A snapshot of the protected identities; each rule's chosen path is looked at first."""
        self._follow_paths()
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
            self._rules.clear()
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

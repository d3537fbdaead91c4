"""The folders the customer protected, held by descriptor so the rule follows a renamed folder.

:class:`ForbiddenFolders` holds an ``O_PATH`` descriptor on each folder, keeps
its hard-link index fresh (see :mod:`agent.forbidden.links`) and adds the
folder's mount aliases (see :mod:`agent.forbidden.mounts`) to each
:class:`~agent.forbidden.rules.Rules` snapshot.

A rule keeps both what the customer chose: the folder's identity *and* its
path.  When the folder is deleted, or moved away and something else takes its
name (a new folder, one renamed over it), the folder now at that path is
protected too (the rule is "re-armed"), until the customer removes the rule;
a moved folder stays protected where it went.  Each snapshot
(:meth:`ForbiddenFolders.rules`) looks at the chosen paths first, so no call
can see the new folder unprotected; the customer is told in plain words
through ``on_notice`` (see :mod:`agent.forbidden.follow`).

Availability: Linux, macOS.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import threading
import time
from collections.abc import Callable

from agent import paths
from agent.forbidden._posix import HOLD_FLAGS, ancestors, fd_path, path_ancestors
from agent.forbidden.follow import MAX_HELD, Notice, follow, tell
from agent.forbidden.links import index_links
from agent.forbidden.mounts import (
    MountTable,
    alias_identities,
    container_mount,
    default_mount_table,
    loop_backing_file,
    mount_aliases,
)
from agent.forbidden.rules import CTIME_SLACK_NS, INDEX_LIMIT, MAX_FOLDERS, Identity, Rules
from wire.errors import BadParams, Conflict, NotADirectory, NotFound, WorkbenchError, from_os_error

if sys.platform == "win32":  # the choice is made in agent.forbidden
    raise ImportError(f"{__name__} is POSIX-only")


class _Folder:
    __slots__ = ("added_as", "complete", "fd", "identity", "indexed_since", "linked")

    def __init__(self, fd: int, identity: Identity, added_as: str) -> None:
        self.fd = fd
        self.identity = identity
        self.added_as = added_as
        self.linked: frozenset[Identity] = frozenset()
        self.complete = True
        #: Wall-clock time (ns) when the index walk began.
        self.indexed_since = 0


class _Rule:
    """One rule of the customer: the path they chose, and the folders it holds (the chosen one first)."""

    __slots__ = ("chosen", "held", "missing")

    def __init__(self, chosen: str, first: _Folder) -> None:
        self.chosen = chosen
        self.held = [first]
        self.missing = False


def _alive(fd: int) -> bool:
    """Whether the held folder still exists (a deleted folder has no links left)."""
    try:
        return os.fstat(fd).st_nlink > 0
    except OSError:
        return False


#: Mount aliases of customer folders, of private folders, and disk images holding them.
_Found = tuple[frozenset[Identity], frozenset[Identity], frozenset[Identity]]


class ForbiddenFolders:
    """The folders the customer protected; thread-safe.

    ``index_limit`` bounds the hard-link index (see the module docstring);
    ``wall_clock`` gives the time in ns to compare with ctimes (tests move it);
    ``mount_table`` defaults to the process-wide one.
    """

    def __init__(self, *, flavour: paths.Flavour | None = None, index_limit: int = INDEX_LIMIT,
                 wall_clock: Callable[[], int] = time.time_ns,
                 mount_table: MountTable | None = None, on_notice: Notice | None = None) -> None:
        self.flavour = flavour or paths.current_flavour()
        self.index_limit = index_limit
        #: Told in plain words when a rule follows its path (see :mod:`agent.forbidden.follow`).
        self.on_notice = on_notice
        self._wall_clock = wall_clock
        self._mounts = mount_table
        self._lock = threading.RLock()
        self._rules: list[_Rule] = []
        self._private: list[_Folder] = []
        self._generation = 0
        self._alias_cache: tuple[tuple[int, int], _Found] | None = None

    @property
    def _folders(self) -> list[_Folder]:
        """Every folder the customer's rules hold (a rule may hold several, see :mod:`agent.forbidden.follow`)."""
        return [folder for rule in self._rules for folder in rule.held]

    @property
    def mount_table(self) -> MountTable:
        if self._mounts is None:
            self._mounts = default_mount_table()
        return self._mounts

    @property
    def generation(self) -> int:
        """Goes up each time a folder is added, removed, or protected again at its path."""
        return self._generation

    def __len__(self) -> int:
        with self._lock:
            return len(self._rules)

    def add(self, path: str) -> None:
        """Protect the folder at *path* (a link is followed: its target is protected).

        The rule keeps the folder's identity and its path: see
        :mod:`agent.forbidden.follow`.  Adding a folder already protected does
        nothing.  Raises NotFound, NotADirectory, BadParams (NUL, empty),
        PermissionDenied, or Conflict when :data:`MAX_FOLDERS` are already
        protected.
        """
        folder = self._hold(path, index=True)
        with self._lock:
            if any(f.identity == folder.identity for f in self._folders):
                os.close(folder.fd)
                return
            if len(self._rules) >= MAX_FOLDERS:
                os.close(folder.fd)
                raise Conflict(f"at most {MAX_FOLDERS} folders can be protected")
            self._rules.append(_Rule(folder.added_as, folder))
            self._generation += 1

    def add_private(self, path: str) -> None:
        """Protect one of the agent's own folders (its data: journals, backups).

        Refused like a customer's folder, with its own message, but not listed
        by :meth:`describe` nor counted by ``len``: it is not the customer's
        rule.  Raises like :meth:`add`.
        """
        folder = self._hold(path, index=False)
        with self._lock:
            if any(f.identity == folder.identity for f in self._private):
                os.close(folder.fd)
                return
            if len(self._private) >= MAX_FOLDERS:
                os.close(folder.fd)
                raise Conflict(f"at most {MAX_FOLDERS} folders can be protected")
            self._private.append(folder)
            self._generation += 1

    def _hold(self, path: str, *, index: bool) -> _Folder:
        if not path or "\x00" in path:
            raise BadParams("a folder path must be non-empty and without NUL characters")
        try:
            fd = os.open(path, HOLD_FLAGS)
        except OSError as err:
            if err.errno == errno.ENOTDIR:
                raise NotADirectory(f"{path}: not a folder") from err
            raise from_os_error(err, path) from err
        try:
            identity = Identity.of(os.fstat(fd))
            folder = _Folder(fd, identity, fd_path(fd) or os.path.abspath(path))
            if index:
                folder.indexed_since = self._wall_clock()
                folder.linked, folder.complete = index_links(fd, self.index_limit)
        except BaseException:
            os.close(fd)
            raise
        return folder

    def remove(self, path: str) -> None:
        """Stop protecting the folder at *path*, and whatever its rule protected again at its path.

        *path* may name the folder where it is now, or as it was added or
        described (for a folder since moved or deleted).  Raises NotFound when
        no protected folder matches.
        """
        with self._lock:
            match: _Rule | None = None
            with contextlib.suppress(OSError, ValueError):
                identity = Identity.of(os.stat(path))
                match = next((r for r in self._rules if any(f.identity == identity for f in r.held)), None)
            if match is None:
                match = next((r for r in self._rules if self._spelled(r, path)), None)
            if match is None:
                raise NotFound(f"{path}: not a protected folder")
            self._rules.remove(match)
            for folder in match.held:
                os.close(folder.fd)
            self._generation += 1

    def _spelled(self, rule: _Rule, path: str) -> bool:
        try:
            wanted = paths.parse(path, self.flavour)
        except WorkbenchError:
            return False
        known = [rule.chosen, *(self._current_path(f) for f in rule.held)]
        for spelling in known:
            with contextlib.suppress(WorkbenchError):
                if paths.same_path(wanted, paths.parse(spelling, self.flavour)):
                    return True
        return False

    def _current_path(self, folder: _Folder) -> str:
        where = fd_path(folder.fd)
        return where if where and not where.endswith(" (deleted)") else folder.added_as

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
                for folder in [f for f in rule.held if not _alive(f.fd)]:
                    rule.held.remove(folder)
                    os.close(folder.fd)
                    self._generation += 1
                try:
                    st = os.stat(rule.chosen)
                    at_path = Identity.of(st) if stat.S_ISDIR(st.st_mode) else None
                except OSError:
                    at_path = None
                first = rule.held[0] if rule.held else None
                where = self._current_path(first) if first is not None and first.identity != at_path else None
                moved_to = where if where is not None and where != rule.chosen else None
                change = follow(rule.chosen, at_path, {f.identity for f in rule.held}, moved_to,
                                missing_before=rule.missing)
                rule.missing = change.missing
                if change.rearm is not None and self._rearm(rule):
                    said.append(change.words or "")
                elif change.rearm is None and change.words:
                    said.append(change.words)
        tell(self.on_notice, said)

    def _rearm(self, rule: _Rule) -> bool:
        """Hold the folder now at *rule*'s path; False when there is none or the rule holds it already.

        Whatever stands there when it is opened is held, even if it was
        replaced again since it was looked at: the snapshot must cover what the
        path names now.
        """
        try:
            folder = self._hold(rule.chosen, index=True)
        except WorkbenchError:
            return False
        if any(f.identity == folder.identity for f in rule.held):
            os.close(folder.fd)
            return False
        rule.held.append(folder)
        while len(rule.held) > MAX_HELD:  # bounded: the oldest moved-away folder is released first
            os.close(rule.held.pop(0).fd)
        self._generation += 1
        return True

    def refresh(self) -> None:
        """Index the multi-link files of every protected folder again (outside the lock)."""
        with self._lock:
            work = [(folder, os.dup(folder.fd)) for folder in self._folders]
        for folder, fd in work:
            try:
                since = self._wall_clock()
                linked, complete = index_links(fd, self.index_limit)
            finally:
                os.close(fd)
            with self._lock:
                folder.linked, folder.complete, folder.indexed_since = linked, complete, since

    def link_count_known(self, st: os.stat_result) -> bool | None:
        """Whether the index saw the file *st* as it is now.

        True when its ctime (the last change of its links) is older than every
        index; False when indexing again would tell; None when it changed too
        recently for any index to be sure (within :data:`CTIME_SLACK_NS`).
        """
        changed = st.st_ctime_ns + CTIME_SLACK_NS
        if changed > self._wall_clock():
            return None
        with self._lock:
            return all(changed < f.indexed_since for f in self._folders)

    def rules(self) -> Rules:
        """A snapshot of the protected identities (folders and their mount aliases).

        Each rule's chosen path is looked at first: a folder now standing there
        is protected before the snapshot is taken.
        """
        self._follow_paths()
        with self._lock:
            folders = {f.identity for f in self._folders}
            linked = frozenset().union(*(f.linked for f in self._folders)) if self._folders else frozenset()
            complete = all(f.complete for f in self._folders)
            private = {f.identity for f in self._private}
            images: frozenset[Identity] = frozenset()
            if self._folders or self._private:
                aliases, private_aliases, images = self._aliases()
                folders |= aliases
                private |= private_aliases
            return Rules(frozenset(folders), linked, complete, self._generation, frozenset(private), images)

    def _aliases(self) -> _Found:
        table = self.mount_table
        mounts = table.mounts()
        key = (table.version, self._generation)
        if self._alias_cache is not None and self._alias_cache[0] == key:
            return self._alias_cache[1]
        found: list[set[Identity]] = [set(), set(), set()]
        for kind, folders in enumerate((self._folders, self._private)):
            for folder in folders:
                where = fd_path(folder.fd)
                if where and where.startswith("/") and not where.endswith(" (deleted)"):
                    found[kind] |= alias_identities(mounts, where)
                    container = container_mount(mounts, where)
                    image = loop_backing_file(container.source) if container is not None else None
                    if image is not None:
                        with contextlib.suppress(OSError):
                            found[2].add(Identity.of(os.stat(image)))
        result = (frozenset(found[0]), frozenset(found[1]), frozenset(found[2]))
        self._alias_cache = (key, result)
        return result

    def containers(self) -> set[Identity]:
        """Identities of every directory that holds a protected folder (or an alias of one)."""
        with self._lock:
            found: set[Identity] = set()
            for folder in [*self._folders, *self._private]:
                found |= ancestors(folder.fd)
                where = fd_path(folder.fd)
                if where and where.startswith("/"):
                    for alias in mount_aliases(self.mount_table.mounts(), where):
                        found |= path_ancestors(alias)
            return found

    def close(self) -> None:
        """Release the held descriptors; the object protects nothing afterwards."""
        with self._lock:
            for folder in [*self._folders, *self._private]:
                os.close(folder.fd)
            self._rules.clear()
            self._private.clear()
            self._generation += 1

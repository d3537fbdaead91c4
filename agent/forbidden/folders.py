"""The folders the customer protected, held by descriptor so the rule follows a renamed folder.

:class:`ForbiddenFolders` holds an ``O_PATH`` descriptor on each folder, keeps
its hard-link index fresh (see :mod:`agent.forbidden.links`) and adds the
folder's mount aliases (see :mod:`agent.forbidden.mounts`) to each
:class:`~agent.forbidden.rules.Rules` snapshot.

Availability: Linux, macOS.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import threading
import time
from collections.abc import Callable

from agent import paths
from agent.forbidden._posix import HOLD_FLAGS, ancestors, fd_path, path_ancestors
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
                 mount_table: MountTable | None = None) -> None:
        self.flavour = flavour or paths.current_flavour()
        self.index_limit = index_limit
        self._wall_clock = wall_clock
        self._mounts = mount_table
        self._lock = threading.RLock()
        self._folders: list[_Folder] = []
        self._private: list[_Folder] = []
        self._generation = 0
        self._alias_cache: tuple[tuple[int, int], _Found] | None = None

    @property
    def mount_table(self) -> MountTable:
        if self._mounts is None:
            self._mounts = default_mount_table()
        return self._mounts

    @property
    def generation(self) -> int:
        """Goes up each time a folder is added or removed."""
        return self._generation

    def __len__(self) -> int:
        with self._lock:
            return len(self._folders)

    def add(self, path: str) -> None:
        """Protect the folder at *path* (a link is followed: its target is protected).

        Adding a folder already protected does nothing.  Raises NotFound,
        NotADirectory, BadParams (NUL, empty), PermissionDenied, or Conflict
        when :data:`MAX_FOLDERS` are already protected.
        """
        self._add(path, self._folders, index=True)

    def add_private(self, path: str) -> None:
        """Protect one of the agent's own folders (its data: journals, backups).

        Refused like a customer's folder, with its own message, but not listed
        by :meth:`describe` nor counted by ``len``: it is not the customer's
        rule.  Raises like :meth:`add`.
        """
        self._add(path, self._private, index=False)

    def _add(self, path: str, into: list[_Folder], *, index: bool) -> None:
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
        with self._lock:
            if any(f.identity == identity for f in into):
                os.close(fd)
                return
            if len(into) >= MAX_FOLDERS:
                os.close(fd)
                raise Conflict(f"at most {MAX_FOLDERS} folders can be protected")
            into.append(folder)
            self._generation += 1

    def remove(self, path: str) -> None:
        """Stop protecting the folder at *path*.

        *path* may name the folder where it is now, or as it was added or
        described (for a folder since moved or deleted).  Raises NotFound when
        no protected folder matches.
        """
        with self._lock:
            match: _Folder | None = None
            with contextlib.suppress(OSError, ValueError):
                identity = Identity.of(os.stat(path))
                match = next((f for f in self._folders if f.identity == identity), None)
            if match is None:
                match = next((f for f in self._folders if self._spelled(f, path)), None)
            if match is None:
                raise NotFound(f"{path}: not a protected folder")
            self._folders.remove(match)
            os.close(match.fd)
            self._generation += 1

    def _spelled(self, folder: _Folder, path: str) -> bool:
        try:
            wanted = paths.parse(path, self.flavour)
        except WorkbenchError:
            return False
        for known in (folder.added_as, self._current_path(folder)):
            with contextlib.suppress(WorkbenchError):
                if paths.same_path(wanted, paths.parse(known, self.flavour)):
                    return True
        return False

    def _current_path(self, folder: _Folder) -> str:
        return fd_path(folder.fd) or folder.added_as

    def describe(self) -> list[str]:
        """The protected folders, where they are now, for the customer's eyes only."""
        with self._lock:
            return [self._current_path(f) for f in self._folders]

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
        """A snapshot of the protected identities (folders and their mount aliases)."""
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
            self._folders.clear()
            self._private.clear()
            self._generation += 1

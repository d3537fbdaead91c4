"""The POSIX walk: every technician's path resolved one component at a time, never following a link blindly.

Each directory is opened with ``O_DIRECTORY | O_NOFOLLOW`` relative to the
previous one and checked with ``fstat`` before going further; links are read
and their text walked the same way; the target is opened with ``O_NOFOLLOW``
and checked again.  See :mod:`agent.forbidden` for the whole design.

Availability: Linux, macOS.  Imported only there (the choice is made in
:mod:`agent.forbidden`).
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

from agent import paths
from agent.forbidden._posix import DIR_FLAGS, FILE_FLAGS, path_ancestors
from agent.forbidden.folders import ForbiddenFolders
from agent.forbidden.mounts import alias_identities, default_mount_table
from agent.forbidden.rules import (
    MAX_STEPS,
    MAX_SYMLINKS,
    PRIVATE_MESSAGE,
    PROTECTED_FILE_MESSAGE,
    PROTECTED_MESSAGE,
    Identity,
    Rules,
)
from wire.errors import (
    BadParams,
    Conflict,
    Forbidden,
    IsADirectory,
    NotADirectory,
    NotFound,
    Unsupported,
    from_os_error,
)

if sys.platform == "win32":  # the choice is made in agent.forbidden
    raise ImportError(f"{__name__} is POSIX-only")

_SUPPORTED: Final = os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd
_PROC_MEMORY_FILES: Final = frozenset(
    {"mem", "kcore", "kmem", "pagemap", "kpageflags", "kpagecount", "kpagecgroup", "kallsyms"}
)


class Location:
    """Where a path leads: a checked directory descriptor and a final name.

    ``name`` is None when the path ends at a directory reached whole (``/``,
    or a path ending in ``..``).  ``path`` is the physical path walked.
    Closing releases ``parent``; use it as a context manager.
    """

    def __init__(self, parent: int, name: str | None, path: str, requested: str) -> None:
        self.parent = parent
        self.name = name
        self.path = path
        self.requested = requested

    def close(self) -> None:
        if self.parent >= 0:
            os.close(self.parent)
            self.parent = -1

    def __enter__(self) -> Location:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Guard:
    """One operation's safe view of the file system, under the customer's rules.

    *folders* is the customer's :class:`ForbiddenFolders` (None: nothing
    protected); *private* are the agent's own folders.  Every method that
    takes a technician's path raises Forbidden (the rules), BadParams (a bad
    path, too many links), NotFound, NotADirectory, IsADirectory,
    PermissionDenied, or Conflict when the path changed while it was walked;
    on Windows, Unsupported.
    """

    def __init__(self, folders: ForbiddenFolders | None, *, private: Iterable[Path] = (),
                 home: str | None = None) -> None:
        if not _SUPPORTED:
            raise Unsupported("file access is not available on this operating system yet")
        self._folders = folders
        self.flavour: paths.Flavour = "mac" if paths.current_flavour() == "mac" else "posix"
        self.home = home
        self.rules = folders.rules() if folders is not None else Rules(frozenset(), frozenset(), True, 0)
        self._private: set[Identity] = set(self.rules.private)
        self._private_paths: list[Path] = []
        table = folders.mount_table if folders is not None else default_mount_table()
        for folder in private:
            try:
                st = os.stat(folder)
            except OSError:
                continue
            self._private.add(Identity.of(st))
            self._private |= alias_identities(table.mounts(), os.path.realpath(folder))
            self._private_paths.append(folder)

    @property
    def generation(self) -> int:
        return self.rules.generation

    # -- checks

    def protected(self, st: os.stat_result) -> str | None:
        """Why the directory *st* may not be entered, or None when it may."""
        identity = Identity.of(st)
        if identity in self.rules.folders:
            return PROTECTED_MESSAGE
        if identity in self._private:
            return PRIVATE_MESSAGE
        return None

    def check_dir(self, st: os.stat_result, requested: str) -> None:
        """Raise Forbidden when the directory *st* is protected."""
        why = self.protected(st)
        if why is not None:
            raise Forbidden(f"{requested}: {why}")

    def check_file(self, st: os.stat_result, requested: str, name: str = "") -> None:
        """Raise Forbidden when the regular file *st* may be a name of a protected file."""
        if name in _PROC_MEMORY_FILES and st.st_dev == _proc_dev():
            raise Forbidden(f"{requested}: another program's memory may hold protected files")
        identity = Identity.of(st)
        if identity in self.rules.images:
            raise Forbidden(f"{requested}: this disk image holds a folder the customer protected")
        if st.st_nlink <= 1:
            return
        if identity in self.rules.linked_files:
            raise Forbidden(f"{requested}: {PROTECTED_FILE_MESSAGE}")
        if self._folders is None or len(self._folders) == 0:
            return
        known = self._folders.link_count_known(st)
        if known is None:
            raise Conflict(f"{requested}: this file with several names changed a moment ago; try again in a "
                           "few seconds")
        if not known:
            self._folders.refresh()
            self.rules = self._folders.rules()
            if identity in self.rules.linked_files:
                raise Forbidden(f"{requested}: {PROTECTED_FILE_MESSAGE}")
        if not self.rules.links_complete:
            raise Forbidden(f"{requested}: this file has several names and one may be inside a "
                            "folder the customer protected")

    def check_special(self, st: os.stat_result, requested: str) -> None:
        """Refuse devices, pipes and sockets (BadParams): only files and folders are handled."""
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            raise BadParams(f"{requested}: not a regular file or folder (a device, pipe or socket)")

    def check_movable(self, loc: Location, st: os.stat_result) -> None:
        """Refuse moving or deleting *loc* (whose lstat is *st*) when it is or holds a protected folder."""
        if stat.S_ISDIR(st.st_mode):
            self.check_dir(st, loc.requested)
            containers: set[Identity] = set()
            if self._folders is not None:
                containers |= self._folders.containers()
            for folder in self._private_paths:
                containers |= path_ancestors(str(folder))
            if Identity.of(st) in containers:
                raise Forbidden(f"{loc.requested}: this folder holds a folder that is protected")
        elif stat.S_ISREG(st.st_mode):
            self.check_file(st, loc.requested, loc.name or "")

    # -- walking

    def parse(self, path: str) -> paths.ParsedPath:
        """Parse a technician's path with this machine's rules (BadParams when refused)."""
        return paths.parse(path, self.flavour, home=self.home)

    def locate(self, path: str | paths.ParsedPath, *, follow: bool = True) -> Location:
        """Walk *path* to its final directory, checking each one.

        With *follow*, a final link is resolved too (through the same checked
        walk), so ``name`` is the final entry's own name.  The final entry
        itself is not opened and may not exist.
        """
        parsed = path if isinstance(path, paths.ParsedPath) else self.parse(path)
        requested = str(parsed)
        if parsed.anchor != "/":
            raise Unsupported("only '/'-rooted paths exist on this machine")
        todo = list(reversed(parsed.parts))
        if parsed.trailing_separator and todo:
            todo.insert(0, ".")  # "dir/" must be followed like "dir/."
        dirs: list[tuple[int, str]] = []
        try:
            root = os.open("/", DIR_FLAGS)
            dirs.append((root, ""))
            self.check_dir(os.fstat(root), requested)
            links = steps = 0
            while todo:
                steps += 1
                if steps > MAX_STEPS:
                    raise BadParams(f"{requested}: the path is too long once its links are followed")
                name = todo.pop()
                if name == ".":
                    continue
                if name == "..":
                    if len(dirs) > 1:
                        os.close(dirs.pop()[0])
                    continue
                current = dirs[-1][0]
                if not todo and not follow:
                    return self._finish(dirs, name, requested)
                try:
                    fd = os.open(name, DIR_FLAGS, dir_fd=current)
                except OSError as err:
                    kind = self._kind_after_failed_open(current, name, err, requested, last=not todo)
                    if kind == "missing-last" or kind == "file-last":
                        return self._finish(dirs, name, requested)
                    if kind == "retry":
                        todo.append(name)
                        continue
                    links += 1
                    if links > MAX_SYMLINKS:
                        raise BadParams(f"{requested}: too many links to follow") from None
                    try:
                        target = os.readlink(name, dir_fd=current)
                    except OSError as link_err:
                        if link_err.errno == errno.EINVAL:  # swapped back to a non-link: look again
                            todo.append(name)
                            continue
                        raise from_os_error(link_err, requested) from link_err
                    if target.startswith("/"):
                        while len(dirs) > 1:
                            os.close(dirs.pop()[0])
                    todo.extend(reversed([p for p in target.split("/") if p]))
                    continue
                dirs.append((fd, name))
                self.check_dir(os.fstat(fd), requested)
            return self._finish(dirs, None, requested)
        except BaseException:
            for fd, _ in dirs:
                os.close(fd)
            raise

    def _kind_after_failed_open(self, current: int, name: str, err: OSError, requested: str, last: bool) -> str:
        """Why opening *name* as a directory failed: 'link', 'retry', or a final entry kind."""
        if err.errno not in (errno.ENOTDIR, errno.ELOOP, errno.ENOENT):
            raise from_os_error(err, requested) from err
        try:
            st = os.stat(name, dir_fd=current, follow_symlinks=False)
        except FileNotFoundError:
            if last:
                return "missing-last"
            raise NotFound(f"{requested}: no such file or folder") from err
        except OSError as stat_err:
            raise from_os_error(stat_err, requested) from stat_err
        if stat.S_ISLNK(st.st_mode):
            return "link"
        if stat.S_ISDIR(st.st_mode):
            return "retry"  # it became a directory between the two calls
        if last:
            return "file-last"
        raise NotADirectory(f"{requested}: a part of the path is not a folder") from err

    def _finish(self, dirs: list[tuple[int, str]], name: str | None, requested: str) -> Location:
        parent = dirs[-1][0]
        for fd, _ in dirs[:-1]:
            os.close(fd)
        shown = "/" + "/".join(n for _, n in dirs[1:])
        if name is not None:
            shown = posixpath.join(shown, name)
        dirs.clear()
        return Location(parent, name, shown, requested)

    # -- opening

    def entry(self, loc: Location) -> os.stat_result | None:
        """The final entry's own status (lstat), or None when it does not exist.

        Raises Forbidden when the entry is a protected folder.
        """
        if loc.name is None:
            st = os.fstat(loc.parent)
        else:
            try:
                st = os.stat(loc.name, dir_fd=loc.parent, follow_symlinks=False)
            except FileNotFoundError:
                return None
            except OSError as err:
                raise from_os_error(err, loc.requested) from err
        if stat.S_ISDIR(st.st_mode):
            self.check_dir(st, loc.requested)
        return st

    def open_dir(self, loc: Location) -> int:
        """Open the directory *loc* names; the caller closes the descriptor."""
        if loc.name is None:
            return os.dup(loc.parent)
        try:
            fd = os.open(loc.name, DIR_FLAGS, dir_fd=loc.parent)
        except OSError as err:
            if err.errno in (errno.ENOTDIR, errno.ELOOP):
                st = self.entry(loc)
                if st is not None and stat.S_ISLNK(st.st_mode):
                    raise Conflict(f"{loc.requested}: the path changed while it was opened; try again") from err
                raise NotADirectory(f"{loc.requested}: not a folder") from err
            raise from_os_error(err, loc.requested) from err
        try:
            self.check_dir(os.fstat(fd), loc.requested)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def open_file(self, loc: Location) -> tuple[int, os.stat_result]:
        """Open the regular file *loc* names for reading; return the descriptor and its status.

        Raises IsADirectory for a folder, BadParams for a device, pipe or
        socket, Conflict when the entry changed between the check and the open.
        """
        if loc.name is None:
            raise IsADirectory(f"{loc.requested}: is a folder")
        before = self.entry(loc)
        if before is None:
            raise NotFound(f"{loc.requested}: no such file")
        if stat.S_ISDIR(before.st_mode):
            raise IsADirectory(f"{loc.requested}: is a folder, not a file")
        if stat.S_ISLNK(before.st_mode):
            raise Conflict(f"{loc.requested}: the path changed while it was opened; try again")
        self.check_special(before, loc.requested)
        self.check_file(before, loc.requested, loc.name)
        try:
            fd = os.open(loc.name, FILE_FLAGS, dir_fd=loc.parent)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise Conflict(f"{loc.requested}: the path changed while it was opened; try again") from err
            raise from_os_error(err, loc.requested) from err
        try:
            st = os.fstat(fd)
            if Identity.of(st) != Identity.of(before) or not stat.S_ISREG(st.st_mode):
                raise Conflict(f"{loc.requested}: the file changed while it was opened; try again")
            self.check_file(st, loc.requested, loc.name)
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd, st

    def walk_tree(self, fd: int, requested: str) -> Iterator[tuple[str, os.stat_result]]:
        """The entries of the directory *fd* (name and lstat), refusing protected ones.

        Used by copy and delete to descend; raises Forbidden on the first
        protected folder or multi-link file met.
        """
        with os.scandir(fd) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                shown = posixpath.join(requested, entry.name)
                if stat.S_ISDIR(st.st_mode):
                    self.check_dir(st, shown)
                elif stat.S_ISREG(st.st_mode):
                    self.check_file(st, shown, entry.name)
                yield entry.name, st


_proc_dev_cache: list[int] = []


def _proc_dev() -> int:
    if not _proc_dev_cache:
        try:
            _proc_dev_cache.append(os.stat("/proc").st_dev)
        except OSError:
            _proc_dev_cache.append(-1)
    return _proc_dev_cache[0]

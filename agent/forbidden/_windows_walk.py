"""The Windows walk: every technician's path refused by syntax first, then opened one component at a time.

1. :func:`agent.forbidden.ntnames.check_windows_path` refuses the spellings
   that are only spellings (streams, device names, trailing dots and spaces,
   ``\\\\?\\`` and ``\\\\.\\``, network paths): BadParams, nothing touched.
2. The drive must be a local one (``GetDriveTypeW``; a drive mapped to a
   share is refused).
3. From the drive's root, each component is opened itself
   (``FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS``) while every
   folder above it is held, and its identity (volume serial, file id) is
   checked before going further.  A junction or symbolic link is never
   entered (BadParams: give the path it leads to); the last component may be
   one when it is not followed (stat, delete, move of the link itself).
   ``..`` goes back to the folder held before (Win32 gives it the same,
   lexical, meaning).  Held folders do not share delete, so on Windows none
   of them can be renamed while the call works below it.
4. A file is opened the same way and the opened handle checked again: same
   identity as checked before, not a folder, not a link, and when it has
   several names (hard links) none of them inside a protected folder (each
   name is walked like a technician's path); the refusal does not say where
   the other name is.

Case variants, 8.3 short names, ``subst`` and Wine's drive aliases reach the
same identity and are refused by it.

Under Wine (the CI): file ids are Linux inode numbers and the volume serial
is Wine's per device; holding a folder does not stop its rename; there are no
junctions, symbolic links or ``FindFirstFileNameW`` (the hard-link index of
:mod:`agent.forbidden._windows_folders` answers instead).

Availability: Windows (chosen only there, see :mod:`agent.forbidden`; it imports anywhere, and
its Win32 calls raise :class:`~wire.errors.Unsupported` where there is no kernel32).
"""

from __future__ import annotations

import contextlib
import ntpath
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from agent import paths
from agent.forbidden import _windows_api as win
from agent.forbidden._windows_folders import ForbiddenFolders, ancestors
from agent.forbidden.ntnames import check_windows_path, looks_like_short_name
from agent.forbidden.rules import (
    MAX_STEPS,
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
    WorkbenchError,
    from_os_error,
)

LINK_MESSAGE = ("is a junction or symbolic link; the agent does not follow them on Windows: give the path it leads "
                "to (files.stat shows it)")


class Location:
    """Where a path leads: the held folders down to the final one, and a final name.

    ``parent_path`` is the final folder's path as walked; ``name`` is None
    when the path ends at a folder reached whole.  ``path`` is what is shown.
    Closing releases the held folders; use it as a context manager.
    """

    def __init__(self, handles: list[int], parent_path: str, parent_identity: Identity, name: str | None,
                 requested: str) -> None:
        self.handles = handles
        self.parent_path = parent_path
        self.parent_identity = parent_identity
        self.name = name
        self.requested = requested

    @property
    def path(self) -> str:
        return self.parent_path if self.name is None else ntpath.join(self.parent_path, self.name)

    @property
    def full(self) -> str:
        """The Win32 path of the final entry (the folder itself when ``name`` is None)."""
        return self.path

    def close(self) -> None:
        for handle in self.handles:
            win.close_handle(handle)
        self.handles = []

    def __enter__(self) -> Location:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Guard:
    """One operation's safe view of the customer's disks, under the customer's rules (Windows).

    Methods taking a technician's path raise Forbidden (the rules), BadParams
    (a refused spelling, a link in the way), NotFound, NotADirectory,
    IsADirectory, PermissionDenied, or Conflict when the path changed while
    it was walked.
    """

    def __init__(self, folders: ForbiddenFolders | None, *, private: Iterable[Path] = (),
                 home: str | None = None) -> None:
        self._folders = folders
        self.flavour: paths.Flavour = "windows"
        self.home = home
        self.rules = folders.rules() if folders is not None else Rules(frozenset(), frozenset(), True, 0)
        self._private: set[Identity] = set(self.rules.private)
        self._private_paths: list[str] = []
        self._reindexed = False
        for folder in private:
            try:
                self._private.add(win.info_at(os.path.realpath(folder)).identity)
            except OSError:
                continue
            self._private_paths.append(os.path.realpath(folder))

    @property
    def generation(self) -> int:
        return self.rules.generation

    # -- checks

    def protected(self, info: win.FileInfo) -> str | None:
        """Why the folder *info* may not be entered, or None."""
        if info.identity in self.rules.folders:
            return PROTECTED_MESSAGE
        if info.identity in self._private:
            return PRIVATE_MESSAGE
        return None

    def check_dir(self, info: win.FileInfo, requested: str) -> None:
        why = self.protected(info)
        if why is not None:
            raise Forbidden(f"{requested}: {why}")

    def linked_protected(self, info: win.FileInfo) -> bool:
        """Whether the multi-link file *info* is known (by the index) to have a name inside a protected folder."""
        return info.links > 1 and info.identity in self.rules.linked_files

    def check_file(self, info: win.FileInfo, requested: str, full: str) -> None:
        """Raise Forbidden when the file *info* at *full* has another name inside a protected folder."""
        if info.links <= 1 or self._folders is None or len(self._folders) == 0:
            return
        refused = Forbidden(f"{requested}: {PROTECTED_FILE_MESSAGE}")
        if info.identity in self.rules.linked_files:
            raise refused
        names = win.other_names(full)
        if names is None:  # no FindFirstFileNameW (Wine): the index decides, made again once if it may be old
            if not self._reindexed:
                self._reindexed = True
                self._folders.refresh()
                self.rules = self._folders.rules()
            if info.identity in self.rules.linked_files or not self.rules.links_complete:
                raise refused
            return
        # The other names are walked under the customer's rules only: the agent's own kept copies are
        # hard links too, and must not make the customer's file unreadable.
        customer = Guard(self._folders, home=self.home)
        for name in names:
            if name.upper() == full.upper():
                continue
            try:
                with customer.locate(name, follow=False, syntax=False) as other:
                    if other.name is not None:
                        customer.entry(other)
            except WorkbenchError:
                raise refused from None  # protected, or it could not be checked: the same words

    def check_movable(self, loc: Location, info: win.FileInfo) -> None:
        """Refuse moving or deleting *loc* when it is, or holds, a protected folder (or a protected file)."""
        if info.is_dir and not info.is_link:
            self.check_dir(info, loc.requested)
            containers: set[Identity] = set()
            if self._folders is not None:
                containers |= self._folders.containers()
            for folder in self._private_paths:
                containers |= ancestors(folder) | {win.info_at(folder).identity}
            if info.identity in containers:
                raise Forbidden(f"{loc.requested}: this folder holds a folder that is protected")
        elif not info.is_link:
            self.check_file(info, loc.requested, loc.full)

    # -- walking

    def parse(self, path: str) -> paths.ParsedPath:
        """Refuse a path by its spelling (see :mod:`agent.forbidden.ntnames`), then parse it."""
        check_windows_path(path)
        return paths.parse(path, "windows", home=self.home)

    def locate(self, path: str | paths.ParsedPath, *, follow: bool = True, syntax: bool = True) -> Location:
        """Walk *path* to its final folder, checking each one (see the module docstring).

        With *follow*, the final component is entered when it is a folder
        (``name`` is then None).  The final entry may not exist.
        """
        if isinstance(path, paths.ParsedPath):
            parsed = path
        else:
            parsed = self.parse(path) if syntax else paths.parse(path, "windows")
        requested = str(parsed)
        anchor = parsed.anchor
        kind = win.drive_type(anchor)
        if kind == win.DRIVE_REMOTE:
            raise BadParams(f"{requested}: {anchor[:2]} is a network drive; a share may be another name for a "
                            "protected folder, so it is not served")
        if kind == win.DRIVE_NO_ROOT_DIR:
            raise NotFound(f"{requested}: there is no drive {anchor[:2]}")
        todo = list(reversed(parsed.parts))
        if parsed.trailing_separator and todo:
            todo.insert(0, ".")
        held: list[tuple[int, str, win.FileInfo]] = []
        try:
            held.append(self._enter(anchor, requested))
            steps = 0
            while todo:
                steps += 1
                if steps > MAX_STEPS:
                    raise BadParams(f"{requested}: the path is too long")
                name = todo.pop()
                if name == ".":
                    continue
                if name == "..":
                    if len(held) > 1:
                        win.close_handle(held.pop()[0])
                    continue
                last = not todo or all(n == "." for n in todo)
                if last and not follow:
                    return self._finish(held, name, requested)
                full = ntpath.join(held[-1][1], name)
                try:
                    handle = win.open_handle(full)
                except FileNotFoundError as err:
                    if last:
                        return self._finish(held, name, requested)
                    raise NotFound(f"{requested}: no such file or folder") from err
                except OSError as err:
                    raise from_os_error(err, requested) from err
                try:
                    info = win.file_info(handle)
                except BaseException:
                    win.close_handle(handle)
                    raise
                if info.is_link:
                    win.close_handle(handle)
                    raise BadParams(f"{requested}: {name} {LINK_MESSAGE}")
                if not info.is_dir:
                    win.close_handle(handle)
                    if last:
                        return self._finish(held, name, requested)
                    raise NotADirectory(f"{requested}: a part of the path is not a folder")
                if looks_like_short_name(name):  # shown, and walked further, by its long name
                    full = ntpath.join(held[-1][1], ntpath.basename(win.long_path(full)))
                held.append((handle, full, info))
                self.check_dir(info, requested)
            return self._finish(held, None, requested)
        except BaseException:
            for handle, _, _ in held:
                win.close_handle(handle)
            raise

    def _enter(self, anchor: str, requested: str) -> tuple[int, str, win.FileInfo]:
        try:
            handle = win.open_handle(anchor)
        except OSError as err:
            raise from_os_error(err, requested) from err
        try:
            info = win.file_info(handle)
            self.check_dir(info, requested)
        except BaseException:
            win.close_handle(handle)
            raise
        return handle, anchor, info

    @staticmethod
    def _finish(held: list[tuple[int, str, win.FileInfo]], name: str | None, requested: str) -> Location:
        handles = [h for h, _, _ in held]
        _, parent_path, parent_info = held[-1]
        held.clear()
        return Location(handles, parent_path, parent_info.identity, name, requested)

    # -- opening

    def entry(self, loc: Location) -> tuple[win.FileInfo, os.stat_result] | None:
        """The final entry itself (a link is not followed), or None when nothing is there.

        Raises Forbidden when it is a protected folder.
        """
        try:
            info = win.info_at(loc.full)
            st = os.lstat(loc.full)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise from_os_error(err, loc.requested) from err
        if info.is_dir and not info.is_link:
            self.check_dir(info, loc.requested)
        return info, st

    def open_file(self, loc: Location, *, write: bool = False) -> tuple[int, win.FileInfo, os.stat_result]:
        """Open the regular file *loc* names; return a C runtime descriptor, its identity and status.

        The descriptor shares delete, so the file can be replaced while it is
        read.  Raises IsADirectory, NotFound, Forbidden, BadParams (a link),
        Conflict when the entry changed between the check and the open.
        """
        if loc.name is None:
            raise IsADirectory(f"{loc.requested}: is a folder")
        before = self.entry(loc)
        if before is None:
            raise NotFound(f"{loc.requested}: no such file")
        if before[0].is_link:
            raise BadParams(f"{loc.requested}: {LINK_MESSAGE}")
        if before[0].is_dir:
            raise IsADirectory(f"{loc.requested}: is a folder, not a file")
        self.check_file(before[0], loc.requested, loc.full)
        access = win.GENERIC_READ | win.SYNCHRONIZE | (win.GENERIC_WRITE if write else 0)
        try:
            handle = win.open_handle(loc.full, access=access, share_delete=True)
        except OSError as err:
            raise from_os_error(err, loc.requested) from err
        try:
            info = win.file_info(handle)
            if info.identity != before[0].identity or info.is_dir or info.is_link:
                raise Conflict(f"{loc.requested}: the file changed while it was opened; try again")
            self.check_file(info, loc.requested, loc.full)
            fd = win.handle_to_fd(handle, (os.O_RDWR if write else os.O_RDONLY) | getattr(os, "O_BINARY", 0))
        except BaseException:
            win.close_handle(handle)
            raise
        try:
            return fd, info, os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise

    def check_parent(self, loc: Location) -> None:
        """Raise Conflict when *loc*'s folder is no longer at the path walked (Wine does not stop renames)."""
        try:
            now = win.info_at(loc.parent_path).identity
        except OSError as err:
            raise Conflict(f"{loc.requested}: the folder moved while it was used; try again") from err
        if now != loc.parent_identity:
            raise Conflict(f"{loc.requested}: the folder moved while it was used; try again")

    def walk_tree(self, folder: str, requested: str) -> Iterator[tuple[str, win.FileInfo, os.stat_result]]:
        """The entries of *folder* (name, identity, own status), refusing protected ones (Forbidden)."""
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries]
        for name in names:
            full = ntpath.join(folder, name)
            try:
                info = win.info_at(full)
                st = os.lstat(full)
            except FileNotFoundError:
                continue
            shown = ntpath.join(requested, name)
            if info.is_dir and not info.is_link:
                self.check_dir(info, shown)
            elif not info.is_link:
                self.check_file(info, shown, full)
            yield name, info, st


def identity_of(path: str) -> Identity | None:
    """The identity of *path* itself, or None when it cannot be opened."""
    with contextlib.suppress(OSError):
        return win.info_at(path).identity
    return None

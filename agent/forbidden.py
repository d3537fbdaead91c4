"""C3: folders the customer protects, enforced on this machine by file identity.

A protected folder is known by what it *is*, its ``(st_dev, st_ino)``, never by
how it is spelled.  :class:`ForbiddenFolders` holds an ``O_PATH`` descriptor on
each one, so the rule follows the folder when it is renamed or moved, and a
second name for it (a bind mount, a case variant on a case-insensitive disk, a
link, ``..``) lands on the same identity.

Every path the technician sends is resolved by :class:`Guard`, one component
at a time, from ``/``:

* each directory is opened with ``O_DIRECTORY | O_NOFOLLOW`` relative to the
  previous one (``dir_fd=``) and checked with ``fstat`` before going further;
  a component swapped for a link between two steps fails the open instead of
  being followed, and a directory renamed mid-walk is still the one we hold;
* symbolic links are read (``readlink``) and their text is walked the same
  way, at most :data:`MAX_SYMLINKS` of them; the kernel never follows a link
  for us, so the "magic" links of ``/proc`` (``/proc/self/root``,
  ``/proc/<pid>/cwd``, ``/proc/<pid>/fd/N``) are taken as the text they show
  and walked from our own root, never jumped through;
* ``..`` goes back to the directory we came from (the kernel's own meaning);
* the target is opened with ``O_NOFOLLOW`` and the opened descriptor is
  checked again (``fstat``) against what was checked before opening.

Reaching any protected identity raises :class:`~wire.errors.Forbidden`: the
walk stops there and nothing below is opened.  Besides the folders themselves:

* **hard links**: a file inside a protected folder may have a second name
  outside.  At :meth:`ForbiddenFolders.add` every file with ``st_nlink > 1``
  inside the folder is indexed (up to ``index_limit`` entries).  Opening a
  multi-link file checks the index.  Making a link changes the file's
  ``st_ctime``, which no program can set back, so a file whose ctime is newer
  than the index (less :data:`CTIME_SLACK_NS` for coarse file-system clocks)
  makes the folders be indexed again before it is allowed; one changed in the
  last seconds is refused for now (Conflict: "try again").  Every multi-link
  file is refused when a folder was too large to index completely (fail closed);
* **mounts**: a bind mount of a folder *below* a protected one has a
  different identity than the protected folder.  The mount table
  (``/proc/self/mountinfo``, re-read when the kernel signals a change) says
  which file-system subtree each mount shows; mount points showing a protected
  subtree, or an overlay with a layer in it, become protected too;
* **containers**: moving or deleting a directory that contains a protected
  folder is refused (:meth:`Guard.check_movable`), by walking ``..`` up from
  each protected folder;
* **special files**: devices, pipes and sockets are never opened (a raw disk
  holds every folder), nor the memory files of ``/proc`` (``mem``, ``kcore``…),
  nor the image file behind a loop device that holds a protected folder.

Listing a folder that holds a protected one shows the protected entry by name,
marked ``protected``, with no size, date or content: hiding it would not hide
its existence (creating that name fails) and would puzzle the technician, who
already knows how many folders are protected.  It is never opened.

Refusals name the path as the technician spelled it, never where a link led.

The agent's own folders (journal, backups, trash) are protected the same way,
with their own message: per call through :class:`Guard`'s ``private`` (the
handlers pass ``ctx.state_dir``), or for good with
:meth:`ForbiddenFolders.add_private` (not listed, not counted).

Availability: Linux, macOS (no mount aliases there; macOS has no bind mounts).
On Windows :class:`Guard` raises :class:`~wire.errors.Unsupported`: the same
design needs handles opened relative to a directory handle and volume file ids,
which is not written yet.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import select
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agent import paths
from wire.errors import (
    BadParams,
    Conflict,
    Forbidden,
    IsADirectory,
    NotADirectory,
    NotFound,
    Unsupported,
    WorkbenchError,
    from_os_error,
)

#: Links followed in one walk, like the kernel's own limit.
MAX_SYMLINKS: Final = 40
#: Components handled in one walk, links included.
MAX_STEPS: Final = 8192
#: Folders one customer may protect (each holds a descriptor).
MAX_FOLDERS: Final = 256
#: Entries looked at when indexing a protected folder's multi-link files.
INDEX_LIMIT: Final = 200_000
#: Deepest directory nesting indexed.
INDEX_DEPTH: Final = 256
#: Coarsest ctime granularity allowed for (ext4 small inodes: 1 s; FAT: 2 s).
CTIME_SLACK_NS: Final = 2_000_000_000

_O_PATH: Final = getattr(os, "O_PATH", 0)
#: Opening a directory during a walk: never through a link.
DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_HOLD_FLAGS: Final = (_O_PATH or os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC
#: Opening a file to read: never through a link, never blocking on a pipe, never a terminal.
FILE_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
_SUPPORTED: Final = os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd
_PROC_MEMORY_FILES: Final = frozenset(
    {"mem", "kcore", "kmem", "pagemap", "kpageflags", "kpagecount", "kpagecgroup", "kallsyms"}
)

PROTECTED_MESSAGE: Final = "the customer has protected this folder"
PRIVATE_MESSAGE: Final = "this folder belongs to the support agent itself"


@dataclass(frozen=True)
class Identity:
    """What a file is, whatever its name: device and inode numbers."""

    dev: int
    ino: int

    @classmethod
    def of(cls, st: os.stat_result) -> Identity:
        return cls(st.st_dev, st.st_ino)


# ---------------------------------------------------------------- mount table


@dataclass(frozen=True)
class Mount:
    """One line of ``/proc/self/mountinfo``."""

    dev: int
    root: str
    point: str
    fstype: str
    super_options: str
    source: str = ""


def _unescape(text: str) -> str:
    # mountinfo writes space, tab, newline and backslash as \ooo octal escapes.
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 3 < len(text) and text[i + 1 : i + 4].isdigit():
            out.append(chr(int(text[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Mount]:
    """Parse the text of ``/proc/<pid>/mountinfo`` (see proc(5)); bad lines are skipped."""
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            dash = fields.index("-", 6)
            major, minor = (int(n) for n in fields[2].split(":"))
            mounts.append(Mount(os.makedev(major, minor), _unescape(fields[3]), _unescape(fields[4]),
                                fields[dash + 1], fields[dash + 3] if len(fields) > dash + 3 else "",
                                _unescape(fields[dash + 2])))
        except (ValueError, IndexError):
            continue
    return mounts


def _under(path: str, top: str) -> bool:
    """True when *path* is *top* or below it (both absolute, normalised)."""
    return path == top or top == "/" or path.startswith(top.rstrip("/") + "/")


def _overlay_layers(options: str) -> list[str]:
    """The layer folders named in an overlay's options (``\\:`` is a colon inside a name)."""
    layers: list[str] = []
    for option in options.split(","):
        key, _, value = option.partition("=")
        if key in ("lowerdir", "upperdir", "workdir", "lowerdir+", "datadir+"):
            layers.extend(p.replace("\0", ":") for p in value.replace("\\:", "\0").split(":"))
    return [posixpath.normpath(layer) for layer in layers if layer.startswith("/")]


def container_mount(mounts: Sequence[Mount], folder: str) -> Mount | None:
    """The mount that *folder* (a canonical path) is on."""
    container: Mount | None = None
    for mount in mounts:  # the last of equal mount points is the one on top
        if _under(folder, mount.point) and (container is None or len(mount.point) >= len(container.point)):
            container = mount
    return container


def loop_backing_file(source: str, sys_block: str = "/sys/block") -> str | None:
    """The image file behind a loop device (``/dev/loop3`` or ``/dev/loop3p1``), or None."""
    name = posixpath.basename(source)
    if not source.startswith("/dev/loop") or not name.startswith("loop"):
        return None
    device = "loop" + name[4:].split("p", 1)[0]
    try:
        with open(posixpath.join(sys_block, device, "loop", "backing_file"), encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError:
        return None


def mount_aliases(mounts: Sequence[Mount], folder: str) -> list[str]:
    """Paths elsewhere in the mount tree that show *folder*'s content or part of it.

    *folder* is a canonical path.  The subtrees it covers are its own
    (device, path inside the file system) and those of every mount below it;
    any other mount whose root lies inside one of them is an alias, and so is
    an overlay with a layer inside *folder* (or the part of an overlay that
    shows *folder* from a layer above it).  Pure: tested with sample tables.
    """
    container = container_mount(mounts, folder)
    if container is None:
        return []
    inside = folder[len(container.point.rstrip("/")):] if container.point != "/" else folder
    covered = [(container.dev, posixpath.normpath(container.root.rstrip("/") + "/" + inside.lstrip("/")))]
    below = [m for m in mounts if m.point != folder and _under(m.point, folder)]
    covered.extend((m.dev, m.root) for m in below)
    aliases: list[str] = []
    for mount in mounts:
        if mount is container or mount in below or _under(mount.point, folder):
            continue
        if any(mount.dev == dev and _under(mount.root, root) for dev, root in covered):
            aliases.append(mount.point)
            continue
        if mount.fstype == "overlay":
            for layer in _overlay_layers(mount.super_options):
                if _under(layer, folder):
                    aliases.append(mount.point)
                elif _under(folder, layer):
                    aliases.append(posixpath.join(mount.point, folder[len(layer.rstrip("/")) + 1:]))
    return aliases


class MountTable:
    """The mount table, read again only when the kernel says it changed.

    Where there is no ``/proc/self/mountinfo`` (macOS) it is always empty.
    """

    def __init__(self, path: str = "/proc/self/mountinfo") -> None:
        self._lock = threading.Lock()
        self._mounts: tuple[Mount, ...] = ()
        self.version = 0
        self._poll: select.poll | None = None
        try:
            self._fd: int | None = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._fd = None
            return
        self._read()
        if hasattr(select, "poll"):
            self._poll = select.poll()
            self._poll.register(self._fd, select.POLLPRI | select.POLLERR)

    def _read(self) -> None:
        assert self._fd is not None
        os.lseek(self._fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(self._fd, 1 << 16):
            chunks.append(chunk)
        self._mounts = tuple(parse_mountinfo(b"".join(chunks).decode("utf-8", "surrogateescape")))
        self.version += 1

    def mounts(self) -> tuple[Mount, ...]:
        """The current mounts (re-read when changed, or every time without poll)."""
        with self._lock:
            if self._fd is None:
                return ()
            if self._poll is None or self._poll.poll(0):
                self._read()
            return self._mounts

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


_default_mounts: MountTable | None = None
_default_mounts_lock = threading.Lock()


def default_mount_table() -> MountTable:
    """The process-wide :class:`MountTable`."""
    global _default_mounts
    with _default_mounts_lock:
        if _default_mounts is None:
            _default_mounts = MountTable()
        return _default_mounts


def _fd_path(fd: int) -> str | None:
    """The kernel's current path for a held descriptor (Linux), or None."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def _alias_identities(mounts: Sequence[Mount], folder: str) -> set[Identity]:
    found = set()
    for alias in mount_aliases(mounts, folder):
        with contextlib.suppress(OSError):
            found.add(Identity.of(os.stat(alias)))
    return found


def ancestors(fd: int) -> set[Identity]:
    """Identities of the directories above the one *fd* holds, up to the root."""
    found: set[Identity] = set()
    current = os.dup(fd)
    try:
        here = Identity.of(os.fstat(current))
        for _ in range(MAX_STEPS):
            parent = os.open("..", _HOLD_FLAGS, dir_fd=current)
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


# ---------------------------------------------------------- hard-link index


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


# ------------------------------------------------------------ the rule set


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


@dataclass(frozen=True)
class Rules:
    """An immutable snapshot of what is protected, for one operation."""

    folders: frozenset[Identity]
    linked_files: frozenset[Identity]
    links_complete: bool
    generation: int
    private: frozenset[Identity] = frozenset()
    #: Disk images holding a protected folder (reading one would read the folder).
    images: frozenset[Identity] = frozenset()


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
            fd = os.open(path, _HOLD_FLAGS)
        except OSError as err:
            if err.errno == errno.ENOTDIR:
                raise NotADirectory(f"{path}: not a folder") from err
            raise from_os_error(err, path) from err
        try:
            identity = Identity.of(os.fstat(fd))
            folder = _Folder(fd, identity, _fd_path(fd) or os.path.abspath(path))
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
        return _fd_path(folder.fd) or folder.added_as

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
                where = _fd_path(folder.fd)
                if where and where.startswith("/") and not where.endswith(" (deleted)"):
                    found[kind] |= _alias_identities(mounts, where)
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
                where = _fd_path(folder.fd)
                if where and where.startswith("/"):
                    for alias in mount_aliases(self.mount_table.mounts(), where):
                        found |= _path_ancestors(alias)
            return found

    def close(self) -> None:
        """Release the held descriptors; the object protects nothing afterwards."""
        with self._lock:
            for folder in [*self._folders, *self._private]:
                os.close(folder.fd)
            self._folders.clear()
            self._private.clear()
            self._generation += 1


def _path_ancestors(path: str) -> set[Identity]:
    try:
        fd = os.open(path, _HOLD_FLAGS)
    except OSError:
        return set()
    try:
        return ancestors(fd) | {Identity.of(os.fstat(fd))}
    finally:
        os.close(fd)


# ------------------------------------------------------------------ the walk


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
            self._private |= _alias_identities(table.mounts(), os.path.realpath(folder))
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
            raise Forbidden(f"{requested}: {PROTECTED_MESSAGE} (this file is also inside it)")
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
                raise Forbidden(f"{requested}: {PROTECTED_MESSAGE} (this file is also inside it)")
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
                containers |= _path_ancestors(str(folder))
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

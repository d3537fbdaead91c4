"""The mount table: which file-system subtree each mount shows, and which mounts alias a folder.

A bind mount of a folder *below* a protected one has a different identity
than the protected folder; ``/proc/self/mountinfo`` says which subtree each
mount shows, so :func:`mount_aliases` finds the mount points (and overlays)
that show a protected folder's content.  The parsing and matching functions
are pure (tested with sample tables); :class:`MountTable` reads the live table.

Availability: Linux, macOS (device numbers are ``os.makedev``'s).  The live
table is Linux's (``/proc/self/mountinfo``); on macOS :meth:`MountTable.mounts`
is always empty (macOS has no bind mounts).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import select
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from agent.forbidden.rules import Identity

if sys.platform == "win32":  # the choice is made in agent.forbidden
    raise ImportError(f"{__name__} is POSIX-only")


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


class _Poller(Protocol):
    """What :class:`MountTable` uses of :func:`select.poll` (named apart: type checkers for Windows know no poll)."""

    def register(self, fd: int, eventmask: int = ...) -> None: ...

    def poll(self, timeout: float | None = ...) -> list[tuple[int, int]]: ...


class MountTable:
    """The mount table, read again only when the kernel says it changed.

    Where there is no ``/proc/self/mountinfo`` (macOS) it is always empty.
    """

    def __init__(self, path: str = "/proc/self/mountinfo") -> None:
        self._lock = threading.Lock()
        self._mounts: tuple[Mount, ...] = ()
        self.version = 0
        self._poll: _Poller | None = None
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


def alias_identities(mounts: Sequence[Mount], folder: str) -> set[Identity]:
    found = set()
    for alias in mount_aliases(mounts, folder):
        with contextlib.suppress(OSError):
            found.add(Identity.of(os.stat(alias)))
    return found

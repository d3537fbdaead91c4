"""The few Win32 calls the Windows guard needs, through ctypes: handles that never follow a reparse point.

Every handle is opened with ``CreateFileW`` and
``FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS``: a junction or
symbolic link is opened itself, never what it points to, and a folder can be
held.  A held handle does not share *delete* (unless asked), so on Windows
the folder it holds cannot be renamed or removed while the walk holds it: a
path spelled from held folders stays bound to them.

A file's identity is its volume serial number and its file id, read from the
opened handle (``GetFileInformationByHandleEx(FileIdInfo)``, the 128-bit id
ReFS needs; ``GetFileInformationByHandle`` where that class is missing).  A
serial of 0 (Windows could not say) refuses the call (Conflict: fail closed).

Under Wine the serial is made up from a drive letter that shows the Linux
device (``0x5A000000`` is "Z"), differs between two letters for one folder,
and is sometimes 0; there the identity is the file id (the Linux inode) alone,
serial 0.  A file on another Linux device with the same inode number as a
protected folder is then refused too: wrong in the safe direction.

kernel32 is loaded at the first call, so this module imports anywhere (tests
imitate Windows on Linux); a call where there is no kernel32 raises
:class:`~wire.errors.Unsupported`.  Win32 failures raise :class:`OSError`
with ``winerror`` set (``FileNotFoundError``, ``PermissionError``…).

Availability: Windows (chosen only there, see :mod:`agent.forbidden`; it imports anywhere, and
its Win32 calls raise :class:`~wire.errors.Unsupported` where there is no kernel32).
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import wintypes
from dataclasses import dataclass
from typing import Any, Final

from agent.forbidden.ntnames import is_name_surrogate
from agent.forbidden.rules import Identity
from wire.errors import Conflict, Unsupported

GENERIC_READ: Final = 0x80000000
GENERIC_WRITE: Final = 0x40000000
DELETE: Final = 0x00010000
FILE_READ_ATTRIBUTES: Final = 0x80
SYNCHRONIZE: Final = 0x00100000
FILE_SHARE_READ: Final = 1
FILE_SHARE_WRITE: Final = 2
FILE_SHARE_DELETE: Final = 4
OPEN_EXISTING: Final = 3
FILE_FLAG_BACKUP_SEMANTICS: Final = 0x02000000
FILE_FLAG_OPEN_REPARSE_POINT: Final = 0x00200000
FILE_ATTRIBUTE_DIRECTORY: Final = 0x10
FILE_ATTRIBUTE_REPARSE_POINT: Final = 0x400
DRIVE_REMOTE: Final = 4
DRIVE_NO_ROOT_DIR: Final = 1
_FILE_ATTRIBUTE_TAG_INFO: Final = 9
_FILE_ID_INFO: Final = 18
_INVALID_HANDLE: Final = ctypes.c_void_p(-1).value
_ERROR_INVALID_PARAMETER: Final = 87
_ERROR_NOT_SUPPORTED: Final = 50
_ERROR_HANDLE_EOF: Final = 38
_ERROR_MORE_DATA: Final = 234


class _ByHandleInfo(ctypes.Structure):
    _fields_ = [("attributes", wintypes.DWORD), ("created", wintypes.FILETIME), ("accessed", wintypes.FILETIME),
                ("written", wintypes.FILETIME), ("serial", wintypes.DWORD), ("size_high", wintypes.DWORD),
                ("size_low", wintypes.DWORD), ("links", wintypes.DWORD), ("index_high", wintypes.DWORD),
                ("index_low", wintypes.DWORD)]


class _IdInfo(ctypes.Structure):
    _fields_ = [("serial", ctypes.c_ulonglong), ("id", ctypes.c_ubyte * 16)]


class _TagInfo(ctypes.Structure):
    _fields_ = [("attributes", wintypes.DWORD), ("tag", wintypes.DWORD)]


class _StandardInfo(ctypes.Structure):
    _fields_ = [("allocation", ctypes.c_longlong), ("end", ctypes.c_longlong), ("links", wintypes.DWORD),
                ("delete_pending", ctypes.c_ubyte), ("directory", ctypes.c_ubyte)]


#: ``FILE_INFO_BY_HANDLE_CLASS.FileStandardInfo``.
_FILE_STANDARD_INFO: Final = 1


_kernel32: list[Any] = []

#: What every Windows file call answers where kernel32 cannot load (an imitated Windows, or no Windows).
NO_WINDOWS_CALLS: Final = "the Windows file calls are not available on this system"


def kernel32() -> Any:
    """kernel32, loaded once with its prototypes; raises Unsupported where there is none."""
    if _kernel32:
        return _kernel32[0]
    loader = getattr(ctypes, "WinDLL", None)
    if loader is None:
        raise Unsupported(NO_WINDOWS_CALLS)
    k = loader("kernel32", use_last_error=True)
    k.CreateFileW.restype = wintypes.HANDLE
    k.CreateFileW.argtypes = [wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD, ctypes.c_void_p, wintypes.DWORD,
                              wintypes.DWORD, wintypes.HANDLE]
    k.CloseHandle.argtypes = [wintypes.HANDLE]
    k.GetFileInformationByHandle.argtypes = [wintypes.HANDLE, ctypes.c_void_p]
    k.GetFileInformationByHandleEx.argtypes = [wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p, wintypes.DWORD]
    k.GetFinalPathNameByHandleW.argtypes = [wintypes.HANDLE, wintypes.LPWSTR, wintypes.DWORD, wintypes.DWORD]
    k.GetFinalPathNameByHandleW.restype = wintypes.DWORD
    k.GetDriveTypeW.argtypes = [wintypes.LPCWSTR]
    k.GetDriveTypeW.restype = wintypes.UINT
    k.GetLongPathNameW.argtypes = [wintypes.LPCWSTR, wintypes.LPWSTR, wintypes.DWORD]
    k.GetLongPathNameW.restype = wintypes.DWORD
    k.GetVolumePathNameW.argtypes = [wintypes.LPCWSTR, wintypes.LPWSTR, wintypes.DWORD]
    if hasattr(k, "FindFirstFileNameW"):  # missing in Wine 8's kernel32
        k.FindFirstFileNameW.restype = wintypes.HANDLE
        k.FindFirstFileNameW.argtypes = [wintypes.LPCWSTR, wintypes.DWORD, ctypes.POINTER(wintypes.DWORD),
                                         wintypes.LPWSTR]
        k.FindNextFileNameW.argtypes = [wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD), wintypes.LPWSTR]
        k.FindClose.argtypes = [wintypes.HANDLE]
    _kernel32.append(k)
    return k


def under_wine() -> bool:
    """Whether this "Windows" is Wine (its ntdll exports ``wine_get_version``)."""
    if not _wine:
        loader = getattr(ctypes, "WinDLL", None)
        _wine.append(loader is not None and hasattr(loader("ntdll"), "wine_get_version"))
    return _wine[0]


_wine: list[bool] = []


def _error(what: str) -> OSError:
    code = int(getattr(ctypes, "get_last_error")())  # noqa: B009 (Windows-only name)
    err: OSError = getattr(ctypes, "WinError")(code)  # noqa: B009
    err.filename = what
    return err


@dataclass(frozen=True)
class FileInfo:
    """What an opened handle is: identity, attributes, links, reparse tag and size."""

    identity: Identity
    attributes: int
    links: int
    reparse_tag: int
    size: int

    @property
    def is_dir(self) -> bool:
        return bool(self.attributes & FILE_ATTRIBUTE_DIRECTORY)

    @property
    def is_reparse(self) -> bool:
        return bool(self.attributes & FILE_ATTRIBUTE_REPARSE_POINT)

    @property
    def is_link(self) -> bool:
        """A junction or symbolic link (a name-surrogate reparse point): never followed."""
        return self.is_reparse and is_name_surrogate(self.reparse_tag)


def open_handle(path: str, *, access: int = FILE_READ_ATTRIBUTES | SYNCHRONIZE, share_delete: bool = False) -> int:
    """Open *path* itself (never through a reparse point); folders too.  Raises OSError."""
    share = FILE_SHARE_READ | FILE_SHARE_WRITE | (FILE_SHARE_DELETE if share_delete else 0)
    handle = kernel32().CreateFileW(path, access, share, None, OPEN_EXISTING,
                                    FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, None)
    if handle is None or handle == _INVALID_HANDLE:
        raise _error(path)
    return int(handle)


def close_handle(handle: int) -> None:
    if handle:
        kernel32().CloseHandle(handle)


def file_info(handle: int) -> FileInfo:
    """Identity and kind of the opened *handle*.  Raises OSError."""
    k = kernel32()
    basic = _ByHandleInfo()
    if not k.GetFileInformationByHandle(handle, ctypes.byref(basic)):
        raise _error("GetFileInformationByHandle")
    ids = _IdInfo()
    if k.GetFileInformationByHandleEx(handle, _FILE_ID_INFO, ctypes.byref(ids), ctypes.sizeof(ids)):
        serial, file_id = int(ids.serial), int.from_bytes(bytes(ids.id), "little")
    else:  # before Windows 8 / Server 2012: the 64-bit index
        serial, file_id = 0, (int(basic.index_high) << 32) | int(basic.index_low)
    if under_wine():
        serial = 0  # Wine's serial is made up per drive letter, and sometimes 0: the file id alone decides
    else:
        serial = serial or int(basic.serial)
        if not serial:  # Windows did not say which volume: no identity can be trusted (fail closed)
            raise Conflict("Windows did not say which disk this file is on; try again")
    identity = Identity(serial, file_id)
    tag = 0
    if basic.attributes & FILE_ATTRIBUTE_REPARSE_POINT:
        tags = _TagInfo()
        if not k.GetFileInformationByHandleEx(handle, _FILE_ATTRIBUTE_TAG_INFO, ctypes.byref(tags),
                                              ctypes.sizeof(tags)):
            raise _error("GetFileInformationByHandleEx")
        tag = int(tags.tag)
    return FileInfo(identity, int(basic.attributes), int(basic.links), tag,
                    (int(basic.size_high) << 32) | int(basic.size_low))


def info_at(path: str) -> FileInfo:
    """Open *path* itself, read its :class:`FileInfo`, close it.  Raises OSError."""
    handle = open_handle(path, share_delete=True)
    try:
        return file_info(handle)
    finally:
        close_handle(handle)


def deleted(handle: int) -> bool:
    """Whether the object held by *handle* was deleted (delete pending, or no name left).  Raises OSError.

    With POSIX delete semantics (NTFS, Windows 10 1809 and later) a deleted
    folder loses its name at once while a handle holds it; otherwise it waits
    for the last handle, marked delete pending.  Either way it is gone.
    """
    info = _StandardInfo()
    if not kernel32().GetFileInformationByHandleEx(handle, _FILE_STANDARD_INFO, ctypes.byref(info),
                                                   ctypes.sizeof(info)):
        raise _error("GetFileInformationByHandleEx")
    return gone(int(info.delete_pending), int(info.links))


def gone(delete_pending: int, links: int) -> bool:
    """From ``FILE_STANDARD_INFO``: deleted when ``DeletePending`` is set, or no name is left (``NumberOfLinks`` 0)."""
    return bool(delete_pending) or links == 0


def final_path(handle: int) -> str | None:
    """Where the held *handle* is now (``C:\\...``), or None when Windows cannot say."""
    buffer = ctypes.create_unicode_buffer(32768)
    length = kernel32().GetFinalPathNameByHandleW(handle, buffer, len(buffer), 0)
    if not length or length >= len(buffer):
        return None
    text = str(buffer.value)
    if text.startswith("\\\\?\\UNC\\"):
        return "\\\\" + text[8:]
    return text[4:] if text.startswith("\\\\?\\") else text


def drive_type(root: str) -> int:
    """``GetDriveTypeW`` of a drive root (``C:\\``): 4 is a network drive."""
    return int(kernel32().GetDriveTypeW(root))


def long_path(path: str) -> str:
    """The long form of *path* (8.3 short names expanded), or *path* itself when Windows cannot say."""
    buffer = ctypes.create_unicode_buffer(32768)
    length = kernel32().GetLongPathNameW(path, buffer, len(buffer))
    return str(buffer.value) if 0 < length < len(buffer) else path


def volume_root(path: str) -> str | None:
    buffer = ctypes.create_unicode_buffer(32768)
    if not kernel32().GetVolumePathNameW(path, buffer, len(buffer)):
        return None
    return str(buffer.value)


def other_names(path: str) -> list[str] | None:
    """Every name of the file at *path* (hard links), as full paths; None when Windows cannot list them.

    ``FindFirstFileNameW`` answers names relative to the volume's root; they
    are joined to :func:`volume_root`.  Wine 8 has no such call: None.
    """
    k = kernel32()
    if not hasattr(k, "FindFirstFileNameW"):
        return None
    root = volume_root(path)
    if root is None:
        return None
    names: list[str] = []
    buffer = ctypes.create_unicode_buffer(32768)
    size = wintypes.DWORD(len(buffer))
    handle = k.FindFirstFileNameW(path, 0, ctypes.byref(size), buffer)
    if handle is None or handle == _INVALID_HANDLE:
        return None
    try:
        while True:
            names.append(root.rstrip("\\") + "\\" + str(buffer.value).lstrip("\\"))
            size = wintypes.DWORD(len(buffer))
            if not k.FindNextFileNameW(handle, ctypes.byref(size), buffer):
                code = int(getattr(ctypes, "get_last_error")())  # noqa: B009
                return names if code == _ERROR_HANDLE_EOF else None
    finally:
        k.FindClose(handle)


def handle_to_fd(handle: int, flags: int = os.O_RDONLY) -> int:
    """A C runtime descriptor owning *handle* (closing the descriptor closes the handle)."""
    if sys.platform != "win32":
        raise Unsupported("C runtime descriptors of Windows handles exist only on Windows")
    import msvcrt

    return int(msvcrt.open_osfhandle(handle, flags))

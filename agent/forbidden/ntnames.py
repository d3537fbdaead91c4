"""The Windows spellings refused by syntax, before the disk is touched: pure functions, platform-free.

Windows offers many second names for one file.  Some are only spellings, and
are refused here, by looking at the technician's text, with
:class:`~wire.errors.BadParams` (code ``bad_params``) and a sentence saying why;
the others reach the disk and are caught by file identity in
:mod:`agent.forbidden._windows_walk`.

Refused by syntax (:func:`check_windows_path`):

* **alternate data streams**: a colon after the drive (``file:stream``,
  ``file::$DATA``, ``folder:$I30:$INDEX_ALLOCATION``): a stream is a second
  content under the same identity, and ``::$INDEX_ALLOCATION`` even opens a
  folder under a file-like name;
* **device names**: ``CON``, ``PRN``, ``AUX``, ``NUL``, ``COM0``–``COM9``,
  ``LPT0``–``LPT9`` (and their superscript digits ``COM¹``…), ``CONIN$``,
  ``CONOUT$``, in any case, with any extension and with spaces before it
  (``nul.txt``, ``CON .log``, ``com1.tar.gz``): Win32 opens the device;
* **trailing dots and spaces** (``secret.``, ``secret ``, ``secret. .``): Win32
  drops them silently, so they are a second spelling of another name; the
  technician must spell the real one;
* **namespace prefixes**: ``\\\\?\\`` (turns off Win32's name rules, so every
  refusal above would be skipped by the file system), ``\\\\.\\`` (the device
  namespace: drives, volumes, pipes), ``\\??\\`` (the NT object namespace) and
  ``\\\\?\\GLOBALROOT``;
* **network paths** (UNC, ``\\\\server\\share``, including ``\\\\localhost\\C$``
  and ``\\\\127.0.0.1\\c$``, which are the local disk under another name): a
  share's file identity is the server's word, not this disk's;
* **drive-relative paths** (``C:folder``) and rooted paths without a drive.

Caught by identity (volume serial number and file id, on the opened handle):
case variants (``SECRET``), Unicode variants that the file system takes as the
same name, 8.3 short names (``PROGRA~1``, recognised by
:func:`looks_like_short_name` only to show the long name), ``subst`` drives
and Wine's ``dosdevices`` aliases (same volume serial and file id), hard links
(the file's other names), and junctions and symbolic links (reparse points,
see :func:`is_name_surrogate`: never followed).  A drive mapped to a network
share is refused by its drive type.
"""

from __future__ import annotations

import re
from typing import Final

from wire.errors import BadParams

#: Names Win32 turns into devices, whatever the extension (upper case).
DEVICE_NAMES: Final = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{p}{n}" for p in ("COM", "LPT") for n in [*"0123456789", "\u00b9", "\u00b2", "\u00b3"]]
)
#: Characters no Windows name may hold (the colon is the stream separator).
BAD_CHARACTERS: Final = frozenset('<>:"|?*') | frozenset(chr(c) for c in range(32))
#: The reparse tag bit that says "this reparse point is another name for something" (links, junctions).
NAME_SURROGATE_BIT: Final = 0x20000000
IO_REPARSE_TAG_MOUNT_POINT: Final = 0xA0000003
IO_REPARSE_TAG_SYMLINK: Final = 0xA000000C

_SHORT_NAME: Final = re.compile(r"^[^.~\s]{1,6}~[1-9][0-9]{0,5}(\.[^.\s]{1,3})?$", re.IGNORECASE)
_WINE_SHORT_NAME: Final = re.compile(r"^[^.~\s]{1,4}~[0-9A-Z]{3}(\.[^.\s]{1,3})?$", re.IGNORECASE)


def device_name(name: str) -> str | None:
    """The device *name* would open in Win32 (``"NUL"`` for ``nul.txt``), or None for an ordinary name.

    The part before the first dot, less trailing spaces, is what Win32 compares.
    """
    stem = name.split(".", 1)[0].rstrip(" ").upper()
    return stem if stem in DEVICE_NAMES else None


def looks_like_short_name(name: str) -> bool:
    """Whether *name* has the shape of a generated 8.3 short name (``PROGRA~1``, ``DOCUME~12.TXT``).

    Windows makes them as up to six characters, ``~`` and a number (or, past
    four collisions, two characters, four hex digits, ``~`` and a digit); Wine
    makes four characters, ``~`` and three of a hash (``PROG~FBU``).  A real
    long name may have this shape too, which is why a short name is never
    refused for its shape: the walk opens it and decides by identity.
    """
    return bool(_SHORT_NAME.match(name) or _WINE_SHORT_NAME.match(name))


def is_name_surrogate(tag: int) -> bool:
    """Whether the reparse point with *tag* is another name for a file or folder (link, junction)."""
    return bool(tag & NAME_SURROGATE_BIT) or tag in (IO_REPARSE_TAG_MOUNT_POINT, IO_REPARSE_TAG_SYMLINK)


def check_windows_name(name: str) -> None:
    """Refuse a name Win32 would read as something else; raises BadParams saying why.

    ``.`` and ``..`` pass (the walk gives them their meaning).
    """
    if name in (".", ".."):
        return
    if ":" in name:
        raise BadParams(f"{name!r}: a colon names an alternate data stream, a second content of the "
                        "same file; streams are not served")
    if name != name.rstrip(". "):
        raise BadParams(f"{name!r} ends with a dot or a space, which Windows drops: it is another "
                        "spelling of a different name; write the name without them")
    bad = sorted(set(name) & BAD_CHARACTERS)
    if bad:
        raise BadParams(f"{name!r} contains characters Windows does not allow in names: "
                        + ", ".join(repr(c) for c in bad))
    device = device_name(name)
    if device is not None:
        raise BadParams(f"{name!r} names the Windows device {device}, not a file")


def check_windows_path(text: str) -> None:
    """Refuse a technician's Windows path by its spelling alone; raises BadParams saying why.

    See the module docstring for the list.  A path passing here is then
    parsed by :func:`agent.paths.parse` and walked by identity.
    """
    if not isinstance(text, str):
        raise BadParams("a path must be a string")
    if "\x00" in text:
        raise BadParams("the path contains a NUL character")
    slashed = text.replace("/", "\\")
    upper = slashed.upper()
    if upper.startswith("\\\\?\\") or upper.startswith("\\??\\"):
        raise BadParams("paths starting with \\\\?\\ or \\??\\ skip Windows' name rules; give the plain path "
                        "(C:\\...)")
    if upper.startswith("\\\\.\\"):
        raise BadParams("paths starting with \\\\.\\ name devices, not files; give the plain path (C:\\...)")
    if slashed.startswith("\\\\"):
        raise BadParams("network paths (\\\\server\\share) are not served: a share may be another name for "
                        "a protected folder; give a path on a local drive")
    if slashed.startswith("~"):
        rest = slashed[1:]
    elif len(slashed) >= 2 and slashed[1] == ":" and slashed[0].isascii() and slashed[0].isalpha():
        if len(slashed) == 2 or slashed[2] != "\\":
            raise BadParams(f"{slashed[:2]} without a separator is relative to the drive's current folder; "
                            f"write {slashed[:2]}\\...")
        rest = slashed[2:]
    elif slashed.startswith("\\"):
        raise BadParams("a Windows path needs a drive letter (C:\\...)")
    else:
        raise BadParams(f"{text!r} is not a full path; start it with a drive letter such as C:\\")
    for name in rest.split("\\"):
        if name:
            check_windows_name(name)

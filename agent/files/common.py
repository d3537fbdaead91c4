"""The limits of the file methods, and the small helpers every handler shares to read a path and shape a reply.

Platform-free: imported on every system (the method table's words use it too).
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from typing import Any, Final

from agent.params import get_str

#: Largest chunk of a download or upload, and of a bytes read.
CHUNK_MAX: Final = 4 * 1024 * 1024
#: Largest file read as text, written in one call, or edited.
TEXT_MAX: Final = 4 * 1024 * 1024
#: Largest JSON form of a text reply (the frame limit is 16 MiB).
TEXT_JSON_MAX: Final = 12 * 1024 * 1024
#: Entries listed by default, and at most.
LIST_DEFAULT: Final = 10_000
LIST_MAX: Final = 50_000
#: Changes kept for undo (with their backups and trash).
KEEP_CHANGES: Final = 100
#: Open downloads and uploads per agent.
MAX_TRANSFERS: Final = 16
#: Longest diff returned by files.edit, in characters.
DIFF_MAX: Final = 256 * 1024
#: Largest upload accepted.
UPLOAD_MAX: Final = 1 << 44
#: Deepest folder tree copied.
COPY_DEPTH: Final = 256
_PATH_LENGTH: Final = 4096


def clean(text: str) -> str:
    """Text safe for JSON in UTF-8: undecodable bytes of file names become U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def iso(timestamp: float) -> str:
    """A file time as an ISO 8601 UTC date, to the second."""
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat(timespec="seconds")


def entry_kind(st: os.stat_result) -> str:
    """What an lstat result is, in the replies' words: folder, file, link or other."""
    if stat.S_ISDIR(st.st_mode):
        return "folder"
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISLNK(st.st_mode):
        return "link"
    return "other"


def path_param(params: dict[str, Any], name: str = "path") -> str:
    """The technician's path parameter *name*; raises BadParams when missing, not text, or too long."""
    return get_str(params, name, max_length=_PATH_LENGTH)


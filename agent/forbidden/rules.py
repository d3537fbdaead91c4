"""C3's vocabulary: what a protected thing *is*, the limits, and one operation's snapshot of the rules.

A protected folder is known by its :class:`Identity` (device and inode numbers),
never by how it is spelled; :class:`Rules` is the immutable set of identities
one operation checks against.  Platform-free: imported on every system.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

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

PROTECTED_MESSAGE: Final = "the customer has protected this folder"
PRIVATE_MESSAGE: Final = "this folder belongs to the support agent itself"
#: The refusal of a file with another name inside a protected folder: it says no more than that (not where,
#: not that a folder is involved), so the refusal reveals nothing of what is inside.
PROTECTED_FILE_MESSAGE: Final = "this file is protected; it cannot be opened"


@dataclass(frozen=True)
class Identity:
    """What a file is, whatever its name: device and inode numbers."""

    dev: int
    ino: int

    @classmethod
    def of(cls, st: os.stat_result) -> Identity:
        return cls(st.st_dev, st.st_ino)


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

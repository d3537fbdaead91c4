"""T3: the technician's file methods, run by the agent on the customer's machine.

Every path goes through :class:`agent.forbidden.Guard`, so the customer's
protected folders (C3) and the agent's own folder (``ctx.state_dir``: journal,
backups, trash) are refused whatever spelling, link or mount is used.

Changes are atomic and undoable:

* new content is written to a temporary file in the same folder, fsync'ed,
  renamed over the target and the folder fsync'ed (Windows: flushed and
  replaced with ``os.replace``; folders cannot be flushed there): after ``kill -9`` the
  target holds the old content or the new, never a mix (a stray
  ``.name.wb-….tmp`` may remain);
* what is replaced is kept first under ``state_dir/files/items`` (a hard link
  to the old file when possible, otherwise a copy), deleted things are moved
  there (the trash), and a change record in ``state_dir/files/changes`` lists
  the steps that undo it; the record is written *before* the change takes
  effect, so a crash leaves it undoable;
* ``files.undo`` undoes the newest change not yet undone, after checking that
  nothing changed since (the content hash must match), and refuses (Conflict)
  otherwise; it walks the paths again, so it cannot reach a folder the
  customer protected meanwhile.  Undo never destroys: what it removes (a file
  or folder the change created) goes to the trash too.  The last
  :data:`KEEP_CHANGES` change records and their kept items are kept.

Content hashes before and after go to ``ctx.journal_details``.

Transfers are chunked (at most :data:`CHUNK_MAX` bytes a call) and never hold a
whole file: a download keeps the file open and reads the asked range; an upload
writes into a temporary file in the destination folder, reports how many bytes
arrived in order (to resume), checks the sha256 and renames into place.
Its ``.part`` never outlives the upload: it is recorded before it is made
(:mod:`~agent.files.parts`), removed when the session ends
(:func:`close_transfers`), and, after a crash, at the next start
(:func:`clean_leftovers`); no space is reserved ahead of the bytes.

Every handler raises :class:`~wire.errors.WorkbenchError` subclasses only:
BadParams, NotFound, AlreadyExists, NotADirectory, IsADirectory,
PermissionDenied, Forbidden, Conflict, NoSpace.
A failed call leaves no file changed.

The package, by job:

* :mod:`~agent.files.common`: the limits, parameters and reply fields
  (platform-free);
* :mod:`~agent.files.fdio`: descriptor-level reads, writes, hashes, temporary
  files, tree copy and removal;
* :mod:`~agent.files.store`: the agent's keeping (change records, kept items,
  open transfers);
* :mod:`~agent.files.undo`: recording changes, atomic replacement, undo;
* :mod:`~agent.files.operations`: list, stat, read, write, edit, move, copy,
  delete, mkdir;
* :mod:`~agent.files.transfers`: chunked downloads and uploads;
* :mod:`~agent.files.parts`: the registry of the ``.part`` files the agent
  made (platform-free);
* :mod:`~agent.files.textual`: codecs, edits, diffs and upload ranges
  (platform-free, shared by both backends);
* :mod:`~agent.files.methods`: the method table, where the platform's
  handlers are chosen: on Windows those of the ``_windows_*`` modules (the
  same methods over the Windows walk of :mod:`agent.forbidden`), and no
  POSIX module is imported.
"""

from __future__ import annotations

from agent.files.common import (
    CHUNK_MAX,
    COPY_DEPTH,
    DIFF_MAX,
    KEEP_CHANGES,
    LIST_DEFAULT,
    LIST_MAX,
    MAX_TRANSFERS,
    TEXT_JSON_MAX,
    TEXT_MAX,
    UPLOAD_MAX,
)
from agent.files.methods import METHODS, clean_leftovers, close_transfers

__all__ = [
    "CHUNK_MAX",
    "COPY_DEPTH",
    "DIFF_MAX",
    "KEEP_CHANGES",
    "LIST_DEFAULT",
    "LIST_MAX",
    "MAX_TRANSFERS",
    "METHODS",
    "TEXT_JSON_MAX",
    "TEXT_MAX",
    "UPLOAD_MAX",
    "clean_leftovers",
    "close_transfers",
]

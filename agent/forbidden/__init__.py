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

Availability: Linux, macOS (no mount aliases there; macOS has no bind mounts),
and Windows with its own walk: :mod:`~agent.forbidden._windows_walk` (volume
serial number and file id of handles opened without following reparse points;
the spellings refused by syntax are in :mod:`~agent.forbidden.ntnames`).

The package, by job:

* :mod:`~agent.forbidden.rules`: identities, limits and the rules snapshot
  (platform-free);
* :mod:`~agent.forbidden.mounts`: the mount table and its aliases (POSIX;
  the live table is Linux's);
* :mod:`~agent.forbidden.links`: the hard-link index (POSIX);
* :mod:`~agent.forbidden.folders`: :class:`ForbiddenFolders` (POSIX);
* :mod:`~agent.forbidden._posix_walk`: :class:`Guard` and :class:`Location`,
  the component walk (POSIX), over the shared POSIX layer
  :mod:`~agent.forbidden._posix` (open flags, ancestors; also used by
  :mod:`agent.files`' POSIX modules).

The platform's backend is chosen here, once.  On Windows none of the POSIX
modules is imported (they read ``os.O_NOFOLLOW`` and ``os.O_DIRECTORY``):
:class:`Guard` and :class:`ForbiddenFolders` come from
:mod:`~agent.forbidden._windows_walk` and
:mod:`~agent.forbidden._windows_folders` (over the ctypes layer
:mod:`~agent.forbidden._windows_api`).  Each POSIX module refuses to load on
Windows and each Windows module elsewhere (ImportError), so this cannot change
by accident.  :mod:`~agent.forbidden._unsupported` stays for a system with
neither.
"""

from __future__ import annotations

import sys

from agent.forbidden.rules import Identity

if sys.platform == "win32":
    from agent.forbidden._windows_folders import ForbiddenFolders
    from agent.forbidden._windows_walk import Guard, Location
else:
    from agent.forbidden._posix_walk import Guard, Location
    from agent.forbidden.folders import ForbiddenFolders

__all__ = ["ForbiddenFolders", "Guard", "Identity", "Location"]

"""The method table of the file methods: each ``files.*`` name, its handler, and its words for the customer.

The platform's handlers are chosen here, once.  On Linux and macOS they are
those of :mod:`agent.files.operations`, :mod:`agent.files.transfers` and
:mod:`agent.files.undo`.  On Windows none of those POSIX modules is imported
(they need ``dir_fd`` and ``os.O_NOFOLLOW``): the handlers are those of
:mod:`agent.files._windows_operations`, :mod:`agent.files._windows_transfers`
and :mod:`agent.files._windows_undo`, with the same methods and replies, over
the Windows guard.  :mod:`agent.files._unsupported` stays for a system with
neither.  The words are the same everywhere.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

from agent.dispatch import Method
from agent.files.common import clean

if sys.platform == "win32":
    from agent.files._windows_operations import (
        copy_path,
        delete_path,
        edit_file,
        list_folder,
        make_folder,
        move_path,
        read_file,
        stat_path,
        write_file,
    )
    from agent.files._windows_store import clean_leftovers, close_transfers
    from agent.files._windows_transfers import (
        download_chunk,
        download_close,
        download_open,
        upload_abort,
        upload_chunk,
        upload_finish,
        upload_open,
        upload_status,
    )
    from agent.files._windows_undo import undo
else:
    from agent.files.operations import (
        copy_path,
        delete_path,
        edit_file,
        list_folder,
        make_folder,
        move_path,
        read_file,
        stat_path,
        write_file,
    )
    from agent.files.store import clean_leftovers, close_transfers
    from agent.files.transfers import (
        download_chunk,
        download_close,
        download_open,
        upload_abort,
        upload_chunk,
        upload_finish,
        upload_open,
        upload_status,
    )
    from agent.files.undo import undo


def _show(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    text = value if isinstance(value, str) else "?"
    return clean(text if len(text) <= 300 else text[:300] + "…")


def _said(template: str, *names: str) -> Callable[[dict[str, Any]], str]:
    def describe(params: dict[str, Any]) -> str:
        return template.format(*(_show(params, name) for name in names))
    return describe


def _read_words(params: dict[str, Any]) -> str:
    where = _show(params, "path")
    if "offset" in params or "length" in params:
        return f"The technician read part of the file {where}"
    return f"The technician read the file {where}"


def _chunk_words(verb: str) -> Callable[[dict[str, Any]], str]:
    def describe(params: dict[str, Any]) -> str:
        where = _show(params, "path") if isinstance(params.get("path"), str) else "a file"
        return f"The technician {verb} {where} (part starting at byte {params.get('offset', 0)})"
    return describe


def _iter_methods() -> Iterator[Method]:
    yield Method("files.list", list_folder, "files", _said("The technician looked at the list of files in {}", "path"))
    yield Method("files.stat", stat_path, "files",
                 _said("The technician looked at the size and dates of {}", "path"))
    yield Method("files.read", read_file, "files", _read_words)
    yield Method("files.write", write_file, "files", _said("The technician changed the file {}", "path"))
    yield Method("files.edit", edit_file, "files", _said("The technician edited the file {}", "path"))
    yield Method("files.move", move_path, "files", _said("The technician moved {} to {}", "src", "dst"))
    yield Method("files.copy", copy_path, "files", _said("The technician copied {} to {}", "src", "dst"))
    yield Method("files.delete", delete_path, "files",
                 _said("The technician deleted {} (kept in the agent's trash, it can be restored)", "path"))
    yield Method("files.mkdir", make_folder, "files", _said("The technician created the folder {}", "path"))
    yield Method("files.undo", undo, "files", lambda params: "The technician undid their last change to your files")
    yield Method("files.download_open", download_open, "files",
                 _said("The technician started copying the file {} from your computer", "path"))
    # A transfer is one line in the customer's feed (its open); the chunks and the end are journaled, not repeated.
    yield Method("files.download_chunk", download_chunk, "files", _chunk_words("copied part of the file"), tell=False,
                 changes=False)
    yield Method("files.download_close", download_close, "files",
                 lambda params: "The technician finished copying a file from your computer", tell=False)
    yield Method("files.upload_open", upload_open, "files",
                 _said("The technician started sending a file to your computer, to be saved as {}", "path"))
    yield Method("files.upload_chunk", upload_chunk, "files", _chunk_words("sent part of the file"), tell=False)
    yield Method("files.upload_status", upload_status, "files",
                 lambda params: "The technician checked how much of a file they sent has arrived", tell=False,
                 changes=False)
    yield Method("files.upload_finish", upload_finish, "files",
                 lambda params: "The technician finished sending a file; it was checked and saved", tell=False)
    yield Method("files.upload_abort", upload_abort, "files",
                 lambda params: "The technician cancelled sending a file; nothing was saved")


METHODS: list[Method] = list(_iter_methods())

__all__ = ["METHODS", "clean_leftovers", "close_transfers"]

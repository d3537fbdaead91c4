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
from agent.files.feed import FEED
from agent.panel.catalogue import Param, say

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


def _said(key: str, *names: str) -> Callable[[dict[str, Any]], str]:
    def describe(params: dict[str, Any]) -> str:
        return say(key, **{name: _show(params, name) for name in names})
    return describe


def _read_words(params: dict[str, Any]) -> str:
    where = _show(params, "path")
    if "offset" in params or "length" in params:
        return say("files.read_part", path=where)
    return say("files.read", path=where)


def _chunk_words(key: str) -> Callable[[dict[str, Any]], str]:
    def describe(params: dict[str, Any]) -> str:
        where: Param = _show(params, "path") if isinstance(params.get("path"), str) else say("files.a_file")
        offset = params.get("offset", 0)
        return say(key, path=where, offset=offset if isinstance(offset, int) else str(offset))
    return describe


def _path_shown(params: dict[str, Any]) -> str:
    return _show(params, "path")


def _iter_methods() -> Iterator[Method]:
    yield Method("files.list", list_folder, "files", _said("files.list", "path"))
    yield Method("files.stat", stat_path, "files", _said("files.stat", "path"))
    yield Method("files.read", read_file, "files", _read_words)
    yield Method("files.write", write_file, "files", _said("files.write", "path"))
    yield Method("files.edit", edit_file, "files", _said("files.edit", "path"))
    yield Method("files.move", move_path, "files", _said("files.move", "src", "dst"))
    yield Method("files.copy", copy_path, "files", _said("files.copy", "src", "dst"))
    yield Method("files.delete", delete_path, "files", _said("files.delete", "path"))
    yield Method("files.mkdir", make_folder, "files", _said("files.mkdir", "path"))
    yield Method("files.undo", undo, "files", _said("files.undo"))
    # A transfer is one line in the customer's feed: told at its open, then kept up to date (how far, and how
    # it ended) by agent.files.feed; the chunks and the end are journaled, not repeated.
    yield Method("files.download_open", download_open, "files", _said("files.download_open", "path"),
                 progress=FEED.opened("download", _path_shown))
    yield Method("files.download_chunk", download_chunk, "files", _chunk_words("files.download_chunk"), tell=False,
                 progress=FEED.moved("download"))
    yield Method("files.download_close", download_close, "files", _said("files.download_close"), tell=False,
                 progress=FEED.closed("download", "done"))
    yield Method("files.upload_open", upload_open, "files", _said("files.upload_open", "path"),
                 progress=FEED.opened("upload", _path_shown))
    yield Method("files.upload_chunk", upload_chunk, "files", _chunk_words("files.upload_chunk"), tell=False,
                 progress=FEED.moved("upload"))
    yield Method("files.upload_status", upload_status, "files", _said("files.upload_status"), tell=False)
    yield Method("files.upload_finish", upload_finish, "files", _said("files.upload_finish"), tell=False,
                 progress=FEED.closed("upload", "done"))
    yield Method("files.upload_abort", upload_abort, "files", _said("files.upload_abort"), tell=False,
                 progress=FEED.closed("upload", "cancelled"))


METHODS: list[Method] = list(_iter_methods())

__all__ = ["METHODS", "clean_leftovers", "close_transfers"]

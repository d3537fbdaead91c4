"""What the file methods do with text and parameters on every platform: codecs, edits, diffs, write payloads.

Platform-free: the POSIX and Windows handlers both use it, so a technician
gets the same answers and the same refusals from either.
"""

from __future__ import annotations

import codecs
import difflib
from typing import Any, Final

from agent.dispatch import CallContext
from agent.files.common import DIFF_MAX, TEXT_MAX, clean, path_param
from agent.params import get_str
from wire.errors import BadParams, Conflict

ERRORS_CHOICES: Final = frozenset({"strict", "replace"})


def text_codec(params: dict[str, Any]) -> str | None:
    """The ``encoding`` parameter (None: bytes); raises BadParams for an unknown or non-text codec."""
    encoding = params.get("encoding", "utf-8")
    if encoding is None:
        return None
    encoding = get_str(params, "encoding", "utf-8", max_length=64)
    try:
        codecs.lookup(encoding)
        "".encode(encoding)
    except LookupError as err:
        raise BadParams(f"unknown text encoding {encoding!r}", param="encoding") from err
    return encoding


def decode(data: bytes, encoding: str, errors: str, where: str, base: int = 0) -> str:
    """*data* as text; raises BadParams saying at which byte it is not valid."""
    try:
        return data.decode(encoding, errors)
    except UnicodeDecodeError as err:
        raise BadParams(f"{where}: not valid {encoding} text (at byte {base + err.start}); read it as bytes "
                        "(encoding=None), name its encoding, or use errors='replace'", param="encoding") from err
    except LookupError as err:
        raise BadParams(f"{encoding!r} is not a text encoding", param="encoding") from err


def write_payload(ctx: CallContext) -> bytes:
    """The bytes files.write puts in place: ``text`` encoded, or the request data.

    Raises BadParams (neither or both, unencodable text, more than :data:`TEXT_MAX`).
    """
    has_text = "text" in ctx.params
    if has_text == (ctx.data is not None):
        raise BadParams("give either 'text' or bytes as request data, not both or neither", param="text")
    if has_text:
        encoding = text_codec(ctx.params) or "utf-8"
        text = get_str(ctx.params, "text", max_length=TEXT_MAX, allow_nul=True)
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError as err:
            raise BadParams(f"the text cannot be written in {encoding}: {err.reason} at character {err.start}",
                            param="encoding") from err
    else:
        assert ctx.data is not None
        data = ctx.data
    if len(data) > TEXT_MAX:
        raise BadParams(f"{len(data)} bytes is more than one write takes ({TEXT_MAX}); upload the file",
                        param="text")
    return data


def edit_params(ctx: CallContext) -> tuple[str, str, str, str]:
    """files.edit's path, old and new text and encoding; raises BadParams (empty old)."""
    path = path_param(ctx.params)
    old_text = get_str(ctx.params, "old", max_length=TEXT_MAX, allow_nul=True)
    new_text = get_str(ctx.params, "new", max_length=TEXT_MAX, allow_nul=True)
    encoding = text_codec(ctx.params) or "utf-8"
    if not old_text:
        raise BadParams("'old' must not be empty", param="old")
    return path, old_text, new_text, encoding


def apply_edit(current: str, old_text: str, new_text: str, path: str) -> str:
    """*current* with the one occurrence of *old_text* replaced (``\\n`` matching ``\\r\\n`` files).

    Raises Conflict when it is absent or found more than once.
    """
    count = current.count(old_text)
    if count == 0 and "\r\n" in current and "\n" in old_text and "\r\n" not in old_text:
        old_text, new_text = old_text.replace("\n", "\r\n"), new_text.replace("\n", "\r\n")
        count = current.count(old_text)
    if count == 0:
        raise Conflict(f"{path}: the text to replace was not found; nothing was changed")
    if count > 1:
        raise Conflict(f"{path}: the text to replace was found {count} times; include more "
                       "around it so that it is found once; nothing was changed")
    return current.replace(old_text, new_text, 1)


def encode_edit(updated: str, encoding: str) -> bytes:
    try:
        return updated.encode(encoding)
    except UnicodeEncodeError as err:
        raise BadParams(f"the new text cannot be written in {encoding}", param="new") from err


def diff_of(current: str, updated: str, shown_path: str) -> str:
    """A unified diff of an edit, cut at :data:`DIFF_MAX` characters."""
    shown = clean(shown_path)
    diff = "".join(difflib.unified_diff(current.splitlines(keepends=True), updated.splitlines(keepends=True),
                                        fromfile=shown, tofile=shown))
    return diff if len(diff) <= DIFF_MAX else diff[:DIFF_MAX] + "\n… (diff cut)\n"


def add_range(ranges: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """The received byte ranges of an upload, with *start*..*end* merged in."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted([*ranges, (start, end)]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def check_path_words(ctx: CallContext, requested: str, actual: str) -> None:
    """A chunk call may carry its path for the customer's words; it must be the truth (BadParams)."""
    claimed = ctx.params.get("path")
    if claimed is not None and claimed not in (requested, actual):
        raise BadParams("'path' differs from the file this transfer was opened for", param="path")

"""The plans of the file methods' dry runs: what a change would do, in facts and one sentence.

Platform-free: the POSIX and Windows handlers check a call exactly as they
would before changing anything, and, when the call is a dry run
(:attr:`agent.dispatch.CallContext.preview`), answer one of these
:class:`~agent.preview.plan.Plan` instead of changing the customer's files.
Nothing here touches a file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from agent.files.common import TEXT_MAX, clean
from agent.files.textual import diff_of
from agent.preview.plan import Plan


def _text(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _size_words(size: int) -> str:
    return f"{size} byte{'s' if size != 1 else ''}"


def replace_plan(method: str, path: str, data: bytes, old: bytes | None, old_size: int | None,
                 encoding: str | None) -> Plan:
    """files.write (or an edit): *data* would replace *old* (None: a new file) at *path*.

    *old* is the current content when it was read (text-sized files), *old_size* its size.
    The diff is given when both sides read as text in *encoding* (utf-8 when None).
    """
    shown = clean(path)
    codec = encoding or "utf-8"
    plan: dict[str, Any] = {"action": "write" if method == "files.write" else "edit", "path": shown,
                            "created": old_size is None, "size_before": old_size, "size_after": len(data),
                            "sha256_after": hashlib.sha256(data).hexdigest(),
                            "sha256_before": hashlib.sha256(old).hexdigest() if old is not None else None}
    before = _text(old, codec) if old is not None else ("" if old_size is None else None)
    after = _text(data, codec) if len(data) <= TEXT_MAX else None
    plan["diff"] = diff_of(before, after, path) if before is not None and after is not None else None
    if old_size is None:
        summary = f"would create the file {shown} ({_size_words(len(data))})"
    elif old is not None and old == data:
        summary = f"would rewrite the file {shown} with the same content ({_size_words(len(data))})"
    else:
        summary = f"would replace the content of {shown} ({_size_words(old_size)} → {_size_words(len(data))})"
    return Plan(plan, summary)


def write_plan(method: str, path: str, data: bytes, encoding: str | None,
               current: tuple[Callable[[int], bytes], int] | None) -> Plan:
    """files.write's plan: *current* is the file there (a reader of its first bytes, its size) or None."""
    if current is None:
        return replace_plan(method, path, data, None, None, encoding)
    read, size = current
    return replace_plan(method, path, data, read(size) if size <= TEXT_MAX else None, size, encoding)


def edit_plan(path: str, current: str, updated: str, size_before: int, data: bytes) -> Plan:
    """files.edit: *current* text would become *updated* (written as *data*)."""
    shown = clean(path)
    return Plan({"action": "edit", "path": shown, "created": False, "size_before": size_before,
                 "size_after": len(data), "sha256_after": hashlib.sha256(data).hexdigest(),
                 "diff": diff_of(current, updated, path)},
                f"would edit the file {shown} ({_size_words(size_before)} → {_size_words(len(data))})")


def move_plan(src: str, dst: str, kind: str, size: int | None, replaces: bool) -> Plan:
    plan = {"action": "move", "src": clean(src), "dst": clean(dst), "kind": kind, "size": size,
            "replaces": replaces}
    extra = " (the file there would be kept for undo)" if replaces else ""
    return Plan(plan, f"would move the {kind} {clean(src)} to {clean(dst)}{extra}")


def copy_plan(src: str, dst: str, kind: str, size: int | None, replaces: bool) -> Plan:
    plan = {"action": "copy", "src": clean(src), "dst": clean(dst), "kind": kind, "size": size,
            "replaces": replaces}
    extra = " (the file there would be kept for undo)" if replaces else ""
    return Plan(plan, f"would copy the {kind} {clean(src)} to {clean(dst)}{extra}")


def delete_plan(path: str, kind: str, size: int | None) -> Plan:
    return Plan({"action": "delete", "path": clean(path), "kind": kind, "size": size, "recoverable": True},
                f"would move the {kind} {clean(path)} to the agent's trash (undo brings it back)")


def mkdir_plan(path: str, created: list[str]) -> Plan:
    shown = [clean(p) for p in created]
    if not shown:
        return Plan({"action": "mkdir", "path": clean(path), "created": []},
                    f"would create nothing: the folder {clean(path)} already exists")
    return Plan({"action": "mkdir", "path": clean(path), "created": shown},
                f"would create the folder{'s' if len(shown) > 1 else ''} {', '.join(shown)}")


def upload_plan(path: str, size: int, replaces: bool, sha256: str | None) -> Plan:
    return Plan({"action": "upload", "path": clean(path), "size": size, "replaces": replaces, "sha256": sha256},
                f"would receive a file of {_size_words(size)} and save it as {clean(path)}"
                + (" (the file there would be kept for undo)" if replaces else ""))


def undo_plan(summary: str, steps: list[dict[str, Any]]) -> Plan:
    """files.undo: the last change (its *summary*) would be reversed, step by step."""
    return Plan({"action": "undo", "undoes": clean(summary),
                 "steps": [{k: clean(v) if isinstance(v, str) else v for k, v in step.items() if k != "item"}
                           for step in steps]},
                f"would undo their last change to your files ({clean(summary)})")

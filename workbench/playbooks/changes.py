"""Words for a playbook run's end: the changes it made (from the session's history) and how to undo them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.proxy import Session

#: Methods whose success changed the customer's machine (each undoable with files/registry undo).
CHANGING = frozenset({"files.write", "files.edit", "files.move", "files.copy", "files.delete", "files.mkdir",
                      "files.upload", "files.undo", "registry.set", "registry.delete_value",
                      "registry.delete_key", "registry.undo"})
#: Errors that mean the customer stopped the run: ended the session, a protected folder, control taken back.
STOPPED_BY_CUSTOMER = frozenset({"SessionEnded", "Forbidden", "CustomerPriority", "NotGranted", "ConnectionLost"})
UNDO_WORDS = ("each change is undoable: s.files.undo() / s.registry.undo() take back the newest one "
              "(from this session or a new one with the same customer)")


def changes_made(session: Session) -> list[str]:
    """The changes the session's calls made (planned changes of a dry run are not in it), in order."""
    made: list[str] = []
    for record in session.history:
        if record.method in CHANGING and record.outcome == "ok" and not record.preview:
            made.append(f"{record.method} {_where(record.params)}".rstrip())
    return made


def planned_changes(session: Session) -> list[str]:
    """The changes a dry run planned (``s.planned_changes``), one line each."""
    return [f"{change.method}: {change.summary}" for change in session.planned_changes]


def _where(params: dict[str, Any]) -> str:
    if "src" in params:
        return f"{params.get('src')} → {params.get('dst')}"
    if "path" in params:
        name = params.get("name")
        return f"{params['path']}" + (f" {name!r}" if name is not None else "")
    return ""


def stop_words(step: int, total: int, title: str, ename: str, evalue: str, made: list[str]) -> str:
    """What to say when a run stops at *step*: where, why, what it changed and how to undo it."""
    stopped = ename in STOPPED_BY_CUSTOMER
    how = "stopped by the customer" if stopped else "failed"
    lines = [f"playbook {how} at step {step} of {total} ({title}): {ename}: {evalue}"]
    if made:
        lines.append("changes made before it stopped:")
        lines += [f"  - {change}" for change in made]
        lines.append(UNDO_WORDS)
    else:
        lines.append("no change was made on the customer's machine")
    return "\n".join(lines)

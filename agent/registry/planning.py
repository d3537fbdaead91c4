"""The plans of the registry methods' dry runs: the key, the value's name, its data and type before and after.

Platform-free; nothing here reads or writes a store.  :mod:`agent.registry.service`
checks a dry run like the real call (the customer's rules, the value, the key,
a hive that cannot take a change) and answers one of these instead of changing anything.
"""

from __future__ import annotations

from typing import Any

from agent.preview.plan import Plan
from agent.registry.backend import Backend
from agent.registry.model import RegValue
from agent.registry.paths import KeyPath


def _shown(value: RegValue | None) -> str:
    if value is None:
        return "nothing"
    text = repr(value.data) if not isinstance(value.data, str) else f"“{value.data}”"
    return f"{text[:80]}{'…' if len(text) > 80 else ''} ({value.type})"


def _named(name: str | None) -> str:
    return "the default value" if name == "" else f"the value “{name}”"


def registry_plan(action: str, backend: Backend, where: dict[str, Any], key: KeyPath, name: str | None,
                  before: RegValue | None, after: RegValue | None, creates_key: str | None) -> Plan:
    """registry.set, delete_value or delete_key (*action*) of *name* in *key*: *before* would become *after*."""
    path = backend.display(key)
    plan: dict[str, Any] = {"action": action, "backend": backend.kind, **where, "path": path, "name": name,
                            "before": before.to_wire() if before is not None else None,
                            "after": after.to_wire() if after is not None else None, "creates_key": creates_key}
    hive_path = getattr(getattr(backend, "file", None), "path", None)
    if isinstance(hive_path, str):
        plan["hive_path"] = hive_path
    place = f"{path or '(the top)'}" + (f" of the registry file {hive_path}" if isinstance(hive_path, str) else "")
    if action == "set":
        summary = f"would set {_named(name)} in {place} from {_shown(before)} to {_shown(after)}"
        if creates_key is not None:
            summary += f", creating the key {creates_key}"
    elif action == "delete_value":
        summary = f"would delete {_named(name)} in {place} (now {_shown(before)})"
    else:
        summary = f"would delete the key {place} and everything in it"
    return Plan(plan, summary)


def undo_plan(record: dict[str, Any], path: str) -> Plan:
    """registry.undo: the last change (*record*, as the undo store keeps it) would be put back."""
    plan = {"action": "undo", "undoes": str(record.get("words", "")), "backend": record.get("backend"),
            "path": path, "name": record.get("name")}
    if "hive_path" in record:
        plan["hive_path"] = record["hive_path"]
    return Plan(plan, f"would undo their last registry change ({record.get('words', 'a change')})")

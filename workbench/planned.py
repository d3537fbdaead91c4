"""Dry runs on the technician's side: what a changing call would have done, as :class:`PlannedChange`.

A session in dry run (``connect(..., dry_run=True)`` or ``s.with_dry_run(True)``)
sends every call with ``"preview": true``.  The agent runs what changes
nothing as usual and answers each changing call with its plan
(``{"preview": true, "plan": …, "summary": …}``) instead of making it.  The
namespaces' changing methods (``s.files.write``, ``s.registry.set``, …) are
marked with :func:`plans`: in a dry run they return the :class:`PlannedChange`
instead of their usual result, and an upload stops at its open (no chunk is
sent).  ``s.planned_changes`` lists the plans made through that session view.
"""

from __future__ import annotations

import contextvars
import functools
import html
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from workbench.tables import text_cell

P = ParamSpec("P")
R = TypeVar("R")

#: Set while a :func:`plans` method runs: a planned answer then ends that method with its plan.
_planning: contextvars.ContextVar[bool] = contextvars.ContextVar("workbench_planning", default=False)


def is_plan(value: Any) -> bool:
    """Whether an agent's answer is a dry run's plan."""
    return isinstance(value, dict) and value.get("preview") is True and isinstance(value.get("plan"), dict)


@dataclass(frozen=True)
class PlannedChange:
    """A change the agent planned in a dry run and did not make: the method, its arguments, the plan.

    ``plan`` holds the facts (``diff`` for a text, ``path``/``src``/``dst`` and sizes for
    files, ``before``/``after`` values for the registry); ``summary`` is one sentence.
    """

    method: str
    params: dict[str, Any]
    plan: dict[str, Any]
    summary: str
    time: str = ""

    @classmethod
    def from_wire(cls, method: str, params: dict[str, Any], value: dict[str, Any], time: str = "") -> PlannedChange:
        return cls(method, dict(params), dict(value.get("plan") or {}), str(value.get("summary", "")), time)

    @property
    def diff(self) -> str | None:
        diff = self.plan.get("diff")
        return diff if isinstance(diff, str) else None

    @property
    def paths(self) -> list[str]:
        """The paths (or registry keys) the change would touch."""
        found = [str(self.plan[k]) for k in ("path", "src", "dst", "hive_path") if self.plan.get(k)]
        found.extend(str(p) for p in self.plan.get("created") or [] if isinstance(self.plan.get("created"), list))
        return list(dict.fromkeys(found))

    def _values(self) -> str:
        def shown(value: Any) -> str:
            if not isinstance(value, dict):
                return "nothing"
            return f"{json.dumps(value.get('data'), ensure_ascii=False)[:120]} ({value.get('type')})"

        if "before" in self.plan or "after" in self.plan:
            return f"{shown(self.plan.get('before'))} → {shown(self.plan.get('after'))}"
        return ""

    def __repr__(self) -> str:
        lines = [f"<PlannedChange {self.method}: {self.summary}>"]
        if self._values():
            lines.append(f"  {self.plan.get('name')!r}: {self._values()}")
        if self.diff:
            lines.append(self.diff.rstrip("\n"))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = [f"<p><b>planned, not made</b> — <code>{html.escape(self.method)}</code>: "
                 f"{html.escape(self.summary)}</p>"]
        if self._values():
            parts.append(f"<p><code>{html.escape(str(self.plan.get('name')))}</code>: "
                         f"{html.escape(self._values())}</p>")
        if self.diff:
            parts.append(f"<pre><code>{html.escape(self.diff)}</code></pre>")
        return "".join(parts)


@dataclass
class PlannedChanges:
    """The plans made through one session view, in order (a table in a notebook)."""

    items: list[PlannedChange] = field(default_factory=list)

    def append(self, change: PlannedChange) -> None:
        self.items.append(change)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[PlannedChange]:
        return iter(list(self.items))

    def __getitem__(self, index: int) -> PlannedChange:
        return self.items[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PlannedChanges):
            return self.items == other.items
        return isinstance(other, list) and self.items == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if not self.items:
            return "(no planned changes)"
        return "\n".join(f"{i + 1}. {c.method}: {c.summary}" for i, c in enumerate(self.items))

    def _repr_html_(self) -> str:
        head = "".join(text_cell(name, "th") for name in ("#", "method", "what it would do", "diff"))
        rows = []
        for i, change in enumerate(self.items):
            diff = f"<pre><code>{html.escape(change.diff)}</code></pre>" if change.diff else ""
            rows.append(f"<tr>{text_cell(str(i + 1))}{text_cell(f'<code>{html.escape(change.method)}</code>')}"
                        f"{text_cell(html.escape(change.summary))}{text_cell(diff)}</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


class PlannedCall(Exception):
    """Ends a :func:`plans` method early with the agent's plan (never seen outside one)."""

    def __init__(self, change: PlannedChange) -> None:
        super().__init__(change.summary)
        self.change = change


def planning_now() -> bool:
    """Whether a :func:`plans` method is running in this context (its planned call should end it)."""
    return _planning.get()


@contextmanager
def _planning_on() -> Iterator[None]:
    token = _planning.set(True)
    try:
        yield
    finally:
        _planning.reset(token)


def plans(method: Callable[P, R]) -> Callable[P, R | PlannedChange]:
    """Mark a namespace method that changes the customer's machine: in a dry run it returns the plan."""

    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> R | PlannedChange:
        with _planning_on():
            try:
                return method(*args, **kwargs)
            except PlannedCall as planned:
                return planned.change

    return run

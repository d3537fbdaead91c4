"""What a dry run answers, and which methods it may run, plan or must refuse.  Imports nothing of the agent.

A ``request`` with ``"preview": true`` (see :func:`wire.protocol.request`) is a dry run:

* a method that changes nothing (``unchanging``) runs as usual;
* a method with a planner runs its planner: the planner checks everything the
  real call would check, raising the same errors, and returns a :class:`Plan`
  instead of changing anything;
* any other method is refused with :class:`~wire.errors.PreviewUnsupported`
  and never runs (control input, and a changing method nobody wrote a planner for).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

#: How the dispatcher treats one method in a dry run.
Mode = Literal["run", "plan", "refuse"]


@dataclass(frozen=True)
class Plan:
    """What a changing call would do, without doing it: facts for the technician and one plain sentence.

    ``plan`` holds the facts (paths, sizes, the unified diff, the registry values
    before and after); ``summary`` is one sentence a person reads.
    """

    plan: dict[str, Any]
    summary: str

    def to_wire(self) -> dict[str, Any]:
        """The response's ``result``: ``{"preview": true, "plan": …, "summary": …}``."""
        return {"preview": True, "plan": self.plan, "summary": self.summary}


@dataclass(frozen=True)
class Previews:
    """Which methods a dry run runs (``unchanging``) and which it plans (``planners``, by method name)."""

    unchanging: frozenset[str] = frozenset()
    planners: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)

    def mode(self, method: str) -> Mode:
        if method in self.planners:
            return "plan"
        if method in self.unchanging:
            return "run"
        return "refuse"

"""Dry runs in the agent: a ``request`` with ``"preview": true`` changes nothing on the customer's machine.

:class:`~agent.preview.plan.Previews` (built by :func:`previews`) tells the
dispatcher, by method name, what a dry run does with each method:

* ``UNCHANGING`` — reads, listings, hashes, inventory, screenshots, registry
  reads, hive handles, annotations and the session's own methods run as usual;
* ``planners()`` — every method that changes the customer's machine has a
  planner: it checks what the real call would check (the same errors: the
  customer's forbidden folders by identity, not-found, text not found, bad
  parameters) and answers a :class:`~agent.preview.plan.Plan` — the diff, the
  paths and sizes, the registry values before and after — leaving no file, no
  value and no undo entry behind;
* anything else (control input, a changing method without a planner) is refused
  with :class:`~wire.errors.PreviewUnsupported`, never run.

The customer reads each planned call as "Preview — nothing was changed: the
technician would …" (:func:`agent.preview.words.preview_words`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.preview.plan import Mode, Plan, Previews
from agent.preview.words import preview_words

#: Methods that change nothing on the customer's machine: a dry run runs them as usual.
UNCHANGING: frozenset[str] = frozenset({
    "session.ping", "session.describe", "session.playbook",
    "inventory.collect",
    "files.list", "files.stat", "files.read",
    "files.download_open", "files.download_chunk", "files.download_close",
    "registry.keys", "registry.values", "registry.walk", "registry.get", "registry.export",
    "registry.open_hive", "registry.close_hive", "registry.hives",
    "screen.screenshot", "screen.monitors",
    "annotate.add", "annotate.remove", "annotate.clear", "annotate.list",
})


def planners() -> dict[str, Callable[[Any], Any]]:
    """The planner of every changing method, by name (imports the file and registry handlers)."""
    from agent.preview.files import FILE_PLANNERS
    from agent.preview.registry import REGISTRY_PLANNERS

    return {**FILE_PLANNERS, **REGISTRY_PLANNERS}


def previews() -> Previews:
    """What the agent's dispatcher does with each method in a dry run."""
    return Previews(UNCHANGING, planners())


__all__ = ["UNCHANGING", "Mode", "Plan", "Previews", "planners", "preview_words", "previews"]

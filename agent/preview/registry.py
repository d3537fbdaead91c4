"""The planners of the registry methods that change a store (the live registry, dconf, ``defaults``, a hive file).

The service's handlers check a dry run like the real call — the customer's
protected keys, the value and its type, the key, and for a hive file the
change itself, worked out in memory (:meth:`agent.registry.hive.HiveBackend.rehearse`)
— then answer a plan (:mod:`agent.registry.planning`): no backup is kept and no undo slot is taken.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.registry import METHODS

#: The changing registry methods whose handler plans when the call is a dry run.
PLANNED: frozenset[str] = frozenset({"registry.set", "registry.delete_value", "registry.delete_key",
                                     "registry.undo"})

REGISTRY_PLANNERS: dict[str, Callable[[Any], Any]] = {m.name: m.handler for m in METHODS if m.name in PLANNED}

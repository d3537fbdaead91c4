"""What the window's hiding pickers list, handed over by the agent core (no Tk, no screen import).

Kept apart from :mod:`agent.panel.hiding` (which needs Tk) so that the core can build it on
a Python without tkinter, where the console panel has no pickers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HidingSources:
    """What the pickers list; both block (a display connection) and may raise (shown as words)."""

    #: the visible windows: ``{"title", "x", "y", "w", "h"}`` each
    windows: Callable[[], list[dict[str, Any]]]
    #: the monitors: ``{"index", "x", "y", "width", "height", "primary"}`` each (0-based index)
    monitors: Callable[[], list[dict[str, Any]]]

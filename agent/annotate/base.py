"""What every overlay backend shares: the :class:`Overlay` protocol, its error, and the null overlay.

Kept apart from :mod:`agent.annotate.overlay` (which chooses the backend) so that a
backend imports it without importing the module that imports the backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agent.annotate.model import Mark


class OverlayError(OSError):
    """The overlay cannot show marks (display gone, unsupported screen format)."""


class Overlay(Protocol):
    """Shows marks over the customer's screen, click-through.  Methods block; one caller at a time."""

    #: The backend's name, for the technician ("x11", "windows", "none", …).
    name: str

    def show(self, marks: Sequence[Mark]) -> None:
        """Make the screen show exactly *marks* (oldest first), on top; raises :class:`OverlayError`."""
        ...

    def close(self) -> None:
        """Remove every mark and the overlay itself; safe to call twice."""
        ...


class NullOverlay:
    """Shows nothing: where no overlay can be drawn."""

    name = "none"

    def __init__(self, reason: str = "") -> None:
        self.reason = reason
        self.marks: list[Mark] = []

    def show(self, marks: Sequence[Mark]) -> None:
        self.marks = list(marks)

    def close(self) -> None:
        self.marks = []

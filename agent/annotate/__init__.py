"""Drawing on the customer's screen (T5), seen by the customer on screen and in words (C2).

Public names:

- :class:`AnnotationService`: takes ``annotate.*`` events from viewers and the
  ``annotate.add/remove/clear/list`` methods (:attr:`AnnotationService.METHODS`, permission
  ``annotate``), journals and tells every mark, draws the marks in the overlay, and sends
  ``screen.marks`` to viewers.  Its :meth:`~AnnotationService.stop` removes every mark.
- :class:`Mark`, :func:`parse_mark`, :class:`MarkSet`: the validated marks (pure).
- :class:`Overlay`, :func:`open_overlay`, :class:`NullOverlay`: where marks appear on the
  customer's screen (X11 and Windows; macOS notes in :mod:`agent.annotate.overlay`).

Contract: ``docs/control-protocol.md``.  The overlay is a window like any other for the screen
capture, so the technician sees each mark in the live stream, once.
"""

from agent.annotate.base import NullOverlay, Overlay, OverlayError
from agent.annotate.model import Mark, MarkSet, describe_mark, parse_mark
from agent.annotate.overlay import open_overlay
from agent.annotate.service import AnnotationService

__all__ = ["AnnotationService", "Mark", "MarkSet", "NullOverlay", "Overlay", "OverlayError", "describe_mark",
           "open_overlay", "parse_mark"]

"""What the technician asks the agent to inject, independent of the platform.

The service turns viewer events and notebook calls into these; a backend
(an :class:`agent.control.backend.InputBackend`) performs them.  An action has
:func:`steps`: typed text one step per character, everything else one atomic
step (a click's press and release are never split by a pause for the customer).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.control.keys import Combo, Key


@dataclass(frozen=True)
class Move:
    x: int
    y: int


@dataclass(frozen=True)
class Click:
    x: int
    y: int
    button: int = 1
    count: int = 1


@dataclass(frozen=True)
class Button:
    """Press or release one button (the widget's down / up), after moving to (x, y)."""

    button: int
    down: bool
    x: int
    y: int


@dataclass(frozen=True)
class Drag:
    start: tuple[int, int]
    end: tuple[int, int]
    button: int = 1


@dataclass(frozen=True)
class Scroll:
    """Wheel notches at (x, y): ``dy`` > 0 scrolls down, ``dx`` > 0 scrolls right."""

    x: int
    y: int
    dx: int = 0
    dy: int = 0


@dataclass(frozen=True)
class TypeText:
    text: str


@dataclass(frozen=True)
class PressCombo:
    combo: Combo


@dataclass(frozen=True)
class KeyDown:
    """Hold a key down (the widget's keydown), with *modifiers* held for it if not held already."""

    key: Key
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyUp:
    key: Key


Action = Move | Click | Button | Drag | Scroll | TypeText | PressCombo | KeyDown | KeyUp


def steps(action: Action) -> int:
    """How many steps *action* has (the unit of pausing for the customer)."""
    if isinstance(action, TypeText):
        return len(action.text)
    return 1


def is_pointer(action: Action) -> bool:
    return isinstance(action, (Move, Click, Button, Drag, Scroll))

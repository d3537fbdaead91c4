"""Grouping the technician's live input into bursts: one journal record and one plain
sentence per burst, not one per mouse motion or key.

A burst is what the technician did with one device family, pointer or keyboard,
within :attr:`BurstRecorder.window_s` (1 s) of its first event.  It ends when
the window is over, when the other family is used (so the journal keeps the
order: "clicked at (412, 230)", then "typed 12 characters"), or when the caller
flushes (control taken back, the customer took priority, the agent stops).

Typed text is kept in the journal record (the journal is the evidence of what
the technician did; the dispatcher journals ``control.type`` text the same way)
but the sentence for the customer says only how many characters: the customer
window is on the customer's screen, which is streamed and recorded, and the
text may be a password typed into a masked field.

Pure logic with an injected clock; the caller serialises access (one lock).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from agent.panel.catalogue import Param, Said, plural_key, say

Category = Literal["pointer", "keyboard"]

BUTTON_WORDS = {1: "", 2: "middle-", 3: "right-"}
BUTTON_NAMES = {1: "left", 2: "middle", 3: "right"}


def _at(x: int, y: int) -> str:
    return f"({x}, {y})"


def click_words(button: int, count: int, x: int, y: int) -> Said:
    """``clicked at (x, y)``, ``double-clicked at…``, ``right-clicked at…`` (a part of ``control.did``)."""
    name = BUTTON_NAMES.get(button)
    which = say(f"control.button.{name}") if name else say("control.button.other", number=button)
    if count <= 1:
        return say("control.part.click", button=which, at=_at(x, y))
    if count == 2:
        return say("control.part.double_click", button=which, at=_at(x, y))
    return say("control.part.clicks", button=which, count=count, at=_at(x, y))


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def typed_words(count: int) -> Said:
    """``typed 12 characters`` (a part of ``control.did``)."""
    return say(plural_key("control.part.typed", count), count=count)


def did(*parts: Said) -> Said:
    """``The technician`` and what they did: ``clicked at (1, 2) and typed 3 characters``."""
    return say("control.did", actions=parts)


@dataclass
class Burst:
    """What the technician did in one burst."""

    category: Category
    started: float
    ended: float
    viewers: set[str] = field(default_factory=set)
    moves: int = 0
    position: tuple[int, int] | None = None
    #: pointer actions in order, as plain phrases and as data
    actions: list[Said] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    scrolls: int = 0
    text: str = ""
    keys: list[str] = field(default_factory=list)
    dropped: int = 0
    _pressed: dict[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.moves or self.actions or self.scrolls or self.text or self.keys or self.dropped)

    @property
    def acted(self) -> bool:
        """True when something reached the customer's computer (not only held-back input)."""
        return bool(self.moves or self.actions or self.scrolls or self.text or self.keys)

    def words(self) -> str | None:
        """The sentence for the customer, or None when nothing was injected."""
        if not self.acted:
            return None
        parts: list[Said] = []
        if self.category == "pointer":
            if self.moves and not self.actions and not self.scrolls and self.position is not None:
                parts.append(say("control.part.moved_to", at=_at(*self.position)))
            elif self.moves:
                parts.append(say("control.part.moved"))
            parts.extend(self.actions)
            if self.scrolls and self.position is not None:
                parts.append(say("control.part.scrolled_at", at=_at(*self.position)))
        else:
            if self.text:
                parts.append(typed_words(len(self.text)))
            if self.keys:
                parts.append(say("control.part.pressed", keys=tuple(self.keys)))
        return did(*parts)

    def record(self) -> dict[str, Any]:
        """The fields of the journal record (``kind="control"``)."""
        record: dict[str, Any] = {"source": "widget", "category": self.category, "viewers": sorted(self.viewers),
                                  "duration_ms": round((self.ended - self.started) * 1000)}
        if self.category == "pointer":
            record.update(moves=self.moves, actions=self.events, scrolls=self.scrolls)
            if self.position is not None:
                record["position"] = list(self.position)
        else:
            record.update(typed=len(self.text), text=self.text, keys=self.keys)
        if self.dropped:
            record["held_back"] = self.dropped
        words = self.words()
        if words is None:
            words = (f"{plural(self.dropped, 'input')} from the technician held back while the customer "
                     "used their computer")
        record["words"] = words
        return record


class BurstRecorder:
    """Accumulates the technician's live input into :class:`Burst` objects.

    Each method returns the bursts that ended because of it (write them out, in
    order); :meth:`due` returns the burst whose window is over.
    """

    def __init__(self, window_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._current: Burst | None = None

    def next_due(self) -> float | None:
        """When the open burst's window ends (this clock), None when no burst is open."""
        return None if self._current is None else self._current.started + self.window_s

    def due(self) -> list[Burst]:
        if self._current is not None and self._clock() >= self._current.started + self.window_s:
            return self.flush()
        return []

    def flush(self) -> list[Burst]:
        burst, self._current = self._current, None
        return [] if burst is None or burst.empty else [burst]

    def _burst(self, category: Category, viewer: str | None) -> tuple[Burst, list[Burst]]:
        now = self._clock()
        ended: list[Burst] = []
        current = self._current
        if current is not None and (current.category != category or now >= current.started + self.window_s):
            ended = self.flush()
            current = None
        if current is None:
            current = self._current = Burst(category, now, now)
        current.ended = now
        if viewer:
            current.viewers.add(viewer)
        return current, ended

    # pointer

    def move(self, viewer: str | None, x: int, y: int) -> list[Burst]:
        burst, ended = self._burst("pointer", viewer)
        burst.moves += 1
        burst.position = (x, y)
        return ended

    def click(self, viewer: str | None, button: int, count: int, x: int, y: int) -> list[Burst]:
        burst, ended = self._burst("pointer", viewer)
        burst.position = (x, y)
        burst.actions.append(click_words(button, count, x, y))
        burst.events.append({"click": button, "count": count, "at": [x, y]})
        return ended

    def button(self, viewer: str | None, button: int, down: bool, x: int, y: int) -> list[Burst]:
        burst, ended = self._burst("pointer", viewer)
        burst.position = (x, y)
        burst.events.append({"down" if down else "up": button, "at": [x, y]})
        known = BUTTON_NAMES.get(button)
        name: Param = say(f"control.button_name.{known}") if known else str(button)
        if down:
            burst._pressed[button] = (x, y)
            burst.actions.append(say("control.part.pressed_button", name=name, at=_at(x, y)))
        else:
            start = burst._pressed.pop(button, None)
            pressed = say("control.part.pressed_button", name=name, at=_at(*start)) if start is not None else None
            if start is not None and pressed in burst.actions:
                burst.actions.remove(pressed)
                if start == (x, y):
                    burst.actions.append(click_words(button, 1, x, y))
                else:
                    burst.actions.append(say("control.part.dragged", start=_at(*start), end=_at(x, y)))
            else:
                burst.actions.append(say("control.part.released_button", name=name, at=_at(x, y)))
        return ended

    def scroll(self, viewer: str | None, x: int, y: int, dx: int, dy: int) -> list[Burst]:
        burst, ended = self._burst("pointer", viewer)
        burst.position = (x, y)
        burst.scrolls += abs(dx) + abs(dy)
        burst.events.append({"scroll": [dx, dy], "at": [x, y]})
        return ended

    # keyboard

    def text(self, viewer: str | None, text: str) -> list[Burst]:
        burst, ended = self._burst("keyboard", viewer)
        burst.text += text
        return ended

    def key(self, viewer: str | None, label: str) -> list[Burst]:
        burst, ended = self._burst("keyboard", viewer)
        burst.keys.append(label)
        return ended

    # held back

    def dropped(self, viewer: str | None, category: Category, count: int = 1) -> list[Burst]:
        """*count* inputs (a text counts its characters) held back while the customer had priority."""
        burst, ended = self._burst(category, viewer)
        burst.dropped += count
        return ended

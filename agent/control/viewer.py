"""Viewer events (``control.pointer``, ``control.key``, ``control.text``) turned into actions.

The widget sends raw DOM-like events; :func:`viewer_action` checks them and
returns the :mod:`agent.control.actions` action to inject, with how to note it
in the journal's bursts.  Key events that type a character become text, so
the customer's layout decides which key gives it; the rest are combinations
or holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.control import actions as act
from agent.control import params as check
from agent.control.bursts import Burst, BurstRecorder
from agent.control.keys import Combo, KeyNameError, char_keysym, normalise_modifiers, refusal, resolve_dom_key
from wire.errors import BadParams

#: Most characters in one viewer ``control.text`` event.
MAX_VIEWER_TEXT = 1000
#: Most wheel notches in one viewer event.
MAX_VIEWER_NOTCHES = 10

#: An action, and how to note it in the bursts for a viewer (returns the bursts it ended).
ViewerAction = tuple[act.Action, Callable[[str | None], list[Burst]]]


def viewer_action(name: str, body: dict[str, Any], bursts: BurstRecorder) -> ViewerAction | None:
    """The action a viewer event asks for, and how to note it in *bursts*; None to ignore it.

    Raises :class:`BadParams` (a malformed or refused event) and :class:`KeyNameError`
    (a key with no keysym); the caller drops the event.
    """
    if name == "control.pointer":
        kind = body.get("action")
        x, y = check.coordinate(body, "x"), check.coordinate(body, "y")
        if kind == "move":
            return act.Move(x, y), lambda v: bursts.move(v, x, y)
        if kind in ("down", "up"):
            button = check.button(body)
            down = kind == "down"
            return act.Button(button, down, x, y), lambda v: bursts.button(v, button, down, x, y)
        if kind in ("click", "double"):
            button, count = check.button(body), 2 if kind == "double" else 1
            return act.Click(x, y, button, count), lambda v: bursts.click(v, button, count, x, y)
        if kind == "wheel":
            dx = check.notches(body.get("dx", 0), MAX_VIEWER_NOTCHES)
            dy = check.notches(body.get("dy", 0), MAX_VIEWER_NOTCHES)
            if not dx and not dy:
                return None
            return act.Scroll(x, y, dx, dy), lambda v: bursts.scroll(v, x, y, dx, dy)
        raise BadParams(f"unknown pointer action {kind!r}")
    if name == "control.text":
        text = "".join(c for c in str(body.get("text", ""))[:MAX_VIEWER_TEXT].replace("\r\n", "\n")
                       if typeable(c))
        if not text:
            return None
        return act.TypeText(text), lambda v: bursts.text(v, text)
    if name == "control.key":
        kind = body.get("action", "press")
        key = resolve_dom_key(body.get("key"), body.get("code"))
        raw = body.get("modifiers", [])
        modifiers = normalise_modifiers(raw if isinstance(raw, list) else [])
        if key.modifier is not None:
            modifiers = tuple(m for m in modifiers if m != key.modifier)
        typed = typed_as_text(key.char, modifiers)
        if kind in ("press", "down") and typed is not None and key.modifier is None:
            return act.TypeText(typed), lambda v: bursts.text(v, typed)
        why = refusal(modifiers, key.keysym)
        if why and kind != "up":
            raise BadParams(f"not injected: {why}")
        combo = Combo(modifiers, key)
        if kind == "press":
            return act.PressCombo(combo), lambda v: bursts.key(v, combo.label)
        if kind == "down":
            if key.modifier is not None:
                return act.KeyDown(key), lambda v: []
            return act.KeyDown(key, modifiers), lambda v: bursts.key(v, combo.label)
        if kind == "up":
            return act.KeyUp(key), lambda v: []
        raise BadParams(f"unknown key action {kind!r}")
    return None


_TEXT_MODIFIERS = frozenset({"ctrl", "alt", "meta"})


def typed_as_text(char: str | None, modifiers: tuple[str, ...]) -> str | None:
    """The character a key event types as text, or None when it is a shortcut.

    AltGr characters arrive with "altgr" (or, from Windows browsers, with Ctrl+Alt
    both set): they are text too.
    """
    if char is None or (char == " " and set(modifiers) & _TEXT_MODIFIERS):
        return None
    held = set(modifiers) - {"shift", "altgr"}
    if not held:
        return char
    if held == {"ctrl", "alt"} and not (char.isascii() and char.isalnum()):
        return char
    return None


def typeable(char: str) -> bool:
    """True when *char* has a keysym (so it can be typed)."""
    try:
        char_keysym(char)
    except KeyNameError:
        return False
    return True

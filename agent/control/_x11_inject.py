"""XTEST injection on X11: the control backend's :class:`~agent.control.backend.InputBackend`.

:class:`X11Injector` (the service's injection thread) sends XTEST fake input.
Before sending an event it writes it in the
:class:`~agent.control.ledger.InjectionLedger`.  Characters are typed by
keysym: the key that gives the character in the current layout and group
(with Shift when needed), else a spare key code (one with no keysym)
temporarily bound to it with ChangeKeyboardMapping.  A binding stays until
it has been unused for :data:`RESTORE_AFTER_S` (the application must have
read its key event by then: a client translates a key with the mapping of
the moment it reads the event, so undoing at once would turn "é" into
nothing), and is undone when control stops.

Availability: X11 with the XTEST and XKEYBOARD extensions, and python-xlib;
imported only through :mod:`agent.control._x11`.  Raises :class:`OSError`
from the constructor otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from Xlib.ext import xtest

from agent.control._x11_keymap import LOCK_MASK, XKB_USE_CORE_KBD, Keymap, open_connection, xkb_requests
from agent.control.actions import (
    Action,
    Button,
    Click,
    Drag,
    KeyDown,
    KeyUp,
    Move,
    PressCombo,
    Scroll,
    TypeText,
    steps,
)
from agent.control.keys import KEYSYMS, MODIFIER_KEYSYMS, Key, char_keysym, modifier_of, refusal
from agent.control.ledger import (
    BUTTON_PRESS,
    BUTTON_RELEASE,
    KEY_PRESS,
    KEY_RELEASE,
    MOTION,
    DeviceEvent,
    InjectionLedger,
)
from wire.errors import BadParams, Unavailable

log = logging.getLogger(__name__)

#: A temporary key binding is undone once unused for this long.
RESTORE_AFTER_S = 5.0
#: A spare key code is rebound to another character only when its last use is at least this old.
MIN_REUSE_S = 0.5
#: After changing the key mapping, the agent waits this long before pressing the new key: every
#: application re-reads its mapping when told of the change, and a busy one that reads the key
#: event first would see no character (xdotool waits likewise).  Only the first use of a
#: character outside the layout pays it; a text's characters are bound together, with one wait.
BIND_SETTLE_S = 0.05
#: Intermediate pointer positions in a drag (applications see a motion, not a jump).
DRAG_STEPS = 8
#: Most wheel notches in one action.
MAX_NOTCHES = 50


class X11Injector:
    """XTEST injection on one connection; see the module docstring.  One thread only."""

    def __init__(self, display: str | None, ledger: InjectionLedger,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._d = open_connection(display, "XTEST", "XKEYBOARD")
        self._ledger = ledger
        self._clock = clock
        self._d.set_error_handler(self._on_error)
        self._root = self._d.screen().root
        use, self._get_state = xkb_requests()
        self._xkb = self._d.query_extension("XKEYBOARD").major_opcode
        reply = use(display=self._d.display, opcode=self._xkb, wanted_major=1, wanted_minor=0)
        if not reply.supported:
            self._d.close()
            raise OSError("the X server's XKEYBOARD extension is not usable")
        self._keymap = Keymap.read(self._d)
        #: keysym -> (keycode pressed, key codes of the modifiers pressed for it)
        self._held_keys: dict[int, tuple[int, tuple[int, ...]]] = {}
        self._held_buttons: set[int] = set()
        #: temporary bindings: keysym -> keycode, and when each keycode was last used
        self._bound: dict[int, int] = {}
        self._used: dict[int, float] = {}

    def _on_error(self, error: Any, request: Any = None) -> None:
        log.warning("X error while injecting: %s", error)

    # -- the protocol of InputBackend ------------------------------------------------

    def perform(self, action: Action, start: int, may_inject: Callable[[], bool]) -> int:
        try:
            if isinstance(action, TypeText):
                return self._type(action.text, start, may_inject)
            if not may_inject():
                return start
            if isinstance(action, Move):
                self._move(action.x, action.y)
            elif isinstance(action, Click):
                self._move(action.x, action.y)
                for _ in range(max(1, action.count)):
                    self._button(action.button, True)
                    self._button(action.button, False)
            elif isinstance(action, Button):
                self._move(action.x, action.y)
                if action.down or action.button in self._held_buttons:
                    self._button(action.button, action.down)
            elif isinstance(action, Drag):
                self._drag(action)
            elif isinstance(action, Scroll):
                self._scroll(action)
            elif isinstance(action, PressCombo):
                self._combo(action.combo.modifiers, action.combo.key)
            elif isinstance(action, KeyDown):
                self._key_down(action.key, action.modifiers)
            elif isinstance(action, KeyUp):
                self._key_up(action.key)
            return steps(action)
        finally:
            self._d.flush()

    def held(self) -> bool:
        return bool(self._held_keys or self._held_buttons)

    def release_all(self) -> None:
        for keysym in reversed(list(self._held_keys)):
            self._release_held(keysym)
        for button in sorted(self._held_buttons):
            self._button(button, False)
        self._d.flush()

    def maintain(self) -> None:
        now = self._clock()
        held = {keycode for keycode, _ in self._held_keys.values()}
        stale = [keysym for keysym, keycode in self._bound.items()
                 if now - self._used.get(keycode, 0.0) >= RESTORE_AFTER_S and keycode not in held]
        for keysym in stale:
            self._unbind(keysym)
        if stale:
            self._d.flush()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.release_all()
        with contextlib.suppress(Exception):
            for keysym in list(self._bound):
                self._unbind(keysym)
            self._d.sync()
        with contextlib.suppress(Exception):
            self._d.close()

    # -- pointer -----------------------------------------------------------------------

    def screen_size(self) -> tuple[int, int]:
        geometry = self._root.get_geometry()
        return int(geometry.width), int(geometry.height)

    def _clamp(self, x: int, y: int) -> tuple[int, int]:
        width, height = self.screen_size()
        return min(max(int(x), 0), width - 1), min(max(int(y), 0), height - 1)

    def _fake(self, kind: int, detail: int = 0, x: int = 0, y: int = 0) -> None:
        self._ledger.expect(DeviceEvent(kind, detail, x, y))
        xtest.fake_input(self._d, kind, detail, x=x, y=y)

    def _move(self, x: int, y: int) -> None:
        x, y = self._clamp(x, y)
        self._fake(MOTION, 0, x, y)

    def _button(self, button: int, down: bool) -> None:
        if down:
            self._held_buttons.add(button)
        elif button in self._held_buttons:
            self._held_buttons.discard(button)
        else:
            return  # the server drops the release of a button that is not down
        self._fake(BUTTON_PRESS if down else BUTTON_RELEASE, button)

    def _drag(self, action: Drag) -> None:
        (x0, y0), (x1, y1) = self._clamp(*action.start), self._clamp(*action.end)
        self._move(x0, y0)
        self._button(action.button, True)
        for n in range(1, DRAG_STEPS + 1):
            self._move(x0 + (x1 - x0) * n // DRAG_STEPS, y0 + (y1 - y0) * n // DRAG_STEPS)
        self._button(action.button, False)

    def _scroll(self, action: Scroll) -> None:
        self._move(action.x, action.y)
        for delta, negative, positive in ((action.dy, 4, 5), (action.dx, 6, 7)):
            button = positive if delta > 0 else negative
            for _ in range(min(abs(delta), MAX_NOTCHES)):
                self._button(button, True)
                self._button(button, False)

    # -- keyboard ----------------------------------------------------------------------

    def _state(self) -> Any:
        return self._get_state(display=self._d.display, opcode=self._xkb, device_spec=XKB_USE_CORE_KBD)

    def _key(self, keycode: int, down: bool) -> None:
        self._fake(KEY_PRESS if down else KEY_RELEASE, keycode)

    def _refresh(self) -> int:
        """Read the mapping and the keyboard state afresh; return the active group (0 = first)."""
        self._keymap = Keymap.read(self._d)
        return int(self._state().group)

    def _modifier_keycode(self, name: str) -> int:
        keysym = MODIFIER_KEYSYMS[name]
        found = self._keymap.find(keysym, (0, 1, 2, 3))
        if found is None and name == "alt":
            found = self._keymap.find(KEYSYMS["Meta_L"], (0, 1))
        if found is None and name == "altgr":
            found = self._keymap.find(KEYSYMS["Mode_switch"], (0, 1))
        if found is None:
            index = {"shift": 0, "ctrl": 2}.get(name)
            if index is not None:
                codes = [code for code in self._d.get_modifier_mapping()[index] if code]
                if codes:
                    return int(codes[0])
            raise Unavailable(f"this keyboard layout has no {name} key")
        return found[0]

    def _keycode_for(self, keysym: int, group: int, char: bool) -> tuple[int, bool]:
        """(keycode, needs Shift) for *keysym*: the layout's key, else a temporary binding.

        A character is taken from the layout only in the first group (other
        groups are laid out differently per key); a temporary binding has one
        group, which every group falls back to.
        """
        bound = self._bound.get(keysym)
        if bound is not None:
            self._used[bound] = self._clock()
            return bound, False
        if group == 0 or not char:
            found = self._keymap.find(keysym, (0, 1))
            if found is not None:
                return found[0], found[1] == 1
        return self._bind(keysym), False

    def _bind(self, keysym: int, *, settle: bool = True) -> int:
        """Bind a spare key code to *keysym* (evicting the least recently used binding when
        none is free); with *settle*, wait :data:`BIND_SETTLE_S` for the applications."""
        held = {keycode for keycode, _ in self._held_keys.values()}
        taken = set(self._bound.values())
        free = [code for code in self._keymap.empty if code not in taken and code not in held]
        if free:
            keycode = free[-1]
        else:
            candidates = [(self._used.get(code, 0.0), ks) for ks, code in self._bound.items() if code not in held]
            if not candidates:
                raise Unavailable("no free key code to type this character")
            last_used, oldest = min(candidates)
            wait = last_used + MIN_REUSE_S - self._clock()
            if wait > 0:  # pacing: the application may still be reading the previous character
                time.sleep(wait)
            keycode = self._bound.pop(oldest)
        self._d.change_keyboard_mapping(keycode, [(keysym, keysym)])
        self._bound[keysym] = keycode
        self._used[keycode] = self._clock()
        self._keymap = Keymap.read(self._d)  # a round trip: the server has the new mapping
        if settle:
            time.sleep(BIND_SETTLE_S)
        return keycode

    def _bind_ahead(self, keysyms: Iterable[int], group: int) -> None:
        """Bind the characters of a text that need a spare key code, while free ones last, then wait once."""
        bound = False
        for keysym in dict.fromkeys(keysyms):
            if keysym in self._bound or (group == 0 and self._keymap.find(keysym, (0, 1)) is not None):
                continue
            taken = set(self._bound.values())
            if not any(code not in taken for code in self._keymap.empty):
                break  # the rest are bound one by one, evicting older bindings
            self._bind(keysym, settle=False)
            bound = True
        if bound:
            time.sleep(BIND_SETTLE_S)

    def _unbind(self, keysym: int) -> None:
        keycode = self._bound.pop(keysym, None)
        if keycode is None:
            return
        self._used.pop(keycode, None)
        self._d.change_keyboard_mapping(keycode, [(0, 0)])

    def _held_modifier_codes(self) -> list[int]:
        return [code for keysym, (code, _) in self._held_keys.items() if _is_modifier(keysym)]

    def _type(self, text: str, start: int, may_inject: Callable[[], bool]) -> int:
        """Type *text* from *start*; the technician's held modifiers are lifted meanwhile,
        and Caps Lock, when on, is turned off for the text and on again after it."""
        if start >= len(text):
            return len(text)
        group = self._refresh()
        caps = None
        if self._state().locked_mods & LOCK_MASK and any(c.lower() != c.upper() for c in text[start:]):
            found = self._keymap.find(KEYSYMS["Caps_Lock"], (0, 1))
            caps = found[0] if found is not None else None
        lifted = self._held_modifier_codes()
        shift = self._modifier_keycode("shift")
        try:
            self._bind_ahead((char_keysym(c) for c in text[start:]), group)
        except ValueError as err:
            raise BadParams(str(err), param="text") from err
        done, prepared = start, False
        try:
            for char in text[start:]:
                try:
                    keysym = char_keysym(char)
                except ValueError as err:
                    raise BadParams(str(err), param="text") from err
                if not may_inject():
                    break
                if not prepared:
                    prepared = True
                    for code in lifted:
                        self._key(code, False)
                    if caps is not None:
                        self._key(caps, True)
                        self._key(caps, False)
                keycode, needs_shift = self._keycode_for(keysym, group, True)
                if needs_shift:
                    self._key(shift, True)
                self._key(keycode, True)
                self._key(keycode, False)
                if needs_shift:
                    self._key(shift, False)
                self._d.flush()
                done += 1
        finally:
            if prepared:
                if caps is not None:
                    self._key(caps, True)
                    self._key(caps, False)
                for code in lifted:
                    self._key(code, True)
            self._d.flush()
        return done

    def _combo(self, modifiers: tuple[str, ...], key: Key) -> None:
        why = refusal(modifiers, key.keysym)
        if why:
            raise BadParams(f"not injected: {why}", param="combo")
        group = self._refresh()
        keycode, needs_shift = self._keycode_for(key.keysym, group, key.char is not None)
        wanted = list(modifiers)
        if needs_shift and "shift" not in wanted:
            wanted.append("shift")
        pressed = [self._modifier_keycode(name) for name in wanted]
        already = set(self._held_modifier_codes())
        pressed = [code for code in pressed if code not in already]
        for code in pressed:
            self._key(code, True)
        self._key(keycode, True)
        self._key(keycode, False)
        for code in reversed(pressed):
            self._key(code, False)

    def _key_down(self, key: Key, modifiers: tuple[str, ...]) -> None:
        if key.keysym in self._held_keys:
            self._release_held(key.keysym)  # a second keydown without keyup: start again
        held = {self._held_keys[k][0] for k in self._held_keys}
        group = self._refresh()
        if key.modifier is not None:
            found = self._keymap.find(key.keysym, (0, 1, 2, 3))
            keycode = found[0] if found is not None else self._modifier_keycode(key.modifier)
            if keycode not in held:
                self._key(keycode, True)
            self._held_keys[key.keysym] = (keycode, ())
            return
        held_names = {modifier_of(k) for k in self._held_keys}
        why = refusal(set(modifiers) | {n for n in held_names if n}, key.keysym)
        if why:
            raise BadParams(f"not injected: {why}", param="key")
        keycode, needs_shift = self._keycode_for(key.keysym, group, key.char is not None)
        wanted = list(modifiers)
        if needs_shift and "shift" not in wanted:
            wanted.append("shift")
        extra = [code for code in (self._modifier_keycode(name) for name in wanted) if code not in held]
        for code in extra:
            self._key(code, True)
        self._key(keycode, True)
        self._held_keys[key.keysym] = (keycode, tuple(extra))

    def _key_up(self, key: Key) -> None:
        if key.keysym in self._held_keys:
            self._release_held(key.keysym)

    def _release_held(self, keysym: int) -> None:
        keycode, extra = self._held_keys.pop(keysym)
        self._key(keycode, False)
        if keycode in self._used:
            self._used[keycode] = self._clock()
        still = {code for code, _ in self._held_keys.values()}
        for code in reversed(extra):
            if code not in still:
                self._key(code, False)


def _is_modifier(keysym: int) -> bool:
    return modifier_of(keysym) is not None

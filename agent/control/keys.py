"""Keys as the technician names them, turned into X keysyms: pure data, no display needed.

Three ways a key reaches the agent:

- a DOM ``KeyboardEvent`` from the widget (``key`` and ``code``, e.g. ``"Enter"`` /
  ``"Enter"``, ``"é"`` / ``"Digit2"``, ``"Control"`` / ``"ControlRight"``):
  :func:`resolve_dom_key`;
- a combination written in a notebook (``"ctrl+s"``, ``"ctrl+alt+t"``, ``"shift+F5"``,
  ``"ctrl++"``): :func:`parse_combo`;
- typed text, one character at a time: :func:`char_keysym`.

Keysyms are the X11 standard values (``X11/keysymdef.h``), which also serve as
the platform-neutral key names of this module.  A character's keysym is its
Latin-1 code point (U+0020–U+007E, U+00A0–U+00FF) or ``0x01000000 + code point``,
the Unicode keysym every X server and toolkit understands.

:func:`refusal` says which combinations the agent never injects (the customer's
take-back hotkey, the X server kill switch, virtual terminal switches).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

#: Modifier names, in the order they are pressed.
MODIFIERS = ("ctrl", "alt", "shift", "meta", "altgr")

#: Named keysyms (values from X11/keysymdef.h).
KEYSYMS: dict[str, int] = {
    "BackSpace": 0xFF08, "Tab": 0xFF09, "Linefeed": 0xFF0A, "Clear": 0xFF0B, "Return": 0xFF0D,
    "Pause": 0xFF13, "Scroll_Lock": 0xFF14, "Sys_Req": 0xFF15, "Escape": 0xFF1B, "Delete": 0xFFFF,
    "Home": 0xFF50, "Left": 0xFF51, "Up": 0xFF52, "Right": 0xFF53, "Down": 0xFF54, "Prior": 0xFF55,
    "Next": 0xFF56, "End": 0xFF57, "Begin": 0xFF58, "Select": 0xFF60, "Print": 0xFF61, "Execute": 0xFF62,
    "Insert": 0xFF63, "Undo": 0xFF65, "Redo": 0xFF66, "Menu": 0xFF67, "Find": 0xFF68, "Cancel": 0xFF69,
    "Help": 0xFF6A, "Break": 0xFF6B, "Mode_switch": 0xFF7E, "Num_Lock": 0xFF7F,
    "KP_Space": 0xFF80, "KP_Tab": 0xFF89, "KP_Enter": 0xFF8D, "KP_Home": 0xFF95, "KP_Left": 0xFF96,
    "KP_Up": 0xFF97, "KP_Right": 0xFF98, "KP_Down": 0xFF99, "KP_Prior": 0xFF9A, "KP_Next": 0xFF9B,
    "KP_End": 0xFF9C, "KP_Begin": 0xFF9D, "KP_Insert": 0xFF9E, "KP_Delete": 0xFF9F, "KP_Equal": 0xFFBD,
    "KP_Multiply": 0xFFAA, "KP_Add": 0xFFAB, "KP_Separator": 0xFFAC, "KP_Subtract": 0xFFAD,
    "KP_Decimal": 0xFFAE, "KP_Divide": 0xFFAF,
    **{f"KP_{n}": 0xFFB0 + n for n in range(10)},
    **{f"F{n}": 0xFFBE + n - 1 for n in range(1, 36)},
    "Shift_L": 0xFFE1, "Shift_R": 0xFFE2, "Control_L": 0xFFE3, "Control_R": 0xFFE4, "Caps_Lock": 0xFFE5,
    "Shift_Lock": 0xFFE6, "Meta_L": 0xFFE7, "Meta_R": 0xFFE8, "Alt_L": 0xFFE9, "Alt_R": 0xFFEA,
    "Super_L": 0xFFEB, "Super_R": 0xFFEC, "Hyper_L": 0xFFED, "Hyper_R": 0xFFEE,
    "ISO_Level3_Shift": 0xFE03, "ISO_Next_Group": 0xFE08, "Terminate_Server": 0xFED5,
    "space": 0x20,
    "XF86AudioLowerVolume": 0x1008FF11, "XF86AudioMute": 0x1008FF12, "XF86AudioRaiseVolume": 0x1008FF13,
    "XF86AudioPlay": 0x1008FF14, "XF86AudioStop": 0x1008FF15, "XF86AudioPrev": 0x1008FF16,
    "XF86AudioNext": 0x1008FF17, "XF86HomePage": 0x1008FF18, "XF86Mail": 0x1008FF19, "XF86Search": 0x1008FF1B,
    "XF86AudioPause": 0x1008FF31, "XF86Back": 0x1008FF26, "XF86Forward": 0x1008FF27, "XF86Stop": 0x1008FF28,
    "XF86Refresh": 0x1008FF29, "XF86Favorites": 0x1008FF30, "XF86Calculator": 0x1008FF1D,
    **{f"XF86Switch_VT_{n}": 0x1008FE01 + n - 1 for n in range(1, 13)},
}
_NAMES_BY_KEYSYM = {value: name for name, value in KEYSYMS.items()}

#: The key each modifier name presses.
MODIFIER_KEYSYMS: dict[str, int] = {
    "ctrl": KEYSYMS["Control_L"],
    "alt": KEYSYMS["Alt_L"],
    "shift": KEYSYMS["Shift_L"],
    "meta": KEYSYMS["Super_L"],
    "altgr": KEYSYMS["ISO_Level3_Shift"],
}
#: Which modifier name a modifier key stands for (left and right alike).
_MODIFIER_OF_KEYSYM: dict[int, str] = {
    KEYSYMS["Control_L"]: "ctrl", KEYSYMS["Control_R"]: "ctrl",
    KEYSYMS["Alt_L"]: "alt", KEYSYMS["Alt_R"]: "alt", KEYSYMS["Meta_L"]: "alt", KEYSYMS["Meta_R"]: "alt",
    KEYSYMS["Shift_L"]: "shift", KEYSYMS["Shift_R"]: "shift",
    KEYSYMS["Super_L"]: "meta", KEYSYMS["Super_R"]: "meta", KEYSYMS["Hyper_L"]: "meta", KEYSYMS["Hyper_R"]: "meta",
    KEYSYMS["ISO_Level3_Shift"]: "altgr", KEYSYMS["Mode_switch"]: "altgr",
}

#: DOM ``KeyboardEvent.key`` values that are not characters → keysym names.
DOM_KEYS: dict[str, str] = {
    "Enter": "Return", "Tab": "Tab", "Backspace": "BackSpace", "Escape": "Escape", "Esc": "Escape",
    "Delete": "Delete", "Del": "Delete", "Insert": "Insert", "Home": "Home", "End": "End",
    "PageUp": "Prior", "PageDown": "Next", "ArrowLeft": "Left", "ArrowRight": "Right", "ArrowUp": "Up",
    "ArrowDown": "Down", "Left": "Left", "Right": "Right", "Up": "Up", "Down": "Down",
    "PrintScreen": "Print", "ContextMenu": "Menu", "Apps": "Menu", "Pause": "Pause", "ScrollLock": "Scroll_Lock",
    "NumLock": "Num_Lock", "CapsLock": "Caps_Lock", "Clear": "Clear", "Help": "Help", "Cancel": "Cancel",
    "Shift": "Shift_L", "Control": "Control_L", "Alt": "Alt_L", "AltGraph": "ISO_Level3_Shift",
    "Meta": "Super_L", "OS": "Super_L", "Super": "Super_L", "Hyper": "Hyper_L", "Spacebar": "space",
    "AudioVolumeMute": "XF86AudioMute", "AudioVolumeDown": "XF86AudioLowerVolume",
    "AudioVolumeUp": "XF86AudioRaiseVolume", "MediaPlayPause": "XF86AudioPlay", "MediaStop": "XF86AudioStop",
    "MediaTrackPrevious": "XF86AudioPrev", "MediaTrackNext": "XF86AudioNext", "BrowserBack": "XF86Back",
    "BrowserForward": "XF86Forward", "BrowserRefresh": "XF86Refresh", "BrowserHome": "XF86HomePage",
    "BrowserSearch": "XF86Search", "BrowserStop": "XF86Stop", "BrowserFavorites": "XF86Favorites",
    "LaunchMail": "XF86Mail", "LaunchCalculator": "XF86Calculator",
    **{f"F{n}": f"F{n}" for n in range(1, 25)},
}

#: DOM ``KeyboardEvent.code`` values (the physical key) → keysym names or characters, used
#: when ``key`` says nothing useful ("Unidentified", "Dead", "Process") and to tell
#: the left and right modifiers apart.
DOM_CODES: dict[str, str] = {
    **{f"Key{c}": c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    **{f"Digit{n}": str(n) for n in range(10)},
    **{f"Numpad{n}": f"KP_{n}" for n in range(10)},
    "NumpadEnter": "KP_Enter", "NumpadAdd": "KP_Add", "NumpadSubtract": "KP_Subtract",
    "NumpadMultiply": "KP_Multiply", "NumpadDivide": "KP_Divide", "NumpadDecimal": "KP_Decimal",
    "NumpadEqual": "KP_Equal", "NumpadComma": "KP_Separator",
    "ControlLeft": "Control_L", "ControlRight": "Control_R", "ShiftLeft": "Shift_L", "ShiftRight": "Shift_R",
    "AltLeft": "Alt_L", "AltRight": "Alt_R", "MetaLeft": "Super_L", "MetaRight": "Super_R",
    "OSLeft": "Super_L", "OSRight": "Super_R",
    "Space": "space", "Minus": "-", "Equal": "=", "BracketLeft": "[", "BracketRight": "]", "Backslash": "\\",
    "Semicolon": ";", "Quote": "'", "Backquote": "`", "Comma": ",", "Period": ".", "Slash": "/",
    "IntlBackslash": "<",
    **{name: DOM_KEYS[name] for name in (
        "Enter", "Tab", "Backspace", "Escape", "Delete", "Insert", "Home", "End", "PageUp", "PageDown",
        "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "PrintScreen", "ContextMenu", "Pause", "ScrollLock",
        "NumLock", "CapsLock")},
    **{f"F{n}": f"F{n}" for n in range(1, 25)},
}

#: Names a notebook may use in a combination, lower-cased, beyond the keysym names and DOM names.
COMBO_ALIASES: dict[str, str] = {
    "enter": "Return", "return": "Return", "esc": "Escape", "escape": "Escape", "del": "Delete",
    "delete": "Delete", "ins": "Insert", "insert": "Insert", "bksp": "BackSpace", "backspace": "BackSpace",
    "tab": "Tab", "space": "space", "spacebar": "space", "pgup": "Prior", "pageup": "Prior", "pgdn": "Next",
    "pagedown": "Next", "home": "Home", "end": "End", "left": "Left", "right": "Right", "up": "Up",
    "down": "Down", "arrowleft": "Left", "arrowright": "Right", "arrowup": "Up", "arrowdown": "Down",
    "menu": "Menu", "contextmenu": "Menu", "print": "Print", "printscreen": "Print", "prtsc": "Print",
    "pause": "Pause", "break": "Break", "capslock": "Caps_Lock", "numlock": "Num_Lock",
    "scrolllock": "Scroll_Lock", "plus": "+", "minus": "-",
}
#: Modifier spellings accepted in combinations.
MODIFIER_ALIASES: dict[str, str] = {
    "ctrl": "ctrl", "control": "ctrl", "ctl": "ctrl", "alt": "alt", "option": "alt", "opt": "alt",
    "shift": "shift", "meta": "meta", "super": "meta", "win": "meta", "windows": "meta", "cmd": "meta",
    "command": "meta", "altgr": "altgr", "altgraph": "altgr",
}

#: How each modifier is written for the customer.
MODIFIER_LABELS = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "meta": "Super", "altgr": "AltGr"}
#: How keysyms are written for the customer (the rest: their name, or the character).
KEY_LABELS: dict[str, str] = {
    "Return": "Enter", "BackSpace": "Backspace", "Prior": "Page Up", "Next": "Page Down", "space": "Space",
    "Escape": "Esc", "Left": "Left arrow", "Right": "Right arrow", "Up": "Up arrow", "Down": "Down arrow",
    "Print": "Print Screen", "Caps_Lock": "Caps Lock", "Num_Lock": "Num Lock", "Scroll_Lock": "Scroll Lock",
    "Control_L": "Ctrl", "Control_R": "Ctrl", "Shift_L": "Shift", "Shift_R": "Shift", "Alt_L": "Alt",
    "Alt_R": "Alt", "Super_L": "Super", "Super_R": "Super", "ISO_Level3_Shift": "AltGr",
}


class KeyNameError(ValueError):
    """A key or combination this module cannot name (raised as BadParams by the service)."""


@dataclass(frozen=True)
class Key:
    """One key: its keysym, the character it types (if it is a character), and the
    modifier it is (if it is a modifier key)."""

    keysym: int
    char: str | None = None
    modifier: str | None = None

    @property
    def label(self) -> str:
        return key_label(self.keysym)


@dataclass(frozen=True)
class Combo:
    """Modifiers held while one key is pressed, e.g. Ctrl+Alt+T."""

    modifiers: tuple[str, ...]
    key: Key

    @property
    def label(self) -> str:
        return combo_label(self.modifiers, self.key.keysym)


@dataclass(frozen=True)
class Hotkey:
    """A combination the customer presses to take back control (grabbed on their screen)."""

    modifiers: tuple[str, ...]
    keysym: int
    label: str


#: The customer's take-back hotkeys.  Neither is in everyday use: Pause is a key of its own
#: on desktop keyboards, Ctrl+Alt+Shift+Space exists on every keyboard, laptops included.
HOTKEYS: tuple[Hotkey, ...] = (
    Hotkey(("ctrl", "alt", "shift"), KEYSYMS["space"], "Ctrl+Alt+Shift+Space"),
    Hotkey((), KEYSYMS["Pause"], "Pause"),
)


def char_keysym(char: str) -> int:
    """The keysym that types *char* (one character).

    Line feed, tab, backspace, escape and delete give their keys; other
    control characters raise :class:`KeyNameError`.
    """
    if len(char) != 1:
        raise KeyNameError(f"not one character: {char!r}")
    special = {"\n": "Return", "\r": "Return", "\t": "Tab", "\b": "BackSpace", "\x1b": "Escape", "\x7f": "Delete"}
    if char in special:
        return KEYSYMS[special[char]]
    point = ord(char)
    if 0x20 <= point <= 0x7E or 0xA0 <= point <= 0xFF:
        return point
    if unicodedata.category(char) in ("Cc", "Cs") or point > 0x10FFFF:
        raise KeyNameError(f"cannot type the control character U+{point:04X}")
    return 0x01000000 + point


def keysym_char(keysym: int) -> str | None:
    """The character a character keysym types (the inverse of :func:`char_keysym`), else None."""
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return chr(keysym)
    if 0x01000100 <= keysym <= 0x0110FFFF:
        return chr(keysym - 0x01000000)
    return None


def modifier_of(keysym: int) -> str | None:
    """``"ctrl"``… when *keysym* is a modifier key, else None."""
    return _MODIFIER_OF_KEYSYM.get(keysym)


def key_label(keysym: int) -> str:
    """How a key is written for the customer: ``Enter``, ``F5``, ``S``, ``é``."""
    char = keysym_char(keysym)
    if char is not None:
        if char == " ":
            return "Space"
        return char.upper() if len(char.upper()) == 1 else char
    name = _NAMES_BY_KEYSYM.get(keysym)
    if name is None:
        return f"key 0x{keysym:x}"
    return KEY_LABELS.get(name, name.removeprefix("XF86"))


def combo_label(modifiers: Iterable[str], keysym: int) -> str:
    """``Ctrl+Alt+T``: the modifiers in their usual order, then the key."""
    held = set(modifiers)
    return "+".join([*(MODIFIER_LABELS[m] for m in MODIFIERS if m in held), key_label(keysym)])


def normalise_modifiers(names: Iterable[object]) -> tuple[str, ...]:
    """Known modifier names (any accepted spelling) in pressing order; raises :class:`KeyNameError`."""
    found = set()
    for name in names:
        if not isinstance(name, str) or name.lower() not in MODIFIER_ALIASES:
            raise KeyNameError(f"unknown modifier {name!r}")
        found.add(MODIFIER_ALIASES[name.lower()])
    return tuple(m for m in MODIFIERS if m in found)


def _named(name: str) -> Key | None:
    """A keysym name or a single character, as a :class:`Key`."""
    if len(name) == 1:
        keysym = char_keysym(name)
        return Key(keysym, name if keysym_char(keysym) == name else None, modifier_of(keysym))
    named = KEYSYMS.get(name)
    if named is None:
        return None
    return Key(named, keysym_char(named), modifier_of(named))


def resolve_dom_key(key: object, code: object = None) -> Key:
    """The key a DOM ``KeyboardEvent`` names, from ``key`` (what the technician meant),
    or ``code`` (which key they pressed) when ``key`` is unusable.

    Raises :class:`KeyNameError` for keys that name nothing (``"Dead"`` with no code…).
    """
    key_text = key if isinstance(key, str) else ""
    code_text = code if isinstance(code, str) else ""
    if key_text in ("Control", "Shift", "Alt", "Meta", "OS") and code_text in DOM_CODES:
        found = _named(DOM_CODES[code_text])  # left and right modifiers stay apart
        if found is not None and found.modifier is not None:
            return found
    if key_text == "Alt" and code_text == "AltRight":
        return Key(KEYSYMS["Alt_R"], None, "alt")
    if len(key_text) == 1:
        return _named(key_text) or Key(char_keysym(key_text), key_text)
    if key_text in DOM_KEYS:
        found = _named(DOM_KEYS[key_text])
        if found is not None:
            return found
    if code_text in DOM_CODES:
        found = _named(DOM_CODES[code_text])
        if found is not None:
            return found
    raise KeyNameError(f"no key for key={key_text!r} code={code_text!r}")


def parse_combo(combo: str) -> Combo:
    """``"ctrl+s"``, ``"Ctrl+Alt+T"``, ``"shift+F5"``, ``"ctrl++"``, ``"Enter"``, ``"é"``.

    Letters are case-insensitive (``"ctrl+S"`` is Ctrl+S; write ``"ctrl+shift+s"``
    for Ctrl+Shift+S).  Raises :class:`KeyNameError`.
    """
    if not isinstance(combo, str) or not combo.strip():
        raise KeyNameError("empty key combination")
    text = combo.strip()
    if text.endswith("++"):
        parts, last = text[:-2].split("+") if len(text) > 2 else [], "+"
    elif text == "+":
        parts, last = [], "+"
    else:
        *parts, last = text.split("+")
    names = [part.strip() for part in parts]
    if not all(names):
        raise KeyNameError(f"empty part in key combination {combo!r}")
    modifiers = normalise_modifiers(names)
    last = last.strip() or last
    if not last:
        raise KeyNameError(f"no key in {combo!r}")
    key: Key | None
    if len(last) == 1:
        char = last.lower() if last.isalpha() and modifiers else last
        key = _named(char)
    else:
        lowered = last.lower()
        key = None
        if lowered in MODIFIER_ALIASES and not modifiers:  # "ctrl" alone: press the modifier key
            key = _named(keysym_name(MODIFIER_KEYSYMS[MODIFIER_ALIASES[lowered]]))
        elif lowered in COMBO_ALIASES:
            key = _named(COMBO_ALIASES[lowered])
        elif last in DOM_KEYS:
            key = _named(DOM_KEYS[last])
        else:
            exact = {name.lower(): name for name in KEYSYMS}
            if lowered in exact:
                key = _named(exact[lowered])
    if key is None:
        raise KeyNameError(f"unknown key {last!r} in {combo!r}")
    return Combo(modifiers, key)


def keysym_name(keysym: int) -> str:
    """The name of a named keysym (``0xff0d`` → ``"Return"``); raises :class:`KeyNameError`."""
    try:
        return _NAMES_BY_KEYSYM[keysym]
    except KeyError:
        raise KeyNameError(f"unnamed keysym 0x{keysym:x}") from None


_VT_KEYS = {KEYSYMS[f"F{n}"] for n in range(1, 13)}
_VT_SWITCHES = {KEYSYMS[f"XF86Switch_VT_{n}"] for n in range(1, 13)}


def refusal(modifiers: Iterable[str], keysym: int) -> str | None:
    """Why the agent will not inject this combination, or None when it may.

    - the customer's take-back hotkeys (:data:`HOTKEYS`): only the customer presses them;
    - Ctrl+Alt+Backspace and Terminate_Server: they kill the X server, so the customer's
      whole desktop, unsaved work included;
    - Ctrl+Alt+F1…F12 and the XF86Switch_VT keys: they switch to a text console, away
      from the screen the customer and the technician share.
    """
    held = set(modifiers)
    for hotkey in HOTKEYS:
        if keysym == hotkey.keysym and set(hotkey.modifiers) <= held:
            return f"{hotkey.label} is the customer's key to take back control"
    if keysym == KEYSYMS["Terminate_Server"] or (keysym == KEYSYMS["BackSpace"] and {"ctrl", "alt"} <= held):
        return "this combination would close the customer's whole desktop"
    if keysym in _VT_SWITCHES or (keysym in _VT_KEYS and {"ctrl", "alt"} <= held):
        return "this combination would switch the customer's screen to a text console"
    return None

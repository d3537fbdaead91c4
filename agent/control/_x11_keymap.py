"""The X11 keyboard as the control backend sees it: connections, the key mapping, modifier bits, XKB state.

Availability: X11 with python-xlib; imported only through :mod:`agent.control._x11`.
Shared by the injector (:mod:`agent.control._x11_inject`) and the watch
(:mod:`agent.control._x11_watch`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import Xlib.display
import Xlib.error
from Xlib.protocol import rq

from agent.control.keys import KEYSYMS

SHIFT_MASK, LOCK_MASK, CONTROL_MASK = 1, 2, 4
MOD_INDEX_MASKS = (1, 2, 4, 8, 16, 32, 64, 128)  # Shift, Lock, Control, Mod1…Mod5
XKB_USE_CORE_KBD = 0x100


def xkb_requests() -> tuple[Any, Any]:
    """XkbUseExtension and XkbGetState, which python-xlib does not provide."""

    class UseExtension(rq.ReplyRequest):
        _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(0), rq.RequestLength(),
                             rq.Card16("wanted_major"), rq.Card16("wanted_minor"))
        _reply = rq.Struct(rq.ReplyCode(), rq.Bool("supported"), rq.Card16("sequence_number"), rq.ReplyLength(),
                           rq.Card16("server_major"), rq.Card16("server_minor"), rq.Pad(20))

    class GetState(rq.ReplyRequest):
        _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(4), rq.RequestLength(),
                             rq.Card16("device_spec"), rq.Pad(2))
        _reply = rq.Struct(rq.ReplyCode(), rq.Card8("device_id"), rq.Card16("sequence_number"), rq.ReplyLength(),
                           rq.Card8("mods"), rq.Card8("base_mods"), rq.Card8("latched_mods"),
                           rq.Card8("locked_mods"), rq.Card8("group"), rq.Card8("locked_group"),
                           rq.Int16("base_group"), rq.Int16("latched_group"), rq.Card8("compat_state"),
                           rq.Card8("grab_mods"), rq.Card8("compat_grab_mods"), rq.Card8("lookup_mods"),
                           rq.Card8("compat_lookup_mods"), rq.Pad(1), rq.Card16("ptr_btn_state"), rq.Pad(6))

    return UseExtension, GetState


def open_connection(display: str | None, *extensions: str) -> Any:
    """A python-xlib connection to *display* that has every one of *extensions*.

    Raises :class:`OSError` when there is no display, it cannot be opened, or an extension is missing.
    """
    if display is None and not os.environ.get("DISPLAY"):
        raise OSError("no X display (DISPLAY is not set)")
    try:
        connection = Xlib.display.Display(display)
    except (Xlib.error.DisplayError, Xlib.error.ConnectionClosedError, OSError) as err:
        raise OSError(f"cannot open X display {display or os.environ.get('DISPLAY')!r}: {err}") from err
    for name in extensions:
        if connection.query_extension(name) is None:
            connection.close()
            raise OSError(f"the X server has no {name} extension")
    return connection


@dataclass
class Keymap:
    """The keyboard mapping as read from the server, with a keysym index."""

    first: int
    rows: list[list[int]]
    #: keysym -> [(index in the row, keycode)], best first
    where: dict[int, list[tuple[int, int]]]
    #: key codes with no keysym at all
    empty: list[int]

    @classmethod
    def read(cls, connection: Any) -> Keymap:
        info = connection.display.info
        first, last = info.min_keycode, info.max_keycode
        rows = [list(row) for row in connection.get_keyboard_mapping(first, last - first + 1)]
        where: dict[int, list[tuple[int, int]]] = {}
        empty = []
        for offset, row in enumerate(rows):
            keycode = first + offset
            if not any(row):
                empty.append(keycode)
            for index, keysym in enumerate(row):
                if keysym:
                    where.setdefault(keysym, []).append((index, keycode))
        for places in where.values():
            places.sort()
        return cls(first, rows, where, empty)

    def find(self, keysym: int, indexes: Iterable[int]) -> tuple[int, int] | None:
        """(keycode, index) of *keysym* at one of *indexes* (in that order of preference)."""
        places = self.where.get(keysym, [])
        for wanted in indexes:
            for index, keycode in places:
                if index == wanted:
                    return keycode, index
        return None


def modifier_masks(connection: Any) -> dict[str, int]:
    """Which modifier bit Alt, Super, AltGr and Num Lock are on, in *connection*'s current mapping."""
    keysym_bits: dict[int, int] = {}
    for index, codes in enumerate(connection.get_modifier_mapping()):
        for code in codes:
            if code:
                for column in range(4):
                    keysym = connection.keycode_to_keysym(code, column)
                    if keysym:
                        keysym_bits.setdefault(keysym, MOD_INDEX_MASKS[index])
    masks = {"shift": SHIFT_MASK, "ctrl": CONTROL_MASK}
    for name, names in (("alt", ("Alt_L", "Alt_R", "Meta_L")), ("meta", ("Super_L", "Super_R")),
                        ("altgr", ("ISO_Level3_Shift", "Mode_switch")), ("numlock", ("Num_Lock",)),
                        ("scrolllock", ("Scroll_Lock",))):
        for keysym_name in names:
            if KEYSYMS[keysym_name] in keysym_bits:
                masks[name] = keysym_bits[KEYSYMS[keysym_name]]
                break
    return masks

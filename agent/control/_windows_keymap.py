"""Our key names (X keysyms, :mod:`agent.control.keys`) as Windows virtual-key codes: pure data.

Named keys map to fixed virtual-key codes (``WinUser.h``), with the *extended* flag
where the key sits in the extended block of the PC keyboard (arrows, Insert/Delete,
Home/End, Page Up/Down, right Ctrl and Alt, the Windows and menu keys, numpad Enter and
Divide, browser and media keys): without it Windows reads an arrow as the numpad's.
Letters and digits are the same keys on every layout (``VK_A``…, ``VK_0``…); other
characters depend on the layout and are asked of Windows (``VkKeyScanW``) by the
injector, or typed as Unicode.

Also here: what Windows itself forbids (:func:`windows_refusal`: Ctrl+Alt+Del is the
secure attention sequence, which no program can inject), and the take-back hotkeys
as the keyboard hook sees them (:func:`hotkey_label`).  Loads on every system (the
unit tests run it on Linux); used on Windows by :mod:`agent.control._windows_inject`
and :mod:`agent.control._windows_watch`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agent.control.keys import HOTKEYS, KEYSYMS, combo_label, keysym_char

VK_CANCEL, VK_BACK, VK_TAB, VK_CLEAR, VK_RETURN = 0x03, 0x08, 0x09, 0x0C, 0x0D
VK_SHIFT, VK_CONTROL, VK_MENU, VK_PAUSE, VK_CAPITAL, VK_ESCAPE, VK_SPACE = 0x10, 0x11, 0x12, 0x13, 0x14, 0x1B, 0x20
VK_PRIOR, VK_NEXT, VK_END, VK_HOME, VK_LEFT, VK_UP, VK_RIGHT, VK_DOWN = 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28
VK_SELECT, VK_PRINT, VK_EXECUTE, VK_SNAPSHOT, VK_INSERT, VK_DELETE, VK_HELP = 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F
VK_LWIN, VK_RWIN, VK_APPS = 0x5B, 0x5C, 0x5D
VK_NUMPAD0, VK_MULTIPLY, VK_ADD, VK_SEPARATOR = 0x60, 0x6A, 0x6B, 0x6C
VK_SUBTRACT, VK_DECIMAL, VK_DIVIDE = 0x6D, 0x6E, 0x6F
VK_F1, VK_NUMLOCK, VK_SCROLL = 0x70, 0x90, 0x91
VK_LSHIFT, VK_RSHIFT, VK_LCONTROL, VK_RCONTROL, VK_LMENU, VK_RMENU = 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5


@dataclass(frozen=True)
class WinKey:
    """A virtual-key code, and whether Windows must be told it is an extended key."""

    vk: int
    extended: bool = False


_E = True  # extended
_NAMED: dict[str, WinKey] = {
    "BackSpace": WinKey(VK_BACK), "Tab": WinKey(VK_TAB), "Clear": WinKey(VK_CLEAR), "Return": WinKey(VK_RETURN),
    "Pause": WinKey(VK_PAUSE), "Break": WinKey(VK_CANCEL, _E), "Cancel": WinKey(VK_CANCEL, _E),
    "Scroll_Lock": WinKey(VK_SCROLL), "Escape": WinKey(VK_ESCAPE), "space": WinKey(VK_SPACE),
    "Delete": WinKey(VK_DELETE, _E), "Insert": WinKey(VK_INSERT, _E), "Home": WinKey(VK_HOME, _E),
    "End": WinKey(VK_END, _E), "Prior": WinKey(VK_PRIOR, _E), "Next": WinKey(VK_NEXT, _E),
    "Left": WinKey(VK_LEFT, _E), "Up": WinKey(VK_UP, _E), "Right": WinKey(VK_RIGHT, _E), "Down": WinKey(VK_DOWN, _E),
    "Select": WinKey(VK_SELECT), "Print": WinKey(VK_SNAPSHOT, _E), "Sys_Req": WinKey(VK_SNAPSHOT, _E),
    "Execute": WinKey(VK_EXECUTE), "Help": WinKey(VK_HELP), "Menu": WinKey(VK_APPS, _E),
    "Num_Lock": WinKey(VK_NUMLOCK, _E), "Caps_Lock": WinKey(VK_CAPITAL),
    # the numpad: digits and operators have their own codes; its navigation keys are the
    # non-extended forms of the block keys (that is how Windows tells them apart)
    **{f"KP_{n}": WinKey(VK_NUMPAD0 + n) for n in range(10)},
    "KP_Multiply": WinKey(VK_MULTIPLY), "KP_Add": WinKey(VK_ADD), "KP_Separator": WinKey(VK_SEPARATOR),
    "KP_Subtract": WinKey(VK_SUBTRACT), "KP_Decimal": WinKey(VK_DECIMAL), "KP_Divide": WinKey(VK_DIVIDE, _E),
    "KP_Enter": WinKey(VK_RETURN, _E), "KP_Space": WinKey(VK_SPACE), "KP_Tab": WinKey(VK_TAB),
    "KP_Home": WinKey(VK_HOME), "KP_End": WinKey(VK_END), "KP_Prior": WinKey(VK_PRIOR), "KP_Next": WinKey(VK_NEXT),
    "KP_Left": WinKey(VK_LEFT), "KP_Up": WinKey(VK_UP), "KP_Right": WinKey(VK_RIGHT), "KP_Down": WinKey(VK_DOWN),
    "KP_Begin": WinKey(VK_CLEAR), "KP_Insert": WinKey(VK_INSERT), "KP_Delete": WinKey(VK_DELETE),
    **{f"F{n}": WinKey(VK_F1 + n - 1) for n in range(1, 25)},
    "Shift_L": WinKey(VK_LSHIFT), "Shift_R": WinKey(VK_RSHIFT),
    "Control_L": WinKey(VK_LCONTROL), "Control_R": WinKey(VK_RCONTROL, _E),
    "Alt_L": WinKey(VK_LMENU), "Alt_R": WinKey(VK_RMENU, _E),
    "Meta_L": WinKey(VK_LMENU), "Meta_R": WinKey(VK_RMENU, _E),
    "Super_L": WinKey(VK_LWIN, _E), "Super_R": WinKey(VK_RWIN, _E),
    "Hyper_L": WinKey(VK_LWIN, _E), "Hyper_R": WinKey(VK_RWIN, _E),
    # AltGr is the right Alt key on Windows (layouts with AltGr add the left Ctrl themselves)
    "ISO_Level3_Shift": WinKey(VK_RMENU, _E), "Mode_switch": WinKey(VK_RMENU, _E),
    "XF86Back": WinKey(0xA6, _E), "XF86Forward": WinKey(0xA7, _E), "XF86Refresh": WinKey(0xA8, _E),
    "XF86Stop": WinKey(0xA9, _E), "XF86Search": WinKey(0xAA, _E), "XF86Favorites": WinKey(0xAB, _E),
    "XF86HomePage": WinKey(0xAC, _E), "XF86AudioMute": WinKey(0xAD, _E), "XF86AudioLowerVolume": WinKey(0xAE, _E),
    "XF86AudioRaiseVolume": WinKey(0xAF, _E), "XF86AudioNext": WinKey(0xB0, _E), "XF86AudioPrev": WinKey(0xB1, _E),
    "XF86AudioStop": WinKey(0xB2, _E), "XF86AudioPlay": WinKey(0xB3, _E), "XF86AudioPause": WinKey(0xB3, _E),
    "XF86Mail": WinKey(0xB4, _E), "XF86Calculator": WinKey(0xB7, _E),
}
#: keysym -> the key Windows knows it by
KEYSYM_TO_VK: dict[int, WinKey] = {KEYSYMS[name]: key for name, key in _NAMED.items()}

#: The key each modifier name presses (as :data:`agent.control.keys.MODIFIER_KEYSYMS`).
MODIFIER_VKS: dict[str, WinKey] = {
    "ctrl": WinKey(VK_LCONTROL), "alt": WinKey(VK_LMENU), "shift": WinKey(VK_LSHIFT),
    "meta": WinKey(VK_LWIN, _E), "altgr": WinKey(VK_RMENU, _E),
}
#: Which modifier a virtual-key code is (the hooks report left and right codes; SendInput may use either).
MODIFIER_OF_VK: dict[int, str] = {
    VK_SHIFT: "shift", VK_LSHIFT: "shift", VK_RSHIFT: "shift",
    VK_CONTROL: "ctrl", VK_LCONTROL: "ctrl", VK_RCONTROL: "ctrl",
    VK_MENU: "alt", VK_LMENU: "alt", VK_RMENU: "alt",
    VK_LWIN: "meta", VK_RWIN: "meta",
}


def vk_of(keysym: int) -> WinKey | None:
    """The virtual key of *keysym* when it does not depend on the layout (named keys, letters,
    digits); None for other characters (ask the layout: ``VkKeyScanW``) and unknown keys."""
    named = KEYSYM_TO_VK.get(keysym)
    if named is not None:
        return named
    char = keysym_char(keysym)
    if char is not None and len(char) == 1:
        if "a" <= char.lower() <= "z":
            return WinKey(ord(char.upper()))
        if "0" <= char <= "9":
            return WinKey(ord(char))
    return None


def vk_from_scan_result(result: int) -> tuple[int, tuple[str, ...]] | None:
    """Decode ``VkKeyScanW``'s answer: (virtual key, modifiers to hold), None when the layout has no key.

    The low byte is the key; the high byte says Shift (1), Ctrl (2), Alt (4) — Ctrl+Alt is
    AltGr — and -1 in both bytes means no key of this layout types the character.
    """
    if result == -1 or result & 0xFFFF == 0xFFFF:
        return None
    vk, state = result & 0xFF, (result >> 8) & 0xFF
    if vk == 0xFF or state & 0xF8:  # the Hankaku and reserved bits: not a plain key press
        return None
    names = tuple(name for bit, name in ((2, "ctrl"), (4, "alt"), (1, "shift")) if state & bit)
    return vk, names


_DELETE_KEYSYMS = {KEYSYMS["Delete"], KEYSYMS["KP_Delete"]}


def windows_refusal(modifiers: Iterable[str], keysym: int) -> str | None:
    """Why Windows itself will not take this combination from a program, or None.

    Ctrl+Alt+Del is the secure attention sequence: the kernel handles it before any
    program and never from injected input (only a service may call ``SendSAS``), so
    sending its keys would only give the window in front a stray Ctrl+Alt+Delete.
    """
    held = set(modifiers)
    if keysym in _DELETE_KEYSYMS and {"ctrl", "alt"} <= held:
        return (f"{combo_label(held, keysym)} cannot be injected: Windows keeps Ctrl+Alt+Del for the person at "
                "the keyboard (the secure attention sequence); ask the customer to press it")
    return None


def hotkey_label(vk: int, held: Iterable[str]) -> str | None:
    """The take-back hotkey (:data:`agent.control.keys.HOTKEYS`) that a key press of *vk* makes,
    with the modifier names *held* by the customer, or None.

    A hotkey without modifiers (Pause) counts whatever is held, as on X11 where it is
    grabbed with any modifiers; one with modifiers needs exactly those.
    """
    names = set(held)
    for hotkey in HOTKEYS:
        key = KEYSYM_TO_VK.get(hotkey.keysym) or vk_of(hotkey.keysym)
        if key is None or key.vk != vk:
            continue
        if not hotkey.modifiers or set(hotkey.modifiers) == names:
            return hotkey.label
    return None

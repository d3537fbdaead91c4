"""agent.control.keys: key names, DOM keys, combinations, and the combinations never injected."""

from __future__ import annotations

import pytest

from agent.control.keys import (
    HOTKEYS,
    KEYSYMS,
    Key,
    KeyNameError,
    char_keysym,
    combo_label,
    keysym_char,
    parse_combo,
    refusal,
    resolve_dom_key,
)

# -- keys -------------------------------------------------------------------------------------


def test_characters_map_to_latin1_or_unicode_keysyms() -> None:
    assert char_keysym("a") == ord("a") and char_keysym("A") == 0x41
    assert char_keysym("é") == 0xE9 and char_keysym("ç") == 0xE7 and char_keysym("ß") == 0xDF
    assert char_keysym("ж") == 0x01000436 and char_keysym("€") == 0x010020AC and char_keysym("😀") == 0x0101F600
    assert char_keysym("\n") == KEYSYMS["Return"] and char_keysym("\t") == KEYSYMS["Tab"]
    for char in "aé ж€":
        assert keysym_char(char_keysym(char)) == char
    with pytest.raises(KeyNameError):
        char_keysym("\x07")
    with pytest.raises(KeyNameError):
        char_keysym("ab")


@pytest.mark.parametrize(("combo", "modifiers", "keysym", "label"), [
    ("ctrl+s", ("ctrl",), ord("s"), "Ctrl+S"),
    ("Ctrl+S", ("ctrl",), ord("s"), "Ctrl+S"),
    ("ctrl+shift+s", ("ctrl", "shift"), ord("s"), "Ctrl+Shift+S"),
    ("ctrl+alt+t", ("ctrl", "alt"), ord("t"), "Ctrl+Alt+T"),
    ("alt+ctrl+T", ("ctrl", "alt"), ord("t"), "Ctrl+Alt+T"),
    ("shift+F5", ("shift",), KEYSYMS["F5"], "Shift+F5"),
    ("F5", (), KEYSYMS["F5"], "F5"),
    ("Enter", (), KEYSYMS["Return"], "Enter"),
    ("ArrowLeft", (), KEYSYMS["Left"], "Left arrow"),
    ("pgdn", (), KEYSYMS["Next"], "Page Down"),
    ("ctrl++", ("ctrl",), ord("+"), "Ctrl++"),
    ("cmd+space", ("meta",), KEYSYMS["space"], "Super+Space"),
    ("é", (), 0xE9, "É"),
    ("Return", (), KEYSYMS["Return"], "Enter"),
    ("ctrl", (), KEYSYMS["Control_L"], "Ctrl"),
    ("XF86AudioMute", (), KEYSYMS["XF86AudioMute"], "AudioMute"),
])
def test_parse_combo(combo: str, modifiers: tuple[str, ...], keysym: int, label: str) -> None:
    parsed = parse_combo(combo)
    assert parsed.modifiers == modifiers and parsed.key.keysym == keysym
    assert parsed.label == label


@pytest.mark.parametrize("combo", ["", "ctrl+", "ctrl++s", "hyperdrive+x", "ctrl+nosuchkey", "+s"])
def test_parse_combo_refuses_nonsense(combo: str) -> None:
    with pytest.raises(KeyNameError):
        parse_combo(combo)


@pytest.mark.parametrize(("key", "code", "keysym", "char", "modifier"), [
    ("Enter", "Enter", KEYSYMS["Return"], None, None),
    ("ArrowLeft", "ArrowLeft", KEYSYMS["Left"], None, None),
    ("F5", "F5", KEYSYMS["F5"], None, None),
    ("Control", "ControlLeft", KEYSYMS["Control_L"], None, "ctrl"),
    ("Control", "ControlRight", KEYSYMS["Control_R"], None, "ctrl"),
    ("Shift", "ShiftRight", KEYSYMS["Shift_R"], None, "shift"),
    ("AltGraph", "AltRight", KEYSYMS["ISO_Level3_Shift"], None, "altgr"),
    ("Meta", "MetaLeft", KEYSYMS["Super_L"], None, "meta"),
    ("é", "Digit2", 0xE9, "é", None),
    ("ж", "Semicolon", 0x01000436, "ж", None),
    (" ", "Space", 0x20, " ", None),
    ("Dead", "KeyE", ord("e"), "e", None),  # a dead key names nothing: the physical key does
    ("Unidentified", "Numpad4", KEYSYMS["KP_4"], None, None),
])
def test_resolve_dom_key(key: str, code: str, keysym: int, char: str | None, modifier: str | None) -> None:
    assert resolve_dom_key(key, code) == Key(keysym, char, modifier)


def test_resolve_dom_key_without_anything_usable_raises() -> None:
    with pytest.raises(KeyNameError):
        resolve_dom_key("Dead", "")
    with pytest.raises(KeyNameError):
        resolve_dom_key(None, None)


def test_refused_combinations() -> None:
    assert refusal(("ctrl", "alt", "shift"), KEYSYMS["space"]) is not None  # the customer's hotkey
    assert refusal((), KEYSYMS["Pause"]) is not None  # the other hotkey
    assert refusal(("ctrl", "alt"), KEYSYMS["BackSpace"]) is not None  # kills the X server
    assert refusal(("ctrl", "alt"), KEYSYMS["F2"]) is not None  # virtual terminal switch
    assert refusal((), KEYSYMS["XF86Switch_VT_3"]) is not None
    assert refusal((), KEYSYMS["Terminate_Server"]) is not None
    assert refusal(("ctrl", "alt"), KEYSYMS["Delete"]) is None  # ordinary keys on X11
    assert refusal(("ctrl", "shift"), KEYSYMS["space"]) is None
    assert refusal(("alt",), KEYSYMS["F4"]) is None
    assert [h.label for h in HOTKEYS] == ["Ctrl+Alt+Shift+Space", "Pause"]
    assert combo_label(("shift", "ctrl"), ord("s")) == "Ctrl+Shift+S"

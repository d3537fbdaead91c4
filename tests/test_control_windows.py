"""The Windows control backend's decisions, fed with the values Windows documents (runs on Linux).

Wine cannot prove how Windows flags hooked events, UIPI or the secure desktop
(``tests/windows/test_control_wine.py`` says what it measured); these pure functions are
where the agent decides, and the cases below are the documentation's:

- ``MSLLHOOKSTRUCT.flags``: ``LLMHF_INJECTED`` 0x01, ``LLMHF_LOWER_IL_INJECTED`` 0x02
  (set together with 0x01); ``KBDLLHOOKSTRUCT.flags``: ``LLKHF_EXTENDED`` 0x01,
  ``LLKHF_LOWER_IL_INJECTED`` 0x02, ``LLKHF_INJECTED`` 0x10, ``LLKHF_ALTDOWN`` 0x20,
  ``LLKHF_UP`` 0x80; ``dwExtraInfo`` is what ``SendInput``'s caller put there.
- Absolute coordinates: 0..65535 over the virtual screen with ``MOUSEEVENTF_VIRTUALDESK``;
  Windows maps dx back to ``left + dx * width / 65536``.
- ``VkKeyScanW``: low byte the virtual key, high byte 1 Shift, 2 Ctrl, 4 Alt; -1 for none.
- ``OpenInputDesktop`` fails with ERROR_ACCESS_DENIED (5) for a user's program while the
  secure desktop (``Winlogon``) is the input desktop; the user's desktop is ``Default``.
"""

from __future__ import annotations

import pytest

from agent.control import _windows_api as w
from agent.control._windows import new_mark
from agent.control._windows_inject import desktop_refusal, normalised, short_send_refusal, unicode_strokes
from agent.control._windows_keymap import (
    MODIFIER_VKS,
    WinKey,
    hotkey_label,
    vk_from_scan_result,
    vk_of,
    windows_refusal,
)
from agent.control._windows_watch import (
    OTHER_PROGRAM,
    OURS,
    PHYSICAL,
    is_customers,
    key_event,
    mouse_event,
    origin,
)
from agent.control.keys import KEYSYMS, char_keysym, parse_combo
from agent.control.ledger import BUTTON_PRESS, BUTTON_RELEASE, KEY_PRESS, KEY_RELEASE, MOTION, DeviceEvent

MARK = 0x5742_1234_5678_9ABC

# (flags, dwExtraInfo, injected flag, origin): the documented cases, mouse then keyboard
CASES = [
    (0x00, 0, w.LLMHF_INJECTED, PHYSICAL),  # a real mouse
    (0x00, 0xFF515700, w.LLMHF_INJECTED, PHYSICAL),  # pen or touch promoted to mouse (its signature)
    (0x01, MARK, w.LLMHF_INJECTED, OURS),  # our SendInput
    (0x03, MARK, w.LLMHF_INJECTED, OURS),  # ours, from a lower integrity level
    (0x00, MARK, w.LLMHF_INJECTED, OURS),  # a system that would not flag injection: the mark still says
    (0x01, 0, w.LLMHF_INJECTED, OTHER_PROGRAM),  # another program's SendInput (or Wine's own move)
    (0x03, 42, w.LLMHF_INJECTED, OTHER_PROGRAM),
    (0x00, 0, w.LLKHF_INJECTED, PHYSICAL),  # a real key press
    (w.LLKHF_UP | w.LLKHF_EXTENDED | w.LLKHF_ALTDOWN, 0, w.LLKHF_INJECTED, PHYSICAL),  # a real release
    (w.LLKHF_INJECTED, MARK, w.LLKHF_INJECTED, OURS),
    (w.LLKHF_INJECTED | w.LLKHF_UP, MARK, w.LLKHF_INJECTED, OURS),
    (w.LLKHF_INJECTED | w.LLKHF_LOWER_IL_INJECTED, 0, w.LLKHF_INJECTED, OTHER_PROGRAM),
    (w.LLKHF_INJECTED, MARK + 1, w.LLKHF_INJECTED, OTHER_PROGRAM),  # not quite our mark
]


@pytest.mark.parametrize(("flags", "extra", "injected", "expected"), CASES)
def test_whose_event_it_is(flags: int, extra: int, injected: int, expected: str) -> None:
    assert origin(flags, extra, MARK, injected) == expected
    assert is_customers(flags, extra, MARK, injected) == (expected == PHYSICAL)


def test_the_keyboard_up_and_extended_bits_are_not_the_injected_bit() -> None:
    # LLKHF_UP (0x80) and LLKHF_EXTENDED (0x01) must not read as injected: 0x01 is LLMHF_INJECTED's value
    assert origin(w.LLKHF_EXTENDED, 0, MARK, w.LLKHF_INJECTED) == PHYSICAL
    assert origin(w.LLMHF_INJECTED, 0, MARK, w.LLMHF_INJECTED) == OTHER_PROGRAM


def test_marks_are_random_non_zero_and_fit_a_ulong_ptr() -> None:
    marks = {new_mark() for _ in range(50)}
    assert len(marks) == 50
    assert all(0 < mark < 1 << w.EXTRA_INFO_BITS for mark in marks)
    assert all(mark < 1 << (w.EXTRA_INFO_BITS - 1) for mark in marks)  # positive as a signed LPARAM too


def test_hooked_messages_become_device_events() -> None:
    assert mouse_event(w.WM_MOUSEMOVE, 10, 20, 0) == DeviceEvent(MOTION, 0, 10, 20)
    assert mouse_event(w.WM_LBUTTONDOWN, 1, 2, 0) == DeviceEvent(BUTTON_PRESS, 1, 1, 2)
    assert mouse_event(w.WM_RBUTTONUP, 1, 2, 0) == DeviceEvent(BUTTON_RELEASE, 3, 1, 2)
    assert mouse_event(w.WM_MBUTTONDOWN, 1, 2, 0) == DeviceEvent(BUTTON_PRESS, 2, 1, 2)
    # the wheel's delta is the high word of mouseData, signed: +120 away from the user
    assert mouse_event(w.WM_MOUSEWHEEL, 0, 0, 120 << 16) == DeviceEvent(BUTTON_PRESS, 4, 0, 0)
    assert mouse_event(w.WM_MOUSEWHEEL, 0, 0, (0x10000 - 120) << 16) == DeviceEvent(BUTTON_PRESS, 5, 0, 0)
    assert mouse_event(w.WM_MOUSEHWHEEL, 0, 0, 120 << 16) == DeviceEvent(BUTTON_PRESS, 7, 0, 0)
    assert mouse_event(w.WM_XBUTTONDOWN, 0, 0, 1 << 16) == DeviceEvent(BUTTON_PRESS, 8, 0, 0)
    assert mouse_event(0x0100, 0, 0, 0) is None
    assert key_event(w.WM_KEYDOWN, 0x41) == DeviceEvent(KEY_PRESS, 0x41)
    assert key_event(w.WM_SYSKEYDOWN, 0x41) == DeviceEvent(KEY_PRESS, 0x41)
    assert key_event(w.WM_SYSKEYUP, 0x41) == DeviceEvent(KEY_RELEASE, 0x41)
    assert key_event(w.WM_MOUSEMOVE, 0x41) is None


@pytest.mark.parametrize("width", [800, 1024, 1280, 1366, 1920, 2560, 3840, 5120, 7680])
def test_every_pixel_lands_where_windows_maps_it_back(width: int) -> None:
    for x in range(width):
        dx, _ = normalised(x, 0, (0, 0, width, 1))
        assert 0 <= dx <= 65535
        assert dx * width // 65536 == x


def test_positions_are_clamped_to_the_virtual_screen() -> None:
    assert normalised(-5, -5, (-1920, 0, 3840, 1080)) == normalised(0, 0, (-1920, 0, 3840, 1080))
    assert normalised(99999, 99999, (0, 0, 1280, 1024)) == normalised(1279, 1023, (0, 0, 1280, 1024))
    dx, dy = normalised(1279, 1023, (0, 0, 1280, 1024))
    assert dx * 1280 // 65536 == 1279 and dy * 1024 // 65536 == 1023


def test_the_secure_desktop_is_said_plainly() -> None:
    assert desktop_refusal("Default") is None
    why = desktop_refusal("Winlogon")
    assert why is not None and "'Winlogon'" in why and "UAC" in why and "customer" in why
    assert desktop_refusal(None, w.ERROR_ACCESS_DENIED) is not None  # cannot even open it: the secure desktop
    assert desktop_refusal(None, 6) is None  # another failure: no claim; SendInput's answer will speak
    assert desktop_refusal("Screen-saver") is not None


def test_fewer_events_taken_than_given_is_refused_in_words() -> None:
    assert short_send_refusal(3, 3, 0) is None
    why = short_send_refusal(0, 3, w.ERROR_ACCESS_DENIED)
    assert why is not None and "0 of 3" in why and "UIPI" in why and "administrator" in why


def test_text_goes_as_utf16_units() -> None:
    assert unicode_strokes("é") == [(0, 0xE9, w.KEYEVENTF_UNICODE)]
    assert unicode_strokes("😀") == [(0, 0xD83D, w.KEYEVENTF_UNICODE), (0, 0xDE00, w.KEYEVENTF_UNICODE)]


# --- the keymap ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "vk", "extended"), [
    ("Return", 0x0D, False), ("KP_Enter", 0x0D, True), ("Tab", 0x09, False), ("BackSpace", 0x08, False),
    ("Escape", 0x1B, False), ("space", 0x20, False), ("Delete", 0x2E, True), ("KP_Delete", 0x2E, False),
    ("Insert", 0x2D, True), ("Home", 0x24, True), ("End", 0x23, True), ("Prior", 0x21, True),
    ("Next", 0x22, True), ("Left", 0x25, True), ("Up", 0x26, True), ("Right", 0x27, True), ("Down", 0x28, True),
    ("KP_Left", 0x25, False), ("F1", 0x70, False), ("F12", 0x7B, False), ("F24", 0x87, False),
    ("Print", 0x2C, True), ("Pause", 0x13, False), ("Menu", 0x5D, True), ("Num_Lock", 0x90, True),
    ("Caps_Lock", 0x14, False), ("Scroll_Lock", 0x91, False), ("KP_5", 0x65, False), ("KP_Divide", 0x6F, True),
    ("KP_Multiply", 0x6A, False), ("Control_L", 0xA2, False), ("Control_R", 0xA3, True),
    ("Alt_L", 0xA4, False), ("Alt_R", 0xA5, True), ("Shift_L", 0xA0, False), ("Shift_R", 0xA1, False),
    ("Super_L", 0x5B, True), ("Super_R", 0x5C, True), ("ISO_Level3_Shift", 0xA5, True),
    ("XF86AudioMute", 0xAD, True), ("XF86Back", 0xA6, True),
])
def test_named_keys_have_their_virtual_key(name: str, vk: int, extended: bool) -> None:
    assert vk_of(KEYSYMS[name]) == WinKey(vk, extended)


def test_letters_and_digits_are_the_same_keys_on_every_layout() -> None:
    assert vk_of(char_keysym("a")) == WinKey(0x41) == vk_of(char_keysym("A"))
    assert vk_of(char_keysym("z")) == WinKey(0x5A)
    assert vk_of(char_keysym("0")) == WinKey(0x30)
    assert vk_of(char_keysym("9")) == WinKey(0x39)
    for char in "é+-;ж€":
        assert vk_of(char_keysym(char)) is None  # the layout decides: VkKeyScanW, or Unicode


def test_every_combination_a_notebook_names_has_a_windows_key() -> None:
    for combo in ("ctrl+s", "ctrl+alt+t", "shift+F5", "Enter", "alt+F4", "ctrl+shift+Escape", "meta+e",
                  "ctrl+Home", "PageDown", "alt+Tab", "ctrl+a"):
        parsed = parse_combo(combo)
        assert vk_of(parsed.key.keysym) is not None, combo
        assert all(name in MODIFIER_VKS for name in parsed.modifiers)


def test_vkkeyscan_answers_are_decoded() -> None:
    assert vk_from_scan_result(0x0041) == (0x41, ())  # 'a'
    assert vk_from_scan_result(0x0141) == (0x41, ("shift",))  # 'A'
    assert vk_from_scan_result(0x0632) == (0x32, ("ctrl", "alt"))  # '@'... on a layout where AltGr+2 types it
    assert vk_from_scan_result(-1) is None
    assert vk_from_scan_result(0x0841) is None  # the Hankaku bit: not a plain key press


def test_ctrl_alt_del_is_refused_with_words() -> None:
    for combo in ("ctrl+alt+Delete", "ctrl+alt+del", "ctrl+alt+shift+Delete", "ctrl+alt+KP_Delete"):
        parsed = parse_combo(combo)
        why = windows_refusal(parsed.modifiers, parsed.key.keysym)
        assert why is not None and "secure attention sequence" in why and "customer" in why, combo
    for combo in ("ctrl+Delete", "alt+Delete", "Delete", "ctrl+alt+t", "ctrl+shift+Escape"):
        parsed = parse_combo(combo)
        assert windows_refusal(parsed.modifiers, parsed.key.keysym) is None, combo


def test_the_take_back_hotkeys_as_the_keyboard_hook_sees_them() -> None:
    assert hotkey_label(0x13, set()) == "Pause"
    assert hotkey_label(0x13, {"ctrl"}) == "Pause"  # Pause counts whatever is held
    assert hotkey_label(0x20, {"ctrl", "alt", "shift"}) == "Ctrl+Alt+Shift+Space"
    assert hotkey_label(0x20, {"ctrl", "alt"}) is None
    assert hotkey_label(0x20, {"ctrl", "alt", "shift", "meta"}) is None
    assert hotkey_label(0x20, set()) is None
    assert hotkey_label(0x41, {"ctrl", "alt", "shift"}) is None

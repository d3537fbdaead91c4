"""Session codes and technician admission, with a controllable clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.pairing import CodeBook, Technicians, format_code, normalise_code, one_typo_away
from wire.errors import BadCode, BadParams, CodeBurned, CodeExpired, CodeInUse, Unauthorized


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wrong(code: str) -> str:
    return "0" * 9 if code != "0" * 9 else "1" * 9


def test_codes_are_nine_digits_and_used_once() -> None:
    book = CodeBook()
    code = book.issue("agent-1")
    assert len(code) == 9 and code.isdigit()
    assert book.claim(format_code(code)) == "agent-1"
    with pytest.raises(CodeInUse, match="already in use"):
        book.claim(code)


def test_a_code_in_use_is_not_a_wrong_try() -> None:
    """A second technician with the good code hears that it is in use, and no waiting code pays for it."""
    book = CodeBook(max_wrong=2)
    used = book.issue("agent-1")
    book.claim(used)
    waiting = book.issue("agent-2")
    for _ in range(3):
        with pytest.raises(CodeInUse) as caught:
            book.claim(used)
        assert not isinstance(caught.value, BadCode)
    assert book.take_burned() == []
    assert book.claim(waiting) == "agent-2"


def test_spacing_and_dashes_are_accepted_but_not_other_text() -> None:
    assert normalise_code(" 123-456 789 ") == "123456789"
    for text in ("12345678", "1234567890", "12345678a", "١٢٣٤٥٦٧٨٩"):
        with pytest.raises(BadCode):
            normalise_code(text)


def test_five_tries_one_typo_away_burn_the_code_and_its_owner_gets_a_new_one() -> None:
    book = CodeBook(max_wrong=5)
    code = book.issue("agent-1")
    other = book.issue("agent-2")
    near = sorted(one_typo_away(code) - {other})
    for guess in near[:4]:
        with pytest.raises(BadCode):
            book.claim(guess)
    assert book.take_burned() == []
    with pytest.raises(BadCode):
        book.claim(near[4])
    assert book.take_burned() == ["agent-1"]
    assert book.code_of("agent-2") == other
    with pytest.raises(CodeBurned):
        book.claim(code)
    fresh = book.issue("agent-1")
    assert fresh != code and book.claim(fresh) == "agent-1"


def test_wrong_codes_not_aimed_at_a_code_burn_nothing() -> None:
    book = CodeBook(max_wrong=5)
    code = book.issue("agent-1")
    for guess in [f"{n:09d}" for n in range(1000)]:
        if guess != code and guess not in one_typo_away(code):
            with pytest.raises(BadCode):
                book.claim(guess)
    for text in ("12345", "not a code"):
        with pytest.raises(BadCode):
            book.claim(text)
    assert book.take_burned() == [] and book.code_of("agent-1") == code


def test_one_typo_away_is_one_digit_changed_or_two_neighbours_swapped() -> None:
    near = one_typo_away("123456789")
    assert len(near) == 9 * 9 + 8
    assert {"023456789", "123456780", "213456789", "123456798"} <= near
    assert "123456789" not in near and "321456789" not in near and "003456789" not in near
    assert len(one_typo_away("111111111")) == 81  # swapping equal digits is no typo


def test_codes_expire() -> None:
    clock = Clock()
    book = CodeBook(ttl=600, clock=clock)
    code = book.issue("agent-1")
    clock.now += 599
    assert book.code_of("agent-1") == code
    clock.now += 2
    assert book.sweep() == ["agent-1"]
    with pytest.raises(CodeExpired):
        book.claim(code)


def test_technicians_file(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "technicians.json"
    path.write_text('{"Alice Martin": "s3cret", "Bob": "sha256:' + hashlib.sha256(b"hunter2").hexdigest() + '"}')
    technicians = Technicians.from_file(path)
    assert technicians.admit("Alice Martin", "s3cret") == "Alice Martin"
    assert technicians.admit("Bob", "hunter2") == "Bob"
    for name, key in (("Alice Martin", "wrong"), ("Mallory", "s3cret"), ("Bob", None), ("", "x")):
        with pytest.raises(Unauthorized):
            technicians.admit(name, key)
    path.write_text("[1, 2]")
    with pytest.raises(BadParams):
        Technicians.from_file(path)


def test_open_relay_admits_any_named_technician() -> None:
    assert Technicians.open().admit("anyone", None) == "anyone"
    with pytest.raises(Unauthorized):
        Technicians.open().admit("   ", None)

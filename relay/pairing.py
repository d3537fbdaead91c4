"""One-time session codes and technician admission, without I/O.

A code is 9 random digits, shown to the customer as ``123 456 789``.  It is
used once, expires after ``ttl`` seconds, and is burned after ``max_wrong``
tries *against it*: a wrong code one typo away from it (one digit wrong, or two
neighbouring digits swapped), which is what someone who half-read it types.  Any
other wrong code is aimed at no code in particular and burns none, so a guesser
can never take another customer's code away; how many tries a guesser gets is
bounded by :class:`relay.limits.PairingLimiter`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wire.errors import BadCode, BadParams, CodeBurned, CodeExpired, CodeInUse, Unauthorized

CODE_DIGITS = 9


def normalise_code(text: str) -> str:
    """Strip spaces and dashes; raises :class:`BadCode` unless 9 digits remain."""
    digits = "".join(ch for ch in str(text) if ch not in " -\t")
    if len(digits) != CODE_DIGITS or not digits.isdigit() or not digits.isascii():
        raise BadCode("a session code is 9 digits, as the customer's window shows them")
    return digits


def one_typo_away(code: str) -> set[str]:
    """The codes one typo away from *code*: one digit changed, or two neighbouring digits swapped."""
    near: set[str] = set()
    for i, digit in enumerate(code):
        near.update(code[:i] + other + code[i + 1:] for other in "0123456789" if other != digit)
        if i + 1 < len(code) and code[i + 1] != digit:
            near.add(code[:i] + code[i + 1] + digit + code[i + 2:])
    return near


def random_code() -> str:
    """A new code: :data:`CODE_DIGITS` random digits."""
    return "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))


def format_code(code: str) -> str:
    """``123456789`` → ``123 456 789``."""
    return f"{code[0:3]} {code[3:6]} {code[6:9]}"


@dataclass
class _Waiting:
    owner: str
    expires_at: float
    wrong_tries: int = 0


@dataclass
class CodeBook:
    """The codes waiting for a technician; owners are the agents' connection keys."""

    ttl: float = 600.0
    max_wrong: int = 5
    clock: Callable[[], float] = time.monotonic
    #: where new codes come from: drawn at random here, or handed by a cluster's shared book
    #: (relay.cluster.codes: codes already reserved for this relay across all relays)
    draw: Callable[[], str] | None = None
    _waiting: dict[str, _Waiting] = field(default_factory=dict)
    #: codes no longer usable, with why and when, so a late technician is told plainly
    _retired: dict[str, tuple[str, float]] = field(default_factory=dict)
    #: owners whose code was burned and who have not been handed a new one yet
    _burned_owners: list[str] = field(default_factory=list)

    def issue(self, owner: str) -> str:
        """Give *owner* a fresh code, withdrawing any code it held."""
        self.withdraw(owner)
        while True:
            code = self.draw() if self.draw else random_code()
            if code not in self._waiting and code not in self._retired:
                break
        self._waiting[code] = _Waiting(owner, self.clock() + self.ttl)
        return code

    def is_waiting(self, code: str) -> bool:
        """Whether *code* (normalised) waits for a technician now: :meth:`claim` would succeed."""
        entry = self._waiting.get(code)
        return entry is not None and entry.expires_at > self.clock()

    def withdraw(self, owner: str) -> None:
        """Forget the code held by *owner* (its agent left or was paired)."""
        for code in [c for c, w in self._waiting.items() if w.owner == owner]:
            del self._waiting[code]

    def claim(self, text: str) -> str:
        """Use the code typed by a technician; return its owner.

        Raises :class:`BadCode` (malformed, or no such code: a wrong try against
        the codes one typo away from it), :class:`CodeExpired`, :class:`CodeBurned`,
        :class:`CodeInUse` (the code already opened a session: a good code, not a wrong
        try).  A successful claim removes the code: it never works twice.
        """
        self.sweep()
        code = normalise_code(text)
        waiting = self._waiting.pop(code, None)
        if waiting is not None:
            self._retired[code] = ("used", self.clock())
            return waiting.owner
        reason = self._retired.get(code, ("", 0.0))[0]
        if reason == "expired":
            raise CodeExpired("this session code has expired; ask the customer for the new one their window shows")
        if reason == "burned":
            raise CodeBurned("this session code was blocked after too many wrong tries; "
                             "ask the customer for the new one their window shows")
        if reason == "used":
            raise CodeInUse("this session code is already in use: it opened a session, and a code opens only one; "
                            "close that session, or ask the customer for the code their window shows now")
        self._count_wrong_try(code)
        raise BadCode("no session is waiting with this code")

    def _count_wrong_try(self, guess: str) -> None:
        """Count *guess* against each waiting code it is one typo away from (none, nearly always)."""
        for code in one_typo_away(guess):
            entry = self._waiting.get(code)
            if entry is None:
                continue
            entry.wrong_tries += 1
            if entry.wrong_tries >= self.max_wrong:
                del self._waiting[code]
                self._retired[code] = ("burned", self.clock())
                self._burned_owners.append(entry.owner)

    def take_burned(self) -> list[str]:
        """Owners whose code was burned since the last call; they need a new code."""
        owners, self._burned_owners = self._burned_owners, []
        return owners

    def sweep(self) -> list[str]:
        """Expire old codes; return the owners whose code just expired."""
        now = self.clock()
        expired: list[str] = []
        for code, entry in list(self._waiting.items()):
            if entry.expires_at <= now:
                del self._waiting[code]
                self._retired[code] = ("expired", now)
                expired.append(entry.owner)
        for code, (_, when) in list(self._retired.items()):
            if when + self.ttl < now:
                del self._retired[code]
        return expired

    def code_of(self, owner: str) -> str | None:
        """The code *owner* holds now, or None."""
        for code, entry in self._waiting.items():
            if entry.owner == owner:
                return code
        return None


def hash_secret(secret: str) -> str:
    """sha256 hex of a secret, for storing tokens and keys."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Technicians:
    """Who may pair: names and keys from a file, or anyone (an open relay).

    The file is a JSON object ``{"Alice Martin": "key", "Bob": "sha256:<hex>"}``;
    keys may be stored in clear or as ``sha256:`` digests.
    """

    def __init__(self, keys: dict[str, str] | None) -> None:
        self._keys = keys

    @classmethod
    def open(cls) -> Technicians:
        return cls(None)

    @classmethod
    def from_file(cls, path: Path) -> Technicians:
        """Load the technicians file; raises :class:`BadParams` when it is malformed, OSError when unreadable."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as err:
            raise BadParams(f"{path}: not JSON: {err}") from err
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise BadParams(f"{path}: expected a JSON object of technician name to key")
        return cls(dict(data))

    @property
    def is_open(self) -> bool:
        return self._keys is None

    def admit(self, name: object, key: object) -> str:
        """Return the technician's name when admitted; raises :class:`Unauthorized`."""
        if not isinstance(name, str) or not name.strip() or len(name) > 128:
            raise Unauthorized("a technician name is required")
        if self._keys is None:
            return name.strip()
        stored = self._keys.get(name.strip())
        if stored is None or not isinstance(key, str):
            raise Unauthorized("unknown technician or wrong key")
        offered = ("sha256:" + hash_secret(key)) if stored.startswith("sha256:") else key
        if not hmac.compare_digest(stored.encode(), offered.encode()):
            raise Unauthorized("unknown technician or wrong key")
        return name.strip()

"""The one record of the inventory: :class:`Fact`, and what firmware values mean.

A fact is never a guess.  Its ``status`` says whether ``value`` is there:

``ok``
    ``value`` holds what ``source`` said (never ``None``, never an empty string).
``unavailable``
    the source is absent, failed, or gave a placeholder; ``detail`` says which.
``denied``
    the operating system refused to tell this user (e.g. Linux DMI serial is root-only).
``unsupported``
    the fact does not exist on this operating system (e.g. a service pack on Linux).

The rules are checked when a :class:`Fact` is built, so a collector cannot
pass off an empty string or ``"To Be Filled By O.E.M."`` as a value: use
:func:`text_fact` for any text that came from firmware or another program.
Both sides of the wire share this module (the workbench rebuilds facts with
:meth:`Fact.from_wire`); it does no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

Status = Literal["ok", "unavailable", "denied", "unsupported"]
STATUSES: Final[frozenset[str]] = frozenset({"ok", "unavailable", "denied", "unsupported"})

#: The agent method that collects the inventory.
COLLECT_METHOD: Final = "inventory.collect"
#: The version of the wire value returned by :data:`COLLECT_METHOD`.
WIRE_VERSION: Final = 1

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")

# Strings that firmware and OEM images put where a real value belongs.  Compared
# case-insensitively after trimming spaces, NULs and dots.
PLACEHOLDERS: Final[frozenset[str]] = frozenset(
    s.casefold()
    for s in (
        "To Be Filled By O.E.M", "To be filled by OEM", "O.E.M", "OEM", "Default string", "Default",
        "System Serial Number", "System Product Name", "System manufacturer", "System Version",
        "System SKU Number", "Chassis Serial Number", "Base Board Serial Number", "Board Serial Number",
        "Not Specified", "Not Applicable", "Not Available", "None", "N/A", "NA", "Unknown", "Invalid",
        "Type1ProductConfigId", "Type1Family", "SKU", "Serial", "XXXXXXXX", "x.x", "0123456789",
        "123456789", "1234567890", "12345678", "Filled By O.E.M",
    )
)

_ALL_SAME = re.compile(r"^([0-9a-fA-FxX])\1*$")


def placeholder_reason(raw: str) -> str | None:
    """Return why *raw* is not a real value (empty, a known placeholder, all zeros), or None.

    Raises nothing.
    """
    text = raw.replace("\x00", "").strip().strip(".").strip()
    if not text:
        return "empty value" if not raw.strip() else f"placeholder {raw.strip()!r}"
    if text.casefold() in PLACEHOLDERS:
        return f"firmware placeholder {text!r}"
    compact = text.replace("-", "").replace(" ", "").replace(":", "")
    if compact and _ALL_SAME.match(compact) and (compact[0] in "0fFxX" or len(compact) >= 6):
        return f"placeholder {text!r} (one repeated character)"
    return None


#: SMBIOS chassis types (DMTF DSP0134, table "System Enclosure or Chassis Types").
#: 1 ("Other") and 2 ("Unknown") are placeholders and are left out on purpose.
CHASSIS_TYPES: Final[dict[int, str]] = {
    3: "desktop", 4: "low-profile desktop", 5: "pizza box", 6: "mini tower", 7: "tower", 8: "portable",
    9: "laptop", 10: "notebook", 11: "hand-held", 12: "docking station", 13: "all-in-one", 14: "sub-notebook",
    15: "space-saving", 16: "lunch box", 17: "main server chassis", 18: "expansion chassis", 19: "sub-chassis",
    20: "bus expansion chassis", 21: "peripheral chassis", 22: "RAID chassis", 23: "rack mount chassis",
    24: "sealed-case PC", 25: "multi-system chassis", 26: "compact PCI", 27: "advanced TCA", 28: "blade",
    29: "blade enclosure", 30: "tablet", 31: "convertible", 32: "detachable", 33: "IoT gateway",
    34: "embedded PC", 35: "mini PC", 36: "stick PC",
}


@dataclass(frozen=True)
class Fact:
    """One piece of system information, with where it came from and how sure it is.

    ``name`` is a stable dotted id (``"os.build"``); facts that exist once per
    volume or per browser also carry a ``subject`` (``"/"``, ``"chromium"``),
    and :attr:`key` (``"disk.free[/]"``) tells them apart.  ``personal`` marks
    personal data (the serial number).  ``detail`` says why a fact is not
    ``ok``; on an ``ok`` fact it is an optional note.

    Raises ValueError when built against these rules.
    """

    name: str
    value: Any
    status: Status
    source: str
    personal: bool = False
    detail: str | None = None
    subject: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"fact name {self.name!r} is not a dotted id")
        if self.status not in STATUSES:
            raise ValueError(f"fact {self.name}: unknown status {self.status!r}")
        if not self.source:
            raise ValueError(f"fact {self.name}: no source")
        if self.subject is not None and not self.subject:
            raise ValueError(f"fact {self.name}: empty subject")
        if self.status == "ok":
            if self.value is None or (isinstance(self.value, str) and not self.value.strip()):
                raise ValueError(f"fact {self.name}: an ok fact needs a value")
        else:
            if self.value is not None:
                raise ValueError(f"fact {self.name}: a {self.status} fact carries no value")
            if not self.detail:
                raise ValueError(f"fact {self.name}: a {self.status} fact needs a detail saying why")

    @property
    def key(self) -> str:
        """The fact's unique id in one inventory: ``name`` or ``name[subject]``."""
        return self.name if self.subject is None else f"{self.name}[{self.subject}]"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_wire(self) -> dict[str, Any]:
        """Return the fact as a JSON-able dict."""
        return {
            "name": self.name,
            "subject": self.subject,
            "value": self.value,
            "status": self.status,
            "source": self.source,
            "personal": self.personal,
            "detail": self.detail,
        }

    @classmethod
    def from_wire(cls, body: Any) -> Fact:
        """Rebuild a fact from :meth:`to_wire`'s dict.

        Raises ValueError when *body* is not a well-formed fact.
        """
        if not isinstance(body, dict):
            raise ValueError(f"a fact must be an object, not {type(body).__name__}")
        for field_name, kinds in (("name", str), ("status", str), ("source", str), ("personal", bool)):
            if not isinstance(body.get(field_name), kinds):
                raise ValueError(f"fact field {field_name!r} missing or of the wrong type")
        for field_name in ("detail", "subject"):
            if body.get(field_name) is not None and not isinstance(body[field_name], str):
                raise ValueError(f"fact field {field_name!r} must be a string or null")
        return cls(
            name=body["name"], value=body.get("value"), status=cast(Status, body["status"]), source=body["source"],
            personal=body["personal"], detail=body.get("detail"), subject=body.get("subject"),
        )


def ok(name: str, value: Any, source: str, *, personal: bool = False, subject: str | None = None,
       note: str | None = None) -> Fact:
    """Return an ``ok`` fact; raises ValueError when *value* is None or blank."""
    return Fact(name, value, "ok", source, personal=personal, detail=note, subject=subject)


def missing(name: str, status: Status, source: str, detail: str, *, personal: bool = False,
            subject: str | None = None) -> Fact:
    """Return a fact without a value: *status* is ``unavailable``, ``denied`` or ``unsupported``.

    Raises ValueError when *status* is ``ok`` or *detail* is empty.
    """
    if status == "ok":
        raise ValueError("missing() builds facts without a value; use ok()")
    return Fact(name, None, status, source, personal=personal, detail=detail, subject=subject)


def text_fact(name: str, raw: str | None, source: str, *, personal: bool = False,
              subject: str | None = None) -> Fact:
    """Return an ``ok`` fact for the trimmed *raw* text, or ``unavailable`` naming the placeholder.

    Raises nothing.
    """
    if raw is None:
        return missing(name, "unavailable", source, "no value given", personal=personal, subject=subject)
    reason = placeholder_reason(raw)
    if reason is not None:
        return missing(name, "unavailable", source, reason, personal=personal, subject=subject)
    return ok(name, " ".join(raw.replace("\x00", "").split()), source, personal=personal, subject=subject)


def chassis_fact(code: int | None, source: str) -> Fact:
    """Return ``machine.chassis`` for an SMBIOS chassis type *code*; raises nothing."""
    if code is None:
        return missing("machine.chassis", "unavailable", source, "no chassis type given")
    label = CHASSIS_TYPES.get(code)
    if label is None:
        placeholder = {1: "Other", 2: "Unknown"}.get(code)
        why = (f"firmware placeholder chassis type {code} ({placeholder})" if placeholder
               else f"unknown chassis type {code}")
        return missing("machine.chassis", "unavailable", source, why)
    return ok("machine.chassis", label, source)

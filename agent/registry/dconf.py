"""GNOME's dconf as the registry of a Linux desktop, through the ``dconf`` command.

dconf is a tree of *directories* holding *keys*; here a directory is a
registry key (path ``/org/gnome/desktop/interface``) and a dconf key is a
value.  Directories exist only while something is below them, so a key with
nothing in it is ``NotFound``, and ``set`` creates its key by writing.
Reading needs only the files under ``$XDG_CONFIG_HOME/dconf``; writing goes
through dconf's D-Bus service, so it needs a session bus
(``dbus-run-session`` provides one on a headless machine).

Types
=====
Each dconf value is a GVariant; the registry type shown is its honest
equivalent, and ``native`` always gives the GVariant type:

==========================  ==============  ===================================
GVariant                    registry type   data
==========================  ==============  ===================================
``s``                       REG_SZ          string
``as``                      REG_MULTI_SZ    list of strings
``ay``                      REG_BINARY      bytes
``i`` ``u`` ``n`` ``q`` ``y``  REG_DWORD    integer (signed ones may be negative)
``b``                       REG_DWORD       0 or 1 (Windows' own way to keep a flag)
``x`` ``t``                 REG_QWORD       integer
anything else               GVARIANT        its GVariant text (read only)
==========================  ==============  ===================================

Writing keeps the type a key already has: ``set`` with a registry type that
does not match it is ``BadParams`` (GSettings would silently ignore a value of
the wrong type); delete the value first to change its type.  A new key gets
``s``, ``as``, ``ay``, ``i`` (``u`` above 2³¹−1), ``x`` (``t`` above 2⁶³−1).
REG_EXPAND_SZ and GVARIANT values cannot be written (``Unsupported``), nor can
the default value (dconf has none: ``BadParams``).

Errors: ``Unavailable`` when ``dconf`` is missing or its service cannot be
reached (no D-Bus session), ``Timeout`` when it does not answer in time,
``BadParams`` when it refuses a name.
"""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from agent.registry.backend import KeyListing, Scope
from agent.registry.model import GVARIANT, RegValue
from agent.registry.paths import KeyPath
from wire.errors import BadParams, NotFound, Timeout, Unavailable, Unsupported

_RANGES: Final[dict[str, tuple[int, int]]] = {
    "b": (0, 1),
    "y": (0, 0xFF),
    "n": (-(1 << 15), (1 << 15) - 1),
    "q": (0, 0xFFFF),
    "i": (-(1 << 31), (1 << 31) - 1),
    "u": (0, 0xFFFFFFFF),
    "x": (-(1 << 63), (1 << 63) - 1),
    "t": (0, (1 << 64) - 1),
}
_NUMBER_KEYWORDS: Final = {"byte": "y", "int16": "n", "uint16": "q", "int32": "i", "uint32": "u", "int64": "x",
                           "uint64": "t"}
_KEYWORD_OF: Final = {code: keyword for keyword, code in _NUMBER_KEYWORDS.items()}
_DWORD_TYPES: Final = frozenset("bynqiu")
_QWORD_TYPES: Final = frozenset("xt")
_REGISTRY_TYPE: Final = {"s": "REG_SZ", "as": "REG_MULTI_SZ", "ay": "REG_BINARY",
                         **{code: "REG_DWORD" for code in _DWORD_TYPES}, **{code: "REG_QWORD" for code in _QWORD_TYPES}}
_ESCAPES: Final = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


class Unmapped(ValueError):
    """A GVariant text this module does not turn into a registry value."""


class _Parser:
    """Reads the part of the GVariant text format (as ``dconf read`` prints it) that maps to registry types."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def _skip(self) -> None:
        while self.position < len(self.text) and self.text[self.position].isspace():
            self.position += 1

    def _peek(self, length: int = 1) -> str:
        return self.text[self.position:self.position + length]

    def _word(self) -> str:
        match = re.compile(r"[A-Za-z_@][A-Za-z0-9_{}()]*").match(self.text, self.position)
        if not match:
            return ""
        self.position = match.end()
        return match.group(0)

    def parse(self) -> tuple[str, Any]:
        result = self._value()
        self._skip()
        if self.position != len(self.text):
            raise Unmapped("more after the value")
        return result

    def _value(self, hint: str | None = None) -> tuple[str, Any]:
        self._skip()
        char = self._peek()
        if char in ("'", '"'):
            if hint not in (None, "s"):
                raise Unmapped("a string where something else was expected")
            return "s", self._string()
        if self._peek(2) in ("b'", 'b"'):
            self.position += 1
            return "ay", self._string(as_bytes=True)
        if char == "[":
            return self._array(hint)
        if char == "@":
            kind = self._word()[1:]
            if kind not in _REGISTRY_TYPE:
                raise Unmapped(f"type {kind}")
            return self._value(kind)
        if char.isalpha():
            start = self.position
            word = self._word()
            if word in ("true", "false"):
                return "b", word == "true"
            if word in _NUMBER_KEYWORDS:
                return self._value(_NUMBER_KEYWORDS[word])
            self.position = start
            raise Unmapped(f"keyword {word}")
        return self._number(hint or "i")

    def _number(self, kind: str) -> tuple[str, Any]:
        match = re.compile(r"[-+]?(0x[0-9a-fA-F]+|[0-9]+)(?![.eE0-9a-zA-Z])").match(self.text, self.position)
        if not match or kind not in _RANGES or kind == "b":
            raise Unmapped("not an integer")
        self.position = match.end()
        return kind, int(match.group(0), 0)

    def _string(self, as_bytes: bool = False) -> Any:
        quote = self.text[self.position]
        self.position += 1
        out: list[str] = []
        while True:
            if self.position >= len(self.text):
                raise Unmapped("unterminated string")
            char = self.text[self.position]
            self.position += 1
            if char == quote:
                break
            if char != "\\":
                out.append(char)
                continue
            escape = self.text[self.position:self.position + 1]
            self.position += 1
            if escape in _ESCAPES:
                out.append(_ESCAPES[escape])
            elif escape in "uU" and not as_bytes:
                width = 4 if escape == "u" else 8
                digits = self.text[self.position:self.position + width]
                if not re.fullmatch(r"[0-9a-fA-F]+", digits) or len(digits) != width:
                    raise Unmapped("bad unicode escape")
                out.append(chr(int(digits, 16)))
                self.position += width
            elif escape.isdigit() and as_bytes:
                octal = re.compile(r"[0-7]{1,3}").match(self.text, self.position - 1)
                if not octal:
                    raise Unmapped("bad octal escape")
                out.append(chr(int(octal.group(0), 8)))
                self.position = octal.end()
            else:
                out.append(escape)
        text = "".join(out)
        if as_bytes:
            return text.encode("latin-1", "strict") + b"\x00"  # b'…' is NUL-terminated
        return text

    def _array(self, hint: str | None) -> tuple[str, Any]:
        if hint not in (None, "as", "ay"):
            raise Unmapped("an array where something else was expected")
        self.position += 1
        items: list[tuple[str, Any]] = []
        item_hint = hint[1] if hint else None
        while True:
            self._skip()
            if self._peek() == "]":
                self.position += 1
                break
            if items:
                if self._peek() != ",":
                    raise Unmapped("expected a comma")
                self.position += 1
            kind, item = self._value(item_hint)
            item_hint = kind
            items.append((kind, item))
        kinds = {kind for kind, _ in items} | ({hint[1]} if hint else set())
        if kinds == {"s"}:
            return "as", [item for _, item in items]
        if kinds == {"y"}:
            return "ay", bytes(item for _, item in items)
        raise Unmapped("an array of another type")


def parse_gvariant(text: str) -> tuple[str, Any]:
    """``(GVariant type, Python value)`` for the text of a registry-mappable value.

    Raises :class:`Unmapped` for any other value (a double, a tuple, …).
    """
    try:
        return _Parser(text.strip()).parse()
    except (IndexError, UnicodeEncodeError) as err:
        raise Unmapped(str(err)) from err


def gvariant_value(name: str, text: str) -> RegValue:
    """The registry value for dconf key *name* holding GVariant *text* (see the module docstring)."""
    try:
        kind, data = parse_gvariant(text)
    except Unmapped:
        return RegValue(name, GVARIANT, text.strip(), native=_type_of_text(text))
    if kind == "b":
        data = int(data)
    return RegValue(name, _REGISTRY_TYPE[kind], data, native=kind)


def _type_of_text(text: str) -> str | None:
    match = re.match(r"\s*@(\S+)", text)
    if match:
        return match.group(1)
    word = re.match(r"\s*([a-z0-9]+)\s", text)
    if word and word.group(1) in ("objectpath", "signature", "double", "handle"):
        return {"objectpath": "o", "signature": "g", "double": "d", "handle": "h"}[word.group(1)]
    if re.fullmatch(r"\s*[-+]?(\d+\.\d*|\d*\.\d+|\d+)([eE][-+]?\d+)?\s*|\s*(inf|nan)\s*", text):
        return "d"
    return None


def quote_string(text: str) -> str:
    """*text* as a single-quoted GVariant string."""
    out = ["'"]
    for char in text:
        if char in ("\\", "'"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif not char.isprintable():
            out.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
        else:
            out.append(char)
    out.append("'")
    return "".join(out)


def _native_for(value: RegValue, current: str | None) -> str:
    type_ = value.type
    if type_ == "REG_EXPAND_SZ":
        raise Unsupported("dconf has no expandable strings; use REG_SZ")
    if type_ not in ("REG_SZ", "REG_MULTI_SZ", "REG_BINARY", "REG_DWORD", "REG_QWORD"):
        raise Unsupported(f"{type_} values cannot be written to dconf")
    if current is None:
        data = value.data
        if type_ == "REG_DWORD":
            return "i" if isinstance(data, int) and data < (1 << 31) else "u"
        if type_ == "REG_QWORD":
            return "x" if isinstance(data, int) and data < (1 << 63) else "t"
        return {"REG_SZ": "s", "REG_MULTI_SZ": "as", "REG_BINARY": "ay"}[type_]
    if _REGISTRY_TYPE.get(current) != type_:
        shown = _REGISTRY_TYPE.get(current, "a value with no registry type")
        raise BadParams(f"{value.name!r} holds a GVariant {current!r} ({shown}); write that type, or delete the "
                        "value first to change its type", param="type", native=current)
    return current


def to_gvariant(value: RegValue, current: str | None = None) -> str:
    """The GVariant text that stores *value* in a key whose type is now *current* (None: a new key).

    Raises ``BadParams`` for a type change or an integer out of the native
    range, ``Unsupported`` for REG_EXPAND_SZ and non-registry types.
    """
    kind = _native_for(value, current)
    data = value.data
    if kind == "s" and isinstance(data, str):
        return quote_string(data)
    if kind == "as" and isinstance(data, list):
        return "[" + ", ".join(quote_string(item) for item in data) + "]" if data else "@as []"
    if kind == "ay" and isinstance(data, bytes):
        return "[" + ", ".join(f"byte 0x{byte:02x}" for byte in data) + "]" if data else "@ay []"
    if kind in _RANGES and isinstance(data, int):
        low, high = _RANGES[kind]
        if not low <= data <= high:
            raise BadParams(f"{value.name!r} is a GVariant {kind!r}: data must be between {low} and {high}",
                            param="data", native=kind)
        if kind == "b":
            return "true" if data else "false"
        return f"{_KEYWORD_OF[kind]} {data}"
    raise BadParams(f"{value.type} data cannot be {type(data).__name__}", param="data")


def parse_dump(text: str) -> dict[KeyPath, list[tuple[str, str]]]:
    """The sections of ``dconf dump`` output: relative directory → ``(key, GVariant text)`` pairs."""
    sections: dict[KeyPath, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("[") and line.rstrip().endswith("]"):
            name = line.strip()[1:-1]
            current = sections.setdefault(tuple(part for part in name.split("/") if part), [])
            continue
        key, equals, rest = line.partition("=")
        if not equals or current is None:
            raise Unavailable(f"cannot read dconf's dump: {line[:60]!r}")
        current.append((key, rest))
    return sections


class DconfBackend:
    """The live registry of a Linux desktop (see the module docstring).

    *env* is the environment of the ``dconf`` processes (default: the agent's).
    """

    kind = "dconf"
    separator = "/"
    atomic = True

    def __init__(self, env: Mapping[str, str] | None = None, command: str = "dconf", timeout: float = 10.0) -> None:
        self.env = dict(env) if env is not None else None
        self.command = command
        self.timeout = timeout

    def _run(self, *args: str, stdin: str | None = None) -> str:
        try:
            done = subprocess.run([self.command, *args], input=stdin, capture_output=True, text=True,
                                  encoding="utf-8", errors="surrogateescape", env=self.env, timeout=self.timeout,
                                  check=False)
        except FileNotFoundError as err:
            raise Unavailable("dconf is not installed on this computer") from err
        except subprocess.TimeoutExpired as err:
            raise Timeout(f"dconf did not answer within {self.timeout} s") from err
        if done.returncode != 0:
            message = done.stderr.strip().splitlines()[0] if done.stderr.strip() else f"exit {done.returncode}"
            if re.search(r"d-?bus|autolaunch|session bus|could not connect", done.stderr, re.I):
                raise Unavailable(f"cannot reach dconf's service (is there a desktop session?): {message}")
            raise BadParams(f"dconf refused: {message}")
        return done.stdout

    def display(self, key: KeyPath) -> str:
        return "/" + "/".join(key)

    def policy_names(self, key: KeyPath) -> list[KeyPath]:
        return [key]

    @staticmethod
    def _dir(key: KeyPath) -> str:
        return "/" + "".join(part + "/" for part in key)

    def _key(self, key: KeyPath, name: str) -> str:
        if not name:
            raise BadParams("dconf has no default value: name a key", param="name")
        if "/" in name:
            raise BadParams("dconf key names cannot contain '/'", param="name")
        return self._dir(key) + name

    def exists(self, key: KeyPath) -> bool:
        return not key or bool(self._run("list", self._dir(key)).strip())

    def keys(self, key: KeyPath) -> list[str]:
        entries = self._run("list", self._dir(key)).splitlines()
        if key and not entries:
            raise NotFound(f"nothing in dconf under {self.display(key)}")
        return [entry[:-1] for entry in entries if entry.endswith("/")]

    def values(self, key: KeyPath) -> list[RegValue]:
        for listing in self.walk(key, lambda _: True):
            return listing.values
        return []

    def walk(self, key: KeyPath, skip: Callable[[KeyPath], bool]) -> Iterator[KeyListing]:
        sections = parse_dump(self._run("dump", self._dir(key)))
        if key and not sections:
            raise NotFound(f"nothing in dconf under {self.display(key)}")
        directories = {relative[:depth] for relative in sections for depth in range(len(relative) + 1)}
        directories.add(())
        pending: list[KeyPath] = [()]
        while pending:
            relative = pending.pop()
            absolute = (*key, *relative)
            if relative and skip(absolute):
                yield KeyListing(absolute, [], [], skipped=True)
                continue
            children = sorted({d[len(relative)] for d in directories
                               if len(d) > len(relative) and d[:len(relative)] == relative})
            values = [gvariant_value(name, text) for name, text in sections.get(relative, [])]
            yield KeyListing(absolute, values, children)
            pending.extend((*relative, child) for child in reversed(children))

    def _read(self, key: KeyPath, name: str) -> str | None:
        text = self._run("read", self._key(key, name)).strip()
        return text or None

    def get(self, key: KeyPath, name: str) -> RegValue:
        text = self._read(key, name)
        if text is None:
            raise NotFound(f"no dconf key {self._key(key, name)}")
        return gvariant_value(name, text)

    def set(self, key: KeyPath, value: RegValue) -> None:
        current = self._read(key, value.name)
        native = None
        if current is not None:
            try:
                native = parse_gvariant(current)[0]
            except Unmapped:
                native = _type_of_text(current) or "?"
        self._run("write", self._key(key, value.name), to_gvariant(value, native))

    def delete_value(self, key: KeyPath, name: str) -> None:
        if self._read(key, name) is None:
            raise NotFound(f"no dconf key {self._key(key, name)}")
        self._run("reset", self._key(key, name))

    def delete_key(self, key: KeyPath) -> None:
        if not key:
            raise BadParams("the whole of dconf cannot be deleted at once", param="path")
        if not self.exists(key):
            raise NotFound(f"nothing in dconf under {self.display(key)}")
        self._run("reset", "-f", self._dir(key))

    def capture(self, scope: Scope, blobs: Path | None) -> Any:
        """A value's GVariant text, or a directory's ``dconf dump`` (base64 of its UTF-8), exactly."""
        if scope.name is not None:
            text = self._read(scope.key, scope.name)
            return None if text is None else {"gvariant": text}
        if not self.exists(scope.key):
            return None
        dump = self._run("dump", self._dir(scope.key))
        return {"dump": base64.b64encode(dump.encode("utf-8", "surrogateescape")).decode("ascii")}

    def restore(self, scope: Scope, state: Any, blobs: Path) -> None:
        if scope.name is not None:
            if state is None:
                self._run("reset", self._key(scope.key, scope.name))
            else:
                self._run("write", self._key(scope.key, scope.name), str(state["gvariant"]))
            return
        if scope.key:
            self._run("reset", "-f", self._dir(scope.key))
        if state is not None:
            dump = base64.b64decode(state["dump"]).decode("utf-8", "surrogateescape")
            self._run("load", self._dir(scope.key), stdin=dump)

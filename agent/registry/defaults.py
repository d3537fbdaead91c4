"""macOS preferences as the registry, through the ``defaults`` command: a thin adapter.

A path starts with a preferences *domain* (``com.apple.finder``,
``NSGlobalDomain``); the empty path lists the domains.  Inside a domain,
dictionaries are keys and everything else is a value, so
``com.apple.finder/FXRecentFolders`` may be a key.  A domain is read whole
with ``defaults export <domain> -`` and written whole with ``defaults import
<domain> -`` (``cfprefsd`` applies it at once), so a nested change is exact.

Types (``native`` gives the property list type):

=================  ==============  ============================================
property list      registry type   data
=================  ==============  ============================================
string             REG_SZ          string
integer            REG_QWORD       integer (a property list integer has 64 bits)
boolean            REG_DWORD       0 or 1
data               REG_BINARY      bytes
array of strings   REG_MULTI_SZ    list of strings
dictionary         a key
real, date, other  PLIST           a description (read only)
=================  ==============  ============================================

Writing keeps an existing value's type (``BadParams`` otherwise; REG_DWORD and
REG_QWORD both write an integer); a new value takes the table's type.
REG_EXPAND_SZ has no equivalent (``Unsupported``), nor has the default value
(``BadParams``).  ``Unavailable`` when ``defaults`` cannot be run.

The pure part (:func:`plist_value`, :func:`plist_object`, the tree helpers)
is tested on every OS; the command itself only on macOS.

Availability: macOS.
"""

from __future__ import annotations

import base64
import datetime as dt
import plistlib
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from agent.registry.backend import KeyListing, Scope, walk_keys
from agent.registry.model import PLIST, RegValue
from agent.registry.paths import KeyPath
from wire.errors import BadParams, NotFound, Timeout, Unavailable, Unsupported

#: ``runner(arguments, stdin) -> (exit status, stdout, stderr)``
Runner = Callable[[Sequence[str], "bytes | None"], "tuple[int, bytes, bytes]"]

GLOBAL_DOMAIN: Final = "NSGlobalDomain"
_INT_RANGE: Final = (-(1 << 63), (1 << 64) - 1)


def _describe(obj: Any) -> str:
    if isinstance(obj, float):
        return f"real {obj!r}"
    if isinstance(obj, dt.datetime):
        return f"date {obj.isoformat()}"
    if isinstance(obj, list):
        return f"array of {len(obj)} items"
    return type(obj).__name__


def plist_value(name: str, obj: Any) -> RegValue:
    """The registry value for property list object *obj* (not a dictionary) called *name*."""
    if isinstance(obj, bool):
        return RegValue(name, "REG_DWORD", int(obj), native="boolean")
    if isinstance(obj, int):
        return RegValue(name, "REG_QWORD", obj, native="integer")
    if isinstance(obj, str):
        return RegValue(name, "REG_SZ", obj, native="string")
    if isinstance(obj, bytes):
        return RegValue(name, "REG_BINARY", obj, native="data")
    if isinstance(obj, list) and all(isinstance(item, str) for item in obj):
        return RegValue(name, "REG_MULTI_SZ", list(obj), native="array")
    native = {float: "real", dt.datetime: "date", list: "array"}.get(type(obj), type(obj).__name__)
    return RegValue(name, PLIST, _describe(obj), native=native)


def plist_object(value: RegValue, current: Any = None) -> Any:
    """The property list object that stores *value* where *current* is now (None: nothing).

    Raises ``BadParams`` when that would change an existing value's type or
    replace a dictionary, ``Unsupported`` for REG_EXPAND_SZ and other types.
    """
    data = value.data
    if value.type == "REG_EXPAND_SZ":
        raise Unsupported("macOS preferences have no expandable strings; use REG_SZ")
    if value.name == "":
        raise BadParams("macOS preferences have no default value: name one", param="name")
    if isinstance(current, dict):
        raise BadParams(f"{value.name!r} is a dictionary (a key); delete it first to put a value there",
                        param="name")
    kind = None if current is None else plist_value(value.name, current)
    if kind is not None and (kind.type == PLIST or not (
            kind.type == value.type or {kind.type, value.type} == {"REG_DWORD", "REG_QWORD"})):
        raise BadParams(f"{value.name!r} holds a {kind.native} ({kind.type}); write that type, or delete the value "
                        "first to change its type", param="type", native=kind.native)
    if value.type in ("REG_DWORD", "REG_QWORD") and isinstance(data, int):
        if isinstance(current, bool):
            if data not in (0, 1):
                raise BadParams(f"{value.name!r} is a boolean: data must be 0 or 1", param="data")
            return bool(data)
        if not _INT_RANGE[0] <= data <= _INT_RANGE[1]:
            raise BadParams("property list integers have 64 bits", param="data")
        return data
    if value.type == "REG_SZ" and isinstance(data, str):
        return data
    if value.type == "REG_BINARY" and isinstance(data, bytes):
        return data
    if value.type == "REG_MULTI_SZ" and isinstance(data, list):
        return list(data)
    raise Unsupported(f"{value.type} values cannot be written to macOS preferences")


def subtree(root: dict[str, Any], parts: Sequence[str]) -> dict[str, Any] | None:
    """The dictionary at *parts* below *root*, or None when something on the way is missing or not one."""
    node: Any = root
    for part in parts:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return None
    return node if isinstance(node, dict) else None


def ensure_subtree(root: dict[str, Any], parts: Sequence[str]) -> dict[str, Any]:
    """The dictionary at *parts*, creating missing ones; BadParams when a value is in the way."""
    node = root
    for part in parts:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise BadParams(f"{part!r} is a value, not a key", param="path")
        node = child
    return node


def parse_domains(text: str) -> list[str]:
    """The domain names in ``defaults domains`` output (comma separated), with the global domain."""
    names = [name.strip() for name in text.replace("\n", ",").split(",") if name.strip()]
    return sorted({GLOBAL_DOMAIN, *names}, key=str.casefold)


def _run_defaults(arguments: Sequence[str], stdin: bytes | None) -> tuple[int, bytes, bytes]:
    try:
        done = subprocess.run(["defaults", *arguments], input=stdin, capture_output=True, timeout=20, check=False)
    except FileNotFoundError as err:
        raise Unavailable("the 'defaults' command is not available on this computer") from err
    except subprocess.TimeoutExpired as err:
        raise Timeout("'defaults' did not answer within 20 s") from err
    return done.returncode, done.stdout, done.stderr


def _pack(obj: Any) -> dict[str, str]:
    return {"plist": base64.b64encode(plistlib.dumps({"v": obj}, fmt=plistlib.FMT_BINARY)).decode("ascii")}


def _unpack(state: dict[str, str]) -> Any:
    return plistlib.loads(base64.b64decode(state["plist"]))["v"]


class DefaultsBackend:
    """A :class:`~agent.registry.backend.Backend` over macOS preferences (see the module docstring)."""

    kind = "defaults"
    separator = "/"
    atomic = True

    def __init__(self, runner: Runner | None = None) -> None:
        self._runner = runner or _run_defaults

    def _run(self, *arguments: str, stdin: bytes | None = None) -> bytes:
        status, out, err = self._runner(arguments, stdin)
        if status != 0:
            raise BadParams(f"defaults {arguments[0]} refused: {err.decode(errors='replace').strip()[:200]}")
        return out

    def _load(self, domain: str) -> dict[str, Any] | None:
        status, out, _ = self._runner(["export", domain, "-"], None)
        if status != 0:
            return None
        try:
            loaded = plistlib.loads(out)
        except Exception as err:  # plistlib raises several types for a damaged file
            raise Unavailable(f"cannot read the preferences of {domain}: {err}") from err
        return loaded if isinstance(loaded, dict) else None

    def _store(self, domain: str, content: dict[str, Any]) -> None:
        self._run("import", domain, "-", stdin=plistlib.dumps(content, fmt=plistlib.FMT_XML))

    def _node(self, key: KeyPath) -> dict[str, Any]:
        if not key:
            raise BadParams("name a preferences domain first (the empty path only lists them)", param="path")
        found = self._load(key[0])
        node = subtree(found, key[1:]) if found is not None else None
        if node is None:
            raise NotFound(f"no preferences at {self.display(key)}")
        return node

    def display(self, key: KeyPath) -> str:
        return "/".join(key)

    def policy_names(self, key: KeyPath) -> list[KeyPath]:
        return [key]

    def exists(self, key: KeyPath) -> bool:
        if not key:
            return True
        try:
            self._node(key)
        except NotFound:
            return False
        return True

    def keys(self, key: KeyPath) -> list[str]:
        if not key:
            return parse_domains(self._run("domains").decode("utf-8", "replace"))
        return sorted((name for name, obj in self._node(key).items() if isinstance(obj, dict)), key=str.casefold)

    def values(self, key: KeyPath) -> list[RegValue]:
        return [plist_value(name, obj) for name, obj in self._node(key).items() if not isinstance(obj, dict)]

    def get(self, key: KeyPath, name: str) -> RegValue:
        obj = self._node(key).get(name)
        if obj is None or isinstance(obj, dict):
            raise NotFound(f"no value {name!r} in {self.display(key)}")
        return plist_value(name, obj)

    def _change(self, key: KeyPath, change: Callable[[dict[str, Any]], None]) -> None:
        if not key:
            raise BadParams("name a preferences domain", param="path")
        content = self._load(key[0]) or {}
        change(content)
        self._store(key[0], content)

    def set(self, key: KeyPath, value: RegValue) -> None:
        def change(content: dict[str, Any]) -> None:
            node = ensure_subtree(content, key[1:])
            node[value.name] = plist_object(value, node.get(value.name))

        self._change(key, change)

    def delete_value(self, key: KeyPath, name: str) -> None:
        self.get(key, name)

        def change(content: dict[str, Any]) -> None:
            node = subtree(content, key[1:])
            if node is not None:
                node.pop(name, None)

        self._change(key, change)

    def delete_key(self, key: KeyPath) -> None:
        self._node(key)
        if len(key) == 1:
            self._run("delete", key[0])
            return

        def change(content: dict[str, Any]) -> None:
            parent = subtree(content, key[1:-1])
            if parent is not None:
                parent.pop(key[-1], None)

        self._change(key, change)

    def walk(self, key: KeyPath, skip: Callable[[KeyPath], bool]) -> Iterator[KeyListing]:
        return walk_keys(self, key, skip)

    def capture(self, scope: Scope, blobs: Path | None) -> Any:
        """The property list object of the value, or the dictionary of the key (None when absent)."""
        if not scope.key:
            raise BadParams("name a preferences domain", param="path")
        content = self._load(scope.key[0])
        if scope.name is None:
            node = subtree(content, scope.key[1:]) if content is not None else None
            return None if node is None else _pack(node)
        node = subtree(content, scope.key[1:]) if content is not None else None
        obj = node.get(scope.name) if node is not None else None
        return None if obj is None else _pack(obj)

    def restore(self, scope: Scope, state: Any, blobs: Path) -> None:
        if scope.name is None and len(scope.key) == 1:
            if state is None:
                if self._load(scope.key[0]) is not None:
                    self._run("delete", scope.key[0])
            else:
                self._store(scope.key[0], _unpack(state))
            return

        def change(content: dict[str, Any]) -> None:
            if scope.name is None:
                parent = ensure_subtree(content, scope.key[1:-1])
                target, name = parent, scope.key[-1]
            else:
                target, name = ensure_subtree(content, scope.key[1:]), scope.name
            if state is None:
                target.pop(name, None)
            else:
                target[name] = _unpack(state)

        self._change(scope.key, change)

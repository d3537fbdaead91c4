"""``s.registry``: the customer's registry from a notebook cell.

:class:`RegistryNamespace` turns each method into a call to the agent's
``registry.*`` methods (see :mod:`agent.registry`) through a
:class:`~workbench.calls.Caller`, which journals it and raises the agent's
error (a :class:`~wire.errors.WorkbenchError` subclass): ``Forbidden`` when
the customer protected that part of the registry, ``NotFound`` for a missing
key or value, ``BadParams`` for a value that does not fit its type or a limit,
``Unsupported`` for a type the customer's OS has no equivalent for,
``Conflict`` when ``undo`` finds the registry changed since.

The agent picks the registry of its OS: the Windows registry
(``HKLM\\SOFTWARE\\…``), GNOME's dconf on Linux (``/org/gnome/…``), macOS
preferences (``com.apple.finder/…``).  A hive file copied from another
computer is opened on purpose::

    with s.registry.open_hive(r"C:\\Rescue\\SOFTWARE") as hive:
        hive.keys("Microsoft\\\\Windows NT\\\\CurrentVersion")
        hive.set("Policies\\\\Demo", "Enabled", 1)

:meth:`RegistryNamespace.open_hive` returns a :class:`HiveHandle`, a
namespace with the same methods aimed at that file (its paths start at the
hive's root); closing it (or leaving the ``with``) closes the hive on the
agent.  Undo is one history for the whole session's registry changes, live
or hive: ``undo()`` on either takes back the last one.

Values: Python data stands for the registry types: ``str`` → REG_SZ,
``int`` → REG_DWORD (REG_QWORD beyond 32 bits), ``bytes`` → REG_BINARY,
a list of ``str`` → REG_MULTI_SZ; pass ``type=`` for the others
(``"REG_EXPAND_SZ"``) or to be explicit.  Binary data travels as
``{"base64": …}`` on the wire and comes back as ``bytes``.

Paths: a string (``"Vendor\\\\App"``, or with ``/``), or a list of key names
taken exactly as they are, for a name that holds a separator::

    hive.values(["MIME", "Database", "Content Type", "application/json"])
    for name in (listing := hive.keys("Classes")):
        hive.values(listing.path_of(name))          # always the key that was listed

Walking a whole hive (or subtree) takes one call per page of keys, not two
per key::

    for key in hive.walk("ControlSet001\\\\Services"):
        key.path, key.subkeys, key.values["ImagePath"], key.damaged

A damaged hive is read past its damage: what could not be read is left out
and named in ``damaged`` (on a listing, or on the result of ``keys``/``values``).

Results display well in a notebook: values as a table, an export as a code
block (``.save(path)`` writes it as regedit does, UTF-16 with a BOM).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, overload

from workbench.calls import Caller
from workbench.planned import plans
from workbench.tables import number_cell, text_cell

_DWORD_RANGE = (-(1 << 31), (1 << 32) - 1)

#: A key path: a string (split at ``\\`` or ``/``), or key names each taken as it is.
KeyPathLike = str | Sequence[str]


def _path(path: KeyPathLike) -> str | list[str]:
    """The wire form of *path*; TypeError for a list holding something else than strings."""
    if isinstance(path, str):
        return path
    names = list(path)
    if not all(isinstance(name, str) for name in names):
        raise TypeError("a key path is a string or a sequence of key names (strings)")
    return names


def _from_wire(data: Any) -> Any:
    if isinstance(data, dict) and set(data) == {"base64"}:
        return base64.b64decode(data["base64"])
    return data


def _to_wire(data: Any) -> Any:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(data)).decode("ascii")}
    if isinstance(data, tuple):
        return list(data)
    return data


def infer_type(data: Any) -> str:
    """The registry type Python *data* stands for; TypeError when none does."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return "REG_BINARY"
    if isinstance(data, str):
        return "REG_SZ"
    if isinstance(data, int):
        return "REG_DWORD" if _DWORD_RANGE[0] <= data <= _DWORD_RANGE[1] else "REG_QWORD"
    if isinstance(data, (list, tuple)) and all(isinstance(item, str) for item in data):
        return "REG_MULTI_SZ"
    raise TypeError(f"no registry type for {type(data).__name__}; pass type='REG_…'")


def _show(data: Any, type_: str) -> str:
    if isinstance(data, bytes):
        preview = " ".join(f"{byte:02x}" for byte in data[:32])
        return f"{preview}{' …' if len(data) > 32 else ''} ({len(data)} bytes)"
    if isinstance(data, list):
        return "\n".join(str(item) for item in data)
    if isinstance(data, int) and not isinstance(data, bool) and type_ in ("REG_DWORD", "REG_QWORD"):
        width = 8 if type_ == "REG_DWORD" else 16
        return f"0x{data & ((1 << (4 * width)) - 1):0{width}x} ({data})"
    return str(data)


@dataclass(frozen=True)
class RegistryValue:
    """One value: ``name`` (``""`` is the default value), ``type`` (``REG_SZ``…), ``data``.

    ``native`` is the customer's store's own type when it is not the
    Windows registry (dconf's ``"u"``, a plist ``"boolean"``).
    """

    name: str
    type: str
    data: Any
    native: str | None = None

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> RegistryValue:
        return cls(str(body.get("name", "")), str(body.get("type", "")), _from_wire(body.get("data")),
                   body.get("native"))

    def _repr_html_(self) -> str:
        return RegistryValues("", [self], 0)._repr_html_()


class RegistryValues(Sequence[RegistryValue]):
    """The values of a key: iterate, index, ``values["Name"]``, or look at it in a notebook (a table)."""

    def __init__(self, path: str, values: list[RegistryValue], hidden: int, key: Sequence[str] = (),
                 damaged: Sequence[str] = ()) -> None:
        self.path = path
        self._values = values
        #: values the customer's rules kept out of this listing
        self.hidden = hidden
        #: the key's names, as the agent resolved them (a path that always reaches it)
        self.key = tuple(key)
        #: what a damaged hive file kept from being read here
        self.damaged = list(damaged)

    @overload
    def __getitem__(self, index: int) -> RegistryValue: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[RegistryValue]: ...

    @overload
    def __getitem__(self, index: str) -> RegistryValue: ...

    def __getitem__(self, index: int | slice | str) -> RegistryValue | Sequence[RegistryValue]:
        if isinstance(index, str):
            wanted = index.casefold()
            for value in self._values:
                if value.name.casefold() == wanted:
                    return value
            raise KeyError(index)
        return self._values[index]

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"RegistryValues({self.path!r}, {len(self._values)} values)"

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr>{}{}{}</tr>".format(
                text_cell(html.escape(value.name) if value.name else "<i>(Default)</i>"),
                text_cell(html.escape(value.type + (f" ({value.native})" if value.native else ""))),
                (number_cell if isinstance(value.data, int) and not isinstance(value.data, bool) else text_cell)(
                    f"<span style='white-space:pre-wrap;font-family:monospace'>"
                    f"{html.escape(_show(value.data, value.type))}</span>"))
            for value in self._values)
        caption = f"<caption style='text-align:left'>{html.escape(self.path)}</caption>" if self.path else ""
        note = (f"<p><i>{self.hidden} value(s) hidden: protected by the customer.</i></p>" if self.hidden else "")
        head = text_cell("Name", "th") + text_cell("Type", "th") + text_cell("Data", "th")
        return (f"<table>{caption}<thead><tr>{head}</tr></thead>"
                f"<tbody>{rows}</tbody></table>{note}")


class RegistryKeys(list[str]):
    """The subkey names of a key (a list), with ``path`` and ``hidden`` (protected ones left out).

    ``key`` is the listed key as a tuple of names and :meth:`path_of` the
    path of one subkey in that form, which reaches it whatever its name holds;
    ``damaged`` says what a damaged hive file kept out of the list.
    """

    def __init__(self, path: str, names: list[str], hidden: int, key: Sequence[str] = (),
                 damaged: Sequence[str] = ()) -> None:
        super().__init__(names)
        self.path = path
        self.hidden = hidden
        self.key = tuple(key)
        self.damaged = list(damaged)

    def path_of(self, name: str) -> tuple[str, ...]:
        """The path of subkey *name* as key names (pass it to any method)."""
        return (*self.key, name)


@dataclass(frozen=True)
class RegistryListing:
    """One key met by :meth:`RegistryNamespace.walk`: its names, subkeys, values and any damage."""

    key: tuple[str, ...]
    subkeys: list[str]
    values: RegistryValues
    damaged: list[str]

    @property
    def path(self) -> str:
        """The key as text (``\\`` between names; use ``key`` to call with it)."""
        return "\\".join(self.key)

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> RegistryListing:
        key = tuple(str(name) for name in body["key"])
        values = [RegistryValue.from_wire(value) for value in body.get("values", [])]
        damaged = [str(note) for note in body.get("damaged", [])]
        return cls(key, [str(name) for name in body["subkeys"]],
                   RegistryValues("\\".join(key), values, 0, key, damaged), damaged)


class RegText(str):
    """A ``.reg`` export: a string that a notebook shows as a code block."""

    path: str = ""

    def _repr_markdown_(self) -> str:
        fence = "````" if "```" in self else "```"
        return f"{fence}ini\n{self.replace(chr(13), '')}\n{fence}"

    def _repr_html_(self) -> str:
        return f"<pre><code>{html.escape(self.replace(chr(13), ''))}</code></pre>"

    def save(self, path: str | Path) -> Path:
        """Write the text as regedit does (UTF-16LE with a BOM, CRLF) to local file *path*."""
        target = Path(path)
        target.write_bytes(b"\xff\xfe" + str(self).encode("utf-16-le"))
        return target


@dataclass(frozen=True)
class RegistryChange:
    """What a change did: ``before`` and ``after`` (None when absent) and its ``undo`` backup number."""

    path: str
    name: str | None
    before: RegistryValue | None
    after: RegistryValue | None
    created: str | None = None
    undo: str = ""

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> RegistryChange:
        def value(key: str) -> RegistryValue | None:
            found = body.get(key)
            return RegistryValue.from_wire(found) if isinstance(found, dict) else None

        return cls(str(body.get("path", "")), body.get("name"), value("before"), value("after"), body.get("created"),
                   str(body.get("undo", "")))

    def _repr_html_(self) -> str:
        where = html.escape(self.path + (f" → {self.name or '(Default)'}" if self.name is not None else ""))
        before = html.escape(_show(self.before.data, self.before.type)) if self.before else "<i>absent</i>"
        after = html.escape(_show(self.after.data, self.after.type)) if self.after else "<i>deleted</i>"
        return (f"<p><b>{where}</b>: <span style='color:#a00'>{before}</span> → "
                f"<span style='color:#070'>{after}</span> (undo with <code>undo()</code>)</p>")


class RegistryNamespace:
    """The customer's registry (``s.registry``); every call goes through *caller* and is journaled.

    Paths may use ``\\`` or ``/``; ``""`` is the top (the root keys on
    Windows, ``/`` in dconf, the domain list on macOS).
    """

    def __init__(self, caller: Caller) -> None:
        self._caller = caller

    def _params(self, **params: Any) -> dict[str, Any]:
        return params

    def _call(self, method: str, **params: Any) -> Any:
        return self._caller.call(f"registry.{method}", self._params(**params)).value

    def keys(self, path: KeyPathLike = "") -> RegistryKeys:
        """The subkeys of *path*. Raises NotFound, Forbidden."""
        body = self._call("keys", path=_path(path))
        return RegistryKeys(str(body["path"]), [str(name) for name in body["keys"]], int(body.get("hidden", 0)),
                            body.get("key", ()), body.get("damaged", ()))

    def values(self, path: KeyPathLike = "") -> RegistryValues:
        """The values of *path*, shown as a table. Raises NotFound, Forbidden."""
        body = self._call("values", path=_path(path))
        return RegistryValues(str(body["path"]), [RegistryValue.from_wire(value) for value in body["values"]],
                              int(body.get("hidden", 0)), body.get("key", ()), body.get("damaged", ()))

    def walk(self, path: KeyPathLike = "", values: bool = True, page: int = 1000) -> Iterator[RegistryListing]:
        """*path* and every key below it, parents first, fetched *page* keys per call.

        Protected keys and values are left out.  Raises NotFound, Forbidden,
        Conflict (the registry changed between two pages: walk again).
        """
        after: list[str] | None = None
        while True:
            params: dict[str, Any] = {"path": _path(path), "values": values, "limit": page}
            if after is not None:
                params["after"] = after
            body = self._call("walk", **params)
            for item in body["keys"]:
                yield RegistryListing.from_wire(item)
            following = body.get("next")
            if following is None:
                return
            after = [str(name) for name in following]

    def get(self, path: KeyPathLike, name: str = "") -> RegistryValue:
        """Value *name* of *path* (``""``: the default value). Raises NotFound, Forbidden."""
        return RegistryValue.from_wire(self._call("get", path=_path(path), name=name))

    @plans
    def set(self, path: KeyPathLike, name: str, data: Any, type: str | None = None) -> RegistryChange:
        """Set value *name* of *path* (created with its missing parents) to *data*.

        *type* defaults to the one *data* stands for (see the module
        docstring); a :class:`RegistryValue` may be passed as *data*.
        Raises BadParams (wrong data for the type, over the size limit, a
        NUL), Unsupported (no such type on the customer's OS), Forbidden.
        """
        if isinstance(data, RegistryValue):
            type, data = type or data.type, data.data
        type_ = type or infer_type(data)
        return RegistryChange.from_wire(self._call("set", path=_path(path), name=name, type=type_,
                                                   data=_to_wire(data)))

    @plans
    def delete_value(self, path: KeyPathLike, name: str) -> RegistryChange:
        """Delete value *name* of *path* (a backup is kept). Raises NotFound, Forbidden."""
        return RegistryChange.from_wire(self._call("delete_value", path=_path(path), name=name))

    @plans
    def delete_key(self, path: KeyPathLike) -> RegistryChange:
        """Delete key *path* and everything below it (a backup is kept).

        Raises NotFound, Forbidden (also when a protected key lies below),
        BadParams (too large to back up first; the top of the registry).
        """
        return RegistryChange.from_wire(self._call("delete_key", path=_path(path)))

    def export(self, path: KeyPathLike = "", prefix: str | None = None) -> RegText:
        """The ``.reg`` text of *path* and everything below it (protected parts left out).

        For a hive, keys are written under *prefix* (default
        ``HKEY_LOCAL_MACHINE\\OFFLINE``).  Raises NotFound, Forbidden,
        BadParams (larger than the agent's export limit).
        """
        params: dict[str, Any] = {"path": _path(path)}
        if prefix is not None:
            params["prefix"] = prefix
        body = self._call("export", **params)
        text = RegText(body["text"])
        text.path = str(body["path"])
        return text

    @plans
    def undo(self, force: bool = False) -> dict[str, Any]:
        """Take back the last registry change of this agent (live or hive).

        Raises NotFound (nothing to undo), Conflict (that part changed since:
        ``force=True`` restores anyway), Forbidden.
        """
        return dict(self._caller.call("registry.undo", {"force": force}).value)

    def open_hive(self, path: str) -> HiveHandle:
        """Open the hive file at *path* on the customer's computer; a namespace aimed at it.

        Raises NotFound, Forbidden (a protected folder), BadParams (not a
        hive, damaged), Unsupported (the agent's OS cannot do it yet).
        """
        body = self._caller.call("registry.open_hive", {"path": path}).value
        return HiveHandle(self._caller, str(body["hive"]), dict(body))

    def hives(self) -> list[dict[str, Any]]:
        """The hive files open on the agent (handle and path)."""
        return list(self._caller.call("registry.hives", {}).value["hives"])


class HiveHandle(RegistryNamespace):
    """An open hive file: the namespace's methods, aimed at it (paths from its root key).

    ``info`` holds what the agent found (``root``, ``version``, ``dirty``,
    ``writable``…).  A *dirty* hive (last changes still in its ``.LOG`` files)
    can be read but not changed.  Use it in a ``with`` block or call
    :meth:`close`.
    """

    def __init__(self, caller: Caller, handle: str, info: dict[str, Any]) -> None:
        super().__init__(caller)
        self.handle = handle
        self.info = info
        self.path = str(info.get("path", ""))

    def _params(self, **params: Any) -> dict[str, Any]:
        return {**params, "hive": self.handle}

    def open_hive(self, path: str) -> HiveHandle:
        raise TypeError("open hives from s.registry, not from another hive")

    def close(self) -> None:
        """Close the hive on the agent (its file stays as it is). Raises NotFound when already closed."""
        self._caller.call("registry.close_hive", {"hive": self.handle})

    def __enter__(self) -> HiveHandle:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HiveHandle({self.handle!r}, {self.path!r})"

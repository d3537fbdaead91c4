"""What every registry backend provides, and the backup helpers the Windows-like ones share.

A backend is chosen once per agent for its OS (:func:`agent.registry.choice.live_backend`),
and one more is made per offline hive file the technician opens.  All take
key paths already split (:data:`~agent.registry.paths.KeyPath`) and names
already checked, and raise only :class:`~wire.errors.WorkbenchError`
subclasses: ``NotFound`` for a missing key or value, ``BadParams`` for a
value the backend cannot store, ``Unsupported`` for a type it has no
equivalent for, ``PermissionDenied`` when the OS refuses, ``Unavailable`` when
the tool behind it (``dconf``, ``defaults``) cannot be reached.

Undo
====
Before a change the service asks the backend for :meth:`Backend.capture` of
the *scope* the change touches (one value, or a key with everything below
it), stores it under the agent's state directory, makes the change, and
captures the scope again.  ``undo`` compares the scope's state now with that
second capture (someone else may have changed it since) and gives it back
the first one with :meth:`Backend.restore`.  Captures are exact and opaque
JSON: each backend decides what they hold (raw Windows bytes, dconf's own
text, a plist, or a copy of the hive file).
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from agent.registry.model import RegValue, decode_windows, encode_windows
from agent.registry.paths import KeyPath
from wire.errors import BadParams, NotFound

#: The largest subtree a change may touch: more cannot be backed up first.
MAX_BACKUP_VALUES: Final = 100_000
MAX_BACKUP_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True)
class Scope:
    """What a change touches: one value (``name`` set) or a key and all below it (``name`` None)."""

    key: KeyPath
    name: str | None = None


@dataclass(frozen=True)
class KeyListing:
    """One key met by :meth:`Backend.walk`."""

    key: KeyPath
    values: list[RegValue]
    subkeys: list[str]
    skipped: bool = False
    #: what could not be read here (a damaged hive file), in plain words
    damaged: tuple[str, ...] = ()


class Backend(Protocol):
    """One registry store (see the module docstring for the errors)."""

    #: ``winreg``, ``hive``, ``dconf`` or ``defaults``
    kind: str
    #: the separator :func:`~agent.registry.paths.split_path` prefers
    separator: str
    #: True when a change either happens whole or not at all (else a failed one is rolled back from its backup)
    atomic: bool

    def display(self, key: KeyPath) -> str:
        """The key as the technician and the customer read it."""
        ...

    def policy_names(self, key: KeyPath) -> list[KeyPath]:
        """Every name the customer's rules may use for *key* (see :mod:`agent.registry.paths`)."""
        ...

    def exists(self, key: KeyPath) -> bool: ...

    def keys(self, key: KeyPath) -> list[str]:
        """Names of the subkeys of *key*; raises NotFound."""
        ...

    def values(self, key: KeyPath) -> list[RegValue]:
        """The values of *key*, in stored order; raises NotFound."""
        ...

    def get(self, key: KeyPath, name: str) -> RegValue:
        """One value; raises NotFound for a missing key or value."""
        ...

    def set(self, key: KeyPath, value: RegValue) -> None:
        """Write *value*, creating *key* and its missing parents."""
        ...

    def delete_value(self, key: KeyPath, name: str) -> None: ...

    def delete_key(self, key: KeyPath) -> None:
        """Delete *key* and everything below it; the root cannot be deleted (BadParams)."""
        ...

    def walk(self, key: KeyPath, skip: Callable[[KeyPath], bool]) -> Iterator[KeyListing]:
        """*key* and every key below it, parents first, subkeys in order; keys for which
        *skip* is true are listed as skipped and not read or descended into.  NotFound for *key*."""
        ...

    def capture(self, scope: Scope, blobs: Path | None) -> Any:
        """The exact state of *scope* as JSON (None when absent).

        With *blobs* (a directory) the capture is a backup to restore from and
        may keep copies there; without, it is only to compare states.
        """
        ...

    def restore(self, scope: Scope, state: Any, blobs: Path) -> None:
        """Make *scope* what *state* (from :meth:`capture`) says."""
        ...


# Raw Windows captures: {"type": n, "data": base64}; trees {"values": [[name, raw]...], "keys": [[name, tree]...]}.


def raw_capture(value: RegValue) -> dict[str, Any]:
    """The exact, JSON form of a Windows value for backups."""
    number, raw = encode_windows(value)
    return {"type": number, "data": base64.b64encode(raw).decode("ascii")}


def raw_value(name: str, capture: dict[str, Any]) -> RegValue:
    """The value a :func:`raw_capture` holds, named *name*."""
    return decode_windows(name, int(capture["type"]), base64.b64decode(capture["data"]))


class WindowsLikeBackend(Backend, Protocol):
    """A backend with Windows semantics that can also create an empty key."""

    def create_key(self, key: KeyPath) -> None:
        """Create *key* and its missing parents (nothing when it exists)."""
        ...


def capture_tree(backend: WindowsLikeBackend, scope: Scope) -> Any:
    """:meth:`Backend.capture` for a :class:`WindowsLikeBackend`, in raw Windows form.

    Raises :class:`BadParams` when a subtree is too large to back up
    (:data:`MAX_BACKUP_VALUES`, :data:`MAX_BACKUP_BYTES`).
    """
    if scope.name is not None:
        try:
            return raw_capture(backend.get(scope.key, scope.name))
        except NotFound:
            return None
    if not backend.exists(scope.key):
        return None
    budget = [MAX_BACKUP_VALUES, MAX_BACKUP_BYTES]

    def tree(key: KeyPath) -> dict[str, Any]:
        values = []
        for value in backend.values(key):
            captured = raw_capture(value)
            budget[0] -= 1
            budget[1] -= len(captured["data"])
            values.append([value.name, captured])
        if budget[0] < 0 or budget[1] < 0:
            raise BadParams("this key holds too much to back up first; change a smaller part of it",
                            values_limit=MAX_BACKUP_VALUES, bytes_limit=MAX_BACKUP_BYTES)
        # sorted, so that two captures of the same state compare equal whatever order the OS lists in
        values.sort(key=lambda item: str(item[0]).casefold())
        names = sorted(backend.keys(key), key=str.casefold)
        return {"values": values, "keys": [[name, tree((*key, name))] for name in names]}

    return tree(scope.key)


def restore_tree(backend: WindowsLikeBackend, scope: Scope, state: Any) -> None:
    """:meth:`Backend.restore` for a :class:`WindowsLikeBackend`.

    A key is brought to *state* by difference: what is extra is deleted, what
    is missing or different is written, what already matches is not touched.
    So putting back a delete that stopped half-way only recreates what went.
    """
    if scope.name is not None:
        if state is None:
            with contextlib.suppress(NotFound):
                backend.delete_value(scope.key, scope.name)
        else:
            backend.set(scope.key, raw_value(scope.name, state))
        return
    current = capture_tree(backend, scope)
    if state is None:
        if current is not None:
            backend.delete_key(scope.key)
        return

    def sync(key: KeyPath, wanted: dict[str, Any], present: dict[str, Any] | None) -> None:
        if present is None:
            backend.create_key(key)
            present = {"values": [], "keys": []}
        have = {name.casefold(): captured for name, captured in present["values"]}
        want = {name.casefold(): (name, captured) for name, captured in wanted["values"]}
        for name, _ in present["values"]:
            if name.casefold() not in want:
                backend.delete_value(key, name)
        for name, captured in wanted["values"]:
            if have.get(name.casefold()) != captured:
                backend.set(key, raw_value(name, captured))
        subkeys = {name.casefold(): subtree for name, subtree in present["keys"]}
        wanted_names = {name.casefold() for name, _ in wanted["keys"]}
        for name, _ in present["keys"]:
            if name.casefold() not in wanted_names:
                backend.delete_key((*key, name))
        for name, subtree in wanted["keys"]:
            sync((*key, name), subtree, subkeys.get(name.casefold()))

    sync(scope.key, state, current)


def walk_keys(backend: Backend, key: KeyPath, skip: Callable[[KeyPath], bool]) -> Iterator[KeyListing]:
    """:meth:`Backend.walk` from :meth:`Backend.keys` and :meth:`Backend.values`, for any backend."""
    pending = [key]
    while pending:
        current = pending.pop()
        if current != key and skip(current):
            yield KeyListing(current, [], [], skipped=True)
            continue
        subkeys = backend.keys(current)
        yield KeyListing(current, backend.values(current), subkeys)
        pending.extend((*current, name) for name in reversed(subkeys))

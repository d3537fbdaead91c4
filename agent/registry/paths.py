"""Registry paths: how the technician writes them, and how the customer's rules match them.

Writing a path
==============
A path is a string of key names.  Each backend has a native separator
(``\\`` for Windows and hive files, ``/`` for dconf and macOS ``defaults``);
when a path contains the native separator only that one splits it, otherwise
the other one does.  So ``HKCU/Software/Foo`` works, and so does the real
Windows key ``HKCR\\MIME\\Database\\Content Type\\application/json``.
Empty names (doubled, leading or trailing separators) are dropped.
:func:`split_path` raises :class:`~wire.errors.BadParams` for a NUL, a key
name over :data:`~agent.registry.model.MAX_KEY_NAME` characters or a path
deeper than :data:`~agent.registry.model.MAX_DEPTH`.

A key whose name holds a separator (``application/json`` under the root of a
hive, a hive key named ``a\\b``) cannot be written that way without being
split; so a path may also be a **list of key names**, each taken exactly as
it is (:func:`key_from_names`): ``["MIME", "application/json"]``.  Listings
answer with that form too (``key``), so what was listed can always be opened.
Only the backends that store names as given accept every character: a name
holding the live registry's own separator (``\\`` in Windows, ``/`` in dconf
and ``defaults``) would name another key there, and is refused.

Matching the customer's rules
=============================
``Policy.forbidden_registry`` holds path strings; a target is refused when it
is at or below one of them.  Both sides are compared in a *canonical* form
(:func:`canonical_forms`), chosen so that a rule can only match more than its
spelling, never less:

* ``\\`` and ``/`` both separate; case is folded and Unicode normalised (NFC)
  everywhere, dconf and ``defaults`` included (over-matching a rule there only
  refuses more);
* Windows roots are spelled out (``HKLM`` → ``HKEY_LOCAL_MACHINE``), a leading
  ``Computer\\`` from regedit's address bar is dropped;
* the registry's own aliases give one key several names, as links do for
  files; each name is tried: ``HKEY_USERS\\<sid>`` ≡ ``HKEY_CURRENT_USER``,
  ``HKEY_USERS\\<sid>_Classes`` and ``…\\Software\\Classes`` ≡
  ``HKEY_CLASSES_ROOT``, ``HKEY_CURRENT_CONFIG`` ≡
  ``HKLM\\SYSTEM\\CurrentControlSet\\Hardware Profiles\\Current``,
  ``ControlSet00N`` ≡ ``CurrentControlSet``, and ``Wow6432Node`` (the 32-bit
  view) is ignored.
* an offline hive file is named by its file path followed by the key path,
  and also, when the file is a well-known hive (``SOFTWARE``, ``NTUSER.DAT``…),
  by where Windows mounts it (:func:`hive_mounts`), so a rule protecting
  ``HKLM\\SOFTWARE\\Secret`` also protects it in a copied ``SOFTWARE`` file.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Final

from agent.registry.model import MAX_DEPTH, MAX_KEY_NAME
from wire.errors import BadParams

KeyPath = tuple[str, ...]

#: Windows root keys, by their full names.
WINDOWS_ROOTS: Final = (
    "HKEY_CLASSES_ROOT",
    "HKEY_CURRENT_USER",
    "HKEY_LOCAL_MACHINE",
    "HKEY_USERS",
    "HKEY_CURRENT_CONFIG",
)
_ROOT_ALIASES: Final = {
    "hkcr": "HKEY_CLASSES_ROOT",
    "hkcu": "HKEY_CURRENT_USER",
    "hklm": "HKEY_LOCAL_MACHINE",
    "hku": "HKEY_USERS",
    "hkcc": "HKEY_CURRENT_CONFIG",
    **{root.casefold(): root for root in WINDOWS_ROOTS},
}

# Where Windows mounts its well-known hive files (casefolded file names).
_HIVE_MOUNTS: Final[dict[str, KeyPath]] = {
    "sam": ("hkey_local_machine", "sam"),
    "security": ("hkey_local_machine", "security"),
    "software": ("hkey_local_machine", "software"),
    "system": ("hkey_local_machine", "system"),
    "components": ("hkey_local_machine", "components"),
    "drivers": ("hkey_local_machine", "drivers"),
    "elam": ("hkey_local_machine", "elam"),
    "bcd": ("hkey_local_machine", "bcd00000000"),
    "default": ("hkey_users", ".default"),
    "ntuser.dat": ("hkey_current_user",),
    "usrclass.dat": ("hkey_classes_root",),
}


def split_path(text: str, native: str) -> KeyPath:
    """The key names in *text*, split as the module docstring says.

    Raises :class:`BadParams` for a NUL, an over-long name or a too deep path.
    """
    if "\x00" in text:
        raise BadParams("registry paths cannot contain NUL", param="path")
    other = "/" if native == "\\" else "\\"
    separator = native if native in text or other not in text else other
    parts = tuple(part for part in text.split(separator) if part)
    if len(parts) > MAX_DEPTH:
        raise BadParams(f"registry paths are at most {MAX_DEPTH} keys deep", param="path", limit=MAX_DEPTH)
    for part in parts:
        if len(part) > MAX_KEY_NAME:
            raise BadParams(f"key names are at most {MAX_KEY_NAME} characters: {part[:40]!r}…", param="path",
                            limit=MAX_KEY_NAME)
    return parts


def key_from_names(names: Sequence[object], native: str | None = None) -> KeyPath:
    """The key path made of *names*, each one key name as it is (see the module docstring).

    *native* is the separator a name may not hold (None: any character but
    NUL).  Raises :class:`BadParams` for a name that is not a non-empty
    string, holds a NUL (or *native*), is over-long, or a path too deep.
    """
    if len(names) > MAX_DEPTH:
        raise BadParams(f"registry paths are at most {MAX_DEPTH} keys deep", param="path", limit=MAX_DEPTH)
    for name in names:
        if not isinstance(name, str) or not name:
            raise BadParams("a path given as a list holds key names: non-empty strings", param="path")
        if "\x00" in name:
            raise BadParams("registry paths cannot contain NUL", param="path")
        if native is not None and native in name:
            raise BadParams(f"a key name here cannot hold {native!r}: {name[:40]!r}", param="path")
        if len(name) > MAX_KEY_NAME:
            raise BadParams(f"key names are at most {MAX_KEY_NAME} characters: {name[:40]!r}…", param="path",
                            limit=MAX_KEY_NAME)
    return tuple(str(name) for name in names)


def windows_root(name: str) -> str | None:
    """The full name of Windows root *name* (``HKLM`` → ``HKEY_LOCAL_MACHINE``), or None."""
    return _ROOT_ALIASES.get(name.casefold())


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


_SEPARATORS: Final = re.compile(r"[\\/]")


@functools.lru_cache(maxsize=65536)
def _pieces(text: str) -> tuple[str, ...]:
    """*text* split at both separators and folded (kept: a walk asks about the same names again and again)."""
    return tuple(_fold(piece) for piece in _SEPARATORS.split(text) if piece)


def _windows_alias(parts: KeyPath) -> KeyPath:
    root = parts[0]
    rest = [part for part in parts[1:] if part != "wow6432node"]
    if root == "hkey_users" and rest:
        root = "hkey_classes_root" if rest[0].endswith("_classes") else "hkey_current_user"
        rest = rest[1:]
    if root == "hkey_current_config":
        root, rest = "hkey_local_machine", ["system", "currentcontrolset", "hardware profiles", "current", *rest]
    if root == "hkey_local_machine" and len(rest) >= 2 and rest[0] == "system" and re.fullmatch(
            r"controlset\d{3}|currentcontrolset", rest[1]):
        rest[1] = "currentcontrolset"
    if root in ("hkey_local_machine", "hkey_current_user") and rest[:2] == ["software", "classes"]:
        root, rest = "hkey_classes_root", rest[2:]
    return (root, *rest)


def canonical_forms(path: str | Sequence[str]) -> set[KeyPath]:
    """Every canonical spelling of *path* (a string, or key names) for rule matching."""
    texts = [path] if isinstance(path, str) else path
    parts = [piece for text in texts for piece in _pieces(text)]
    while parts and parts[0] in ("?", "??"):  # \\?\C:\… and \??\C:\… file names
        parts.pop(0)
    if len(parts) > 1 and parts[0] == "computer" and parts[1] in _ROOT_ALIASES:
        parts.pop(0)
    if parts and parts[0] in _ROOT_ALIASES:
        parts[0] = _ROOT_ALIASES[parts[0]].casefold()
        return {tuple(parts), _windows_alias(tuple(parts))}
    return {tuple(parts)}


def hive_mounts(file_name: str, embedded_name: str) -> list[KeyPath]:
    """Where Windows would mount a hive whose file is *file_name* and whose header names *embedded_name*."""
    found: list[KeyPath] = []
    for name in (file_name, embedded_name):
        last = _fold(re.split(r"[\\/]", name)[-1]) if name else ""
        mount = _HIVE_MOUNTS.get(last)
        if mount is not None and mount not in found:
            found.append(mount)
    return found


class Rules:
    """The customer's forbidden registry subtrees, in canonical form."""

    def __init__(self, rules: Iterable[str]) -> None:
        self.forms: list[KeyPath] = [form for rule in rules for form in canonical_forms(rule) if form]

    def forbids(self, names: Iterable[Sequence[str]]) -> bool:
        """True when any of *names* (each a key path) is at or below a rule."""
        if not self.forms:
            return False
        targets = [form for name in names for form in canonical_forms(name)]
        return any(target[: len(rule)] == rule for target in targets for rule in self.forms)

    def protects_below(self, names: Iterable[Sequence[str]]) -> bool:
        """True when a rule lies strictly below one of *names* (deleting it would reach protected keys)."""
        if not self.forms:
            return False
        targets = [form for name in names for form in canonical_forms(name)]
        return any(len(rule) > len(target) and rule[: len(target)] == target
                   for target in targets for rule in self.forms)

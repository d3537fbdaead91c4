"""The ``registry.*`` methods: parameters, the customer's rules, backups, words for the customer.

:class:`Registry` holds the live backend (chosen once for this OS), the
offline hives the technician opened, and the undo store; :meth:`Registry.methods`
gives the :class:`~agent.dispatch.Method` table.  See :mod:`agent.registry`
for the methods' parameters and results.

Availability: everywhere; ``open_hive`` (and undoing a change to a hive)
raises ``Unsupported`` where :func:`agent.registry.choice.open_hive_file` does
(Windows, for now).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any, Final

from agent.dispatch import CallContext, Method
from agent.forbidden import Guard
from agent.panel.catalogue import Param, Said, say
from agent.params import get_bool, get_int, get_list, get_str
from agent.preview.plan import Plan
from agent.registry.backend import Backend, KeyListing, Scope
from agent.registry.choice import open_hive_file
from agent.registry.hive import HiveBackend
from agent.registry.model import (
    MAX_DEPTH,
    MAX_VALUE_NAME,
    RegSection,
    RegValue,
    check_value_name,
    format_reg,
    value_from_wire,
)
from agent.registry.paths import KeyPath, Rules, key_from_names, split_path
from agent.registry.planning import registry_plan, undo_plan
from agent.registry.undo import UndoStore
from wire.errors import BadParams, Conflict, Forbidden, NotFound, WorkbenchError, from_os_error

log = logging.getLogger(__name__)

#: Largest ``.reg`` text export returns (characters); export a smaller key beyond it.
MAX_EXPORT_CHARS: Final = 8 * 1024 * 1024
#: Key the ``.reg`` export of an offline hive is placed under, as when regedit loads a hive.
HIVE_EXPORT_PREFIX: Final = "HKEY_LOCAL_MACHINE\\OFFLINE"
MAX_PATH_CHARS: Final = 32767
PROTECTED: Final = "the customer has protected this part of the registry"
#: Keys one ``registry.walk`` page holds by default, and at most.
WALK_PAGE_KEYS: Final = 1000
MAX_WALK_PAGE_KEYS: Final = 10_000
#: Characters (of the JSON it becomes) after which a walk page ends early, well under the wire's limits.
MAX_WALK_PAGE_CHARS: Final = 2 * 1024 * 1024

# what the customer reads for each live backend (agent.panel.catalogue's "registry.noun.*")
_NOUNS: Final = {"winreg": "registry", "dconf": "dconf", "defaults": "defaults", "hive": "registry"}


def _short(data: Any, limit: int = 60) -> Param:
    if isinstance(data, dict) and "base64" in data:
        return say("registry.data.binary")
    text = repr(data) if not isinstance(data, str) else f"“{data}”"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Registry:
    """The registry service of one agent; thread-safe (one change at a time).

    *live* makes the backend for this OS (called once, on first use).
    """

    def __init__(self, live: Callable[[], Backend]) -> None:
        self._live_factory = live
        self._live: Backend | None = None
        self._hives: dict[str, HiveBackend] = {}
        self._handles = 0
        self._lock = threading.RLock()

    # -- targets

    def live(self) -> Backend:
        """The backend for this OS, made on first use and kept."""
        with self._lock:
            if self._live is None:
                self._live = self._live_factory()
            return self._live

    def _hive(self, handle: str) -> HiveBackend:
        with self._lock:
            backend = self._hives.get(handle)
        if backend is None:
            raise NotFound(f"no open hive {handle!r} (open_hive gives a handle; close_hive ends it)", param="hive")
        return backend

    def _target(self, params: dict[str, Any]) -> tuple[Backend, dict[str, Any]]:
        """The backend a call is for, and what the result says about it."""
        if params.get("hive") is None:
            return self.live(), {}
        handle = get_str(params, "hive", max_length=64)
        return self._hive(handle), {"hive": handle}

    @staticmethod
    def _key(backend: Backend, params: dict[str, Any], name: str = "path") -> KeyPath:
        """The key *params* name: a path string, or a list of key names taken as they are."""
        if isinstance(params.get(name), list):
            # a hive file stores names as given; a live store would read its separator as two keys
            native = None if backend.kind == "hive" else backend.separator
            return key_from_names(get_list(params, name, max_items=MAX_DEPTH + 1), native)
        return split_path(get_str(params, name, "", max_length=MAX_PATH_CHARS), backend.separator)

    @staticmethod
    def _name(params: dict[str, Any]) -> str:
        return check_value_name(get_str(params, "name", max_length=MAX_VALUE_NAME))

    # -- the customer's rules

    @staticmethod
    def _rules(ctx: CallContext) -> Rules:
        with ctx.policy.lock:
            return Rules(list(ctx.policy.forbidden_registry))

    @staticmethod
    def _forbids(rules: Rules, backend: Backend, key: KeyPath, name: str | None = None) -> bool:
        names = backend.policy_names(key)
        if name is not None:
            names = [*names, *((*path, name) for path in names)]
        return rules.forbids(names)

    def _check(self, ctx: CallContext, backend: Backend, key: KeyPath, name: str | None = None,
               whole_subtree: bool = False) -> Rules:
        """Raise Forbidden when the customer protected *key* (or value *name*, or with *whole_subtree*
        anything below *key*); the rules, for filtering listings."""
        rules = self._rules(ctx)
        if self._forbids(rules, backend, key, name) or (
                whole_subtree and rules.protects_below(backend.policy_names(key))):
            raise Forbidden(PROTECTED)
        return rules

    @staticmethod
    def _guard(ctx: CallContext) -> Callable[[], Guard]:
        """A fresh guard per file operation, so a folder protected later counts at once."""
        policy, state_dir = ctx.policy, ctx.state_dir

        def guard() -> Guard:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # a missing folder cannot be protected
            return Guard(policy.forbidden_folders, private=[state_dir], home=os.path.expanduser("~"))

        return guard

    # -- reading

    def keys(self, ctx: CallContext) -> dict[str, Any]:
        backend, where = self._target(ctx.params)
        key = self._key(backend, ctx.params)
        rules = self._check(ctx, backend, key)
        listing = self._listing(backend, key, values=False)
        names = listing.subkeys
        shown = [name for name in names if not self._forbids(rules, backend, (*key, name))]
        return {**where, "path": backend.display(key), "key": list(key), "keys": shown,
                "hidden": len(names) - len(shown), **_damage(listing)}

    @staticmethod
    def _listing(backend: Backend, key: KeyPath, values: bool) -> KeyListing:
        """One key read; a hive file also says what damage hid there."""
        if isinstance(backend, HiveBackend):
            return backend.read_key(key, values=values)
        return KeyListing(key, backend.values(key) if values else [], [] if values else backend.keys(key))

    def values(self, ctx: CallContext) -> dict[str, Any]:
        backend, where = self._target(ctx.params)
        key = self._key(backend, ctx.params)
        rules = self._check(ctx, backend, key)
        listing = self._listing(backend, key, values=True)
        values = listing.values
        shown = [value for value in values if not self._forbids(rules, backend, key, value.name)]
        return {**where, "path": backend.display(key), "key": list(key), "values": [value.to_wire() for value in shown],
                "hidden": len(values) - len(shown), **_damage(listing)}

    def walk(self, ctx: CallContext) -> dict[str, Any]:
        """One page of the keys at and below ``path``, parents first, each with its values and subkeys.

        ``after`` (the ``next`` of the previous page, a list of names) resumes
        the walk after that key; the page ends after ``limit`` keys or
        :data:`MAX_WALK_PAGE_CHARS`.  Protected keys and values are left out
        and counted in ``hidden``.  Raises ``Conflict`` when the key ``after``
        names is gone (the registry changed between pages).
        """
        backend, where = self._target(ctx.params)
        key = self._key(backend, ctx.params)
        after = self._key(backend, ctx.params, "after") if ctx.params.get("after") is not None else None
        if after is not None and after[:len(key)] != key:
            raise BadParams("'after' must be a key inside 'path' (the 'next' of the page before)", param="after")
        limit = get_int(ctx.params, "limit", WALK_PAGE_KEYS, minimum=1, maximum=MAX_WALK_PAGE_KEYS)
        with_values = get_bool(ctx.params, "values", True)
        rules = self._check(ctx, backend, key)
        reached = after is None or after == key

        def skip(path: KeyPath) -> bool:
            nonlocal reached
            if reached:
                return self._forbids(rules, backend, path)
            assert after is not None
            if path == after[:len(path)]:  # on the way down to where the last page stopped
                reached = path == after
                return False
            return True  # sent in an earlier page: not even read

        page: list[dict[str, Any]] = []
        size = hidden = 0
        following: list[str] | None = None
        listings = backend.walk(key, skip)
        try:
            for listing in listings:
                if listing.skipped or not reached or listing.key == after:
                    continue
                if len(page) >= limit or size > MAX_WALK_PAGE_CHARS:
                    following = list(page[-1]["key"])
                    break
                # the key itself passed skip(); only the names below it remain to be checked
                names = backend.policy_names(listing.key)
                subkeys = [name for name in listing.subkeys
                           if not rules.forbids([(*path, name) for path in names])]
                values = [value for value in listing.values
                          if not rules.forbids([(*path, value.name) for path in names])] if with_values else []
                hidden += len(listing.subkeys) - len(subkeys) + (len(listing.values) - len(values) if with_values
                                                                 else 0)
                item: dict[str, Any] = {"key": list(listing.key), "subkeys": subkeys}
                if with_values:
                    item["values"] = [value.to_wire() for value in values]
                if listing.damaged:
                    item["damaged"] = list(listing.damaged)
                page.append(item)
                size += _wire_size(item)
        finally:
            close = getattr(listings, "close", None)
            if close is not None:
                close()
        if not reached:
            raise Conflict(f"the key {backend.display(after or ())} where the walk stopped is gone: the registry "
                           "changed between pages; walk again")
        return {**where, "path": backend.display(key), "key": list(key), "keys": page, "hidden": hidden,
                "next": following}

    def get(self, ctx: CallContext) -> dict[str, Any]:
        backend, where = self._target(ctx.params)
        key = self._key(backend, ctx.params)
        name = self._name(ctx.params)
        self._check(ctx, backend, key, name)
        return {**where, "path": backend.display(key), **backend.get(key, name).to_wire()}

    def export(self, ctx: CallContext) -> dict[str, Any]:
        backend, where = self._target(ctx.params)
        key = self._key(backend, ctx.params)
        rules = self._check(ctx, backend, key)
        shown: Callable[[KeyPath], str] = backend.display
        if backend.kind == "hive":
            prefix = get_str(ctx.params, "prefix", HIVE_EXPORT_PREFIX, max_length=1024).rstrip("\\")
            shown = lambda path: "\\".join((prefix, *path))  # noqa: E731 - the hive's keys under a mount point
        sections: dict[KeyPath, RegSection] = {}
        size = counted_values = hidden = 0
        for listing in backend.walk(key, lambda path: self._forbids(rules, backend, path)):
            if listing.skipped:
                hidden += 1
                parent = sections.get(listing.key[:-1])
                if parent is not None:
                    parent.notes.append("a subkey here is protected by the customer and was not exported")
                continue
            values = [value for value in listing.values if not self._forbids(rules, backend, listing.key, value.name)]
            section = RegSection(shown(listing.key), values)
            if len(values) < len(listing.values):
                hidden += len(listing.values) - len(values)
                section.notes.append("some values here are protected by the customer and were not exported")
            sections[listing.key] = section
            counted_values += len(values)
            size += len(section.path) + sum(len(value.name) + 16 + _data_size(value) for value in values)
            if size > MAX_EXPORT_CHARS:
                raise BadParams(f"the export would be larger than {MAX_EXPORT_CHARS} characters; "
                                "export a key further down", limit=MAX_EXPORT_CHARS)
        text = format_reg(sections.values())
        if len(text) > MAX_EXPORT_CHARS:
            raise BadParams(f"the export would be larger than {MAX_EXPORT_CHARS} characters; export a key further "
                            "down", limit=MAX_EXPORT_CHARS)
        return {**where, "path": backend.display(key), "text": text, "keys": len(sections), "values": counted_values,
                "hidden": hidden}

    # -- changing

    def _store(self, ctx: CallContext) -> UndoStore:
        return UndoStore(ctx.state_dir / "registry-undo")

    def _change(self, ctx: CallContext, backend: Backend, scope: Scope, apply: Callable[[], None],
                words: str) -> dict[str, Any]:
        """Back *scope* up, run *apply*, record the state after; the undo slot's facts."""
        store = self._store(ctx)
        record: dict[str, Any] = {"backend": backend.kind, "key": list(scope.key), "name": scope.name,
                                  "words": words}
        if isinstance(backend, HiveBackend):
            record["hive_path"] = backend.file.path
        try:
            slot = store.begin()
        except OSError as err:
            raise from_os_error(err, "the registry backup folder") from err
        try:
            record["before"] = backend.capture(scope, slot)
            store.save(slot, record)
        except OSError as err:
            store.drop(slot)
            raise from_os_error(err, "the registry backup") from err
        except BaseException:
            store.drop(slot)
            raise
        try:
            apply()
        except BaseException:
            if not backend.atomic:  # a change that stopped half-way: put the backup back
                try:
                    backend.restore(scope, record["before"], slot)
                except WorkbenchError:
                    log.exception("could not roll back a failed registry change")
            store.drop(slot)
            raise
        try:
            record["after"] = backend.capture(scope, None)
            store.save(slot, record)
        except (WorkbenchError, OSError):  # the change is made; undo will restore without comparing
            log.exception("could not record the registry's state after a change")
        try:
            store.prune()
        except OSError:
            log.exception("could not prune old registry backups")
        facts = {"undo": slot.name}
        if isinstance(record.get("before"), dict) and "sha256" in record["before"]:
            facts["sha256_before"] = record["before"]["sha256"]
            facts["sha256_after"] = (record.get("after") or {}).get("sha256", "")
        ctx.journal_details.update(facts)
        return facts

    def _creation_scope(self, backend: Backend, key: KeyPath, name: str) -> Scope:
        """The value when *key* exists, else the first missing key (so undo removes what set created)."""
        if backend.exists(key):
            return Scope(key, name)
        for depth in range(1, len(key) + 1):
            if not backend.exists(key[:depth]):
                return Scope(key[:depth])
        return Scope(key, name)

    def set(self, ctx: CallContext) -> dict[str, Any] | Plan:
        backend, where = self._target(ctx.params)
        key = self._key(backend, ctx.params)
        name = self._name(ctx.params)
        if "data" not in ctx.params:
            raise BadParams("missing parameter 'data'", param="data")
        value = value_from_wire(name, get_str(ctx.params, "type", max_length=64), ctx.params["data"])
        self._check(ctx, backend, key, name)
        with self._lock:
            try:
                before: RegValue | None = backend.get(key, name)
            except NotFound:
                before = None
            scope = self._creation_scope(backend, key, name)
            if ctx.preview:
                if isinstance(backend, HiveBackend):
                    backend.rehearse(key, value=value)
                return registry_plan("set", backend, where, key, name, before, value,
                                     backend.display(scope.key) if scope.name is None else None)
            facts = self._change(ctx, backend, scope, lambda: backend.set(key, value),
                                 f"changed {_value_name(name)} in {_place(backend, key)}")
        ctx.journal_details.update(before=before.to_wire() if before else None, after=value.to_wire())
        return {**where, "path": backend.display(key), "name": name,
                "before": before.to_wire() if before else None, "after": value.to_wire(),
                "created": backend.display(scope.key) if scope.name is None else None, **facts}

    def delete_value(self, ctx: CallContext) -> dict[str, Any] | Plan:
        backend, where = self._target(ctx.params)
        key = self._key(backend, ctx.params)
        name = self._name(ctx.params)
        self._check(ctx, backend, key, name)
        with self._lock:
            before = backend.get(key, name)
            if ctx.preview:
                if isinstance(backend, HiveBackend):
                    backend.rehearse(key, delete_value=name)
                return registry_plan("delete_value", backend, where, key, name, before, None, None)
            facts = self._change(ctx, backend, Scope(key, name), lambda: backend.delete_value(key, name),
                                 f"deleted {_value_name(name)} in {_place(backend, key)}")
        ctx.journal_details.update(before=before.to_wire())
        return {**where, "path": backend.display(key), "name": name, "before": before.to_wire(), **facts}

    def delete_key(self, ctx: CallContext) -> dict[str, Any] | Plan:
        backend, where = self._target(ctx.params)
        key = self._key(backend, ctx.params)
        self._check(ctx, backend, key, whole_subtree=True)
        if not key:
            raise BadParams("the top of the registry cannot be deleted", param="path")
        with self._lock:
            if not backend.exists(key):
                raise NotFound(f"no key {backend.display(key)}")
            if ctx.preview:
                if isinstance(backend, HiveBackend):
                    backend.rehearse(key, delete_key=True)
                return registry_plan("delete_key", backend, where, key, None, None, None, None)
            facts = self._change(ctx, backend, Scope(key), lambda: backend.delete_key(key),
                                 f"deleted the key {_place(backend, key)}")
        return {**where, "path": backend.display(key), "deleted": True, **facts}

    def undo(self, ctx: CallContext) -> dict[str, Any] | Plan:
        force = get_bool(ctx.params, "force", False)
        with self._lock:
            store = self._store(ctx)
            try:
                last = store.last()
            except OSError as err:
                raise from_os_error(err, "the registry backups") from err
            if last is None:
                raise NotFound("there is no registry change to undo")
            slot, record = last
            if record.get("backend") == "hive":
                backend: Backend = self._hive_at(ctx, str(record["hive_path"]))
            else:
                backend = self.live()
                if record.get("backend") != backend.kind:
                    raise Conflict(f"the last change was made to {record.get('backend')}, not {backend.kind}")
            scope = Scope(tuple(record["key"]), record.get("name"))
            self._check(ctx, backend, scope.key, scope.name, whole_subtree=scope.name is None)
            if "after" in record and not force:
                now = backend.capture(scope, None)
                if now != record["after"]:
                    raise Conflict("this part of the registry changed since (another program?); nothing was "
                                   "undone. undo(force=True) puts the old state back anyway")
            if ctx.preview:
                return undo_plan(record, backend.display(scope.key))
            backend.restore(scope, record["before"], slot)
            store.drop(slot)
            remaining = store.count()
        ctx.journal_details.update(undone=record.get("words", ""), undo=slot.name)
        ctx.tell_customer(say("registry.undone"))
        return {"undone": record.get("words", ""), "path": backend.display(scope.key), "remaining": remaining,
                **({"hive_path": record["hive_path"]} if "hive_path" in record else {})}

    # -- offline hives

    def _hive_at(self, ctx: CallContext, path: str) -> HiveBackend:
        with self._lock:
            for backend in self._hives.values():
                if backend.file.path == path:
                    return backend
        return HiveBackend(open_hive_file(path, self._guard(ctx)))

    def open_hive(self, ctx: CallContext) -> dict[str, Any]:
        path = get_str(ctx.params, "path", max_length=MAX_PATH_CHARS)
        if self._rules(ctx).forbids([(path,)]):  # before reading anything of it
            raise Forbidden(PROTECTED)
        backend = HiveBackend(open_hive_file(path, self._guard(ctx)))
        self._check(ctx, backend, ())  # again, by the path reached and where Windows would mount it
        with self._lock:
            for handle, known in self._hives.items():
                if known.info.path == backend.info.path:
                    known.file.path = path
                    return {"hive": handle, **backend.info.to_wire()}
            self._handles += 1
            handle = f"hive-{self._handles}"
            self._hives[handle] = backend
        return {"hive": handle, **backend.info.to_wire()}

    def close_hive(self, ctx: CallContext) -> dict[str, Any]:
        handle = get_str(ctx.params, "hive", max_length=64)
        with self._lock:
            backend = self._hives.pop(handle, None)
        if backend is None:
            raise NotFound(f"no open hive {handle!r}", param="hive")
        return {"hive": handle, "path": backend.file.path, "closed": True}

    def close_all(self) -> None:
        """Forget every open hive (the agent calls it when a session ends; the files stay as they are)."""
        with self._lock:
            self._hives.clear()

    def hives(self, ctx: CallContext) -> dict[str, Any]:
        with self._lock:
            return {"hives": [{"hive": handle, "path": backend.file.path} for handle, backend in self._hives.items()],
                    "backend": self.live().kind}

    # -- words for the customer

    def _where(self, params: dict[str, Any]) -> Said:
        path = params.get("path", "")
        if isinstance(path, list):
            path = "\\".join(str(name) for name in path[:MAX_DEPTH])
        path = path if isinstance(path, str) else ""
        path = path if len(path) <= 200 else path[:199] + "…"
        handle = params.get("hive")
        if handle is not None:
            backend = self._hives.get(str(handle))
            file = backend.file.path if backend is not None else str(handle)
            if path.strip("\\/"):
                return say("registry.where.hive_key", file=file, path=path)
            return say("registry.where.hive", file=file)
        noun = say(f"registry.noun.{_NOUNS.get(self.live().kind, 'registry')}")
        return say("registry.where.key", noun=noun, path=path) if path.strip("\\/") else \
            say("registry.where.top", noun=noun)

    def _value_words(self, params: dict[str, Any]) -> Said:
        name = str(params.get("name", ""))
        return say("registry.value.default") if name == "" else say("registry.value.named", name=name[:100])

    def methods(self) -> list[Method]:
        """The ``registry.*`` method table (permission ``registry``)."""

        def method(name: str, handler: Callable[[CallContext], Any], describe: Callable[[dict[str, Any]], str],
                   journal_params: bool = True) -> Method:
            return Method(f"registry.{name}", handler, "registry", describe, journal_params=journal_params)

        return [
            method("keys", self.keys, lambda p: say("registry.keys", where=self._where(p))),
            method("values", self.values, lambda p: say("registry.values", where=self._where(p))),
            method("get", self.get, lambda p: say("registry.get", value=self._value_words(p), where=self._where(p))),
            method("set", self.set,
                   lambda p: say("registry.set", value=self._value_words(p), where=self._where(p),
                                 data=_short(p.get("data")), type=str(p.get("type")))),
            method("delete_value", self.delete_value,
                   lambda p: say("registry.delete_value", value=self._value_words(p), where=self._where(p))),
            method("delete_key", self.delete_key, lambda p: say("registry.delete_key", where=self._where(p))),
            method("walk", self.walk, lambda p: say("registry.walk", where=self._where(p))),
            method("export", self.export, lambda p: say("registry.export", where=self._where(p))),
            method("undo", self.undo, lambda p: say("registry.undo")),
            method("open_hive", self.open_hive, lambda p: say("registry.open_hive", path=str(p.get("path", ""))[:300])),
            method("close_hive", self.close_hive,
                   lambda p: say("registry.close_hive", where=self._where({"hive": p.get("hive")}))),
            method("hives", self.hives, lambda p: say("registry.hives")),
        ]


def _value_name(name: str) -> str:
    return "the default value" if name == "" else f"the value “{name[:100]}”"


def _damage(listing: KeyListing) -> dict[str, Any]:
    return {"damaged": list(listing.damaged)} if listing.damaged else {}


def _wire_size(item: dict[str, Any]) -> int:
    """About the characters *item* takes in JSON (an over-estimate for text; base64 counted as is)."""
    size = 64 + sum(len(name) + 4 for name in item["key"]) + sum(len(name) + 4 for name in item["subkeys"])
    for value in item.get("values", ()):
        data = value["data"]
        size += 48 + len(value["name"]) * 2 + (len(data["base64"]) if isinstance(data, dict) else
                                               sum(len(text) * 2 + 4 for text in data) if isinstance(data, list) else
                                               len(str(data)) * 2)
    return size + sum(len(note) + 4 for note in item.get("damaged", ()))


def _place(backend: Backend, key: KeyPath) -> str:
    shown = backend.display(key) or "(the top)"
    if isinstance(backend, HiveBackend):
        return f"the registry file {backend.file.path}, key {shown}"
    return shown


def _data_size(value: RegValue) -> int:
    data = value.data
    if isinstance(data, bytes):
        return len(data) * 3
    if isinstance(data, list):
        return sum(len(item) * 6 for item in data)
    return len(str(data)) * 6



"""T4: the registry, on every OS, under the customer's rules (C2, and C3 for registry subtrees).

One interface over typed values (:mod:`agent.registry.model`), with a backend
chosen once for this OS, in :mod:`agent.registry.choice` only (psutil's model:
absent beats fake):

=========  ===========================================  ==========================================
OS         live backend                                 module
=========  ===========================================  ==========================================
Windows    the registry (``winreg``)                    ``winreg_backend``
Linux      GNOME's dconf (``dconf`` command)            ``dconf``
macOS      preferences (``defaults`` command)           ``defaults``
POSIX      offline hive files, opened on purpose        ``hive`` (``regf``, ``regf_edit``) over
                                                        ``_posix_hive_io``
=========  ===========================================  ==========================================

Availability: offline hives (``open_hive``) need the customer's folder guard
(:mod:`agent.forbidden`): Linux, macOS; on Windows ``open_hive`` answers
``Unsupported`` for now.  Nothing POSIX-only is imported on Windows, and
``winreg`` is imported nowhere else.

Methods (permission ``registry``).  ``path`` is a key path (see
:mod:`agent.registry.paths`; ``""`` is the top): a string, or a list of key
names taken as they are (for names holding ``/`` or ``\\``; listings answer
with that form, ``key``); every method but the hive
ones also takes ``hive``, a handle from ``open_hive``, to work in that hive
file instead of the live registry.  Values are ``{"name", "type", "data"}``
as :mod:`agent.registry.model` describes (binary data is ``{"base64": …}``).

=======================  ===========================================  ==========================================
method                   parameters                                   result
=======================  ===========================================  ==========================================
registry.keys            path                                         {path, key, keys: [names], hidden: n}
registry.values          path                                         {path, key, values: [value], hidden: n}
registry.walk            path, after?, limit? (1000), values? (true)  {path, key, keys: [{key, subkeys, values}],
                                                                      hidden: n, next: key or null}
registry.get             path, name                                   value, with path
registry.set             path, name, type, data                       {path, name, before, after, created, undo}
registry.delete_value    path, name                                   {path, name, before, undo}
registry.delete_key      path                                         {path, deleted, undo}
registry.export          path, prefix? (hives)                        {path, text, keys, values, hidden}
registry.undo            force? (false)                               {undone, path, remaining}
registry.open_hive       path (a file)                                {hive, path, root, version, dirty, writable…}
registry.close_hive      hive                                         {hive, path, closed}
registry.hives                                                        {hives: [{hive, path}], backend}
=======================  ===========================================  ==========================================

* ``set`` creates the key and its missing parents; the value name ``""`` is
  the default value (Windows only).
* ``hidden`` counts what the customer's rules kept out of a listing: the
  technician learns that a rule exists, never what it protects.
* ``walk`` gives a page of the keys at and below ``path`` (parents first,
  each with its subkey names and values); ``next`` is passed back as
  ``after`` for the next page, until it is null.  One call (and one journal
  record) per page, where a walk by ``keys``/``values`` takes two per key.
* A damaged hive file is read past its damage (:mod:`agent.registry.regf_salvage`):
  ``keys``, ``values`` and each walked key carry ``damaged`` (plain words)
  when something there could not be read; a key whose cell is lost is shown
  as ``(damaged key 0x…)`` with the subkeys that still name it as parent.
* ``export`` gives ``.reg`` text (regedit's version 5 format) for the key and
  everything below it; a hive's keys appear under ``prefix`` (default
  ``HKEY_LOCAL_MACHINE\\OFFLINE``, where regedit would load it).
* Every change is backed up first under the agent's state directory, and
  ``undo`` restores the last one, after checking that nobody changed that part
  since (``Conflict`` otherwise; ``force`` restores anyway).

Errors: ``Forbidden`` (the customer protected it, including deleting a key
with a protected key below it), ``NotFound`` (key, value, hive handle, or
nothing to undo), ``BadParams`` (a NUL, a wrong type, data over
:data:`~agent.registry.model.MAX_DATA_BYTES`, a damaged hive…),
``Unsupported`` (a type this OS's store has no equivalent for; offline hives on
Windows),
``Unavailable`` (the store's tool cannot be reached), ``Conflict`` (undo after
another change; writing a dirty hive), ``PermissionDenied``.  A failed change
leaves nothing changed.
"""

from __future__ import annotations

from agent.dispatch import Method
from agent.registry.choice import live_backend
from agent.registry.service import Registry

#: The agent's registry service (one per process).
REGISTRY = Registry(live_backend)
#: The ``registry.*`` methods, for :class:`agent.dispatch.MethodTable`.
METHODS: list[Method] = REGISTRY.methods()

__all__ = ["METHODS", "REGISTRY", "Registry", "live_backend"]

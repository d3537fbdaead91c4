"""A protected folder's rule follows its path too: what to do, and what to tell the customer, when it changes.

A rule keeps the identity of the folder the customer chose *and* the path they
chose it by.  Every snapshot of the rules looks at that path first: when it now
names a folder the rule does not hold (the chosen folder was deleted and made
again, or another folder was renamed over it, or the chosen one was moved away
and a new one took its name), that folder is protected too ("re-armed") before
any technician's call can see it; a folder moved away stays protected where
it went.  The rule ends only when the customer removes it.

:func:`follow` is the decision, platform-free (the POSIX and the Windows
folder sets feed it what they found), and :class:`Change` carries the plain
words the customer's window shows.  The technician learns nothing of this:
the refusal they get is the usual one, with nothing about what is inside.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final

from agent.forbidden.rules import Identity
from agent.panel.catalogue import say

#: Objects one rule may hold at once (the chosen folder, where it was moved, what took its place…).
MAX_HELD: Final = 16

#: Tells the customer, in plain words, that a rule followed its path (thread-safe callback, may be None).
Notice = Callable[[str], None]


@dataclass(frozen=True)
class Change:
    """What :func:`follow` decided for one rule: hold the folder now at the path, and the words to say."""

    rearm: Identity | None
    missing: bool
    words: str | None


def follow(chosen: str, at_path: Identity | None, alive: Collection[Identity], moved_to: str | None,
           *, missing_before: bool) -> Change:
    """Decide for one rule, from what its chosen path names now.

    *at_path* is the identity of the folder at the chosen path (None: nothing
    there, or not a folder); *alive* the identities the rule holds that still
    exist; *moved_to* where the chosen folder is now when it is alive but no
    longer at its path; *missing_before* whether the path was already found
    empty (so the customer is told once, not at every call).
    """
    if at_path is not None and at_path not in alive:
        if moved_to is not None:
            words: str = say("forbidden.moved_replaced", chosen=chosen, moved_to=moved_to)
        else:
            words = say("forbidden.replaced", chosen=chosen)
        return Change(at_path, False, words)
    if at_path is None:
        if missing_before:
            return Change(None, True, None)
        if moved_to is not None:
            words = say("forbidden.moved", chosen=chosen, moved_to=moved_to)
        else:
            words = say("forbidden.deleted", chosen=chosen)
        return Change(None, True, words)
    return Change(None, False, None)


def tell(notice: Notice | None, words: list[str]) -> None:
    """Say each of *words* through *notice*; a failing window never stops a snapshot of the rules."""
    if notice is None:
        return
    for line in words:
        try:
            notice(line)
        except Exception:  # the customer's window is not allowed to break the guard
            continue

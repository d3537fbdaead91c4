"""Playbooks: parameterised notebooks that fix one fault, run live on an open session or headless.

This is the contract every playbook notebook is written against (its first code cells)::

    # parameters  (the cell tagged "parameters", papermill's convention)
    session_code = ""      # the customer's code (headless runs); ignored when run live
    relay = ""             # the relay's URL (headless runs)
    dry_run = False        # plan every change, make none
    ...                    # the playbook's own parameters

    from workbench.playbooks import attach, check
    s = attach(session_code, relay, dry_run=dry_run)

:func:`attach` returns the session the playbook works on: the technician's open session when the
notebook runs live (``s.playbooks.run``), otherwise a new one paired with *session_code*.
:func:`check` is a playbook's own assertion; a failed check raises :class:`CheckFailed`, which
stops the run and makes ``workbench playbook run`` exit non-zero.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wire.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.proxy import Session

#: The session a live run hands to the notebook it runs in this kernel (set by the live runner).
_live_session: Session | None = None
#: The session the last :func:`attach` returned (its planned changes are the run's, in a dry run).
_attached: Session | None = None


class CheckFailed(WorkbenchError):
    """A playbook's own check did not hold: the fault is still there, or the fix did not take."""

    code = "playbook_check_failed"


def attach(session_code: str = "", relay: str = "", *, dry_run: bool = False, name: str | None = None) -> Session:
    """The session this playbook works on.

    Live (inside ``s.playbooks.run``): the technician's open session, in dry-run mode when
    *dry_run*.  Headless: a new session paired with *session_code* through *relay*; in a run of
    ``workbench playbook run`` the customer's window is then told each step
    (:mod:`workbench.playbooks.kernel`).
    Raises what :func:`workbench.connect` raises when pairing fails.
    """
    global _attached
    from workbench import connect

    if _live_session is not None:
        _attached = _live_session.with_dry_run(dry_run)
        return _attached
    session = _attached = connect(session_code, relay=relay or "ws://127.0.0.1:8765", name=name or "Playbook",
                                  dry_run=dry_run)
    from workbench.playbooks.kernel import follow

    follow(session, _injected_run())
    return session


def _injected_run() -> object:
    """The ``playbook_run`` parameter the headless runner injected into this kernel (None elsewhere)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()  # type: ignore[no-untyped-call,unused-ignore]
    return None if shell is None else shell.user_ns.get("playbook_run")


def check(condition: object, words: str) -> None:
    """Raise :class:`CheckFailed` with *words* unless *condition* holds."""
    if not condition:
        raise CheckFailed(words)


__all__ = ["CheckFailed", "attach", "check"]

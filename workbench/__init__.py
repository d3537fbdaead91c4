"""The technician's workbench: connect to a customer's agent from a notebook.

>>> from workbench import connect
>>> s = connect("123 456 789", relay="ws://127.0.0.1:8765")
>>> s.inventory()            # the customer's system information
>>> s.history                # every call made through s

Errors are :class:`WorkbenchError` subclasses with a stable ``code``; in a notebook they
read as one sentence with its code, the traceback folded away (:mod:`workbench.notebook_errors`).
"""

from __future__ import annotations

import getpass
import ssl
from pathlib import Path

from wire.errors import (
    BadCode,
    CodeBurned,
    CodeExpired,
    CodeInUse,
    ConnectionLost,
    CustomerPriority,
    Forbidden,
    NotFound,
    NotGranted,
    PairingFailed,
    RateLimited,
    SessionEnded,
    Timeout,
    Unauthorized,
    WorkbenchError,
)
from workbench import notebook_errors
from workbench.client import RelayClient
from workbench.proxy import Session

__version__ = "0.1.0"


def connect(code: str, relay: str = "ws://127.0.0.1:8765", *, name: str | None = None, key: str | None = None,
            cafile: str | Path | None = None, dry_run: bool = False) -> Session:
    """Pair with the customer whose window shows *code* and return the :class:`Session`.

    *name* is how the customer's window will name you (default: your login);
    *key* is your key when the relay admits only listed technicians; *cafile*
    trusts a ``wss://`` relay's certificate; with *dry_run* every change is planned by the agent, not
    made (see :meth:`Session.with_dry_run`).  Raises :class:`BadCode`,
    :class:`CodeExpired`, :class:`CodeBurned`, :class:`CodeInUse`, :class:`Unauthorized`, :class:`RateLimited` (all
    :class:`PairingFailed`) or :class:`ConnectionLost` when the relay is unreachable.
    """
    ssl_context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    client = RelayClient(relay, ssl_context)
    try:
        paired = client.pair(code, name or getpass.getuser(), key)
    except WorkbenchError as err:
        raise err.with_traceback(None) from None  # the sentence is the news; the client's inner workings are not
    return Session(client, paired, relay, dry_run=dry_run)


notebook_errors.install()

__all__ = [
    "BadCode",
    "CodeBurned",
    "CodeExpired",
    "CodeInUse",
    "ConnectionLost",
    "CustomerPriority",
    "Forbidden",
    "NotFound",
    "NotGranted",
    "PairingFailed",
    "RateLimited",
    "Session",
    "SessionEnded",
    "Timeout",
    "Unauthorized",
    "WorkbenchError",
    "connect",
]

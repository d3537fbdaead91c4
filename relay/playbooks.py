"""``relay.put_playbook``: the technician keeps an executed playbook notebook in the session's record.

The request carries the notebook as its binary data and ``{"name": NAME}``; the relay stores it as
``sessions/<id>/playbooks/<NAME>-<UTC time>.ipynb`` (written atomically by
:meth:`relay.records.SessionRecords.save_playbook`) and notes it in ``session.json``'s ``playbooks``
list, which sets the session index's ``playbook`` column.  Only the technician paired with the
session can send it (the relay answers ``relay.*`` methods on that connection only).
"""

from __future__ import annotations

import re
from typing import Any

from wire.errors import BadParams, MessageTooLarge, NoSpace

#: The largest executed notebook the relay keeps (outputs included).
MAX_PLAYBOOK_BYTES = 8 * 1024 * 1024
#: What one session's record keeps of them at most: a paired technician cannot fill the relay's disk
#: by sending the same notebook again and again.
MAX_PLAYBOOKS_PER_SESSION = 32
MAX_PLAYBOOK_BYTES_PER_SESSION = 64 * 1024 * 1024
#: A playbook's name: what ``notebooks/playbooks/NAME.ipynb`` is called.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def playbook_file_name(params: Any, data: bytes | None, utc: str) -> str:
    """The file name to keep the notebook under, at the relay's time *utc* (ISO 8601).

    Raises BadParams (no or a bad name, no notebook, not a JSON notebook) or MessageTooLarge
    (over :data:`MAX_PLAYBOOK_BYTES`).
    """
    name = params.get("name") if isinstance(params, dict) else None
    if not isinstance(name, str) or not NAME.fullmatch(name) or ".." in name:
        raise BadParams("name must be a playbook's name (letters, digits, _ . -; at most 64)", param="name")
    if not data:
        raise BadParams("the request carries no notebook", param="data")
    if len(data) > MAX_PLAYBOOK_BYTES:
        raise MessageTooLarge(f"the executed notebook is {len(data)} bytes; the relay keeps at most "
                              f"{MAX_PLAYBOOK_BYTES} bytes (clear large outputs and save again)")
    if not data.lstrip().startswith(b"{"):
        raise BadParams("the data is not a notebook (JSON)", param="data")
    return f"{name}-{_stamp(utc)}.ipynb"


def check_room(kept: Any, size: int) -> None:
    """Refuse a notebook of *size* bytes when the session's record already keeps *kept* (``session.json``'s
    ``playbooks`` list) up to :data:`MAX_PLAYBOOKS_PER_SESSION` or :data:`MAX_PLAYBOOK_BYTES_PER_SESSION`.

    Raises NoSpace (``no_space``), saying what is kept.
    """
    entries = kept if isinstance(kept, list) else []
    used = sum(int(entry.get("bytes", 0)) for entry in entries if isinstance(entry, dict))
    if len(entries) >= MAX_PLAYBOOKS_PER_SESSION:
        raise NoSpace(f"this session's record already keeps {len(entries)} playbook notebooks, the most "
                      "the relay keeps for one session")
    if used + size > MAX_PLAYBOOK_BYTES_PER_SESSION:
        raise NoSpace(f"this session's record keeps {used} bytes of playbook notebooks; {size} more would pass "
                      f"the {MAX_PLAYBOOK_BYTES_PER_SESSION} bytes the relay keeps for one session")


def _stamp(utc: str) -> str:
    """*utc* (ISO 8601) as a file name's compact time: ``20261207T064500Z``."""
    return re.sub(r"[^0-9TZ]", "", utc.split(".")[0].replace("+00:00", "")) + "Z"

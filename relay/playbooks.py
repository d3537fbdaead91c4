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

from wire.errors import BadParams, MessageTooLarge

#: The largest executed notebook the relay keeps (outputs included).
MAX_PLAYBOOK_BYTES = 8 * 1024 * 1024
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
    stamp = re.sub(r"[^0-9TZ]", "", utc.split(".")[0].replace("+00:00", "")) + "Z"
    return f"{name}-{stamp}.ipynb"

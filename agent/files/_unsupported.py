"""The file handlers where no walk is written yet (Windows): every one raises :class:`~wire.errors.Unsupported`.

Same names as the POSIX handlers, so :mod:`agent.files.methods` builds the same
table.  Platform-free: it imports nothing POSIX-only.
"""

from __future__ import annotations

from typing import NoReturn

from agent.dispatch import CallContext
from wire.errors import Unsupported

UNSUPPORTED_MESSAGE = "file access is not available on this operating system yet"


def _unsupported(ctx: CallContext) -> NoReturn:
    """Raise :class:`~wire.errors.Unsupported`: the customer's files cannot be reached here yet."""
    raise Unsupported(UNSUPPORTED_MESSAGE)


list_folder = stat_path = read_file = write_file = edit_file = _unsupported
move_path = copy_path = delete_path = make_folder = undo = _unsupported
download_open = download_chunk = download_close = _unsupported
upload_open = upload_chunk = upload_status = upload_finish = upload_abort = _unsupported

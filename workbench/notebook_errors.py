"""How a :class:`~wire.errors.WorkbenchError` reads in a notebook: one sentence and its code.

A technician's mistake (a wrong code, a protected folder, a session that ended) is not a
bug: IPython's 20–40 lines of traceback bury the sentence that says what to do.  In an
IPython kernel, :func:`install` registers a custom exception display
(``InteractiveShell.set_custom_exc``) for ``WorkbenchError``: the cell's error output is
one line, ``CodeInUse [code_in_use]: this session code is already in use…``, and the full
traceback follows folded away (an HTML ``<details>``), still there for a bug report; ``%tb``
shows it too.  Other exceptions keep IPython's usual display.
"""

from __future__ import annotations

import html
import re
import sys
from types import TracebackType
from typing import Any

from wire.errors import WorkbenchError

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RED, _RESET = "\x1b[0;31m", "\x1b[0m"


def one_line(error: BaseException) -> str:
    """``Name [code]: sentence`` for a WorkbenchError (any other error: ``Name: message``)."""
    name = type(error).__name__
    if isinstance(error, WorkbenchError):
        return f"{name} [{error.code}]: {error.message}"
    return f"{name}: {error}"


def folded_traceback_html(traceback_text: str) -> str:
    """The traceback as a closed ``<details>`` block (ANSI colours removed)."""
    return ("<details><summary>traceback (for a bug report)</summary>"
            f"<pre>{html.escape(_ANSI.sub('', traceback_text))}</pre></details>")


def _show(shell: Any, etype: type[BaseException], value: BaseException, tb: TracebackType | None,
          tb_offset: int | None = None) -> list[str]:
    """IPython's custom exception handler: the one line as the cell's error, the traceback folded."""
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb  # for %tb and %debug
    full = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    stb = [f"{_RED}{one_line(value)}{_RESET}"]
    shell._showtraceback(etype, value, stb)
    from IPython.display import HTML, display

    display(HTML(folded_traceback_html(shell.InteractiveTB.stb2text(full))))  # type: ignore[no-untyped-call]
    return stb


def install() -> bool:
    """Use the one-line display in the running IPython shell; False (and nothing done) outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((WorkbenchError,), _show)
    return True

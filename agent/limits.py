"""What this build of the agent cannot do yet on the customer's system, said to them in plain words.

The technician learns it call by call (each such call answers the wire's ``unsupported`` with
the reason); the customer is told once, when the session starts, so that nothing is promised
that this computer will not do. Pure: the table is keyed by ``sys.platform`` and tested anywhere.
"""

from __future__ import annotations

import sys
from typing import Final

#: Per platform, what is missing, as the customer reads it (English; the window shows core lines as they are).
LIMITS: Final[dict[str, tuple[str, ...]]] = {
    "darwin": (
        "On this Mac the technician cannot use your mouse and keyboard: this version has no way to do it yet.",
        "On this Mac drawings and notes from the technician are not shown on your screen yet; each one is "
        "listed here instead.",
        "On this Mac a hidden window cannot be followed yet: while you hide a window, your whole screen is "
        "hidden from the technician.",
        "On this Mac the settings the technician can read and change are the preferences of the 'defaults' "
        "command (there is no Windows registry).",
    ),
}


def known_limits(platform: str = sys.platform) -> list[str]:
    """The sentences for *platform* (a ``sys.platform`` value); empty where nothing is known missing."""
    return list(LIMITS.get(platform, ()))

"""What this build of the agent cannot do yet on the customer's system, said to them in plain words.

The technician learns it call by call (each such call answers the wire's ``unsupported`` with
the reason); the customer is told once, when the session starts, so that nothing is promised
that this computer will not do. Pure: the table is keyed by ``sys.platform`` and tested anywhere.
"""

from __future__ import annotations

import sys
from typing import Final

from agent.panel.catalogue import say

#: Per platform, what is missing, as the customer reads it (sentences of agent.panel.catalogue: "limits.*").
LIMITS: Final[dict[str, tuple[str, ...]]] = {
    "darwin": (
        say("limits.darwin.control"),
        say("limits.darwin.annotate"),
        say("limits.darwin.hidden_window"),
        say("limits.darwin.registry"),
    ),
}


def known_limits(platform: str = sys.platform) -> list[str]:
    """The sentences for *platform* (a ``sys.platform`` value); empty where nothing is known missing."""
    return list(LIMITS.get(platform, ()))

"""What the customer allows and forbids, in one place the handlers consult.

:class:`Permissions` are the powers the customer granted (control is off
until they grant it).  Forbidden folders (C3) live in :mod:`agent.forbidden`,
forbidden registry subtrees in :mod:`agent.registry`, hidden screen regions
(C4) in :mod:`agent.screen`; :class:`Policy` holds the live instances so
every handler sees the customer's current choices.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

POWERS = ("session", "inventory", "files", "registry", "screen", "annotate", "control")


@dataclass
class Permissions:
    """The technician's powers, as the customer set them."""

    inventory: bool = True
    files: bool = True
    registry: bool = True
    screen: bool = True
    annotate: bool = True
    control: bool = False

    def allows(self, power: str) -> bool:
        """True when *power* is granted; ``session`` (ping, describe) always is."""
        if power == "session":
            return True
        return bool(getattr(self, power, False))

    def to_dict(self) -> dict[str, bool]:
        return asdict(self)


@dataclass
class Policy:
    """The customer's live choices; handlers read it, the customer window changes it."""

    permissions: Permissions = field(default_factory=Permissions)
    #: agent.forbidden.ForbiddenFolders, set at start-up
    forbidden_folders: Any = None
    #: registry paths (normalised strings) the technician may not touch
    forbidden_registry: list[str] = field(default_factory=list)
    #: agent.screen hidden-region set, set at start-up
    hidden: Any = None
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def summary(self) -> dict[str, Any]:
        """What the technician may know of the rules: that they exist, not what they protect."""
        folders = self.forbidden_folders
        return {
            "permissions": self.permissions.to_dict(),
            "forbidden_folders": len(folders) if folders is not None else 0,
            "forbidden_registry": len(self.forbidden_registry),
        }

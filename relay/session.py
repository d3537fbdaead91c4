"""One paired session as the relay's state machine holds it (:class:`SessionState`); no I/O.

Its connections are named by the I/O layer's ids; the frames waiting for a side that is
away, the viewer tokens handed out and the head of the agent's journal kept so far are
here.  :mod:`relay.machine` changes it; nothing else does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from relay.events import ConnId, Frame, Side
from wire.chain import ChainFollower


@dataclass
class SessionState:
    """One paired session as the relay holds it: who is connected, what waits, the journal's head."""

    meta: dict[str, Any]
    chain: ChainFollower = field(default_factory=ChainFollower)
    agent: ConnId | None = None
    technician: ConnId | None = None
    #: viewer id → connection
    viewers: dict[str, ConnId] = field(default_factory=dict)
    to_agent: deque[Frame] = field(default_factory=deque)
    to_technician: deque[Frame] = field(default_factory=deque)
    #: sha256 of a viewer token → when it expires (monotonic seconds)
    viewer_tokens: dict[str, float] = field(default_factory=dict)
    #: counts for the technician and for tests: events from viewers by name, connections, refusals
    viewer_events: dict[str, int] = field(default_factory=dict)
    viewer_connections: int = 0
    viewer_refusals: int = 0
    records_open: bool = True
    #: when an agent told the session is over is closed if it has not said bye (monotonic seconds)
    agent_goodbye_at: float | None = None
    #: the relay records this session's screen (``--record all``): see relay.recording
    recording: bool = False
    #: when the last key frame was recorded, and how many frames followed it (monotonic seconds)
    last_key_at: float = 0.0
    frames_since_key: int = 0
    key_requested_at: float | None = None
    #: seq of the last ``screen.frame`` passed on from the agent's present connection (None: none yet);
    #: told in ``relay.viewers``, so the agent knows which of its frames in flight a joining viewer gets
    last_frame_seq: int | None = None
    #: ids of the technician's ``screen.screenshot`` requests not answered yet
    screenshot_requests: set[str] = field(default_factory=set)

    @property
    def id(self) -> str:
        return str(self.meta["session_id"])

    @property
    def ended(self) -> bool:
        return bool(self.meta.get("ended_at"))

    def side(self, side: Side) -> tuple[ConnId | None, deque[Frame]]:
        """The connection of *side* (None while away) and the frames waiting for it."""
        if side == "agent":
            return self.agent, self.to_agent
        return self.technician, self.to_technician

    def status(self) -> dict[str, Any]:
        """The answer to the technician's ``relay.status``: who is connected, what the relay kept."""
        return {
            "session_id": self.id, "agent_connected": self.agent is not None,
            "viewers": len(self.viewers), "viewer_connections": self.viewer_connections,
            "viewer_refusals": self.viewer_refusals, "viewer_events": dict(self.viewer_events),
            "recording": self.recording, "journal_seq": self.chain.seq, "journal_head": self.chain.head,
            "journal_alerts": self.meta.get("journal_alerts", []), "ended_at": self.meta.get("ended_at")}

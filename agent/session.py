"""The agent's session: consent, identity, start and end, and the ``session.*`` methods.

States, in order: ``consented`` (the customer accepted the terms; nothing was
connected before) → ``waiting`` (a code is shown) → ``active`` (a technician
is paired) → ``ended``.  Each transition is a journal record.
"""

from __future__ import annotations

import platform
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent import __version__
from agent.dispatch import CallContext, Method
from agent.journal import Journal
from agent.panel import Terms
from agent.panel.catalogue import Said, say
from agent.panel.model import one_line
from agent.panel.playbook_words import ENGLISH_PLAYBOOK, STATES, PlaybookWording, playbook_line
from agent.params import get_int, get_str
from agent.policy import Policy
from wire.chain import utc_now
from wire.errors import BadParams


def machine_summary() -> dict[str, str]:
    """The few facts the relay and technician see on pairing: name and OS, nothing personal beyond that."""
    return {"hostname": socket.gethostname(), "os": f"{platform.system()} {platform.release()}",
            "platform": platform.platform(terse=True)}


@dataclass
class AgentSession:
    """What the agent knows of its session; the journal is the durable copy."""

    journal: Journal
    policy: Policy
    terms: Terms
    consent_how: str
    state: str = "new"
    session_id: str | None = None
    technician: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    consent_record: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_consent(self) -> None:
        """Journal the customer's acceptance: which terms (name and hash), when, and how."""
        record = self.journal.append("consent", terms=self.terms.name, terms_sha256=self.terms.sha256,
                                     how=self.consent_how, agent_version=__version__)
        self.consent_record = {"terms": self.terms.name, "terms_sha256": self.terms.sha256,
                               "accepted_at": record["time"], "how": self.consent_how}
        self.state = "consented"

    def record_code(self, code: str) -> None:
        self.state = "waiting"
        self.journal.append("code_shown", code_suffix=code[-3:])

    def record_paired(self, paired: dict[str, Any]) -> None:
        with self._lock:
            self.session_id = str(paired["session_id"])
            self.technician = str(paired.get("technician", ""))
            self.started_at = str(paired.get("started_at", utc_now()))
            self.state = "active"
        self.journal.append("session_start", session_id=self.session_id, technician=self.technician,
                            started_at=self.started_at, policy=self.policy.summary())

    def record_end(self, reason: str, by: str) -> bool:
        """Journal the end once; returns False when it was already recorded."""
        with self._lock:
            if self.state == "ended":
                return False
            self.state = "ended"
            self.ended_at = utc_now()
        self.journal.append("session_end", session_id=self.session_id, reason=reason, by=by,
                            ended_at=self.ended_at)
        return True

    def hello_fields(self) -> dict[str, Any]:
        """What the agent tells the relay when it says hello."""
        return {"agent_version": __version__, "machine": machine_summary(), "consent": self.consent_record,
                "policy": self.policy.summary()}

    def describe(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "technician": self.technician, "started_at": self.started_at,
                "machine": machine_summary(), "consent": self.consent_record, "policy": self.policy.summary(),
                "journal_seq": self.journal.seq}

    def methods(self, show_playbook: Callable[[PlaybookStep], None] | None = None) -> list[Method]:
        """The ``session.*`` methods, bound to this session; *show_playbook* puts the playbook line in the window."""

        def ping(ctx: CallContext) -> dict[str, Any]:
            return {"pong": True}

        def describe(ctx: CallContext) -> dict[str, Any]:
            return self.describe()

        def playbook(ctx: CallContext) -> dict[str, Any]:
            step = PlaybookStep.from_params(ctx.params)
            if show_playbook is not None:
                show_playbook(step)
            ctx.journal_details.update(playbook=step.name, step=step.step, total=step.total, state=step.state)
            return {"shown": step.english()}

        return [
            Method("session.ping", ping, "session", lambda p: say("session.ping"),
                   blocking=False),
            Method("session.describe", describe, "session",
                   lambda p: say("session.describe"), blocking=False),
            # The window keeps the playbook's one line; the activity feed does not repeat it at every step.
            Method("session.playbook", playbook, "session", _playbook_words, blocking=False, tell=False),
        ]


@dataclass(frozen=True)
class PlaybookStep:
    """One announcement of a playbook's progress (``session.playbook``)."""

    name: str
    step: int
    total: int
    title: str
    state: str

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> PlaybookStep:
        """Read and check the parameters; raises BadParams (a missing or wrong one, a step past the total)."""
        name = get_str(params, "name", max_length=200)
        if not name.strip():
            raise BadParams("'name' must not be empty", param="name")
        total = get_int(params, "total", minimum=1, maximum=10_000)
        step = get_int(params, "step", minimum=0, maximum=total)
        title = get_str(params, "title", max_length=300)
        state = get_str(params, "state", "running", max_length=16)
        if state not in STATES:
            raise BadParams(f"'state' must be one of {', '.join(STATES)}, not {state!r}", param="state")
        return cls(one_line(name), step, total, one_line(title), state)

    def line(self, wording: PlaybookWording) -> str:
        return playbook_line(wording, self.name, self.step, self.total, self.title, self.state)

    def english(self) -> str:
        return self.line(ENGLISH_PLAYBOOK)


def _playbook_words(params: dict[str, Any]) -> Said:
    """The journal's words for an announcement: the window's line, in English (``session.playbook``)."""
    try:
        step = PlaybookStep.from_params(params)
    except BadParams:
        return say("session.playbook.invalid")
    state = "starting" if step.state == "running" and step.step == 0 else step.state
    return say("session.playbook", line=say(f"playbook.{state}", name=step.name, step=step.step, total=step.total,
                                            title=step.title))

"""The customer's playbook line, in English and French: "playbook: disk_full — step 3 of 7: Empty the trash".

A technician running a playbook announces each step (``session.playbook``);
the customer's window keeps one line for it, replaced at every step and left
showing how it ended.  :mod:`agent.panel.wording` picks the language; this
module holds the sentences, like :mod:`agent.panel.hiding_words`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

PlaybookState = Literal["running", "done", "failed", "stopped"]
STATES: Final[tuple[str, ...]] = ("running", "done", "failed", "stopped")


@dataclass(frozen=True)
class PlaybookWording:
    running: str  # {name} {step} {total} {title}
    done: str  # {name} {total}
    failed: str  # {name} {step} {total} {title}
    stopped: str  # {name} {step} {total} {title}
    starting: str  # {name} {total}  (step 0: announced, nothing done yet)


ENGLISH_PLAYBOOK: Final = PlaybookWording(
    running="playbook: {name} — step {step} of {total}: {title}",
    done="playbook: {name} — done ({total} steps)",
    failed="playbook: {name} — failed at step {step} of {total}: {title}",
    stopped="playbook: {name} — stopped at step {step} of {total}: {title}",
    starting="playbook: {name} — starting ({total} steps)",
)

FRENCH_PLAYBOOK: Final = PlaybookWording(
    running="procédure : {name} — étape {step} sur {total} : {title}",
    done="procédure : {name} — terminée ({total} étapes)",
    failed="procédure : {name} — échec à l'étape {step} sur {total} : {title}",
    stopped="procédure : {name} — arrêtée à l'étape {step} sur {total} : {title}",
    starting="procédure : {name} — début ({total} étapes)",
)


def playbook_line(wording: PlaybookWording, name: str, step: int, total: int, title: str, state: str) -> str:
    """The one line the customer reads for a playbook's *state* at *step* of *total*."""
    fields = {"name": name, "step": step, "total": total, "title": title}
    if state == "running" and step == 0:
        return wording.starting.format(**fields)
    template = {"running": wording.running, "done": wording.done, "failed": wording.failed,
                "stopped": wording.stopped}.get(state, wording.running)
    return template.format(**fields)

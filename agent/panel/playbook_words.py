"""The customer's playbook line, in English and French: "playbook: disk_full — step 3 of 7: Empty the trash".

A technician running a playbook announces each step (``session.playbook``);
the customer's window keeps one line for it, replaced at every step and left
showing how it ended.  :mod:`agent.panel.wording` picks the language; this
module holds the sentences, like :mod:`agent.panel.hiding_words`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from agent.panel import catalogue_en, catalogue_fr

PlaybookState = Literal["running", "done", "failed", "stopped"]
STATES: Final[tuple[str, ...]] = ("running", "done", "failed", "stopped")


@dataclass(frozen=True)
class PlaybookWording:
    running: str  # {name} {step} {total} {title}
    done: str  # {name} {total}
    failed: str  # {name} {step} {total} {title}
    stopped: str  # {name} {step} {total} {title}
    starting: str  # {name} {total}  (step 0: announced, nothing done yet)


def _wording(messages: dict[str, str]) -> PlaybookWording:
    return PlaybookWording(**{state: messages[f"playbook.{state}"]
                              for state in ("running", "done", "failed", "stopped", "starting")})


#: The sentences live in the catalogues, with every other sentence the customer reads.
ENGLISH_PLAYBOOK: Final = _wording(catalogue_en.MESSAGES)
FRENCH_PLAYBOOK: Final = _wording(catalogue_fr.MESSAGES)


def playbook_line(wording: PlaybookWording, name: str, step: int, total: int, title: str, state: str) -> str:
    """The one line the customer reads for a playbook's *state* at *step* of *total*."""
    fields = {"name": name, "step": step, "total": total, "title": title}
    if state == "running" and step == 0:
        return wording.starting.format(**fields)
    template = {"running": wording.running, "done": wording.done, "failed": wording.failed,
                "stopped": wording.stopped}.get(state, wording.running)
    return template.format(**fields)

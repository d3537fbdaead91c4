"""The sentences of the window's "hidden from the technician" section, in English and French.

Kept apart from :mod:`agent.panel.wording` (which holds one of these per language as
``Wording.hiding``) so the section's words live beside each other.  Monitors are numbered
from 0, as the technician's monitor list, ``--hide-monitor`` and ``s.screen(monitor=…)``
number them, so that both sides name the same monitor with the same number on the phone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HidingWording:
    caption: str
    hint: str
    nothing_hidden: str
    hide_window: str
    hide_monitor: str
    show_again: str
    picker_window_title: str
    picker_monitor_title: str
    picker_hide: str
    picker_cancel: str
    picker_loading: str
    picker_empty_windows: str
    picker_empty_monitors: str
    picker_failed: str  # {error}
    item_window: str  # {title}
    item_monitor: str  # {index} {size}
    item_rect: str  # {x} {y} {w} {h}
    monitor_choice: str  # {index} {size} {where}
    primary: str
    window_hidden: str  # {title}
    monitor_hidden: str  # {index}
    item_shown: str  # {what}


ENGLISH_HIDING = HidingWording(
    caption="Hidden from the technician",
    hint="The technician sees a grey box instead, never what is under it.",
    nothing_hidden="Nothing is hidden.",
    hide_window="Hide a window…",
    hide_monitor="Hide a monitor…",
    show_again="Show again",
    picker_window_title="Choose a window to hide",
    picker_monitor_title="Choose a monitor to hide",
    picker_hide="Hide",
    picker_cancel="Cancel",
    picker_loading="Looking for your windows…",
    picker_empty_windows="No window to hide was found.",
    picker_empty_monitors="No monitor was found.",
    picker_failed="The list could not be read: {error}",
    item_window="Window: {title}",
    item_monitor="Monitor {index} ({size})",
    item_rect="Area at {x},{y} ({w}×{h})",
    monitor_choice="Monitor {index} — {size}{where}",
    primary=", main monitor",
    window_hidden="You hid the window “{title}”. The technician sees a grey box in its place, even when it moves.",
    monitor_hidden="You hid monitor {index}. The technician sees a grey box in its place.",
    item_shown="The technician can see this again: {what}.",
)

FRENCH_HIDING = HidingWording(
    caption="Caché au technicien",
    hint="Le technicien voit un rectangle gris à la place, jamais ce qu'il recouvre.",
    nothing_hidden="Rien n'est caché.",
    hide_window="Cacher une fenêtre…",
    hide_monitor="Cacher un écran…",
    show_again="Montrer à nouveau",
    picker_window_title="Choisissez une fenêtre à cacher",
    picker_monitor_title="Choisissez un écran à cacher",
    picker_hide="Cacher",
    picker_cancel="Annuler",
    picker_loading="Recherche de vos fenêtres…",
    picker_empty_windows="Aucune fenêtre à cacher n'a été trouvée.",
    picker_empty_monitors="Aucun écran n'a été trouvé.",
    picker_failed="La liste n'a pas pu être lue : {error}",
    item_window="Fenêtre : {title}",
    item_monitor="Écran {index} ({size})",
    item_rect="Zone en {x},{y} ({w}×{h})",
    monitor_choice="Écran {index} — {size}{where}",
    primary=", écran principal",
    window_hidden="Vous avez caché la fenêtre « {title} ». Le technicien voit un rectangle gris à sa place, "
                  "même quand elle bouge.",
    monitor_hidden="Vous avez caché l'écran {index}. Le technicien voit un rectangle gris à sa place.",
    item_shown="Le technicien peut de nouveau voir ceci : {what}.",
)

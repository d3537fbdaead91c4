"""Every sentence the customer window says, in English and French.

The window speaks the language of the terms the customer accepted.  Keep the
sentences short and free of jargon: the reader may be worried and in a hurry.
Activity lines come from the agent core as :class:`agent.panel.catalogue.Said` sentences and
are rendered in the customer's language by :mod:`agent.panel.catalogue`; other text is shown as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from agent.panel.hiding_words import ENGLISH_HIDING, FRENCH_HIDING, HidingWording
from agent.panel.playbook_words import ENGLISH_PLAYBOOK, FRENCH_PLAYBOOK, PlaybookWording

#: The data classes of the relay's retention policy (relay/retention.py), as the customer reads them.
_ENGLISH_CLASSES = {
    "recordings": "the recording of your screen",
    "journals": "the journal of what was done",
    "message_logs": "the log of the messages exchanged",
    "inventories": "the information about your computer",
    "personal_facts": "your personal details (serial number, user and computer names)",
}


@dataclass(frozen=True)
class Wording:
    language_name: str
    # consent screen
    consent_heading: str
    consent_note: str
    language_label: str
    accept: str
    refuse: str
    # session screen
    code_caption: str
    code_waiting: str
    code_used: str
    headline_waiting_code: str
    headline_waiting_technician: str
    headline_connected: str  # {technician}
    headline_ended: str
    technician_line: str  # {technician} {session_id}
    activity_caption: str
    activity_empty: str
    end_session: str
    ending: str
    open_journal: str
    journal_hint: str
    journal_where: str  # the path is shown below it
    journal_not_yet: str
    ended_line: str  # {reason}
    # forbidden folders section
    forbidden_caption: str
    forbidden_hint: str
    forbidden_unavailable: str
    forbidden_working: str
    forbidden_add: str
    forbidden_remove: str
    forbidden_pick_title: str
    forbidden_added: str  # {path}
    forbidden_removed: str  # {path}
    forbidden_confirm_remove: str  # {path}
    forbidden_add_failed: str  # {error}
    forbidden_remove_failed: str  # {error}
    forbidden_none: str
    # permissions section
    permissions_caption: str
    allowed: str
    not_allowed: str
    powers: dict[str, str]
    # control: the grant / take back button (the hotkeys are agent.control.HOTKEYS)
    control_grant: str
    control_take_back: str
    control_hint_off: str
    control_hint_on: str
    #: the agent core's own status and end lines (written in English in agent/app.py), in this language
    core_lines: dict[str, str] = field(default_factory=dict)
    #: the "hidden from the technician" section (agent.panel.hiding)
    hiding: HidingWording = ENGLISH_HIDING
    #: the playbook line (agent.panel.playbook_words)
    playbook: PlaybookWording = ENGLISH_PLAYBOOK

    #: what the support service keeps, and for how long (R7): the relay's retention policy, said once paired
    retention_line: str = ("The support service keeps the records of this session: {periods}. You can ask "
                           "for a copy of what concerns you, or for its deletion.")
    retention_classes: dict[str, str] = field(default_factory=lambda: dict(_ENGLISH_CLASSES))
    retention_days: str = "{what} for {n} days"
    retention_forever: str = "{what} without a time limit"
    retention_joiner: str = "; "
    # the session bar (agent.panel.bar)
    bar_title: str = "Remote support: session bar"
    bar_connected: str = "{technician} is connected"
    bar_recorded: str = "Session recorded"
    bar_not_recorded: str = "Not recorded"
    bar_control_on: str = "control given"
    bar_control_off: str = "view only"
    bar_end: str = "End session"
    bar_open: str = "Open window"
    bar_hide: str = "Hide window"
    save_journal: str = "Save a copy of my journal…"
    journal_saved: str = "You saved a copy of your journal: {path}"

    def retention_text(self, periods: Iterable[tuple[str, str]]) -> str:
        """The retention line for *periods* (data class, ``"90d"``/``"forever"``), in this language."""
        parts = []
        for name, period in periods:
            what = self.retention_classes.get(name, name.replace("_", " "))
            if period == "forever":
                parts.append(self.retention_forever.format(what=what))
            elif period.endswith("d") and period[:-1].isdigit():
                parts.append(self.retention_days.format(what=what, n=int(period[:-1])))
            else:
                parts.append(f"{what}: {period}")
        return self.retention_line.format(periods=self.retention_joiner.join(parts))

    def core_line(self, line: str) -> str:
        """*line* from the agent core in this language; a line not known here is shown as it is."""
        return self.core_lines.get(line, line)



ENGLISH = Wording(
    language_name="English",
    consent_heading="Before we start, please read these terms",
    consent_note=(
        "Nothing is connected and nothing is shared until you click Accept. You can end the session at any moment."
    ),
    language_label="Language:",
    accept="Accept",
    refuse="Refuse",
    code_caption="Your session code",
    code_waiting="Getting a code…",
    code_used="This code has been used: your technician is connected.",
    headline_waiting_code="Getting a session code from the support service…",
    headline_waiting_technician="Read this code to your technician.",
    headline_connected="Your technician {technician} is connected.",
    headline_ended="The session is over. The technician can no longer reach your computer.",
    technician_line="Technician: {technician}    Session: {session_id}",
    activity_caption="What the technician does, as it happens",
    activity_empty="Nothing yet.",
    end_session="End session",
    ending="Ending the session…",
    open_journal="Open journal",
    journal_hint="The journal lists every action, in order. It stays on your computer.",
    journal_where="Your journal is this file. You can open it with any text editor.",
    journal_not_yet="Nothing has been written to the journal yet. It will be this file:",
    ended_line="Session ended: {reason}",
    forbidden_caption="Folders the technician may never open",
    forbidden_hint="Everything inside these folders is protected too.",
    forbidden_unavailable="This version cannot protect folders.",
    forbidden_working="Working… a large folder can take a few seconds.",
    forbidden_add="Add a folder…",
    forbidden_remove="Remove",
    forbidden_pick_title="Choose a folder the technician must never open",
    forbidden_added="You protected the folder {path}. The technician cannot open it or anything inside it.",
    forbidden_removed="You removed the protection of the folder {path}.",
    forbidden_confirm_remove="Let the technician open this folder again?\n\n{path}",
    forbidden_add_failed="This folder could not be protected:\n\n{error}",
    forbidden_remove_failed="The protection could not be removed:\n\n{error}",
    forbidden_none="No protected folder.",
    permissions_caption="What you allow the technician to do",
    allowed="Allowed",
    not_allowed="Not allowed",
    powers={
        "screen": "See your screen",
        "inventory": "Read information about your computer",
        "files": "Open and change your files",
        "registry": "Look at and change system settings",
        "annotate": "Draw and write on your screen",
        "control": "Use your mouse and keyboard",
    },
    control_grant="Let the technician use my mouse and keyboard",
    control_take_back="Take back control",
    control_hint_off="Until you allow it, the technician can only watch.",
    control_hint_on=(
        "Your own mouse and keyboard always come first. To take back control at any moment, "
        "press Pause or Ctrl+Alt+Shift+Space."
    ),
)

FRENCH = Wording(
    language_name="Français",
    consent_heading="Avant de commencer, lisez ces conditions",
    consent_note=(
        "Aucune connexion et aucun partage tant que vous n'avez pas cliqué sur Accepter. "
        "Vous pouvez mettre fin à la séance à tout moment."
    ),
    language_label="Langue :",
    accept="Accepter",
    refuse="Refuser",
    code_caption="Votre code de séance",
    code_waiting="Obtention d'un code…",
    code_used="Ce code a servi : votre technicien est connecté.",
    headline_waiting_code="Obtention d'un code de séance auprès du service d'assistance…",
    headline_waiting_technician="Lisez ce code à votre technicien.",
    headline_connected="Votre technicien {technician} est connecté.",
    headline_ended="La séance est terminée. Le technicien n'a plus accès à votre ordinateur.",
    technician_line="Technicien : {technician}    Séance : {session_id}",
    activity_caption="Ce que fait le technicien, au fur et à mesure",
    activity_empty="Rien pour l'instant.",
    end_session="Terminer la séance",
    ending="Fin de la séance en cours…",
    open_journal="Ouvrir le journal",
    journal_hint="Le journal liste chaque action, dans l'ordre. Il reste sur votre ordinateur.",
    journal_where="Votre journal est ce fichier. Vous pouvez l'ouvrir avec n'importe quel éditeur de texte.",
    journal_not_yet="Rien n'a encore été écrit dans le journal. Ce sera ce fichier :",
    ended_line="Séance terminée : {reason}",
    forbidden_caption="Dossiers que le technicien ne peut jamais ouvrir",
    forbidden_hint="Tout ce que contiennent ces dossiers est protégé aussi.",
    forbidden_unavailable="Cette version ne sait pas protéger de dossiers.",
    forbidden_working="Un instant… un gros dossier peut prendre quelques secondes.",
    forbidden_add="Ajouter un dossier…",
    forbidden_remove="Retirer",
    forbidden_pick_title="Choisissez un dossier que le technicien ne doit jamais ouvrir",
    forbidden_added="Vous avez protégé le dossier {path}. Le technicien ne peut ouvrir ni ce dossier ni son contenu.",
    forbidden_removed="Vous avez retiré la protection du dossier {path}.",
    forbidden_confirm_remove="Permettre à nouveau au technicien d'ouvrir ce dossier ?\n\n{path}",
    forbidden_add_failed="Ce dossier n'a pas pu être protégé :\n\n{error}",
    forbidden_remove_failed="La protection n'a pas pu être retirée :\n\n{error}",
    forbidden_none="Aucun dossier protégé.",
    permissions_caption="Ce que vous autorisez le technicien à faire",
    allowed="Autorisé",
    not_allowed="Non autorisé",
    powers={
        "screen": "Voir votre écran",
        "inventory": "Lire les informations sur votre ordinateur",
        "files": "Ouvrir et modifier vos fichiers",
        "registry": "Consulter et modifier les réglages du système",
        "annotate": "Dessiner et écrire sur votre écran",
        "control": "Se servir de votre souris et de votre clavier",
    },
    control_grant="Laisser le technicien utiliser ma souris et mon clavier",
    control_take_back="Reprendre le contrôle",
    control_hint_off="Tant que vous ne l'autorisez pas, le technicien peut seulement regarder.",
    control_hint_on=(
        "Votre souris et votre clavier passent toujours en premier. Pour reprendre le contrôle à tout "
        "moment, appuyez sur Pause ou sur Ctrl+Alt+Maj+Espace."
    ),
    core_lines={
        "Connected to the support service.": "Connecté au service d'assistance.",
        "The connection dropped; reconnecting to the support service…":
            "La connexion a été coupée ; reconnexion au service d'assistance…",
        "Connected. This session is recorded.": "Connecté. Cette séance est enregistrée.",
        "The connection dropped; reconnecting… This session is recorded.":
            "La connexion a été coupée ; reconnexion… Cette séance est enregistrée.",
        "You ended the session.": "Vous avez mis fin à la séance.",
        "The technician ended the session.": "Le technicien a mis fin à la séance.",
    },
    hiding=FRENCH_HIDING,
    playbook=FRENCH_PLAYBOOK,
    retention_line=("Le service d'assistance conserve les traces de cette séance : {periods}. Vous pouvez "
                    "demander une copie de ce qui vous concerne, ou son effacement."),
    retention_classes={
        "recordings": "l'enregistrement de votre écran",
        "journals": "le journal de ce qui a été fait",
        "message_logs": "le relevé des messages échangés",
        "inventories": "les informations sur votre ordinateur",
        "personal_facts": "vos données personnelles (numéro de série, noms d'utilisateur et d'ordinateur)",
    },
    retention_days="{what} pendant {n} jours",
    retention_forever="{what} sans limite de durée",
    retention_joiner=" ; ",
    bar_title="Assistance à distance : barre de séance",
    bar_connected="{technician} vous assiste",
    bar_recorded="Séance enregistrée",
    bar_not_recorded="Séance non enregistrée",
    bar_control_on="contrôle donné",
    bar_control_off="vue seule",
    bar_end="Terminer",
    bar_open="Ouvrir",
    bar_hide="Réduire",
    save_journal="Enregistrer une copie de mon journal…",
    journal_saved="Vous avez enregistré une copie de votre journal : {path}",
)

WORDINGS: dict[str, Wording] = {"en": ENGLISH, "fr": FRENCH}


def wording_for(language: str | None) -> Wording:
    """The wording for *language* (``"fr"``, ``"fr_FR"``…); English when unknown or None."""
    if language:
        return WORDINGS.get(language[:2].lower(), ENGLISH)
    return ENGLISH

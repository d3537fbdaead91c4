"""Chaque phrase du fil d'activité et des avis du client, en français (voir :mod:`agent.panel.catalogue`).

Same ids and the same ``{placeholders}`` as :mod:`agent.panel.catalogue_en`; ``tests/test_panel_catalogue.py``
fails on a missing or different entry.
"""

from __future__ import annotations

import re
from typing import Final

COMMA: Final = ", "
LAST_JOINER: Final = " et "
UNITS: Final = ("o", "Kio", "Mio", "Gio", "Tio")
DECIMAL_POINT: Final = ","

MESSAGES: Final[dict[str, str]] = {
    # -- le répartiteur (agent/dispatch.py)
    "call.used": "Le technicien a utilisé {method}",
    "refused.files": "Le technicien a été empêché d'ouvrir un dossier que vous avez protégé",
    "refused.registry": "Le technicien a été empêché de toucher à un réglage que vous avez protégé",
    "refused.screen": "Le technicien a été empêché de voir ce que vous avez caché",
    "refused.other": "Le technicien a été empêché d'ouvrir quelque chose que vous avez protégé",
    "outcome.not_done": "Cela n'a pas eu lieu : {reason}",
    "outcome.step_failed": "{action} : cela n'a pas eu lieu ({reason})",
    "error.error": "une erreur s'est produite",
    "error.bad_message": "la demande n'a pas pu être lue",
    "error.too_large": "la demande était trop grande",
    "error.too_deep": "la demande était trop imbriquée",
    "error.unsupported_version": "le programme du technicien est d'une version que cet agent ne comprend pas",
    "error.unknown_method": "cet agent ne sait pas faire cela",
    "error.bad_params": "la demande était incomplète ou erronée",
    "error.not_found": "introuvable",
    "error.exists": "cela existe déjà",
    "error.not_a_directory": "ce n'est pas un dossier",
    "error.is_a_directory": "c'est un dossier",
    "error.denied": "votre ordinateur ne l'a pas permis",
    "error.forbidden": "vous l'avez protégé",
    "error.not_granted": "vous ne l'avez pas autorisé",
    "error.customer_priority": "vous utilisiez votre souris ou votre clavier, qui passent en premier",
    "error.conflict": "cela a changé entre-temps",
    "error.no_space": "il n'y a pas assez de place libre sur le disque",
    "error.unsupported": "cet ordinateur ne sait pas le faire",
    "error.unavailable": "ce n'est pas disponible pour le moment",
    "error.input_blocked": "votre ordinateur a bloqué les actions du technicien",
    "error.timeout": "cela a pris trop de temps",
    "error.session_ended": "la séance est terminée",
    "error.connection_lost": "la connexion a été perdue",
    "error.internal": "une erreur s'est produite dans l'agent",
    # -- fichiers
    "files.a_file": "un fichier",
    "files.list": "Le technicien a regardé la liste des fichiers de {path}",
    "files.stat": "Le technicien a regardé la taille et les dates de {path}",
    "files.read": "Le technicien a lu le fichier {path}",
    "files.read_part": "Le technicien a lu une partie du fichier {path}",
    "files.write": "Le technicien a modifié le fichier {path}",
    "files.edit": "Le technicien a retouché le fichier {path}",
    "files.move": "Le technicien a déplacé {src} vers {dst}",
    "files.copy": "Le technicien a copié {src} vers {dst}",
    "files.delete": "Le technicien a supprimé {path} (gardé dans la corbeille de l'agent, il peut être restauré)",
    "files.mkdir": "Le technicien a créé le dossier {path}",
    "files.undo": "Le technicien a annulé sa dernière modification de vos fichiers",
    "files.download_open": "Le technicien a commencé à copier le fichier {path} depuis votre ordinateur",
    "files.download_chunk": "Le technicien a copié une partie du fichier {path} (à partir de l'octet {offset})",
    "files.download_close": "Le technicien a fini de copier un fichier depuis votre ordinateur",
    "files.upload_open": ("Le technicien a commencé à envoyer un fichier sur votre ordinateur, qui sera enregistré "
                          "sous {path}"),
    "files.upload_chunk": "Le technicien a envoyé une partie du fichier {path} (à partir de l'octet {offset})",
    "files.upload_status": "Le technicien a vérifié quelle part du fichier envoyé est arrivée",
    "files.upload_finish": "Le technicien a fini d'envoyer un fichier ; il a été vérifié et enregistré",
    "files.upload_abort": "Le technicien a annulé l'envoi d'un fichier ; rien n'a été enregistré",
    "transfer.download.progress": ("Le technicien copie le fichier {path} depuis votre ordinateur : {done} sur "
                                   "{size}"),
    "transfer.download.done": "Le technicien a copié le fichier {path} depuis votre ordinateur : terminé, {size}",
    "transfer.download.cancelled": ("Le technicien a arrêté de copier le fichier {path} depuis votre ordinateur "
                                    "après {done} sur {size}"),
    "transfer.download.failed": ("La copie du fichier {path} depuis votre ordinateur a échoué après {done} sur "
                                 "{size} : {reason}"),
    "transfer.upload.progress": ("Le technicien envoie un fichier sur votre ordinateur, qui sera enregistré sous "
                                 "{path} : {done} sur {size}"),
    "transfer.upload.done": ("Le technicien a envoyé un fichier sur votre ordinateur, enregistré sous {path} : "
                             "terminé, {size}"),
    "transfer.upload.cancelled": ("Le technicien a annulé l'envoi du fichier {path} après {done} sur {size} ; rien "
                                  "n'a été enregistré"),
    "transfer.upload.failed": ("L'envoi du fichier {path} sur votre ordinateur a échoué après {done} sur {size} : "
                               "{reason}"),
    # -- inventaire, séance
    "inventory.collect": "Le technicien a lu les informations de votre système",
    "session.ping": "Le technicien a vérifié que la connexion fonctionne",
    "session.describe": "Le technicien a regardé ce que vous avez autorisé pendant cette séance",
    # -- registre
    "registry.noun.registry": "registre",
    "registry.noun.dconf": "réglages du bureau (dconf)",
    "registry.noun.defaults": "préférences",
    "registry.where.key": "la clé {path} ({noun})",
    "registry.where.top": "le sommet ({noun})",
    "registry.where.hive": "le fichier de registre {file}",
    "registry.where.hive_key": "le fichier de registre {file}, clé {path}",
    "registry.value.default": "la valeur par défaut",
    "registry.value.named": "la valeur « {name} »",
    "registry.data.binary": "des données binaires",
    "registry.keys": "Le technicien a listé les clés de {where}",
    "registry.values": "Le technicien a lu les valeurs de {where}",
    "registry.get": "Le technicien a lu {value} dans {where}",
    "registry.set": ("Le technicien a changé {value} dans {where} en {data} ({type}) ; une sauvegarde a été "
                     "gardée"),
    "registry.delete_value": "Le technicien a supprimé {value} dans {where} ; une sauvegarde a été gardée",
    "registry.delete_key": "Le technicien a supprimé {where} et tout son contenu ; une sauvegarde a été gardée",
    "registry.walk": "Le technicien a lu les clés et les valeurs de {where} et en dessous",
    "registry.export": "Le technicien a copié (exporté) {where} et tout son contenu",
    "registry.undo": "Le technicien a annulé sa dernière modification du registre",
    "registry.undone": "Annulé : la dernière modification du registre par le technicien a été défaite",
    "registry.open_hive": ("Le technicien a ouvert le fichier de registre {path} (un registre copié depuis un "
                           "ordinateur)"),
    "registry.close_hive": "Le technicien a fermé {where}",
    "registry.hives": "Le technicien a listé les fichiers de registre qu'il a ouverts",
    # -- écran
    "screen.screenshot": "Le technicien a pris une image de votre écran (les zones cachées restent cachées)",
    "screen.monitors": "Le technicien a regardé la liste de vos écrans",
    "screen.viewed": "Votre écran est regardé",
    "screen.not_viewed": "Votre écran n'est plus regardé",
    # -- annotations
    "annotate.wrote": "Le technicien a écrit « {text} » sur votre écran",
    "annotate.highlighted": "Le technicien a surligné une partie de votre écran",
    "annotate.highlighted_in": "Le technicien a surligné une partie de votre écran en {colour}",
    "annotate.pointing": "Le technicien montre quelque chose sur votre écran",
    "annotate.drew": "Le technicien a dessiné {shape} sur votre écran",
    "annotate.shape.pen": "un trait",
    "annotate.shape.arrow": "une flèche",
    "annotate.shape.rect": "un rectangle",
    "annotate.shape.ellipse": "un cercle",
    "annotate.shape.pen.coloured": "un trait en {colour}",
    "annotate.shape.arrow.coloured": "une flèche en {colour}",
    "annotate.shape.rect.coloured": "un rectangle en {colour}",
    "annotate.shape.ellipse.coloured": "un cercle en {colour}",
    "annotate.tried": "Le technicien a essayé de dessiner sur votre écran",
    "annotate.removed": "Le technicien a retiré une marque de votre écran",
    "annotate.cleared": "Le technicien a effacé les marques de votre écran",
    "annotate.listed": "Le technicien a regardé la liste des marques sur votre écran",
    "annotate.customer_removed": "Vous avez retiré les marques du technicien de votre écran",
    "annotate.not_shown": ("Les marques du technicien ne peuvent pas s'afficher sur votre écran ; chacune vous est "
                           "signalée ici"),
    # en français la couleur suit la forme ("une flèche en rouge"), sans article
    "colour.red": "rouge", "colour.red.a": "rouge",
    "colour.yellow": "jaune", "colour.yellow.a": "jaune",
    "colour.green": "vert", "colour.green.a": "vert",
    "colour.blue": "bleu", "colour.blue.a": "bleu",
    "colour.purple": "violet", "colour.purple.a": "violet",
    "colour.orange": "orange", "colour.orange.a": "orange",
    "colour.black": "noir", "colour.black.a": "noir",
    "colour.white": "blanc", "colour.white.a": "blanc",
    # -- prise en main
    "control.did": "Le technicien {actions}",
    "control.granted": ("Vous laissez le technicien utiliser votre souris et votre clavier. Les vôtres passent "
                        "toujours en premier ; appuyez sur {hotkeys} pour reprendre le contrôle à tout moment."),
    "control.revoked": "Vous avez repris le contrôle de votre souris et de votre clavier.",
    "control.unavailable": "Le technicien ne peut pas utiliser votre souris et votre clavier sur cet ordinateur.",
    "control.hotkeys": "Ctrl+Alt+Maj+Espace ou Pause",
    "control.button.left": "",
    "control.button.middle": "avec le bouton du milieu ",
    "control.button.right": "avec le bouton droit ",
    "control.button.other": "avec le bouton {number} ",
    "control.button_name.left": "gauche",
    "control.button_name.middle": "du milieu",
    "control.button_name.right": "droit",
    "control.part.pressed_button": "a enfoncé le bouton {name} en {at}",
    "control.part.released_button": "a relâché le bouton {name} en {at}",
    "control.part.click": "a cliqué {button}en {at}",
    "control.part.double_click": "a double-cliqué {button}en {at}",
    "control.part.clicks": "a cliqué {count} fois {button}en {at}",
    "control.part.moved_to": "a déplacé le pointeur en {at}",
    "control.part.moved": "a déplacé le pointeur",
    "control.part.scrolled_at": "a fait défiler en {at}",
    "control.part.dragged": "a fait glisser de {start} à {end}",
    "control.part.typed.one": "a tapé {count} caractère",
    "control.part.typed.other": "a tapé {count} caractères",
    "control.part.pressed": "a appuyé sur {keys}",
    "control.part.pressed_a_key": "a appuyé sur une touche",
    # -- ce que ce système ne sait pas encore faire (agent/limits.py)
    "limits.darwin.control": ("Sur ce Mac, le technicien ne peut pas utiliser votre souris et votre clavier : cette "
                              "version ne sait pas encore le faire."),
    "limits.darwin.annotate": ("Sur ce Mac, les dessins et notes du technicien ne s'affichent pas encore sur votre "
                               "écran ; chacun est signalé ici à la place."),
    "limits.darwin.hidden_window": ("Sur ce Mac, une fenêtre cachée ne peut pas encore être suivie : tant que vous "
                                    "cachez une fenêtre, tout votre écran est caché au technicien."),
    "limits.darwin.registry": ("Sur ce Mac, les réglages que le technicien peut lire et modifier sont les "
                               "préférences de la commande « defaults » (il n'y a pas de registre Windows)."),
    # -- le cœur de l'agent, et les avis des dossiers protégés
    "app.journal_kept": "Le journal de cette séance est conservé ici : {path}",
    "app.leftover_removed": ("Fichier {path} supprimé : un fichier inachevé que le technicien envoyait lors d'une "
                             "séance précédente, laissé quand l'agent s'est arrêté."),
    "app.transfers_stopped.one": ("{count} transfert de fichier inachevé a été arrêté avec la séance ; rien "
                                  "d'envoyé à moitié n'est resté sur votre ordinateur."),
    "app.transfers_stopped.other": ("{count} transferts de fichiers inachevés ont été arrêtés avec la séance ; rien "
                                    "d'envoyé à moitié n'est resté sur votre ordinateur."),
    "app.journal_alert": ("Attention : la copie du journal de cette séance tenue par le service d'assistance ne "
                          "correspond pas au journal de cet ordinateur. Gardez votre fichier de journal : {path}"),
    "app.session_ended_other": "La séance est terminée ({reason}).",
    "forbidden.moved_replaced": ("Le dossier que vous avez protégé, {chosen}, a été déplacé vers {moved_to} ; il y "
                                 "reste protégé. Le nouveau dossier qui se trouve à {chosen} est protégé aussi, "
                                 "jusqu'à ce que vous retiriez la règle."),
    "forbidden.replaced": ("Le dossier que vous avez protégé, {chosen}, a été supprimé ou remplacé. Le dossier qui "
                           "se trouve maintenant à cet endroit est protégé aussi, jusqu'à ce que vous retiriez la "
                           "règle."),
    "forbidden.moved": ("Le dossier que vous avez protégé, {chosen}, a été déplacé vers {moved_to} ; il y reste "
                        "protégé, et un dossier recréé à {chosen} sera protégé aussi, jusqu'à ce que vous retiriez "
                        "la règle."),
    "forbidden.deleted": ("Le dossier que vous avez protégé, {chosen}, a été supprimé. Si un dossier y réapparaît, "
                          "il sera protégé aussi, jusqu'à ce que vous retiriez la règle."),
    # -- essais à blanc : {action} est la phrase de la méthode, mise au conditionnel par conditional()
    "preview.planned": "Aperçu — rien n'a été modifié : {action}",
    # -- procédures (playbooks) : la ligne de la fenêtre et les mots du journal
    "playbook.running": "procédure : {name} — étape {step} sur {total} : {title}",
    "playbook.done": "procédure : {name} — terminée ({total} étapes)",
    "playbook.failed": "procédure : {name} — échec à l'étape {step} sur {total} : {title}",
    "playbook.stopped": "procédure : {name} — arrêtée à l'étape {step} sur {total} : {title}",
    "playbook.starting": "procédure : {name} — début ({total} étapes)",
    "session.playbook": "Procédure du technicien : {line}",
    "session.playbook.invalid": ("Le technicien a annoncé une étape de procédure (non affichée : ses détails "
                                 "n'étaient pas valides)"),
}

_LEADING = re.compile(r"^Le technicien (a|est) (.*)$", re.DOTALL)
#: Ce qu'une vraie modification laisse derrière elle, et une modification prévue non.
_LEFT_BEHIND = re.compile(r"( ;\s*une sauvegarde a été gardée| \(gardé dans la corbeille de l'agent[^)]*\))")


def conditional(sentence: str) -> str:
    """*sentence* (« Le technicien a modifié le fichier X ») au conditionnel : « le technicien aurait
    modifié le fichier X » ; une phrase d'une autre forme devient « le technicien aurait fait ceci : … »."""
    found = _LEADING.match(sentence)
    if found is not None:
        auxiliary = "aurait" if found.group(1) == "a" else "serait"
        return f"le technicien {auxiliary} {_LEFT_BEHIND.sub('', found.group(2))}"
    return f"le technicien aurait fait ceci : {sentence[:1].lower() + sentence[1:]}"

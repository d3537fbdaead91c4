"""The one place where a method's words for the customer become the words of its dry run.

The customer reads, for a planned call, "Preview — nothing was changed: the
technician would change the file /etc/hosts" (in French: « Aperçu — rien n'a été
modifié : le technicien aurait modifié le fichier /etc/hosts »).  The sentence is
the catalogue's ``preview.planned`` around the method's own sentence, which each
language's catalogue turns into its conditional (``conditional`` in
:mod:`agent.panel.catalogue_en` and :mod:`agent.panel.catalogue_fr`).
"""

from __future__ import annotations

from agent.panel.catalogue import Said, Would, say


def preview_words(words: str) -> Said:
    """The customer's line for a dry run of a call described by *words* (never raises).

    >>> preview_words(say("files.write", path="/etc/hosts"))
    'Preview — nothing was changed: the technician would change the file /etc/hosts'
    """
    return say("preview.planned", action=Would(words))

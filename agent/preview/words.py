"""The one place where a method's words for the customer become the words of its dry run.

The customer reads, for a planned call, "Preview — nothing was changed: the
technician would change the file /etc/hosts".  Every method's words start
"The technician <verb in the past> …" (see each package's ``describe``); this
module turns that into "would <verb>".  The French catalogue translates the two
templates below; keep any new wording here so it stays translatable.
"""

from __future__ import annotations

import re

#: The line the customer reads for a planned call; ``{would}`` is "the technician would …".
PREVIEW_TEMPLATE = "Preview — nothing was changed: {would}"
#: When the method's words do not start as expected.
PREVIEW_FALLBACK = "Preview — nothing was changed: the technician looked at what {action} would do"

#: Past tense → the form after "would", for the verbs the changing methods' words use.
_VERBS = {
    "changed": "change", "edited": "edit", "moved": "move", "copied": "copy", "deleted": "delete",
    "created": "create", "undid": "undo", "started": "start", "set": "set", "sent": "send",
    "renamed": "rename", "removed": "remove", "restored": "restore", "wrote": "write", "made": "make",
    "finished": "finish", "cancelled": "cancel", "added": "add", "replaced": "replace",
}
_LEADING = re.compile(r"^The technician (\w+)\b(.*)$", re.DOTALL)


def preview_words(words: str) -> str:
    """The customer's line for a dry run of a call described by *words* (never raises).

    >>> preview_words("The technician changed the file /etc/hosts")
    'Preview — nothing was changed: the technician would change the file /etc/hosts'
    """
    found = _LEADING.match(words)
    if found is not None and found.group(1) in _VERBS:
        rest = found.group(2)
        # "; a backup was kept" and "(kept in the agent's trash…)" describe what a real change leaves
        rest = re.sub(r"(;\s*a backup was kept| \(kept in the agent's trash[^)]*\))", "", rest)
        return PREVIEW_TEMPLATE.format(would=f"the technician would {_VERBS[found.group(1)]}{rest}")
    return PREVIEW_FALLBACK.format(action=words[:1].lower() + words[1:] if words else "a call")

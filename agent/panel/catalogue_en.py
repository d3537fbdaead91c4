"""Every sentence of the customer's feed and notices, in English (see :mod:`agent.panel.catalogue`).

The English sentence is also what the journal keeps (a :class:`~agent.panel.catalogue.Said` is its
English text).  Each id here must have a French entry with the same ``{placeholders}`` in
:mod:`agent.panel.catalogue_fr`; ``tests/test_panel_catalogue.py`` checks it.
"""

from __future__ import annotations

import re
from typing import Final

COMMA: Final = ", "
LAST_JOINER: Final = " and "
UNITS: Final = ("B", "KiB", "MiB", "GiB", "TiB")
DECIMAL_POINT: Final = "."

MESSAGES: Final[dict[str, str]] = {
    # -- the dispatcher (agent/dispatch.py): any call, refusals, failures
    "call.used": "The technician used {method}",
    "refused.files": "The technician was stopped from opening a folder you protected",
    "refused.registry": "The technician was stopped from touching a setting you protected",
    "refused.screen": "The technician was stopped from seeing what you hid",
    "refused.other": "The technician was stopped from opening something you protected",
    "outcome.not_done": "That did not happen: {reason}",
    "outcome.step_failed": "{action}: that did not happen ({reason})",
    # why something did not happen, by the wire's error code (wire/errors.py); the journal keeps the details
    "error.error": "something went wrong",
    "error.bad_message": "the request could not be read",
    "error.too_large": "the request was too large",
    "error.too_deep": "the request was too deeply nested",
    "error.unsupported_version": "the technician's program is a version this agent does not understand",
    "error.unknown_method": "this agent does not do that",
    "error.bad_params": "the request was incomplete or wrong",
    "error.not_found": "it was not found",
    "error.exists": "it already exists",
    "error.not_a_directory": "it is not a folder",
    "error.is_a_directory": "it is a folder",
    "error.denied": "your computer did not allow it",
    "error.forbidden": "you protected it",
    "error.not_granted": "you have not allowed it",
    "error.customer_priority": "you were using your mouse or keyboard, which come first",
    "error.conflict": "it changed in the meantime",
    "error.no_space": "there is not enough free space on the disk",
    "error.unsupported": "this computer cannot do it",
    "error.unavailable": "it is not available right now",
    "error.input_blocked": "your computer blocked the technician's input",
    "error.timeout": "it took too long",
    "error.session_ended": "the session is over",
    "error.connection_lost": "the connection was lost",
    "error.internal": "something went wrong in the agent",
    # -- files (agent/files/methods.py)
    "files.a_file": "a file",
    "files.list": "The technician looked at the list of files in {path}",
    "files.stat": "The technician looked at the size and dates of {path}",
    "files.read": "The technician read the file {path}",
    "files.read_part": "The technician read part of the file {path}",
    "files.write": "The technician changed the file {path}",
    "files.edit": "The technician edited the file {path}",
    "files.move": "The technician moved {src} to {dst}",
    "files.copy": "The technician copied {src} to {dst}",
    "files.delete": "The technician deleted {path} (kept in the agent's trash, it can be restored)",
    "files.mkdir": "The technician created the folder {path}",
    "files.undo": "The technician undid their last change to your files",
    "files.download_open": "The technician started copying the file {path} from your computer",
    "files.download_chunk": "The technician copied part of the file {path} (part starting at byte {offset})",
    "files.download_close": "The technician finished copying a file from your computer",
    "files.upload_open": "The technician started sending a file to your computer, to be saved as {path}",
    "files.upload_chunk": "The technician sent part of the file {path} (part starting at byte {offset})",
    "files.upload_status": "The technician checked how much of a file they sent has arrived",
    "files.upload_finish": "The technician finished sending a file; it was checked and saved",
    "files.upload_abort": "The technician cancelled sending a file; nothing was saved",
    # a transfer's one feed line, updated in place as it goes
    "transfer.download.progress": "The technician is copying the file {path} from your computer: {done} of {size}",
    "transfer.download.done": "The technician copied the file {path} from your computer: done, {size}",
    "transfer.download.cancelled": ("The technician stopped copying the file {path} from your computer after "
                                    "{done} of {size}"),
    "transfer.download.failed": "Copying the file {path} from your computer failed after {done} of {size}: {reason}",
    "transfer.upload.progress": ("The technician is sending a file to your computer, to be saved as {path}: "
                                 "{done} of {size}"),
    "transfer.upload.done": "The technician sent a file to your computer, saved as {path}: done, {size}",
    "transfer.upload.cancelled": ("The technician cancelled sending the file {path} after {done} of {size}; "
                                  "nothing was saved"),
    "transfer.upload.failed": "Sending the file {path} to your computer failed after {done} of {size}: {reason}",
    # -- inventory, session
    "inventory.collect": "The technician read your system information",
    "session.ping": "The technician checked that the connection works",
    "session.describe": "The technician looked at what you allowed in this session",
    # -- registry (agent/registry/service.py)
    "registry.noun.registry": "registry",
    "registry.noun.dconf": "desktop settings (dconf)",
    "registry.noun.defaults": "preferences",
    "registry.where.key": "{noun} key {path}",
    "registry.where.top": "the top of the {noun}",
    "registry.where.hive": "the registry file {file}",
    "registry.where.hive_key": "the registry file {file}, key {path}",
    "registry.value.default": "the default value",
    "registry.value.named": "the value “{name}”",
    "registry.data.binary": "binary data",
    "registry.keys": "The technician listed the keys in {where}",
    "registry.values": "The technician read the values in {where}",
    "registry.get": "The technician read {value} in {where}",
    "registry.set": "The technician changed {value} in {where} to {data} ({type}); a backup was kept",
    "registry.delete_value": "The technician deleted {value} in {where}; a backup was kept",
    "registry.delete_key": "The technician deleted {where} and everything in it; a backup was kept",
    "registry.walk": "The technician read the keys and values in {where} and below it",
    "registry.export": "The technician copied out (exported) {where} and everything in it",
    "registry.undo": "The technician undid their last registry change",
    "registry.undone": "Undone: the technician's last registry change was reversed",
    "registry.open_hive": "The technician opened the registry file {path} (a registry copied from a computer)",
    "registry.close_hive": "The technician closed {where}",
    "registry.hives": "The technician listed the registry files they opened",
    # -- screen (agent/screen/service.py)
    "screen.screenshot": "The technician took a picture of your screen (hidden areas stay hidden)",
    "screen.monitors": "The technician looked at the list of your monitors",
    "screen.viewed": "Your screen is being viewed",
    "screen.not_viewed": "Your screen is no longer being viewed",
    # -- annotations (agent/annotate)
    "annotate.wrote": "The technician wrote '{text}' on your screen",
    "annotate.highlighted": "The technician highlighted part of your screen",
    "annotate.highlighted_in": "The technician highlighted part of your screen in {colour}",
    "annotate.pointing": "The technician is pointing at something on your screen",
    "annotate.drew": "The technician drew {shape} on your screen",
    "annotate.shape.pen": "a line",
    "annotate.shape.arrow": "an arrow",
    "annotate.shape.rect": "a rectangle",
    "annotate.shape.ellipse": "a circle",
    "annotate.shape.pen.coloured": "{colour} line",
    "annotate.shape.arrow.coloured": "{colour} arrow",
    "annotate.shape.rect.coloured": "{colour} rectangle",
    "annotate.shape.ellipse.coloured": "{colour} circle",
    "annotate.tried": "The technician tried to draw on your screen",
    "annotate.removed": "The technician removed a mark from your screen",
    "annotate.cleared": "The technician cleared the marks from your screen",
    "annotate.listed": "The technician looked at the list of marks on your screen",
    "annotate.customer_removed": "You removed the technician's marks from your screen",
    "annotate.not_shown": "The technician's marks cannot be shown on your screen; you are told of each one here",
    # a colour on its own ("in red"), and with the article its shape takes in English ("a red", "an orange")
    "colour.red": "red", "colour.red.a": "a red",
    "colour.yellow": "yellow", "colour.yellow.a": "a yellow",
    "colour.green": "green", "colour.green.a": "a green",
    "colour.blue": "blue", "colour.blue.a": "a blue",
    "colour.purple": "purple", "colour.purple.a": "a purple",
    "colour.orange": "orange", "colour.orange.a": "an orange",
    "colour.black": "black", "colour.black.a": "a black",
    "colour.white": "white", "colour.white.a": "a white",
    # -- control (agent/control): "The technician" and what they did, joined ("clicked at (1, 2) and typed…")
    "control.did": "The technician {actions}",
    "control.granted": ("You let the technician use your mouse and keyboard. Yours always come first; "
                        "press {hotkeys} to take back control at any moment."),
    "control.revoked": "You took back control of your mouse and keyboard.",
    "control.unavailable": "The technician cannot use your mouse and keyboard on this computer.",
    "control.hotkeys": "Ctrl+Alt+Shift+Space or Pause",  # agent.control.HOTKEYS' labels (a test checks)
    "control.button.left": "",
    "control.button.middle": "middle-",
    "control.button.right": "right-",
    "control.button.other": "button-{number} ",
    "control.button_name.left": "left",
    "control.button_name.middle": "middle",
    "control.button_name.right": "right",
    "control.part.pressed_button": "pressed the {name} button at {at}",
    "control.part.released_button": "released the {name} button at {at}",
    "control.part.click": "{button}clicked at {at}",
    "control.part.double_click": "{button}double-clicked at {at}",
    "control.part.clicks": "{button}clicked {count} times at {at}",
    "control.part.moved_to": "moved the pointer to {at}",
    "control.part.moved": "moved the pointer",
    "control.part.scrolled_at": "scrolled at {at}",
    "control.part.dragged": "dragged from {start} to {end}",
    "control.part.typed.one": "typed {count} character",
    "control.part.typed.other": "typed {count} characters",
    "control.part.pressed": "pressed {keys}",
    "control.part.pressed_a_key": "pressed a key",
    # -- what this system cannot do yet (agent/limits.py), said once at the start
    "limits.darwin.control": ("On this Mac the technician cannot use your mouse and keyboard: this version has no way "
                              "to do it yet."),
    "limits.darwin.annotate": ("On this Mac drawings and notes from the technician are not shown on your screen yet; "
                               "each one is listed here instead."),
    "limits.darwin.hidden_window": ("On this Mac a hidden window cannot be followed yet: while you hide a window, "
                                    "your whole screen is hidden from the technician."),
    "limits.darwin.registry": ("On this Mac the settings the technician can read and change are the preferences of "
                               "the 'defaults' command (there is no Windows registry)."),
    # -- the agent core (agent/app.py) and the protected folders' notices (agent/forbidden/follow.py)
    "app.journal_kept": "Your journal of this session is kept at {path}",
    "app.leftover_removed": ("Removed {path}: an unfinished file the technician was sending in an earlier session, "
                             "left when the agent stopped."),
    "app.transfers_stopped.one": ("{count} unfinished file transfer was stopped with the session; nothing "
                                  "half-sent was left on your computer."),
    "app.transfers_stopped.other": ("{count} unfinished file transfers were stopped with the session; nothing "
                                    "half-sent was left on your computer."),
    "app.journal_alert": ("Warning: the support service's copy of this session's journal does not match the journal "
                          "on this computer. Keep your journal file: {path}"),
    "app.session_ended_other": "The session has ended ({reason}).",
    "forbidden.moved_replaced": ("The folder you protected, {chosen}, was moved to {moved_to}; it stays protected "
                                 "there. The new folder now at {chosen} is protected too, until you remove the rule."),
    "forbidden.replaced": ("The folder you protected, {chosen}, was deleted or replaced. The folder now at that "
                           "place is protected too, until you remove the rule."),
    "forbidden.moved": ("The folder you protected, {chosen}, was moved to {moved_to}; it stays protected there, "
                        "and a folder made again at {chosen} will be protected too, until you remove the rule."),
    "forbidden.deleted": ("The folder you protected, {chosen}, was deleted. If a folder appears there again, it "
                          "will be protected too, until you remove the rule."),
    # -- dry runs: {action} is the method's own sentence, turned into "the technician would …" by
    # conditional() below (agent/preview/words.py)
    "preview.planned": "Preview — nothing was changed: {action}",
    # -- playbooks: the window's one line (agent/panel/playbook_words.py) and the journal's words
    "playbook.running": "playbook: {name} — step {step} of {total}: {title}",
    "playbook.done": "playbook: {name} — done ({total} steps)",
    "playbook.failed": "playbook: {name} — failed at step {step} of {total}: {title}",
    "playbook.stopped": "playbook: {name} — stopped at step {step} of {total}: {title}",
    "playbook.starting": "playbook: {name} — starting ({total} steps)",
    "session.playbook": "The technician's playbook: {line}",
    "session.playbook.invalid": "The technician announced a playbook step (not shown: its details were not valid)",
}

#: Past tense → the form after "would", for the verbs the changing methods' sentences use.
_WOULD = {
    "changed": "change", "edited": "edit", "moved": "move", "copied": "copy", "deleted": "delete",
    "created": "create", "undid": "undo", "started": "start", "set": "set", "sent": "send",
    "renamed": "rename", "removed": "remove", "restored": "restore", "wrote": "write", "made": "make",
    "finished": "finish", "cancelled": "cancel", "added": "add", "replaced": "replace",
}
_LEADING = re.compile(r"^The technician (\w+)\b(.*)$", re.DOTALL)
#: What a real change leaves behind, which a planned one does not.
_LEFT_BEHIND = re.compile(r"(;\s*a backup was kept| \(kept in the agent's trash[^)]*\))")


def conditional(sentence: str) -> str:
    """*sentence* ("The technician changed the file X") as what would have happened: "the technician
    would change the file X"; a sentence of another shape becomes "the technician would do this: …"."""
    found = _LEADING.match(sentence)
    if found is not None and found.group(1) in _WOULD:
        return f"the technician would {_WOULD[found.group(1)]}{_LEFT_BEHIND.sub('', found.group(2))}"
    return f"the technician would do this: {sentence[:1].lower() + sentence[1:]}"

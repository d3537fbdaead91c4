"""One error tree for both sides of the wire.

Every error that can cross the wire is a :class:`WorkbenchError` with a stable
``code`` string.  The agent raises these in its handlers; :mod:`agent.dispatch`
turns them into ``error`` replies; the workbench turns a reply back into the
same class with :func:`error_from_wire`.  Anything else raised inside a handler
becomes :class:`InternalError` (code ``internal``) and the session goes on.

Tree::

    WorkbenchError                 code
    ├── ProtocolError              bad_message      malformed message
    │   ├── MessageTooLarge        too_large
    │   ├── TooDeep                too_deep         nested deeper than the protocol allows
    │   └── UnsupportedVersion     unsupported_version
    ├── UnknownMethod              unknown_method
    ├── BadParams                  bad_params       wrong or missing parameter
    ├── NotFound                   not_found
    ├── AlreadyExists              exists
    ├── NotADirectory              not_a_directory
    ├── IsADirectory               is_a_directory
    ├── PermissionDenied           denied           the OS said no
    ├── Forbidden                  forbidden        the customer's rule said no (C3, C4)
    ├── NotGranted                 not_granted      the customer has not allowed this power
    ├── CustomerPriority           customer_priority  the customer is using their input (C1)
    ├── Conflict                   conflict         e.g. edit's old text absent or ambiguous
    ├── NoSpace                     no_space
    ├── Unsupported                unsupported      not on this OS
    ├── Unavailable                unavailable
    │   └── InputBlocked           input_blocked    the OS refuses injected input here (Windows'
    │                                               secure desktop, UIPI, Ctrl+Alt+Del)
    ├── Timeout                    timeout
    ├── SessionEnded               session_ended
    ├── ConnectionLost             connection_lost  (technician side only)
    ├── PairingFailed              pairing_failed
    │   ├── BadCode                bad_code
    │   ├── CodeExpired            code_expired
    │   ├── CodeBurned             code_burned
    │   ├── CodeInUse              code_in_use      the code already opened a session
    │   ├── Unauthorized           unauthorized
    │   └── RateLimited            rate_limited     too many failed tries from one address
    └── InternalError              internal
"""

from __future__ import annotations

import errno
from typing import Any


class WorkbenchError(Exception):
    """Root of every error that has a wire code."""

    code = "error"

    def __init__(self, message: str = "", **details: Any) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.details = details

    def to_wire(self) -> dict[str, Any]:
        """Return the ``error`` body sent on the wire."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ProtocolError(WorkbenchError):
    code = "bad_message"


class MessageTooLarge(ProtocolError):
    code = "too_large"


class TooDeep(ProtocolError):
    """A message nested deeper than :data:`wire.protocol.MAX_DEPTH`.

    ``envelope`` holds the message's top-level plain fields (``type``, ``id``,
    ``method``, ``name``) when they could be read, so the receiver can answer a
    request by its id (and the agent journal it) instead of leaving it unanswered.
    """

    code = "too_deep"

    def __init__(self, message: str = "", envelope: dict[str, Any] | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.envelope = envelope


class UnsupportedVersion(ProtocolError):
    code = "unsupported_version"


class UnknownMethod(WorkbenchError):
    code = "unknown_method"


class BadParams(WorkbenchError):
    code = "bad_params"


class NotFound(WorkbenchError):
    code = "not_found"


class AlreadyExists(WorkbenchError):
    code = "exists"


class NotADirectory(WorkbenchError):
    code = "not_a_directory"


class IsADirectory(WorkbenchError):
    code = "is_a_directory"


class PermissionDenied(WorkbenchError):
    code = "denied"


class Forbidden(WorkbenchError):
    code = "forbidden"


class NotGranted(WorkbenchError):
    code = "not_granted"


class CustomerPriority(WorkbenchError):
    code = "customer_priority"


class Conflict(WorkbenchError):
    code = "conflict"


class NoSpace(WorkbenchError):
    code = "no_space"


class Unsupported(WorkbenchError):
    code = "unsupported"


class PreviewUnsupported(Unsupported):
    """A dry run (``"preview": true``) asked for something that cannot be planned without doing it
    (control input, or a changing method with no planner): refused, nothing was done."""

    code = "preview_unsupported"


class Unavailable(WorkbenchError):
    code = "unavailable"


class InputBlocked(Unavailable):
    """The operating system itself refuses the technician's injected input here.

    Windows: its secure desktop (a UAC prompt, the Ctrl+Alt+Del or lock screen), a window
    of higher integrity than the agent (UIPI), Ctrl+Alt+Del itself.  ``details["reason"]``
    says which (``secure_desktop``, ``uipi``, ``secure_attention``); only the customer can act there.
    """

    code = "input_blocked"


class Timeout(WorkbenchError):
    code = "timeout"


class SessionEnded(WorkbenchError):
    code = "session_ended"


class ConnectionLost(WorkbenchError):
    code = "connection_lost"


class PairingFailed(WorkbenchError):
    code = "pairing_failed"


class BadCode(PairingFailed):
    code = "bad_code"


class CodeExpired(PairingFailed):
    code = "code_expired"


class CodeBurned(PairingFailed):
    code = "code_burned"


class CodeInUse(PairingFailed):
    """The code was good, but it already opened a session (a code opens one session only).

    The technician closes the session that holds it, or asks the customer for the code
    their window shows now (the demo keeps a new customer waiting, see ``code.txt``).
    """

    code = "code_in_use"


class Unauthorized(PairingFailed):
    code = "unauthorized"


class RateLimited(PairingFailed):
    """Too many failed pairing tries from one address (or from everywhere at once); details: ``retry_after``."""

    code = "rate_limited"


class InternalError(WorkbenchError):
    code = "internal"


class RecordingError(WorkbenchError):
    """A session recording that is missing, not a recording, or corrupt (see :mod:`wire.recording`)."""

    code = "bad_recording"


def _all_subclasses(cls: type[WorkbenchError]) -> list[type[WorkbenchError]]:
    found: list[type[WorkbenchError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


_KNOWN: list[type[WorkbenchError]] = [WorkbenchError, *_all_subclasses(WorkbenchError)]
ERRORS_BY_CODE: dict[str, type[WorkbenchError]] = {cls.code: cls for cls in _KNOWN}


def error_from_wire(body: Any) -> WorkbenchError:
    """Rebuild the exception described by an ``error`` body.

    An unknown code gives a plain :class:`WorkbenchError` carrying that code,
    so a newer agent's errors still read well on an older workbench.
    """
    if not isinstance(body, dict):
        return ProtocolError(f"malformed error body: {body!r}")
    code = str(body.get("code", "error"))
    message = str(body.get("message", code))
    details = body.get("details")
    cls = ERRORS_BY_CODE.get(code)
    extra = details if isinstance(details, dict) else {}
    if cls is None:
        err = WorkbenchError(message, **extra)
        err.code = code
        return err
    return cls(message, **extra)


_ERRNO_TO_ERROR: dict[int, type[WorkbenchError]] = {
    errno.ENOENT: NotFound,
    errno.EEXIST: AlreadyExists,
    errno.ENOTDIR: NotADirectory,
    errno.EISDIR: IsADirectory,
    errno.EACCES: PermissionDenied,
    errno.EPERM: PermissionDenied,
    errno.ENOSPC: NoSpace,
    errno.EDQUOT: NoSpace,
    errno.ENOTEMPTY: Conflict,
    errno.ELOOP: Forbidden,
    errno.ENAMETOOLONG: BadParams,
    errno.EINVAL: BadParams,
    errno.EXDEV: Conflict,
    errno.EROFS: PermissionDenied,
    errno.EBUSY: Conflict,
    errno.ETXTBSY: Conflict,
    errno.EMLINK: Conflict,
    errno.EFBIG: NoSpace,
    errno.EOPNOTSUPP: Unsupported,
}


def from_os_error(err: OSError, what: str = "") -> WorkbenchError:
    """Translate an :class:`OSError` into the matching wire error.

    This is the one edge where OS errors become wire errors; callers write
    ``raise from_os_error(err, path) from err``.
    """
    cls = _ERRNO_TO_ERROR.get(err.errno or 0, InternalError)
    reason = err.strerror or str(err)
    message = f"{what}: {reason}" if what else reason
    return cls(message, errno=err.errno or 0)

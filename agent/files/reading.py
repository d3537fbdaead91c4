"""What files.read and files.edit decide the same way on every platform: parameters, lengths, replies, the edit.

The platform modules (:mod:`agent.files.operations`,
:mod:`agent.files._windows_operations`) open the file their way and hand the
bytes here; the checks, the limits, the messages and the reply's shape are
these, once.

Availability: everywhere (no platform call at import).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.dispatch import CallContext, Reply
from agent.files.common import CHUNK_MAX, TEXT_JSON_MAX, TEXT_MAX, clean, path_param
from agent.files.textual import ERRORS_CHOICES, apply_edit, decode, encode_edit, text_codec
from agent.params import get_int, get_str
from wire.errors import BadParams


@dataclass(frozen=True)
class ReadRequest:
    """The checked parameters of one files.read."""

    path: str
    encoding: str | None
    errors: str
    offset: int
    limit: int
    length: int | None

    def length_for(self, size: int) -> int:
        """How many bytes to read from a file of *size*; raises BadParams when no length was given and too many."""
        if self.length is not None:
            return self.length
        available = max(0, size - self.offset)
        if available > self.limit:
            raise BadParams(f"{self.path}: {available} bytes from offset {self.offset}, more than the {self.limit} "
                            "one read may return; give offset and length, or download the file",
                            param="length")
        return available


def read_request(ctx: CallContext) -> ReadRequest:
    """The parameters of files.read {path, offset?, length?, encoding?, errors?}; raises BadParams."""
    path = path_param(ctx.params)
    encoding = text_codec(ctx.params)
    errors = get_str(ctx.params, "errors", "strict")
    if errors not in ERRORS_CHOICES:
        raise BadParams("errors must be 'strict' or 'replace'", param="errors")
    offset = get_int(ctx.params, "offset", 0, minimum=0, maximum=1 << 62)
    limit = TEXT_MAX if encoding is not None else CHUNK_MAX
    length_param = ctx.params.get("length")
    length = None if length_param is None else get_int(ctx.params, "length", minimum=0, maximum=limit)
    return ReadRequest(path, encoding, errors, offset, limit, length)


def read_reply(ctx: CallContext, request: ReadRequest, shown: str, size: int, data: bytes) -> Reply | dict[str, Any]:
    """The reply of files.read: the bytes as reply data, or decoded text; raises BadParams (undecodable text)."""
    sha = hashlib.sha256(data).hexdigest()
    ctx.journal_details.update(bytes=len(data), sha256=sha, offset=request.offset)
    result: dict[str, Any] = {"path": clean(shown), "size": size, "offset": request.offset, "length": len(data),
                              "sha256": sha}
    if request.encoding is None:
        return Reply(result, data)
    text = decode(data, request.encoding, request.errors, request.path, request.offset)
    if len(json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass")) > TEXT_JSON_MAX:
        raise BadParams(f"{request.path}: too many special characters to send as text; read it as bytes")
    result["text"] = text
    result["encoding"] = request.encoding
    return result


def edited(read_all: Callable[[int], bytes], size: int, path: str, old_text: str, new_text: str,
           encoding: str) -> tuple[str, str, bytes]:
    """The edit of a file of *size* bytes (read by *read_all*): its text before, after, and the bytes to write.

    Raises BadParams (too large, undecodable), Conflict (*old_text* absent or found more than once).
    """
    if size > TEXT_MAX:
        raise BadParams(f"{path}: {size} bytes is too large to edit here; download it")
    current = decode(read_all(size), encoding, "strict", path)
    updated = apply_edit(current, old_text, new_text, path)
    return current, updated, encode_edit(updated, encoding)


def writer(data: bytes, write_all: Callable[[int, bytes], None]) -> Callable[[int], tuple[int, str]]:
    """The content callback of a replace that writes *data*: it returns the size and sha256 written."""
    def write(fd: int) -> tuple[int, str]:
        write_all(fd, data)
        return len(data), hashlib.sha256(data).hexdigest()
    return write

"""Opaque cursors for keyset pagination.

A cursor is URL-safe base64 of a small JSON object: the run it was issued for,
a digest of the query (filters and sort) and the last position returned. A cursor
is only valid for the same query; a page reached through it stays on the same run
even after a newer run lands, so paging never skips or repeats rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from graph.errors import InvalidCursorError

__all__ = ["Cursor", "query_digest", "encode_cursor", "decode_cursor", "MAX_CURSOR_CHARS"]

MAX_CURSOR_CHARS = 512
#: Positions are ranks (int32 in the stores): a cursor past this was not issued here.
_MAX_AFTER = 2**31 - 1


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts."""

    run_id: str
    query: str
    after: int


def query_digest(**params: Any) -> str:
    """A short digest of the query parameters a cursor is bound to."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps({"r": cursor.run_id, "q": cursor.query, "a": cursor.after}).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _invalid(message: str) -> InvalidCursorError:
    return InvalidCursorError(message)


def decode_cursor(text: str, query: str) -> Cursor:
    """Decode and check a cursor against the current query.

    Raises
    ------
    InvalidCursorError
        The text is not a cursor this API issued, or it belongs to another query.
    """
    if len(text) > MAX_CURSOR_CHARS:
        raise _invalid("The cursor is too long.")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
        cursor = Cursor(str(data["r"]), str(data["q"]), int(data["a"]))
    except (
        binascii.Error,
        ValueError,
        KeyError,
        TypeError,
        OverflowError,
        UnicodeDecodeError,
    ) as exc:
        raise _invalid("The cursor is not one this API issued; start again without it.") from exc
    if cursor.query != query:
        raise _invalid("The cursor belongs to another query; keep the filters and sort unchanged.")
    if not 0 <= cursor.after <= _MAX_AFTER:
        raise _invalid("The cursor is not one this API issued; start again without it.")
    return cursor

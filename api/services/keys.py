"""API keys: creation, listing, revocation and verification, stored hashed in the store file.

A key is shown once, when created, as ``koc_<key_id>_<secret>``: ``key_id`` is 8
hex characters (public, used to find the row), ``secret`` 32 random bytes
(``secrets.token_urlsafe``). Only ``sha256(secret)`` is stored, in the table
``api_keys`` of the store's tables (``store.tables``: the embedded store's file, or
``KOC_LEDGER_PATH`` beside Neo4j; migration component ``"api"``, see
:data:`MIGRATIONS`), and a presented key is checked with
:func:`hmac.compare_digest`. Scopes are ``read``, ``ingest``, ``finance`` and
``admin``; ``admin`` implies every other scope.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from graph.errors import ConfigError, NotFoundError
from graph.migrations import Migration, applied_version, migrate

__all__ = [
    "SCOPES",
    "MIGRATIONS",
    "ApiKey",
    "ensure_schema",
    "schema_current",
    "create_key",
    "list_keys",
    "revoke_key",
    "find_key",
    "verify_token",
    "parse_scopes",
]

#: Every scope a key can hold; ``admin`` implies the others.
SCOPES: tuple[str, ...] = ("read", "ingest", "finance", "admin")

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "api keys (hashed)",
        (
            """CREATE TABLE api_keys (
                key_id      VARCHAR PRIMARY KEY,
                name        VARCHAR NOT NULL,
                scopes      VARCHAR NOT NULL,
                secret_hash VARCHAR NOT NULL,
                created_at  TIMESTAMPTZ NOT NULL,
                revoked_at  TIMESTAMPTZ
            )""",
        ),
    ),
)

_TOKEN_RE = re.compile(r"^koc_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})$")
_NAME_MAX = 100


@dataclass(frozen=True)
class ApiKey:
    """One stored key (never the secret)."""

    key_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        """Whether this key grants ``scope`` (``admin`` grants all)."""
        return scope in self.scopes or "admin" in self.scopes

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "scopes": list(self.scopes),
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _conn(store: Any) -> Any:
    """A private cursor on the store's tables (``store.tables``, see :mod:`graph.tables`)."""
    return store.tables.cursor().conn


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def ensure_schema(store: Any) -> int:
    """Apply the ``api`` migrations to a writable store; return the schema version."""
    return migrate(_conn(store), "api", MIGRATIONS)


def schema_current(store: Any) -> bool:
    """Whether the ``api`` component's schema is at the newest version."""
    return applied_version(_conn(store), "api") == len(MIGRATIONS)


def parse_scopes(scopes: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validate scopes (comma-separated string or sequence); return them sorted, unique.

    Raises
    ------
    ConfigError
        For an empty list or an unknown scope.
    """
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    cleaned = sorted({s.strip() for s in items if s.strip()})
    unknown = [s for s in cleaned if s not in SCOPES]
    if not cleaned or unknown:
        raise ConfigError(
            f"The 'scopes' of an API key must be a non-empty subset of {', '.join(SCOPES)}. "
            f"Got {unknown or 'nothing'} instead.",
            key="scopes",
        )
    return tuple(cleaned)


def create_key(
    store: Any, name: str, scopes: str | list[str] | tuple[str, ...]
) -> tuple[ApiKey, str]:
    """Create a key; return it and the token (shown once, never stored).

    Parameters
    ----------
    store : DuckDBStore
        A writable embedded store (the ``api`` schema is created when missing).
    name : str
        Who or what uses the key (1-100 characters).
    scopes : str or sequence of str
        Subset of :data:`SCOPES`.
    """
    name = name.strip()
    if not 0 < len(name) <= _NAME_MAX:
        raise ConfigError(f"A key name must have 1 to {_NAME_MAX} characters.", key="name")
    parsed = parse_scopes(scopes)
    ensure_schema(store)
    conn = _conn(store)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(secrets.token_hex(4), name, parsed, datetime.now(UTC))
    conn.execute(
        "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, NULL)",
        [key.key_id, key.name, ",".join(parsed), _hash(secret), key.created_at],
    )
    return key, f"koc_{key.key_id}_{secret}"


def _row_to_key(row: tuple) -> ApiKey:
    key_id, name, scopes, created_at, revoked_at = row
    return ApiKey(key_id, name, tuple(scopes.split(",")), created_at, revoked_at)


def list_keys(store: Any, *, include_revoked: bool = True) -> list[ApiKey]:
    """Stored keys, oldest first (no secrets, no hashes)."""
    if not schema_current(store):
        return []
    sql = "SELECT key_id, name, scopes, created_at, revoked_at FROM api_keys"
    if not include_revoked:
        sql += " WHERE revoked_at IS NULL"
    rows = _conn(store).execute(sql + " ORDER BY created_at, key_id").fetchall()
    return [_row_to_key(r) for r in rows]


def revoke_key(store: Any, key_id: str) -> ApiKey:
    """Revoke a key by id (idempotent); raises NotFoundError for an unknown id."""
    ensure_schema(store)
    conn = _conn(store)
    conn.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
        [datetime.now(UTC), key_id],
    )
    row = conn.execute(
        "SELECT key_id, name, scopes, created_at, revoked_at FROM api_keys WHERE key_id = ?",
        [key_id],
    ).fetchone()
    if row is None:
        raise NotFoundError(
            f"No API key {key_id!r}; `koc keys list` shows the keys.", key_id=key_id
        )
    return _row_to_key(row)


def find_key(store: Any, key_id: str) -> ApiKey | None:
    """The stored key ``key_id``, revoked or not (check :attr:`ApiKey.active`), or None.

    For a web session (:mod:`api.http.sessions`), which names its key by id and must
    stop working once the key is revoked.
    """
    try:
        row = (
            _conn(store)
            .execute(
                "SELECT key_id, name, scopes, created_at, revoked_at FROM api_keys WHERE key_id = ?",
                [key_id],
            )
            .fetchone()
        )
    except duckdb.CatalogException:  # no key was ever created in this store
        return None
    return None if row is None else _row_to_key(row)


def verify_token(store: Any, token: str) -> ApiKey | None:
    """The active key matching ``token``, or None (malformed, unknown, revoked or wrong secret).

    The secret's hash is compared with :func:`hmac.compare_digest` (constant time).
    """
    match = _TOKEN_RE.match(token or "")
    if match is None:
        return None
    key_id, secret = match.groups()
    try:
        row = (
            _conn(store)
            .execute(
                """SELECT key_id, name, scopes, created_at, revoked_at, secret_hash
                FROM api_keys WHERE key_id = ?""",
                [key_id],
            )
            .fetchone()
        )
    except duckdb.CatalogException:  # no key was ever created in this store
        row = None
    if row is None or row[4] is not None:
        hmac.compare_digest(_hash(secret), _hash(""))  # same work on every path
        return None
    if not hmac.compare_digest(_hash(secret), row[5]):
        return None
    return _row_to_key(row[:5])

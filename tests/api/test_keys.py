"""API keys: hashed storage, scopes, revocation, the koc keys CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import cli
from api.services.keys import create_key, list_keys, parse_scopes, revoke_key, verify_token
from graph.duckdb_store import DuckDBStore
from graph.errors import ConfigError, NotFoundError


def test_create_key_stores_only_a_hash(store: DuckDBStore) -> None:
    key, token = create_key(store, "crm", "read,finance")
    secret = token.split("_", 2)[2]
    rows = store.cursor().execute("SELECT * FROM api_keys").fetchall()
    assert len(rows) == 1
    flat = " ".join(str(v) for v in rows[0])
    assert secret not in flat and token not in flat
    assert hashlib.sha256(secret.encode()).hexdigest() in flat
    assert key.scopes == ("finance", "read")


def test_verify_token_accepts_own_token_only(store: DuckDBStore) -> None:
    key, token = create_key(store, "crm", "read")
    assert verify_token(store, token) == key
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert verify_token(store, tampered) is None
    assert verify_token(store, "koc_00000000_" + "x" * 43) is None
    assert verify_token(store, "not a key") is None
    assert verify_token(store, "") is None


def test_verify_token_without_key_table_is_none(tmp_path: Path) -> None:
    with DuckDBStore(tmp_path / "fresh.duckdb") as fresh:
        assert verify_token(fresh, "koc_00000000_" + "x" * 43) is None


def test_revoke_key_makes_token_invalid(store: DuckDBStore) -> None:
    key, token = create_key(store, "crm", "admin")
    revoked = revoke_key(store, key.key_id)
    assert revoked.revoked_at is not None and not revoked.active
    assert verify_token(store, token) is None
    assert revoke_key(store, key.key_id).revoked_at == revoked.revoked_at  # idempotent
    assert [k.key_id for k in list_keys(store, include_revoked=False)] == []


def test_revoke_key_unknown_id_raises(store: DuckDBStore) -> None:
    with pytest.raises(NotFoundError):
        revoke_key(store, "deadbeef")


@pytest.mark.parametrize("scopes", ["", "read,owner", ",", "READ"])
def test_parse_scopes_rejects_unknown(scopes: str) -> None:
    with pytest.raises(ConfigError, match="scopes"):
        parse_scopes(scopes)


def test_admin_key_allows_every_scope(store: DuckDBStore) -> None:
    admin, _ = create_key(store, "ops", "admin")
    reader, _ = create_key(store, "bi", "read")
    assert all(admin.allows(s) for s in ("read", "ingest", "finance", "admin"))
    assert reader.allows("read") and not reader.allows("finance")


def test_keys_cli_create_list_revoke(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.duckdb")
    runner = CliRunner()
    out = runner.invoke(
        cli, ["--db", db, "keys", "create", "--name", "bi", "--scopes", "read", "--json"]
    )
    assert out.exit_code == 0, out.output
    created = json.loads(out.stdout)
    assert created["token"].startswith(f"koc_{created['key_id']}_")
    listed = json.loads(runner.invoke(cli, ["--db", db, "keys", "list", "--json"]).stdout)
    assert [k["key_id"] for k in listed] == [created["key_id"]]
    assert "token" not in listed[0]
    revoked = runner.invoke(cli, ["--db", db, "keys", "revoke", created["key_id"], "--json"])
    assert json.loads(revoked.stdout)["revoked_at"] is not None
    with DuckDBStore(db) as s:
        assert verify_token(s, created["token"]) is None

"""Settings: the one place where KOC Graph reads its configuration.

Values come, in order of precedence, from keyword arguments, environment
variables prefixed ``KOC_`` (``KOC_DB_PATH``, ``KOC_STORE``, ``KOC_NEO4J_URI``...),
a TOML file named by ``KOC_CONFIG`` (default ``./koc.toml`` when present), and
the defaults below. Only the edges of the program (CLI, HTTP app, store factory)
read settings; library functions receive plain arguments.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["Settings", "get_settings", "DUCKDB_INGEST_BATCH_ROWS", "NEO4J_INGEST_BATCH_ROWS"]

#: Default rows per ingestion batch on the embedded store and on Neo4j (measured: about
#: 4 KB of Neo4j transaction memory per row, so 50,000 rows need about 200 MB).
DUCKDB_INGEST_BATCH_ROWS = 500_000
NEO4J_INGEST_BATCH_ROWS = 50_000


def _config_file() -> Path | None:
    path = Path(os.environ.get("KOC_CONFIG", "koc.toml"))
    return path if path.is_file() else None


class Settings(BaseSettings):
    """All KOC Graph settings. See ``docs/configuration.md`` for a commented example."""

    model_config = SettingsConfigDict(env_prefix="KOC_", extra="forbid")

    # --- store -----------------------------------------------------------------
    store: Literal["duckdb", "neo4j"] = Field(
        "duckdb", description="Graph store backend: the embedded DuckDB file or a Neo4j server."
    )
    db_path: Path = Field(Path("data/koc.duckdb"), description="Embedded store file.")
    db_threads: int = Field(2, ge=1, le=256, description="DuckDB worker threads.")
    db_memory_limit: str = Field("4GB", description="DuckDB memory limit (e.g. '4GB').")

    # --- neo4j -----------------------------------------------------------------
    neo4j_uri: str | None = Field(None, description="Bolt URI, e.g. neo4j://localhost:7687.")
    neo4j_user: str = Field("neo4j", description="Neo4j user name.")
    neo4j_password: SecretStr = Field(SecretStr("neo4j"), description="Neo4j password.")
    neo4j_database: str = Field("neo4j", description="Neo4j database name.")
    neo4j_batch_size: int = Field(
        10_000, ge=1, le=1_000_000, description="Rows per UNWIND statement when loading Neo4j."
    )
    neo4j_pool_size: int = Field(
        16, ge=1, le=1024, description="Largest Bolt connection pool of the driver."
    )

    # --- ingestion ----------------------------------------------------------------
    ingest_batch_rows: int | None = Field(
        None,
        ge=1,
        le=10_000_000,
        description="Rows per ingestion batch (one transaction each); default 500,000 on the "
        "embedded store, 50,000 on Neo4j (a Neo4j transaction holds about 4 KB of server "
        "memory per row, and db.memory.transaction.max is often 1 GB).",
    )
    unknown_columns: Literal["warn", "reject", "ignore"] = Field(
        "warn", description="What to do with input columns the event model does not know."
    )
    max_field_bytes: int = Field(
        64 * 1024, ge=64, description="Longest accepted field; longer values reject the row."
    )
    max_amount: str = Field(
        "1000000", description="Largest plausible single order or refund amount."
    )

    # --- ranking / referral config files ----------------------------------------------
    scoring_config: Path | None = Field(None, description="KOC score weights TOML file.")
    spark_master: str = Field(
        "local[2]",
        description="Spark master of `koc rank --engine spark` (local[N], spark://..., yarn, k8s://...).",
    )
    lake_path: Path | None = Field(
        None,
        description="Parquet lake `koc rank --engine spark` exports to and reads (default: <db_path>.lake).",
    )
    commission_rules: Path | None = Field(None, description="Commission rules TOML file.")
    ledger_path: Path | None = Field(
        None,
        description="Commission ledger DuckDB file; default: the embedded store's own file "
        "(required with the Neo4j store).",
    )
    timezone: str = Field(
        "Asia/Shanghai", description="IANA time zone of commission period boundaries."
    )

    # --- HTTP API -------------------------------------------------------------------
    api_host: str = Field("127.0.0.1", description="Interface `koc serve` binds to.")
    api_port: int = Field(8000, ge=0, le=65535, description="TCP port of `koc serve`.")
    api_workers: int = Field(
        1, ge=1, le=64, description="Worker processes; more than 1 serves reads only."
    )
    api_public_leaderboard: bool = Field(
        False, description="Serve the HTML leaderboard at / without an API key."
    )
    api_cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; empty means CORS is off."
    )
    api_max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest POST /v1/events body (larger: 413)."
    )
    api_max_rejects: int = Field(
        1000,
        ge=0,
        description="Most invalid records one POST /v1/events may quarantine; more: 422, nothing stored.",
    )
    api_read_threads: int = Field(
        2,
        ge=1,
        le=64,
        description="Threads serving leaderboard and profile requests. One Python process "
        "runs one thread at a time, so more threads add no throughput but contend for the "
        "interpreter lock and stretch tail latency; 2 lets one slow request not hold up "
        "the others.",
    )
    api_profile_max_stale_s: float = Field(
        30.0,
        ge=0.0,
        le=86400.0,
        description="Seconds after a write that user profiles may still show the previous "
        "referral counts, roles and rank history while their in-memory index rebuilds "
        "(0: never, profiles then query the store until the rebuild ends).",
    )

    api_session_secret: SecretStr | None = Field(
        None,
        description="Key (at least 32 characters) that signs the web app's session cookies "
        "and form tokens. Unset: a random key per process, so sessions end when the server "
        "restarts (`koc serve --workers N` shares one random key among its workers).",
    )
    api_session_cookie_secure: bool = Field(
        False,
        description="Always mark the session cookie Secure (behind a proxy that ends TLS); "
        "otherwise it is Secure when the request came over https.",
    )
    api_login_max_failures: int = Field(
        5,
        ge=1,
        le=10_000,
        description="Failed sign-ins one client address may make within "
        "`api_login_window_s`; beyond that /login answers 429 until the oldest leaves.",
    )
    api_login_window_s: float = Field(
        300.0, gt=0.0, le=86400.0, description="Sliding window of `api_login_max_failures`, s."
    )

    @field_validator("api_session_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError(
                "The 'api_session_secret' setting must have at least 32 characters "
                '(python -c "import secrets; print(secrets.token_urlsafe(32))" makes one).'
            )
        return value

    def ingest_batch(self) -> int:
        """Rows per ingestion batch: ``ingest_batch_rows``, or the default of the chosen store."""
        if self.ingest_batch_rows is not None:
            return self.ingest_batch_rows
        return NEO4J_INGEST_BATCH_ROWS if self.store == "neo4j" else DUCKDB_INGEST_BATCH_ROWS

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the environment and the config file, with overrides on top."""
    from pydantic import ValidationError

    from graph.errors import ConfigError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"Invalid setting {key!r} (env KOC_{key.upper()}): {first['msg']}. "
            "Fix the environment variable or the config file named by KOC_CONFIG.",
            key=key,
        ) from exc

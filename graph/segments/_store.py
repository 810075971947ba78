"""Storage of audiences on the relational side (``store.tables``, :mod:`graph.tables`).

Tables of the ``segments`` component (:data:`MIGRATIONS`), all append-only:

``segments``
    One row per saved version: ``name``, ``version`` (1, 2, ...), ``expression``
    (as written), ``description``, ``created_at``, ``created_by``; a newer version
    replaces an older one, ``deleted`` versions hide the name.
``user_tags``
    User-supplied tags as a log: ``user_id``, ``tag``, ``active`` (set / removed),
    ``source`` (file or API caller), ``tagged_at``, ``seq``; a user's tag is the
    newest row of its (user, tag).
``segment_counts``
    Members of a segment version in a run, recorded when it is evaluated, to show
    the change between runs.
``audience_runs`` and ``run_audience``
    The fact fields of each ranking run, stored when the run is saved
    (:func:`api.services.audience.store_run_audience`): one ``audience_runs`` row per
    run (``computed_at``, ``users``, ``seconds``) and one ``run_audience`` row per user
    of the run with its lifecycle ``stage``, KOC ``tier``, ``rfm`` segment and
    ``channel_pref``. Transitions between runs are a join of two runs' rows.

Every value reaches SQL as a bound parameter or an Arrow relation; nothing a user
wrote is spliced into a statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from graph.errors import ConfigError, NotFoundError
from graph.migrations import Migration, applied_version, migrate
from graph.transaction import transaction

__all__ = [
    "COMPONENT",
    "MIGRATIONS",
    "SegmentVersion",
    "ensure_schema",
    "schema_ready",
    "check_segment_name",
    "save_segment",
    "segment_versions",
    "latest_segments",
    "delete_segment",
    "write_tags",
    "active_tags",
    "tags_version",
    "user_tag_rows",
    "tag_names",
    "record_count",
    "recorded_counts",
    "AUDIENCE_FIELDS",
    "write_run_audience",
    "audience_run",
    "read_run_audience",
    "user_audience",
    "stage_transitions",
]

COMPONENT = "segments"
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "saved segments (versioned), user tags (log), members per run",
        (
            """CREATE TABLE segments (
                name        VARCHAR NOT NULL,
                version     INTEGER NOT NULL,
                expression  VARCHAR NOT NULL,
                description VARCHAR,
                created_at  TIMESTAMPTZ NOT NULL,
                created_by  VARCHAR,
                deleted     BOOLEAN NOT NULL DEFAULT false,
                PRIMARY KEY (name, version)
            )""",
            "CREATE SEQUENCE user_tags_seq",
            """CREATE TABLE user_tags (
                seq       BIGINT NOT NULL DEFAULT nextval('user_tags_seq'),
                user_id   VARCHAR NOT NULL,
                tag       VARCHAR NOT NULL,
                active    BOOLEAN NOT NULL,
                source    VARCHAR NOT NULL,
                tagged_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE segment_counts (
                run_id       VARCHAR NOT NULL,
                name         VARCHAR NOT NULL,
                version      INTEGER NOT NULL,
                members      BIGINT NOT NULL,
                evaluated_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (run_id, name, version)
            )""",
        ),
    ),
    Migration(
        2,
        "fact fields per user per ranking run (lifecycle stage, tier, RFM, channel)",
        (
            """CREATE TABLE audience_runs (
                run_id      VARCHAR PRIMARY KEY,
                computed_at TIMESTAMPTZ NOT NULL,
                users       BIGINT NOT NULL,
                seconds     DOUBLE NOT NULL
            )""",
            """CREATE TABLE run_audience (
                run_id       VARCHAR NOT NULL,
                user_id      VARCHAR NOT NULL,
                stage        VARCHAR NOT NULL,
                tier         VARCHAR NOT NULL,
                rfm          VARCHAR NOT NULL,
                channel_pref VARCHAR
            )""",
        ),
    ),
)

#: The text fields stored per user per run in ``run_audience``.
AUDIENCE_FIELDS: tuple[str, ...] = ("stage", "tier", "rfm", "channel_pref")

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


@dataclass(frozen=True)
class SegmentVersion:
    """One saved version of a named segment."""

    name: str
    version: int
    expression: str
    description: str | None
    created_at: datetime
    created_by: str | None
    deleted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "expression": self.expression,
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> int:
    """Create or upgrade the segment tables on ``conn``; return the schema version."""
    return migrate(conn, COMPONENT, MIGRATIONS)


def schema_ready(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the segment tables exist at the newest version (never writes)."""
    return applied_version(conn, COMPONENT) == len(MIGRATIONS)


def check_segment_name(name: str) -> str:
    """``name`` if it is a valid segment name (lower-case letters, digits, ``_``, ``-``;
    1-64 characters, starting with a letter or digit)."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(
            f"The segment name {name!r} is not valid: use 1-64 lower-case letters, digits, "
            "'_' or '-', starting with a letter or digit (e.g. campaign-audience_2026).",
            key="name",
        )
    return name


def _version(row: tuple[Any, ...]) -> SegmentVersion:
    return SegmentVersion(
        name=row[0],
        version=int(row[1]),
        expression=row[2],
        description=row[3],
        created_at=row[4],
        created_by=row[5],
        deleted=bool(row[6]),
    )


_COLUMNS = "name, version, expression, description, created_at, created_by, deleted"


def segment_versions(conn: duckdb.DuckDBPyConnection, name: str) -> list[SegmentVersion]:
    """Every saved version of ``name``, oldest first (empty when never saved)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM segments WHERE name = ? ORDER BY version", [name]
    ).fetchall()
    return [_version(r) for r in rows]


def latest_segments(conn: duckdb.DuckDBPyConnection) -> list[SegmentVersion]:
    """The newest version of every saved segment that is not deleted, by name."""
    rows = conn.execute(
        f"""SELECT {_COLUMNS} FROM segments s
        WHERE version = (SELECT max(version) FROM segments t WHERE t.name = s.name)
          AND NOT deleted ORDER BY name"""
    ).fetchall()
    return [_version(r) for r in rows]


def save_segment(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    expression: str,
    *,
    description: str | None = None,
    created_by: str | None = None,
) -> SegmentVersion:
    """Save ``expression`` as the next version of ``name`` (version 1 when new); the same
    expression and description as the newest version save nothing and return it."""
    check_segment_name(name)
    with transaction(conn):
        versions = segment_versions(conn, name)
        last = versions[-1] if versions else None
        if (
            last is not None
            and not last.deleted
            and last.expression == expression
            and last.description == description
        ):
            return last
        version = SegmentVersion(
            name=name,
            version=(last.version + 1) if last else 1,
            expression=expression,
            description=description,
            created_at=datetime.now(UTC),
            created_by=created_by,
        )
        conn.execute(
            f"INSERT INTO segments ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, false)",
            [
                version.name,
                version.version,
                version.expression,
                version.description,
                version.created_at,
                version.created_by,
            ],
        )
    return version


def delete_segment(
    conn: duckdb.DuckDBPyConnection, name: str, *, created_by: str | None = None
) -> SegmentVersion:
    """Hide ``name`` by appending a deleted version (its history stays)."""
    with transaction(conn):
        versions = segment_versions(conn, name)
        if not versions or versions[-1].deleted:
            raise NotFoundError(f"No saved segment {name!r}.", segment=name)
        last = versions[-1]
        conn.execute(
            f"INSERT INTO segments ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, true)",
            [
                name,
                last.version + 1,
                last.expression,
                last.description,
                datetime.now(UTC),
                created_by,
            ],
        )
    return last


def write_tags(conn: duckdb.DuckDBPyConnection, rows: pa.Table, *, source: str) -> dict[str, int]:
    """Append tag changes; rows already in effect are skipped.

    Parameters
    ----------
    rows : pyarrow.Table
        Columns ``user_id``, ``tag`` (strings) and ``active`` (bool: set or remove),
        already validated; a later row of the same (user, tag) wins.
    source : str
        Where they come from (a file path, ``api:<key name>``).

    Returns
    -------
    dict
        ``set``, ``removed`` (rows that changed a tag) and ``unchanged`` (the tag was
        already so).
    """
    now = datetime.now(UTC)
    with transaction(conn):
        conn.register("_koc_tag_rows", rows)
        try:
            conn.execute(
                """CREATE OR REPLACE TEMP TABLE _koc_tag_new AS
                WITH r AS (SELECT user_id, tag, arg_max(active, i) AS active
                           FROM (SELECT *, row_number() OVER () AS i FROM _koc_tag_rows)
                           GROUP BY user_id, tag),
                     cur AS (SELECT user_id, tag, arg_max(active, seq) AS active
                             FROM user_tags GROUP BY user_id, tag)
                SELECT r.user_id, r.tag, r.active,
                       coalesce(cur.active, false) = r.active AS same
                FROM r LEFT JOIN cur USING (user_id, tag)"""
            )
            counts = conn.execute(
                """SELECT count(*) FILTER (WHERE NOT same AND active),
                          count(*) FILTER (WHERE NOT same AND NOT active),
                          count(*) FILTER (WHERE same)
                   FROM _koc_tag_new"""
            ).fetchone()
            conn.execute(
                """INSERT INTO user_tags (user_id, tag, active, source, tagged_at)
                SELECT user_id, tag, active, ?, ? FROM _koc_tag_new WHERE NOT same
                ORDER BY user_id, tag""",
                [source, now],
            )
            conn.execute("DROP TABLE _koc_tag_new")
        finally:
            conn.unregister("_koc_tag_rows")
    assert counts is not None
    duplicates_in_file = rows.num_rows - int(sum(counts))
    return {
        "set": int(counts[0]),
        "removed": int(counts[1]),
        "unchanged": int(counts[2]) + duplicates_in_file,
    }


_ACTIVE = """SELECT user_id, tag, arg_max(source, seq) AS source,
                    arg_max(tagged_at, seq) AS tagged_at, arg_max(active, seq) AS active
             FROM user_tags GROUP BY user_id, tag"""


def active_tags(conn: duckdb.DuckDBPyConnection) -> pa.Table:
    """Every tag in effect: ``user_id``, ``tag``, ``source``, ``tagged_at``."""
    return (
        conn.cursor()
        .sql(  # its own cursor: earlier results on conn may be unfetched
            f"SELECT user_id, tag, source, tagged_at FROM ({_ACTIVE}) WHERE active "
            "ORDER BY tag, user_id"
        )
        .to_arrow_table()
    )


def tags_version(conn: duckdb.DuckDBPyConnection) -> int:
    """A number that grows with every tag change (the log's last sequence number)."""
    rows = conn.execute("SELECT coalesce(max(seq), 0) FROM user_tags").fetchall()
    return int(rows[0][0])


def user_tag_rows(conn: duckdb.DuckDBPyConnection, user_id: str) -> list[dict[str, Any]]:
    """The tags in effect for one user, with source and time."""
    return [
        {"tag": t, "source": s, "tagged_at": ts.isoformat()}
        for t, s, ts in conn.execute(
            f"SELECT tag, source, tagged_at FROM ({_ACTIVE}) WHERE active AND user_id = ? "
            "ORDER BY tag",
            [user_id],
        ).fetchall()
    ]


def tag_names(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Users per tag in effect."""
    return {
        t: int(n)
        for t, n in conn.execute(
            f"SELECT tag, count(*) FROM ({_ACTIVE}) WHERE active GROUP BY tag ORDER BY tag"
        ).fetchall()
    }


def record_count(
    conn: duckdb.DuckDBPyConnection, run_id: str, name: str, version: int, members: int
) -> None:
    """Remember how many members a segment version had in a run (first evaluation wins:
    a finished run never changes)."""
    conn.execute(
        "INSERT INTO segment_counts VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [run_id, name, int(version), int(members), datetime.now(UTC)],
    )


def recorded_counts(conn: duckdb.DuckDBPyConnection, name: str) -> list[dict[str, Any]]:
    """Members recorded per run and version of ``name``, newest evaluation first."""
    rows = conn.execute(
        "SELECT run_id, version, members, evaluated_at FROM segment_counts WHERE name = ? "
        "ORDER BY evaluated_at DESC",
        [name],
    ).fetchall()
    return [
        {"run_id": r, "version": int(v), "members": int(m), "evaluated_at": t.isoformat()}
        for r, v, m, t in rows
    ]


def write_run_audience(
    conn: duckdb.DuckDBPyConnection, run_id: str, rows: pa.Table, *, seconds: float
) -> datetime:
    """Store a run's fact fields: ``rows`` has ``user_id`` and :data:`AUDIENCE_FIELDS`
    (strings, ``channel_pref`` may be null). One Arrow insert; a run already stored is
    replaced (the same run computed again). Returns ``computed_at``."""
    now = datetime.now(UTC)
    with transaction(conn):
        conn.execute("DELETE FROM run_audience WHERE run_id = ?", [run_id])
        conn.execute("DELETE FROM audience_runs WHERE run_id = ?", [run_id])
        conn.register("_koc_audience_rows", rows)
        try:
            conn.execute(
                """INSERT INTO run_audience
                SELECT ?, user_id, stage, tier, rfm, channel_pref FROM _koc_audience_rows""",
                [run_id],
            )
        finally:
            conn.unregister("_koc_audience_rows")
        conn.execute(
            "INSERT INTO audience_runs VALUES (?, ?, ?, ?)",
            [run_id, now, rows.num_rows, float(seconds)],
        )
    return now


def audience_run(conn: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any] | None:
    """When a run's fact fields were stored (``computed_at``, ``users``, ``seconds``),
    None when they were not."""
    rows = conn.execute(
        "SELECT computed_at, users, seconds FROM audience_runs WHERE run_id = ?", [run_id]
    ).fetchall()
    if not rows:
        return None
    t, n, s = rows[0]
    return {"computed_at": t, "users": int(n), "seconds": float(s)}


def read_run_audience(conn: duckdb.DuckDBPyConnection, run_id: str) -> pa.Table:
    """Every user's stored fact fields in a run: ``user_id`` and :data:`AUDIENCE_FIELDS`."""
    return (
        conn.cursor()  # its own cursor: earlier results on conn may be unfetched
        .sql(
            "SELECT user_id, stage, tier, rfm, channel_pref FROM run_audience WHERE run_id = ?",
            params=[run_id],
        )
        .to_arrow_table()
    )


def user_audience(
    conn: duckdb.DuckDBPyConnection, run_id: str, user_id: str
) -> dict[str, Any] | None:
    """One user's stored fact fields in a run (None when not stored)."""
    rows = conn.execute(
        "SELECT stage, tier, rfm, channel_pref FROM run_audience WHERE run_id = ? AND user_id = ?",
        [run_id, user_id],
    ).fetchall()
    return dict(zip(AUDIENCE_FIELDS, rows[0], strict=True)) if rows else None


def stage_transitions(
    conn: duckdb.DuckDBPyConnection, run_id: str, previous_run_id: str
) -> list[tuple[str | None, str, int]]:
    """Users per (stage in the previous run, stage in ``run_id``) from the stored stages;
    the previous stage is None for users not in the previous run."""
    rows = conn.execute(
        """SELECT p.stage, c.stage, count(*) FROM run_audience c
        LEFT JOIN (SELECT user_id, stage FROM run_audience WHERE run_id = ?) p USING (user_id)
        WHERE c.run_id = ? GROUP BY ALL ORDER BY ALL""",
        [previous_run_id, run_id],
    ).fetchall()
    return [(p, c, int(n)) for p, c, n in rows]

"""The ``GraphStore`` contract shared by the embedded (DuckDB) and Neo4j stores.

A store keeps users, events, orders, refunds, quarantined rows and ranking runs.
Its read side hands analytics *arrays*, never Python objects per row: edges come
back as int32 node indices (see :data:`graph.events.INFLUENCE_DIRECTION` for the
direction) with a node-id mapping, tables come back as Arrow.

Every implementation passes the same contract suite (``tests/graph/test_store_contract.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

from graph.events import EDGE_TYPES, EventType
from graph.money import MONEY_TYPE
from graph.tables import TableStore

__all__ = [
    "EdgeArrays",
    "WriteResult",
    "BatchResult",
    "RunRecord",
    "GraphStore",
    "ARROW_SCHEMAS",
    "REJECT_SCHEMA",
    "CONFLICT_SCHEMA",
    "EVENT_ID_CONFLICT",
    "ORDER_ID_CONFLICT",
    "SCORE_SCHEMA",
    "COMPONENT_SCHEMA",
]

_TS = pa.timestamp("us", tz="UTC")

#: Arrow schema of a *validated* batch of each record type, as handed to
#: :meth:`GraphStore.append_batch`. ``event_id`` is always present (given or derived).
ARROW_SCHEMAS: dict[EventType, pa.Schema] = {
    EventType.USER: pa.schema(
        [
            ("event_id", pa.string()),
            ("user_id", pa.string()),
            ("role", pa.string()),
            ("display_name", pa.string()),
            ("store_id", pa.string()),
            ("channel", pa.string()),
            ("created_at", _TS),
            ("attrs", pa.string()),  # JSON object text
            ("phone_hash", pa.string()),
            ("device_hash", pa.string()),
        ]
    ),
    EventType.SHARE: pa.schema(
        [
            ("event_id", pa.string()),
            ("sharer", pa.string()),
            ("content_id", pa.string()),
            ("channel", pa.string()),
            ("ts", _TS),
        ]
    ),
    EventType.VIEW: pa.schema(
        [
            ("event_id", pa.string()),
            ("viewer", pa.string()),
            ("sharer", pa.string()),
            ("content_id", pa.string()),
            ("channel", pa.string()),
            ("ts", _TS),
        ]
    ),
    EventType.FORWARD: pa.schema(
        [
            ("event_id", pa.string()),
            ("forwarder", pa.string()),
            ("from_user", pa.string()),
            ("content_id", pa.string()),
            ("channel", pa.string()),
            ("ts", _TS),
        ]
    ),
    EventType.COMMENT: pa.schema(
        [
            ("event_id", pa.string()),
            ("commenter", pa.string()),
            ("on_user", pa.string()),
            ("content_id", pa.string()),
            ("channel", pa.string()),
            ("ts", _TS),
        ]
    ),
    EventType.REFERRAL: pa.schema(
        [
            ("event_id", pa.string()),
            ("referrer", pa.string()),
            ("referee", pa.string()),
            ("campaign", pa.string()),
            ("ts", _TS),
        ]
    ),
    EventType.ORDER: pa.schema(
        [
            ("event_id", pa.string()),
            ("order_id", pa.string()),
            ("buyer", pa.string()),
            ("amount", MONEY_TYPE),
            ("currency", pa.string()),
            ("ts", _TS),
            ("attribution_token", pa.string()),
            ("store_id", pa.string()),
        ]
    ),
    EventType.REFUND: pa.schema(
        [
            ("event_id", pa.string()),
            ("refund_id", pa.string()),
            ("order_id", pa.string()),
            ("amount", MONEY_TYPE),
            ("ts", _TS),
        ]
    ),
}

#: One quarantined row: where it came from and why it was refused.
REJECT_SCHEMA = pa.schema(
    [
        ("reject_id", pa.string()),  # deterministic: same source row -> same id
        ("source", pa.string()),
        ("row_number", pa.int64()),
        ("event_type", pa.string()),
        ("field", pa.string()),
        ("value", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
    ]
)

#: A row :meth:`GraphStore.append_batch` refused because its identity is taken by other
#: content: ``index`` is the row's position in the table handed in for ``event_type``.
CONFLICT_SCHEMA = pa.schema(
    [
        ("event_type", pa.string()),
        ("index", pa.int64()),
        ("field", pa.string()),
        ("value", pa.string()),
        ("reason", pa.string()),
    ]
)
#: Reasons of :data:`CONFLICT_SCHEMA` rows (the same in every store).
EVENT_ID_CONFLICT = "conflict: this event_id was already seen with different content"
ORDER_ID_CONFLICT = "conflict: this order_id was already seen with different content"

#: One user's result in a ranking run.
SCORE_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("rank", pa.int32()),
        ("score", pa.float64()),
        ("role", pa.string()),
        ("community", pa.int32()),
    ]
)

#: One component of one user's score: raw value, normalised value, contribution.
COMPONENT_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("component", pa.string()),
        ("raw", pa.float64()),
        ("normalized", pa.float64()),
        ("contribution", pa.float64()),
    ]
)


@dataclass(frozen=True)
class EdgeArrays:
    """Edges of a time window as parallel numpy arrays.

    Attributes
    ----------
    src, dst : numpy.ndarray of int32
        Node indices of the influencer and the influenced user.
    etype : numpy.ndarray of int8
        Edge type codes, :data:`graph.events.EDGE_TYPE_CODES`.
    ts : numpy.ndarray of int64
        Event time, UTC epoch microseconds.
    node_ids : numpy.ndarray of object
        ``node_ids[i]`` is the ``user_id`` of node ``i``; covers every node the
        store knows (also users with no edge in the window).
    """

    src: np.ndarray
    dst: np.ndarray
    etype: np.ndarray
    ts: np.ndarray
    node_ids: np.ndarray

    @property
    def n_nodes(self) -> int:
        return int(self.node_ids.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.src.shape[0])


@dataclass(frozen=True)
class WriteResult:
    """Rows inserted, rows skipped as exact repeats (``duplicates``: same ``event_id``,
    same content) and rows refused as ``conflicts`` (an ``event_id``, or an order's
    ``order_id``, already taken by different content)."""

    inserted: int = 0
    duplicates: int = 0
    conflicts: int = 0


@dataclass(frozen=True)
class BatchResult:
    """Outcome of one :meth:`GraphStore.append_batch` call (one transaction)."""

    by_type: dict[str, WriteResult] = field(default_factory=dict)
    rejects_stored: int = 0
    conflicts: pa.Table = field(default_factory=lambda: CONFLICT_SCHEMA.empty_table())

    @property
    def inserted(self) -> int:
        return sum(r.inserted for r in self.by_type.values())

    @property
    def duplicates(self) -> int:
        return sum(r.duplicates for r in self.by_type.values())


@dataclass
class RunRecord:
    """Metadata of one ranking run (``koc rank``)."""

    run_id: str
    created_at: datetime
    status: str = "running"  # running | succeeded | failed
    config_hash: str = ""
    window_start: datetime | None = None
    window_end: datetime | None = None
    watermark: datetime | None = None
    timings: dict[str, float] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@runtime_checkable
class GraphStore(Protocol):
    """What every KOC Graph store provides. All timestamps are timezone-aware UTC."""

    # --- lifecycle ---------------------------------------------------------------
    def __enter__(self) -> GraphStore:
        """Use the store in a ``with`` block; it is closed at the end."""

    def __exit__(self, *exc: object) -> None:
        """Close the store."""

    def close(self) -> None:
        """Release connections."""

    def schema_version(self) -> int:
        """The applied schema version of the graph component (0 = empty)."""

    def schema_current(self) -> bool:
        """Whether the graph schema is the newest this version of KOC Graph knows
        (compared with this store's own migrations)."""

    #: The relational side (API keys, the commission ledger, role history), opened
    #: with the graph: see :mod:`graph.tables`.
    tables: TableStore

    # --- writes ------------------------------------------------------------------
    def append_batch(
        self,
        tables: Mapping[EventType, pa.Table],
        rejects: pa.Table | None = None,
    ) -> BatchResult:
        """Write one validated batch atomically (one transaction).

        ``tables`` maps a record type to rows shaped like :data:`ARROW_SCHEMAS`.
        Users are upserted by ``user_id`` (within the batch the last record of a
        user wins; a later batch replaces the earlier attributes); every other
        record is appended idempotently by ``event_id``: a row whose id is
        already stored, or earlier in its table, with the *same* content counts
        as a duplicate. Identity is enforced inside the transaction, so
        concurrent writers cannot both win:

        * a row whose ``event_id`` is stored (or earlier in the batch) with
          *different* content is refused (:data:`EVENT_ID_CONFLICT`);
        * an order whose ``order_id`` is stored (or earlier in the batch) under
          another ``event_id`` is refused (:data:`ORDER_ID_CONFLICT`): the
          first content seen for an order wins.

        Refused rows are listed in :attr:`BatchResult.conflicts` (the caller
        quarantines them) and counted in ``WriteResult.conflicts``. Users
        referenced by events but never declared are created with role
        ``unknown``. ``rejects`` (shaped like :data:`REJECT_SCHEMA`) go to the
        quarantine, idempotently by ``reject_id``.
        """

    # --- reads -------------------------------------------------------------------
    def node_ids(self) -> np.ndarray:
        """``user_id`` of every node, indexed by node index (object array)."""

    def read_edges(
        self,
        types: Iterable[EventType] = EDGE_TYPES,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> EdgeArrays:
        """Edges of ``types`` with ``start <= ts < end`` (either bound optional)."""

    def read_events(
        self,
        event_type: EventType,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pa.Table:
        """Stored records of one type in the window, shaped like :data:`ARROW_SCHEMAS`.

        For ``user`` the window applies to ``created_at`` and is usually omitted.
        """

    def read_spend(self, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
        """Spend per buyer over orders in the window.

        Columns ``user_id``, ``orders`` (int64), ``gross`` and ``refunded``
        (decimal128(20, 4); refunds of those orders, whenever made),
        ``net`` (gross - refunded), ``first_order_ts`` and ``last_order_ts``.
        """

    def read_rejects(self, limit: int | None = None) -> pa.Table:
        """Quarantined rows, oldest first, shaped like :data:`REJECT_SCHEMA` plus ``ingested_at``."""

    def clear_rejects(self, sources: Sequence[str] | None = None) -> int:
        """Delete quarantined rows of ``sources`` (as stored: resolved paths, or ``api``),
        or all of them when None; return how many were deleted.

        For after a fixed file was loaded again: its old rejects no longer apply.
        """

    def counts(self) -> dict[str, int]:
        """Row count per record type plus ``rejects`` and ``users``."""

    def watermark(self) -> datetime | None:
        """Latest event timestamp stored (over all event types), or None when empty."""

    def revision(self) -> int:
        """A number that changes whenever stored events, users or roles change.

        Cheap enough to call per request: in-memory indexes built from the store
        (the API's profile facts) compare it to know when to rebuild.
        """

    # --- referral trees ----------------------------------------------------------
    def upline(self, user_id: str, levels: int = 3) -> pa.Table:
        """Who referred ``user_id``, who referred them, ... up to ``levels``.

        Columns ``level`` (int32, 1 = direct referrer), ``user_id``, ``referred_at``
        (timestamp of the referral that bound the lower user). The first (earliest)
        referral of each referee defines the tree; cycles stop the walk.
        """

    def downline(self, user_id: str, levels: int = 3) -> pa.Table:
        """Users referred by ``user_id`` directly (level 1) and indirectly, per level.

        Columns ``level`` (int32), ``users`` (int64 count), ``buyers`` (int64),
        ``gmv`` (decimal128(20, 4): orders of those users net of refunds).
        Same tree definition as :meth:`upline`.
        """

    # --- ranking runs ------------------------------------------------------------
    def save_run(
        self,
        run: RunRecord,
        scores: pa.Table | None = None,
        components: pa.Table | None = None,
    ) -> None:
        """Insert or update a run; ``scores``/``components`` (see :data:`SCORE_SCHEMA`,
        :data:`COMPONENT_SCHEMA`) replace that run's stored results when given."""

    def get_run(self, run_id: str) -> RunRecord:
        """One run; raises :class:`graph.errors.NotFoundError` for an unknown id."""

    def list_runs(self, limit: int = 20) -> list[RunRecord]:
        """Most recent runs first."""

    def latest_run(self, status: str = "succeeded") -> RunRecord | None:
        """Most recent run with that status, or None."""

    def read_scores(
        self,
        run_id: str,
        *,
        user_ids: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """A run's scores in rank order (optionally for some users / the top ``limit``)."""

    def read_components(
        self,
        run_id: str,
        user_ids: Iterable[str] | None = None,
        *,
        component: str | None = None,
        ordered: bool = True,
    ) -> pa.Table:
        """A run's score breakdown rows (optionally for some users and/or one component),
        ordered by user and component unless ``ordered`` is False (faster for whole runs)."""

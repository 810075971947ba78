"""A run's audience frame: every user's fields, windowed facts and tags as arrays.

:class:`RunFrame` implements :class:`graph.segments.Frame` over one finished ranking
run. It holds one row per user of the run, in the run's rank order, and loads each
part the first time a segment asks for it, then keeps it:

* the run's scores (``score``, ``rank``, ``community``, ``role``), its components and
  detail rows (``conversion``, ``conversion.attributed_gmv``, ``spend.recency_days``...)
  and, against the previous succeeded run, ``previous_rank`` and ``rank_change``;
* the events up to the run's end (``window_end``, else its watermark) as arrays of
  user row and time: the windowed facts (``forwards(30d)``...) are one bincount each;
* lifecycle ``stage`` (and ``previous_stage``), KOC ``tier``, ``rfm`` segment
  (:mod:`influence.lifecycle`, thresholds from the run's ``[audience]`` config) and
  ``channel_pref`` (:mod:`influence.channels`): read from the ``run_audience`` table
  where the run stored them when it was saved (:func:`store_run_audience`), computed
  from the events only for runs that did not;
* tags: user tags in effect now (``store.tables``) and fact tags derived from the
  fields (``stage.loyal``, ``tier.a``, ``rising``, ``fraud_held``...).

Events dated after the run's end never count, so a frame of a past run does not
move when new data arrives (late events dated before its end do).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.arrays import US_PER_DAY, micros, node_index
from graph.events import EDGE_TYPE_CODES, EventType
from graph.money import UNITS_PER_CURRENCY_UNIT, to_units
from graph.segments import ArrayFrame, Catalog, EventFact
from graph.segments import _store as seg_store
from graph.store import GraphStore, RunRecord
from influence.channels import channel_performance, preferred_channel
from influence.config import COMPONENTS, AudienceSection
from influence.lifecycle import (
    RFM_SEGMENTS,
    STAGES,
    TIERS,
    koc_tiers,
    lifecycle_stages,
    rfm_segments,
)

__all__ = [
    "FACTS",
    "TEXT_FIELDS",
    "BASE_NUMBERS",
    "FACT_TAGS",
    "TAG_PREFIXES",
    "RunFrame",
    "run_end_us",
    "audience_config",
    "store_run_audience",
]

#: Windowed facts: name -> what it counts (for the docs and error messages).
FACTS: dict[str, str] = {
    "shares": "shares the user made",
    "views": "views the user made (content they opened)",
    "forwards": "forwards the user made",
    "comments": "comments the user wrote",
    "referrals": "referrals the user made (people they invited)",
    "orders": "orders the user placed",
    "gmv": "net amount of the user's orders (refunds of them subtracted), currency units",
    "views_received": "views of the user's shares",
    "forwards_received": "forwards of the user's content",
    "comments_received": "comments on the user's content",
    "activity": "every action the user made (shares, views, forwards, comments, referrals, orders)",
}
#: Text fields of every run.
TEXT_FIELDS: tuple[str, ...] = ("role", "stage", "previous_stage", "tier", "rfm", "channel_pref")
#: Numeric fields of every run besides its components and details.
BASE_NUMBERS: tuple[str, ...] = ("score", "rank", "community", "previous_rank", "rank_change")
#: Fact tags with a fixed name.
FACT_TAGS: tuple[str, ...] = ("rising", "falling", "staff_like", "fraud_held", "new_in_run")
#: Fact tag families: ``stage.loyal`` = ``stage = 'loyal'`` (the text field's value).
TAG_PREFIXES: dict[str, str] = {
    "role.": "role",
    "stage.": "stage",
    "tier.": "tier",
    "rfm.": "rfm",
    "channel.": "channel_pref",
    "community.": "community",
}
#: Seconds the ``fraud_held`` tag of a frame is reused before the ledger is read again.
HELD_TTL_S = 5.0
_ACTOR = {  # edge type -> which end acted (graph.events.INFLUENCE_DIRECTION: src influences dst)
    EventType.VIEW: "dst",
    EventType.FORWARD: "dst",
    EventType.COMMENT: "dst",
    EventType.REFERRAL: "src",
}


def run_end_us(run: RunRecord) -> int:
    """The last microsecond of a run's data: just before its window end (exclusive), else
    its watermark (the latest event it saw), else its creation time."""
    end = run.window_end or run.watermark or run.created_at
    us = int(micros(pa.array([end], pa.timestamp("us", tz="UTC")))[0])
    return us - 1 if run.window_end is not None else us


def _read_end(end_us: int) -> datetime:
    """The exclusive ``end`` for the store's reads that keeps events up to ``end_us``."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=end_us + 1)


def audience_config(run: RunRecord) -> AudienceSection:
    """The ``[audience]`` thresholds a run was made with (the defaults for older runs)."""
    cfg = (run.params or {}).get("config", {}).get("audience")
    return AudienceSection(**cfg) if cfg else AudienceSection()


def _codes(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Dictionary codes (-1 for null) and sorted categories of a string column."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    enc = pc.dictionary_encode(arr)
    cats = enc.dictionary.to_pylist()
    order = sorted(range(len(cats)), key=lambda i: cats[i])
    remap = np.empty(len(cats) + 1, dtype=np.int64)
    remap[order] = np.arange(len(cats))
    remap[-1] = -1
    idx = np.asarray(enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return remap[idx], tuple(cats[i] for i in order)


class RunFrame:
    """The :class:`graph.segments.Frame` of one finished run (see the module docstring).

    Parameters
    ----------
    store : GraphStore
    run : RunRecord
        A finished run.
    previous : RunFrame or None
        The previous succeeded run's frame (for ``rank_change``, ``previous_stage``).
    staff_roles : tuple of str
    """

    def __init__(
        self,
        store: GraphStore,
        run: RunRecord,
        *,
        previous: Callable[[], RunFrame | None] | None = None,
        staff_roles: tuple[str, ...] = ("employee", "kol"),
    ) -> None:
        self.store = store
        self.run = run
        self.config = audience_config(run)
        self.staff_roles = staff_roles
        self._previous = previous
        self._lock = threading.RLock()
        scores = store.read_scores(run.run_id).combine_chunks()
        self.scores = scores
        self.user_ids = scores.column("user_id").combine_chunks()
        self.size = scores.num_rows
        self.end_us = run_end_us(run)
        self._end = _read_end(self.end_us)
        community = scores.column("community")
        self._numbers: dict[str, np.ndarray] = {
            "score": np.asarray(scores.column("score").to_numpy(zero_copy_only=False), float),
            "rank": np.asarray(scores.column("rank").to_numpy(zero_copy_only=False), float),
            "community": np.asarray(
                community.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False),
                float,
            ),
        }
        self._texts: dict[str, tuple[np.ndarray, tuple[str, ...]]] = {
            "role": _codes(scores.column("role"))
        }
        self._events: ArrayFrame | None = None
        self._tags: tuple[int, dict[str, np.ndarray]] | None = None
        self._channels: tuple[np.ndarray, tuple[str, ...]] | None = None
        self._component_names: frozenset[str] | None = None
        self._held: tuple[float, np.ndarray] | None = None
        self._perf: tuple[np.ndarray, tuple[str, ...]] | None = None
        self._stored: dict[str, tuple[np.ndarray, tuple[str, ...]]] | None = None
        self._stored_read = False
        #: When the run's stored fact fields were computed (None: not stored, computed here).
        self.stored_at: datetime | None = None

    # --- the Frame protocol ---------------------------------------------------------------
    def number(self, name: str) -> np.ndarray:
        hit = self._numbers.get(name)
        if hit is not None:
            return hit
        with self._lock:
            if name not in self._numbers:
                self._numbers[name] = self._load_number(name)
            return self._numbers[name]

    def text(self, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
        hit = self._texts.get(name)
        if hit is not None:
            return hit
        with self._lock:
            if name not in self._texts:
                self._texts[name] = self._load_text(name)
            return self._texts[name]

    def fact(self, name: str, window_us: int | None) -> np.ndarray:
        return self._event_frame().fact(name, window_us)

    def tag(self, name: str) -> np.ndarray:
        for prefix, field in TAG_PREFIXES.items():
            if name.startswith(prefix):
                value = name[len(prefix) :]
                if field == "community":
                    try:
                        return self.number("community") == float(value)
                    except ValueError:
                        return np.zeros(self.size, dtype=bool)
                codes, cats = self.text(field)
                lowered = [c.lower() for c in cats]
                if value.lower() not in lowered:
                    return np.zeros(self.size, dtype=bool)
                return codes == lowered.index(value.lower())
        if name in FACT_TAGS:
            return self._fact_tag(name)
        return self.user_tags().get(name, np.zeros(self.size, dtype=bool))

    # --- what the run offers --------------------------------------------------------------
    def component_names(self) -> frozenset[str]:
        """Components and detail rows stored with the run (from its top users' rows)."""
        if self._component_names is None:
            top = self.user_ids.slice(0, 5).to_pylist()
            rows = self.store.read_components(self.run.run_id, user_ids=top)
            self._component_names = frozenset(rows.column("component").to_pylist()) | frozenset(
                COMPONENTS
            )
        return self._component_names

    def catalog(self, *, strict_tags: bool = True) -> Catalog:
        """The names a segment over this run may use (user tags known now when strict)."""
        tags: frozenset[str] | None = None
        if strict_tags:
            tags = frozenset(FACT_TAGS) | frozenset(self.user_tags())
        return Catalog(
            numbers=frozenset(BASE_NUMBERS) | self.component_names(),
            texts=frozenset(TEXT_FIELDS),
            facts=frozenset(FACTS),
            tags=tags,
            tag_prefixes=frozenset(TAG_PREFIXES),
        )

    # --- loaders --------------------------------------------------------------------------
    def _load_number(self, name: str) -> np.ndarray:
        if name in ("previous_rank", "rank_change"):
            prev = self.previous()
            out = np.full(self.size, np.nan)
            if prev is not None:
                pos = node_index(prev.user_ids, self.user_ids)
                known = pos >= 0
                out[known] = prev.number("rank")[pos[known]]
                if name == "rank_change":
                    out = out - self.number("rank")
            return out
        block = getattr(self.store, "component_block", None)  # a RunCache (the HTTP server)
        if block is not None:
            held = block(self.run.run_id, [name], np.arange(self.size), "raw")
            if held is not None:  # the run's breakdown pivot is in memory: no store read
                values, present = held
                return np.where(present[0], values[0], 0.0)
        comp = self.store.read_components(self.run.run_id, component=name)
        out = np.zeros(self.size)  # absent detail rows are 0 (as in the leaderboard's why)
        if comp.num_rows:
            rows = node_index(self.user_ids, comp.column("user_id"))
            raw = comp.column("raw").cast(pa.float64()).fill_null(np.nan)
            keep = rows >= 0
            out[rows[keep]] = np.asarray(raw.to_numpy(zero_copy_only=False), float)[keep]
        return out

    def stored_fields(self) -> dict[str, tuple[np.ndarray, tuple[str, ...]]] | None:
        """The run's stored ``stage``, ``tier``, ``rfm`` and ``channel_pref`` as (codes,
        categories) in the frame's row order; None when the run did not store them."""
        with self._lock:
            if not self._stored_read:
                self._stored_read = True
                self._stored = self._read_stored()
            return self._stored

    def _read_stored(self) -> dict[str, tuple[np.ndarray, tuple[str, ...]]] | None:
        tables = self.store.tables
        if not tables.available:
            return None
        cur = tables.cursor()
        try:
            conn = cur.conn
            if not seg_store.schema_ready(conn):
                return None
            info = seg_store.audience_run(conn, self.run.run_id)
            if info is None or info["users"] != self.size:
                return None
            table = seg_store.read_run_audience(conn, self.run.run_id)
        finally:
            cur.close()
        ids = table.column("user_id").combine_chunks()
        if ids.equals(self.user_ids):
            take = None  # stored in the frame's order (the usual case)
        else:
            take = node_index(ids, self.user_ids)
            if (take < 0).any():
                return None
        out: dict[str, tuple[np.ndarray, tuple[str, ...]]] = {}
        fixed = {"stage": STAGES, "tier": TIERS, "rfm": RFM_SEGMENTS}
        for name in seg_store.AUDIENCE_FIELDS:
            col = table.column(name)
            if name in fixed:
                cats = fixed[name]
                codes = node_index(pa.array(cats, pa.string()), col).astype(np.int64)
            else:
                codes, cats = _codes(col)
            out[name] = (codes if take is None else codes[take], cats)
        self.stored_at = info["computed_at"]
        return out

    def _load_text(self, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
        cfg = self.config
        if name in seg_store.AUDIENCE_FIELDS:
            stored = self.stored_fields()
            if stored is not None:
                return stored[name]
        if name == "stage":
            return self.stage_codes(), STAGES
        if name == "previous_stage":
            prev = self.previous()
            out = np.full(self.size, -1, dtype=np.int64)
            if prev is not None:
                pos = node_index(prev.user_ids, self.user_ids)
                known = pos >= 0
                out[known] = prev.stage_codes()[pos[known]]
            return out, STAGES
        if name == "tier":
            codes = koc_tiers(
                self.number("rank"),
                self.number("score"),
                tier_a=cfg.tier_a,
                tier_b=cfg.tier_b,
                tier_c=cfg.tier_c,
            )
            return codes.astype(np.int64), TIERS
        if name == "rfm":
            ev = self._event_frame()
            window = int(cfg.window_days * US_PER_DAY)
            last = self._last_time("orders")
            codes = rfm_segments(
                recency_days=(self.end_us - last) / US_PER_DAY,
                orders=ev.fact("orders", window),
                spend=ev.fact("gmv", window),
                recent_days=cfg.rfm_recent_days,
                frequent_orders=cfg.rfm_frequent_orders,
                high_spend=cfg.rfm_high_spend,
            )
            return codes.astype(np.int64), RFM_SEGMENTS
        if name == "channel_pref":
            return self.channel_preference()
        raise KeyError(name)

    def previous(self) -> RunFrame | None:
        return None if self._previous is None else self._previous()

    def stage_codes(self) -> np.ndarray:
        """Lifecycle stage code per user (:data:`influence.lifecycle.STAGES`): stored with
        the run, else computed from the events."""
        stored = self.stored_fields()
        if stored is not None:
            return stored["stage"][0]
        return self.computed_stage_codes()

    def computed_stage_codes(self) -> np.ndarray:
        """Lifecycle stage code per user computed from the events up to the run's end."""
        with self._lock:
            if "_stage" not in self._numbers:
                cfg = self.config
                ev = self._event_frame()
                window = int(cfg.window_days * US_PER_DAY)
                active = int(cfg.active_days * US_PER_DAY)
                acts = [ev.fact(k, window) for k in ("shares", "forwards", "comments", "referrals")]
                recent = ev.fact("activity", active)
                both = ev.fact("activity", 2 * active)
                self._numbers["_stage"] = lifecycle_stages(
                    last_action_days=(self.end_us - self._last_time("activity")) / US_PER_DAY,
                    orders=ev.fact("orders", window),
                    actions=np.sum(acts, axis=0),
                    referrals=acts[3],
                    recent_actions=recent,
                    earlier_actions=both - recent,
                    active_days=cfg.active_days,
                    lost_days=cfg.lost_days,
                    trusting_orders=cfg.trusting_orders,
                    trusting_actions=cfg.trusting_actions,
                    loyal_orders=cfg.loyal_orders,
                    loyal_referrals=cfg.loyal_referrals,
                    decline_ratio=cfg.decline_ratio,
                    decline_min_actions=cfg.decline_min_actions,
                ).astype(np.int64)
            return self._numbers["_stage"]

    def _last_time(self, fact: str) -> np.ndarray:
        """Latest event time per user of a fact (``-inf`` when none), as float64."""
        ev = self._event_frame().facts[fact]
        keep = ev.ts <= self.end_us
        out = np.full(self.size, -np.inf)
        user, ts = ev.user[keep], ev.ts[keep].astype(np.float64)
        order = np.lexsort((ts, user))  # per user, the last one is the latest
        user, ts = user[order], ts[order]
        if user.size:
            last = np.r_[user[1:] != user[:-1], True]
            out[user[last]] = ts[last]
        return out

    def _event_frame(self) -> ArrayFrame:
        with self._lock:
            if self._events is None:
                self._events = ArrayFrame(
                    size=self.size, end_us=self.end_us, facts=self._load_events()
                )
            return self._events

    def _rows(self, user_ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        return node_index(self.user_ids, user_ids)

    def _load_events(self) -> dict[str, EventFact]:
        """Every event up to the run's end as (user row, time[, amount]) arrays."""
        store = self.store
        end = self._end
        edges = store.read_edges(types=tuple(_ACTOR), end=end)
        node_row = self._rows(pa.array(edges.node_ids, pa.string()))
        facts: dict[str, EventFact] = {}
        names = {
            EventType.VIEW: "views",
            EventType.FORWARD: "forwards",
            EventType.COMMENT: "comments",
            EventType.REFERRAL: "referrals",
        }
        for etype, side in _ACTOR.items():
            sel = edges.etype == EDGE_TYPE_CODES[etype]
            actor = (edges.dst if side == "dst" else edges.src)[sel]
            other = (edges.src if side == "dst" else edges.dst)[sel]
            ts = edges.ts[sel].astype(np.int64)
            facts[names[etype]] = EventFact(node_row[actor], ts)
            if etype is not EventType.REFERRAL:
                facts[f"{names[etype]}_received"] = EventFact(node_row[other], ts)
        shares = store.read_events(EventType.SHARE, end=end)
        facts["shares"] = EventFact(
            self._rows(shares.column("sharer")), micros(shares.column("ts"))
        )
        orders = store.read_events(EventType.ORDER, end=end)
        refunds = store.read_events(EventType.REFUND, end=end)
        amount = _units(orders.column("amount"))
        if refunds.num_rows:
            pos = node_index(orders.column("order_id"), refunds.column("order_id"))
            refunded = np.zeros(orders.num_rows, dtype=np.int64)
            keep = pos >= 0
            np.add.at(refunded, pos[keep], _units(refunds.column("amount"))[keep])
            amount = amount - np.minimum(refunded, amount)
        order_rows = self._rows(orders.column("buyer"))
        order_ts = micros(orders.column("ts"))
        facts["orders"] = EventFact(order_rows, order_ts)
        facts["gmv"] = EventFact(order_rows, order_ts, amount / UNITS_PER_CURRENCY_UNIT)
        parts = [
            facts[k] for k in ("shares", "views", "forwards", "comments", "referrals", "orders")
        ]
        facts["activity"] = EventFact(
            np.concatenate([p.user for p in parts]), np.concatenate([p.ts for p in parts])
        )
        return facts

    # --- tags -----------------------------------------------------------------------------
    def user_tags(self) -> dict[str, np.ndarray]:
        """User tags in effect now, one bool array per tag (re-read when tags change)."""
        tables = self.store.tables
        if not tables.available:
            return {}
        cur = tables.cursor()
        try:
            conn = cur.conn
            if not seg_store.schema_ready(conn):
                return {}
            version = seg_store.tags_version(conn)
            with self._lock:
                if self._tags is not None and self._tags[0] == version:
                    return self._tags[1]
            table = seg_store.active_tags(conn)
        finally:
            cur.close()
        with self._lock:
            rows = self._rows(table.column("user_id"))
            codes, cats = _codes(table.column("tag"))
            out: dict[str, np.ndarray] = {}
            for i, tag in enumerate(cats):
                mask = np.zeros(self.size, dtype=bool)
                sel = (codes == i) & (rows >= 0)
                mask[rows[sel]] = True
                out[tag] = mask
            self._tags = (version, out)
            return out

    def _fact_tag(self, name: str) -> np.ndarray:
        if name == "rising":
            return np.nan_to_num(self.number("rank_change"), nan=0) > 0
        if name == "falling":
            return np.nan_to_num(self.number("rank_change"), nan=0) < 0
        if name == "new_in_run":
            return np.isnan(self.number("previous_rank")) & (self.previous() is not None)
        if name == "staff_like":
            codes, cats = self.text("role")
            staff = np.isin(codes, [i for i, c in enumerate(cats) if c in self.staff_roles])
            flags = self.component_names()
            like = np.zeros(self.size, dtype=bool)
            for f in ("flags.staff_channel", "flags.staff_orders"):
                if f in flags:
                    like |= self.number(f) > 0
            return like & ~staff
        if name == "fraud_held":
            return self._fraud_held()
        raise KeyError(name)

    def _fraud_held(self) -> np.ndarray:
        """Users with a commission held now (re-read at most every ``HELD_TTL_S`` seconds:
        holds are placed and released between runs)."""
        from referral.service import held_beneficiaries

        now = time.monotonic()
        cached = self._held
        if cached is not None and now - cached[0] < HELD_TTL_S:
            return cached[1]
        held = held_beneficiaries(self.store)
        mask = np.zeros(self.size, dtype=bool)
        if held:
            rows = self._rows(pa.array(held, pa.string()))
            mask[rows[rows >= 0]] = True
        self._held = (now, mask)
        return mask

    # --- channels -------------------------------------------------------------------------
    def channel_preference(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """Preferred channel per user (codes, channels) and keeps the performance table."""
        with self._lock:
            if self._channels is None:
                perf, channels = self.channel_table()
                self._channels = (preferred_channel(perf), channels)
            return self._channels

    def channel_table(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """Performance per user and channel (:func:`influence.channels.channel_performance`)."""
        with self._lock:
            if self._perf is not None:
                return self._perf
            store, end = self.store, self._end
            views = store.read_events(EventType.VIEW, end=end).select(["sharer", "channel"])
            fwd = store.read_events(EventType.FORWARD, end=end).select(["from_user", "channel"])
            shares = store.read_events(EventType.SHARE, end=end).select(
                ["sharer", "content_id", "channel"]
            )
            orders = store.read_events(EventType.ORDER, end=end).select(["attribution_token"])
            all_channels = pa.chunked_array(
                [
                    *views.column("channel").chunks,
                    *fwd.column("channel").chunks,
                    *shares.column("channel").chunks,
                ],
                type=pa.string(),
            )
            _, channels = _codes(pc.unique(all_channels.drop_null()))
            channel_set = pa.array(channels, pa.string())

            def code(col: pa.ChunkedArray) -> np.ndarray:
                return node_index(channel_set, col)

            pos = node_index(shares.column("content_id"), orders.column("attribution_token"))
            hit = pos >= 0
            share_row = self._rows(shares.column("sharer"))
            share_ch = code(shares.column("channel"))
            perf = channel_performance(
                n_users=self.size,
                n_channels=len(channels),
                views=(self._rows(views.column("sharer")), code(views.column("channel"))),
                forwards=(self._rows(fwd.column("from_user")), code(fwd.column("channel"))),
                conversions=(share_row[pos[hit]], share_ch[pos[hit]]),
            )
            self._perf = (perf, channels)
            return self._perf


def _units(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Money column (decimal) as int64 units (:mod:`graph.money`)."""
    return np.asarray(to_units(column), dtype=np.int64)


def store_run_audience(store: GraphStore, run: RunRecord) -> dict[str, Any] | None:
    """Compute and store a run's fact fields per user (``stage``, ``tier``, ``rfm``,
    ``channel_pref``) in the ``run_audience`` table, when the run is saved.

    The run's scores must be saved. Every field is one vectorised pass over the run's
    users and events (:class:`RunFrame`), and the rows go to the tables as one Arrow
    insert. Returns ``computed_at``, ``users`` and ``seconds``; None when the store has
    no tables (a Neo4j store without ``KOC_LEDGER_PATH``): readers compute then.
    """
    tables = store.tables
    if not tables.available:
        return None
    t0 = time.perf_counter()
    frame = RunFrame(store, run)
    frame._stored_read = True  # compute, whatever was stored before
    columns: dict[str, pa.Array] = {"user_id": frame.user_ids}
    for name in seg_store.AUDIENCE_FIELDS:
        codes, cats = frame.text(name)
        dictionary = pa.array(list(cats), pa.string())
        indices = pa.array(codes, pa.int32(), mask=codes < 0)
        columns[name] = pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())
    rows = pa.table(columns)
    seconds = time.perf_counter() - t0
    cur = tables.cursor()
    try:
        conn = cur.conn
        seg_store.ensure_schema(conn)
        computed_at = seg_store.write_run_audience(conn, run.run_id, rows, seconds=seconds)
    finally:
        cur.close()
    return {
        "computed_at": computed_at,
        "users": rows.num_rows,
        "seconds": round(time.perf_counter() - t0, 4),
    }


def describe(frame: RunFrame) -> dict[str, Any]:
    """What a run's frame offers (for `koc segments fields` and the docs)."""
    return {
        "numbers": sorted(frame.catalog(strict_tags=False).numbers),
        "texts": list(TEXT_FIELDS),
        "facts": FACTS,
        "fact_tags": list(FACT_TAGS),
        "tag_families": list(TAG_PREFIXES),
    }

"""A stand-in for a Neo4j server, for tests and benchmarks where no server can run.

``RecordingNeo4j`` plays driver, session and transaction at once: it records every
statement the store sends (name, parameter rows) and answers the few the store's
write path depends on the way a server would (which users exist, the node-index
counter, how many records a ``MERGE`` created). It implements no Cypher: it keys
on the statement constants of :mod:`graph.cypher`. Live behaviour is covered by the
tests marked ``neo4j``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from graph import cypher
from graph.events import RECORD_SPECS, EventType
from graph.store import ARROW_SCHEMAS

__all__ = ["RecordingNeo4j"]

_NAMES = {s.text: s.name for s in cypher.all_statements()}
_NODE_KEYS = {
    cypher.LOAD_SHARES.text: "event_id",
    cypher.LOAD_ORDERS.text: "event_id",
    cypher.LOAD_REFUNDS.text: "event_id",
    cypher.LOAD_REJECTS.text: "reject_id",
}
_EDGE_LOADS = {s.text for s in cypher.LOAD_EDGES.values()}
#: load statement text -> record type, and lookup statement text -> record type
_LOAD_TYPES = {
    **{s.text: t for t, s in cypher.LOAD_EDGES.items()},
    cypher.LOAD_SHARES.text: EventType.SHARE,
    cypher.LOAD_ORDERS.text: EventType.ORDER,
    cypher.LOAD_REFUNDS.text: EventType.REFUND,
}
_LOOKUPS = {s.text: t for t, s in cypher.LOOKUP_EVENTS.items()}


def _stored_record(event_type: EventType, row: dict[str, Any]) -> tuple[Any, ...]:
    """A load statement's parameter row as the lookup statement returns it
    (:data:`graph.store.ARROW_SCHEMAS` order, ts in microseconds, money in units)."""
    spec = RECORD_SPECS[event_type]
    out = []
    for name in ARROW_SCHEMAS[event_type].names:
        if name == "ts":
            out.append(row["ts_s"] * 1_000_000 + row["ts_ns"] // 1000)
        elif name == "amount":
            out.append(row["amount_e4"])
        elif name == spec.src:
            out.append(row["src"])
        elif name == spec.dst:
            out.append(row["dst"])
        else:
            out.append(row.get(name))
    return tuple(out)


class _Counters:
    def __init__(self, nodes: int = 0, rels: int = 0) -> None:
        self.nodes_created, self.relationships_created = nodes, rels


class _Summary:
    def __init__(self, counters: _Counters) -> None:
        self.counters = counters


class _Result:
    def __init__(self, records: list[Any] | None = None, counters: _Counters | None = None) -> None:
        self._records = list(records or [])
        self._counters = counters or _Counters()

    def __iter__(self) -> Any:
        records, self._records = self._records, []
        return iter(records)

    def fetch(self, n: int) -> list[Any]:
        out, self._records = self._records[:n], self._records[n:]
        return out

    def single(self) -> Any:
        return self._records[0] if self._records else None

    def consume(self) -> _Summary:
        return _Summary(self._counters)


class RecordingNeo4j:
    """Driver, session and transaction in one object; see the module docstring."""

    def __init__(self, *, keep_params: bool = True) -> None:
        #: keep every call's parameters (tests); False keeps only row counts (benchmarks)
        self.keep_params = keep_params
        self.users: dict[str, dict[str, Any]] = {}  # user_id -> {"idx", "event_id"}
        self.keys: defaultdict[str, set[str]] = defaultdict(set)  # statement -> stored keys
        #: record type -> event_id -> stored record (lookup layout)
        self.records: defaultdict[EventType, dict[str, tuple[Any, ...]]] = defaultdict(dict)
        self.next_idx = 0
        self.sent: list[tuple[str, dict[str, Any]]] = []  # (statement name, parameters)
        self.transactions = 0
        #: records returned per statement name
        self.returned: Counter[str] = Counter()
        #: referral tree for reads: (referrer idx, referee idx, ts in us, event_id)
        self.referrals: list[tuple[int, int, int, str]] = []
        #: net spend in 1/10,000 units per buyer idx (only buyers)
        self.net: dict[int, int] = {}
        #: canned records per statement name, for reads the stand-in does not model
        self.answers: dict[str, list[Any]] = {}
        #: an error to raise when the named statement runs (a server failure)
        self.fail_with: dict[str, BaseException] = {}
        #: attempts of a transaction function on a retryable error, like the driver's
        self.max_attempts = 3

    # --- what the store calls -----------------------------------------------------------
    def verify_connectivity(self) -> None:
        pass

    def session(self, **config: Any) -> RecordingNeo4j:
        return self

    def __enter__(self) -> RecordingNeo4j:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def close(self) -> None:
        pass

    def execute_write(self, work: Any) -> Any:
        """Run ``work``; retry it, as the driver does, while it raises a retryable driver error."""
        for attempt in range(1, self.max_attempts + 1):
            self.transactions += 1
            try:
                return work(self)
            except Exception as exc:
                retryable = getattr(exc, "is_retryable", lambda: False)()
                if not retryable or attempt == self.max_attempts:
                    raise
        raise AssertionError("unreachable")

    execute_read = execute_write

    def run(self, text: str, params: dict[str, Any] | None = None) -> _Result:
        params = dict(params or {})
        name = _NAMES.get(text, "unknown")
        if name in self.fail_with:
            raise self.fail_with[name]
        if self.keep_params:
            self.sent.append((name, params))
        else:
            n = len(params.get("rows") or params.get("ids") or [])
            self.sent.append((name, {"n_rows": n}))
        result = self._answer(text, name, params)
        self.returned[name] += len(result._records)
        return result

    def _answer(self, text: str, name: str, params: dict[str, Any]) -> _Result:
        rows = params.get("rows") or []
        if name in self.answers:
            return _Result(self.answers[name])
        if text in (
            cypher.DELETE_RUN_SCORES.text,
            cypher.DELETE_RUN_COMPONENTS.text,
            cypher.CLEAR_STALE_USER_SCORES.text,
        ):
            return _Result([(0,)])  # nothing (left) to delete
        if text == cypher.RUN_MAX_RANK.text:
            return _Result([(None,)])  # the stand-in keeps no stored results
        if text == cypher.META_READ.text:
            return _Result([{"next_idx": self.next_idx, "schema_version": cypher.SCHEMA_VERSION}])
        if text == cypher.META_LOCK.text:
            return _Result([{"next_idx": self.next_idx}])
        if text == cypher.META_SET_NEXT_IDX.text:
            self.next_idx = params["next_idx"]
        elif text == cypher.EXISTING_USERS.text:
            found = [(u, self.users[u]["event_id"]) for u in params["ids"] if u in self.users]
            return _Result(found)
        elif text == cypher.MISSING_USERS.text:
            return _Result([(u,) for u in params["ids"] if u not in self.users])
        elif text == cypher.CREATE_USERS.text:
            new = [r for r in rows if r["user_id"] not in self.users]
            for r in new:
                self.users[r["user_id"]] = {"idx": r["idx"], "event_id": None}
            return _Result(counters=_Counters(nodes=len(new)))
        elif text == cypher.UPSERT_USERS.text:
            for r in rows:
                self.users[r["user_id"]]["event_id"] = r["event_id"]
        elif text in _LOOKUPS:
            stored = self.records[_LOOKUPS[text]]
            return _Result([stored[i] for i in params["ids"] if i in stored])
        elif text == cypher.STORED_ORDER_IDS.text:
            taken = {r[1] for r in self.records[EventType.ORDER].values()}
            return _Result([(i,) for i in params["ids"] if i in taken])
        elif text in _EDGE_LOADS or text in _NODE_KEYS:
            key = _NODE_KEYS.get(text, "event_id")
            new = {r[key] for r in rows} - self.keys[text]
            self.keys[text] |= new
            if text in _LOAD_TYPES:
                et = _LOAD_TYPES[text]
                for r in rows:
                    self.records[et].setdefault(r["event_id"], _stored_record(et, r))
            if text in _EDGE_LOADS:
                return _Result(counters=_Counters(rels=len(new)))
            return _Result(counters=_Counters(nodes=len(new)))
        elif text == cypher.USER_IDX.text:
            user = self.users.get(params["user_id"])
            return _Result([{"idx": user["idx"]}] if user else [])
        elif text == cypher.FIRST_REFERRER.text:
            first = self._first_referral(params["idx"])
            if first is None:
                return _Result()
            names = {u["idx"]: name for name, u in self.users.items()}
            return _Result([{"idx": first[0], "user_id": names[first[0]], "referred_at": first[2]}])
        elif text == cypher.DOWNLINE_STEP.text:
            children = {c for r, c, _, _ in self.referrals if r in set(params["frontier"])}
            return _Result([(c, self._first_referral(c)[0]) for c in sorted(children)])
        elif text == cypher.NET_SPEND.text:
            return _Result([(i, self.net[i]) for i in params["idxs"] if i in self.net])
        return _Result()

    def _first_referral(self, referee: int) -> tuple[int, int, int, str] | None:
        mine = [r for r in self.referrals if r[1] == referee]
        return min(mine, key=lambda r: (r[2], r[3])) if mine else None

    # --- what tests look at -------------------------------------------------------------
    def calls(self, name: str) -> list[dict[str, Any]]:
        """Parameters of every call of statement ``name``, in order."""
        return [p for n, p in self.sent if n == name]

    def counts(self) -> Counter[str]:
        """Statements sent, by name."""
        return Counter(n for n, _ in self.sent)

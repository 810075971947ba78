"""The event model: record types, their fields, and the direction of influence.

This module is the single source of truth for what KOC Graph ingests. The
validator, the stores, the generator and the docs (``docs/events.md``) all read
these definitions.

Record types
------------
``user``
    ``user_id``, ``role`` (employee | kol | consumer | unknown), ``display_name``,
    ``store_id``, ``channel``, ``created_at``, ``attrs`` (free JSON object),
    optional ``phone_hash`` / ``device_hash`` (already hashed by the brand).
``share``
    ``sharer`` shared ``content_id`` on ``channel`` at ``ts``.
``view``
    ``viewer`` opened a share of ``content_id`` by ``sharer``.
``forward``
    ``forwarder`` passed on ``content_id`` first shared or forwarded by ``from_user``.
``comment``
    ``commenter`` commented on ``on_user``'s ``content_id``.
``referral``
    ``referee`` signed up through ``referrer``'s invite (``campaign``).
``order``
    ``order_id`` bought by ``buyer`` for ``amount`` ``currency`` at ``ts``, with an
    optional ``attribution_token`` (a share's ``content_id`` or a referral code).
``refund``
    ``amount`` of ``order_id`` refunded at ``ts`` (partial refunds allowed).

Direction of influence
----------------------
Every metric relies on one convention, written down here and only here:
**an edge points from the influencer to the influenced user.**

============  =====================  ========================  ==============================
type          influencer (``src``)   influenced (``dst``)      reading
============  =====================  ========================  ==============================
view          ``sharer``             ``viewer``                the sharer's share reached the viewer
forward       ``from_user``          ``forwarder``             B's content made A pass it on
comment       ``on_user``            ``commenter``             B's content drew A's comment
referral      ``referrer``           ``referee``               the referrer brought the referee in
============  =====================  ========================  ==============================

``share`` has an actor but no second user (``src`` = sharer, no ``dst``); orders
and refunds are not edges. PageRank is therefore run on the *reversed* influence
graph (influenced -> influencer), so that score flows to the people who influence
others; see :mod:`influence`.

Event ids
---------
Every record has a stable ``event_id``: the given one, or, when absent, an id
derived deterministically from the record's canonical content
(:func:`canonical_key_fields`), so the same row always gets the same id and
re-ingesting a file inserts nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "EventType",
    "Role",
    "FieldSpec",
    "RecordSpec",
    "RECORD_SPECS",
    "EDGE_TYPES",
    "EDGE_TYPE_CODES",
    "INFLUENCE_DIRECTION",
    "canonical_key_fields",
]


class EventType(StrEnum):
    """Every record type KOC Graph ingests."""

    USER = "user"
    SHARE = "share"
    VIEW = "view"
    FORWARD = "forward"
    COMMENT = "comment"
    REFERRAL = "referral"
    ORDER = "order"
    REFUND = "refund"


class Role(StrEnum):
    """The three kinds of people brands manage, plus ``unknown``."""

    EMPLOYEE = "employee"
    KOL = "kol"
    CONSUMER = "consumer"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class FieldSpec:
    """One field of a record.

    ``kind`` is one of ``"id"`` (non-empty string, at most 128 chars), ``"text"``
    (string, at most 1024 chars), ``"ts"`` (timezone-aware ISO-8601 or epoch
    seconds/milliseconds), ``"money"`` (decimal string, >= 0), ``"currency"``
    (ISO-4217 code), ``"role"`` or ``"json"`` (a JSON object).
    """

    name: str
    kind: str
    required: bool = True


@dataclass(frozen=True)
class RecordSpec:
    """The fields of one record type and, for edge types, who influences whom."""

    type: EventType
    fields: tuple[FieldSpec, ...]
    #: field naming the influencer (edge source) / influenced user (edge target)
    src: str | None = None
    dst: str | None = None

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _f(name: str, kind: str, required: bool = True) -> FieldSpec:
    return FieldSpec(name, kind, required)


RECORD_SPECS: dict[EventType, RecordSpec] = {
    EventType.USER: RecordSpec(
        EventType.USER,
        (
            _f("user_id", "id"),
            _f("role", "role", False),
            _f("display_name", "text", False),
            _f("store_id", "id", False),
            _f("channel", "text", False),
            _f("created_at", "ts", False),
            _f("attrs", "json", False),
            _f("phone_hash", "id", False),
            _f("device_hash", "id", False),
        ),
    ),
    EventType.SHARE: RecordSpec(
        EventType.SHARE,
        (_f("sharer", "id"), _f("content_id", "id"), _f("channel", "text", False), _f("ts", "ts")),
        src="sharer",
    ),
    EventType.VIEW: RecordSpec(
        EventType.VIEW,
        (
            _f("viewer", "id"),
            _f("sharer", "id"),
            _f("content_id", "id"),
            _f("channel", "text", False),
            _f("ts", "ts"),
        ),
        src="sharer",
        dst="viewer",
    ),
    EventType.FORWARD: RecordSpec(
        EventType.FORWARD,
        (
            _f("forwarder", "id"),
            _f("from_user", "id"),
            _f("content_id", "id"),
            _f("channel", "text", False),
            _f("ts", "ts"),
        ),
        src="from_user",
        dst="forwarder",
    ),
    EventType.COMMENT: RecordSpec(
        EventType.COMMENT,
        (
            _f("commenter", "id"),
            _f("on_user", "id"),
            _f("content_id", "id"),
            _f("channel", "text", False),
            _f("ts", "ts"),
        ),
        src="on_user",
        dst="commenter",
    ),
    EventType.REFERRAL: RecordSpec(
        EventType.REFERRAL,
        (_f("referrer", "id"), _f("referee", "id"), _f("campaign", "text", False), _f("ts", "ts")),
        src="referrer",
        dst="referee",
    ),
    EventType.ORDER: RecordSpec(
        EventType.ORDER,
        (
            _f("order_id", "id"),
            _f("buyer", "id"),
            _f("amount", "money"),
            _f("currency", "currency"),
            _f("ts", "ts"),
            _f("attribution_token", "id", False),
            _f("store_id", "id", False),
        ),
        src="buyer",
    ),
    EventType.REFUND: RecordSpec(
        EventType.REFUND,
        (
            _f("order_id", "id"),
            _f("amount", "money"),
            _f("ts", "ts"),
            _f("refund_id", "id", False),
        ),
    ),
}

#: Edge types (a record with two users), in the order of their integer codes.
EDGE_TYPES: tuple[EventType, ...] = (
    EventType.VIEW,
    EventType.FORWARD,
    EventType.COMMENT,
    EventType.REFERRAL,
)
#: Stable small-integer code of each edge type, as stored in snapshot arrays.
EDGE_TYPE_CODES: dict[EventType, int] = {t: i for i, t in enumerate(EDGE_TYPES)}

#: ``{type: (influencer field, influenced field)}``: the one statement of influence direction.
INFLUENCE_DIRECTION: dict[EventType, tuple[str, str]] = {
    t: (RECORD_SPECS[t].src, RECORD_SPECS[t].dst)  # type: ignore[misc]
    for t in EDGE_TYPES
}


def canonical_key_fields(event_type: EventType) -> tuple[str, ...]:
    """Fields whose canonical values define a derived ``event_id``.

    The derived id is ``md5(type || 0x1f || v1 || 0x1f || v2 ...)`` over these
    fields in this order, with timestamps normalised to UTC epoch microseconds
    and amounts to their canonical decimal string. ``user`` records are keyed by
    ``user_id`` alone (a later row for the same user updates it).
    """
    if event_type is EventType.USER:
        return ("user_id",)
    return RECORD_SPECS[event_type].names

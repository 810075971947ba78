"""Fraud checks that put commission entries on hold.

Each check is a pure function of the users and referral events and returns
*flags* (:data:`FLAG_SCHEMA`): ``kind``, ``user_id``, optional ``other_id`` and a
human-readable ``detail``. :mod:`referral.attribution` turns flags into ``held``
transitions (with the detail as the reason) on the entries they concern:

``cycle``
    the user lies on a referral cycle of any length (A -> B -> C -> A): a strongly
    connected component with two or more members of the referral graph (Tarjan 1972,
    via :func:`scipy.sparse.csgraph.connected_components`). Held: entries whose
    beneficiary is flagged.
``ring``
    accounts that share a device or phone hash (connected components of the
    user-identifier bipartite graph) *and* refer each other: connected components
    of the referral edges inside one identity cluster, of at least
    ``ring_min_size`` accounts. Held: entries whose beneficiary is flagged.
``velocity``
    a referrer-day whose new referees reach ``max(velocity_min_per_day,
    velocity_factor * q)``, ``q`` being the ``velocity_percentile`` (default 95th)
    percentile of referees per referrer-day over all referrers and days (the peers). Held: the level-1
    referral entries of that referrer on those referees.
``self_referral`` (checked per entry, not here)
    buyer and beneficiary are the same user, or share a phone or device hash.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from graph.arrays import US_PER_DAY, micros, node_index
from referral.rules import FraudRule

__all__ = [
    "FLAG_SCHEMA",
    "detect_flags",
    "referral_cycles",
    "shared_identity_rings",
    "velocity_flags",
]

FLAG_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("user_id", pa.string()),
        ("other_id", pa.string()),
        ("detail", pa.string()),
    ]
)


def _empty() -> pa.Table:
    return FLAG_SCHEMA.empty_table()


def _members_text(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _group_flags(
    kind: str, labels: np.ndarray, vocab: np.ndarray, keep: np.ndarray, what: str
) -> pa.Table:
    """One flag per member of each kept group (``labels`` per vocabulary entry)."""
    users, details = [], []
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return _empty()
    order = idx[np.lexsort((vocab[idx].astype(str), labels[idx]))]
    groups = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    for g in groups:  # loop over flagged groups (few), not over events
        names = sorted(vocab[g].tolist())
        text = f"{what.format(n=len(names))}: {_members_text(names)}"
        users.extend(names)
        details.extend([text] * len(names))
    return pa.table(
        {
            "kind": [kind] * len(users),
            "user_id": users,
            "other_id": [None] * len(users),
            "detail": details,
        },
        schema=FLAG_SCHEMA,
    )


def referral_cycles(referrals: pa.Table) -> pa.Table:
    """Users on referral cycles of any length.

    Parameters
    ----------
    referrals : pyarrow.Table
        Columns ``referrer`` and ``referee`` (self-referrals are ignored here).

    Returns
    -------
    pyarrow.Table
        :data:`FLAG_SCHEMA` rows of kind ``cycle``, one per user on a cycle.

    Notes
    -----
    Strongly connected components (Tarjan, "Depth-first search and linear graph
    algorithms", SIAM J. Comput. 1972); any component of two or more users holds
    a directed cycle through all of them.
    """
    if referrals.num_rows == 0:
        return _empty()
    src, dst = referrals.column("referrer"), referrals.column("referee")
    vocab = pc.unique(pa.concat_arrays([src.combine_chunks(), dst.combine_chunks()]))
    s, d = node_index(vocab, src), node_index(vocab, dst)
    keep = s != d
    n = len(vocab)
    graph = coo_matrix(
        (np.ones(int(keep.sum()), dtype=np.int8), (s[keep], d[keep])), shape=(n, n)
    ).tocsr()
    _, labels = connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(labels)
    return _group_flags(
        "cycle",
        labels,
        np.asarray(vocab.to_pylist(), dtype=object),
        sizes[labels] >= 2,
        "referral cycle of {n} accounts",
    )


def shared_identity_rings(users: pa.Table, referrals: pa.Table, min_size: int = 2) -> pa.Table:
    """Rings: accounts that share a phone or device hash and refer each other.

    Parameters
    ----------
    users : pyarrow.Table
        Columns ``user_id``, ``phone_hash``, ``device_hash`` (nullable).
    referrals : pyarrow.Table
        Columns ``referrer``, ``referee``.
    min_size : int
        Smallest ring reported.

    Returns
    -------
    pyarrow.Table
        :data:`FLAG_SCHEMA` rows of kind ``ring``.
    """
    if users.num_rows == 0 or referrals.num_rows == 0:
        return _empty()
    uid = users.column("user_id").combine_chunks()
    n = len(uid)
    # bipartite graph user -- identifier ("p:" phone, "d:" device)
    parts_u, parts_i = [], []
    for col, tag in (("phone_hash", "p:"), ("device_hash", "d:")):
        vals = users.column(col).combine_chunks()
        ok = pc.is_valid(vals)
        parts_u.append(np.flatnonzero(ok.to_numpy(zero_copy_only=False)))
        parts_i.append(pc.binary_join_element_wise(tag, pc.filter(vals, ok), ""))
    ident = pa.concat_arrays([a.cast(pa.string()) for a in parts_i])
    if len(ident) == 0:
        return _empty()
    ivocab = pc.unique(ident)
    icode = node_index(ivocab, ident) + n
    ucode = np.concatenate(parts_u)
    m = n + len(ivocab)
    g = coo_matrix((np.ones(len(ucode), dtype=np.int8), (ucode, icode)), shape=(m, m))
    _, ident_label = connected_components(g, directed=False)
    # referral edges inside one identity cluster (both ends known users)
    s, d = (
        node_index(uid, referrals.column("referrer")),
        node_index(uid, referrals.column("referee")),
    )
    ok = (s >= 0) & (d >= 0) & (s != d)
    s, d = s[ok], d[ok]
    inside = ident_label[s] == ident_label[d]
    s, d = s[inside], d[inside]
    if s.size == 0:
        return _empty()
    rg = coo_matrix((np.ones(s.size, dtype=np.int8), (s, d)), shape=(n, n))
    _, ring_label = connected_components(rg, directed=False)
    in_ring = np.zeros(n, dtype=bool)
    in_ring[s] = True
    in_ring[d] = True
    sizes = np.bincount(ring_label[in_ring], minlength=n)
    keep = in_ring & (sizes[ring_label] >= min_size)
    return _group_flags(
        "ring",
        ring_label,
        np.asarray(uid.to_pylist(), dtype=object),
        keep,
        "ring of {n} accounts sharing a device or phone and referring each other",
    )


def velocity_flags(
    referrals: pa.Table, *, min_per_day: int = 10, factor: float = 5.0, percentile: float = 95.0
) -> pa.Table:
    """Referral pairs made on a referrer's anomalous days.

    A referrer-day (UTC day) is anomalous when its number of distinct new referees
    reaches ``max(min_per_day, factor * q)``, ``q`` being the ``percentile``-th
    percentile of that count over all referrer-days with at least one referral.

    Returns
    -------
    pyarrow.Table
        :data:`FLAG_SCHEMA` rows of kind ``velocity``: ``user_id`` the referrer,
        ``other_id`` the referee.
    """
    if referrals.num_rows == 0:
        return _empty()
    src = referrals.column("referrer").combine_chunks()
    dst = referrals.column("referee").combine_chunks()
    vocab = pc.unique(pa.concat_arrays([src, dst]))
    s, d = node_index(vocab, src), node_index(vocab, dst)
    day = micros(referrals.column("ts")) // US_PER_DAY
    # distinct (referrer, day, referee) triples, then referees per referrer-day
    # distinct (referrer, day, referee) triples, then referees per referrer-day, on one
    # int64 key per triple (sorting one key is far faster than np.unique(axis=0))
    n, day0 = len(vocab), int(day.min())
    span = int(day.max()) - day0 + 1
    if float(n) * n * span >= 2.0**62:  # key would overflow: slower row-wise unique
        rows3 = np.unique(np.stack([s * span + (day - day0), d], axis=1), axis=0)
        pair_of, referee = rows3[:, 0], rows3[:, 1]
    else:
        trip_key = np.unique((s * span + (day - day0)) * n + d)
        pair_of, referee = trip_key // n, trip_key % n
    _, inv, counts = np.unique(pair_of, return_inverse=True, return_counts=True)
    trip = np.stack([pair_of // span, pair_of % span + day0, referee], axis=1)
    q = float(np.percentile(counts, percentile))
    threshold = max(float(min_per_day), factor * q)
    bad = counts >= threshold
    if not bad.any():
        return _empty()
    rows = trip[bad[inv.ravel()]]
    names = np.asarray(vocab.to_pylist(), dtype=object)
    day_text = np.datetime_as_string(rows[:, 1].astype("datetime64[D]"))
    cnt = counts[inv.ravel()][bad[inv.ravel()]]
    details = [
        f"velocity: referrer {names[r]} gained {c} referees on {t} (threshold {threshold:g} = "
        f"max({min_per_day}, {factor:g} x p{percentile:g} {q:g} of all referrer-days))"
        for r, c, t in zip(rows[:, 0], cnt, day_text, strict=True)
    ]
    return pa.table(
        {
            "kind": ["velocity"] * len(rows),
            "user_id": names[rows[:, 0]].tolist(),
            "other_id": names[rows[:, 2]].tolist(),
            "detail": details,
        },
        schema=FLAG_SCHEMA,
    )


def detect_flags(users: pa.Table, referrals: pa.Table, rule: FraudRule) -> pa.Table:
    """All enabled checks of ``rule`` over the users and referral events.

    Returns
    -------
    pyarrow.Table
        :data:`FLAG_SCHEMA`, sorted by kind, user and other user.
    """
    parts = [_empty()]
    if rule.cycles:
        parts.append(referral_cycles(referrals))
    if rule.rings:
        parts.append(shared_identity_rings(users, referrals, rule.ring_min_size))
    if rule.velocity:
        parts.append(
            velocity_flags(
                referrals,
                min_per_day=rule.velocity_min_per_day,
                factor=rule.velocity_factor,
                percentile=rule.velocity_percentile,
            )
        )
    out = pa.concat_tables(parts)
    return out.sort_by([("kind", "ascending"), ("user_id", "ascending"), ("other_id", "ascending")])

"""Evidence that a user *caused* purchases: attributed orders weighed by how much they prove.

Attribution (:func:`influence.engagement.attribute_orders`) names one user per order;
this module asks how strongly each such credit shows that the user caused the order,
and what must not count at all. Per credited order :math:`o` (buyer :math:`b`,
credited user :math:`u`, net amount :math:`g_o` after refunds):

* **strength** :math:`s_o`: an explicit token (share content id or referral code) on
  a *new* purchase (the buyer placed no order in the previous ``new_buyer_days``)
  ``token_new`` (1.0); a token on a repeat purchase ``token_repeat`` (0.4); the last
  view inside the window ``view`` (0.1); the referral window ``referral`` (0.05);
  credit through a referral (code or window) between two users with no other
  interaction (no view, forward or comment between them in either direction) is
  multiplied by ``untied_code`` (0.3): influence travels along existing ties (Aral
  and Walker, Science 2012), an invitation to a stranger is what coupon hunters send;
* **no credit** (:math:`s_o = 0`) for the *staff channel* (an order carrying a
  ``store_id`` credited through a referral code: a sales guide keying their code
  into a till) and for *collusion*: the buyer shares a device or phone with
  :math:`u`, or :math:`u` and :math:`b` credit each other (buy through each other's
  links);
* per user, **distinct buyers** :math:`B_u = \\sum_b \\max_{o \\in (u, b)} s_o` and
  evidence GMV :math:`G_u = \\sum_o s_o \\, g_o`;
* **shrinkage** of the value per buyer toward the population mean
  :math:`\\bar m = \\sum G / \\sum B` (credibility weighting, Bühlmann 1967; the
  empirical-Bayes estimate of a mean from :math:`B_u` observations):

  .. math:: \\hat C_u = B_u \\cdot \\frac{G_u + k \\bar m}{B_u + k}

  so one large order of one buyer does not outrank many buyers (``buyer_prior`` =
  :math:`k`, default 1).

A user is flagged **staff channel** when at least ``staff_min_orders`` of their
credited orders, and at least ``staff_store_share`` of them, are staff-channel
orders; **collusion** when at least ``collusion_min_orders`` credited orders are
collusive. All
vectorised (sorts and ``bincount``), no loop over orders.
"""

from __future__ import annotations

import numpy as np

from graph.arrays import US_PER_DAY
from influence.config import EvidenceSection
from influence.engagement import RULE_REFERRAL, RULE_TOKEN, RULE_VIEW

__all__ = [
    "EvidenceSection",
    "new_purchases",
    "collusive_orders",
    "tied_orders",
    "conversion_evidence",
    "finish_evidence",
    "EVIDENCE_RULES",
]

#: Rule names of the per-rule breakdown, in report order.
EVIDENCE_RULES: tuple[str, ...] = ("token", "code", "view", "referral")


def new_purchases(buyer: np.ndarray, ts: np.ndarray, gap_us: int) -> np.ndarray:
    """Whether each order is the buyer's first in the preceding ``gap_us`` microseconds.

    Orders of the same buyer at the same instant: the first in input order is new.
    """
    buyer = np.asarray(buyer, dtype=np.int64)
    ts = np.asarray(ts, dtype=np.int64)
    out = np.ones(buyer.shape[0], dtype=bool)
    if buyer.shape[0] < 2:
        return out
    order = np.lexsort((np.arange(buyer.shape[0]), ts, buyer))
    same = buyer[order[1:]] == buyer[order[:-1]]
    recent = same & (ts[order[1:]] - ts[order[:-1]] <= gap_us)
    out[order[1:]] = ~recent
    return out


def collusive_orders(
    buyer: np.ndarray, credited: np.ndarray, device: np.ndarray, phone: np.ndarray
) -> np.ndarray:
    """Orders whose buyer shares a device or phone with the credited user, or who credit
    each other (the credited user also bought through the buyer's link or code).

    ``device`` and ``phone`` are integer codes per node, 0 (or negative) for unknown.
    """
    buyer = np.asarray(buyer, dtype=np.int64)
    credited = np.asarray(credited, dtype=np.int64)
    out = np.zeros(buyer.shape[0], dtype=bool)
    hit = (credited >= 0) & (buyer >= 0)
    if not hit.any():
        return out
    b, c = buyer[hit], credited[hit]
    same = np.zeros(b.shape[0], dtype=bool)
    for code in (np.asarray(device, dtype=np.int64), np.asarray(phone, dtype=np.int64)):
        same |= (code[b] > 0) & (code[b] == code[c])
    n = int(max(b.max(), c.max())) + 1
    forward = np.unique(c * n + b)
    backward = b * n + c
    pos = np.minimum(np.searchsorted(forward, backward), forward.shape[0] - 1)
    same |= forward[pos] == backward
    out[hit] = same
    return out


def tied_orders(
    buyer: np.ndarray, credited: np.ndarray, tie_src: np.ndarray, tie_dst: np.ndarray
) -> np.ndarray:
    """Whether buyer and credited user of each order share an interaction edge (any direction)."""
    buyer = np.asarray(buyer, dtype=np.int64)
    credited = np.asarray(credited, dtype=np.int64)
    out = np.zeros(buyer.shape[0], dtype=bool)
    a, b = np.asarray(tie_src, dtype=np.int64), np.asarray(tie_dst, dtype=np.int64)
    hit = (credited >= 0) & (buyer >= 0)
    if a.shape[0] == 0 or not hit.any():
        return out
    n = int(max(a.max(), b.max(), buyer.max(), credited.max())) + 1
    x, y = buyer[hit], credited[hit]
    # only ties between two users who meet in some order can match: filter before sorting
    # (sorting every tie of the graph was most of the evidence step at 1M users)
    involved = np.zeros(n, dtype=bool)
    involved[x] = True
    involved[y] = True
    near = involved[a] & involved[b]
    a, b = a[near], b[near]
    if a.shape[0] == 0:
        return out
    ties = np.sort(np.minimum(a, b) * n + np.maximum(a, b))
    q = np.minimum(x, y) * n + np.maximum(x, y)
    pos = np.minimum(np.searchsorted(ties, q), ties.shape[0] - 1)
    out[hit] = ties[pos] == q
    return out


def _distinct_weighted(
    user: np.ndarray, buyer: np.ndarray, weight: np.ndarray, n: int
) -> np.ndarray:
    """Per user, the sum over distinct buyers of the largest weight of their pair."""
    if user.shape[0] == 0:
        return np.zeros(n, dtype=np.float64)
    key = user * np.int64(max(1, int(buyer.max()) + 1)) + buyer
    order = np.lexsort((-weight, key))
    first = np.ones(order.shape[0], dtype=bool)
    first[1:] = key[order[1:]] != key[order[:-1]]
    pick = order[first]
    return np.bincount(user[pick], weights=weight[pick], minlength=n)


def conversion_evidence(
    n_nodes: int,
    *,
    buyer: np.ndarray,
    ts: np.ndarray,
    net_units: np.ndarray,
    gross_units: np.ndarray,
    credited: np.ndarray,
    rule: np.ndarray,
    via_code: np.ndarray,
    has_store: np.ndarray,
    device: np.ndarray,
    phone: np.ndarray,
    tie_src: np.ndarray | None = None,
    tie_dst: np.ndarray | None = None,
    weights: EvidenceSection | None = None,
) -> dict[str, np.ndarray]:
    """Evidence of caused conversions per user (module docstring).

    Parameters
    ----------
    n_nodes : int
    buyer, ts : numpy.ndarray of int64
        Buyer node index (-1 unknown) and time (epoch microseconds) of each order.
    net_units, gross_units : numpy.ndarray of int64
        Amount after refunds and amount (exact units of 10**-4).
    credited, rule : numpy.ndarray
        From :class:`influence.engagement.Attribution`.
    via_code : numpy.ndarray of bool
        The token rule matched a referral code (not a share's content id).
    has_store : numpy.ndarray of bool
        The order carries a ``store_id``.
    device, phone : numpy.ndarray of int64
        Identity codes per node (0 = unknown).
    tie_src, tie_dst : numpy.ndarray, optional
        Interaction edges other than referrals (views, forwards, comments); without
        them no referral credit is discounted as untied.
    weights : EvidenceSection, optional
        ``[evidence]`` of the scoring configuration (default: its defaults).

    Returns
    -------
    dict of str to numpy.ndarray
        ``estimate`` (shrunk evidence GMV, currency units of 10**-4 as float),
        ``evidence_buyers``, ``evidence_gmv_units``; per rule ``r`` of
        :data:`EVIDENCE_RULES`: ``buyers_r`` (distinct buyers) and ``gmv_r_units``
        (exact net GMV); ``refund_share`` (refunded / gross of credited orders),
        ``staff_orders``, ``collusive_orders``, ``staff_channel`` and ``collusion``
        (bool flags).
    """
    w = weights or EvidenceSection()
    buyer = np.asarray(buyer, dtype=np.int64)
    credited = np.asarray(credited, dtype=np.int64)
    rule = np.asarray(rule)
    net = np.asarray(net_units, dtype=np.int64)
    gross = np.asarray(gross_units, dtype=np.int64)
    via_code = np.asarray(via_code, dtype=bool)
    hit = (credited >= 0) & (buyer >= 0)
    new = new_purchases(buyer, ts, int(w.new_buyer_days * US_PER_DAY))
    strength = np.zeros(buyer.shape[0], dtype=np.float64)
    token = rule == RULE_TOKEN
    strength[token] = np.where(new[token], w.token_new, w.token_repeat)
    strength[rule == RULE_VIEW] = w.view
    strength[rule == RULE_REFERRAL] = w.referral
    if tie_src is not None and tie_dst is not None:
        untied = ((token & via_code) | (rule == RULE_REFERRAL)) & ~tied_orders(
            buyer, credited, tie_src, tie_dst
        )
        strength[untied] *= w.untied_code
    staff = hit & token & via_code & np.asarray(has_store, dtype=bool)
    collusive = collusive_orders(buyer, credited, device, phone)
    strength[staff | collusive | ~hit] = 0.0

    u, b = credited[hit], buyer[hit]
    out: dict[str, np.ndarray] = {}
    kinds = {
        "token": token & ~via_code,
        "code": token & via_code,
        "view": rule == RULE_VIEW,
        "referral": rule == RULE_REFERRAL,
    }
    for name, mask in kinds.items():
        m = mask[hit]
        out[f"buyers_{name}"] = _distinct_weighted(u[m], b[m], np.ones(int(m.sum())), n_nodes)
        gmv = np.zeros(n_nodes, dtype=np.int64)
        np.add.at(gmv, u[m], net[hit][m])
        out[f"gmv_{name}_units"] = gmv
    s = strength[hit]
    out["evidence_buyers"] = _distinct_weighted(u[s > 0], b[s > 0], s[s > 0], n_nodes)
    out["evidence_gmv_units"] = np.bincount(u, weights=s * net[hit], minlength=n_nodes)
    sums = {
        **out,
        "gross_units": np.bincount(u, weights=gross[hit], minlength=n_nodes),
        "net_units": np.bincount(u, weights=net[hit], minlength=n_nodes),
        "orders": np.bincount(u, minlength=n_nodes),
        "staff_orders": np.bincount(credited[staff], minlength=n_nodes),
        "collusive_orders": np.bincount(credited[collusive], minlength=n_nodes),
    }
    return finish_evidence(sums, w)


def finish_evidence(sums: dict[str, np.ndarray], weights: EvidenceSection) -> dict[str, np.ndarray]:
    """The per-user evidence from its per-user sums (shared by both ranking engines).

    :func:`conversion_evidence` computes the sums from arrays; the Spark engine
    (:func:`influence.spark.evidence_sums`) computes the same sums with DataFrames and
    hands them here, so the shrinkage (whose mean is over all users), the refund share
    and the flags have one definition.

    Parameters
    ----------
    sums : dict of str to numpy.ndarray
        Per user: ``evidence_buyers`` (float, summed in ascending buyer order),
        ``evidence_gmv_units`` (float, summed in order of the orders), ``gross_units``,
        ``net_units``, ``orders``, ``staff_orders``, ``collusive_orders`` of credited
        orders, and ``buyers_<rule>`` / ``gmv_<rule>_units`` per rule of
        :data:`EVIDENCE_RULES`.
    weights : EvidenceSection

    Returns
    -------
    dict of str to numpy.ndarray
        As :func:`conversion_evidence`.
    """
    out: dict[str, np.ndarray] = {}
    for r in EVIDENCE_RULES:
        out[f"buyers_{r}"] = np.asarray(sums[f"buyers_{r}"], dtype=np.float64)
        out[f"gmv_{r}_units"] = np.asarray(sums[f"gmv_{r}_units"], dtype=np.int64)
    B = np.asarray(sums["evidence_buyers"], dtype=np.float64)
    G = np.asarray(sums["evidence_gmv_units"], dtype=np.float64)
    mean = float(G.sum() / B.sum()) if B.sum() > 0 else 0.0
    k = weights.buyer_prior
    out["estimate"] = np.where(B > 0, B * (G + k * mean) / np.maximum(B + k, 1e-12), 0.0)
    out["evidence_buyers"] = B
    out["evidence_gmv_units"] = G
    g_tot = np.asarray(sums["gross_units"], dtype=np.float64)
    n_tot = np.asarray(sums["net_units"], dtype=np.float64)
    out["refund_share"] = np.where(g_tot > 0, 1.0 - n_tot / np.maximum(g_tot, 1), 0.0)
    orders = np.asarray(sums["orders"], dtype=np.int64)
    out["staff_orders"] = np.asarray(sums["staff_orders"], dtype=np.int64)
    out["collusive_orders"] = np.asarray(sums["collusive_orders"], dtype=np.int64)
    out["staff_channel"] = (out["staff_orders"] >= weights.staff_min_orders) & (
        out["staff_orders"] >= weights.staff_store_share * np.maximum(orders, 1)
    )
    out["collusion"] = out["collusive_orders"] >= weights.collusion_min_orders
    return out

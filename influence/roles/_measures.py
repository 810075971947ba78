"""Role-specific measures: what sales guides, KOLs and consumers each bring.

Pure functions over edge arrays and per-node vectors (index = node index);
money enters and leaves as exact int64 units of ``10**-4`` (the store's
``DECIMAL(20, 4)``) and is turned into Arrow ``decimal128(20, 4)`` only at the
end, so no float ever touches a GMV figure. Averages and rates (average order
value, repeat rate, uplift, Jaccard) are statistics and are floats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from graph.events import EDGE_TYPE_CODES, EventType, Role
from graph.money import UNITS_PER_CURRENCY_UNIT, from_units
from influence.roles._features import EdgeLike, audience_pattern, neighbour_pattern

__all__ = [
    "customer_stats",
    "EmployeeMeasures",
    "employee_measures",
    "kol_measures",
    "audience_overlap",
    "CUSTOMER_ROLES",
]

#: Roles counted as customers when measuring employees.
CUSTOMER_ROLES: tuple[str, ...] = (Role.CONSUMER.value, Role.UNKNOWN.value)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(num), np.nan, dtype=np.float64)
    np.divide(num, den, out=out, where=np.asarray(den) > 0)
    return out


def customer_stats(
    members: sp.csr_matrix, orders: np.ndarray, net_units: np.ndarray
) -> dict[str, np.ndarray]:
    """Average order value and repeat rate of the customers in each row of ``members``.

    Parameters
    ----------
    members : scipy.sparse.csr_matrix
        0/1 matrix, row = group (an employee, a store), column = node.
    orders, net_units : numpy.ndarray
        Orders and net spend (units of ``10**-4``) per node.

    Returns
    -------
    dict
        ``customers`` (members), ``buyers`` (members with an order), ``aov``
        (sum of spend / sum of orders, in currency units), ``repeat_rate``
        (buyers with two or more orders / buyers); NaN where a group has no buyer.
    """
    orders = np.asarray(orders, dtype=np.float64)
    spend = np.asarray(net_units, dtype=np.float64) / UNITS_PER_CURRENCY_UNIT
    m = members.tocsr().astype(np.float64)
    buyers = m @ (orders > 0).astype(np.float64)
    return {
        "customers": np.diff(m.indptr).astype(np.int64),
        "buyers": buyers.astype(np.int64),
        "aov": _ratio(m @ spend, m @ orders),
        "repeat_rate": _ratio(m @ (orders >= 2).astype(np.float64), buyers),
    }


def _rows(n_rows: int, n_cols: int, rows: np.ndarray, cols: np.ndarray) -> sp.csr_matrix:
    m = sp.csr_matrix(
        (np.ones(rows.shape[0]), (rows, cols)), shape=(n_rows, n_cols), dtype=np.float64
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


@dataclass(frozen=True)
class EmployeeMeasures:
    """Per-employee and per-store results, and the overall comparison."""

    employees: pa.Table
    stores: pa.Table
    overall: dict[str, float]


def employee_measures(
    edges: EdgeLike,
    roles: np.ndarray,
    *,
    store: np.ndarray,
    orders: np.ndarray,
    net_units: np.ndarray,
    attributed_orders: np.ndarray,
    attributed_units: np.ndarray,
) -> EmployeeMeasures:
    """What each sales guide brings: customers, referrals, attributed GMV and uplift.

    Parameters
    ----------
    edges : graph.snapshot.GraphSnapshot or graph.store.EdgeArrays
        Influence edges with ``node_ids``.
    roles : numpy.ndarray of str
        Effective role of every node.
    store : numpy.ndarray of object
        Store id of every node (the employee's store; the customer's home
        store), None when unknown.
    orders, net_units : numpy.ndarray
        Each node's own orders and net spend (int64 units of ``10**-4``).
    attributed_orders, attributed_units : numpy.ndarray
        Orders and net GMV credited to each node by attribution.

    Returns
    -------
    EmployeeMeasures
        ``employees``: ``user_id``, ``store_id``, ``connected_customers``
        (distinct customers with an edge to or from the employee),
        ``referred_customers`` (distinct referees), ``referred_gmv`` (their net
        spend in the window), ``attributed_orders``, ``attributed_gmv``, ``connected_buyers``, ``connected_aov``,
        ``connected_repeat_rate``, ``baseline_aov``, ``baseline_repeat_rate``,
        ``aov_uplift`` and ``repeat_uplift``. ``stores``: the same per store
        (customers counted once per store). ``overall``: connected versus
        unconnected customers over all stores.

    Notes
    -----
    The comparable group of an employee is the customers **of the same store**
    who are connected to no employee at all; ``uplift = connected / baseline - 1``.
    This is an observational contrast, not a causal effect: customers who
    befriend a sales guide may already be keener buyers.
    """
    node_ids = np.asarray(edges.node_ids, dtype=object)
    n = node_ids.shape[0]
    roles = np.asarray(roles, dtype=object)
    store = np.asarray(store, dtype=object)
    is_emp = roles == Role.EMPLOYEE.value
    is_cust = np.isin(roles, CUSTOMER_ROLES)
    emp = np.flatnonzero(is_emp)
    sym = neighbour_pattern(edges)
    cust_mask = sp.diags(is_cust.astype(np.float64))
    conn = (sym[emp] @ cust_mask).tocsr()
    conn.eliminate_zeros()
    connected_any = np.asarray(conn.sum(axis=0)).ravel() > 0
    ref = audience_pattern(edges, (EventType.REFERRAL,))[emp] @ cust_mask
    ref = sp.csr_matrix(ref)
    ref.eliminate_zeros()

    # stores: employees' stores first, then customers' home stores
    store_key = np.where(store == None, "", store).astype(str)  # noqa: E711
    names, code = np.unique(store_key, return_inverse=True)
    n_st = names.shape[0]
    unconnected = np.flatnonzero(is_cust & ~connected_any & (store_key != ""))
    base = customer_stats(_rows(n_st, n, code[unconnected], unconnected), orders, net_units)
    all_unconn = np.flatnonzero(is_cust & ~connected_any)
    glob = customer_stats(
        _rows(1, n, np.zeros(all_unconn.size, np.int64), all_unconn), orders, net_units
    )
    all_conn = np.flatnonzero(connected_any)
    glob_c = customer_stats(
        _rows(1, n, np.zeros(all_conn.size, np.int64), all_conn), orders, net_units
    )

    per = customer_stats(conn, orders, net_units)
    e_code = code[emp]
    b_aov = base["aov"][e_code]
    b_rep = base["repeat_rate"][e_code]
    b_aov = np.where(np.isnan(b_aov), glob["aov"][0], b_aov)
    b_rep = np.where(np.isnan(b_rep), glob["repeat_rate"][0], b_rep)
    employees = pa.table(
        {
            "user_id": pa.array(node_ids[emp], pa.string()),
            "store_id": pa.array([None if s == "" else s for s in store_key[emp]], pa.string()),
            "connected_customers": per["customers"],
            "referred_customers": np.diff(ref.indptr).astype(np.int64),
            "attributed_orders": np.asarray(attributed_orders, dtype=np.int64)[emp],
            "attributed_gmv": from_units(np.asarray(attributed_units)[emp]),
            "referred_gmv": from_units(
                ref.astype(np.int64) @ np.asarray(net_units, dtype=np.int64)
            ),
            "connected_buyers": per["buyers"],
            "connected_aov": per["aov"],
            "connected_repeat_rate": per["repeat_rate"],
            "baseline_aov": b_aov,
            "baseline_repeat_rate": b_rep,
            "aov_uplift": _ratio(per["aov"], b_aov) - 1.0,
            "repeat_uplift": _ratio(per["repeat_rate"], b_rep) - 1.0,
        }
    )
    employees = employees.sort_by([("attributed_gmv", "descending"), ("user_id", "ascending")])

    # per-store rollup: a customer connected to two guides of one store counts once
    stores_of_emp = _rows(n_st, emp.size, e_code, np.arange(emp.size))
    st_conn = (stores_of_emp @ conn).tocsr()
    st_conn.data[:] = 1.0
    st = customer_stats(st_conn, orders, net_units)
    has_emp = np.flatnonzero(np.diff(stores_of_emp.indptr) > 0)
    n_emp = np.bincount(e_code, minlength=n_st)
    gmv_units = np.zeros(n_st, dtype=np.int64)
    np.add.at(gmv_units, e_code, np.asarray(attributed_units, dtype=np.int64)[emp])
    s_aov = np.where(np.isnan(base["aov"]), glob["aov"][0], base["aov"])
    s_rep = np.where(np.isnan(base["repeat_rate"]), glob["repeat_rate"][0], base["repeat_rate"])
    stores = pa.table(
        {
            "store_id": pa.array([None if s == "" else s for s in names[has_emp]], pa.string()),
            "employees": n_emp[has_emp].astype(np.int64),
            "connected_customers": st["customers"][has_emp],
            "attributed_gmv": from_units(gmv_units[has_emp]),
            "connected_aov": st["aov"][has_emp],
            "unconnected_aov": s_aov[has_emp],
            "aov_uplift": _ratio(st["aov"][has_emp], s_aov[has_emp]) - 1.0,
            "connected_repeat_rate": st["repeat_rate"][has_emp],
            "unconnected_repeat_rate": s_rep[has_emp],
            "repeat_uplift": _ratio(st["repeat_rate"][has_emp], s_rep[has_emp]) - 1.0,
        }
    ).sort_by([("attributed_gmv", "descending"), ("store_id", "ascending")])
    overall = {
        "employees": int(emp.size),
        "connected_customers": int(all_conn.size),
        "unconnected_customers": int(all_unconn.size),
        "connected_aov": float(glob_c["aov"][0]),
        "unconnected_aov": float(glob["aov"][0]),
        "aov_uplift": float(_ratio(glob_c["aov"], glob["aov"])[0] - 1.0),
        "connected_repeat_rate": float(glob_c["repeat_rate"][0]),
        "unconnected_repeat_rate": float(glob["repeat_rate"][0]),
        "repeat_uplift": float(_ratio(glob_c["repeat_rate"], glob["repeat_rate"])[0] - 1.0),
    }
    return EmployeeMeasures(employees=employees, stores=stores, overall=overall)


def kol_measures(
    edges: EdgeLike,
    kols: np.ndarray,
    *,
    attributed_orders: np.ndarray,
    attributed_units: np.ndarray,
    fee_units: np.ndarray | None = None,
    reach: np.ndarray | None = None,
) -> pa.Table:
    """Reach, engagement, conversion and GMV per fee of each KOL.

    Parameters
    ----------
    edges : graph.snapshot.GraphSnapshot or graph.store.EdgeArrays
        Influence edges with ``node_ids``.
    kols : numpy.ndarray of int
        Node indices of the KOLs.
    attributed_orders, attributed_units : numpy.ndarray
        Per node: credited orders and their net GMV (int64 units of ``10**-4``).
    fee_units : numpy.ndarray, optional
        Per KOL (aligned with ``kols``): contract fee in units, -1 when unknown.
    reach : numpy.ndarray, optional
        Per node multi-hop reach (e.g. HyperANF, Boldi, Rosa and Vigna 2011);
        defaults to the one-hop audience.

    Returns
    -------
    pyarrow.Table
        ``user_id``, ``audience`` (distinct users reached in one hop), ``reach``,
        ``views``, ``engagement_rate`` = (forwards + comments of the KOL's
        content) / views of it, ``conversion_rate`` = credited orders / audience,
        ``attributed_orders``, ``attributed_gmv``, ``fee``, ``gmv_per_fee`` =
        attributed GMV / fee (null without a fee); sorted by attributed GMV.
    """
    node_ids = np.asarray(edges.node_ids, dtype=object)
    n = node_ids.shape[0]
    kols = np.asarray(kols, dtype=np.int64)
    aud = np.diff(audience_pattern(edges).indptr)
    src = np.asarray(edges.src, dtype=np.int64)
    et = np.asarray(edges.etype)

    def count(t: EventType) -> np.ndarray:
        return np.bincount(src[et == EDGE_TYPE_CODES[t]], minlength=n)

    views = count(EventType.VIEW)
    engaged = count(EventType.FORWARD) + count(EventType.COMMENT)
    gmv = np.asarray(attributed_units, dtype=np.int64)[kols]
    fee = np.full(kols.size, -1, dtype=np.int64) if fee_units is None else np.asarray(fee_units)
    has_fee = fee > 0
    fee_dec = pc.if_else(pa.array(has_fee), from_units(np.maximum(fee, 0)), None)
    per_fee = np.full(kols.size, np.nan)
    per_fee[has_fee] = gmv[has_fee] / fee[has_fee]  # a ratio of two exact amounts
    reach_k = (aud if reach is None else np.asarray(reach))[kols]
    return pa.table(
        {
            "user_id": pa.array(node_ids[kols], pa.string()),
            "audience": aud[kols].astype(np.int64),
            "reach": np.asarray(reach_k, dtype=np.float64),
            "views": views[kols].astype(np.int64),
            "engagement_rate": _ratio(engaged[kols], views[kols]),
            "conversion_rate": _ratio(np.asarray(attributed_orders)[kols], aud[kols]),
            "attributed_orders": np.asarray(attributed_orders, dtype=np.int64)[kols],
            "attributed_gmv": from_units(gmv),
            "fee": fee_dec,
            "gmv_per_fee": pa.array(per_fee, from_pandas=True),
        }
    ).sort_by([("attributed_gmv", "descending"), ("user_id", "ascending")])


def audience_overlap(
    edges: EdgeLike, members: np.ndarray, *, min_shared: int = 1, limit: int | None = None
) -> pa.Table:
    """Jaccard overlap of the audiences of every pair of ``members`` (e.g. the KOLs).

    ``J(a, b) = |A ∩ B| / |A ∪ B|`` with ``A`` the distinct users ``a`` reached
    (Jaccard 1901). Intersections of all pairs come from one sparse product
    ``M Mᵀ`` of the 0/1 member-by-audience matrix ``M``.

    Returns
    -------
    pyarrow.Table
        ``user_a``, ``user_b`` (``user_a`` < ``user_b`` by node order),
        ``shared``, ``union``, ``jaccard``; pairs with at least ``min_shared``
        shared users, by decreasing Jaccard (top ``limit`` when given).
    """
    node_ids = np.asarray(edges.node_ids, dtype=object)
    members = np.sort(np.asarray(members, dtype=np.int64))
    m = audience_pattern(edges)[members].astype(np.float64)
    size = np.diff(m.indptr).astype(np.float64)
    inter = sp.triu(m @ m.T, k=1).tocoo()
    keep = inter.data >= min_shared
    a, b, shared = inter.row[keep], inter.col[keep], inter.data[keep]
    union = size[a] + size[b] - shared
    jac = shared / union
    order = np.lexsort((b, a, -jac))
    if limit is not None:
        order = order[:limit]
    return pa.table(
        {
            "user_a": pa.array(node_ids[members[a[order]]], pa.string()),
            "user_b": pa.array(node_ids[members[b[order]]], pa.string()),
            "shared": shared[order].astype(np.int64),
            "union": union[order].astype(np.int64),
            "jaccard": jac[order],
        }
    )

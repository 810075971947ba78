"""Forward cascades: how far a user's content travels when people pass it on.

A *forward* event (``forwarder`` passed on ``content_id`` received from
``from_user``) is an edge ``from_user -> forwarder`` of that content's cascade.
For every user ``u`` and every content ``c`` that ``u`` passed on (as the
original poster or as a forwarder), the cascade below ``u`` is the set of users
reachable from ``u`` along forward edges *of the same content*. Then

``size[u]``
    distinct users (``u`` excluded) in the union of ``u``'s cascades over all
    contents: how many people ``u``'s shares and forwards travelled to;
``depth[u]``
    the largest breadth-first depth of those cascades (1 = direct forwards only);
``cascades[u]``
    the number of contents ``u`` passed on that someone forwarded further.

This is the cascade size / depth of Goel, Watts and Goldstein (2012), computed
for every node of every cascade tree, with all (user, content) roots explored
at once, one breadth-first level at a time over sorted integer keys (no Python
loop over edges). When the snapshot has no content ids, all forwards are
treated as one content (plain forward reachability), which over-counts chains
that switch content; build the snapshot with ``with_content=True`` to avoid it.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np

from graph.events import EDGE_TYPE_CODES, EventType
from graph.params import Interval, validate_params
from graph.snapshot import GraphSnapshot
from influence.reach import gather_rows

__all__ = ["CascadeStats", "cascade_stats"]


@dataclass(frozen=True, eq=False)
class CascadeStats:
    """Per-user forward cascade figures of :func:`cascade_stats`, ordered like ``node_ids``.

    Attributes
    ----------
    size : numpy.ndarray of int64
        Distinct users reached through forwards of content the user passed on.
    depth : numpy.ndarray of int32
        Deepest forward level below the user (0 when nobody forwarded from them).
    cascades : numpy.ndarray of int64
        Contents the user passed on that were forwarded further.
    per_content : bool
        True when cascades were separated by content id.
    """

    size: np.ndarray
    depth: np.ndarray
    cascades: np.ndarray
    per_content: bool


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort-based; numpy's hash-based unique is slower on int64 keys)."""
    a = np.sort(a)
    return a[np.r_[True, a[1:] != a[:-1]]] if a.size else a


def _in_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``values in sorted_set`` elementwise, by binary search."""
    if sorted_set.size == 0:
        return np.zeros(values.size, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_set, values), sorted_set.size - 1)
    return sorted_set[pos] == values


@validate_params({"max_depth": [Interval(Integral, 1, None), None]})
def cascade_stats(snapshot: GraphSnapshot, *, max_depth: int | None = None) -> CascadeStats:
    """Cascade size and depth below every user, from forward events.

    Parameters
    ----------
    snapshot : GraphSnapshot
        The graph; its forward edges (``from_user -> forwarder``) are used.
        With ``snapshot.content`` set (``build_snapshot(..., with_content=True)``)
        each content's cascade is followed separately.
    max_depth : int, optional
        Stop after this many forward levels (None: follow cascades to the end;
        cycles are harmless, every user is visited once per root).

    Returns
    -------
    CascadeStats
        ``size``, ``depth`` and ``cascades`` per user.

    Raises
    ------
    ParameterError
        For ``max_depth < 1``.

    Notes
    -----
    Work and memory are proportional to the sum over (user, content) roots of
    the cascade size below them, i.e. to ``|forwards| x mean depth``.

    References
    ----------
    .. [1] S. Goel, D. J. Watts, D. G. Goldstein, "The structure of online
       diffusion networks", ACM EC 2012 (cascade size and depth).
    .. [2] J. Leskovec, L. Adamic, B. Huberman, "The dynamics of viral
       marketing", ACM TWEB 1(1), 2007 (forward/recommendation cascades).
    """
    n = snapshot.n_nodes
    fwd = (snapshot.etype == EDGE_TYPE_CODES[EventType.FORWARD]) & (snapshot.src != snapshot.dst)
    per_content = snapshot.content is not None
    if per_content:
        assert snapshot.content is not None
        fwd &= snapshot.content >= 0
        content = snapshot.content[fwd].astype(np.int64)
    else:
        content = np.zeros(int(fwd.sum()), dtype=np.int64)
    src = snapshot.src[fwd].astype(np.int64)
    dst = snapshot.dst[fwd].astype(np.int64)
    size = np.zeros(n, dtype=np.int64)
    depth = np.zeros(n, dtype=np.int32)
    cascades = np.zeros(n, dtype=np.int64)
    if src.size == 0:
        return CascadeStats(size, depth, cascades, per_content)

    # node of a content's cascade graph = content * n + user; sorted unique edges
    tail, head = content * n + src, content * n + dst
    order = np.lexsort((head, tail))
    tail, head = tail[order], head[order]
    new_edge = np.r_[True, (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])]
    tail, head = tail[new_edge], head[new_edge]
    first = np.flatnonzero(np.r_[True, tail[1:] != tail[:-1]])
    roots = tail[first]  # one root per (content, user) passing on
    ptr = np.append(first, tail.size)
    root_user = roots % n
    np.add.at(cascades, root_user, 1)

    # breadth-first search from every root at once; a visit is (root number, cascade node)
    # (root number * n + user): the root fixes the content, so this fits in int64
    n_roots = roots.size
    root_content = roots // n
    origin = np.arange(n_roots, dtype=np.int64)
    frontier = roots.copy()
    visited = origin * n + root_user  # already sorted
    visits_origin, visits_node, visits_level = [], [], []
    level = 0
    while frontier.size and (max_depth is None or level < max_depth):
        level += 1
        pos = np.searchsorted(roots, frontier)
        pos = np.minimum(pos, n_roots - 1)
        has = roots[pos] == frontier
        rows, origin = pos[has], origin[has]
        lens = ptr[rows + 1] - ptr[rows]
        children = gather_rows(ptr, head, rows)
        origin = np.repeat(origin, lens)
        visit = _sorted_unique(origin * n + children % n)
        visit = visit[~_in_sorted(visit, visited)]
        if visit.size == 0:
            break
        visited = np.sort(np.concatenate([visited, visit]))  # disjoint: no duplicates
        origin, users = visit // n, visit % n
        frontier = root_content[origin] * n + users
        visits_origin.append(origin)
        visits_node.append(users)
        visits_level.append(np.full(visit.size, level, dtype=np.int32))
    if not visits_origin:
        return CascadeStats(size, depth, cascades, per_content)
    owner = root_user[np.concatenate(visits_origin)]
    user = np.concatenate(visits_node)
    lev = np.concatenate(visits_level)
    np.maximum.at(depth, owner, lev)
    pairs = _sorted_unique(owner * n + user)  # distinct users per owner, across contents
    p_owner, p_user = pairs // n, pairs % n
    np.add.at(size, p_owner[p_owner != p_user], 1)
    return CascadeStats(size, depth, cascades, per_content)

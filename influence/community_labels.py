"""Stable community ids across ranking runs: relabel by maximum overlap with the previous run.

A community detector numbers its communities afresh on every call (here: by
size), so a small change to the graph can renumber every community and break
per-community leaderboards and saved filters (``koc top --community 3``).
:func:`stable_labels` keeps ids: each new community takes the id of the previous
community it shares most members with, when that previous community also shares
more members with it than with any other new community (a mutual best match);
every other community gets a fresh id above all previous ids.
"""

from __future__ import annotations

import numpy as np

from graph.errors import ParameterError

__all__ = ["stable_labels"]


def stable_labels(labels: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Carry community ids over from a previous partition of (mostly) the same users.

    Parameters
    ----------
    labels : numpy.ndarray of int, shape (n,)
        The new partition, labels ``0..k-1`` (as from
        :func:`influence.communities.plm_communities`, 0 = largest).
    previous : numpy.ndarray of int, shape (n,)
        Each user's community id in the previous run, aligned with ``labels``;
        negative for users the previous run did not have.

    Returns
    -------
    numpy.ndarray of int32, shape (n,)
        The same partition with ids taken from ``previous`` where a community is
        the mutual best match of a previous one (largest overlap in members both
        ways; equal overlaps go to the larger new community, then the lower
        label); the others numbered from ``previous.max() + 1`` in the order of
        ``labels`` (by size).

    Raises
    ------
    ParameterError
        When the arrays differ in shape.

    Notes
    -----
    One sort of the ``(new, previous)`` label pairs of the users both runs know;
    no loop over users or communities. Matching by maximum overlap is the usual
    way to follow communities between snapshots (Greene, Doyle, Cunningham 2010
    match by Jaccard overlap); a mutual best match never gives one id to two
    communities. With no previous ids (first run) the labels are returned as is.

    References
    ----------
    .. [1] D. Greene, D. Doyle, P. Cunningham, "Tracking the evolution of
       communities in dynamic social networks", Proc. ASONAM 2010, 176-183.
    """
    labels = np.asarray(labels, dtype=np.int64)
    previous = np.asarray(previous, dtype=np.int64)
    if labels.shape != previous.shape or labels.ndim != 1:
        raise ParameterError(
            "The 'labels' and 'previous' parameters of stable_labels must be 1-d arrays of "
            f"the same length. Got shapes {labels.shape} and {previous.shape}.",
            parameter="previous",
        )
    known = previous >= 0
    if labels.size == 0 or not known.any():
        return labels.astype(np.int32)
    k = int(labels.max()) + 1
    span = int(previous.max()) + 1
    pair, overlap = np.unique(labels[known] * span + previous[known], return_counts=True)
    new, old = pair // span, pair % span
    size = np.bincount(labels, minlength=k)
    # each new community's best previous one: most shared members, then the lower old id
    order = np.lexsort((old, -overlap, new))
    first = np.r_[True, new[order][1:] != new[order][:-1]]
    best = order[first]
    # each previous id goes to the claimant with the most shared members, then the larger
    # new community, then the lower new label
    claim = best[np.lexsort((new[best], -size[new[best]], -overlap[best], old[best]))]
    won = claim[np.r_[True, old[claim][1:] != old[claim][:-1]]]
    # a claim that is not the previous community's own best overlap is no mutual match
    back = np.lexsort((new, -size[new], -overlap, old))
    old_best = back[np.r_[True, old[back][1:] != old[back][:-1]]]
    mutual = np.isin(won, old_best)
    mapping = np.full(k, -1, dtype=np.int64)
    mapping[new[won[mutual]]] = old[won[mutual]]
    fresh = np.flatnonzero(mapping < 0)  # in label order, i.e. by size
    mapping[fresh] = span + np.arange(fresh.size)
    return mapping[labels].astype(np.int32)

"""Per-edge activation probabilities of the diffusion models, learned from history.

Independent cascade (IC, Kempe, Kleinberg, Tardos 2003) needs one probability
``p(u, v)`` per influence tie ``u -> v``: the chance that ``v`` acts on something
``u`` shares. This module learns it from the event history with the Bernoulli
estimator of Goyal, Bonchi and Lakshmanan (2010), smoothed toward a global prior:

.. math::

    p(u, v) = \\frac{A_{u \\to v} + m\\, p_0}{A_u + m}

``A_u``
    the number of things ``u`` shared: ``u``'s distinct shared ``content_id``
    (share events), and at least ``max_v A_{u -> v}`` so that ``p <= 1``.
``A_{u -> v}``
    how many of them ``v`` acted on: the distinct contents of ``u`` that ``v``
    viewed, forwarded, commented on or bought through (an order whose attribution
    token resolves to ``u``'s share). An interaction without a known content (a
    referral, an edge read without its content) counts once per event.
``p_0``
    the global prior, pooled over every observed tie:
    ``sum_{u,v} A_{u -> v} / sum_{u,v} A_u``;
``m``
    the prior's strength in pseudo-shares (``prior_strength``): the posterior mean
    of a Beta(``m p_0``, ``m (1 - p_0)``) prior after ``A_u`` Bernoulli trials with
    ``A_{u -> v}`` successes. A pair seen once from a user who shared once is pulled
    toward ``p_0``; a pair with many trials keeps its own rate.

Ties exist only where at least one interaction happened (the observed graph),
like Goyal et al.'s social graph; a pair never seen has probability 0. The
estimator ignores time delays between the share and the action (their
"Bernoulli" model without the time window).

For comparison with Neo4j GDS (whose CELF takes one propagation probability for
every relationship), :func:`global_probabilities` gives every tie the same ``p``.
The linear threshold model (Kempe et al. 2003) needs incoming weights that sum to
at most 1 per node: :meth:`EdgeProbabilities.lt_weights` rescales the learned
probabilities of each node's incoming ties when they sum above 1.

References
----------
Goyal, A., Bonchi, F., Lakshmanan, L. V. S. (2010). Learning influence
probabilities in social networks. WSDM, 241-250.
Kempe, D., Kleinberg, J., Tardos, E. (2003). Maximizing the spread of influence
through a social network. KDD, 137-146.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from numbers import Integral, Real

import numpy as np

from graph.errors import ParameterError
from graph.params import Interval, validate_params

__all__ = ["EdgeProbabilities", "learn_probabilities", "global_probabilities"]


@dataclass(frozen=True, eq=False)
class EdgeProbabilities:
    """Distinct influence ties ``src -> dst`` with one probability (or LT weight) each.

    Attributes
    ----------
    n_nodes : int
        Number of nodes (ordered like ``snapshot.node_ids``).
    src, dst : numpy.ndarray of int32
        The ties, sorted by ``(src, dst)``, no duplicates, no self-loops.
    prob : numpy.ndarray of float64
        Activation probability of each tie, in ``[0, 1]``.
    prior : float
        The global prior ``p_0`` (the single ``p`` of :func:`global_probabilities`).
    trials, successes : numpy.ndarray of int64 or None
        ``A_u`` and ``A_{u -> v}`` per tie when learned (None for a global ``p``).
    """

    n_nodes: int
    src: np.ndarray
    dst: np.ndarray
    prob: np.ndarray
    prior: float
    trials: np.ndarray | None = None
    successes: np.ndarray | None = None

    @property
    def n_edges(self) -> int:
        """Number of distinct ties."""
        return int(self.src.shape[0])

    @cached_property
    def out_indptr(self) -> np.ndarray:
        """Forward CSR row pointers (row = influencer); columns are :attr:`dst`."""
        return _indptr(self.src, self.n_nodes)

    @cached_property
    def _reverse(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        order = np.argsort(self.dst, kind="stable")
        return (
            _indptr(self.dst[order], self.n_nodes),
            np.ascontiguousarray(self.src[order]),
            np.ascontiguousarray(self.prob[order]),
            order.astype(np.int64),
        )

    @property
    def in_indptr(self) -> np.ndarray:
        """Reverse CSR row pointers (row = influenced user)."""
        return self._reverse[0]

    @property
    def in_src(self) -> np.ndarray:
        """Influencer of each reverse-CSR entry."""
        return self._reverse[1]

    @property
    def in_prob(self) -> np.ndarray:
        """Probability of each reverse-CSR entry."""
        return self._reverse[2]

    @property
    def in_edge(self) -> np.ndarray:
        """Position in :attr:`src` / :attr:`dst` of each reverse-CSR entry."""
        return self._reverse[3]

    def out_degree(self) -> np.ndarray:
        """Distinct people each node influenced (int64 per node)."""
        return np.diff(self.out_indptr)

    def lt_weights(self) -> EdgeProbabilities:
        """The same ties as linear-threshold weights: each node's incoming sum at most 1.

        ``b(u, v) = p(u, v) / max(1, sum_w p(w, v))`` (Kempe et al. 2003 require
        ``sum_u b(u, v) <= 1``).
        """
        incoming = np.bincount(self.dst, weights=self.prob, minlength=self.n_nodes)
        scale = np.maximum(incoming, 1.0)[self.dst]
        return EdgeProbabilities(
            n_nodes=self.n_nodes,
            src=self.src,
            dst=self.dst,
            prob=self.prob / scale,
            prior=self.prior,
            trials=self.trials,
            successes=self.successes,
        )


def _indptr(sorted_rows: np.ndarray, n: int) -> np.ndarray:
    counts = np.bincount(sorted_rows, minlength=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr


def _check_pairs(n_nodes: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(src, dtype=np.int64)
    d = np.asarray(dst, dtype=np.int64)
    if s.shape != d.shape or s.ndim != 1:
        raise ParameterError(
            f"'src' and 'dst' must be 1-d arrays of the same length. Got shapes {s.shape} "
            f"and {d.shape}.",
            parameter="src",
        )
    if s.size and (min(s.min(), d.min()) < 0 or max(s.max(), d.max()) >= n_nodes):
        raise ParameterError(
            f"Edge endpoints must be node indices in [0, {n_nodes}).", parameter="src"
        )
    return s, d


def _unique_pairs(n: int, s: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (src, dst) keys ``src * n + dst`` (sorted) and each one's count."""
    keep = s != d
    keys, counts = np.unique(s[keep] * n + d[keep], return_counts=True)
    return keys, counts


def _distinct_pair_content(pair: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The pair key of each distinct (pair, content) combination."""
    if not pair.size:
        return pair
    order = np.lexsort((content, pair))
    p, c = pair[order], content[order]
    first = np.ones(p.size, dtype=bool)
    first[1:] = (p[1:] != p[:-1]) | (c[1:] != c[:-1])
    return p[first]


@validate_params({"n_nodes": [Interval(Integral, 0, None)], "p": [Interval(Real, 0, 1)]})
def global_probabilities(
    n_nodes: int, src: np.ndarray, dst: np.ndarray, *, p: float = 0.01
) -> EdgeProbabilities:
    """Every distinct tie ``src -> dst`` with the same probability ``p`` (the GDS mode).

    Parameters
    ----------
    n_nodes : int
        Number of nodes.
    src, dst : numpy.ndarray of int
        Influencer and influenced node of each interaction (duplicates and self-loops
        are dropped).
    p : float
        The propagation probability of every tie.

    Returns
    -------
    EdgeProbabilities
    """
    s, d = _check_pairs(n_nodes, src, dst)
    keys, _ = _unique_pairs(n_nodes, s, d)
    n = max(n_nodes, 1)
    return EdgeProbabilities(
        n_nodes=n_nodes,
        src=(keys // n).astype(np.int32),
        dst=(keys % n).astype(np.int32),
        prob=np.full(keys.size, float(p)),
        prior=float(p),
    )


@validate_params(
    {
        "n_nodes": [Interval(Integral, 0, None)],
        "prior_strength": [Interval(Real, 0, None, closed="neither")],
    }
)
def learn_probabilities(
    n_nodes: int,
    src: np.ndarray,
    dst: np.ndarray,
    *,
    content: np.ndarray | None = None,
    shares: np.ndarray | None = None,
    prior_strength: float = 2.0,
) -> EdgeProbabilities:
    """Learn ``p(u, v)`` from interactions, smoothed toward the global prior (module docstring).

    Parameters
    ----------
    n_nodes : int
        Number of nodes.
    src, dst : numpy.ndarray of int
        One row per interaction: ``src`` shared, ``dst`` viewed / forwarded /
        commented on / bought through it (``src`` influenced ``dst``).
    content : numpy.ndarray of int, optional
        Code of the shared content of each interaction; -1 (or no array) for an
        interaction without a content, which counts as its own success.
    shares : numpy.ndarray of int, optional
        ``A_u``: number of distinct contents each node shared (length ``n_nodes``).
        Raised to ``max_v A_{u -> v}`` where the history holds more actions than
        shares (a share outside the window, a referral); all zero when None.
    prior_strength : float
        ``m``, the prior's weight in pseudo-shares (> 0).

    Returns
    -------
    EdgeProbabilities
        With ``trials`` (``A_u``) and ``successes`` (``A_{u -> v}``) per tie.

    Raises
    ------
    ParameterError
        For arrays of different lengths or endpoints outside ``[0, n_nodes)``.

    References
    ----------
    Goyal, Bonchi, Lakshmanan (2010), WSDM: the Bernoulli estimator
    ``p(v, u) = A_{v2u} / A_v``.
    """
    s, d = _check_pairs(n_nodes, src, dst)
    n = max(n_nodes, 1)
    if content is None:
        c = np.full(s.size, -1, dtype=np.int64)
    else:
        c = np.asarray(content, dtype=np.int64)
        if c.shape != s.shape:
            raise ParameterError(
                f"'content' must have one code per interaction ({s.size}). Got {c.size}.",
                parameter="content",
            )
    keep = s != d
    s, d, c = s[keep], d[keep], c[keep]
    pair = s * n + d
    # a known content counts once per pair; an unknown one once per event
    known = c >= 0
    pair_content = _distinct_pair_content(pair[known], c[known])
    all_pairs = np.concatenate([pair_content, pair[~known]])
    keys, successes = np.unique(all_pairs, return_counts=True)
    e_src = keys // n
    a_u = np.zeros(n_nodes, dtype=np.int64)
    if shares is not None:
        sh = np.asarray(shares, dtype=np.int64)
        if sh.shape != (n_nodes,) or (sh < 0).any():
            raise ParameterError(
                f"'shares' must hold one count >= 0 per node ({n_nodes}).", parameter="shares"
            )
        a_u = sh.copy()
    if keys.size:
        np.maximum.at(a_u, e_src, successes)
    trials = a_u[e_src]
    total_trials = float(trials.sum())
    p0 = float(successes.sum()) / total_trials if total_trials > 0 else 0.0
    m = float(prior_strength)
    prob = (successes + m * p0) / (trials + m)
    return EdgeProbabilities(
        n_nodes=n_nodes,
        src=e_src.astype(np.int32),
        dst=(keys % n).astype(np.int32),
        prob=np.clip(prob, 0.0, 1.0),
        prior=p0,
        trials=trials.astype(np.int64),
        successes=successes.astype(np.int64),
    )

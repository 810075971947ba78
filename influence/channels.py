"""Channel preference: on which channel a user's shares perform best.

A user's performance on a channel counts what their content drew there: views and
forwards of it (the view's / forward's channel) and conversions (orders carrying
the token of one of their shares on that channel). The preferred channel is the one
with the highest ``views + forwards_weight * forwards + conversions_weight *
conversions``, ties going to the channel listed first; users whose shares drew
nothing have none. The same table ranks the best KOCs of each channel.
"""

from __future__ import annotations

import numpy as np

__all__ = ["channel_performance", "preferred_channel", "channel_top"]


def channel_performance(
    *,
    n_users: int,
    n_channels: int,
    views: tuple[np.ndarray, np.ndarray],
    forwards: tuple[np.ndarray, np.ndarray],
    conversions: tuple[np.ndarray, np.ndarray],
    forwards_weight: float = 2.0,
    conversions_weight: float = 5.0,
) -> np.ndarray:
    """Performance per user and channel, shape ``(n_users, n_channels)``.

    Parameters
    ----------
    n_users, n_channels : int
    views, forwards, conversions : tuple of (user, channel) int arrays
        One entry per event: the user whose content drew it (row, ``-1`` ignored) and
        the channel code (``-1`` ignored).
    forwards_weight, conversions_weight : float
        Weight of a forward and a conversion relative to a view.
    """
    out = np.zeros(n_users * n_channels, dtype=np.float64)
    for (user, channel), weight in (
        (views, 1.0),
        (forwards, forwards_weight),
        (conversions, conversions_weight),
    ):
        user = np.asarray(user, dtype=np.int64)
        channel = np.asarray(channel, dtype=np.int64)
        keep = (user >= 0) & (user < n_users) & (channel >= 0) & (channel < n_channels)
        out += weight * np.bincount(
            user[keep] * n_channels + channel[keep], minlength=n_users * n_channels
        )
    return out.reshape(n_users, n_channels)


def preferred_channel(performance: np.ndarray) -> np.ndarray:
    """Code of each user's best channel (``-1`` when nothing was drawn anywhere)."""
    if performance.shape[1] == 0:
        return np.full(performance.shape[0], -1, dtype=np.int64)
    best = np.argmax(performance, axis=1)
    return np.where(performance.max(axis=1) > 0, best, -1).astype(np.int64)


def channel_top(performance: np.ndarray, channel: int, k: int) -> np.ndarray:
    """Rows of the ``k`` best users on one channel (performance > 0), best first; ties by
    row (the run's rank order)."""
    col = performance[:, channel]
    rows = np.flatnonzero(col > 0)
    order = np.lexsort((rows, -col[rows]))
    return rows[order][:k]

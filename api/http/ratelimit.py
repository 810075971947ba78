"""Failed sign-ins per client address in a sliding window (in memory, thread-safe).

``POST /login`` asks :meth:`FailureLimiter.retry_after` before it looks at the key and
calls :meth:`FailureLimiter.record` after each wrong one: a client with
``max_failures`` failures in the last ``window_s`` seconds is answered 429 with a
``Retry-After`` of the seconds until its oldest failure leaves the window, whatever key
it sends. A successful sign-in clears nothing (neither its own count nor anyone
else's), so a valid key cannot be used to reset the count while guessing others.

The counts live in one process: with ``koc serve --workers N`` a client gets up to
``N * max_failures`` tries per window, and a restart forgets them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["FailureLimiter"]


class FailureLimiter:
    """Counts failures per client over a sliding window.

    Parameters
    ----------
    max_failures : int
        Failures a client may have within ``window_s``; one more attempt is refused.
    window_s : float
        Length of the sliding window, in seconds.
    max_clients : int
        Clients tracked at most; when full, expired clients are dropped first, then the
        one whose last failure is oldest (memory stays bounded under many addresses).
    clock : callable
        Monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1 or window_s <= 0 or max_clients < 1:
            raise ValueError(
                "FailureLimiter needs max_failures >= 1, window_s > 0 and max_clients >= 1; "
                f"got {max_failures}, {window_s}, {max_clients}."
            )
        self.max_failures, self.window_s, self.max_clients = max_failures, window_s, max_clients
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float] | None:
        """``client``'s failures inside the window (older ones dropped); lock held."""
        times = self._failures.get(client)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times

    def retry_after(self, client: str) -> float | None:
        """Seconds until ``client`` may try again, or None when it may try now."""
        with self._lock:
            now = self._clock()
            times = self._recent(client, now)
            if times is None or len(times) < self.max_failures:
                return None
            return times[-self.max_failures] + self.window_s - now

    def record(self, client: str) -> None:
        """Count one failure of ``client`` now."""
        with self._lock:
            now = self._clock()
            times = self._recent(client, now)
            if times is None:
                if len(self._failures) >= self.max_clients:
                    self._evict(now)
                times = self._failures[client] = deque(maxlen=self.max_failures)
            times.append(now)
            self._failures.move_to_end(client)

    def _evict(self, now: float) -> None:
        """Make room for one client; lock held."""
        for client in list(self._failures):
            self._recent(client, now)
        while len(self._failures) >= self.max_clients:
            self._failures.popitem(last=False)

    def failures(self, client: str) -> int:
        """``client``'s failures inside the window now."""
        with self._lock:
            times = self._recent(client, self._clock())
            return 0 if times is None else len(times)

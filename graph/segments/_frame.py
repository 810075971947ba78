"""An in-memory :class:`~graph.segments._compile.Frame`: a run's per-user arrays plus
event arrays from which windowed facts are counted.

A windowed fact such as ``forwards(30d)`` is one :func:`numpy.bincount` over the
fact's event arrays (user index, time, optional weight) restricted to
``end - window <= ts <= end``; each (fact, window) is computed once per frame and
kept, so a run's frame answers repeated segments from memory.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from graph.errors import SegmentError

__all__ = ["EventFact", "ArrayFrame"]


@dataclass(frozen=True)
class EventFact:
    """The events behind one windowed fact.

    Attributes
    ----------
    user : numpy.ndarray of int64
        Row of the frame each event counts for (rows outside ``0..size-1`` are ignored).
    ts : numpy.ndarray of int64
        Event time, UTC epoch microseconds.
    weight : numpy.ndarray of float64, optional
        Summed instead of counted (an order's net amount for ``gmv``).
    """

    user: np.ndarray
    ts: np.ndarray
    weight: np.ndarray | None = None


@dataclass
class ArrayFrame:
    """A frame over ``size`` users.

    Parameters
    ----------
    size : int
    end_us : int
        The run's end (UTC epoch microseconds): windows count back from it, and events
        after it are not counted.
    numbers : mapping of str to float64 array
        Numeric fields (NaN where missing).
    texts : mapping of str to (int codes, categories)
        Text fields, codes -1 where missing.
    facts : mapping of str to EventFact
    tags : mapping of str to bool array
    """

    size: int
    end_us: int
    numbers: Mapping[str, np.ndarray] = field(default_factory=dict)
    texts: Mapping[str, tuple[np.ndarray, tuple[str, ...]]] = field(default_factory=dict)
    facts: Mapping[str, EventFact] = field(default_factory=dict)
    tags: Mapping[str, np.ndarray] = field(default_factory=dict)
    _windowed: dict[tuple[str, int | None], np.ndarray] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def number(self, name: str) -> np.ndarray:
        return self.numbers[name]

    def text(self, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
        return self.texts[name]

    def tag(self, name: str) -> np.ndarray:
        found = self.tags.get(name)
        return np.zeros(self.size, dtype=bool) if found is None else found

    def fact(self, name: str, window_us: int | None) -> np.ndarray:
        key = (name, window_us)
        hit = self._windowed.get(key)
        if hit is not None:
            return hit
        ev = self.facts.get(name)
        if ev is None:
            raise SegmentError(f"This run offers no fact {name}(...).", fact=name)
        keep = (ev.ts <= self.end_us) & (ev.user >= 0) & (ev.user < self.size)
        if window_us is not None:
            keep &= ev.ts >= self.end_us - window_us
        weights = None if ev.weight is None else ev.weight[keep]
        out = np.bincount(ev.user[keep], weights=weights, minlength=self.size).astype(np.float64)
        with self._lock:
            self._windowed[key] = out
        return out

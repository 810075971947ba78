"""Commission periods: calendar months in the brand's time zone.

A period is written ``YYYY-MM`` and runs from the first instant of that month to
the first instant of the next, in the configured time zone (setting ``timezone``,
default ``Asia/Shanghai``). An entry belongs to the period of its event (order or
refund time); when that period is already closed, it goes to the first open period
after the last closed one ("late events adjust the next open period").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from graph.errors import ConfigError

__all__ = [
    "DEFAULT_TIMEZONE",
    "booking_period_sql",
    "check_period",
    "check_timezone",
    "next_period",
    "period_bounds",
    "period_sql",
    "periods_between",
]

DEFAULT_TIMEZONE = "Asia/Shanghai"
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def check_period(period: str) -> str:
    """Return ``period`` when it reads ``YYYY-MM``; raise :class:`ConfigError` otherwise."""
    match = _PERIOD.match(period) if isinstance(period, str) else None
    if match is None or not 1970 <= int(match.group(1)) <= 2999:
        raise ConfigError(
            "A period is written YYYY-MM with a year from 1970 to 2999 (for example "
            f"2026-10). Got {period!r} instead.",
            key="period",
        )
    return period


def check_timezone(tz: str) -> ZoneInfo:
    """The :class:`zoneinfo.ZoneInfo` named ``tz``; :class:`ConfigError` when unknown."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"Unknown time zone {tz!r}; use an IANA name such as 'Asia/Shanghai'.",
            key="timezone",
        ) from exc


def next_period(period: str) -> str:
    """The month after ``period``."""
    y, m = (int(p) for p in check_period(period).split("-"))
    return f"{y + (m == 12):04d}-{m % 12 + 1:02d}"


def periods_between(first: str, last: str) -> list[str]:
    """Every period from ``first`` to ``last`` inclusive (empty when first > last)."""
    out, p = [], check_period(first)
    while p <= check_period(last):
        out.append(p)
        p = next_period(p)
    return out


def period_bounds(period: str, tz: str = DEFAULT_TIMEZONE) -> tuple[datetime, datetime]:
    """UTC start (inclusive) and end (exclusive) of ``period`` in time zone ``tz``."""
    zone = check_timezone(tz)
    y, m = (int(p) for p in check_period(period).split("-"))
    ny, nm = (int(p) for p in next_period(period).split("-"))
    start = datetime(y, m, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(ny, nm, 1, tzinfo=zone).astimezone(UTC)
    return start, end


def period_sql(column: str, tz: str = DEFAULT_TIMEZONE) -> str:
    """DuckDB expression giving the period of TIMESTAMPTZ ``column`` in ``tz``."""
    check_timezone(tz)
    return f"strftime(timezone('{tz}', {column}), '%Y-%m')"


def booking_period_sql(column: str, tz: str, last_closed: str | None) -> str:
    """DuckDB expression: the period an event at ``column`` is booked in.

    Its own period (:func:`period_sql`), or the first open period after
    ``last_closed`` when its own period is already closed.
    """
    natural = period_sql(column, tz)
    if last_closed is None:
        return natural
    return (
        f"CASE WHEN {natural} <= '{check_period(last_closed)}' "
        f"THEN '{next_period(last_closed)}' ELSE {natural} END"
    )

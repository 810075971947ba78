"""Period names and boundaries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graph.errors import ConfigError
from referral.periods import check_period, next_period, period_bounds, periods_between


@pytest.mark.parametrize("period", ["2026-10", "1970-01", "2999-12"])
def test_check_period_accepts_months(period: str) -> None:
    assert check_period(period) == period


@pytest.mark.parametrize(
    "period", ["0000-01", "0001-01", "1969-12", "3000-01", "2026-13", "2026-1", "x"]
)
def test_check_period_rejects_other_text(period: str) -> None:
    with pytest.raises(ConfigError, match="YYYY-MM"):
        check_period(period)


def test_period_bounds_china_time() -> None:
    start, end = period_bounds("2026-10", "Asia/Shanghai")
    # midnight of 1 October in China is 16:00 UTC on 30 September
    assert start.astimezone(UTC) == datetime(2026, 9, 30, 16, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 10, 31, 16, tzinfo=UTC)


def test_periods_between_wraps_year() -> None:
    assert periods_between("2026-11", "2027-02") == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert next_period("2026-12") == "2027-01"

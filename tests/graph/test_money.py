"""graph.money.format_money: the one money format (2 decimals for CNY, half-up)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from graph.money import format_money


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("5000.0000"), "CNY", "5000.00"),
        (Decimal("0.125"), "CNY", "0.13"),  # half-up, not banker's (0.12)
        (Decimal("0.135"), "CNY", "0.14"),
        (Decimal("-0.125"), "CNY", "-0.13"),  # half away from zero
        (Decimal("-0.001"), "CNY", "0.00"),  # no negative zero
        (Decimal("1299"), "JPY", "1299"),
        (Decimal("1.2345"), "KWD", "1.235"),
        (7, "CNY", "7.00"),
        ("30901.2349", "CNY", "30901.23"),
    ],
)
def test_format_money_rounds_half_up_to_minor_unit(amount, currency, expected):
    assert format_money(amount, currency) == expected


def test_format_money_thousands_groups_digits():
    assert format_money(Decimal("126891.675"), thousands=True) == "126,891.68"
    assert format_money(Decimal("-1234567.8")) == "-1234567.80"


def test_format_money_float_refused():
    with pytest.raises(TypeError, match="float"):
        format_money(0.1)  # type: ignore[arg-type]

"""graph.money: the money scale, the Decimal <-> int64 units converters and the one money format."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.errors import StoreError
from graph.money import (
    AMOUNT_SCALE,
    MONEY_TYPE,
    UNITS_PER_CURRENCY_UNIT,
    format_money,
    from_units,
    minor_unit,
    money_row,
    quantize,
    to_units,
    units_to_decimal,
)


def test_money_scale_matches_the_stored_type():
    assert pa.decimal128(20, 4) == MONEY_TYPE
    assert UNITS_PER_CURRENCY_UNIT == 10**AMOUNT_SCALE == 10_000


@settings(deadline=None)  # the first example can take seconds on a loaded machine
@given(st.lists(st.integers(min_value=-(10**15), max_value=10**15), max_size=50))
def test_units_decimal_roundtrip_exact(units: list[int]) -> None:
    arr = from_units(np.array(units, dtype=np.int64))
    assert arr.to_pylist() == [Decimal(u).scaleb(-4) for u in units]
    assert to_units(arr).tolist() == units


def test_from_units_is_exact_at_the_int64_edges() -> None:
    units = np.array([0, 1, -1, 123_456_789, -(2**62), 2**62], dtype=np.int64)
    got = from_units(units).to_pylist()
    assert got == [Decimal(int(u)).scaleb(-4) for u in units]


def test_from_units_mask_gives_nulls() -> None:
    arr = from_units(np.array([5, 7, 9]), mask=np.array([False, True, False]))
    assert arr.to_pylist() == [Decimal("0.0005"), None, Decimal("0.0009")]


def test_to_units_sliced_and_null() -> None:
    arr = pa.array(
        [Decimal("1.5"), None, Decimal("0.0001"), Decimal("99999.9999")], pa.decimal128(20, 4)
    )
    assert to_units(arr).tolist() == [15000, 0, 1, 999999999]
    assert to_units(arr.slice(2)).tolist() == [1, 999999999]
    chunked = pa.chunked_array([arr.slice(0, 1), arr.slice(2, 1)])
    assert to_units(chunked).tolist() == [15000, 1]


def test_to_units_exact_from_decimals():
    arr = pa.array(
        [Decimal("100.5"), Decimal("0.0001"), None, Decimal("999999.9999")], pa.decimal128(20, 4)
    )
    assert to_units(arr).tolist() == [1_005_000, 1, 0, 9_999_999_999]


def test_to_units_respects_slices_and_chunks():
    arr = pa.array([Decimal(i) for i in range(10)], pa.decimal128(20, 4))
    chunked = pa.chunked_array([arr.slice(3, 4), arr.slice(8, 2)])
    assert to_units(chunked).tolist() == [30_000, 40_000, 50_000, 60_000, 80_000, 90_000]


def test_to_units_negative_values():
    assert to_units(pa.array([Decimal("-2.5")], pa.decimal128(20, 4))).tolist() == [-25_000]


def test_to_units_other_scales_are_rescaled():
    arr = pa.array([Decimal("1.25"), Decimal("-0.01")], pa.decimal128(12, 2))
    assert to_units(arr).tolist() == [12_500, -100]


def test_to_units_overflow_raises() -> None:
    arr = pa.array([Decimal("1e15")], pa.decimal128(20, 4))  # 1e19 units > int64
    with pytest.raises(StoreError, match="too large"):
        to_units(arr)


def test_units_to_decimal_scalar_keeps_four_places():
    assert str(units_to_decimal(12_345)) == "1.2345"
    assert str(units_to_decimal(0)) == "0.0000"
    assert units_to_decimal(-25_000) == Decimal("-2.5")


def test_quantize_half_up_per_currency():
    assert quantize(Decimal("0.125"), "CNY") == Decimal("0.13")
    assert quantize(Decimal("12.5"), "JPY") == Decimal("13")
    assert minor_unit("KWD") == Decimal("0.001")


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


def test_money_row_formats_money_keeps_rates():
    row = {"amount": Decimal("0.1250"), "rate": Decimal("0.035000"), "level": 2, "currency": "JPY"}
    assert money_row(row, ["amount"]) == {
        "amount": "0",
        "rate": "0.035000",
        "level": 2,
        "currency": "JPY",
    }
    assert money_row({"basis": Decimal("-0.125")}, ("basis",))["basis"] == "-0.13"

"""Money: ``Decimal`` amounts with an ISO-4217 currency, never float.

Amounts are stored as ``DECIMAL(20, 4)`` (:data:`AMOUNT_SCALE` places) and rounded
half-up to the currency's minor unit when a payable amount is computed. Array code
sums money as exact int64 *units* of ``10**-AMOUNT_SCALE`` (:func:`to_units`,
:func:`from_units`); those are the only converters between the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from graph.errors import StoreError

__all__ = [
    "CURRENCY_MINOR_UNITS",
    "AMOUNT_SCALE",
    "UNITS_PER_CURRENCY_UNIT",
    "MONEY_TYPE",
    "quantize",
    "minor_unit",
    "to_units",
    "from_units",
    "units_to_decimal",
    "format_money",
    "money_row",
]

#: Currencies KOC Graph accepts and their minor units (ISO 4217). Extend here.
CURRENCY_MINOR_UNITS: dict[str, int] = {
    "CNY": 2,
    "HKD": 2,
    "TWD": 2,
    "MOP": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "SGD": 2,
    "MYR": 2,
    "THB": 2,
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "IDR": 2,
    "KWD": 3,
    "BHD": 3,
}

#: Decimal places kept in storage (orders and refunds), above every minor unit.
AMOUNT_SCALE = 4

#: Integer money units per currency unit (``10**AMOUNT_SCALE``).
UNITS_PER_CURRENCY_UNIT = 10**AMOUNT_SCALE

#: The Arrow type of stored amounts (``DECIMAL(20, 4)``).
MONEY_TYPE = pa.decimal128(20, AMOUNT_SCALE)

_UNIT = Decimal(1).scaleb(-AMOUNT_SCALE)


def minor_unit(currency: str) -> Decimal:
    """The smallest unit of ``currency`` as a Decimal (``Decimal('0.01')`` for CNY)."""
    return Decimal(1).scaleb(-CURRENCY_MINOR_UNITS[currency])


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` half-up to the minor unit of ``currency``."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def format_money(
    amount: Decimal | int | str, currency: str = "CNY", *, thousands: bool = False
) -> str:
    """``amount`` as text for people and exports: rounded half-up to the minor unit.

    The one money format of every output (CLI, CSV, JSON, HTML): ``Decimal("5000.0000")``
    -> ``"5000.00"``, ``Decimal("0.125")`` -> ``"0.13"``, ``Decimal("-0.125")`` ->
    ``"-0.13"`` (half away from zero); JPY has no decimals. ``thousands=True`` groups
    digits for reading (``"126,891.68"``); machine-read outputs leave it off.

    Parameters
    ----------
    amount : Decimal, int or str
        Never a float (binary floats cannot hold cents exactly).
    currency : str
        ISO 4217 code of :data:`CURRENCY_MINOR_UNITS`; default CNY (2 decimals).
    thousands : bool
        Group digits with commas.

    Raises
    ------
    TypeError
        ``amount`` is a float.
    """
    if isinstance(amount, float):
        raise TypeError(
            f"format_money takes a Decimal, int or str, not a float ({amount!r}); "
            "floats cannot hold cents exactly."
        )
    value = quantize(Decimal(amount), currency)
    if value == 0:
        value = abs(value)  # never "-0.00"
    return f"{value:,f}" if thousands else f"{value:f}"


def money_row(
    row: Mapping[str, Any], money: Iterable[str], currency: str = "CNY"
) -> dict[str, Any]:
    """A copy of ``row`` for output: its ``money`` fields through :func:`format_money`
    (at ``row["currency"]`` when the row has one, else ``currency``), any other Decimal
    (a rate such as ``0.035``) as plain text, never rounded like money."""
    cur = row.get("currency") or currency
    names = frozenset(money)
    out = dict(row)
    for k, v in row.items():
        if isinstance(v, Decimal):
            out[k] = format_money(v, cur) if k in names else format(v, "f")
    return out


def to_units(amounts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Exact int64 units of ``10**-AMOUNT_SCALE`` of Arrow decimal amounts; nulls become 0.

    Reads the unscaled 128-bit little-endian integers directly after a cast to
    ``AMOUNT_SCALE`` places, so no float and no Python object is involved.

    Parameters
    ----------
    amounts : pyarrow.Array or pyarrow.ChunkedArray
        Any decimal type (or integers), sliced or chunked.

    Returns
    -------
    numpy.ndarray of int64

    Raises
    ------
    StoreError
        An amount is too large for int64 units (over about 9.2e14 currency units).
    """
    if isinstance(amounts, pa.ChunkedArray):
        amounts = amounts.combine_chunks() if amounts.num_chunks else pa.array([], amounts.type)
    arr = amounts.cast(pa.decimal128(38, AMOUNT_SCALE))
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64)
    words = np.frombuffer(arr.buffers()[1], dtype=np.int64)
    words = words[2 * arr.offset : 2 * (arr.offset + len(arr))].reshape(-1, 2)
    low, high = words[:, 0], words[:, 1]
    valid = ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if np.any(valid & (high != (low >> 63))):
        raise StoreError(
            "An amount is too large for exact 64-bit money units (over 9.2e14); "
            "check the data for a misplaced decimal point."
        )
    return np.where(valid, low, 0)


def from_units(units: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """A :data:`MONEY_TYPE` Arrow array from int64 units (inverse of :func:`to_units`).

    Parameters
    ----------
    units : numpy.ndarray of int
    mask : numpy.ndarray of bool, optional
        True where the amount is null.
    """
    units = np.ascontiguousarray(units, dtype=np.int64)
    words = np.empty((units.shape[0], 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = units >> 63  # sign extension to 128 bits
    validity = None
    if mask is not None and np.any(mask):
        validity = pa.array(~np.asarray(mask, dtype=bool), type=pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(
        MONEY_TYPE, units.shape[0], [validity, pa.py_buffer(words.tobytes())]
    )


def units_to_decimal(units: int) -> Decimal:
    """One amount of int units as a ``Decimal`` with :data:`AMOUNT_SCALE` places."""
    return Decimal(int(units)) * _UNIT

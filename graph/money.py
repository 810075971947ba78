"""Money: ``Decimal`` amounts with an ISO-4217 currency, never float.

Amounts are stored as ``DECIMAL(20, 4)`` in the embedded store and rounded
half-up to the currency's minor unit when a payable amount is computed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["CURRENCY_MINOR_UNITS", "AMOUNT_SCALE", "quantize", "minor_unit", "format_money"]

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

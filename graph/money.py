"""Money: ``Decimal`` amounts with an ISO-4217 currency, never float.

Amounts are stored as ``DECIMAL(20, 4)`` in the embedded store and rounded
half-up to the currency's minor unit when a payable amount is computed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["CURRENCY_MINOR_UNITS", "AMOUNT_SCALE", "quantize", "minor_unit"]

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

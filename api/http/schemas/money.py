"""Money in HTTP JSON: a ``Decimal`` written as text at the currency's minor unit.

The one money format of every output is :func:`graph.money.format_money` (half-up to
the minor unit: ``Decimal("5000.0000")`` -> ``"5000.00"`` for CNY). :data:`Money`
applies it when a response is serialised to JSON; a model with a ``currency`` field
formats its :data:`Money` fields at that currency's decimals (:class:`InCurrency`),
others at the default currency's (CNY). Counts stay integers and rates stay as stored.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, get_args

from pydantic import BaseModel, PlainSerializer, WithJsonSchema, model_serializer
from pydantic.fields import FieldInfo

from graph.money import format_money

__all__ = ["Money", "InCurrency"]

_SCHEMA = {
    "type": "string",
    "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
    "description": "Decimal amount as text with the currency's decimals (2 for CNY).",
    "examples": ["5000.00"],
}

_SERIALIZER = PlainSerializer(lambda v: format_money(v), return_type=str, when_used="json")

#: A money amount: Decimal in Python, ``"5000.00"`` in JSON.
Money = Annotated[
    Decimal,
    _SERIALIZER,
    WithJsonSchema(_SCHEMA, mode="serialization"),
]


class InCurrency(BaseModel):
    """Base of models whose :data:`Money` fields follow their own ``currency`` field."""

    @model_serializer(mode="wrap")
    # no annotations: pydantic would take a return type as the model's JSON schema
    def _money_in_currency(self, handler, info):  # type: ignore[no-untyped-def]
        data: dict[str, Any] = handler(self)
        currency = getattr(self, "currency", None)
        if not info.mode_is_json() or not currency or currency == "CNY":
            return data
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if name in data and isinstance(value, Decimal) and _is_money(field):
                data[name] = format_money(value, currency)
        return data


def _is_money(field: FieldInfo) -> bool:
    """Whether a field is declared :data:`Money` (or ``Money | None``)."""
    if any(m is _SERIALIZER for m in field.metadata):
        return True
    return any(a == Money for a in get_args(field.annotation))

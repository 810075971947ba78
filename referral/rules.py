"""Commission rules: a versioned TOML file validated into :class:`CommissionRules`.

The shipped defaults are ``referral/default_rules.toml``; a user's file (setting
``commission_rules``) only needs the keys it changes. Every ledger entry stores the
rules' ``version``; the ledger refuses a second, different rule set under a version
it already knows (see :meth:`referral.ledger.Ledger.register_rules`).

Policy: at most :data:`MAX_LEVELS` referral levels. Deeper multi-level schemes count
as pyramid selling under China's *Regulations on Prohibition of Pyramid Selling*
(2005, art. 7: compensation computed over more than three levels of recruits) and
similar laws elsewhere; asking for more raises :class:`graph.errors.PolicyError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from graph.errors import ConfigError, PolicyError
from graph.money import CURRENCY_MINOR_UNITS
from graph.tomlconfig import TomlConfig

__all__ = [
    "MAX_LEVELS",
    "ROLES",
    "BindingRule",
    "ShareRule",
    "FraudRule",
    "CommissionRules",
    "default_rules",
    "load_rules",
    "rules_from_mapping",
]

#: Hard cap on referral levels (pyramid-selling regulations).
MAX_LEVELS = 3
#: Beneficiary roles with their own rates; ``unknown`` is paid like ``consumer``.
ROLES: tuple[str, ...] = ("employee", "kol", "consumer")
_RATE_SCALE = Decimal("0.000001")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _rate(value: Any) -> Decimal:
    d = Decimal(str(value))
    if not Decimal(0) <= d <= Decimal(1):
        raise ValueError(f"a rate must be in [0, 1], got {d}")
    if d.quantize(_RATE_SCALE) != d:
        raise ValueError(f"a rate has at most 6 decimal places, got {d}")
    return d


def _money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    d = Decimal(str(value))
    if d < 0:
        raise ValueError(f"an amount must be >= 0, got {d}")
    return d


class BindingRule(_Section):
    """How a buyer is bound to the referrer credited at level 1."""

    mode: Literal["first_touch", "last_touch", "signup_only"] = "first_touch"
    window_days: int = Field(30, ge=0)
    exclusive: bool = True


class ShareRule(_Section):
    """Share-to-buy attribution: the last viewed share within the window earns."""

    enabled: bool = True
    window_days: int = Field(7, ge=1)
    split: Literal["none", "linear", "time_decay"] = "none"
    chain_depth: int = Field(3, ge=1, le=10)
    half_life_days: float = Field(1.0, gt=0)
    require_token: bool = False
    rates: dict[str, Decimal] = Field(default_factory=dict)

    @field_validator("rates", mode="before")
    @classmethod
    def _rates(cls, value: Mapping[str, Any]) -> dict[str, Decimal]:
        return _role_map(value, _rate)


class FraudRule(_Section):
    """Which fraud checks hold entries, and the velocity threshold."""

    self_referral: bool = True
    cycles: bool = True
    rings: bool = True
    ring_min_size: int = Field(2, ge=2)
    velocity: bool = True
    velocity_min_per_day: int = Field(10, ge=1)
    velocity_factor: float = Field(5.0, gt=0)
    velocity_percentile: float = Field(95.0, gt=0, le=100)


def _role_map(value: Mapping[str, Any], conv: Any) -> dict[str, Any]:
    out = {}
    for role, v in dict(value).items():
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        out[role] = conv(v)
    return out


#: Optional keys added after the first release (left out of the digest while unset).
_ADDED_LATER: tuple[str, ...] = ("cap_per_order_per_beneficiary",)


class CommissionRules(_Section):
    """A validated commission rule set. Hash it with :meth:`digest`."""

    version: str = Field(min_length=1, max_length=64)
    currency: str = "CNY"
    levels: int = 2
    min_order_amount: Decimal = Decimal(0)
    cap_per_order: Decimal | None = None
    cap_per_order_per_beneficiary: Decimal | None = None
    cap_per_beneficiary_period: Decimal | None = None
    min_payout: Decimal = Decimal(0)
    refund_window_days: int = Field(7, ge=0)
    hold_days: int = Field(-1, ge=-1)
    exclude_employee_own_store: bool = True
    rates: dict[str, tuple[Decimal, ...]] = Field(default_factory=dict)
    bonus: dict[str, Decimal] = Field(default_factory=dict)
    # (mypy without the pydantic plugin misreads these factories)
    binding: BindingRule = Field(default_factory=BindingRule)  # type: ignore[arg-type]
    share: ShareRule = Field(default_factory=ShareRule)  # type: ignore[arg-type]
    fraud: FraudRule = Field(default_factory=FraudRule)  # type: ignore[arg-type]

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if value not in CURRENCY_MINOR_UNITS:
            raise ValueError(f"unknown currency {value!r}; see graph/money.py")
        return value

    @field_validator("min_order_amount", "min_payout", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        return _money(value) or Decimal(0)

    @field_validator(
        "cap_per_order",
        "cap_per_order_per_beneficiary",
        "cap_per_beneficiary_period",
        mode="before",
    )
    @classmethod
    def _cap(cls, value: Any) -> Decimal | None:
        return _money(value)

    @field_validator("rates", mode="before")
    @classmethod
    def _rates(cls, value: Mapping[str, Any]) -> dict[str, tuple[Decimal, ...]]:
        return _role_map(value, lambda v: tuple(_rate(x) for x in v))

    @field_validator("bonus", mode="before")
    @classmethod
    def _bonus(cls, value: Mapping[str, Any]) -> dict[str, Decimal]:
        return _role_map(value, lambda v: _money(v) or Decimal(0))

    # --- derived values ---------------------------------------------------------------
    @property
    def minor_digits(self) -> int:
        """Decimal places of the currency's minor unit (2 for CNY)."""
        return CURRENCY_MINOR_UNITS[self.currency]

    @property
    def effective_hold_days(self) -> int:
        """Holding period in days (``hold_days``, or the refund window when -1)."""
        return self.refund_window_days if self.hold_days < 0 else self.hold_days

    def rate(self, role: str, level: int) -> Decimal:
        """Referral rate of ``role`` (unknown -> consumer) at ``level`` (1-based)."""
        rates = self.rates.get(role if role in ROLES else "consumer", ())
        return rates[level - 1] if level <= len(rates) else Decimal(0)

    def share_rate(self, role: str) -> Decimal:
        """Share-to-buy rate of the credited sharer's ``role`` (unknown -> consumer)."""
        return self.share.rates.get(role if role in ROLES else "consumer", Decimal(0))

    def bonus_for(self, role: str) -> Decimal:
        """Flat bonus per converted referee for a level-1 referrer of ``role``."""
        return self.bonus.get(role if role in ROLES else "consumer", Decimal(0))

    def _canonical(self) -> dict[str, Any]:
        # keys added after rules were first stored are left out while unset, so rules
        # stored before them keep their digest (the ledger compares digests per version)
        unset_new = {k for k in _ADDED_LATER if getattr(self, k) is None}
        return self.model_dump(mode="json", exclude=unset_new)

    def digest(self) -> str:
        """SHA-256 (first 16 hex digits) of the canonical JSON of the rules."""
        text = json.dumps(self._canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_json(self) -> str:
        """Canonical JSON text (stored in the ledger beside the version)."""
        return json.dumps(self._canonical(), sort_keys=True)


def _check_policy(rules: CommissionRules, source: str) -> CommissionRules:
    if rules.levels > MAX_LEVELS:
        raise PolicyError(
            f"Commission rules {source} ask for {rules.levels} referral levels; at most "
            f"{MAX_LEVELS} are allowed (deeper schemes count as pyramid selling under China's "
            "Regulations on Prohibition of Pyramid Selling and similar laws). Set levels <= 3.",
            key="levels",
            levels=rules.levels,
        )
    if rules.levels < 1:
        raise ConfigError(
            f"Commission rules {source}: 'levels' must be 1, 2 or 3. Got {rules.levels} instead.",
            key="levels",
        )
    for role, rates in rules.rates.items():
        if len(rates) < rules.levels:
            raise ConfigError(
                f"Commission rules {source}: rates.{role} lists {len(rates)} rates but levels = "
                f"{rules.levels}; give one rate per level.",
                key=f"rates.{role}",
            )
    return rules


def rules_from_mapping(data: Mapping[str, Any], source: str = "(mapping)") -> CommissionRules:
    """Validate a rules mapping (already merged over the defaults).

    Raises
    ------
    PolicyError
        More than :data:`MAX_LEVELS` levels.
    ConfigError
        An unknown key or a bad value (``context["key"]`` is the dotted key).
    """
    rules = RULES_FILE.validate(CommissionRules, data, source)
    return _check_policy(rules, source)


#: The rules file: ``referral/default_rules.toml`` under a user's file.
RULES_FILE = TomlConfig(
    package="referral",
    defaults_file="default_rules.toml",
    noun="commission rules file",
    key="commission_rules",
    docs="docs/commissions.md",
    show_input=False,
)


def _default_mapping() -> dict[str, Any]:
    return RULES_FILE.defaults()


def default_rules(**overrides: Any) -> CommissionRules:
    """The shipped defaults, with top-level or nested ``overrides`` merged on top."""
    return rules_from_mapping(RULES_FILE.merge(_default_mapping(), overrides), "defaults")


def load_rules(path: str | Path | None = None) -> CommissionRules:
    """Read a commission rules TOML file on top of the defaults.

    Parameters
    ----------
    path : str or Path, optional
        The file; ``None`` gives :func:`default_rules`.

    Returns
    -------
    CommissionRules

    Raises
    ------
    ConfigError
        Missing file, invalid TOML, unknown key or bad value.
    PolicyError
        More than three referral levels.
    """
    if path is None:
        return default_rules()
    data = RULES_FILE.read(path)
    if "version" not in data:
        raise ConfigError(
            f"Commission rules {path} need a 'version' (stored on every ledger entry).",
            key="version",
        )
    return rules_from_mapping(RULES_FILE.merge(_default_mapping(), data), str(path))

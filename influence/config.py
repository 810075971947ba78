"""The KOC score configuration: component weights and metric parameters, in one TOML file.

The defaults live in ``influence/default_scoring.toml`` (commented, and written out in
``docs/scoring.md``). A user's file only needs the keys it changes; everything else
keeps its default. Unknown keys and out-of-range values raise
:class:`graph.errors.ConfigError` naming the dotted key (``weights.pagerank``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from graph.events import EDGE_TYPES, Role
from graph.tomlconfig import TomlConfig

__all__ = [
    "COMPONENTS",
    "AudienceSection",
    "ENGAGEMENT_SIGNALS",
    "EvidenceSection",
    "ScoreConfig",
    "load_score_config",
    "as_score_config",
    "default_score_config",
    "config_to_toml",
]

#: The score components, in the order they are reported.
COMPONENTS: tuple[str, ...] = (
    "pagerank",
    "reach",
    "conversion",
    "conversion_rate",
    "engagement",
    "spend",
)

#: Engagement signals combined into the ``engagement`` component (see :mod:`influence.engagement`).
ENGAGEMENT_SIGNALS: tuple[str, ...] = (
    "comments_received",
    "forwards_received",
    "shares_made",
    "unique_audience",
    "referrals_made",
    "referrals_converted",
)

_EDGE_NAMES = tuple(t.value for t in EDGE_TYPES)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Weights(_Section):
    """Relative weight of each component; they are divided by their sum."""

    pagerank: float = Field(0.0, ge=0)
    reach: float = Field(0.0, ge=0)
    conversion: float = Field(0.6, ge=0)
    conversion_rate: float = Field(0.25, ge=0)
    engagement: float = Field(0.15, ge=0)
    spend: float = Field(0.0, ge=0)

    def normalized(self) -> dict[str, float]:
        """Weights divided by their sum (they then sum to 1)."""
        raw = {c: float(getattr(self, c)) for c in COMPONENTS}
        total = math.fsum(raw.values())
        return {c: v / total for c, v in raw.items()}


class GraphSection(_Section):
    """Which edges build the influence graph and how much each counts."""

    type_weights: dict[str, float] = Field(
        default_factory=lambda: {"view": 1.0, "forward": 2.0, "comment": 1.5, "referral": 3.0}
    )
    half_life_days: float | None = Field(30.0, gt=0)

    @field_validator("type_weights")
    @classmethod
    def _known_types(cls, value: dict[str, float]) -> dict[str, float]:
        for name, w in value.items():
            if name not in _EDGE_NAMES:
                raise ValueError(f"unknown edge type {name!r}; use one of {', '.join(_EDGE_NAMES)}")
            if not w >= 0:
                raise ValueError(f"weight of {name!r} must be >= 0, got {w}")
        if not any(w > 0 for w in value.values()):
            raise ValueError("at least one edge type needs a positive weight")
        return value


class PageRankSection(_Section):
    alpha: float = Field(0.85, gt=0, lt=1)
    tol: float = Field(1e-10, gt=0)
    max_iter: int = Field(200, ge=1)


class ReachSection(_Section):
    hops: int = Field(3, ge=1, le=10)
    registers: int = Field(256, ge=16, le=65536)
    seed: int = 0

    @field_validator("registers")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value & (value - 1):
            raise ValueError(f"must be a power of two (16, 32, 64, ...), got {value}")
        return value


class AttributionSection(_Section):
    """How orders are credited to sharers and referrers (see :mod:`influence.engagement`)."""

    view_window_days: float = Field(7.0, gt=0)
    referral_window_days: float = Field(30.0, gt=0)
    use_token: bool = True
    referral_code_prefix: str = "ref-"


class ConversionSection(_Section):
    """The smoothing of the conversion rate (conversions per reached user)."""

    rate_prior: float = Field(10.0, gt=0)


class EvidenceSection(_Section):
    """How strongly each kind of credited order shows that the user caused it
    (:mod:`influence.evidence`), and the thresholds of the staff and collusion flags."""

    token_new: float = Field(1.0, ge=0)
    token_repeat: float = Field(0.4, ge=0)
    view: float = Field(0.1, ge=0)
    referral: float = Field(0.05, ge=0)
    untied_code: float = Field(0.3, ge=0)
    new_buyer_days: float = Field(30.0, gt=0)
    buyer_prior: float = Field(1.0, ge=0)
    staff_min_orders: int = Field(3, ge=1)
    staff_store_share: float = Field(0.2, ge=0, le=1)
    collusion_min_orders: int = Field(2, ge=1)


class EngagementSection(_Section):
    """Weight of each engagement signal in the ``engagement`` component's raw value."""

    comments_received: float = Field(0.0, ge=0)
    forwards_received: float = Field(2.0, ge=0)
    shares_made: float = Field(0.5, ge=0)
    unique_audience: float = Field(1.0, ge=0)
    referrals_made: float = Field(1.0, ge=0)
    referrals_converted: float = Field(3.0, ge=0)


class SpendSection(_Section):
    """Weights of recency, frequency and monetary percentiles in the RFM value."""

    recency: float = Field(1.0, ge=0)
    frequency: float = Field(1.0, ge=0)
    monetary: float = Field(1.0, ge=0)


class CommunitySection(_Section):
    """Communities (for per-community leaderboards; not part of the score)."""

    enabled: bool = True
    #: "plm": networkit's PLM with refinement (default); "leiden": igraph's Leiden
    method: Literal["plm", "leiden"] = "plm"
    resolution: float = Field(1.0, gt=0)
    seed: int = 0
    #: Leiden iterations (igraph's default 2; -1 = until nothing changes, slow on big graphs)
    iterations: int = Field(2, ge=-1)
    #: above this many undirected ties the method runs on the strongest-ties backbone
    #: (0 = never; ~2M keeps igraph's Leiden fast on 10M-tie graphs)
    backbone_above: int = Field(0, ge=0)
    #: strongest ties each user keeps in that backbone
    backbone_ties: int = Field(5, ge=1)

    @field_validator("iterations")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must be >= 1, or -1 for 'until stable'")
        return value


class LeaderboardSection(_Section):
    """Roles left out of the consumer KOC leaderboard unless ``--include-staff``."""

    staff_roles: tuple[str, ...] = (Role.EMPLOYEE.value, Role.KOL.value)

    @field_validator("staff_roles")
    @classmethod
    def _known_roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        allowed = [r.value for r in Role]
        for r in value:
            if r not in allowed:
                raise ValueError(f"unknown role {r!r}; use one of {', '.join(allowed)}")
        return value


class AudienceSection(_Section):
    """Lifecycle stages, KOC tiers and RFM segments of every run's users (the fact tags
    and text fields of segments, ``docs/segments.md``); not part of the score."""

    active_days: float = Field(30.0, gt=0)
    lost_days: float = Field(90.0, gt=0)
    window_days: float = Field(90.0, gt=0)
    trusting_orders: int = Field(1, ge=1)
    trusting_actions: int = Field(3, ge=1)
    loyal_orders: int = Field(3, ge=1)
    loyal_referrals: int = Field(1, ge=1)
    decline_ratio: float = Field(0.5, ge=0, le=1)
    decline_min_actions: int = Field(4, ge=1)
    tier_a: float = Field(0.01, gt=0, le=1)
    tier_b: float = Field(0.05, gt=0, le=1)
    tier_c: float = Field(0.20, gt=0, le=1)
    rfm_recent_days: float = Field(30.0, gt=0)
    rfm_frequent_orders: int = Field(3, ge=2)
    rfm_high_spend: float = Field(1000.0, ge=0)

    @field_validator("lost_days")
    @classmethod
    def _lost_after_active(cls, value: float, info: Any) -> float:
        active = info.data.get("active_days")
        if active is not None and value <= active:
            raise ValueError(f"must be greater than active_days ({active})")
        return value

    @field_validator("tier_c")
    @classmethod
    def _tiers_ordered(cls, value: float, info: Any) -> float:
        a, b = info.data.get("tier_a"), info.data.get("tier_b")
        if a is not None and b is not None and not a <= b <= value:
            raise ValueError("tiers must satisfy tier_a <= tier_b <= tier_c")
        return value


class ScoreConfig(_Section):
    """Everything ``koc rank`` needs besides the data. Hash it with :meth:`digest`."""

    weights: Weights = Field(default_factory=Weights)
    graph: GraphSection = Field(default_factory=GraphSection)
    pagerank: PageRankSection = Field(default_factory=PageRankSection)
    reach: ReachSection = Field(default_factory=ReachSection)
    attribution: AttributionSection = Field(default_factory=AttributionSection)
    conversion: ConversionSection = Field(default_factory=ConversionSection)
    evidence: EvidenceSection = Field(default_factory=EvidenceSection)
    engagement: EngagementSection = Field(default_factory=EngagementSection)
    spend: SpendSection = Field(default_factory=SpendSection)
    communities: CommunitySection = Field(default_factory=CommunitySection)
    leaderboard: LeaderboardSection = Field(default_factory=LeaderboardSection)
    audience: AudienceSection = Field(default_factory=AudienceSection)

    @field_validator("weights")
    @classmethod
    def _some_weight(cls, value: Weights) -> Weights:
        if not any(getattr(value, c) > 0 for c in COMPONENTS):
            raise ValueError("at least one component weight must be positive")
        return value

    @field_validator("spend")
    @classmethod
    def _some_rfm_weight(cls, value: SpendSection) -> SpendSection:
        if value.recency + value.frequency + value.monetary <= 0:
            raise ValueError("at least one of recency, frequency, monetary must be positive")
        return value

    def digest(self) -> str:
        """SHA-256 (first 16 hex digits) of the canonical JSON of the whole config."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_weights(self, weights: Mapping[str, float]) -> ScoreConfig:
        """A copy with new component weights (validated like a file)."""
        data = self.model_dump(mode="python")
        data["weights"] = {**data["weights"], **dict(weights)}
        return _validate(data, source="weights")


#: The scoring file: ``influence/default_scoring.toml`` under a user's file.
SCORING_FILE = TomlConfig(
    package="influence",
    defaults_file="default_scoring.toml",
    noun="scoring config",
    key="scoring_config",
    docs="docs/scoring.md",
    replace=("type_weights",),  # leaving an edge type out drops it
)


def _validate(data: Mapping[str, Any], source: str) -> ScoreConfig:
    return SCORING_FILE.validate(ScoreConfig, data, source)


def default_score_config() -> ScoreConfig:
    """The shipped defaults (``influence/default_scoring.toml``)."""
    return _validate(SCORING_FILE.defaults(), source=SCORING_FILE.defaults_source)


def load_score_config(path: str | Path | None = None) -> ScoreConfig:
    """Read a scoring TOML file on top of the defaults.

    Parameters
    ----------
    path : str or Path, optional
        The file; ``None`` gives :func:`default_score_config`.

    Returns
    -------
    ScoreConfig

    Raises
    ------
    ConfigError
        The file is missing, is not TOML, or has an unknown key or a bad value
        (``error.context["key"]`` is the dotted key).
    """
    base = default_score_config()
    if path is None:
        return base
    merged = SCORING_FILE.merge(base.model_dump(mode="python"), SCORING_FILE.read(path))
    return _validate(merged, source=str(path))


def as_score_config(config: ScoreConfig | str | Path | None) -> ScoreConfig:
    """``config`` itself when it is a :class:`ScoreConfig`, else :func:`load_score_config`
    of it (a file, or ``None`` for the defaults)."""
    return config if isinstance(config, ScoreConfig) else load_score_config(config)


def config_to_toml(config: ScoreConfig, header: str = "") -> str:
    """Write ``config`` as TOML text (the format :func:`load_score_config` reads)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    data = config.model_dump(mode="json")
    for section, values in data.items():
        nested = {k: v for k, v in values.items() if isinstance(v, dict)}
        lines.append(f"\n[{section}]")
        for key, value in values.items():
            if key not in nested:
                lines.append(f"{key} = {_toml_value(value)}")
        for key, table in nested.items():
            lines.append(f"\n[{section}.{key}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in table.items())
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")

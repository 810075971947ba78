"""Scoring config: defaults, partial files, validation errors naming the key, hashing."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from graph.errors import ConfigError
from influence.config import (
    COMPONENTS,
    EvidenceSection,
    config_to_toml,
    default_score_config,
    load_score_config,
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scoring.toml"
    path.write_text(text)
    return path


def test_default_config_matches_documented_defaults():
    cfg = default_score_config()
    assert cfg.weights.normalized() == pytest.approx(
        {
            "pagerank": 0.0,
            "reach": 0.0,
            "conversion": 0.6,
            "conversion_rate": 0.25,
            "engagement": 0.15,
            "spend": 0.0,
        }
    )
    # the shipped TOML and the pydantic defaults say the same (docs/scoring.md quotes both)
    assert cfg.evidence == EvidenceSection()
    assert math.fsum(cfg.weights.normalized().values()) == 1.0
    assert cfg.attribution.view_window_days == 7.0
    assert cfg.leaderboard.staff_roles == ("employee", "kol")


def test_load_without_path_is_default():
    assert load_score_config(None) == default_score_config()


def test_partial_file_overrides_only_given_keys(tmp_path):
    cfg = load_score_config(_write(tmp_path, "[weights]\npagerank = 1.0\n"))
    assert cfg.weights.pagerank == 1.0
    assert cfg.weights.conversion == default_score_config().weights.conversion
    assert cfg.digest() != default_score_config().digest()


@pytest.mark.parametrize(
    "text, key",
    [
        ("[weights]\npagerank = -1\n", "weights.pagerank"),
        ("[weights]\nfollowers = 1\n", "weights.followers"),
        ("[pagerank]\nalpha = 1.5\n", "pagerank.alpha"),
        ("[reach]\nhops = 0\n", "reach.hops"),
        ("[reach]\nregisters = 100\n", "reach.registers"),
        ("[graph.type_weights]\nlike = 1.0\n", "graph.type_weights"),
        ("[leaderboard]\nstaff_roles = ['boss']\n", "leaderboard.staff_roles"),
        ("[attribution]\nview_window_days = 0\n", "attribution.view_window_days"),
        ("[nonsense]\nx = 1\n", "nonsense"),
    ],
)
def test_invalid_value_raises_config_error_naming_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as info:
        load_score_config(_write(tmp_path, text))
    assert info.value.context["key"] == key
    assert repr(key) in info.value.message


def test_all_zero_weights_rejected(tmp_path):
    text = "[weights]\n" + "".join(f"{c} = 0\n" for c in COMPONENTS)
    with pytest.raises(ConfigError, match="at least one component weight") as info:
        load_score_config(_write(tmp_path, text))
    assert info.value.context["key"] == "weights"


def test_not_toml_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_score_config(_write(tmp_path, "[weights\n"))


def test_missing_file_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_score_config(tmp_path / "absent.toml")


def test_digest_is_stable_and_depends_on_values():
    a, b = default_score_config(), default_score_config()
    assert a.digest() == b.digest()
    assert a.with_weights({"spend": 0.5}).digest() != a.digest()


def test_with_weights_validates():
    with pytest.raises(ConfigError) as info:
        default_score_config().with_weights({"spend": -0.1})
    assert info.value.context["key"] == "weights.spend"


def test_config_to_toml_round_trips(tmp_path):
    cfg = default_score_config().with_weights({"pagerank": 0.7, "spend": 0.0})
    text = config_to_toml(cfg, header="fitted\nby test")
    assert text.startswith("# fitted\n# by test\n")
    tomllib.loads(text)
    assert load_score_config(_write(tmp_path, text)) == cfg

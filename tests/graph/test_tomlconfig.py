"""graph.tomlconfig: a user's TOML over shipped defaults, one merge and one error wording."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from graph.errors import ConfigError
from graph.tomlconfig import TomlConfig, deep_merge
from influence.config import SCORING_FILE
from referral.rules import RULES_FILE


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: int = 1
    b: int = 2


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "x"
    inner: _Inner = _Inner()


_FILE = TomlConfig(
    package="influence",
    defaults_file="default_scoring.toml",
    noun="test config",
    key="test_config",
    docs="docs/x.md",
)


def test_deep_merge_merges_tables_and_keeps_inputs():
    base = {"a": 1, "t": {"x": 1, "y": 2}, "w": {"p": 1, "q": 2}}
    over = {"t": {"y": 3}, "w": {"p": 5}, "new": 7}
    out = deep_merge(base, over, replace=("w",))
    assert out == {"a": 1, "t": {"x": 1, "y": 3}, "w": {"p": 5}, "new": 7}
    assert base == {"a": 1, "t": {"x": 1, "y": 2}, "w": {"p": 1, "q": 2}}


def test_deep_merge_scalar_over_table_replaces():
    assert deep_merge({"t": {"x": 1}}, {"t": 3}) == {"t": 3}


def test_read_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="Test config .* does not exist") as err:
        _FILE.read(tmp_path / "none.toml")
    assert err.value.context["key"] == "test_config"
    bad = tmp_path / "bad.toml"
    bad.write_text("a = [", "utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        _FILE.read(bad)


def test_validate_names_the_dotted_key_and_the_value():
    with pytest.raises(ConfigError, match=r"key 'inner.a'.*Got 'zz' instead") as err:
        _FILE.validate(_Model, {"inner": {"a": "zz"}}, "f.toml")
    assert err.value.context == {"key": "inner.a", "source": "f.toml"}
    with pytest.raises(ConfigError, match="unknown key; see docs/x.md"):
        _FILE.validate(_Model, {"nope": 1}, "f.toml")


def test_validate_without_input_quotes_no_value():
    quiet = TomlConfig(**{**_FILE.__dict__, "show_input": False})
    with pytest.raises(ConfigError) as err:
        quiet.validate(_Model, {"inner": {"a": "zz"}}, "f.toml")
    assert "Got" not in str(err.value)


def test_both_config_kinds_use_it():
    assert SCORING_FILE.defaults()["pagerank"] and RULES_FILE.defaults()["version"]
    assert SCORING_FILE.defaults_source == "influence/default_scoring.toml"
    assert RULES_FILE.defaults_source == "referral/default_rules.toml"

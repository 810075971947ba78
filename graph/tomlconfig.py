"""A user's TOML file over shipped defaults, validated by a pydantic model.

The scoring configuration (:mod:`influence.config`) and the commission rules
(:mod:`referral.rules`) are both a commented defaults file inside the package and a
user's file that overrides some keys. This module holds the one way to read, merge
and validate such a pair, and the one wording of its errors.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from graph.errors import ConfigError

__all__ = ["TomlConfig", "deep_merge"]

M = TypeVar("M", bound=BaseModel)


def deep_merge(
    base: Mapping[str, Any], override: Mapping[str, Any], *, replace: Collection[str] = ()
) -> dict[str, Any]:
    """``base`` with ``override`` merged in, table by table.

    Parameters
    ----------
    base, override : mapping
        Parsed TOML (nested dicts).
    replace : collection of str
        Keys of tables that the override replaces wholesale instead of merging
        (e.g. ``type_weights``: leaving an edge type out drops it).

    Returns
    -------
    dict
        A new dict; neither input is changed.
    """
    out = dict(base)
    for key, value in override.items():
        if key in out and isinstance(out[key], Mapping) and isinstance(value, Mapping):
            out[key] = (
                dict(value) if key in replace else deep_merge(out[key], value, replace=replace)
            )
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class TomlConfig:
    """How one kind of configuration file is read (see the module docstring).

    Attributes
    ----------
    package, defaults_file : str
        Where the shipped defaults live (``resources.files(package) / defaults_file``).
    noun : str
        What the file is called in messages (``"scoring config"``).
    key : str
        The setting that names the file (``"scoring_config"``), the ``key`` of read errors.
    docs : str
        The page listing the allowed keys.
    replace : collection of str
        Tables a user's file replaces instead of merging (:func:`deep_merge`).
    show_input : bool
        Quote the rejected value in validation errors.
    """

    package: str
    defaults_file: str
    noun: str
    key: str
    docs: str
    replace: Collection[str] = ()
    show_input: bool = True

    @property
    def defaults_source(self) -> str:
        """``package/defaults_file``, as messages name it."""
        return f"{self.package}/{self.defaults_file}"

    def defaults(self) -> dict[str, Any]:
        """The shipped defaults, parsed."""
        text = resources.files(self.package).joinpath(self.defaults_file).read_text("utf-8")
        return tomllib.loads(text)

    def read(self, path: str | Path) -> dict[str, Any]:
        """Parse a user's file.

        Raises
        ------
        ConfigError
            The file is missing or is not TOML (``context["key"]`` is :attr:`key`).
        """
        path = Path(path)
        what = self.noun[:1].upper() + self.noun[1:]
        try:
            return tomllib.loads(path.read_text("utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{what} {path} does not exist.", key=self.key) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{what} {path} is not valid TOML: {exc}.", key=self.key) from exc

    def merge(self, base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
        """:func:`deep_merge` with this kind's :attr:`replace` tables."""
        return deep_merge(base, override, replace=self.replace)

    def validate(self, model: type[M], data: Mapping[str, Any], source: str) -> M:
        """``model`` validated from ``data``, with the first problem as a ConfigError.

        Raises
        ------
        ConfigError
            An unknown key or a bad value; ``context["key"]`` is the dotted key and
            ``context["source"]`` is ``source``.
        """
        try:
            return model.model_validate(dict(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"]) or "(root)"
            msg = first["msg"]
            unknown = first["type"] == "extra_forbidden"
            if unknown:
                msg = f"unknown key; see {self.docs} for the allowed keys"
            got = ""
            if self.show_input and not unknown:
                got = f" Got {first.get('input')!r} instead."
            raise ConfigError(
                f"Invalid {self.noun} {source}: key {key!r}: {msg}.{got} "
                f"Fix the file (defaults: {self.defaults_source}).",
                key=key,
                source=source,
            ) from exc

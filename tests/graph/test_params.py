"""Declarative parameter checks: the one message shape and the one error type."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import pytest

from graph.errors import KocError, ParameterError
from graph.params import Interval, Options, Satisfies, check_params, validate_params


@validate_params(
    {
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "k": [Interval(Integral, 1, None), None],
        "mode": [Options(("fast", "exact"))],
    }
)
def _ranked(x: int, *, alpha: float = 0.5, k: int | None = None, mode: str = "fast") -> int:
    return x


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"alpha": 1.5},
            "The 'alpha' parameter of _ranked must be a float in (0, 1). Got 1.5 instead.",
        ),
        (
            {"alpha": 0},
            "The 'alpha' parameter of _ranked must be a float in (0, 1). Got 0 instead.",
        ),
        ({"k": 0}, "The 'k' parameter of _ranked must be an int >= 1 or None. Got 0 instead."),
        ({"k": 2.0}, "The 'k' parameter of _ranked must be an int >= 1 or None. Got 2.0 instead."),
        (
            {"mode": "slow"},
            "The 'mode' parameter of _ranked must be one of 'fast', 'exact'. Got 'slow' instead.",
        ),
    ],
)
def test_validate_params_message_names_parameter_function_and_value(kwargs, message):
    with pytest.raises(ParameterError) as info:
        _ranked(1, **kwargs)
    assert str(info.value) == message
    assert info.value.parameter == next(iter(kwargs))
    assert isinstance(info.value, KocError) and isinstance(info.value, ValueError)


def test_validate_params_accepts_valid_values_and_numpy_scalars():
    assert _ranked(3, alpha=np.float64(0.25), k=np.int64(5), mode="exact") == 3
    assert _ranked(3, k=None) == 3


def test_validate_params_checks_positional_arguments_and_defaults():
    @validate_params({"n": [Interval(Integral, 1, 10)]})
    def f(n: int = 11) -> int:
        return n

    with pytest.raises(ParameterError, match="an int in \\[1, 10\\]. Got 0"):
        f(0)
    with pytest.raises(ParameterError, match="Got 11"):  # a bad default is caught too
        f()


def test_interval_rejects_booleans_and_nan():
    assert not Interval(Integral, 0, None).accepts(True)
    assert not Interval(Real, None, None).accepts(math.nan)
    assert Interval(Real, None, None).accepts(-1e300)


@pytest.mark.parametrize(
    "interval, text",
    [
        (Interval(Real, 0, None, closed="neither"), "a float > 0"),
        (Interval(Integral, 0, None), "an int >= 0"),
        (Interval(Real, None, 1, closed="left"), "a float < 1"),
        (Interval(Real, 0, 1), "a float in [0, 1]"),
        (Interval(Integral, 4, 16, closed="right"), "an int in (4, 16]"),
    ],
)
def test_interval_describes_itself(interval, text):
    assert str(interval) == text


def test_satisfies_and_options_handle_odd_values():
    even = Satisfies(lambda v: v % 2 == 0, "an even number")
    assert even.accepts(4) and not even.accepts(3) and not even.accepts("x")
    assert not Options(("a",)).accepts(["unhashable"])


def test_check_params_ignores_parameters_without_constraints():
    check_params("f", {"a": [Interval(Integral, 0, None)]}, {"b": -1})
    with pytest.raises(ParameterError, match="of f must be"):
        check_params("f", {"a": [Interval(Integral, 0, None)]}, {"a": -1})


def test_validate_params_refuses_constraints_for_unknown_parameters():
    with pytest.raises(TypeError, match="unknown parameters"):

        @validate_params({"nope": [None]})
        def g(x: int) -> int:
            return x

"""Declarative checks of function and estimator parameters (the scikit-learn idea).

A function declares what each parameter accepts and the check runs before its body::

    @validate_params({"alpha": [Interval(Real, 0, 1, closed="neither")],
                      "max_iter": [Interval(Integral, 1, None)]})
    def pagerank(snapshot, *, alpha=0.85, max_iter=200): ...

A value that meets none of its constraints raises :class:`graph.errors.ParameterError`
with one message shape for the whole project, in the terms of the function called:
"The 'alpha' parameter of pagerank must be a float in (0, 1). Got 1.5 instead."
Estimators declare ``_parameter_constraints`` and call :func:`check_params` in ``fit``.

Constraints: :class:`Interval` (ints or reals between bounds), :class:`Options` (one of a
set of values), :class:`Satisfies` (a predicate with its description), ``None`` (the
value may be None) and a type (any instance of it).

References
----------
scikit-learn's ``sklearn/utils/_param_validation.py`` (``validate_params``,
``Interval``, ``StrOptions``, ``InvalidParameterError``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any, Literal, ParamSpec, TypeVar

from graph.errors import ParameterError

__all__ = ["Interval", "Options", "Satisfies", "Constraint", "check_params", "validate_params"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Interval:
    """Numbers of ``kind`` (``numbers.Integral`` or ``numbers.Real``) between two bounds.

    ``left``/``right`` None means unbounded; ``closed`` says which bounds belong to the
    interval. Booleans are never numbers here; NaN lies in no interval.
    """

    kind: type
    left: float | None
    right: float | None
    closed: Literal["both", "left", "right", "neither"] = "both"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        x: Any = value
        left_in, right_in = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.left is not None and not (x >= self.left if left_in else x > self.left):
            return False
        if self.right is not None and not (x <= self.right if right_in else x < self.right):
            return False
        return bool(x == x)  # NaN is in no interval

    def __str__(self) -> str:
        noun = "an int" if self.kind is Integral else "a float"
        left_in, right_in = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.left is None and self.right is None:
            return noun
        if self.right is None:
            return f"{noun} {'>=' if left_in else '>'} {_num(self.left)}"
        if self.left is None:
            return f"{noun} {'<=' if right_in else '<'} {_num(self.right)}"
        return (
            f"{noun} in {'[' if left_in else '('}{_num(self.left)}, "
            f"{_num(self.right)}{']' if right_in else ')'}"
        )


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (compared with ``==``)."""

    values: tuple[Any, ...]

    def __init__(self, values: Iterable[Any]) -> None:
        object.__setattr__(self, "values", tuple(values))

    def accepts(self, value: Any) -> bool:
        try:
            return value in self.values
        except TypeError:  # an unhashable or incomparable value is none of them
            return False

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Satisfies:
    """Any value for which ``predicate`` is true; ``description`` completes "must be ..."."""

    predicate: Callable[[Any], bool]
    description: str

    def accepts(self, value: Any) -> bool:
        try:
            return bool(self.predicate(value))
        except (TypeError, ValueError):
            return False

    def __str__(self) -> str:
        return self.description


Constraint = Interval | Options | Satisfies | type | None


def _num(x: float | None) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _accepts(constraint: Constraint, value: Any) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, type):
        return isinstance(value, constraint)
    return constraint.accepts(value)


def _describe(constraint: Constraint) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, type):
        return f"an instance of {constraint.__name__}"
    return str(constraint)


def check_params(
    caller: str, constraints: Mapping[str, Sequence[Constraint]], params: Mapping[str, Any]
) -> None:
    """Check each of ``params`` that has constraints; raise on the first that meets none.

    Parameters
    ----------
    caller : str
        The function or estimator named in the message.
    constraints : mapping of str to sequence of constraints
        What each parameter accepts (any one constraint suffices).
    params : mapping of str to object
        The values passed.

    Raises
    ------
    ParameterError
        "The '<name>' parameter of <caller> must be <constraints>. Got <value> instead."
    """
    for name, allowed in constraints.items():
        if name not in params:
            continue
        value = params[name]
        if any(_accepts(c, value) for c in allowed):
            continue
        described = [_describe(c) for c in allowed]
        must = (
            described[0]
            if len(described) == 1
            else (", ".join(described[:-1]) + " or " + described[-1])
        )
        raise ParameterError(
            f"The {name!r} parameter of {caller} must be {must}. Got {value!r} instead.",
            parameter=name,
            caller=caller,
            value=value,
        )


def validate_params(
    constraints: Mapping[str, Sequence[Constraint]], *, caller: str | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: check the decorated function's arguments against ``constraints``.

    Parameters
    ----------
    constraints : mapping of str to sequence of constraints
        Per parameter name, the constraints one of which its value must meet.
    caller : str, optional
        The name in messages (default: the function's name).
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(fn)
        unknown = set(constraints) - set(signature.parameters)
        if unknown:
            raise TypeError(f"constraints for unknown parameters of {fn.__name__}: {unknown}")
        name = caller or fn.__name__

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            check_params(name, constraints, bound.arguments)
            return fn(*args, **kwargs)

        wrapper.parameter_constraints = constraints  # type: ignore[attr-defined]
        return wrapper

    return decorate

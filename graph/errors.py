"""One exception hierarchy for KOC Graph.

Every error the project raises on purpose derives from :class:`KocError`. The
CLI turns them into one-line messages with a non-zero exit status; the HTTP API
turns them into its JSON error format (``code``, ``message``, ``details``).
Messages say what went wrong *and* what to do next.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "KocError",
    "ConfigError",
    "ParameterError",
    "IngestError",
    "ValidationFailure",
    "TooManyRejectsError",
    "StoreError",
    "SchemaError",
    "NotFoundError",
    "ConflictError",
    "SegmentError",
    "InvalidCursorError",
    "ScoringError",
    "ConvergenceError",
    "DeadlineExceeded",
    "AttributionError",
    "PolicyError",
]


class KocError(Exception):
    """Base class of every error KOC Graph raises on purpose.

    Parameters
    ----------
    message : str
        Human-readable explanation, including the next step for the user.
    **context : Any
        Machine-readable context (file, row, field, run id, ...), kept in
        :attr:`context` and shown by the CLI/API.
    """

    #: machine-readable code used by the API error format
    code: str = "koc_error"

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context: dict[str, Any] = context

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class ConfigError(KocError):
    """A setting or configuration file is invalid (names the key and the allowed values)."""

    code = "invalid_config"


class ParameterError(KocError, ValueError):
    """A function or estimator was called with a parameter value it does not accept.

    Raised by the declarative checks of :mod:`graph.params`; the message names the
    parameter, the function, what it accepts and the value given ("The 'alpha'
    parameter of pagerank must be a float in (0, 1). Got 1.5 instead."). Also a
    :class:`ValueError`, as Python code expects of a bad argument.

    Attributes
    ----------
    parameter : str
        The parameter's name.
    """

    code = "invalid_parameter"

    def __init__(self, message: str, *, parameter: str, **context: Any) -> None:
        super().__init__(message, parameter=parameter, **context)
        self.parameter = parameter


class IngestError(KocError):
    """An input file cannot be read at all (missing, unknown format, unreadable mapping)."""

    code = "ingest_error"


class TooManyRejectsError(IngestError):
    """A batch would quarantine more rows than allowed (``max_rejects``); nothing was stored.

    Attributes ``rejected``, ``read`` and ``limit``.
    """

    code = "too_many_rejects"


class ValidationFailure(IngestError):
    """One row failed validation.

    Attributes ``source``, ``row``, ``field``, ``value`` and ``reason`` name the
    exact place; rows that fail are quarantined, never silently dropped.
    """

    code = "invalid_row"

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        row: int | None = None,
        field: str | None = None,
        value: Any = None,
    ) -> None:
        where = ", ".join(
            p
            for p in (
                f"file {source}" if source else "",
                f"row {row}" if row is not None else "",
                f"field {field!r}" if field else "",
            )
            if p
        )
        super().__init__(
            f"{where}: {reason}" if where else reason,
            source=source,
            row=row,
            field=field,
            value=value,
            reason=reason,
        )
        self.source, self.row, self.field, self.value, self.reason = (
            source,
            row,
            field,
            value,
            reason,
        )


class StoreError(KocError):
    """The graph store failed or is unreachable."""

    code = "store_error"


class SchemaError(StoreError):
    """The store's schema is newer than this version of KOC Graph, or a migration failed."""

    code = "schema_error"


class NotFoundError(KocError):
    """A user, run, period or ledger entry does not exist."""

    code = "not_found"


class ConflictError(KocError):
    """The operation conflicts with current state (a run already in progress, a closed period)."""

    code = "conflict"


class SegmentError(KocError):
    """A segment expression does not parse or does not type-check.

    Attributes (also in :attr:`context`): ``expression``, ``position`` (0-based
    character offset of the offending token), ``token`` and ``caret`` (two lines:
    the expression and a ``^`` under the token).
    """

    code = "invalid_segment"


class InvalidCursorError(KocError):
    """A pagination cursor was not issued by this service, or belongs to another query."""

    code = "invalid_cursor"


class ScoringError(KocError):
    """Metrics or KOC scores cannot be computed (bad weights, empty graph, ...)."""

    code = "scoring_error"


class ConvergenceError(ScoringError):
    """An iterative algorithm did not converge within ``max_iter`` iterations.

    Attributes
    ----------
    iterations : int
        Iterations performed.
    residual : float
        L1 change of the last iteration.
    """

    code = "not_converged"

    def __init__(self, algorithm: str, iterations: int, residual: float, tol: float) -> None:
        super().__init__(
            f"{algorithm} did not converge in {iterations} iterations "
            f"(residual {residual:.3e} > tol {tol:.1e}); raise max_iter or loosen tol.",
            algorithm=algorithm,
            iterations=iterations,
            residual=residual,
            tol=tol,
        )
        self.iterations = iterations
        self.residual = residual


class DeadlineExceeded(ScoringError):
    """A computation ran past its time budget (e.g. an HTTP request's deadline).

    Attributes
    ----------
    operation : str
        What was running.
    budget_s : float or None
        The time budget in seconds, when known.
    """

    code = "deadline_exceeded"

    def __init__(self, operation: str, budget_s: float | None = None, **context: Any) -> None:
        budget = f" of {budget_s:.3g} s" if budget_s is not None else ""
        super().__init__(
            f"{operation} ran past its time budget{budget}; ask for fewer hops or users, "
            "or use the approximate (HyperANF) reach.",
            operation=operation,
            budget_s=budget_s,
            **context,
        )
        self.operation = operation
        self.budget_s = budget_s


class AttributionError(KocError):
    """Commission attribution failed (inconsistent ledger or inputs)."""

    code = "attribution_error"


class PolicyError(ConfigError):
    """A commission rule violates policy (e.g. more than 3 referral levels)."""

    code = "policy_violation"

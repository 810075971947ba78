"""The no-Eager check: ``EXPLAIN`` every load statement and look for ``Eager`` operators.

An ``Eager`` operator makes Neo4j materialise all input rows of a statement before
writing (to protect later reads from earlier writes), which turns a streaming
``UNWIND`` load into one that holds the whole batch in memory. The load statements
of :mod:`graph.cypher` are written to plan without one; run
:func:`explain_load_queries` against your server (or ``koc sync --to neo4j
--check-plans``) to confirm it for its Neo4j version. See ``docs/neo4j.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graph import cypher as q

__all__ = ["find_eager", "explain_load_queries"]


def find_eager(plan: Mapping[str, Any] | None) -> list[str]:
    """Operators named ``Eager`` in a query plan (as returned by ``EXPLAIN``), depth first.

    ``EagerAggregation`` is an ordinary aggregation and is not reported; an
    ``Eager`` operator materialises all rows before writing, which turns a
    batched ``UNWIND`` load into one that holds every row in memory.
    """
    found: list[str] = []
    stack = [plan] if plan else []
    while stack:
        node = stack.pop()
        name = str(node.get("operatorType", "")).split("@")[0]
        if name == "Eager":
            details = node.get("args", {}).get("Details", "")
            found.append(f"{name} {details}".strip())
        stack.extend(reversed(node.get("children", [])))
    return found


def explain_load_queries(driver: Any, database: str = "neo4j") -> dict[str, list[str]]:
    """Run ``EXPLAIN`` on every load statement; map each name to its Eager operators.

    An empty list for every statement means no load plan materialises its input.
    ``koc sync --to neo4j --check-plans`` runs this before copying.
    """
    report: dict[str, list[str]] = {}
    with driver.session(database=database) as session:
        for stmt in q.LOAD_STATEMENTS:
            summary = session.run(q.explain(stmt), stmt.params).consume()
            report[stmt.name] = find_eager(summary.plan)
    return report

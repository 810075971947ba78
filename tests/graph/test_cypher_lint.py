"""Every Cypher statement of graph/cypher.py passes Neo4j's own linter.

The linter is ``@neo4j-cypher/language-support`` (pinned in tools/cypher-lint,
installed by scripts/test-setup.d/cypher-lint.sh). Each statement is linted with
only its own declared parameters, labels, relationship types and property keys
of the data model, and Neo4j 5's function/procedure catalogue; any error or
warning fails the build.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from graph import cypher

ROOT = Path(__file__).resolve().parents[2]
LINT_DIR = ROOT / "tools" / "cypher-lint"
SETUP = ROOT / "scripts" / "test-setup.d" / "cypher-lint.sh"


@pytest.fixture(scope="module")
def lint(tmp_path_factory: pytest.TempPathFactory):
    """A function linting ``[{name, query, parameters}]``; returns ``{name: diagnostics}``."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Cypher linter (tools/cypher-lint) needs Node 20+")
    if not (LINT_DIR / "node_modules" / "@neo4j-cypher" / "language-support").is_dir():
        subprocess.run(["bash", str(SETUP)], check=True, timeout=300)
    tmp = tmp_path_factory.mktemp("cypher-lint")
    schema = tmp / "schema.json"
    schema.write_text(
        json.dumps(
            {
                "labels": list(cypher.LABELS),
                "relationshipTypes": list(cypher.ALL_REL_TYPES),
                "propertyKeys": list(cypher.PROPERTY_KEYS),
            }
        )
    )

    def run(statements: list[dict]) -> dict[str, list[dict]]:
        path = tmp / "statements.json"
        path.write_text(json.dumps(statements, default=str))
        out = subprocess.run(
            [node, "lint.mjs", str(path), str(schema)],
            cwd=LINT_DIR,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return {r["name"]: r["diagnostics"] for r in json.loads(out.stdout)}

    return run


def _payload(statements: list[cypher.Statement]) -> list[dict]:
    return [{"name": s.name, "query": s.text, "parameters": s.params} for s in statements]


def test_cypher_statements_lint_clean(lint) -> None:
    statements = cypher.all_statements()
    report = lint(_payload(statements))
    assert set(report) == {s.name for s in statements}
    problems = {
        name: [f"{d['level']}: {d['message']}" for d in diags if d["severity"] <= 2]
        for name, diags in report.items()
    }
    assert {k: v for k, v in problems.items() if v} == {}


def test_cypher_lint_detects_broken_statements(lint) -> None:
    # the gate must be able to fail: syntax error, undeclared parameter, unknown label, type error
    report = lint(
        [
            {
                "name": "syntax",
                "query": "UNWIND $rows AS r MERGE (u:User {user_id: r.id)",
                "parameters": {"rows": []},
            },
            {"name": "param", "query": "MATCH (u:User {user_id: $uid}) RETURN u", "parameters": {}},
            {"name": "label", "query": "MATCH (u:Usr) RETURN u.user_id", "parameters": {}},
            {"name": "types", "query": "RETURN 'a' * 2 AS x", "parameters": {}},
            {"name": "ok", "query": cypher.USER_IDX.text, "parameters": cypher.USER_IDX.params},
        ]
    )
    assert any(d["severity"] == 1 for d in report["syntax"])
    assert any("$uid" in d["message"] for d in report["param"])
    assert any("Usr" in d["message"] for d in report["label"])
    assert any(d["severity"] == 1 for d in report["types"])
    assert report["ok"] == []


def test_cypher_parameters_declared_exactly() -> None:
    # the linter flags used-but-undeclared parameters; this flags declared-but-unused ones
    for stmt in cypher.all_statements():
        used = set(re.findall(r"\$(\w+)", stmt.text))
        assert used == set(stmt.params), stmt.name


def test_cypher_statement_names_unique() -> None:
    names = [s.name for s in cypher.all_statements()]
    assert len(names) == len(set(names))
    assert {s.name for s in cypher.LOAD_STATEMENTS} <= set(names)


def test_cypher_lives_only_in_cypher_module() -> None:
    pattern = re.compile(r"\b(MATCH|MERGE|UNWIND|CREATE CONSTRAINT|DETACH DELETE)\s*[($]")
    offenders = []
    for package in ("graph", "influence", "referral", "api"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "cypher.py":
                continue
            if pattern.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []

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


#: Deliberately broken statements linted alongside the real ones: the gate must be able to fail.
PROBES = [
    {
        "name": "probe_syntax",
        "query": "UNWIND $rows AS r MERGE (u:User {user_id: r.id)",
        "parameters": {"rows": []},
    },
    {"name": "probe_param", "query": "MATCH (u:User {user_id: $uid}) RETURN u", "parameters": {}},
    {"name": "probe_label", "query": "MATCH (u:Usr) RETURN u.user_id", "parameters": {}},
    {"name": "probe_types", "query": "RETURN 'a' * 2 AS x", "parameters": {}},
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """Diagnostics per statement name, for every statement of graph/cypher.py plus :data:`PROBES`."""
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
    statements = [
        {"name": s.name, "query": s.text, "parameters": s.params} for s in cypher.all_statements()
    ]
    path = tmp / "statements.json"
    path.write_text(json.dumps(statements + PROBES, default=str))
    out = subprocess.run(
        [node, "lint.mjs", str(path), str(schema)],
        cwd=LINT_DIR,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return {r["name"]: r["diagnostics"] for r in json.loads(out.stdout)}


def test_cypher_statements_lint_clean(report: dict[str, list[dict]]) -> None:
    names = {s.name for s in cypher.all_statements()}
    assert names <= set(report)
    problems = {
        name: [f"{d['level']}: {d['message']}" for d in report[name] if d["severity"] <= 2]
        for name in names
    }
    assert {k: v for k, v in problems.items() if v} == {}


def test_cypher_lint_detects_broken_statements(report: dict[str, list[dict]]) -> None:
    assert any(d["severity"] == 1 for d in report["probe_syntax"])
    assert any("$uid" in d["message"] for d in report["probe_param"])
    assert any("Usr" in d["message"] for d in report["probe_label"])
    assert any(d["severity"] == 1 for d in report["probe_types"])


def test_cypher_parameters_declared_exactly() -> None:
    # the linter flags used-but-undeclared parameters; this flags declared-but-unused ones
    for stmt in cypher.all_statements():
        used = set(re.findall(r"\$(\w+)", stmt.text))
        assert used == set(stmt.params), stmt.name


def test_cypher_statement_names_unique() -> None:
    names = [s.name for s in cypher.all_statements()]
    assert len(names) == len(set(names))
    assert {s.name for s in cypher.LOAD_STATEMENTS} <= set(names)


def test_cypher_load_statements_are_batched_unwinds() -> None:
    # every batched write goes through the Eager check, and every one is an UNWIND $rows
    loads = {s.name for s in cypher.all_statements() if s.kind == "load"}
    assert loads == {s.name for s in cypher.LOAD_STATEMENTS}
    assert all(s.text.startswith("UNWIND $rows AS r ") for s in cypher.LOAD_STATEMENTS)


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

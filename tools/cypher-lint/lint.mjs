// Lint Cypher statements with Neo4j's own linter (@neo4j-cypher/language-support).
//
// Usage: node lint.mjs STATEMENTS.json [SCHEMA.json]
//   STATEMENTS.json: [{"name": ..., "query": ..., "parameters": {...}}, ...]
//   SCHEMA.json (optional): {"labels": [...], "relationshipTypes": [...], "propertyKeys": [...]}
// Prints a JSON list [{"name", "diagnostics": [{"severity", "level", "message", "line", "character"}]}]
// on stdout. Each statement is linted with only its own declared parameters, so a
// parameter used but not declared is reported. Functions and procedures are
// checked against the Neo4j 5 catalogue shipped with the package.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// The package's ESM build uses extension-less imports that Node refuses; use its CJS build.
const require = createRequire(import.meta.url);
const { lintCypherQuery, testData } = require('@neo4j-cypher/language-support');

const [statementsPath, schemaPath] = process.argv.slice(2);
if (!statementsPath) {
  console.error('usage: node lint.mjs STATEMENTS.json [SCHEMA.json]');
  process.exit(64);
}
const statements = JSON.parse(readFileSync(statementsPath, 'utf8'));
const declared = schemaPath ? JSON.parse(readFileSync(schemaPath, 'utf8')) : {};
const LEVELS = { 1: 'error', 2: 'warning', 3: 'information', 4: 'hint' };

const results = statements.map(({ name, query, parameters }) => {
  const dbSchema = {
    ...declared,
    functions: testData.mockSchema.functions,
    procedures: testData.mockSchema.procedures,
    parameters: parameters ?? {},
    defaultLanguage: 'CYPHER 5',
  };
  const diagnostics = lintCypherQuery(query, dbSchema).map((d) => ({
    severity: d.severity,
    level: LEVELS[d.severity] ?? String(d.severity),
    message: d.message,
    line: d.range?.start?.line,
    character: d.range?.start?.character,
  }));
  return { name, diagnostics };
});
process.stdout.write(JSON.stringify(results, null, 1) + '\n');

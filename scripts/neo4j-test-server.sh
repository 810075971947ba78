# A throw-away Neo4j server for the live tests, sourced by scripts/test.sh.
#
#   source scripts/neo4j-test-server.sh && koc_test_neo4j_start
#
# When ../shared/neo4j (a Neo4j 5.26 distribution with start-neo4j.sh; override the folder with
# KOC_NEO4J_DIST) and `java` are present, starts a server in a new temporary directory on a free
# loopback port, waits until Bolt answers, exports KOC_NEO4J_URI/USER/PASSWORD (so the
# `neo4j`-marked tests, the store contract suite and the Neo4j end-to-end test run against it)
# and stops it and removes the directory when the calling shell exits. Otherwise it prints why
# the live tests will skip and returns 0, so a fresh clone without ../shared still passes.
# KOC_NEO4J_URI already set: that server is used as is (the live tests WIPE its database).
# A server that is present but fails to start fails the run (a skip would hide the failure).

koc_test_neo4j_dir=""

koc_test_neo4j_stop() {
  if [ -n "$koc_test_neo4j_dir" ] && [ -x "$koc_test_neo4j_dir/neo4j/bin/neo4j" ]; then
    echo "==> stopping the test Neo4j server ($koc_test_neo4j_dir)"
    NEO4J_HOME="$koc_test_neo4j_dir/neo4j" "$koc_test_neo4j_dir/neo4j/bin/neo4j" stop >/dev/null 2>&1 || true
    rm -rf "$koc_test_neo4j_dir"
  fi
  koc_test_neo4j_dir=""
}

koc_test_neo4j_free_port() {
  # a port p with p and p + 1 (Neo4j's HTTP connector) both free on 127.0.0.1
  python3 - <<'EOF'
import socket
for _ in range(50):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if port >= 65535:
        continue
    try:
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", port))
            b.bind(("127.0.0.1", port + 1))
    except OSError:
        continue
    print(port)
    break
EOF
}

koc_test_neo4j_start() {
  local dist=${KOC_NEO4J_DIST:-../shared/neo4j}
  if [ -n "${KOC_NEO4J_URI:-}" ]; then
    echo "using the Neo4j server at KOC_NEO4J_URI=$KOC_NEO4J_URI for the live tests (they wipe its database)"
    return 0
  fi
  if [ ! -f "$dist/start-neo4j.sh" ]; then
    echo "no Neo4j distribution at $dist (start-neo4j.sh): the live Neo4j tests will be skipped" \
         "(set KOC_NEO4J_URI or KOC_NEO4J_DIST to run them)"
    return 0
  fi
  if ! command -v java >/dev/null 2>&1; then
    echo "java is not on PATH: the live Neo4j tests will be skipped" \
         "(apt-get install -y openjdk-17-jre-headless to run them)"
    return 0
  fi
  local port exports
  port=$(koc_test_neo4j_free_port)
  koc_test_neo4j_dir=$(mktemp -d "${TMPDIR:-/tmp}/koc-test-neo4j.XXXXXX")
  trap koc_test_neo4j_stop EXIT
  echo "==> starting a test Neo4j server from $dist in $koc_test_neo4j_dir (Bolt port $port)"
  if ! exports=$(KOC_NEO4J_TEST_PORT=$port bash "$dist/start-neo4j.sh" "$koc_test_neo4j_dir"); then
    echo "the test Neo4j server did not start; its log:" >&2
    tail -n 40 "$koc_test_neo4j_dir/neo4j/logs/neo4j.log" >&2 2>/dev/null || true
    return 1
  fi
  eval "$(grep '^export ' <<<"$exports")"
  echo "Neo4j is up: KOC_NEO4J_URI=$KOC_NEO4J_URI (stopped when the tests end)"
}

# store_lib.sh — sourced by the tests that need a small store holding every
# kind of memory (test_migrate.sh, test_transfer_pg.sh, test_cli_transfer.sh),
# after serve_lib.sh (for py).
idof() { py 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])'; }

# sample_store CMD: CMD (a function running `mnemo memory ARGS...` on the
# store) adds A, B (namespace n1: a user, an agent and a ttl, metadata), C,
# D (n2: a session), E (n3: the "query" prompt), changes A's text and
# deletes D: 4 memories live, 7 history events.
sample_store() {
  local m=$1
  A=$($m add --namespace n1 --user-id u1 --metadata '{"topic": "space", "year": 2020}' 'Mars looks red' | idof)
  B=$($m add --namespace n1 --agent-id a1 --ttl 100000 --metadata '{"tags": ["x", "y"]}' 'Paris is in France' | idof)
  C=$($m add --namespace n2 --session-id s1 'The Moon orbits the Earth' | idof)
  D=$($m add --namespace n2 'Forget me soon' | idof)
  E=$($m add --namespace n3 --prompt query 'Embedded as a query' | idof)
  $m update --text 'Mars is the red planet' "$A" >/dev/null
  $m delete "$D" >/dev/null
}

"""test_openapi.py — the OpenAPI document of `mnemo serve` against the live server.

1. The document the server serves at /openapi.json is the repository's
   src/server/console/openapi.json, and it is a valid OpenAPI 3.1 document
   (openapi-spec-validator).
2. Every operation it documents is answered by the running server (a real
   request of that method and path: never "no route" nor 405); an
   undocumented path is 404 with Allow-less JSON. (The other way round, every
   route the server dispatches is documented: test_console_routes, in C,
   against the same tables.)
3. schemathesis (every phase: examples, coverage, fuzzing, stateful) runs
   against it for MNEMO_SCHEMATHESIS_SECONDS (default 90) seconds, from the
   seed MNEMO_SCHEMATHESIS_SEED (default 20261201, so a CI run repeats the
   cases a developer saw pass; "random" for a new seed each run, to explore;
   the seed is printed either way): no 5xx,
   every status, Content-Type, header and body as documented; the server is
   still up afterwards and its /v1/status counts no 5xx. It prints the
   operations, cases and failures. Two checks are left out, for reasons of
   the API, not of the server: positive_data_acceptance (which values are
   valid depends on the served model: its name, prompt names, width and
   vocabulary, which a static document cannot list) and use_after_free (a
   deleted memory keeps its history on purpose: GET /v1/memories/{id}/history
   answers after DELETE). GET /v1/embeddings/ws is an RFC 6455 upgrade, which
   an HTTP fuzzer cannot speak (test_serve_clients.py tests it).

usage: python test_openapi.py MNEMO MODEL_DIR WORK_DIR SPEC_FILE
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_util  # noqa: E402 (by path: the tests' own helper, standard library only)

from openapi_spec_validator import validate

MNEMO, MODEL, WORK, SPEC = sys.argv[1:5]
SECONDS = int(os.environ.get("MNEMO_SCHEMATHESIS_SECONDS", "90"))
SEED = os.environ.get("MNEMO_SCHEMATHESIS_SEED", "20261201")
check = serve_util.Checks()  # check(name, ok, detail): counts, prints a FAIL line


data = os.path.join(WORK, "openapi-data")
shutil.rmtree(data, ignore_errors=True)
srv = serve_util.Server(MNEMO, MODEL, "--data-dir", data, "--log-level", "info")
proc, URL = srv.proc, srv.url


def call(method, path, body=None):
    req = urllib.request.Request(URL + path, None if body is None else json.dumps(body).encode(),
                                 {"Content-Type": "application/json"} if body is not None else {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def fives():
    """The server's 5xx answers so far, by route and status (from /v1/status)."""
    with urllib.request.urlopen(URL + "/v1/status", timeout=60) as r:
        return {(x["route"], x["status"]): x["count"] for x in json.loads(r.read())["requests"]["by_route"]
                if x["status"] >= 500}


# the 503s of /health while the model loaded are not the API's: count from here
fives_before = fives()

# --- 1. the served document is the repository's, and valid OpenAPI 3.1
code, served = call("GET", "/openapi.json")
check("GET /openapi.json: 200", code == 200)
check("the served document is src/server/console/openapi.json", served == open(SPEC, "rb").read())
doc = json.loads(served)
try:
    validate(doc)
    check("openapi-spec-validator: valid", True)
except Exception as e:  # the validator's own error says where
    check("openapi-spec-validator: valid", False, str(e)[:2000])
check("OpenAPI 3.1", doc.get("openapi", "").startswith("3.1"))

# --- 2. every documented operation is answered
ops = [(m.upper(), p) for p, item in doc["paths"].items() for m in item
       if m in ("get", "put", "post", "patch", "delete")]
for method, path in ops:
    concrete = path.replace("{id}", "0123456789abcdef0123456789abcdef")
    code, body = call(method, concrete, {} if method in ("POST", "PATCH", "PUT") else None)
    no_route = code == 404 and b"no route" in body
    check(f"{method} {path} is answered", not no_route and code != 405 and code < 500, f"{code} {body[:200]}")
code, body = call("GET", "/v1/nothing-here")
check("an undocumented path: 404 no route", code == 404 and b"no route" in body, code)
print(f"{len(ops)} documented operations, each answered")

# --- 3. schemathesis for a bounded time
st = os.path.join(os.path.dirname(sys.executable), "schemathesis")
cmd = [st, "run", URL + "/openapi.json", "--url", URL, "--max-time", str(SECONDS),
       "--exclude-path", "/v1/embeddings/ws", "--exclude-checks", "positive_data_acceptance,use_after_free",
       "--request-timeout", "30", "--no-color"]
if SEED != "random":
    cmd += ["--seed", str(int(SEED))]
print("running:", " ".join(cmd), flush=True)
t0 = time.time()
run = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS * 3 + 300)
out = run.stdout + run.stderr
tested = re.search(r"Tested:\s*(\d+)", out)
cases = re.search(r"(\d+) generated, (\d+) found|(\d+) generated", out)
n_cases = int(cases.group(1) or cases.group(3)) if cases else 0
n_fail = int(cases.group(2)) if cases and cases.group(2) else 0
print(f"schemathesis: {tested.group(1) if tested else '?'} operations, {n_cases} cases, {n_fail} failures, "
      f"{time.time() - t0:.0f} s (exit {run.returncode})")
if run.returncode != 0:
    print(out[-20000:], file=sys.stderr)
check("schemathesis: no failures", run.returncode == 0 and n_fail == 0, f"exit {run.returncode}")
# every operation but the WebSocket and GET /openapi.json (schemathesis leaves
# out the operation that serves the document it reads; step 1 checks that one)
check("schemathesis: tested every operation but the WebSocket and the document",
      tested is not None and int(tested.group(1)) == len(ops) - 2, tested and tested.group(1))
check("schemathesis: ran cases", n_cases >= 100, n_cases)
check("the server is still up", proc.poll() is None)
new_fives = {k: v - fives_before.get(k, 0) for k, v in fives().items() if v > fives_before.get(k, 0)}
check("no 5xx answered", not new_fives, new_fives)
code, body = call("GET", "/v1/status")
print(f"server: {json.loads(body)['requests']['total']} requests answered, 5xx during the tests: {sum(new_fives.values())}")

proc.send_signal(signal.SIGTERM)
check("server stops cleanly", proc.wait(timeout=60) == 0)
server_log = srv.text_log()
for line in server_log.splitlines() if new_fives else []:  # the log lines of the 5xx say which requests
    if re.search(r" status=5\d\d ", line):
        print("5xx:", line[:400], file=sys.stderr)
check("no sanitizer report", "ERROR: AddressSanitizer" not in server_log and "runtime error" not in server_log,
      server_log[-3000:])
os.unlink(srv.log.name)
print(f"{check.passed} passed, {check.failed} failed")
sys.exit(1 if check.failed or not check.passed else 0)

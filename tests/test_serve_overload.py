"""test_serve_overload.py — more connections than `mnemo serve` allows get
answers, never resets.

The server runs with small limits (--max-connections-per-ip 8,
--max-connections 12). Keep-alive clients, more than either limit allows,
send requests for a few seconds from two loopback addresses (127.0.0.1 and
127.0.0.2, so both the per-address and the total limit are crossed): GETs of
/health and POSTs of /v1/embeddings with a body (a connection over a limit
must read the body before it answers, or closing on unread bytes would reset
it). Every request must get an HTTP answer: 200, or 503 with Retry-After, a
JSON error naming the limit, and Connection: close; and every client gets
answers (none waits for a slot). Counted: answers by
status, and connection errors (resets, broken pipes, closes without a
response), which must be 0. Then /metrics: the admitted connections counted
back down to the one asking, the refusals counted under their reason.
Standard-library Python only.

usage: python3 test_serve_overload.py MNEMO MODEL_DIR
       (OVERLOAD="PER_IP TOTAL CLIENTS SECONDS" for another load, one address)
"""
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_util  # noqa: E402

MNEMO, MODEL = sys.argv[1], sys.argv[2]
PER_IP, TOTAL = 8, 12
CLIENTS = {"127.0.0.1": 14, "127.0.0.2": 10}  # 24 clients, 6 and 2 over per address, 12 over in all
SECONDS = 4.0
# A bigger run by hand, e.g. the default limits (64 per address, 256) with 96
# clients on one address for 15 s: OVERLOAD="64 256 96 15".
if os.environ.get("OVERLOAD"):
    per_ip, total, n, secs = os.environ["OVERLOAD"].split()
    PER_IP, TOTAL, CLIENTS, SECONDS = int(per_ip), int(total), {"127.0.0.1": int(n)}, float(secs)

check = serve_util.Checks()
srv = serve_util.Server(MNEMO, MODEL, "--max-connections-per-ip", str(PER_IP), "--max-connections", str(TOTAL))

lock = threading.Lock()
answers = {}
errors = {}
bad_503 = []
answered_clients = set()  # clients that got at least one answer: none may hang waiting for a slot
body = json.dumps({"input": "a short text", "model": os.path.basename(MODEL.rstrip("/"))})


def count(table, key):
    with lock:
        table[key] = table.get(key, 0) + 1


def client(source, i, stop):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30, source_address=(source, 0))
    n = 0
    while not stop.is_set():
        n += 1
        try:
            if n % 2:
                conn.request("GET", "/health")
            else:
                conn.request("POST", "/v1/embeddings", body=body, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            count(answers, r.status)
            with lock:
                answered_clients.add((source, i))
            if r.status == 503:
                try:
                    err = json.loads(data)["error"]
                    ok = (r.getheader("Retry-After") == "1" and (r.getheader("Connection") or "").lower() == "close"
                          and "--max-connections" in err["message"] and err["code"] == "too_many_connections")
                except (ValueError, KeyError, TypeError):
                    ok = False
                if not ok:
                    with lock:
                        bad_503.append((r.getheaders(), data[:300]))
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            count(errors, type(e).__name__)
            conn.close()
            time.sleep(0.01)


stop = threading.Event()
threads = [threading.Thread(target=client, args=(src, i, stop)) for src, n in CLIENTS.items() for i in range(n)]
for t in threads:
    t.start()
time.sleep(SECONDS)
stop.set()
for t in threads:
    t.join()

print(f"answers by status: {dict(sorted(answers.items()))}; connection errors: {errors or 0}")
check("no connection errors (resets, broken pipes, closes without an answer)", not errors, str(errors))
check("most requests were served (200)", answers.get(200, 0) > 100, str(answers))
check("connections over a limit were answered 503", answers.get(503, 0) > 0, str(answers))
check("only 200 and 503", set(answers) <= {200, 503}, str(answers))
n_clients = sum(CLIENTS.values())
check("every client got answers (none left waiting for a slot)", len(answered_clients) == n_clients,
      f"{len(answered_clients)} of {n_clients}")
check("every 503 has Retry-After: 1, Connection: close and an error naming the limit", not bad_503,
      str(bad_503[:2]))

# the refusals are counted by reason; with the clients gone every slot is
# free again: a fresh connection is admitted, and it is the only one counted
time.sleep(0.5)
c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
c.request("GET", "/metrics")
r = c.getresponse()
text = r.read().decode()
check("a connection after the load is admitted", r.status == 200, str(r.status))
open_now = [line for line in text.splitlines() if line.startswith("mnemo_connections_open ")]
check("the admitted connections are counted back down", open_now == ["mnemo_connections_open 1"], str(open_now))
rejected = [line for line in text.splitlines()
            if line.startswith('mnemo_requests_rejected_total{reason="too_many_connections"}')]
check("refusals counted under reason too_many_connections",
      rejected and float(rejected[0].split()[-1]) >= answers.get(503, 0), str(rejected))
c.close()

check("server exits cleanly", srv.stop() == 0)
print(f"{check.passed} passed, {check.failed} failed")
sys.exit(1 if check.failed else 0)

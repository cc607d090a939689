"""test_serve_kill.py — durability of `mnemo serve` itself under SIGKILL.

Many rounds, each: start `mnemo serve --data-dir DIR` on the tiny model (the
same folder every round), let several client threads POST /v1/memories
(one memory at the top level, and batches of 2..8) and record every id the
server answered 200 for, with its text; SIGKILL the server after a random
delay (a seeded RNG: the seed is printed, pass it back to repeat a run);
check PRAGMA integrity_check on the files the dead server left; restart it
and check through GET /v1/memories/{id} that each acknowledged memory is
there with its text, and that the count lies between the acknowledged and
the attempted adds. At the end every acknowledged memory of every round is
read back (by id and by listing), and the lock is checked both ways: a dead
server's memories.lock never makes the restarted one read-only (flock dies
with its process), while a second live server on the folder is refused
writes (503, naming the other process) and still reads.

With a PostgreSQL URL as the last argument (tests/with_pg.sh passes one) the
same rounds run on `mnemo serve --store URL`: no files to check (PostgreSQL
keeps its own), and a second live server is a replica that reads and writes.

Dedup is off (--no-dedup) so that each acknowledged add is its own row and
can be checked by id and text; dedup's own kill safety is the same write
path. Standard-library Python only (http.client, sqlite3).

usage: python3 test_serve_kill.py MNEMO MODEL_DIR WORK_DIR [ROUNDS] [SEED] [postgresql://...]
"""
import http.client
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_util  # noqa: E402 (by path: the tests' own helper, standard library only)

STORE_URL = sys.argv.pop() if sys.argv[-1].startswith(("postgres://", "postgresql://")) else None
MNEMO, MODEL, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
ROUNDS = int(sys.argv[4]) if len(sys.argv) > 4 else 200
SEED = int(sys.argv[5]) if len(sys.argv) > 5 else int(time.time())
THREADS = 4
MAX_DELAY = 0.25  # seconds of adding before the kill, at most
NS = "kill"

check = serve_util.Checks()  # check(name, ok, detail): counts, prints a FAIL line


DATA = os.path.join(WORK, f"serve-kill-{os.getpid()}")
DB = os.path.join(DATA, "memories.db")
shutil.rmtree(DATA, ignore_errors=True)
os.makedirs(DATA)


class Server:
    """One `mnemo serve` process on DATA, ready when the constructor returns."""

    def __init__(self, tag):
        self.log_path = os.path.join(WORK, f"serve-kill-{os.getpid()}-{tag}.log")
        self.log = open(self.log_path, "wb")
        t0 = time.monotonic()
        self.proc = serve_util.start(
            [MNEMO, "serve", "--model", MODEL, *(["--store", STORE_URL] if STORE_URL else ["--data-dir", DATA]),
             "--port", "0", "--no-dedup", "--threads", "1"], self.log)
        self.port = serve_util.listening_port(self.log_path, self.proc, timeout=30, poll=0.005)
        self.ready = bool(self.port) and serve_util.wait_healthy(
            f"http://127.0.0.1:{self.port}", self.proc, timeout=60 - (time.monotonic() - t0), poll=0.005)
        self.start_seconds = time.monotonic() - t0
        self.conn = None

    def text_log(self):
        return open(self.log_path, "rb").read().decode("utf-8", "replace")

    def request(self, method, path, body=None, conn=None):
        """(status, parsed JSON) over conn (kept alive) or a new connection."""
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        r = c.getresponse()
        raw = r.read()
        if not conn:
            c.close()
        return r.status, json.loads(raw) if raw else None

    def api(self, method, path, body=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        return self.request(method, path, body, self.conn)

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        """SIGTERM; the exit status (None if it had to be killed after 60 s)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.log.close()
        return rc


acked = {}  # id -> text, over every round
acked_lock = threading.Lock()
attempted = 0  # memories sent in a request (acknowledged or not)
unexpected = []  # statuses or errors that were not an effect of the kill


def adder(server, round_no, t, killed, round_acks):
    """Adds until the kill; records what came back 200, in input order."""
    global attempted
    rng = random.Random(SEED * 1000003 + round_no * 101 + t)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    j = 0
    while True:
        n = 1 if rng.random() < 0.4 else rng.randint(2, 8)
        texts = [f"round {round_no} thread {t} add {j} item {i}: {rng.random():.12f} café" for i in range(n)]
        items = [{"text": x, "metadata": {"round": round_no, "thread": t}, "namespace": NS} for x in texts]
        body = items[0] if n == 1 else {"memories": items}
        with acked_lock:
            attempted += n
        try:
            status, resp = server.request("POST", "/v1/memories", body, conn)
        except (OSError, http.client.HTTPException, ValueError) as e:
            if not killed.is_set():
                unexpected.append(f"round {round_no}: an add failed before the kill: {e!r}")
            return 1  # unanswered at the kill (in flight, or not yet connected)
        if status != 200:
            unexpected.append(f"round {round_no}: add answered {status}: {json.dumps(resp)[:300]}")
            return 0
        data = resp["data"]
        if len(data) != n or any(d["event"] != "added" for d in data):
            unexpected.append(f"round {round_no}: add of {n} answered {json.dumps(resp)[:300]}")
            return 0
        with acked_lock:
            for d, x in zip(data, texts):
                acked[d["id"]] = x
                round_acks[d["id"]] = x
        j += 1


def integrity(when):
    """PRAGMA integrity_check on the store, read-only (no server running)."""
    if STORE_URL:
        return True  # PostgreSQL's files are its own
    try:
        db = sqlite3.connect(f"file:{DB}?mode=ro", uri=True)
        rows = db.execute("PRAGMA integrity_check").fetchall()
        db.close()
        ok = rows == [("ok",)]
    except sqlite3.Error as e:
        rows, ok = repr(e), False
    check(f"{when}: integrity_check ok", ok, str(rows)[:300])
    return ok


def verify(server, ids, when):
    """Every id in ids (a dict id -> text) readable with its text; the count sane."""
    missing = wrong = 0
    for i, text in ids.items():
        status, m = server.api("GET", f"/v1/memories/{i}")
        if status != 200:
            missing += 1
        elif m["text"] != text or m["namespace"] != NS:
            wrong += 1
    check(f"{when}: {len(ids)} acknowledged adds all present", missing == 0 and wrong == 0,
          f"({missing} missing, {wrong} with another text)")
    status, c = server.api("GET", f"/v1/memories/count?namespace={NS}")
    count = c["count"] if status == 200 else -1
    check(f"{when}: acknowledged <= count <= attempted", len(acked) <= count <= attempted,
          f"({len(acked)} <= {count} <= {attempted})")
    return len(ids) - missing - wrong, count


def restarted(server, when):
    """A restart after SIGKILL: ready, and writable despite the dead one's lock file."""
    check(f"{when}: the server restarts and gets ready", server.ready, server.text_log()[-2000:])
    if not server.ready:
        sys.exit(1)
    if not STORE_URL:
        check(f"{when}: memories.lock of the dead server is still there",
              os.path.exists(os.path.join(DATA, "memories.lock")))
    status, resp = server.api("POST", "/v1/memories", {"text": f"probe {when}", "namespace": "probe"})
    check(f"{when}: the restarted server writes (not read-only)", status == 200, json.dumps(resp)[:300])
    check(f"{when}: no read-only warning in the log", "read_only" not in server.text_log(),
          server.text_log()[-1000:])


t_start = time.monotonic()
start_times = []
kills = kills_in_flight = rounds_with_acks = verified = 0
count = 0
server = Server("0")
start_times.append(server.start_seconds)
check("the first start gets ready", server.ready, server.text_log()[-2000:])
if not server.ready:
    sys.exit(1)
master = random.Random(SEED)
last_acks = {}
for r in range(ROUNDS):
    if r > 0:
        restarted(server, f"round {r}")
        ok, count = verify(server, last_acks, f"after round {r - 1}")
        verified += ok
    round_acks = {}
    killed = threading.Event()
    results = [0] * THREADS
    workers = [threading.Thread(target=lambda t=t: results.__setitem__(
        t, adder(server, r, t, killed, round_acks))) for t in range(THREADS)]
    for w in workers:
        w.start()
    time.sleep(master.uniform(0, MAX_DELAY))
    killed.set()
    server.kill()
    kills += 1
    for w in workers:
        w.join(60)
    check(f"round {r}: the clients ended", not any(w.is_alive() for w in workers))
    kills_in_flight += 1 if any(results) else 0
    rounds_with_acks += 1 if round_acks else 0
    integrity(f"after the kill of round {r}")
    last_acks = round_acks
    server = Server(str(r + 1))
    start_times.append(server.start_seconds)

# The last restart: the last round's adds, then every acknowledged add of the
# run, by id and by listing.
restarted(server, "the end")
ok, count = verify(server, last_acks, f"after round {ROUNDS - 1}")
verified += ok
total_ok, count = verify(server, acked, "at the end, every round")
listed, cursor = {}, None
while True:
    q = f"/v1/memories?namespace={NS}&limit=1000" + (f"&cursor={cursor}" if cursor else "")
    status, page = server.api("GET", q)
    if status != 200:
        break
    listed.update((m["id"], m["text"]) for m in page["data"])
    cursor = page["next_cursor"]
    if not cursor:
        break
check("at the end: the list holds every acknowledged add", all(listed.get(i) == x for i, x in acked.items()),
      f"({sum(listed.get(i) == x for i, x in acked.items())} of {len(acked)})")
check("at the end: the list and the count agree", len(listed) == count, f"({len(listed)} vs {count})")

# The lock while its owner lives: a second server on the folder reads, but
# its writes are refused saying why.
second = Server("second")
check("a second server on a live store gets ready", second.ready, second.text_log()[-2000:])
if second.ready:
    some = next(iter(acked)) if acked else None
    status, resp = second.api("POST", "/v1/memories", {"text": "from the second server", "namespace": "probe"})
    if STORE_URL:
        check("a second live server on PostgreSQL is a replica: its add is 200", status == 200,
              f"{status} {json.dumps(resp)[:300]}")
    else:
        check("a second live server's add: 503 naming the other process",
              status == 503 and "another process" in resp["error"]["message"], f"{status} {json.dumps(resp)[:300]}")
    if some:
        status, m = second.api("GET", f"/v1/memories/{some}")
        check("a second live server still reads", status == 200 and m["text"] == acked[some])
check("the second server stops on SIGTERM with 0", second.stop() == 0)
check("the server stops on SIGTERM with 0", server.stop() == 0)
integrity("after the last stop")

lost = len(acked) - total_ok
check("unexpected answers: none", not unexpected, "\n  " + "\n  ".join(unexpected[:20]))
check("kills landed during adds in most rounds", kills_in_flight >= ROUNDS // 2,
      f"({kills_in_flight} of {ROUNDS})")
check("adds were acknowledged in most rounds", rounds_with_acks >= ROUNDS // 2,
      f"({rounds_with_acks} of {ROUNDS})")
print(f"serve durability ({'PostgreSQL' if STORE_URL else 'SQLite'}): {ROUNDS} rounds, {kills} SIGKILLs ({kills_in_flight} with an add unanswered at the kill), "
      f"{attempted} adds attempted, {len(acked)} acknowledged, {total_ok} verified at the end "
      f"({verified} right after their round), lost {lost}, {count} rows in the store, "
      f"{'' if STORE_URL else 'integrity_check ok after every kill: '}"
      f"{'' if STORE_URL else ('yes; ' if check.failed == 0 else 'see FAIL lines; ')}server start "
      f"to ready: median {statistics.median(start_times) * 1000:.0f} ms, max {max(start_times) * 1000:.0f} ms; "
      f"{time.monotonic() - t_start:.1f} s (seed {SEED})", file=sys.stderr)
print(f"{check.passed} passed, {check.failed} failed")
if check.failed == 0:
    shutil.rmtree(DATA, ignore_errors=True)
    for f in os.listdir(WORK):
        if f.startswith(f"serve-kill-{os.getpid()}-") and f.endswith(".log"):
            os.remove(os.path.join(WORK, f))
sys.exit(0 if check.failed == 0 else 1)

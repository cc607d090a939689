"""test_serve_backup.py — backups of a store taken while it serves lose
nothing that was acknowledged.

`mnemo serve --data-dir D --backup-dir B` on the tiny model; four client
threads add memories (batches of 1..5, dedup off) the whole time and record
every id the server acknowledged. Meanwhile the test takes backups, each
through POST /v1/admin/backup, and one with `mnemo memory backup` from
another process, noting before each which adds were already acknowledged.
Then each backup is served by a fresh server on its folder, and every memory
acknowledged before that backup began must be there (listed by pages), none
may be there that was never sent, and the answer must say integrity ok.
Also: without --backup-dir the route answers 400 saying how to turn it on,
and `mnemo memory backup` refuses a folder that holds a store. Standard
library only.

usage: python3 test_serve_backup.py MNEMO MODEL_DIR WORK_DIR
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_util  # noqa: E402

MNEMO, MODEL, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
WORK = os.path.join(WORK, f"backup-{os.getpid()}")
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
DATA, BACKUPS = os.path.join(WORK, "data"), os.path.join(WORK, "backups")
check = serve_util.Checks()


def call(port, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data else None


def all_ids(port):
    ids, cursor = set(), None
    while True:
        q = "/v1/memories?limit=1000" + (f"&cursor={cursor}" if cursor else "")
        status, page = call(port, "GET", q)
        assert status == 200, (status, page)
        ids.update(m["id"] for m in page["data"])
        cursor = page.get("next_cursor")
        if not cursor:
            return ids


srv = serve_util.Server(MNEMO, MODEL, "--data-dir", DATA, "--backup-dir", BACKUPS, "--no-dedup")
lock = threading.Lock()
acked = []  # ids in the order their adds were acknowledged
sent = set()
stop = threading.Event()
failures = []


def adder(t):
    n = 0
    while not stop.is_set():
        batch = [{"text": f"client {t} memory {n + i}"} for i in range(1 + n % 5)]
        n += len(batch)
        try:
            status, body = call(srv.port, "POST", "/v1/memories", {"memories": batch})
        except OSError as e:
            failures.append(repr(e))
            continue
        if status != 200:
            failures.append((status, body))
            continue
        with lock:
            sent.update(x["id"] for x in body["data"])
            acked.extend(x["id"] for x in body["data"])


threads = [threading.Thread(target=adder, args=(t,)) for t in range(4)]
for t in threads:
    t.start()
backups = []  # (folder, ids acknowledged before it began, the answer)
for i in range(5):
    time.sleep(0.4)
    with lock:
        before = set(acked)
    if i == 2:  # from another process, as an operator would
        out = os.path.join(WORK, "cli-backup")
        run = subprocess.run([MNEMO, "memory", "backup", "--data-dir", DATA, out], capture_output=True, text=True)
        check("mnemo memory backup while serving: exit 0", run.returncode == 0, run.stderr[-500:])
        answer = json.loads(run.stdout) if run.returncode == 0 else {}
        backups.append((out, before, answer))
    else:
        status, answer = call(srv.port, "POST", "/v1/admin/backup")
        check(f"backup {i}: 200", status == 200, str(answer))
        if status == 200:
            backups.append((answer["backup"], before, answer))
time.sleep(0.3)
stop.set()
for t in threads:
    t.join()
check("every add was answered 200", not failures, str(failures[:3]))
print(f"{len(acked)} memories acknowledged; {len(backups)} backups")
check("the backups were taken while adds went on (each holds more than the one before)",
      all(len(b[1]) < len(c[1]) for b, c in zip(backups, backups[1:])), str([len(b[1]) for b in backups]))

run = subprocess.run([MNEMO, "memory", "backup", "--data-dir", DATA, backups[0][0]], capture_output=True, text=True)
check("a folder that holds a store is refused", run.returncode != 0 and "already holds a store" in run.stderr,
      run.stderr[-300:])
check("server exits cleanly", srv.stop() == 0)

for folder, before, answer in backups:
    check(f"{os.path.basename(folder)}: integrity ok", answer.get("integrity") == "ok", str(answer))
    b = serve_util.Server(MNEMO, MODEL, "--data-dir", folder)
    have = all_ids(b.port)
    missing = before - have
    check(f"{os.path.basename(folder)}: every memory acknowledged before it is there "
          f"({len(before)} acknowledged, {len(have)} in it)", not missing, f"{len(missing)} missing")
    check(f"{os.path.basename(folder)}: nothing that was never sent", have <= sent, str(len(have - sent)))
    check(f"{os.path.basename(folder)}: its answer counted what it holds", answer.get("memories") == len(have),
          f"{answer.get('memories')} vs {len(have)}")
    check(f"{os.path.basename(folder)}: served and stopped", b.stop() == 0)

# without --backup-dir: 400 naming the flag
srv2 = serve_util.Server(MNEMO, MODEL, "--data-dir", DATA)
status, body = call(srv2.port, "POST", "/v1/admin/backup")
check("without --backup-dir: 400 naming it", status == 400 and "--backup-dir" in body["error"]["message"],
      f"{status} {body}")
check("second server exits cleanly", srv2.stop() == 0)

shutil.rmtree(WORK, ignore_errors=True)
print(f"{check.passed} passed, {check.failed} failed")
sys.exit(1 if check.failed else 0)

#!/usr/bin/env python3
"""serve_load.py — a bounded load run against `mnemo serve` (issue 6).

Starts `mnemo serve` on a free loopback port (or uses --url and --pid of a
running one), then at each concurrency sends --requests POST /v1/embeddings
requests of ~32-token texts from that many client threads (standard library
only: http.client, one keep-alive connection per thread), and prints per
step: embeddings/s, p50/p99 latency, the status codes seen (overload must give
only 200, 429 or 503) and the server's RSS (VmRSS from /proc) before/after.
Every loop is bounded in count and time; only 127.0.0.1 is contacted.

    bench/serve_load.py --mnemo build/mnemo --model DIR [--concurrency 1,8,32,64]
                        [--requests 200] [--inputs 1] [--max-seconds 120] [-- serve args...]

Run it on an idle machine; numbers are for comparing, not for the tests.
"""
import argparse
import collections
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

WORDS = ("the quick brown fox jumps over a lazy dog while seven wizards quietly "
         "judge boxing matches on distant planets near the red moon").split()


def text(i):
    # ~32 tokens, different for every request (so the cache does not answer)
    return " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(26)) + f" {i}"


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            m = re.search(r"VmRSS:\s+(\d+)", f.read())
            return int(m.group(1)) if m else 0
    except OSError:
        return 0


def run_step(host, port, conc, n_requests, inputs, deadline, offset):
    lat, codes, lock = [], collections.Counter(), threading.Lock()
    counter = iter(range(n_requests))

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=60)
        while time.time() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            body = json.dumps({"input": [text(offset + i * inputs + k) for k in range(inputs)]})
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/v1/embeddings", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                code = r.status
            except (OSError, http.client.HTTPException):
                code = "error"
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
            with lock:
                codes[code] += 1
                if code == 200:
                    lat.append(time.perf_counter() - t0)
        conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, lat, codes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mnemo", default="build/mnemo")
    ap.add_argument("--model", default=os.environ.get("MNEMO_MODEL"))
    ap.add_argument("--url", help="a running server (http://127.0.0.1:PORT) instead of starting one")
    ap.add_argument("--pid", type=int, help="its pid, for RSS")
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--inputs", type=int, default=1, help="texts per request")
    ap.add_argument("--max-seconds", type=float, default=120, help="per step")
    ap.add_argument("serve_args", nargs="*")
    a = ap.parse_args()
    proc = None
    if a.url:
        m = re.match(r"http://(127\.0\.0\.1|localhost|\[::1\]):(\d+)", a.url)
        if not m:
            sys.exit("--url must be a loopback address")
        host, port, pid = m.group(1).strip("[]"), int(m.group(2)), a.pid
    else:
        if not a.model:
            sys.exit("--model DIR (or MNEMO_MODEL) is needed")
        log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        proc = subprocess.Popen([a.mnemo, "serve", "--model", a.model, "--port", "0", *a.serve_args],
                                stdout=log, stderr=log)
        port = None
        for _ in range(600):
            m = re.search(r"listening on http://\S+:(\d+) ", open(log.name).read())
            if m and "ready" in open(log.name).read():
                port = int(m.group(1))
                break
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        if not port:
            proc.kill()
            sys.exit("the server did not start:\n" + open(log.name).read())
        host, pid = "127.0.0.1", proc.pid
    try:
        print(f"{'clients':>7} {'emb/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>12}  statuses")
        offset = 0
        for conc in [int(c) for c in a.concurrency.split(",")]:
            before = rss_kb(pid) if pid else 0
            secs, lat, codes = run_step(host, port, conc, a.requests, a.inputs,
                                        time.time() + a.max_seconds, offset)
            offset += a.requests * a.inputs
            after = rss_kb(pid) if pid else 0
            ok = len(lat)
            p50 = statistics.median(lat) * 1e3 if lat else 0
            p99 = sorted(lat)[max(0, int(len(lat) * 0.99) - 1)] * 1e3 if lat else 0
            print(f"{conc:>7} {ok * a.inputs / secs:>8.1f} {p50:>8.1f} {p99:>8.1f} "
                  f"{before / 1024:>5.0f}->{after / 1024:<5.0f}  {dict(codes)}")
            bad = set(codes) - {200, 429, 503}
            if bad:
                print(f"  unexpected statuses: {bad}")
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()

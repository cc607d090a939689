#!/usr/bin/env python3
"""store_scale.py — the memory routes of running `mnemo serve` replicas under load (issue 8).

Given one or more base URLs of servers that share a store (one SQLite server, or several
replicas on one PostgreSQL), it:
  1. adds --n memories with synthetic unit vectors of --dim values (the "vector" field, so the
     model does not embed and what is measured is the store), in batches of --batch, from
     --writers client threads spread round-robin over the URLs: prints memories/s;
  2. runs --requests vector searches (k=10; a tenth of them with a metadata filter passing
     ~10% of the memories) from --concurrency client threads, spread round-robin over the URLs:
     prints searches/s and p50/p99 latency, and the status codes seen.
With --skip-load it only searches (the memories are already there), with --skip-search it only
adds; --exact sends "exact": true (no approximate index) with every search.

Standard library only (http.client, one keep-alive connection per thread); only the given URLs
are contacted; every loop is bounded. Numbers are for comparing, on an idle machine.

    bench/store_scale.py --url http://127.0.0.1:8080 [--url ...] --n 100000 [--dim 768]
                         [--batch 250] [--writers 2] [--requests 2000] [--concurrency 8]
                         [--namespace bench] [--skip-load] [--skip-search] [--exact] [--label NAME]
"""
import argparse
import collections
import http.client
import json
import random
import statistics
import sys
import threading
import time
import urllib.parse


def unit(rng, dim):
    # uniform in the cube, normalized: as good as Gaussian for a synthetic index, and faster
    v = [rng.random() * 2.0 - 1.0 for _ in range(dim)]
    s = sum(x * x for x in v) ** 0.5
    return [round(x / s, 5) for x in v]


class Client:
    def __init__(self, url, timeout=120):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.timeout = timeout
        self.conn = None

    def post(self, path, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST", path, data, {"Content-Type": "application/json"})
                r = self.conn.getresponse()
                payload = r.read()
                return r.status, payload
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def run_clients(urls, n_threads, n_items, work):
    """Runs work(client, item) for items 0..n_items-1 from n_threads threads, each with its own
    connection to urls[thread % len(urls)], items taken in order; returns the seconds taken."""
    lock = threading.Lock()
    nxt = [0]

    def thread(w):
        c = Client(urls[w % len(urls)])
        while True:
            with lock:
                if nxt[0] >= n_items:
                    return
                i = nxt[0]
                nxt[0] += 1
            work(c, i)

    t0 = time.monotonic()
    ts = [threading.Thread(target=thread, args=(w,)) for w in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.monotonic() - t0


def load(urls, args):
    batches = [(i, min(args.batch, args.n - i)) for i in range(0, args.n, args.batch)]
    lock = threading.Lock()
    statuses = collections.Counter()
    done = [0]

    # The request bodies are made before the clock starts, so the client's Python does not
    # compete with the server for the two CPUs while adds are timed.
    t0 = time.monotonic()
    rng = random.Random(1000)
    bodies = [json.dumps({"memories": [
        {"text": f"synthetic memory {start + j}", "namespace": args.namespace,
         "metadata": {"i": start + j, "bucket": (start + j) % 10},
         "vector": unit(rng, args.dim)} for j in range(count)]}).encode() for start, count in batches]
    print(f"{args.label}: {len(bodies)} add bodies made in {time.monotonic() - t0:.0f} s", file=sys.stderr)

    def add(c, b):
        st, body = c.post("/v1/memories", bodies[b])
        with lock:
            statuses[st] += 1
            if st == 200:
                done[0] += batches[b][1]
            elif statuses[st] <= 3:
                print(f"  add {st}: {body[:200]!r}", file=sys.stderr)

    dt = run_clients(urls, args.writers, len(batches), add)
    print(f"{args.label}: added {done[0]} of {args.n} in {dt:.1f} s = {done[0] / dt:.0f} memories/s "
          f"({args.writers} writers, batches of {args.batch}; statuses {dict(statuses)})")
    return done[0] == args.n


def search(urls, args):
    rng = random.Random(7)
    queries = [unit(rng, args.dim) for _ in range(min(args.requests, 200))]
    lat = []
    lat_f = []
    statuses = collections.Counter()
    lock = threading.Lock()

    def one(c, i):
        body = {"vector": queries[i % len(queries)], "k": 10, "namespace": args.namespace}
        if args.exact:
            body["exact"] = True
        filtered = i % 10 == 9
        if filtered:
            body["filter"] = {"bucket": 3}
        t = time.monotonic()
        st, payload = c.post("/v1/memories/search", body)
        ms = (time.monotonic() - t) * 1000
        ok = st == 200 and len(json.loads(payload)["data"]) == 10
        with lock:
            statuses[st if ok or st != 200 else "200-short"] += 1
            (lat_f if filtered else lat).append(ms)

    # warm-up: a few searches per URL (connections, caches)
    for u in urls:
        c = Client(u)
        for q in queries[:5]:
            c.post("/v1/memories/search", {"vector": q, "k": 10, "namespace": args.namespace})
    dt = run_clients(urls, args.concurrency, args.requests, one)
    print(f"{args.label}: {args.requests} searches (k=10, {args.concurrency} clients, {len(urls)} server(s)) "
          f"in {dt:.1f} s = {args.requests / dt:.0f}/s; unfiltered p50 {pct(lat, 50):.1f} ms "
          f"p99 {pct(lat, 99):.1f} ms; filtered (10%) p50 {pct(lat_f, 50):.1f} ms p99 {pct(lat_f, 99):.1f} ms; "
          f"statuses {dict(statuses)}")
    return set(statuses) == {200}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", action="append", required=True)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--namespace", default="bench")
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-search", action="store_true")
    ap.add_argument("--exact", action="store_true")
    ap.add_argument("--label", default="store")
    args = ap.parse_args()
    if not 1 <= args.batch <= 1000 or args.n < 0 or args.requests < 1 or args.concurrency < 1:
        ap.error("--batch 1..1000, --n >= 0, --requests and --concurrency >= 1")
    ok = True
    if not args.skip_load:
        ok = load(args.url, args) and ok
    if not args.skip_search:
        ok = search(args.url, args) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

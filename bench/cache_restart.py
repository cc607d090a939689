#!/usr/bin/env python3
"""bench/cache_restart.py — what --cache-file buys a restarted server.

Server A (`mnemo serve --cache-file F`) embeds N distinct texts, one request
each, and is stopped with SIGTERM (which writes F). Then two servers are
started and each is sent the same N texts again, one request each, in the
same order: "cold" (a new, empty cache file) and "warm" (on F). For each it
prints: seconds from the process's start to /health 200, to the first answer
and to the first cache hit (the first request's, when it is one); the
first request's latency; the time for all N;
and the hit rate of those N requests (from /metrics).

    bench/cache_restart.py MNEMO MODEL_DIR [--n 200] [-- serve args...]

Standard library only; 127.0.0.1 and free ports only; every server is stopped.
The numbers depend on the machine and its load: run it on an idle one.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request


def texts(n):
    words = "planet memory vector cache river orange engine garden signal window".split()
    return ["%d: the %s of the %s near the %s" % (i, words[i % 10], words[(i * 7) % 10], words[(i * 3 + 1) % 10])
            for i in range(n)]


def post(url, body):
    req = urllib.request.Request(url + "/v1/embeddings", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)


def metrics(url):
    with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
        out = {}
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out


def start(mnemo, model, log, extra):
    t0 = time.monotonic()
    p = subprocess.Popen([mnemo, "serve", "--model", model, "--port", "0", "--log-level", "info"] + extra,
                         stderr=open(log, "w"), stdout=subprocess.DEVNULL)
    port = None
    while port is None:
        if p.poll() is not None:
            sys.exit("server exited: see " + log)
        m = re.search(r"listening on http://[^ ]*:(\d+) ", open(log).read())
        if m:
            port = int(m.group(1))
        else:
            time.sleep(0.005)
    url = "http://127.0.0.1:%d" % port
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=5) as r:
                if r.status == 200:
                    break
        except Exception:
            pass
        time.sleep(0.005)
    return p, url, t0, time.monotonic() - t0


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)


def run(name, mnemo, model, log, extra, items):
    p, url, t0, ready = start(mnemo, model, log, extra)
    m0 = metrics(url)
    s = time.monotonic()
    post(url, {"input": items[0], "task": "query"})
    now = time.monotonic()
    first_latency, first_answer = now - s, now - t0
    # the first request's hit (or not), then the rest with nothing between them
    first_hit = first_answer if metrics(url)["mnemo_cache_hits_total"] > m0["mnemo_cache_hits_total"] else None
    t_all = s
    for t in items[1:]:
        post(url, {"input": t, "task": "query"})
    total = time.monotonic() - t_all
    m1 = metrics(url)
    hits = m1["mnemo_cache_hits_total"] - m0["mnemo_cache_hits_total"]
    misses = m1["mnemo_cache_misses_total"] - m0["mnemo_cache_misses_total"]
    warm = m1.get("mnemo_cache_warm_loaded", 0)
    stop(p)
    return {"server": name, "ready_s": round(ready, 3), "first_answer_s": round(first_answer, 3),
            "first_hit_s": None if first_hit is None else round(first_hit, 3),
            "first_request_ms": round(first_latency * 1e3, 2), "all_n_s": round(total, 3),
            "hit_rate": round(hits / max(1.0, hits + misses), 4), "warm_loaded": int(warm)}


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        extra = args[args.index("--") + 1:]
        args = args[:args.index("--")]
    n = 200
    if "--n" in args:
        n = int(args[args.index("--n") + 1])
        del args[args.index("--n"):args.index("--n") + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    mnemo, model = args
    items = texts(n)
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "embeddings.cache")
        p, url, _, _ = start(mnemo, model, os.path.join(d, "a.log"), ["--cache-file", f] + extra)
        for t in items:
            post(url, {"input": t, "task": "query"})
        stop(p)
        print(json.dumps({"n": n, "file_bytes": os.path.getsize(f)}))
        cold = run("cold", mnemo, model, os.path.join(d, "cold.log"),
                   ["--cache-file", os.path.join(d, "empty.cache")] + extra, items)
        print(json.dumps(cold))
        warm = run("warm", mnemo, model, os.path.join(d, "warm.log"), ["--cache-file", f] + extra, items)
        print(json.dumps(warm))


if __name__ == "__main__":
    main()

"""test_serve_clients.py — `mnemo serve` against the clients people use.

Starts the real server binary and talks to it with the official `openai`
Python client (client.embeddings.create: base64 by default, float, with
`dimensions` and mnemo's `task`), LangChain's OpenAIEmbeddings
(check_embedding_ctx_length=False), the `websockets` client on
/v1/embeddings/ws, and parses /metrics with prometheus-client's text parser. Every vector must equal `mnemo embed`'s for
the same text, prompt and dimension. Concurrent requests must share forward
passes (batching) and still give each client its own vectors; an overload run
must answer only 200 or 429.

usage: python test_serve_clients.py MNEMO MODEL_DIR   (in the venv tests/test_venv.sh makes)
"""
import base64
import concurrent.futures
import json
import os
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_util  # noqa: E402 (by path: the tests' own helper, standard library only)

import openai
from langchain_openai import OpenAIEmbeddings
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

MNEMO, MODEL = sys.argv[1], sys.argv[2]
NAME = os.path.basename(MODEL.rstrip("/"))
check = serve_util.Checks()  # check(name, ok, detail): counts, prints a FAIL line


def mnemo_embed(texts, *args):
    return serve_util.mnemo_embed(MNEMO, MODEL, texts, *args)


max_diff = serve_util.max_diff


class Server(serve_util.Server):
    def __init__(self, *args):
        super().__init__(MNEMO, MODEL, *args)

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")


texts = ["hello world", "Which planet is known as the Red Planet?",
         "Mars, known for its reddish appearance, is often referred to as the Red Planet."]
want_plain = mnemo_embed(texts)
want_query_16 = mnemo_embed(texts, "--prompt", "query", "--dim", "16")

srv = Server("--batch-window-ms", "30")
client = openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0)

r = client.embeddings.create(model=NAME, input=texts)  # the client asks for base64
got = [d.embedding for d in r.data]
check("openai client, default (base64): vectors equal mnemo embed",
      len(got) == 3 and max_diff(got, want_plain) < 1e-5)
check("openai client: usage and model", r.usage.prompt_tokens > 0 and r.model == NAME)
r = client.embeddings.create(model=NAME, input=texts, encoding_format="float", dimensions=16,
                             extra_body={"task": "query"})
got = [d.embedding for d in r.data]
check("openai client, float, dimensions=16, task=query", all(len(v) == 16 for v in got)
      and max_diff(got, want_query_16) < 1e-5)
r = client.embeddings.create(model=NAME, input=texts[0], encoding_format="base64", dimensions=16,
                             extra_body={"task": "query"})
# asked for explicitly, the client hands the base64 string over as it came
raw = base64.b64decode(r.data[0].embedding)
vec = list(struct.unpack(f"<{len(raw) // 4}f", raw))
check("openai client, base64, dimensions=16", max_diff([vec], want_query_16[:1]) < 1e-5)
try:
    client.embeddings.create(model="text-embedding-3-small", input="x")
    check("openai client: unknown model raises NotFoundError", False)
except openai.NotFoundError as e:
    check("openai client: unknown model raises NotFoundError", "does not exist" in str(e))
try:
    client.embeddings.create(model=NAME, input="x", dimensions=100000)
    check("openai client: bad dimensions raises BadRequestError", False)
except openai.BadRequestError as e:
    check("openai client: bad dimensions raises BadRequestError", "dimensions" in str(e))

lc = OpenAIEmbeddings(model=NAME, base_url=srv.url + "/v1", api_key="unused",
                      check_embedding_ctx_length=False)
docs = lc.embed_documents(texts)
check("LangChain embed_documents equals mnemo embed", max_diff(docs, want_plain) < 1e-5)
check("LangChain embed_query", max_diff([lc.embed_query(texts[1])], want_plain[1:2]) < 1e-5)

# Concurrent clients, each with its own texts: every answer is its own, and
# passes are shared.
many = [f"concurrent text number {i} about topic {i % 7}" for i in range(48)]
want_many = mnemo_embed(many)
with concurrent.futures.ThreadPoolExecutor(16) as pool:
    results = list(pool.map(lambda t: srv.post("/v1/embeddings", {"input": t}), many))
check("48 concurrent requests all 200", all(s == 200 for s, _ in results))
check("concurrent vectors equal mnemo embed",
      max_diff([b["data"][0]["embedding"] for _, b in results], want_many) < 1e-5)

# WebSocket: many requests over one connection, answered in order.
ws_url = srv.url.replace("http://", "ws://") + "/v1/embeddings/ws"
with ws_connect(ws_url, max_size=None) as ws:
    answers = []
    for i, t in enumerate(texts):
        ws.send(json.dumps({"input": [t], "task": "query", "dimensions": 16}))
        answers.append(json.loads(ws.recv()))
    check("websocket: each message answered with its vectors",
          max_diff([a["data"][0]["embedding"] for a in answers], want_query_16) < 1e-5)
    ws.send("not json")
    e = json.loads(ws.recv())
    check("websocket: a bad message gets an error, the connection stays",
          e["error"]["code"] == "invalid_json")
    ws.send(json.dumps({"input": "x" * 70000}))  # a 64-bit length frame
    check("websocket: limits apply", json.loads(ws.recv())["error"]["code"] == "input_too_long")
    ws.send(json.dumps({"input": texts[0]}))
    check("websocket: still serving", max_diff([json.loads(ws.recv())["data"][0]["embedding"]],
                                               want_plain[:1]) < 1e-5)
try:
    with ws_connect(ws_url.replace("/ws", "/nope")) as ws:
        pass
    check("websocket: unknown route refused", False)
except Exception:
    check("websocket: unknown route refused", True)

text = urllib.request.urlopen(srv.url + "/metrics").read().decode()
families = {f.name: f for f in text_string_to_metric_families(text)}
check("prometheus parser: families present",
      all(n in families for n in ["mnemo_requests", "mnemo_request_queue_seconds",
                                  "mnemo_request_inference_seconds", "mnemo_batch_tokens",
                                  "mnemo_batch_requests", "mnemo_cache_hits", "mnemo_queue_tokens",
                                  "mnemo_requests_in_flight", "mnemo_model_load_seconds",
                                  "mnemo_requests_rejected"]), sorted(families))
reqs = {(s.labels.get("route"), s.labels.get("status")): s.value
        for s in families["mnemo_requests"].samples}
check("metrics: requests by route and status", reqs.get(("/v1/embeddings", "200"), 0) >= 50
      and reqs.get(("/v1/embeddings", "404"), 0) >= 1, reqs)
br = {s.labels.get("le"): s.value for s in families["mnemo_batch_requests"].samples
      if s.name.endswith("_bucket")}
check("metrics: some forward pass served more than one request", br.get("1.0", br.get("1")) < br["+Inf"], br)
# SIGTERM with a WebSocket open: the socket is closed (1001), the server exits 0.
with ws_connect(ws_url) as ws:
    t0 = time.time()
    rc = srv.stop()
    try:
        ws.recv(timeout=5)
        closed = None
    except ConnectionClosed as e:
        closed = e.rcvd.code if e.rcvd else None
check("server exits 0 on SIGTERM, promptly with a WebSocket open", rc == 0 and time.time() - t0 < 10)
check("the open WebSocket is closed with 1001 (going away)", closed == 1001, closed)

# Overload: a tiny queue and many clients get only 200s and 429s, never a hang.
srv = Server("--max-queue-tokens", "1", "--batch-window-ms", "20")
with concurrent.futures.ThreadPoolExecutor(32) as pool:
    codes = list(pool.map(lambda i: srv.post("/v1/embeddings", {"input": f"load {i}"})[0], range(128)))
check("overload: only 200 and 429", set(codes) <= {200, 429} and 429 in codes and 200 in codes,
      sorted(set(codes)))
check("overload server exits 0", srv.stop() == 0)

print(f"{check.passed} passed, {check.failed} failed")
sys.exit(1 if check.failed else 0)

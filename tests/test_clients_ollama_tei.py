"""test_clients_ollama_tei.py — `mnemo serve` against the official clients of
Ollama and of Hugging Face text-embeddings-inference, unchanged.

Starts the real server binary and calls it with `ollama.Client(host=URL)`
(ollama 0.6.3: embed, embeddings, list, show, ps; /api/version and HEAD /
over plain HTTP, which the client has no call for) and with
`huggingface_hub.InferenceClient(base_url=URL)` (huggingface_hub 2.4.0:
feature_extraction and sentence_similarity, both POSTed to `/`). Every vector
must equal `mnemo embed`'s for the same text and prompt (max abs diff < 1e-5);
every similarity the dot of those vectors normalized. Bad input on every new
route gets the client's own error (ollama.ResponseError,
huggingface_hub's HfHubHTTPError) with the right status, and the API's error
shape ({"error"} for Ollama, {"error","error_type"} for TEI). Prints one line
per client call with its result.

usage: python test_clients_ollama_tei.py MNEMO MODEL_DIR   (in the clients venv, tests/CMakeLists.txt)
"""
import datetime
import json
import math
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_util  # noqa: E402 (by path: the tests' own helper, standard library only)

import ollama
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError

MNEMO, MODEL = sys.argv[1], sys.argv[2]
NAME = os.path.basename(MODEL.rstrip("/"))
check = serve_util.Checks()  # check(name, ok, detail): counts, prints a FAIL line


def mnemo_embed(texts, *args):
    return serve_util.mnemo_embed(MNEMO, MODEL, texts, *args)


max_diff = serve_util.max_diff


def cosine(a, b):
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
    return sum(x * y for x, y in zip(a, b)) / (na * nb)


def show(call, result):
    """One line per client call, for quoting."""
    print(f"{call} -> {result}", flush=True)


def vec_summary(v):
    return f"[{', '.join(f'{x:.4f}' for x in v[:3])}, ...] ({len(v)} floats)"


def http(method, path, body=None, raw=None):
    """status, parsed JSON (or None) and headers of one plain HTTP call."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data, {"Content-Type": "application/json"}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read()
            is_json = r.headers.get("Content-Type", "").startswith("application/json")
            return r.status, json.loads(text) if text and is_json else text, r.headers
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text), e.headers
        except ValueError:
            return e.code, text, e.headers


def weight_files():
    """The bytes and newest time of the model's weight files, as /api/tags should report them."""
    files = [os.path.join(MODEL, f) for f in os.listdir(MODEL) if f.endswith(".safetensors")]
    files += [os.path.join(MODEL, d, "model.safetensors") for d in os.listdir(MODEL)
              if os.path.isfile(os.path.join(MODEL, d, "model.safetensors"))]
    return sum(os.path.getsize(f) for f in files), max(int(os.path.getmtime(f)) for f in files)


texts = ["hello world", "Which planet is known as the Red Planet?",
         "Mars, known for its reddish appearance, is often referred to as the Red Planet.",
         "Venus is the hottest planet."]
want = mnemo_embed(texts)
want_query = mnemo_embed(texts[:1], "--prompt", "query")
want_query_16 = mnemo_embed(texts[:2], "--prompt", "query", "--dim", "16")

srv = serve_util.Server(MNEMO, MODEL)
URL = srv.url
_, info, _ = http("GET", "/info")
DIM, CONTEXT, PRECISION = info["dimensions"], info["max_input_length"], info["model_dtype"]

# ------------------------------------------------------------- Ollama
print(f"ollama {ollama.__version__ if hasattr(ollama, '__version__') else '0.6.3'} against {URL} ({NAME})")
client = ollama.Client(host=URL)

r = client.embed(model=NAME, input=texts)
d = max_diff(r.embeddings, want)
show(f"ollama embed(model={NAME!r}, input=<{len(texts)} texts>)",
     f"{len(r.embeddings)} vectors of {len(r.embeddings[0])}, model={r.model!r}, "
     f"prompt_eval_count={r.prompt_eval_count}, max |diff| vs mnemo embed {d:.1e}")
check("ollama embed: vectors equal mnemo embed", d < 1e-5, d)
r = client.embed(model=NAME + ":latest", input=texts[1], dimensions=16)
show(f"ollama embed(model={NAME + ':latest'!r}, input=<1 text>, dimensions=16)",
     f"{len(r.embeddings)} vector of {len(r.embeddings[0])}")
check("ollama embed: NAME:latest and dimensions", len(r.embeddings[0]) == 16)

r = client.embeddings(model=NAME, prompt=texts[1])
d = max_diff([r.embedding], want[1:2])
show(f"ollama embeddings(model={NAME!r}, prompt={texts[1]!r})",
     f"embedding {vec_summary(r.embedding)}, max |diff| vs mnemo embed {d:.1e}")
check("ollama embeddings: the vector equals mnemo embed", d < 1e-5, d)
r = client.embeddings(model=NAME + ":latest", prompt=texts[0], options={"temperature": 0, "num_ctx": 2048},
                      keep_alive="5m")
d = max_diff([r.embedding], want[:1])
show(f"ollama embeddings(model={NAME + ':latest'!r}, prompt={texts[0]!r}, options={{...}}, keep_alive='5m')",
     f"embedding {vec_summary(r.embedding)}, max |diff| {d:.1e}")
check("ollama embeddings: options and keep_alive accepted (ignored)", d < 1e-5, d)
st, body, _ = http("POST", "/api/embeddings", {"model": NAME, "prompt": texts[0], "task": "query"})
check("POST /api/embeddings with mnemo's task: the query prompt's vector",
      st == 200 and max_diff([body["embedding"]], want_query) < 1e-5, st)

r = client.list()
m = r.models[0]
size, mtime = weight_files()
show("ollama list()", f"{len(r.models)} model: model={m.model!r} size={int(m.size)} digest={m.digest[:12]}... "
     f"modified_at={m.modified_at.isoformat()} details={m.details.model_dump()}")
check("ollama list: one model, NAME:latest", len(r.models) == 1 and m.model == NAME + ":latest", m.model)
check("ollama list: size is the weight files' bytes", int(m.size) == size, (m.size, size))
check("ollama list: modified_at is the weights' time",
      m.modified_at == datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc), m.modified_at)
check("ollama list: digest is 64 hex digits", re.fullmatch(r"[0-9a-f]{64}", m.digest or "") is not None)
det = m.details
check("ollama list: details", det.format == "safetensors" and det.family == "gemma-embedding"
      and det.families == ["gemma-embedding"] and re.fullmatch(r"\d+(\.\d+)?[KMB]", det.parameter_size or "")
      and det.quantization_level == {"f32": "F32", "bf16": "BF16", "int8": "Q8_0", "q4": "Q4_0",
                                     "mixed": "MIXED"}[PRECISION], det)

r = client.show(NAME)
mi = r.modelinfo
show(f"ollama show({NAME!r})", f"capabilities={r.capabilities} details={r.details.model_dump()} model_info={dict(mi)}")
check("ollama show: capabilities [embedding]", r.capabilities == ["embedding"])
check("ollama show: context and embedding length",
      mi["gemma-embedding.context_length"] == CONTEXT and mi["gemma-embedding.embedding_length"] == DIM, mi)
check("ollama show: parameter count matches parameter_size",
      mi["general.parameter_count"] > 0 and r.details.parameter_size == det.parameter_size)
r = client.show(NAME + ":latest")
check("ollama show: NAME:latest", r.capabilities == ["embedding"])

r = client.ps()
p = r.models[0]
show("ollama ps()", f"{len(r.models)} model: model={p.model!r} size={int(p.size)} size_vram={int(p.size_vram)} "
     f"context_length={p.context_length} expires_at={p.expires_at}")
check("ollama ps: the served model", len(r.models) == 1 and p.model == NAME + ":latest"
      and p.context_length == CONTEXT and int(p.size) == size)

st, body, _ = http("GET", "/api/version")
show("GET /api/version (the client has no call for it)", f"{st} {body}")
check("GET /api/version", st == 200 and isinstance(body.get("version"), str))
st, _, headers = http("HEAD", "/")
show("HEAD / (Ollama's probe for a running server)", f"{st} Content-Type={headers.get('Content-Type')}")
check("HEAD /: 200", st == 200)
st, _, headers = http("GET", "/")
check("GET / is still the console", st == 200 and headers.get("Content-Type", "").startswith("text/html"))


def ollama_error(name, call, status):
    try:
        call()
        check(f"{name}: raises ollama.ResponseError", False)
        show(name, "no error")
    except ollama.ResponseError as e:
        show(name, f"ollama.ResponseError status_code={e.status_code} error={e.error!r}")
        check(f"{name}: ResponseError {status}", e.status_code == status and isinstance(e.error, str)
              and not e.error.startswith("{"), (e.status_code, e.error))


ollama_error("ollama embeddings(model=NAME) without a prompt", lambda: client.embeddings(model=NAME), 400)
ollama_error("ollama embeddings(model=NAME, prompt='')", lambda: client.embeddings(model=NAME, prompt=""), 400)
ollama_error("ollama embeddings(model='nope', prompt='x')", lambda: client.embeddings(model="nope", prompt="x"), 404)
ollama_error("ollama embed(model='nope', input='x')", lambda: client.embed(model="nope", input="x"), 404)
ollama_error("ollama show('nope')", lambda: client.show("nope"), 404)

for path, body, status, what in [
        ("/api/embeddings", {"model": NAME, "prompt": 5}, 400, "prompt not a string"),
        ("/api/embeddings", {"model": NAME, "prompt": ["a", "b"]}, 400, "prompt an array"),
        ("/api/embeddings", {"model": NAME, "prompt": "x", "options": 3}, 400, "options not an object"),
        ("/api/embeddings", {"model": NAME, "prompt": "x", "keep_alive": []}, 400, "keep_alive an array"),
        ("/api/embeddings", {"model": 7, "prompt": "x"}, 404, "model not a string"),
        ("/api/embeddings", b"{not json", 400, "bad JSON"),
        ("/api/show", {}, 400, "no model"),
        ("/api/show", {"model": 3}, 404, "model not a string"),
        ("/api/show", b"[]", 400, "not an object"),
        ("/api/nothing-here", {}, 404, "unknown /api/ path")]:
    st, res, _ = http("POST", path, None if isinstance(body, bytes) else body,
                      raw=body if isinstance(body, bytes) else None)
    show(f"POST {path} ({what})", f"{st} {res}")
    check(f"POST {path} ({what}): {status} {{'error'}}", st == status and isinstance(res, dict)
          and list(res) == ["error"] and isinstance(res["error"], str), (st, res))
st, res, _ = http("GET", "/api/embeddings")
check("GET /api/embeddings: 405 {'error'}", st == 405 and list(res) == ["error"], (st, res))

# ------------------------------------------------------------- TEI
print(f"huggingface_hub InferenceClient(base_url={URL})")
hf = InferenceClient(base_url=URL)

v = hf.feature_extraction(texts[1])
d = max_diff(v.tolist(), want[1:2])
show(f"InferenceClient.feature_extraction({texts[1]!r})",
     f"ndarray {v.shape} {v.dtype} {vec_summary(v[0].tolist())}, max |diff| vs mnemo embed {d:.1e}")
check("feature_extraction: the vector equals mnemo embed", v.shape == (1, DIM) and d < 1e-5, d)
v = hf.feature_extraction(texts[0], prompt_name="query", normalize=True, truncate=True,
                          truncation_direction="Right")
d = max_diff(v.tolist(), want_query)
show(f"InferenceClient.feature_extraction({texts[0]!r}, prompt_name='query', normalize=True, truncate=True)",
     f"ndarray {v.shape}, max |diff| vs mnemo embed --prompt query {d:.1e}")
check("feature_extraction with prompt_name: the query prompt's vector", d < 1e-5, d)

sims = hf.sentence_similarity(texts[1], other_sentences=texts[2:] + texts[:1])
expect = [cosine(want[1], w) for w in want[2:] + want[:1]]
d = max(abs(a - b) for a, b in zip(sims, expect))
show(f"InferenceClient.sentence_similarity({texts[1]!r}, other_sentences=<3 sentences>)",
     f"{[round(x, 6) for x in sims]} (the dot of mnemo embed's normalized vectors: "
     f"{[round(x, 6) for x in expect]}, max |diff| {d:.1e})")
check("sentence_similarity: cosines of mnemo embed's vectors", len(sims) == 3 and d < 1e-5, d)
check("sentence_similarity: the paraphrase ranks above the others", sims[0] == max(sims) or DIM < 128, sims)

st, res, _ = http("POST", "/similarity", {"inputs": {"source_sentence": texts[1], "sentences": texts[2:3]},
                                          "parameters": {"prompt_name": "query"}})
check("POST /similarity with parameters.prompt_name", st == 200 and len(res) == 1, (st, res))
st, res, _ = http("POST", "/", {"inputs": [texts[0], texts[1]], "prompt_name": "query", "dimensions": 16})
check("POST / as /embed: inputs, prompt_name, dimensions",
      st == 200 and max_diff(res, want_query_16) < 1e-5, st)
st, res, _ = http("POST", "/embed", {"inputs": texts[1]})
check("POST /embed unchanged", st == 200 and max_diff(res, want[1:2]) < 1e-5, st)


def hf_error(name, call, status):
    try:
        call()
        check(f"{name}: raises HfHubHTTPError", False)
        show(name, "no error")
    except HfHubHTTPError as e:
        code = e.response.status_code if e.response is not None else None
        msg = str(e).splitlines()[-1]
        show(name, f"HfHubHTTPError status {code}: {msg}")
        check(f"{name}: HfHubHTTPError {status}", code == status, code)


hf_error("InferenceClient.sentence_similarity('a', other_sentences=[])",
         lambda: hf.sentence_similarity("a", other_sentences=[]), 422)
hf_error("InferenceClient.sentence_similarity('', other_sentences=['b'])",
         lambda: hf.sentence_similarity("", other_sentences=["b"]), 422)
hf_error("InferenceClient.feature_extraction('')", lambda: hf.feature_extraction(""), 422)
hf_error("InferenceClient.feature_extraction('x', prompt_name='nope')",
         lambda: hf.feature_extraction("x", prompt_name="nope"), 422)
hf_error("InferenceClient.feature_extraction('x', truncation_direction='Up')",
         lambda: hf.feature_extraction("x", truncation_direction="Up"), 422)

for path, body, status, what in [
        ("/similarity", {"inputs": {"source_sentence": "a", "sentences": []}}, 422, "empty sentences"),
        ("/similarity", {"inputs": {"source_sentence": "a"}}, 422, "no sentences"),
        ("/similarity", {"inputs": {"source_sentence": 1, "sentences": ["b"]}}, 422, "source not a string"),
        ("/similarity", {"inputs": {"source_sentence": "a", "sentences": ["b", 2]}}, 422, "a sentence not a string"),
        ("/similarity", {"inputs": "a"}, 422, "inputs a string"),
        ("/similarity", {"inputs": {"source_sentence": "a", "sentences": ["b"]}, "parameters": 1}, 422,
         "parameters not an object"),
        ("/similarity", b"nope", 422, "bad JSON"),
        ("/", {"inputs": {"sentences": ["b"]}}, 422, "an object without source_sentence"),
        ("/", {"inputs": 5}, 422, "inputs a number"),
        ("/", b"{", 422, "bad JSON"),
        ("/embed_all", {"inputs": "a"}, 424, "per-token vectors")]:
    st, res, _ = http("POST", path, None if isinstance(body, bytes) else body,
                      raw=body if isinstance(body, bytes) else None)
    show(f"POST {path} ({what})", f"{st} {res}")
    check(f"POST {path} ({what}): {status} {{'error','error_type'}}",
          st == status and isinstance(res, dict) and sorted(res) == ["error", "error_type"]
          and res["error_type"] == ("Backend" if status == 424 else "Validation"), (st, res))
st, res, _ = http("POST", "/embed_all", {"inputs": "a"})
check("POST /embed_all names the routes that exist", "/embed" in res["error"] and "POST /" in res["error"])

check("server exits 0 on SIGTERM", srv.stop() == 0)
print(f"{check.passed} passed, {check.failed} failed")
sys.exit(1 if check.failed else 0)

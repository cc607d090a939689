#!/usr/bin/env python3
"""compare.py — mnemo against sentence-transformers, ONNX Runtime and llama.cpp, same run, same texts.

Run it through bench/compare, which builds and installs what this needs (the
venv with torch, sentence-transformers, onnx and onnxruntime, llama.cpp's
binaries, the GGUFs) and then runs this file with the venv's Python. See
bench/compare --help.

Peer configurations: sentence-transformers in f32 and bf16 (--st-dtypes),
ONNX Runtime on an ONNX export of the same weights in f32 and dynamic int8
(bench/onnx_export.py; --skip-onnx), llama.cpp on each GGUF. Each of the
sentence-transformers and ONNX Runtime configurations runs in its own worker
process (this file's st-worker / ort-worker), and llama.cpp is its own
processes anyway, so a peer that crashes (a signal, an exception) is a row with
its error in the table, not a lost run.

What is measured (issue 5, "How it is measured"):
  * tokens/s on N128 texts of ~128 tokens and N512 texts of ~512 tokens (at
    most 512, llama.cpp's context here), generated deterministically from the
    prose in compare_texts.py. Token counts are those of `mnemo tokenize`
    (checked equal to sentence-transformers' and the ORT worker's tokenizer) and
    the same counts divide every system's time.
      - mnemo: `mnemo embed` as a whole process (start, model load, embed,
        JSON out), texts on stdin.
      - llama.cpp: `llama-embedding` as a whole process (same), -f FILE,
        -ub 512 -b 512 -c 512, --pooling mean, --embd-normalize 2, -t/-tb =
        cores. Chosen over llama-server for throughput because it packs many
        sequences into each 512-token ubatch, is the same kind of measurement
        as `mnemo embed` (one process, load included) and has no HTTP or
        slot scheduling in the way.
      - sentence-transformers, f32 and bf16 (SentenceTransformer(model_kwargs=
        {"dtype": torch.float32 | torch.bfloat16}), `dtype` being transformers 5's
        name for torch_dtype; EmbeddingGemma does not support f16):
        model.encode(texts, batch_size=32) inside one Python process after a
        warm-up (load NOT included; it would add several seconds of `import torch`).
      - ONNX Runtime, f32 and int8: one InferenceSession (CPU provider,
        intra_op_num_threads = --threads, inter_op 1, sequential, all graph
        optimizations) inside one Python process after a warm-up (load NOT
        included), texts cut into batches of 32 in sentence-transformers' order
        (longest first), each batch tokenized with the model folder's tokenizer
        (transformers AutoTokenizer, padding to the batch's longest) and run;
        tokenizing is inside the timed loop, as it is in encode().
  * one short query (~15 tokens with the query prompt): p50/p99 over
    --query-runs runs.
      - sentence-transformers: model.encode([q], prompt_name="query") in process.
      - ONNX Runtime: tokenize(prompt + q) and session.run in process.
      - llama.cpp: llama-server on 127.0.0.1, one keep-alive HTTP connection,
        POST /v1/embeddings with the prompt text prepended.
      - mnemo: `mnemo bench` when it exists; otherwise whole-process
        `mnemo embed --prompt query` minus the median of an empty run (same
        process, no input), which the table marks with "~".
  * start -> first vector: wall time from spawning the process to the first
    vector of one query (sentence-transformers and ONNX Runtime: spawn of the
    worker to its first vector, imports and load included; the ORT worker's
    includes `import torch`, which transformers 5's AutoTokenizer does through
    configuration_utils, and so does its RSS: the row's torch_imported says so).
  * peak RSS: ru_maxrss of the process (os.wait4), the largest over its runs.
  * cosine of every vector against sentence-transformers f32's for the same
    text (min and mean over both text sets): a wrong conversion shows here. The
    ONNX f32 export must reach >= 0.99999 (printed as the export check).
  * ratios: every mnemo precision against every peer configuration (tokens/s
    at ~128 and ~512, query p50) and against the fastest peer configuration at
    any accuracy, each peer shown with its cosine min against ST f32.
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compare_texts import QUERY, SENTENCES  # noqa: E402

QUERY_PROMPT_NAME = "query"
BATCH = 32  # sentence-transformers' batch_size, and the ORT worker's batches
# mnemo precision -> llama.cpp GGUF type compared with it
SAME_PRECISION = {"f32": "f32", "bf16": "bf16", "int8": "q8_0", "q8_0": "q8_0", "q4": "q4_0", "q4_0": "q4_0"}
ISA_FLAGS = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl",
             "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16"]


def log(msg):
    print(f"[compare] {msg}", flush=True)


def ncpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def percentile(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def median(xs):
    return percentile(xs, 50)


# ---------------------------------------------------------------- processes

def run_measured(argv, stdin_path=None, stdin_bytes=None, stdout_path=None, env=None, timeout=None):
    """Runs argv as a whole process. Returns (rc, wall_s, maxrss_kb, stderr_text)."""
    fin = open(stdin_path, "rb") if stdin_path else (subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL)
    fout = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    ferr = tempfile.TemporaryFile()
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=ferr, env=env)
        if stdin_bytes is not None:
            try:
                p.stdin.write(stdin_bytes)
            except BrokenPipeError:
                pass
            p.stdin.close()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG if deadline else 0)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        ferr.seek(0)
        err = ferr.read().decode("utf-8", "replace")
        return p.returncode, wall, ru.ru_maxrss, err
    finally:
        ferr.close()
        if stdin_path:
            fin.close()
        if stdout_path:
            fout.close()


def run_text(argv, input_text=None, timeout=600):
    p = subprocess.run(argv, input=input_text, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def exit_text(rc, err=""):
    """How a process ended, for the table: "killed by SIGSEGV (signal 11)", or "exit 1: <the
    exception line>" (the last line of its stderr that names an error, else its last line)."""
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = "signal"
        return f"killed by {name} (signal {-rc})"
    lines = [ln.strip() for ln in (err or "").splitlines() if ln.strip()]
    named = [ln for ln in lines if re.match(r"^[\w.]*(Error|Exception|Exit|Interrupt)\b", ln)]
    last = (named or lines or [""])[-1]
    return f"exit {rc}" + (f": {last[:160]}" if last else "")


# ---------------------------------------------------------------- texts

def tokenize_counts(mnemo, model, lines_jsonl, no_special=False):
    argv = [mnemo, "tokenize", "--model", model] + (["--no-special"] if no_special else [])
    rc, out, err = run_text(argv, lines_jsonl)
    if rc != 0:
        raise SystemExit(f"mnemo tokenize failed (exit {rc}): {err.strip()[:500]}")
    return [len(json.loads(line)) for line in out.splitlines()]


def make_texts(mnemo, model, n, lo, hi, cap, seed):
    """n texts whose token counts (with <bos>/<eos>) are near uniform in [lo, hi], never above cap."""
    sents = [s for s in SENTENCES if "\n" not in s]
    sent_tok = tokenize_counts(mnemo, model, "".join(json.dumps(" " + s) + "\n" for s in sents), no_special=True)
    rng = random.Random(seed)
    texts = []
    seen = set()
    while len(texts) < n:
        target = rng.randint(lo, hi)
        parts, tok, used = [], 2, set()
        while tok < target:
            i = rng.randrange(len(sents))
            if i in used:
                continue
            new = tok + sent_tok[i]
            if new > target and parts:
                # past the target: keep the sentence only if that lands closer (and under the cap)
                if new - target < target - tok and new <= cap - 4:
                    used.add(i)
                    parts.append(sents[i])
                    tok = new
                break
            used.add(i)
            parts.append(sents[i])
            tok = new
        text = " ".join(parts)
        if text not in seen:
            seen.add(text)
            texts.append(text)
    # exact counts; trim the rare text the estimate put over the cap
    while True:
        counts = tokenize_counts(mnemo, model, "".join(json.dumps(t) + "\n" for t in texts))
        over = [k for k, c in enumerate(counts) if c > cap]
        if not over:
            return texts, counts
        for k in over:
            texts[k] = texts[k].rsplit(". ", 1)[0] + "."


# ---------------------------------------------------------------- vectors

def cosines(a, b):
    import numpy as np
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    return (a * b).sum(1) / (na * nb)


def read_json_vectors(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def read_llama_raw(path, dim=768):
    rows = []
    with open(path, errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) != dim:
                continue
            try:
                rows.append([float(x) for x in parts])
            except ValueError:
                continue
    return rows


# ---------------------------------------------------------------- peer workers (one process per configuration)

def worker_texts(a, name):
    with open(os.path.join(a.out, f"texts{name}.jsonl")) as f:
        return [json.loads(line) for line in f]


def worker_finish(a, res, tag):
    with open(os.path.join(a.out, f"{tag}-result.json"), "w") as f:
        json.dump(res, f)


def st_worker(a):
    """Runs inside its own process (spawned by the main run), one dtype: writes
    st-<dtype>-result.json and st-<dtype>-<set>.npy / -query.npy vectors."""
    t_spawn = float(os.environ.get("COMPARE_SPAWN_TIME", time.time()))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import numpy as np
    import torch
    torch.set_num_threads(a.threads)
    import sentence_transformers
    import transformers
    from sentence_transformers import SentenceTransformer
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[a.dtype]
    tag = f"st-{a.dtype}"
    m = SentenceTransformer(a.model, device="cpu", model_kwargs={"dtype": dtype})
    got = next(m.parameters()).dtype
    if got != dtype:
        raise SystemExit(f"asked for {dtype}, the model's parameters are {got}")
    qv = m.encode([a.query], prompt_name=QUERY_PROMPT_NAME, show_progress_bar=False)
    first_vector_s = time.time() - t_spawn
    res = {"versions": {"torch": torch.__version__, "sentence_transformers": sentence_transformers.__version__,
                        "transformers": transformers.__version__, "python": platform.python_version()},
           "threads": torch.get_num_threads(), "first_vector_s": first_vector_s, "sets": {}}
    np.save(os.path.join(a.out, f"{tag}-query.npy"), np.asarray(qv, dtype=np.float32))
    for name in a.sets.split(","):
        texts = worker_texts(a, name)
        try:
            feats = m.preprocess(texts)
            counts = [int(x) for x in feats["attention_mask"].sum(1)]
        except Exception as e:  # noqa: BLE001 — counts are only a cross-check
            counts = None
            res.setdefault("notes", []).append(f"token count check failed: {e}")
        m.encode(texts[: min(8, len(texts))], batch_size=BATCH, show_progress_bar=False)  # warm-up
        times = []
        vecs = None
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            vecs = m.encode(texts, batch_size=BATCH, show_progress_bar=False)
            times.append(time.perf_counter() - t0)
        np.save(os.path.join(a.out, f"{tag}-{name}.npy"), np.asarray(vecs, dtype=np.float32))
        res["sets"][name] = {"times": times, "token_counts": counts}
    for _ in range(3):
        m.encode([a.query], prompt_name=QUERY_PROMPT_NAME, show_progress_bar=False)
    lat = []
    for _ in range(a.query_runs):
        t0 = time.perf_counter()
        m.encode([a.query], prompt_name=QUERY_PROMPT_NAME, show_progress_bar=False)
        lat.append(time.perf_counter() - t0)
    res["query_latencies_s"] = lat
    worker_finish(a, res, tag)


def ort_worker(a):
    """Runs inside its own process: ONNX Runtime on one ONNX file (bench/onnx_export.py), same
    protocol as st_worker; writes ort-<variant>-result.json and ort-<variant>-*.npy."""
    t_spawn = float(os.environ.get("COMPARE_SPAWN_TIME", time.time()))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import numpy as np
    import onnxruntime
    import transformers
    import onnx_export as ox
    tag = f"ort-{a.variant}"
    tok = ox.load_tokenizer(a.model)
    sess = ox.session(a.onnx, a.threads)
    qv = ox.ort_encode(sess, tok, [a.query], BATCH, a.query_prompt)
    first_vector_s = time.time() - t_spawn
    res = {"versions": {"onnxruntime": onnxruntime.__version__, "transformers": transformers.__version__,
                        "python": platform.python_version()},
           "threads": a.threads, "first_vector_s": first_vector_s, "onnx": a.onnx,
           "providers": sess.get_providers(), "sets": {}}
    np.save(os.path.join(a.out, f"{tag}-query.npy"), qv)
    for name in a.sets.split(","):
        texts = worker_texts(a, name)
        counts = [int(x) for x in ox.tokenize(tok, texts)[1].sum(1)]
        ox.ort_encode(sess, tok, texts[: min(8, len(texts))], BATCH)  # warm-up
        times = []
        vecs = None
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            vecs = ox.ort_encode(sess, tok, texts, BATCH)
            times.append(time.perf_counter() - t0)
        np.save(os.path.join(a.out, f"{tag}-{name}.npy"), vecs)
        res["sets"][name] = {"times": times, "token_counts": counts}
    for _ in range(3):
        ox.ort_encode(sess, tok, [a.query], BATCH, a.query_prompt)
    lat = []
    for _ in range(a.query_runs):
        t0 = time.perf_counter()
        ox.ort_encode(sess, tok, [a.query], BATCH, a.query_prompt)
        lat.append(time.perf_counter() - t0)
    res["query_latencies_s"] = lat
    res["torch_imported"] = "torch" in sys.modules
    worker_finish(a, res, tag)


# ---------------------------------------------------------------- the systems

class Ctx:
    pass


def measure_worker(c, system, prec, tag, argv, latency_method):
    """Runs one peer configuration's worker (argv) in its own process and reads what it wrote.
    Returns (row, {set: vectors}, query vector); a crash (signal, exception, no result)
    leaves row["error"] and no vectors."""
    row = {"system": system, "precision": prec}
    res_path = os.path.join(c.work, f"{tag}-result.json")
    if os.path.exists(res_path):
        os.remove(res_path)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", COMPARE_SPAWN_TIME=repr(time.time()))
    rc, wall, rss, err = run_measured(argv, env=env, stdout_path=os.path.join(c.work, f"{tag}.out"))
    with open(os.path.join(c.work, f"{tag}.log"), "w") as f:
        f.write(err)
    if rc != 0 or not os.path.exists(res_path):
        row["error"] = exit_text(rc, err) if rc != 0 else "exit 0 without a result"
        log(f"{system} {prec} failed ({row['error']}); its stderr: {os.path.join(c.work, tag + '.log')}\n"
            f"{err.strip()[-1500:]}")
        return row, {}, None
    try:
        return read_worker(c, row, tag, latency_method, rss)
    except (OSError, ValueError, KeyError, IndexError) as e:
        row = {"system": system, "precision": prec, "error": f"its result is unreadable: {type(e).__name__}: {e}"}
        log(f"{system} {prec}: {row['error']}")
        return row, {}, None


def read_worker(c, row, tag, latency_method, rss):
    """Fills row from what a worker wrote (measure_worker). Returns (row, vectors by set, query vector)."""
    import numpy as np
    system, prec = row["system"], row["precision"]
    with open(os.path.join(c.work, f"{tag}-result.json")) as f:
        r = json.load(f)
    row.update(versions=r["versions"], threads=r["threads"], peak_rss_mb=rss / 1024.0,
               first_vector_s=r["first_vector_s"], latency_method=latency_method)
    for k in ("onnx", "providers", "torch_imported"):
        if k in r:
            row[k] = r[k]
    for n in r.get("notes", []):
        c.notes.append(f"{system} {prec}: {n}")
    vecs = {}
    for name in c.sets:
        s = r["sets"][name]
        row[f"time_{name}_s"] = min(s["times"])
        row[f"times_{name}_s"] = s["times"]
        row[f"tok_s_{name}"] = c.tokens[name] / min(s["times"])
        if s["token_counts"] is not None and s["token_counts"] != c.counts[name]:
            bad = sum(1 for x, y in zip(s["token_counts"], c.counts[name]) if x != y)
            c.notes.append(f"token counts: {system} {prec} and mnemo tokenize differ on {bad} of "
                           f"{len(c.counts[name])} ~{name}-token texts")
        elif s["token_counts"] is not None:
            row[f"token_counts_{name}_match_mnemo"] = True
        vecs[name] = np.load(os.path.join(c.work, f"{tag}-{name}.npy"))
        log(f"  {system} {prec} ~{name}: {c.tokens[name]} tokens in {min(s['times']):.2f} s -> "
            f"{row[f'tok_s_{name}']:.0f} tokens/s")
    qv = np.load(os.path.join(c.work, f"{tag}-query.npy"))[0]
    lat = r["query_latencies_s"]
    row.update(query_p50_ms=percentile(lat, 50) * 1e3, query_p99_ms=percentile(lat, 99) * 1e3,
               query_runs_ms=[x * 1e3 for x in lat])
    log(f"  {system} {prec} query p50 {row['query_p50_ms']:.1f} ms, p99 {row['query_p99_ms']:.1f} ms; "
        f"first vector {row['first_vector_s']:.2f} s; RSS {row['peak_rss_mb']:.0f} MB")
    return row, vecs, qv


def worker_argv(c, cmd, tag_args):
    return [sys.executable, os.path.abspath(__file__), cmd, "--model", c.model, "--out", c.work,
            "--threads", str(c.threads), "--repeat", str(c.repeat), "--query-runs", str(c.query_runs),
            "--query", c.query, "--sets", ",".join(c.sets)] + tag_args


def measure_st(c, dtype):
    """sentence-transformers at one dtype. f32 is the reference of every cosine."""
    log(f"sentence-transformers: {dtype}, {c.threads} threads, batch_size={BATCH} "
        f"(own process; load excluded, after a warm-up)")
    row, vecs, qv = measure_worker(c, "sentence-transformers", dtype, f"st-{dtype}",
                                   worker_argv(c, "st-worker", ["--dtype", dtype]),
                                   "in process: model.encode([q], prompt_name='query')")
    if "error" in row:
        return row
    if dtype == "f32":
        c.st_vecs, c.st_query = vecs, [qv]
        row["cos_vs_st_min"] = row["cos_vs_st_mean"] = 1.0
    else:
        add_cosines(c, row, vecs, qv)
    return row


def onnx_files(c):
    """Exports the ONNX files, or finds them made, with bench/onnx_export.py in its own process.
    Returns ({variant: path}, None) or ({}, error)."""
    argv = [sys.executable, os.path.join(HERE, "onnx_export.py"), c.model, c.onnx_dir, "--no-check"]
    logp = os.path.join(c.work, "onnx-export.log")
    log(f"ONNX export: {c.onnx_dir} (bench/onnx_export.py; made once, reused; log {logp})")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    rc, wall, rss, err = run_measured(argv, env=env, stdout_path=logp + ".out")
    with open(logp, "w") as f:
        with open(logp + ".out") as g:
            f.write(g.read())
        f.write(err)
    os.remove(logp + ".out")
    files = {"f32": os.path.join(c.onnx_dir, "model-f32.onnx"), "int8": os.path.join(c.onnx_dir, "model-int8.onnx")}
    if rc != 0:
        e = "ONNX export " + exit_text(rc, err)
        log(f"{e}; see {logp}\n{err.strip()[-1500:]}")
        return {}, e
    for line in open(logp):
        if line.startswith("[onnx_export]"):
            log("  " + line.strip())
    return files, None


def measure_ort(c, variant, path):
    log(f"onnxruntime: {variant} ({path}), intra_op_num_threads={c.threads}, batches of {BATCH} "
        f"(own process; load excluded, after a warm-up)")
    row, vecs, qv = measure_worker(c, "onnxruntime", variant, f"ort-{variant}",
                                   worker_argv(c, "ort-worker", ["--variant", variant, "--onnx", path,
                                                                 "--query-prompt", c.query_prompt]),
                                   "in process: tokenize(prompt + q) + InferenceSession.run")
    row["onnx"] = path
    if "error" not in row:
        add_cosines(c, row, vecs, qv)
    return row


def add_cosines(c, row, vecs_by_set, query_vec=None):
    if not getattr(c, "st_vecs", None):
        return
    allc = []
    for name, v in vecs_by_set.items():
        if v is None or name not in c.st_vecs:
            continue
        if len(v) != len(c.st_vecs[name]):
            c.notes.append(f"{row['system']} {row['precision']}: {len(v)} vectors for {len(c.st_vecs[name])} texts")
            continue
        cs = cosines(v, c.st_vecs[name])
        row[f"cos_vs_st_{name}_min"] = float(cs.min())
        allc.extend(float(x) for x in cs)
    if allc:
        row["cos_vs_st_min"] = min(allc)
        row["cos_vs_st_mean"] = sum(allc) / len(allc)
    if query_vec is not None and getattr(c, "st_query", None) is not None:
        row["cos_vs_st_query"] = float(cosines([query_vec], c.st_query)[0])


def mnemo_precisions(c):
    """[(precision, extra argv or None when n/a, why)]"""
    rc, out, err = run_text([c.mnemo, "help", "embed"])
    has_flag = "--precision" in (out + err)
    res = []
    for p in c.precisions:
        if not has_flag and p != "f32":
            res.append((p, None, "mnemo embed has no --precision flag yet"))
            continue
        args = ["--precision", p] if has_flag else []
        # also the warm-up: page cache, and mnemo's packed-weight cache for this precision
        argv = [c.mnemo, "embed", "--model", c.model, "--threads", str(c.threads)] + args
        rc, out, err = run_text(argv, json.dumps("probe") + "\n", timeout=1800)
        if rc == 2:
            res.append((p, None, f"mnemo embed --precision {p} exits 2: {err.strip().splitlines()[-1] if err.strip() else ''}"))
        elif rc != 0:
            res.append((p, None, f"mnemo embed --precision {p} failed (exit {rc}): {err.strip()[:200]}"))
        else:
            res.append((p, args, "" if has_flag else "no --precision flag yet: the default (f32) is used"))
    return res


def mnemo_bench_latency(c, prec_args):
    """(p50_ms, p99_ms, full JSON or None) from `mnemo bench` when it exists; else (None, why, None)."""
    if c.no_mnemo_bench:
        return None, "--no-mnemo-bench", None
    rc, out, err = run_text([c.mnemo, "bench", "--help"])
    if rc != 0:
        return None, "no `mnemo bench` yet", None
    argv = [c.mnemo, "bench", "--model", c.model, "--threads", str(c.threads), "--json"] + prec_args + (
        ["--quick"] if c.quick else [])
    log(f"  {' '.join(argv[1:])} (for the in-process query latency)")
    rc, out, err = run_text(argv, timeout=7200)
    if rc == 0:
        for line in reversed(out.splitlines()):
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if isinstance(j, dict) and "query_p50_ms" in j and "query_p99_ms" in j:
                return (j["query_p50_ms"], j["query_p99_ms"]), "in process (`mnemo bench --json`" + (
                    " --quick" if c.quick else "") + ")", j
    # older or different output: look for "p50 ... ms" / "p99 ... ms" in its text
    rc2, out, err = run_text([c.mnemo, "bench", "--model", c.model, "--threads", str(c.threads)] + prec_args,
                             timeout=7200)
    text = out + "\n" + err
    num = r"([0-9]+(?:\.[0-9]+)?)"
    m50 = re.search(r"p50\D{0,20}?" + num + r"\s*ms", text, re.I)
    m99 = re.search(r"p99\D{0,20}?" + num + r"\s*ms", text, re.I)
    if rc2 != 0 or not m50 or not m99:
        return None, f"`mnemo bench` ran (exit {rc2}) but its p50/p99 ms were not found in its output", None
    return (float(m50.group(1)), float(m99.group(1))), "in process (mnemo bench)", None


def time_sets(c, row, vecs, rss, label, command, out_path, read_vectors):
    """Times one system on every text set as whole processes (fastest of c.repeat),
    fills row's time_/times_/tok_s_ fields and vecs[set]. Returns the peak RSS (kB)
    seen so far, or None after recording a failure in row["error"]."""
    for name in c.sets:
        times, out = [], out_path(name)
        for _ in range(c.repeat):
            rc, wall, mr, err = run_measured(**command(name, out))
            if rc != 0:
                log(f"{label} failed on ~{name} texts ({exit_text(rc)}): {err.strip()[-800:]}")
                row["error"] = exit_text(rc, err)
                return None
            times.append(wall)
            rss = max(rss, mr)
        vecs[name] = read_vectors(out)
        row[f"time_{name}_s"] = min(times)
        row[f"times_{name}_s"] = times
        row[f"tok_s_{name}"] = c.tokens[name] / min(times)
        log(f"  {label} ~{name}: {c.tokens[name]} tokens in {min(times):.2f} s -> {row[f'tok_s_{name}']:.0f} tokens/s")
    return rss


def measure_mnemo(c, prec, prec_args):
    base = [c.mnemo, "embed", "--model", c.model, "--threads", str(c.threads)] + prec_args
    row = {"system": "mnemo", "precision": prec, "argv": base}
    rss = 0
    vecs = {}
    # short query: `mnemo bench` if it can, else process time minus an empty run
    lat, how, bench_json = mnemo_bench_latency(c, prec_args)
    if bench_json:
        row["mnemo_bench"] = bench_json
    qargs = base + ["--prompt", QUERY_PROMPT_NAME]
    qline = (json.dumps(c.query) + "\n").encode()
    full, empty = [], []
    qout = os.path.join(c.work, f"mnemo-{prec}-query.jsonl")
    for _ in range(3 if lat else c.query_runs):
        rc, wall, mr, err = run_measured(qargs, stdin_bytes=qline, stdout_path=qout)
        if rc != 0:
            row["error"] = f"query run exit {rc}: {err.strip()[:200]}"
            return row
        full.append(wall)
        rss = max(rss, mr)
        if not lat:
            rc, wall, mr, err = run_measured(qargs, stdin_bytes=b"")
            empty.append(wall)
    row["first_vector_s"] = median(full)
    if lat:
        row.update(query_p50_ms=lat[0], query_p99_ms=lat[1], latency_method=how)
    else:
        e = median(empty)
        diffs = [(x - e) * 1e3 for x in full]
        row.update(query_p50_ms=percentile(diffs, 50), query_p99_ms=percentile(diffs, 99), latency_estimated=True,
                   latency_method=f"{how}: whole-process `mnemo embed --prompt query` minus the median empty run "
                                  f"({e * 1e3:.0f} ms; same process with no input)",
                   query_process_ms=[x * 1e3 for x in full], empty_process_ms=[x * 1e3 for x in empty])
    rss = time_sets(c, row, vecs, rss, f"mnemo {prec}",
                    lambda name, out: dict(argv=base, stdin_path=c.jsonl[name], stdout_path=out),
                    lambda name: os.path.join(c.work, f"mnemo-{prec}-{name}.jsonl"), read_json_vectors)
    if rss is None:
        return row
    row["peak_rss_mb"] = rss / 1024.0
    qv = read_json_vectors(qout)
    add_cosines(c, row, vecs, qv[0] if qv else None)
    return row


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def llama_server_latency(c, gguf, typ):
    """(p50_ms, p99_ms, query vector, peak RSS kB) from llama-server on 127.0.0.1."""
    port = free_port()
    argv = [os.path.join(c.llama_bin, "llama-server"), "-m", gguf, "--embedding", "--pooling", "mean",
            "-ub", "512", "-b", "512", "-c", "512", "-np", "1", "-t", str(c.threads), "-tb", str(c.threads),
            "--host", "127.0.0.1", "--port", str(port)] + c.llama_args
    logf = open(os.path.join(c.work, f"llama-server-{typ}.log"), "wb")
    p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        t_end = time.monotonic() + 180
        while True:
            if p.poll() is not None:
                raise RuntimeError(f"llama-server exited {p.returncode}; see {logf.name}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/health")
                r = conn.getresponse()
                r.read()
                conn.close()
                if r.status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > t_end:
                raise RuntimeError("llama-server did not become healthy in 180 s")
            time.sleep(0.2)
        body = json.dumps({"input": c.query_prompt + c.query, "model": "embeddinggemma"}).encode()
        hdr = {"Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def post():
            conn.request("POST", "/v1/embeddings", body, hdr)
            r = conn.getresponse()
            data = r.read()
            if r.status != 200:
                raise RuntimeError(f"/v1/embeddings: HTTP {r.status}: {data[:300]!r}")
            return data

        for _ in range(3):
            data = post()
        qv = json.loads(data)["data"][0]["embedding"]
        lat = []
        for _ in range(c.query_runs):
            t0 = time.perf_counter()
            post()
            lat.append(time.perf_counter() - t0)
        conn.close()
        return percentile(lat, 50) * 1e3, percentile(lat, 99) * 1e3, qv, [x * 1e3 for x in lat]
    finally:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        logf.close()


def measure_llama(c, typ, gguf):
    exe = os.path.join(c.llama_bin, "llama-embedding")
    base = [exe, "-m", gguf, "--pooling", "mean", "--embd-normalize", "2", "-ub", "512", "-b", "512", "-c", "512",
            "-t", str(c.threads), "-tb", str(c.threads), "--embd-output-format", "raw"] + c.llama_args
    row = {"system": "llama.cpp", "precision": typ, "gguf": gguf, "argv": base}
    rss = 0
    vecs = {}
    fv = []
    for _ in range(3):  # start to first vector; also the warm-up
        rc, wall, mr, err = run_measured(base + ["-p", c.query_prompt + c.query],
                                         stdout_path=os.path.join(c.work, f"llama-{typ}-query.txt"))
        if rc != 0:
            log(f"llama-embedding {typ} failed ({exit_text(rc)}): {err.strip()[-800:]}")
            row["error"] = exit_text(rc, err)
            return row
        fv.append(wall)
        rss = max(rss, mr)
    row["first_vector_s"] = median(fv)
    rss = time_sets(c, row, vecs, rss, f"llama.cpp {typ}",
                    lambda name, out: dict(argv=base + ["-f", c.txt[name]], stdout_path=out),
                    lambda name: os.path.join(c.work, f"llama-{typ}-{name}.txt"), read_llama_raw)
    if rss is None:
        return row
    row["peak_rss_mb"] = rss / 1024.0
    try:
        p50, p99, qv, runs = llama_server_latency(c, gguf, typ)
        row.update(query_p50_ms=p50, query_p99_ms=p99, query_runs_ms=runs,
                   latency_method="llama-server, one keep-alive connection, POST /v1/embeddings")
    except Exception as e:  # noqa: BLE001 — report, keep going
        log(f"  llama-server {typ}: {e}")
        row["latency_error"] = str(e)
        qv = None
    add_cosines(c, row, vecs, qv)
    return row


# ---------------------------------------------------------------- report

def fmt(x, spec, dash="—"):
    return dash if x is None else format(x, spec)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def cpu_info():
    model, flags = "unknown", []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1].split()
    except OSError:
        pass
    return model, flags


def make_report(c, rows):
    st = next((r for r in rows if r["system"] == "sentence-transformers" and r["precision"] == "f32"
               and "error" not in r), None)
    llama = {r["precision"]: r for r in rows if r["system"] == "llama.cpp" and "error" not in r}
    for r in rows:
        if "error" in r or r.get("na"):
            continue
        if st:
            r["x_st_128"] = ratio(r.get("tok_s_128"), st.get("tok_s_128"))
            r["x_st_512"] = ratio(r.get("tok_s_512"), st.get("tok_s_512"))
            r["x_st_p50"] = ratio(st.get("query_p50_ms"), r.get("query_p50_ms"))
        if r["system"] == "mnemo":
            peer = llama.get(SAME_PRECISION.get(r["precision"], ""))
            if peer:
                r["vs_llama"] = peer["precision"]
                r["x_llama_128"] = ratio(r.get("tok_s_128"), peer.get("tok_s_128"))
                r["x_llama_512"] = ratio(r.get("tok_s_512"), peer.get("tok_s_512"))
                r["x_llama_p50"] = ratio(peer.get("query_p50_ms"), r.get("query_p50_ms"))

    def trio(r, pre):
        vals = [r.get(f"{pre}_128"), r.get(f"{pre}_512"), r.get(f"{pre}_p50")]
        if all(v is None for v in vals):
            return "—"
        return " ".join(fmt(v, ".2f", "—") for v in vals)

    head = ["system", "tok/s ~128", "tok/s ~512", "q p50 ms", "q p99 ms", "1st vec s", "RSS MB",
            "cos ST min", "x ST f32 (128 512 p50)", "x llama same (128 512 p50)"]
    lines = []
    for r in rows:
        label = f"{r['system']} {r['precision']}"
        if r.get("na") or "error" in r:
            why = "n/a" if r.get("na") else "error: " + r["error"]
            lines.append([label, why] + [""] * (len(head) - 2))
            continue
        est = "~" if r.get("latency_estimated") else ""
        vs = trio(r, "x_llama")
        if vs != "—":
            vs = f"{vs} ({r['vs_llama']})"
        lines.append([label, fmt(r.get("tok_s_128"), ".0f"), fmt(r.get("tok_s_512"), ".0f"),
                      est + fmt(r.get("query_p50_ms"), ".1f"), est + fmt(r.get("query_p99_ms"), ".1f"),
                      fmt(r.get("first_vector_s"), ".2f"), fmt(r.get("peak_rss_mb"), ".0f"),
                      fmt(r.get("cos_vs_st_min"), ".5f"), "1 (reference)" if r is st else trio(r, "x_st"),
                      vs])
    return render(head, lines)


def render(head, lines):
    """Columns padded to their widths (first left, others right); a row whose second cell is
    "n/a" or "error: ..." is printed as label + that text, and does not widen the columns."""
    def full(ln):
        return not (ln[1].startswith("n/a") or ln[1].startswith("error"))
    widths = [max([len(head[i])] + [len(ln[i]) for ln in lines if full(ln) or i == 0]) for i in range(len(head))]
    out = []
    out.append("  ".join(h.ljust(widths[i]) if i == 0 else h.rjust(widths[i]) for i, h in enumerate(head)))
    out.append("  ".join("-" * w for w in widths))
    for ln in lines:
        if not full(ln):
            out.append(ln[0].ljust(widths[0]) + "  " + ln[1])
        else:
            out.append("  ".join(v.ljust(widths[i]) if i == 0 else v.rjust(widths[i]) for i, v in enumerate(ln)))
    return "\n".join(out)


PEER_SHORT = {"sentence-transformers": "ST", "onnxruntime": "ORT", "llama.cpp": "llama.cpp"}


def make_ratios(rows):
    """Every mnemo precision against every peer configuration and against the fastest peer at
    any accuracy: a table with one line per peer and one column per mnemo precision. Each cell
    is "x128 x512 xp50" (mnemo tokens/s / peer tokens/s at ~128 and ~512; peer query p50 /
    mnemo query p50: >1 = mnemo faster). Fills each mnemo row's "x_peers" and "x_fastest"."""
    mnemo = [r for r in rows if r["system"] == "mnemo" and not r.get("na") and "error" not in r]
    peers = [r for r in rows if r["system"] != "mnemo"]
    ok = [r for r in peers if "error" not in r and not r.get("na")]
    if not mnemo or not peers:
        return "(no ratios: " + ("no mnemo precision measured" if not mnemo else "no peer measured") + ")"
    metrics = (("128", "tok_s_128", max), ("512", "tok_s_512", max), ("p50", "query_p50_ms", min))

    def label(r):
        return f"{PEER_SHORT.get(r['system'], r['system'])} {r['precision']}"

    def xs(m, p):
        return {"128": ratio(m.get("tok_s_128"), p.get("tok_s_128")), "512": ratio(m.get("tok_s_512"), p.get("tok_s_512")),
                "p50": ratio(p.get("query_p50_ms"), m.get("query_p50_ms"))}

    def cell(x):
        return "—" if all(v is None for v in x.values()) else " ".join(fmt(x[k], ".2f", "—") for k in ("128", "512", "p50"))

    fastest = {}
    for key, field, best in metrics:
        have = [r for r in ok if r.get(field) is not None]
        if have:
            fastest[key] = best(have, key=lambda r: r[field])
    for m in mnemo:
        m["x_peers"] = {label(p): xs(m, p) for p in ok}
        m["x_fastest"] = {}
        for key, field, _ in metrics:
            p = fastest.get(key)
            if p is not None:
                m["x_fastest"][key] = {"peer": label(p), "x": xs(m, p)[key], "peer_cos_vs_st_min": p.get("cos_vs_st_min")}

    head = ["peer", "cos ST min", "tok/s ~128", "tok/s ~512", "q p50 ms"] + [f"mnemo {m['precision']}" for m in mnemo]
    lines = [["mnemo's own cos ST min", "", "", "", ""] + [fmt(m.get("cos_vs_st_min"), ".5f") for m in mnemo]]
    for p in peers:
        if "error" in p or p.get("na"):
            lines.append([label(p), ("n/a: " + p.get("why", "")) if p.get("na") else "error: " + p["error"]]
                         + [""] * (len(head) - 2))
            continue
        lines.append([label(p), fmt(p.get("cos_vs_st_min"), ".5f"), fmt(p.get("tok_s_128"), ".0f"),
                      fmt(p.get("tok_s_512"), ".0f"), fmt(p.get("query_p50_ms"), ".1f")]
                     + [cell(m["x_peers"][label(p)]) for m in mnemo])
    if fastest:
        f = {k: fastest.get(k) for k in ("128", "512", "p50")}
        lines.append(["fastest, any accuracy", "", fmt(f["128"] and f["128"]["tok_s_128"], ".0f"),
                      fmt(f["512"] and f["512"]["tok_s_512"], ".0f"), fmt(f["p50"] and f["p50"]["query_p50_ms"], ".1f")]
                     + [cell({k: (m["x_fastest"].get(k) or {}).get("x") for k in ("128", "512", "p50")}) for m in mnemo])
    out = render(head, lines)
    if fastest:
        out += "\nfastest peer configuration at any accuracy: " + "; ".join(
            f"{name} {label(p)} (cos ST min {fmt(p.get('cos_vs_st_min'), '.5f')})"
            for name, p in (("~128", fastest.get("128")), ("~512", fastest.get("512")), ("query p50", fastest.get("p50")))
            if p is not None)
    return out


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")
    workers = {}
    for cmd in ("st-worker", "ort-worker"):
        w = workers[cmd] = sub.add_parser(cmd)
        w.add_argument("--model", required=True)
        w.add_argument("--out", required=True)
        w.add_argument("--threads", type=int, required=True)
        w.add_argument("--repeat", type=int, default=1)
        w.add_argument("--query-runs", type=int, default=30)
        w.add_argument("--query", required=True)
        w.add_argument("--sets", default="128,512")
    workers["st-worker"].add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    workers["ort-worker"].add_argument("--variant", required=True)
    workers["ort-worker"].add_argument("--onnx", required=True, help="the .onnx file")
    workers["ort-worker"].add_argument("--query-prompt", default="")
    ap.add_argument("--model", default=os.environ.get("MNEMO_MODEL"))
    ap.add_argument("--mnemo", required=False, help="the mnemo binary")
    ap.add_argument("--llama-bin", help="folder holding llama-embedding and llama-server")
    ap.add_argument("--gguf", action="append", default=[], metavar="TYPE=PATH", help="a GGUF to measure (repeatable)")
    ap.add_argument("--llama-args", default="", help="extra arguments for llama-embedding and llama-server, e.g. '--no-warmup'")
    ap.add_argument("--precisions", default="f32 bf16 int8 q4", help="mnemo precisions (default: %(default)s)")
    ap.add_argument("--quick", action="store_true", help="32 + 8 texts, 10 query runs: a smoke run")
    ap.add_argument("--n128", type=int, help="number of ~128-token texts (default 256; --quick 32)")
    ap.add_argument("--n512", type=int, help="number of ~512-token texts (default 64; --quick 8)")
    ap.add_argument("--query-runs", type=int, help="runs of the short query (default 30; --quick 10)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each batch measurement; the fastest counts (default 1)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--threads", type=int, default=ncpus(), help="threads for the peers (default: the CPUs this process may use)")
    ap.add_argument("--skip-st", action="store_true", help="no sentence-transformers configuration")
    ap.add_argument("--st-dtypes", default="f32 bf16",
                    help="sentence-transformers dtypes, f32 (the cosine reference) and/or bf16 (default: %(default)s)")
    ap.add_argument("--skip-onnx", action="store_true", help="no ONNX Runtime configuration")
    ap.add_argument("--onnx-dir", default=os.path.join(os.environ.get("MNEMO_BENCH_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "mnemo", "bench"), "onnx"),
                    help="where the ONNX files are made and reused (default: %(default)s)")
    ap.add_argument("--skip-mnemo", action="store_true")
    ap.add_argument("--no-mnemo-bench", action="store_true",
                    help="do not use `mnemo bench` for mnemo's query latency (estimate it from whole processes)")
    ap.add_argument("--results", default=os.path.join(os.path.expanduser("~"), ".cache", "mnemo", "bench", "results"))
    ap.add_argument("--repo", default=os.path.dirname(HERE))
    a = ap.parse_args()
    if a.cmd == "st-worker":
        return st_worker(a)
    if a.cmd == "ort-worker":
        return ort_worker(a)
    if not a.model or not a.mnemo:
        ap.error("--model and --mnemo are required (bench/compare passes them)")

    c = Ctx()
    c.model, c.mnemo, c.llama_bin, c.threads = a.model, a.mnemo, a.llama_bin, a.threads
    c.onnx_dir = a.onnx_dir
    st_dtypes = a.st_dtypes.split()
    for d in st_dtypes:
        if d not in ("f32", "bf16"):
            ap.error(f"--st-dtypes: {d!r} is not f32 or bf16 (EmbeddingGemma does not support f16)")
    st_dtypes.sort(key=lambda d: d != "f32")  # f32 first: the reference of the cosines
    c.precisions = a.precisions.split()
    c.llama_args = a.llama_args.split()
    c.repeat = max(1, a.repeat)
    n128 = a.n128 or (32 if a.quick else 256)
    n512 = a.n512 or (8 if a.quick else 64)
    c.query_runs = a.query_runs or (10 if a.quick else 30)
    c.quick = a.quick
    c.no_mnemo_bench = a.no_mnemo_bench
    c.query = QUERY
    c.notes = []
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(a.results, exist_ok=True)
    c.work = os.path.join(a.results, f"compare-{stamp}.work")
    os.makedirs(c.work, exist_ok=True)

    model_name, flags = cpu_info()
    isa = [f for f in ISA_FLAGS if f in flags]
    load0 = os.getloadavg()
    log(f"CPU: {model_name}; {ncpus()} CPUs for this process; ISA flags: {' '.join(isa)}")
    log(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")

    # the query prompt text, as sentence-transformers prepends it
    with open(os.path.join(c.model, "config_sentence_transformers.json")) as f:
        c.query_prompt = json.load(f)["prompts"][QUERY_PROMPT_NAME]

    # texts
    log(f"making texts: {n128} of ~128 tokens, {n512} of ~512 (seed {a.seed})")
    t128, k128 = make_texts(c.mnemo, c.model, n128, 112, 144, 512, a.seed)
    t512, k512 = make_texts(c.mnemo, c.model, n512, 488, 512, 512, a.seed + 1)
    c.sets = ["128", "512"]
    c.counts = {"128": k128, "512": k512}
    c.tokens = {"128": sum(k128), "512": sum(k512)}
    c.jsonl, c.txt = {}, {}
    for name, texts in (("128", t128), ("512", t512)):
        c.jsonl[name] = os.path.join(c.work, f"texts{name}.jsonl")
        c.txt[name] = os.path.join(c.work, f"texts{name}.txt")
        with open(c.jsonl[name], "w") as f:
            f.writelines(json.dumps(t, ensure_ascii=False) + "\n" for t in texts)
        with open(c.txt[name], "w") as f:
            f.write("\n".join(texts) + "\n")
    q_tokens = tokenize_counts(c.mnemo, c.model, json.dumps(c.query_prompt + c.query) + "\n")[0]
    texts_info = {"n128": n128, "mean_tokens_128": c.tokens["128"] / n128, "min_128": min(k128), "max_128": max(k128),
                  "n512": n512, "mean_tokens_512": c.tokens["512"] / n512, "min_512": min(k512), "max_512": max(k512),
                  "query": c.query, "query_prompt": c.query_prompt, "query_tokens": q_tokens, "seed": a.seed,
                  "files": [c.jsonl["128"], c.jsonl["512"]]}
    log(f"texts: ~128 set mean {texts_info['mean_tokens_128']:.1f} tokens ({min(k128)}..{max(k128)}), "
        f"~512 set mean {texts_info['mean_tokens_512']:.1f} ({min(k512)}..{max(k512)}); "
        f"query {q_tokens} tokens with its prompt")

    rows = []
    if not a.skip_st:
        for d in st_dtypes:
            rows.append(measure_st(c, d))
    onnx_check = None
    if not a.skip_onnx:
        files, why = onnx_files(c)
        for variant in ("f32", "int8"):
            if why:
                rows.append({"system": "onnxruntime", "precision": variant, "error": why})
                continue
            rows.append(measure_ort(c, variant, files[variant]))
            r = rows[-1]
            if variant == "f32" and "error" not in r:
                if r.get("cos_vs_st_min") is None:
                    onnx_check = "ONNX f32 export vs sentence-transformers f32: not checked (no ST f32 vectors)"
                else:
                    ok = r["cos_vs_st_min"] >= 0.99999
                    onnx_check = (f"ONNX f32 export vs sentence-transformers f32 on all {n128 + n512} texts: cosine min "
                                  f"{r['cos_vs_st_min']:.6f}, mean {r['cos_vs_st_mean']:.6f}"
                                  + (f", query {r['cos_vs_st_query']:.6f}" if r.get("cos_vs_st_query") is not None else "")
                                  + (" (>= 0.99999: ok)" if ok else " (< 0.99999: the export does NOT match)"))
                    r["export_check_ok"] = ok
                    if not ok:
                        c.notes.append(onnx_check)
                log(onnx_check)
    if not a.skip_mnemo:
        log(f"mnemo: {c.mnemo}")
        for prec, args, why in mnemo_precisions(c):
            if args is None:
                log(f"mnemo {prec}: n/a ({why})")
                rows.append({"system": "mnemo", "precision": prec, "na": True, "why": why})
                c.notes.append(f"mnemo {prec} n/a: {why}")
                continue
            if why:
                c.notes.append(f"mnemo {prec}: {why}")
            log(f"mnemo {prec}: measuring")
            rows.append(measure_mnemo(c, prec, args))
    for spec in a.gguf:
        typ, path = spec.split("=", 1)
        log(f"llama.cpp {typ}: {path}")
        rows.append(measure_llama(c, typ, path))

    # order: mnemo, sentence-transformers, onnxruntime, llama.cpp (stable: precisions as measured)
    order = {"mnemo": 0, "sentence-transformers": 1, "onnxruntime": 2, "llama.cpp": 3}
    rows.sort(key=lambda r: order[r["system"]])
    table = make_report(c, rows)
    ratios = make_ratios(rows)
    load1 = os.getloadavg()

    versions = {"python": platform.python_version()}
    rc, out, err = run_text([c.mnemo, "--version"])
    versions["mnemo"] = (out or err).strip()
    try:
        rc, out, err = run_text(["git", "-C", a.repo, "describe", "--always", "--dirty"])
        versions["mnemo_git"] = out.strip()
    except OSError:
        pass
    if c.llama_bin:
        rc, out, err = run_text([os.path.join(c.llama_bin, "llama-embedding"), "--version"])
        versions["llama.cpp"] = " ".join((out + err).split())[:200]
    for r in rows:  # the workers' library versions (sentence-transformers, torch, onnxruntime, ...)
        for k, v in r.get("versions", {}).items():
            versions.setdefault(k, v)
    if not a.skip_onnx:
        try:
            with open(os.path.join(c.onnx_dir, "export.json")) as f:
                ex = json.load(f)
            versions["onnx_export"] = {k: ex.get(k) for k in ("torch", "transformers", "opset", "onnx", "onnxruntime", "int8")}
        except (OSError, ValueError):
            pass

    lat_notes = sorted({r["latency_method"] for r in rows if r.get("latency_estimated")})
    print()
    print(f"CPU: {model_name} — {ncpus()} CPUs — {' '.join(isa)}")
    print(f"load average: start {load0[0]:.2f}, end {load1[0]:.2f} (1 min); threads for every system: {c.threads}")
    print(f"texts: {n128} x ~128 tokens (mean {texts_info['mean_tokens_128']:.1f}), "
          f"{n512} x ~512 (mean {texts_info['mean_tokens_512']:.1f}); query '{c.query}' = {q_tokens} tokens with "
          f"the query prompt; best of {c.repeat} run(s); {c.query_runs} query runs")
    print(f"versions: {json.dumps(versions)}")
    print()
    print(table)
    print()
    print("mnemo against each peer configuration (cells: x ~128 tok/s, x ~512 tok/s, x query p50; >1 = mnemo faster):")
    print(ratios)
    print()
    print("tok/s: tokens (mnemo tokenize, same counts for all) / wall time. mnemo and llama.cpp: whole process "
          "(start + load + embed + output); sentence-transformers (ST) and onnxruntime (ORT): in process, "
          f"batches of {BATCH}, after load and warm-up.")
    print("x ...: speed-up of this row over the peer (tokens/s ratio; for p50, peer latency / this latency); "
          ">1 means this row is faster. 'same' = llama.cpp at the same precision (int8 vs Q8_0, q4 vs Q4_0).")
    print("q p50/p99: one query with the query prompt; mnemo in process (`mnemo bench`, its own runs) or estimated (~); "
          "ST and ORT in process; llama.cpp through llama-server over HTTP on 127.0.0.1.")
    print("1st vec s: spawn to first vector of one query. RSS: peak resident set of the process (largest run). "
          "cos ST min: lowest cosine against sentence-transformers f32 over all texts.")
    if onnx_check:
        print(onnx_check)
    for n in lat_notes:
        print(f"~ latency estimated: {n}")
    for n in c.notes:
        print(f"note: {n}")
    for r in rows:
        j = r.get("mnemo_bench")
        if j:
            print(f"mnemo bench {r['precision']} (in process{', --quick' if c.quick else ''}, its own texts): "
                  f"~128 {j['batch128']['tokens_per_s']:.0f} tok/s, ~512 {j['batch512']['tokens_per_s']:.0f} tok/s, "
                  f"query p50 {j['query_p50_ms']:.1f} ms, first vector {j['first_vector_s']:.3f} s, kernels {j['kernels']}, "
                  f"linear layers {j['linear_gflops_128']:.0f} GFLOP/s of a measured FMA peak "
                  f"{j['fma_peak_gflops']:.0f}, RSS {j['peak_rss_mb']:.0f} MB")
    cos_lines = [f"{r['system']} {r['precision']}: min {r['cos_vs_st_min']:.6f}, mean {r['cos_vs_st_mean']:.6f}"
                 + (f", query {r['cos_vs_st_query']:.6f}" if r.get("cos_vs_st_query") is not None else "")
                 for r in rows if r.get("cos_vs_st_min") is not None
                 and not (r["system"] == "sentence-transformers" and r["precision"] == "f32")]
    if cos_lines:
        print("cosine vs sentence-transformers f32 (all texts; query = the served query vector):")
        for ln in cos_lines:
            print("  " + ln)

    result = {"date": stamp, "cpu": {"model": model_name, "isa_flags": isa, "flags": flags, "cpus": ncpus()},
              "loadavg_start": load0, "loadavg_end": load1, "threads": c.threads, "repeat": c.repeat,
              "query_runs": c.query_runs, "versions": versions, "texts": texts_info, "rows": rows,
              "notes": c.notes, "table": table, "ratios_table": ratios, "onnx_check": onnx_check,
              "onnx_dir": None if a.skip_onnx else c.onnx_dir}
    path = os.path.join(a.results, f"compare-{stamp}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(a.results, f"compare-{stamp}.txt"), "w") as f:
        f.write(table + "\n\n" + ratios + "\n")
    print()
    print(f"results: {path} (table: {path[:-5]}.txt; texts, vectors and logs: {c.work}/)")
    return 0


if __name__ == "__main__":
    sys.exit(main() or 0)

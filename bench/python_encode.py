#!/usr/bin/env python3
"""python_encode.py — mnemo's Python package against sentence-transformers and
ONNX Runtime, in process: the same texts through mnemo.Model.encode,
SentenceTransformer.encode (f32 and bf16) and an ONNX Runtime session, each
system in its own process, printing tokens/s and peak RSS.

Run it through bench/python_encode, which makes the venvs (mnemo's, and
bench/compare's with torch, sentence-transformers and onnxruntime) and the
ONNX export. By hand:

    MNEMO_PY/bin/python bench/python_encode.py --model DIR --st-python BENCH/venv/bin/python \\
        [--onnx BENCH/onnx/model-f32.onnx] [--n 256] [--tokens 128] [--repeat 3] [--threads N]
        [--precisions "auto f32 bf16"] [--st-dtypes "f32 bf16"] [--skip-st] [--skip-onnx] [--quick]

What is timed, per system: encode(texts, batch_size=32) on the whole list
inside one process, after loading the model and a warm-up on 8 texts (the
load is NOT timed, and neither is `import torch`); the fastest of --repeat
runs. tokens/s = the texts' tokens (mnemo's tokenize(), equal to Hugging
Face tokenizers', <bos>/<eos> included) / that time. Peak RSS: ru_maxrss of
the worker process (os.wait4), load and imports included. The cosine of each
system's vectors against sentence-transformers f32's is printed too, so a
fast wrong answer shows. Texts: sentences of bench/compare_texts.py joined
by a seeded generator to about --tokens tokens each.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 32


def make_texts(model, n, target, seed):
    """n distinct texts of about `target` tokens (never above 2048) and their token counts."""
    sys.path.insert(0, HERE)
    from compare_texts import SENTENCES

    sents = [s for s in SENTENCES if "\n" not in s]
    rng = random.Random(seed)
    texts, seen = [], set()
    while len(texts) < n:
        parts = []
        while True:
            parts.append(sents[rng.randrange(len(sents))])
            if len(" ".join(parts)) >= target * 4:  # ~4 characters a token for this prose
                break
        text = " ".join(parts)
        if text not in seen:
            seen.add(text)
            texts.append(text)
    counts = [int(c) for c in model.tokenize(texts)["attention_mask"].sum(1)]
    return texts, counts


# ------------------------------------------------------------------ workers

def timed_encode(encode, texts, repeat):
    encode(texts[:8])  # warm-up
    best, vecs = None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        vecs = encode(texts)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best, vecs


def worker(a):
    import numpy as np

    with open(a.texts, encoding="utf-8") as f:
        texts = json.load(f)
    t_start = time.time()
    res = {}
    if a.system == "mnemo":
        import mnemo

        m = mnemo.Model(a.model, precision=a.variant, threads=a.threads)
        res["runs_at"] = f"{m.precision} ({m.kernels})"
        encode = lambda t: m.encode(t, batch_size=BATCH)  # noqa: E731
    elif a.system == "st":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(a.threads)
        dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[a.variant]
        m = SentenceTransformer(a.model, device="cpu", model_kwargs={"dtype": dtype})
        encode = lambda t: m.encode(t, batch_size=BATCH, show_progress_bar=False)  # noqa: E731
    else:  # ort
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        sys.path.insert(0, HERE)
        import onnx_export as ox

        tok = ox.load_tokenizer(a.model)
        sess = ox.session(a.onnx, a.threads)
        encode = lambda t: ox.ort_encode(sess, tok, t, BATCH)  # noqa: E731
    res["load_s"] = time.time() - t_start
    res["seconds"], vecs = timed_encode(encode, texts, a.repeat)
    np.save(a.vectors, np.asarray(vecs, dtype=np.float32))
    print(json.dumps(res))


# --------------------------------------------------------------------- main

def run_worker(python, args, work, tag):
    """Runs one worker process; returns (its JSON result or an error, peak RSS in MB).
    The process is reaped with os.wait4 for its ru_maxrss."""
    out_path, err_path = os.path.join(work, tag + ".out"), os.path.join(work, tag + ".err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        p = subprocess.Popen([python, os.path.abspath(__file__), "worker"] + args, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
    p.returncode = code = os.waitstatus_to_exitcode(status)
    rss = ru.ru_maxrss / 1024
    if code != 0:
        lines = open(err_path).read().strip().splitlines()
        return {"error": lines[-1] if lines else f"exit {code}"}, rss
    return json.loads(open(out_path).read().strip().splitlines()[-1]), rss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/mnemo/models/embeddinggemma-300m"))
    ap.add_argument("--st-python", help="a python with sentence-transformers, torch and onnxruntime")
    ap.add_argument("--onnx", help="the f32 ONNX export (bench/onnx_export.py)")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--precisions", default="auto f32 bf16")
    ap.add_argument("--st-dtypes", default="f32 bf16")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-st", action="store_true")
    ap.add_argument("--skip-onnx", action="store_true")
    ap.add_argument("--quick", action="store_true", help="8 texts, one run: checks the script, measures nothing")
    a = ap.parse_args()
    if a.quick:
        a.n, a.repeat = 8, 1
    import numpy as np

    import mnemo

    work = tempfile.mkdtemp(prefix="python-encode-")
    counter = mnemo.Model(a.model, precision="f32")
    texts, counts = make_texts(counter, a.n, a.tokens, a.seed)
    del counter
    tokens = sum(counts)
    with open(os.path.join(work, "texts.json"), "w", encoding="utf-8") as f:
        json.dump(texts, f)
    print(f"{len(texts)} texts, {tokens} tokens (mean {tokens / len(texts):.0f}), {a.threads} threads, "
          f"batch {BATCH}, fastest of {a.repeat}; work files in {work}", flush=True)

    runs = [("mnemo", p, sys.executable) for p in a.precisions.split()]
    if not a.skip_st:
        if not a.st_python:
            ap.error("--st-python is needed for sentence-transformers (or --skip-st)")
        runs += [("st", d, a.st_python) for d in a.st_dtypes.split()]
    if not a.skip_onnx:
        if not a.onnx or not os.path.exists(a.onnx) or not a.st_python:
            print("no ONNX file (--onnx) or --st-python: ONNX Runtime skipped", flush=True)
        else:
            runs.append(("ort", "f32", a.st_python))
    names = {"mnemo": "mnemo.Model.encode", "st": "SentenceTransformer.encode", "ort": "ONNX Runtime"}
    rows = []
    for system, variant, python in runs:
        vec_path = os.path.join(work, f"{system}-{variant}.npy")
        args = ["--system", system, "--variant", variant, "--model", a.model, "--texts",
                os.path.join(work, "texts.json"), "--vectors", vec_path, "--repeat", str(a.repeat),
                "--threads", str(a.threads), "--onnx", a.onnx or ""]
        print(f"running {names[system]} {variant} ...", flush=True)
        res, rss = run_worker(python, args, work, f"{system}-{variant}")
        rows.append((system, variant, res, rss, vec_path))

    ref = os.path.join(work, "st-f32.npy")
    ref = np.load(ref) if os.path.exists(ref) else None
    print()
    print(f"| system | precision | tok/s | peak RSS MB | load s | cosine vs ST f32 (min) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for system, variant, res, rss, vec_path in rows:
        label = names[system]
        prec = variant + (f" → {res['runs_at']}" if res.get("runs_at") else "")
        if "error" in res:
            print(f"| {label} | {prec} | failed: {res['error'][:80]} | | | |")
            continue
        cos = "—"
        if ref is not None and os.path.exists(vec_path):
            v = np.load(vec_path).astype(np.float64)
            c = (v * ref).sum(1) / (np.linalg.norm(v, axis=1) * np.linalg.norm(ref, axis=1))
            cos = f"{c.min():.5f}"
        print(f"| {label} | {prec} | {tokens / res['seconds']:.0f} | {rss:.0f} | {res['load_s']:.2f} | {cos} |")


def worker_main():
    ap = argparse.ArgumentParser()
    for k in ("system", "variant", "model", "texts", "vectors", "onnx"):
        ap.add_argument("--" + k)
    ap.add_argument("--repeat", type=int)
    ap.add_argument("--threads", type=int)
    worker(ap.parse_args(sys.argv[2:]))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker_main()
    else:
        main()

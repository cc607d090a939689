#!/usr/bin/env python3
"""onnx_export.py — EmbeddingGemma (a sentence-transformers folder) as ONNX, f32 and dynamic int8.

    python bench/onnx_export.py MODEL_DIR OUT_DIR [--no-check]

Writes OUT_DIR/model-f32.onnx and OUT_DIR/model-int8.onnx, reusing them when
they are present and were made from the same model folder (OUT_DIR/export.json
records which), then checks the f32 file against sentence-transformers on a few
texts (cosine, printed) unless --no-check. bench/compare runs it with its venv
(torch, sentence-transformers, transformers, onnx, onnxruntime) and caches the
files under $MNEMO_BENCH_DIR/onnx/, never in the repo.

The graph (what sentence-transformers runs, spelled out so that it traces):
  * input_ids, attention_mask: int64 [batch, seq], both axes dynamic; right padding.
  * the Gemma3TextModel inside the ST model: embed_tokens (Gemma3TextScaledWordEmbedding,
    which already multiplies by sqrt(hidden_size)), rotary embeddings per layer type
    (positions 0..seq-1, as the HF model makes them), the decoder layers (eager
    attention) and the final RMSNorm. The masks are built here, bidirectional
    (use_bidirectional_attention): "full_attention" layers see every non-pad token;
    "sliding_attention" layers see the non-pad tokens with |i - j| < config.sliding_window
    (which transformers sets to 512 // 2 + 1 = 257 for a bidirectional model: |i - j| <= 256).
  * mean pooling over the non-pad tokens (1_Pooling, prompt included), 2_Dense
    (768 -> 3072) and 3_Dense (3072 -> 768), both without bias and with the identity
    activation, then the L2 norm.
  * output: sentence_embedding, float32 [batch, 768].
Exported with torch.onnx.export(dynamo=False, opset_version=17); the int8 file is
onnxruntime.quantization.quantize_dynamic(weight_type=QInt8, per_channel=True)
of the f32 one (int8 weights, activations quantized at run time).

The tokenizing helpers below (tokenizer, batches) are what compare.py's ORT worker
uses; they import neither torch nor sentence-transformers.
"""
import argparse
import json
import os
import sys
import time
import warnings

F32 = "model-f32.onnx"
INT8 = "model-int8.onnx"
INFO = "export.json"


def log(msg):
    print(f"[onnx_export] {msg}", flush=True)


# ---------------------------------------------------------------- tokenizing (no torch)

def load_tokenizer(model_dir):
    """The model folder's tokenizer, capped as sentence-transformers caps it
    (sentence_bert_config.json max_seq_length, config.json max_position_embeddings)."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model_dir)
    caps = [tok.model_max_length]
    for name, key in (("sentence_bert_config.json", "max_seq_length"), ("config.json", "max_position_embeddings")):
        try:
            with open(os.path.join(model_dir, name)) as f:
                v = json.load(f).get(key)
            if v:
                caps.append(int(v))
        except OSError:
            pass
    tok.model_max_length = min(caps)
    return tok


def tokenize(tok, texts, prompt=""):
    """input_ids, attention_mask (int64 numpy) for one batch, as sentence-transformers
    makes them: the prompt prepended to each text, padding to the longest, truncation."""
    import numpy as np
    enc = tok([prompt + t for t in texts], padding=True, truncation="longest_first",
              max_length=tok.model_max_length, return_tensors="np")
    return enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)


def batches(texts, batch_size):
    """[(indices, texts)] in sentence-transformers' order: longest first (by characters),
    cut into batch_size batches, so that each batch pads like ST's does."""
    import numpy as np
    order = np.argsort([-len(t) for t in texts])
    return [([int(i) for i in order[k:k + batch_size]], [texts[i] for i in order[k:k + batch_size]])
            for k in range(0, len(texts), batch_size)]


def ort_encode(sess, tok, texts, batch_size=32, prompt=""):
    """Normalized sentence embeddings (numpy float32 [n, 768]) in the order of texts."""
    import numpy as np
    out = [None] * len(texts)
    for idx, batch in batches(texts, batch_size):
        ids, mask = tokenize(tok, batch, prompt)
        vecs = sess.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        for i, v in zip(idx, vecs):
            out[i] = v
    return np.stack(out).astype(np.float32)


def session(path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


# ---------------------------------------------------------------- export (torch)

def load_st(model_dir):
    import torch
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(model_dir, device="cpu",
                             model_kwargs={"dtype": torch.float32, "attn_implementation": "eager"})
    st.eval()
    return st


def wrapper(st):
    """An nn.Module: (input_ids, attention_mask) -> normalized sentence embedding."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    names = [type(m).__name__ for m in st]
    if names[:2] != ["Transformer", "Pooling"] or names[-1] != "Normalize" or any(n != "Dense" for n in names[2:-1]):
        raise SystemExit(f"unexpected sentence-transformers modules {names}: expected Transformer, Pooling, Dense..., Normalize")
    pool = st[1]
    pool_cfg = pool.get_config_dict() if hasattr(pool, "get_config_dict") else {}
    if pool_cfg.get("pooling_mode", "mean") not in ("mean", None) and not pool_cfg.get("pooling_mode_mean_tokens", True):
        raise SystemExit(f"1_Pooling is not mean pooling: {pool_cfg}")
    dense = [st[k] for k in range(2, len(st) - 1)]
    for d in dense:
        if getattr(d, "use_residual", False):
            raise SystemExit("a Dense module with use_residual is not handled")
    tm = st[0].auto_model
    cfg = tm.config
    if not getattr(cfg, "use_bidirectional_attention", False):
        raise SystemExit("the model is not bidirectional (use_bidirectional_attention false): not EmbeddingGemma?")
    if type(tm.embed_tokens).__name__ != "Gemma3TextScaledWordEmbedding":
        raise SystemExit(f"embed_tokens is {type(tm.embed_tokens).__name__}: the sqrt(hidden) scale would be missing")
    layer_types = list(cfg.layer_types[: cfg.num_hidden_layers])
    window = int(cfg.sliding_window)  # exclusive bound: |i - j| < window

    class SentenceEmbedding(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_tokens = tm.embed_tokens  # * sqrt(hidden_size) inside
            self.rotary_emb = tm.rotary_emb
            self.layers = tm.layers
            self.norm = tm.norm
            self.dense = nn.ModuleList(dense)

        def forward(self, input_ids, attention_mask):
            h = self.embed_tokens(input_ids)
            seq = input_ids.shape[1]
            pos = torch.arange(seq, device=input_ids.device)
            position_ids = pos.unsqueeze(0)
            keep = attention_mask.bool()[:, None, None, :]                      # [b, 1, 1, s] keys
            near = (pos[:, None] - pos[None, :]).abs() < window                 # [s, s]
            neg = torch.finfo(h.dtype).min  # additive masks, as transformers makes them for eager attention
            masks = {"full_attention": torch.where(keep, 0.0, neg).to(h.dtype),
                     "sliding_attention": torch.where(keep & near[None, None], 0.0, neg).to(h.dtype)}
            pe = {t: self.rotary_emb(h, position_ids, t) for t in sorted(set(layer_types))}
            for layer, t in zip(self.layers, layer_types):
                h = layer(h, attention_mask=masks[t], position_embeddings=pe[t], position_ids=position_ids)
            h = self.norm(h)
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            x = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            for d in self.dense:
                x = d.activation_function(d.linear(x))
            return F.normalize(x, p=2, dim=1)

    return SentenceEmbedding().eval(), window, layer_types


def model_stamp(model_dir):
    st = os.stat(os.path.join(model_dir, "model.safetensors"))
    return {"model": os.path.abspath(model_dir), "safetensors_size": st.st_size, "safetensors_mtime": int(st.st_mtime)}


def export(model_dir, out_dir, st=None):
    """Makes (or reuses) OUT_DIR/model-f32.onnx and model-int8.onnx. Returns export.json's dict."""
    os.makedirs(out_dir, exist_ok=True)
    f32, int8, info_path = (os.path.join(out_dir, n) for n in (F32, INT8, INFO))
    stamp = model_stamp(model_dir)
    info = {}
    try:
        with open(info_path) as f:
            info = json.load(f)
    except (OSError, ValueError):
        pass
    if {k: info.get(k) for k in stamp} != stamp:
        for p in (f32, int8):
            if os.path.exists(p):
                log(f"{p} was made from another model (or has no {INFO}): exporting again")
                os.remove(p)
        info = dict(stamp)
    if os.path.exists(f32):
        log(f"reusing {f32}")
    else:
        import torch
        import transformers
        if st is None:
            st = load_st(model_dir)
        mod, window, layer_types = wrapper(st)
        tok = load_tokenizer(model_dir)
        ids, mask = tokenize(tok, ["A short one.", "A somewhat longer text, so that the first one is padded."])
        t0 = time.time()
        log(f"exporting {f32} (torch.onnx.export, dynamo=False, opset 17; sliding window |i-j| < {window})")
        tmp = f32 + ".tmp"
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # "legacy TorchScript-based ONNX export": chosen
            torch.onnx.export(mod, (torch.from_numpy(ids), torch.from_numpy(mask)), tmp, dynamo=False,
                              opset_version=17, do_constant_folding=True,
                              input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                            "sentence_embedding": {0: "batch"}})
        os.replace(tmp, f32)
        info.update(torch=torch.__version__, transformers=transformers.__version__, opset=17,
                    sliding_window=window, layer_types=layer_types, f32_export_s=round(time.time() - t0, 1))
        with open(info_path, "w") as f:
            json.dump(info, f, indent=1)
        log(f"  {f32}: {os.path.getsize(f32) / 2**20:.0f} MiB in {time.time() - t0:.0f} s")
    if os.path.exists(int8):
        log(f"reusing {int8}")
    else:
        import onnx
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic
        t0 = time.time()
        log(f"quantizing {int8} (quantize_dynamic, QInt8 weights, per_channel)")
        tmp = int8 + ".tmp.onnx"
        quantize_dynamic(f32, tmp, weight_type=QuantType.QInt8, per_channel=True)
        os.replace(tmp, int8)
        info.update(onnx=onnx.__version__, onnxruntime=onnxruntime.__version__, int8_quantize_s=round(time.time() - t0, 1),
                    int8="quantize_dynamic(weight_type=QInt8, per_channel=True)")
        with open(info_path, "w") as f:
            json.dump(info, f, indent=1)
        log(f"  {int8}: {os.path.getsize(int8) / 2**20:.0f} MiB in {time.time() - t0:.0f} s")
    return info


def check(model_dir, out_dir, texts, st=None, threads=None, batch_size=8):
    """Cosine of the ORT f32 (and int8) vectors against sentence-transformers' on texts;
    also checks that tokenize() gives ST's input ids. Returns {variant: min cosine}."""
    import numpy as np
    import torch
    if st is None:
        st = load_st(model_dir)
    tok = load_tokenizer(model_dir)
    ids, mask = tokenize(tok, texts[:4])
    feats = st.preprocess(texts[:4])
    same_ids = (np.array_equal(ids, feats["input_ids"].numpy()) and np.array_equal(mask, feats["attention_mask"].numpy()))
    log(f"tokenize() gives sentence-transformers' input_ids and attention_mask: {'yes' if same_ids else 'NO'}")
    with torch.inference_mode():
        ref = st.encode(texts, batch_size=batch_size, show_progress_bar=False)
    res = {}
    threads = threads or len(os.sched_getaffinity(0))
    for name in (F32, INT8):
        path = os.path.join(out_dir, name)
        if not os.path.exists(path):
            continue
        v = ort_encode(session(path, threads), tok, texts, batch_size=batch_size)
        cs = (v * ref).sum(1) / (np.linalg.norm(v, axis=1) * np.linalg.norm(ref, axis=1))
        res[name] = float(cs.min())
        ok = "" if name != F32 else ("  (>= 0.99999: ok)" if cs.min() >= 0.99999 else "  (< 0.99999: MISMATCH)")
        log(f"{name} vs sentence-transformers f32 on {len(texts)} texts: cosine min {cs.min():.6f}, mean {cs.mean():.6f}{ok}")
    return res, same_ids


def check_texts():
    """A few texts from compare_texts.py, short and long (one past the 257-token sliding window)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from compare_texts import QUERY, SENTENCES
    s = [x for x in SENTENCES if "\n" not in x]
    return [QUERY, s[0], " ".join(s[1:4]), " ".join(s[4:12]), " ".join(s[12:40]), " ".join(s[40:50])]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--no-check", action="store_true", help="do not compare with sentence-transformers")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    need_st = not a.no_check or not os.path.exists(os.path.join(a.out_dir, F32))
    st = load_st(a.model_dir) if need_st else None
    export(a.model_dir, a.out_dir, st)
    if not a.no_check:
        res, same_ids = check(a.model_dir, a.out_dir, check_texts(), st, a.threads)
        if not same_ids or res.get(F32, 0) < 0.99999:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

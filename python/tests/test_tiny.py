"""mnemo.Model on the tiny random model of tests/fixtures/engine: the goldens
of sentence-transformers, the encode() options, threads, bad input."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import mnemo
from conftest import TINY, need, by_prompt, cosines, load_engine_goldens, prefix_unit


@pytest.fixture(scope="module")
def model(cache_dir):
    return mnemo.Model(TINY, precision="f32", threads=2, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def goldens():
    return load_engine_goldens("tiny", "goldens-f32.f32")


def test_installed_not_source():
    # the package under test is the installed one, with its compiled module
    assert "site-packages" in mnemo.__file__, mnemo.__file__
    assert mnemo.engine_version == "0.1.0"


def test_facts(model):
    assert model.precision == "f32"
    assert model.get_sentence_embedding_dimension() == 64
    assert model.max_seq_length == 48
    assert model.prompts == {
        "query": "task: search result | query: ",
        "document": "title: none | text: ",
        "STS": "task: sentence similarity | query: ",
    }
    assert model.default_prompt_name is None


def test_goldens_f32(model, goldens):
    """Every row at f32: cosine >= 0.99999 and components within 1e-4, at the
    full width and at Matryoshka prefixes, with sentence-transformers' token
    counts; one encode per prompt, in small batches."""
    rows, ref = goldens
    for prompt, idx in by_prompt(rows).items():
        texts = [rows[i]["text"] for i in idx]
        full = model.encode(texts, prompt=prompt, batch_size=7)
        assert full.dtype == np.float32 and full.shape == (len(idx), 64)
        for d in (64, 32, 16, 8):
            got = full if d == 64 else model.encode(texts, prompt=prompt, truncate_dim=d)
            want = prefix_unit(ref[idx], d)
            assert cosines(got, want).min() >= 0.99999, (prompt, d)
            assert np.abs(got - want).max() <= 1e-4, (prompt, d)
            assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
        counts = model.tokenize(texts, prompt=prompt)["attention_mask"].sum(1)
        assert counts.tolist() == [rows[i]["n_tokens"] for i in idx]


def test_prompt_names(model, goldens):
    rows, ref = goldens
    for r_i, r in enumerate(rows):
        for name in r["prompt_names"]:
            assert model.prompts[name] == r["prompt"]
    texts = ["hello world", "Mars is red"]
    q = model.encode(texts, prompt=model.prompts["query"])
    assert np.array_equal(model.encode(texts, prompt_name="query"), q)
    assert np.array_equal(model.encode_query(texts), q)
    assert np.array_equal(model.encode_document(texts), model.encode(texts, prompt_name="document"))
    # prompt text wins over prompt_name, as in sentence-transformers
    assert np.array_equal(model.encode(texts, prompt_name="document", prompt=model.prompts["query"]), q)


def test_single_string_and_lists(model):
    one = model.encode("hello world")
    assert one.shape == (64,)
    assert np.array_equal(one, model.encode(["hello world"])[0])
    as_list = model.encode(["a", "b"], convert_to_numpy=False)
    assert isinstance(as_list, list) and len(as_list) == 2 and as_list[0].shape == (64,)
    assert np.array_equal(model.encode(("a", "b")), model.encode(["a", "b"]))


def test_truncate_dim(model):
    texts = ["one", "two three"]
    full = model.encode(texts)
    # normalized: the prefix renormalized; not: the unit vector's prefix, as ST
    assert np.allclose(model.encode(texts, truncate_dim=16), prefix_unit(full, 16), atol=1e-6)
    assert np.array_equal(model.encode(texts, truncate_dim=16, normalize_embeddings=False), full[:, :16])
    small = mnemo.Model(TINY, precision="f32", truncate_dim=32)
    assert small.get_sentence_embedding_dimension() == 32
    assert small.encode(texts).shape == (2, 32)
    for bad in (0, 65, -1, 2.5, "8"):
        with pytest.raises(ValueError, match="truncate_dim"):
            model.encode(texts, truncate_dim=bad)


def test_quantized_outputs(model):
    texts = [f"text number {i}" for i in range(12)]
    f = model.encode(texts)
    ub = model.encode(texts, precision="ubinary")
    assert ub.dtype == np.uint8 and ub.shape == (12, 8)
    assert np.array_equal(ub, np.packbits(f > 0, axis=-1))
    b = model.encode(texts, precision="binary")
    assert b.dtype == np.int8 and np.array_equal(b.astype(np.int16), ub.astype(np.int16) - 128)
    u8 = model.encode(texts, precision="uint8")
    i8 = model.encode(texts, precision="int8")
    lo, hi = f.min(0), f.max(0)
    step = (hi - lo) / 255
    want = np.clip(np.floor((f - lo) / step), 0, 255)
    assert u8.dtype == np.uint8 and np.array_equal(u8, want.astype(np.uint8))
    assert i8.dtype == np.int8 and np.array_equal(i8.astype(np.int16), want.astype(np.int16) - 128)
    # each column spans the buckets: its minimum in 0, its maximum in 255 (or 254 by rounding)
    assert (u8.min(0) == 0).all() and (u8.max(0) >= 254).all()
    with pytest.raises(ValueError, match="single embedding"):
        model.encode("one text", precision="int8")
    with pytest.raises(ValueError, match="precision"):
        model.encode(texts, precision="int4")
    ranges = np.vstack([np.full(64, -1.0), np.full(64, 1.0)])
    q = mnemo.quantize_embeddings(f, "uint8", ranges=ranges)
    assert np.array_equal(q, np.clip(np.floor((f + 1) / (2 / 255)), 0, 255).astype(np.uint8))


def test_similarity(model):
    a = model.encode(["Mars is red", "Venus is hot"])
    b = model.encode(["Which planet is red?"])
    s = mnemo.Model.similarity(a, b)
    assert s.shape == (2, 1) and s.dtype == np.float32
    assert np.allclose(s[:, 0], a @ b[0], atol=1e-6)
    assert np.allclose(model.similarity(a, a).diagonal(), 1, atol=1e-6)
    assert model.similarity(a[0], b[0]).shape == (1, 1)
    assert np.allclose(mnemo.Model.similarity_pairwise(a, a), 1, atol=1e-6)


def test_tokenize(model):
    t = model.tokenize(["hello world", "a"])
    ids, mask = t["input_ids"], t["attention_mask"]
    assert ids.dtype == np.int64 and ids.shape == mask.shape and ids.shape[0] == 2
    assert ids[0, 0] == 2 and ids[0, mask[0].sum() - 1] == 1  # <bos> ... <eos>
    assert ids[1, mask[1].sum():].tolist() == [0] * (ids.shape[1] - mask[1].sum())  # <pad>
    long = model.tokenize(["word " * 500])["input_ids"][0]
    assert len(long) == 48 and long[-1] == 1  # truncated, <eos> kept last
    with_q = model.tokenize("a", prompt_name="query")["attention_mask"].sum()
    assert with_q > model.tokenize("a")["attention_mask"].sum()


def test_threads_same_vectors(model):
    """Eight Python threads at once (each its own engine context, the GIL
    released) give the vectors one thread gives."""
    texts = [f"sentence {i} about planets and moons" for i in range(40)]
    want = model.encode(texts, batch_size=8)
    results, errors = {}, []
    start = threading.Barrier(8)

    def work(k):
        try:
            start.wait()
            for _ in range(3):
                results.setdefault(k, []).append(model.encode(texts[k:] + texts[:k], batch_size=5))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k, runs in results.items():
        for got in runs:
            got = np.roll(got, k, axis=0)
            assert np.abs(got - want).max() <= 1e-6, k
    assert 1 <= len(model._idle) <= 8


def test_threads_run_in_parallel(model):
    """While one thread is inside the engine, another Python thread keeps
    running: the GIL is released."""
    texts = ["a longer text that takes the engine a moment " * 4] * 400
    done = threading.Event()
    ticks = []

    def tick():
        while not done.is_set():
            ticks.append(1)
            done.wait(0.001)

    t = threading.Thread(target=tick)
    t.start()
    model.encode(texts, batch_size=400)
    done.set()
    t.join()
    assert len(ticks) > 5


def test_progress_bar(model, capsys):
    need("tqdm")
    model.encode([f"t{i}" for i in range(10)], batch_size=3, show_progress_bar=True)
    assert "10/10" in capsys.readouterr().err


@pytest.mark.parametrize(
    "bad, error, words",
    [
        (42, TypeError, "str"),
        ([b"bytes"], TypeError, "sentences[0]"),
        (["ok", None], TypeError, "sentences[1]"),
        (b"bytes", TypeError, "bytes"),
        ([], ValueError, "empty"),
        (["\ud800"], UnicodeEncodeError, "surrogate"),
    ],
)
def test_bad_sentences(model, bad, error, words):
    with pytest.raises(error) as e:
        model.encode(bad)
    assert words in str(e.value)


def test_huge_string_refused(model):
    huge = "x" * (100 << 20)
    with pytest.raises(ValueError, match="max_input_chars"):
        model.encode(["fine", huge])
    del huge
    assert model.encode("still works").shape == (64,)


def test_bad_options(model):
    with pytest.raises(ValueError, match="prompt_name 'nope'"):
        model.encode("x", prompt_name="nope")
    with pytest.raises(ValueError, match="batch_size"):
        model.encode("x", batch_size=0)
    with pytest.raises(ValueError, match="torch"):
        model.encode("x", convert_to_tensor=True)
    with pytest.raises(ValueError, match="CPU"):
        model.encode("x", device="cuda")


def test_bad_models(tmp_path):
    with pytest.raises(FileNotFoundError):
        mnemo.Model(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        mnemo.Model("google/embeddinggemma-300m")  # a hub name: nothing is downloaded
    with pytest.raises(ValueError, match="f8"):
        mnemo.Model(TINY, precision="f8")
    # a corrupt weights file: a clear ValueError with mnemo's message
    bad = tmp_path / "corrupt"
    subprocess.run(["cp", "-r", TINY, str(bad)], check=True)
    with open(bad / "model.safetensors", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(mnemo.MnemoError) as e:
        mnemo.Model(bad)
    assert isinstance(e.value, ValueError) and "model.safetensors" in str(e.value)
    assert e.value.status in ("EFORMAT", "EIO")
    # a folder without the model's files
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises((FileNotFoundError, ValueError)):
        mnemo.Model(empty)
    # garbage where a GGUF file should be
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + os.urandom(200))
    with pytest.raises((FileNotFoundError, ValueError)):
        mnemo.Model(junk)


def test_bad_input_interpreter_survives():
    """The same bad inputs in a child interpreter: it exits normally (no
    crash, no abort) after each one raised."""
    code = f"""
import mnemo
m = mnemo.Model({TINY!r}, precision="f32")
for bad in (42, [], [None], ["x" * (100 << 20)], ["\\ud800"]):
    try:
        m.encode(bad)
    except (TypeError, ValueError):
        pass
    else:
        raise SystemExit("no exception for %r" % type(bad))
for path in ("/nonexistent", {os.path.join(TINY, "config.json")!r}):
    try:
        mnemo.Model(path)
    except (FileNotFoundError, ValueError):
        pass
print("alive", m.encode("ok").shape)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "alive (64,)" in out.stdout


def test_context_one_caller_at_a_time(model):
    from mnemo import _mnemo

    ctx = _mnemo.Context(model._model, 1)
    out = np.empty((1, 64), np.float32)
    assert ctx.embed(["x"], None, None, 0, out) == [3]
    with pytest.raises(ValueError, match="bytes"):
        ctx.embed(["x"], None, None, 0, np.empty((2, 64), np.float32))
    with pytest.raises((ValueError, BufferError)):  # numpy: "not C-contiguous"
        ctx.embed(["x"], None, None, 0, np.empty((64, 2), np.float32).T)

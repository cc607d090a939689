#!/usr/bin/env python3
"""tokenizer_vs_hf.py — mnemo's tokenizer against HF `tokenizers`, same texts,
same machine, same run, one thread each: load time of tokenizer.json and encode
throughput (MB/s, texts/s) on short and long texts, with ratios.

usage: python bench/tokenizer_vs_hf.py [--tokenizer PATH] [--bench build/bench_tokenizer]
Needs `tokenizers` (pip); bench/run-tokenizer-bench.sh sets up a venv and runs it.
Don't run it while a build, a test or another benchmark is busy: 2 cores are
easily disturbed.
"""
import argparse, json, os, platform, random, subprocess, sys, tempfile, time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer, __version__ as hf_version  # noqa: E402

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Embeddings map text to vectors so that similar meanings land close together.",
    "Retrieval-augmented generation looks up relevant passages before answering a question.",
    "Mars, known for its reddish appearance, is often referred to as the Red Planet.",
    "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)\n",
    "SELECT id, text FROM memories WHERE namespace = 'agent-7' ORDER BY created_at DESC LIMIT 10;",
    "Der schnelle braune Fuchs springt über den faulen Hund, während es draußen regnet.",
    "Le renard brun rapide saute par-dessus le chien paresseux près de la rivière.",
    "El zorro marrón rápido salta sobre el perro perezoso en el jardín de la casa.",
    "Быстрая коричневая лиса прыгает через ленивую собаку у старого моста.",
    "敏捷的棕色狐狸跳过了懒狗，然后消失在森林里。",
    "素早い茶色の狐がのろまな犬を飛び越えて、森の中へ消えていった。",
    "빠른 갈색 여우가 게으른 개를 뛰어넘어 숲속으로 사라졌다.",
    "الثعلب البني السريع يقفز فوق الكلب الكسول في الحديقة.",
    "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूद जाती है।",
    "Release notes: v2.3.1 fixes a crash when the cache exceeds 4 GiB (see #1234) 🎉",
    "Contact support@example.com or visit https://example.com/docs?page=2&lang=en for help.",
    "In 2024, revenue grew 17.5% to $3.2 billion, while costs fell by 4,200,000 units.",
]


def make_texts(seed, n, min_bytes, max_bytes):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        target = rnd.randint(min_bytes, max_bytes)
        parts, size = [], 0
        while size < target:
            s = rnd.choice(SENTENCES)
            parts.append(s)
            size += len(s.encode()) + 1
        out.append(" ".join(parts))
    return out


def hf_bench(tok, texts, min_seconds):
    n_ids, rounds, t0 = 0, 0, time.perf_counter()
    while True:
        for t in texts:
            n_ids += len(tok.encode(t).ids)
        rounds += 1
        el = time.perf_counter() - t0
        if el >= min_seconds:
            break
    nbytes = sum(len(t.encode()) for t in texts)
    return {"mb_per_s": nbytes * rounds / el / 1e6, "texts_per_s": len(texts) * rounds / el,
            "ids_per_text": n_ids / (len(texts) * rounds)}


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", default=os.path.join(
        here, "..", "..", "shared", "fixtures", "embeddinggemma-300m", "tokenizer.json"))
    ap.add_argument("--bench", default=os.path.join(here, "..", "build", "bench_tokenizer"))
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()

    sets = {"short (~150 B)": make_texts(1, 2000, 60, 250),
            "long (~20 kB)": make_texts(2, 40, 15000, 25000)}
    print(f"cpu: {cpu_name()}  |  HF tokenizers {hf_version}  |  one thread each")
    t0 = time.perf_counter()
    hf = Tokenizer.from_file(args.tokenizer)
    hf_load = time.perf_counter() - t0
    rows = []
    for name, texts in sets.items():
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            for t in texts:
                f.write(json.dumps(t, ensure_ascii=False) + "\n")
            path = f.name
        out = subprocess.run([args.bench, args.tokenizer, path, str(args.seconds)],
                             check=True, capture_output=True, text=True).stdout
        os.unlink(path)
        ours = json.loads(out)
        theirs = hf_bench(hf, texts, args.seconds)
        if abs(ours["ids_per_text"] - theirs["ids_per_text"]) > 1e-4:
            sys.exit(f"token counts differ on {name}: {ours['ids_per_text']} vs {theirs['ids_per_text']}")
        rows.append((name, ours, theirs))
    print(f"\nload tokenizer.json: HF {hf_load:.3f} s | mnemo first load (JSON) {ours['load_json_s']:.3f} s"
          f" | mnemo cached {ours['load_cache_s']:.4f} s  -> cached load {hf_load / ours['load_cache_s']:.1f}x faster")
    print(f"\n{'texts':16} {'mnemo MB/s':>11} {'HF MB/s':>9} {'mnemo texts/s':>14} {'HF texts/s':>11} {'ratio':>7}")
    for name, o, t in rows:
        print(f"{name:16} {o['mb_per_s']:11.2f} {t['mb_per_s']:9.2f} {o['texts_per_s']:14.0f}"
              f" {t['texts_per_s']:11.0f} {o['mb_per_s'] / t['mb_per_s']:6.2f}x")


if __name__ == "__main__":
    main()

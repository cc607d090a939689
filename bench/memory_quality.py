#!/usr/bin/env python3
"""memory_quality.py — retrieval quality of the memory store on text nobody
here wrote: the machine's man pages (/usr/share/man). Each page gives one
labeled pair: the NAME line's summary ("copy files and directories") is the
query, the DESCRIPTION section (its first MAX_DOC characters) the memory. All
memories go into a fresh store (`mnemo memory add`, batched), every query is
searched in the vector, text and hybrid modes (through `mnemo mcp`, one
process), and the rank of the page's own description gives recall@5 and
nDCG@10 (one relevant memory per query).

usage: memory_quality.py MNEMO MODEL_DIR [--n 520] [--work DIR] [--set FILE]
Prints the set's size and, per mode, recall@5, nDCG@10 and MRR@10.
Standard library only; the set is written to --set (JSONL) for inspection.
"""
import argparse
import gzip
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

MAX_DOC = 1000  # characters of DESCRIPTION kept (about 250 tokens)


def roff_text(lines):
    """Plain text from man(7) roff lines: macros dropped or unwrapped, escapes simplified."""
    out = []
    for line in lines:
        if line.startswith(('.\\"', "'\\\"")):
            continue
        if line.startswith((".", "'")):
            m = re.match(r"[.'](B|I|BR|RB|IR|RI|BI|IB|SM|SB|TP|IP|TQ|HP|SS)\b\s*(.*)", line)
            if not m:
                continue
            arg = m.group(2)
            if m.group(1) in ("TP", "TQ", "HP"):
                continue
            if m.group(1) == "IP":
                arg = re.sub(r'^"[^"]*"\s*\S*', "", arg).strip()
            line = " ".join(p.strip('"') for p in re.findall(r'"[^"]*"|\S+', arg))
        line = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", line)
        line = re.sub(r"\\\((em|en)", "-", line)
        line = re.sub(r"\\\(..", "", line)
        line = re.sub(r"\\\[[^]]*\]", "", line)
        line = line.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "").replace("\\ ", " ")
        line = re.sub(r"\\[*n]\(?..", "", line)
        line = re.sub(r"\\.", "", line)
        out.append(line.strip())
    return re.sub(r"\s+", " ", " ".join(out)).strip()


def parse_page(path):
    try:
        with (gzip.open if path.endswith(".gz") else open)(path, "rt", encoding="utf-8", errors="strict") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError, EOFError):
        return None
    if text.startswith(".so "):
        return None  # an alias of another page
    sections, current = {}, None
    for line in text.splitlines():
        m = re.match(r'\.SH\s+"?([^"]*)"?\s*$', line)
        if m:
            current = m.group(1).strip().upper()
            sections.setdefault(current, [])
        elif current:
            sections[current].append(line)
    if "NAME" not in sections or "DESCRIPTION" not in sections:
        return None
    name = roff_text(sections["NAME"])
    m = re.match(r"(.+?)\s+-+\s+(.+)", name)
    if not m:
        return None
    summary = m.group(2).strip()
    desc = roff_text(sections["DESCRIPTION"])
    if len(summary) < 15 or len(desc) < 200:
        return None
    return {"page": os.path.basename(path), "query": summary, "doc": desc[:MAX_DOC]}


def build_set(n, seed=7):
    paths = []
    for sec in ("man1", "man2", "man3", "man5", "man7", "man8"):
        d = os.path.join("/usr/share/man", sec)
        if os.path.isdir(d):
            paths += sorted(os.path.join(d, f) for f in os.listdir(d))
    random.Random(seed).shuffle(paths)
    pairs, seen_q, seen_d = [], set(), set()
    for p in paths:
        e = parse_page(p)
        if not e or e["query"].lower() in seen_q or e["doc"] in seen_d:
            continue  # two pages with one summary would make the label ambiguous
        seen_q.add(e["query"].lower())
        seen_d.add(e["doc"])
        pairs.append(e)
        if len(pairs) == n:
            break
    return pairs


class Mcp:
    def __init__(self, mnemo, data_dir, model):
        self.p = subprocess.Popen([mnemo, "mcp", "--data-dir", data_dir, "--model", model, "--no-dedup"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.next = 0
        self.call_raw("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                     "clientInfo": {"name": "memory_quality", "version": "1"}})

    def call_raw(self, method, params):
        self.next += 1
        self.p.stdin.write(json.dumps({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params}) + "\n")
        self.p.stdin.flush()
        reply = json.loads(self.p.stdout.readline())
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def tool(self, name, args):
        r = self.call_raw("tools/call", {"name": name, "arguments": args})
        if r.get("isError"):
            raise RuntimeError(r["content"][0]["text"])
        return json.loads(r["content"][0]["text"])

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mnemo")
    ap.add_argument("model")
    ap.add_argument("--n", type=int, default=520)
    ap.add_argument("--work", default=None)
    ap.add_argument("--set", default=None)
    a = ap.parse_args()
    pairs = build_set(a.n)
    print("set: %d man pages (query = NAME summary, memory = DESCRIPTION, first %d chars)" % (len(pairs), MAX_DOC))
    if len(pairs) < 500:
        print("warning: fewer than 500 pages parsed; install man-db and manpages", file=sys.stderr)
    if a.set:
        with open(a.set, "w") as f:
            for e in pairs:
                f.write(json.dumps(e) + "\n")
    work = a.work or tempfile.mkdtemp(prefix="mnemo-quality-", dir=os.getcwd())
    data_dir = os.path.join(work, "store")
    shutil.rmtree(data_dir, ignore_errors=True)
    id_of = {}
    for i in range(0, len(pairs), 50):
        batch = pairs[i:i + 50]
        req = {"memories": [{"text": e["doc"], "metadata": {"page": e["page"]}} for e in batch]}
        out = subprocess.run([a.mnemo, "memory", "add", "--data-dir", data_dir, "--model", a.model, "--no-dedup",
                              "--synchronous", "normal", "--request", json.dumps(req)],
                             check=True, capture_output=True, text=True).stdout
        for e, d in zip(batch, json.loads(out)["data"]):
            id_of[e["page"]] = d["id"]
        print("added %d/%d" % (min(i + 50, len(pairs)), len(pairs)), file=sys.stderr)
    mcp = Mcp(a.mnemo, data_dir, a.model)
    results = {}
    for mode in ("vector", "text", "hybrid"):
        r5 = ndcg = mrr = 0.0
        for e in pairs:
            hits = mcp.tool("memory_search", {"query": e["query"], "k": 10, "mode": mode})["data"]
            ids = [h["id"] for h in hits]
            want = id_of[e["page"]]
            if want in ids:
                rank = ids.index(want) + 1
                r5 += rank <= 5
                ndcg += 1 / math.log2(rank + 1)
                mrr += 1 / rank
        n = len(pairs)
        results[mode] = (r5 / n, ndcg / n, mrr / n)
        print("%-6s  recall@5 %.3f  nDCG@10 %.3f  MRR@10 %.3f" % ((mode,) + results[mode]))
        sys.stdout.flush()
    mcp.close()
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

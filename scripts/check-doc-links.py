#!/usr/bin/env python3
"""check-doc-links.py [ROOT] — every relative link in README.md and docs/*.md
points to a file that exists and, for a #anchor into a Markdown file, to a
heading of that file (GitHub's anchor rules). Prints each broken link and
exits 1 if there is one. The docs_links test runs it."""
import glob
import os
import re
import sys

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
files = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))


def anchors(path):
    """The anchors GitHub makes for a file's headings (outside code blocks)."""
    out, seen, in_code = set(), {}, False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            in_code = not in_code
        m = None if in_code else re.match(r"^#{1,6}\s+(.*)", line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


bad = checked = 0
for f in files:
    text = re.sub(r"```.*?```", "", open(f, encoding="utf-8").read(), flags=re.S)
    for m in re.finditer(r"\[[^\]]*\]\(([^)\s]+)\)", text):
        link = m.group(1)
        if re.match(r"^[a-z]+:", link):
            continue
        checked += 1
        path, _, anchor = link.partition("#")
        target = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
        rel = os.path.relpath(f, root)
        if not os.path.exists(target):
            print(f"{rel}: ({link}): no such file")
            bad += 1
        elif anchor and target.endswith(".md") and anchor not in anchors(target):
            print(f"{rel}: ({link}): no heading with the anchor #{anchor} in {os.path.relpath(target, root)}")
            bad += 1
print(f"{checked} links in {len(files)} files, {bad} broken")
sys.exit(1 if bad else 0)

"""Shared fixtures for the mnemo package's tests.

The tests run against the installed package (ctest installs it into a venv
under the build folder: tests/test_python_venv.sh), never python/src. They
read the repository's goldens:

  MNEMO_FIXTURES    tests/fixtures (default: beside this folder's parent)
  MNEMO_TEST_MODEL  the real embeddinggemma-300m folder (test_real.py only)
"""
import json
import os

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.environ.get("MNEMO_FIXTURES") or os.path.join(HERE, "..", "..", "tests", "fixtures")
TINY = os.path.join(FIXTURES, "engine", "tiny", "model-f32")


def read_jsonl(path):
    """Records of a goldens file; split on "\\n" only (U+2028 is not escaped)."""
    with open(path, encoding="utf-8", newline="") as f:
        return [json.loads(line) for line in f.read().split("\n") if line]


def load_engine_goldens(kind, f32_name):
    """(rows, vectors) of tests/fixtures/engine/KIND: goldens.jsonl and its .f32 matrix."""
    rows = read_jsonl(os.path.join(FIXTURES, "engine", kind, "goldens.jsonl"))
    vecs = np.fromfile(os.path.join(FIXTURES, "engine", kind, f32_name), dtype="<f4")
    return rows, vecs.reshape(len(rows), -1)


def by_prompt(rows):
    """{prompt text: [row index, ...]} in file order."""
    groups = {}
    for i, r in enumerate(rows):
        groups.setdefault(r["prompt"], []).append(i)
    return groups


def cosines(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def prefix_unit(v, d):
    p = np.asarray(v, np.float64)[:, :d]
    return p / np.linalg.norm(p, axis=1, keepdims=True)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    # the engine's tokenizer and packed-weight cache: inside the build (ctest
    # sets MNEMO_CACHE_DIR), else a temporary folder, never ~/.cache
    return os.environ.get("MNEMO_CACHE_DIR") or str(tmp_path_factory.mktemp("cache"))


def need(module):
    """Imports an optional package (tqdm, a framework): skipped when it is not
    installed, except under ctest (MNEMO_TEST_STRICT=1), whose venv has them
    all, so a broken install fails instead of skipping."""
    if os.environ.get("MNEMO_TEST_STRICT") == "1":
        import importlib

        return importlib.import_module(module)
    return pytest.importorskip(module)

#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_safetensors into fuzz/corpus/safetensors:
a few tiny valid files (every dtype, 0..4 dims, metadata, an empty tensor)
and a few invalid ones (overlap, bad dtype, truncated). Standard library
only; rerun after changing it: python3 fuzz/make_safetensors_corpus.py"""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "safetensors")


def st(header, data=b""):
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "valid_mixed": st(
            {
                "__metadata__": {"format": "pt"},
                "s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},
                "v": {"dtype": "BF16", "shape": [3], "data_offsets": [4, 10]},
                "m": {"dtype": "F16", "shape": [2, 2], "data_offsets": [10, 18]},
                "q": {"dtype": "F32", "shape": [1, 1, 1, 2], "data_offsets": [18, 26]},
                "e": {"dtype": "F16", "shape": [0, 3], "data_offsets": [26, 26]},
            },
            struct.pack("<f", 3.5) + struct.pack("<3H", 0x3F80, 0xC020, 0x3F00)
            + struct.pack("<4H", 0x3C00, 0xC100, 0x7BFF, 0x0001) + struct.pack("<2f", 0.25, -1.0),
        ),
        "valid_one": st({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
                        struct.pack("<2f", 1.0, 2.0)),
        "invalid_overlap": st(
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F16", "shape": [4], "data_offsets": [4, 12]},
            },
            bytes(12),
        ),
        "invalid_dtype_truncated": st({"w": {"dtype": "I8", "shape": [16], "data_offsets": [0, 16]}},
                                      bytes(4)),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name + ".safetensors"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_gguf into fuzz/corpus/gguf: a few tiny
valid GGUF files (every metadata type, F32/F16/BF16/Q8_0/Q4_0 tensors, a
Q4_K one, alignment 32 and 16, a v2 file, a file shaped like EmbeddingGemma's
with tokenizer arrays) and a few invalid ones (overlap, unknown type,
truncated). Standard library only; rerun after changing it:
python3 fuzz/make_gguf_corpus.py"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "gguf")

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
G_F32, G_F16, G_Q4_0, G_Q8_0, G_Q4_K, G_BF16 = 0, 1, 2, 8, 12, 30
SIZES = {G_F32: (1, 4), G_F16: (1, 2), G_Q4_0: (32, 18), G_Q8_0: (32, 34), G_Q4_K: (256, 144),
         G_BF16: (1, 2)}


def s(text):
    b = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(b)) + b


SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?",
          U64: "<Q", I64: "<q", F64: "<d"}


def value(t, v):
    if t == STRING:
        return s(v)
    if t == ARRAY:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(value(et, x) for x in items)
    return struct.pack(SCALAR[t], v)


def gguf(kvs, tensors, version=3, alignment=32):
    """kvs: [(key, type, value)]; tensors: [(name, ggml_type, ne, data)]."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += s(k) + struct.pack("<I", t) + value(t, v)
    offset, blobs = 0, []
    for name, gt, ne, data in tensors:
        out += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        out += struct.pack("<IQ", gt, offset)
        blobs.append((offset, data))
        offset += (len(data) + alignment - 1) // alignment * alignment
    out += bytes(-len(out) % alignment)
    data_start = len(out)
    for off, data in blobs:
        out += bytes(data_start + off - len(out)) + data
    return out


def nbytes(gt, ne):
    n = 1
    for d in ne:
        n *= d
    block, size = SIZES[gt]
    return n // block * size


def t(name, gt, ne, fill=0x11):
    return (name, gt, ne, bytes((fill + i) & 0xFF for i in range(nbytes(gt, ne))))


def main():
    os.makedirs(OUT, exist_ok=True)
    every_type = [
        ("general.architecture", STRING, "gemma-embedding"),
        ("t.u8", U8, 200), ("t.i8", I8, -100), ("t.u16", U16, 60000), ("t.i16", I16, -30000),
        ("t.u32", U32, 4000000000), ("t.i32", I32, -2000000000), ("t.f32", F32, 0.25),
        ("t.bool", BOOL, True), ("t.u64", U64, 2**64 - 1), ("t.i64", I64, -2**63),
        ("t.f64", F64, 1e300), ("t.arr.str", ARRAY, (STRING, ["<pad>", "", "x"])),
        ("t.arr.f32", ARRAY, (F32, [1.5, -2.0])), ("t.arr.i32", ARRAY, (I32, [3, -4])),
        ("t.arr.bool", ARRAY, (BOOL, [True, False])), ("t.arr.none", ARRAY, (U32, [])),
    ]
    quant = [
        ("q8.mat", G_Q8_0, [64, 2], bytes([0x00, 0x38] + list(range(32))) * 4),
        ("q4.mat", G_Q4_0, [32, 2], bytes([0x00, 0x3C] + list(range(0, 256, 16))) * 2),
        t("f16.mat", G_F16, [2, 3]), t("bf16.vec", G_BF16, [3]), t("f32.s", G_F32, []),
        t("q4k", G_Q4_K, [256]),
    ]
    gemma_like = [
        ("general.architecture", STRING, "gemma-embedding"),
        ("gemma-embedding.block_count", U32, 1), ("gemma-embedding.embedding_length", U32, 32),
        ("gemma-embedding.attention.layer_norm_rms_epsilon", F32, 1e-6),
        ("gemma-embedding.rope.freq_base", F32, 1e6), ("gemma-embedding.pooling_type", U32, 1),
        ("tokenizer.ggml.model", STRING, "llama"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, ["<pad>", "<eos>", "<bos>", "<unk>", "\u2581a"])),
        ("tokenizer.ggml.scores", ARRAY, (F32, [-1000.0] * 4 + [-5.0])),
        ("tokenizer.ggml.token_type", ARRAY, (I32, [3, 3, 3, 2, 1])),
        ("tokenizer.ggml.add_bos_token", BOOL, True),
    ]
    seeds = {
        "valid_every_type": gguf(every_type, [t("w", G_F32, [4])]),
        "valid_quant": gguf([("general.alignment", U32, 64)], quant, alignment=64),
        "valid_gemma_like": gguf(gemma_like, [
            ("token_embd.weight", G_Q8_0, [32, 5], bytes([0x00, 0x30] + [1, 255] * 16) * 5),
            t("blk.0.attn_norm.weight", G_F32, [32]), t("dense_2.weight", G_F16, [32, 4]),
        ]),
        "valid_v2_align16": gguf([("general.alignment", U32, 16)], [t("a", G_F32, [3]), t("b", G_BF16, [5])],
                                 version=2, alignment=16),
        "valid_empty": gguf([], []),
        "invalid_overlap": gguf([], [t("a", G_F32, [8]), t("b", G_F32, [8])])
        .replace(struct.pack("<IQ", G_F32, 32), struct.pack("<IQ", G_F32, 0)),
        "invalid_type_truncated": gguf([], [("w", 4, [32], bytes(18))])[:-9],
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name + ".gguf"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

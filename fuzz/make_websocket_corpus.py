#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_websocket_frame into fuzz/corpus/websocket.
Each file is two bytes of message limit (little-endian, top bit: no limit)
then a client byte stream: whole messages, fragmented ones with a ping
between fragments, 16- and 64-bit lengths, a close, and the refusals
(unmasked, reserved bits, binary, oversize, a stray continuation).
Standard library only; rerun after changing it:
python3 fuzz/make_websocket_corpus.py"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "websocket")
MASK = b"\x37\xfa\x21\x3d"


def frame(opcode, payload, fin=True, masked=True, length_form=None, rsv=0):
    n = len(payload)
    form = length_form or (7 if n < 126 else 16 if n < 65536 else 64)
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    mbit = 0x80 if masked else 0
    if form == 7:
        head += bytes([mbit | n])
    elif form == 16:
        head += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    return head + MASK + bytes(b ^ MASK[i & 3] for i, b in enumerate(payload))


def limit(n, unlimited=False):
    return struct.pack("<H", (n & 0x7FFF) | (0x8000 if unlimited else 0))


REQ = b'{"input": "hello", "model": "tiny"}'
SEEDS = {
    "text": limit(4096) + frame(1, REQ),
    "two_messages": limit(4096) + frame(1, REQ) + frame(1, b'{"input": ["a", "b"]}'),
    "fragments_ping": limit(4096) + frame(1, REQ[:10], fin=False) + frame(9, b"hi")
                      + frame(0, REQ[10:20], fin=False) + frame(0, REQ[20:]),
    "len16": limit(4096) + frame(1, b'{"input": "' + b"x" * 300 + b'"}'),
    "len64_small": limit(0, unlimited=True) + frame(1, REQ, length_form=64),
    "len16_small": limit(4096) + frame(1, REQ, length_form=16),
    "close": limit(4096) + frame(1, REQ) + frame(8, b"\x03\xe8bye"),
    "pong": limit(4096) + frame(10, b"") + frame(1, b"[]"),
    "unmasked": limit(4096) + frame(1, REQ, masked=False),
    "rsv": limit(4096) + frame(1, REQ, rsv=0x40),
    "binary": limit(4096) + frame(2, b"\x00\x01"),
    "oversize": limit(16) + frame(1, REQ),
    "oversize_fragments": limit(40) + frame(1, REQ, fin=False) + frame(0, REQ),
    "big_ping": limit(4096) + frame(9, b"p" * 126),
    "stray_continuation": limit(4096) + frame(0, REQ),
    "text_in_message": limit(4096) + frame(1, b"{", fin=False) + frame(1, b"}"),
    "unknown_opcode": limit(4096) + frame(3, b""),
    "truncated": limit(4096) + frame(1, REQ)[:-5],
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)

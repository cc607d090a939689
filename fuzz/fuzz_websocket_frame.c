/*
 * fuzz_websocket_frame.c — libFuzzer target for the WebSocket frame layer of
 * `GET /v1/embeddings/ws` (src/server/websocket_frame.c), the code that reads
 * every byte a client sends on the upgraded socket. The first two bytes set
 * the message limit (--max-body-kb; with the top bit, a limit of 1 TB so
 * 64-bit lengths get through the size check); the rest is the byte stream,
 * read frame after frame as the server does: parsed, unmasked, joined into
 * messages, until a frame ends the connection. Checks: a frame lies inside
 * the bytes and every shorter prefix of it asks for more; its payload
 * respects the limits; a failure says which close code and why; a frame
 * written back with the server's header writer (plus the mask) parses to the
 * same frame; a whole text message is exactly the payloads of its fragments.
 * Seeds: fuzz/corpus/websocket.
 *
 *   build-fuzz/fuzz/fuzz_websocket_frame -max_len=4096 fuzz/corpus/websocket
 */
#include "server/websocket.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_frame(const mnemo_ws_frame *a, const mnemo_ws_frame *b) {
    if (a->fin != b->fin || a->opcode != b->opcode || a->payload_len != b->payload_len ||
        memcmp(a->mask, b->mask, 4) != 0)
        abort();
}

/* The frame re-encoded: the server's header (fin as parsed), the mask bit, the mask, the payload. */
static void round_trip(const mnemo_ws_frame *f, const uint8_t *frame, size_t max_message) {
    uint8_t *copy = malloc(14 + f->payload_len);
    if (!copy) abort();
    size_t hl = mnemo__ws_frame_header(f->opcode, f->payload_len, copy);
    if (hl != 2 && hl != 4 && hl != 10) abort();
    copy[0] = (uint8_t)((f->fin ? 0x80 : 0) | f->opcode);
    copy[1] |= 0x80;
    memcpy(copy + hl, f->mask, 4);
    memcpy(copy + hl + 4, frame + f->payload_at, f->payload_len);
    mnemo_ws_frame g;
    if (mnemo__ws_parse_frame(copy, hl + 4 + f->payload_len, max_message, &g) != MNEMO_WS_FRAME)
        abort();
    same_frame(f, &g);
    if (g.size != hl + 4 + f->payload_len) abort();
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t max_message = (size_t)data[0] | (size_t)(data[1] & 0x7F) << 8;
    if (data[1] & 0x80) max_message = (size_t)1 << 40;
    size_t len = size - 2;
    uint8_t *buf = malloc(len ? len : 1);
    uint8_t *expect = malloc(len ? len : 1); /* the message so far, by this file's own count */
    if (!buf || !expect) abort();
    memcpy(buf, data + 2, len);
    size_t expect_len = 0;
    mnemo_ws_message m;
    memset(&m, 0, sizeof m);
    size_t at = 0;
    for (;;) {
        mnemo_ws_frame f;
        int rc = mnemo__ws_parse_frame(buf + at, len - at, max_message, &f);
        if (rc == MNEMO_WS_MORE) break;
        if (rc == MNEMO_WS_FAIL) {
            if ((f.close_code != 1002 && f.close_code != 1009) || !f.close_reason ||
                !*f.close_reason)
                abort();
            break;
        }
        if (rc != MNEMO_WS_FRAME) abort();
        if (f.payload_at != 6 && f.payload_at != 8 && f.payload_at != 14) abort();
        if (f.size != f.payload_at + f.payload_len || f.size > len - at) abort();
        if (f.payload_len > max_message || f.opcode < 0 || f.opcode > 15) abort();
        if (f.opcode >= 8 && f.payload_len > 125) abort();
        for (size_t k = 0; k < f.size; k++) { /* bytes arrive in any chunks */
            mnemo_ws_frame g;
            if (mnemo__ws_parse_frame(buf + at, k, max_message, &g) != MNEMO_WS_MORE) abort();
        }
        round_trip(&f, buf + at, max_message);

        uint8_t *p = buf + at + f.payload_at;
        mnemo__ws_unmask(p, f.payload_len, f.mask);
        /* the mask is its own inverse */
        for (size_t i = 0; i < f.payload_len; i++)
            if ((uint8_t)(p[i] ^ f.mask[i & 3]) != data[2 + at + f.payload_at + i]) abort();
        bool was_in = m.in_message;
        unsigned code = 0;
        const char *why = NULL;
        int what = mnemo__ws_take_frame(&m, &f, p, max_message, &code, &why);
        if (what == MNEMO_WS_ERROR) {
            if ((code != 1002 && code != 1003 && code != 1009) || !why || !*why) abort();
            break;
        }
        if (what == MNEMO_WS_CLOSE) {
            if (f.opcode != 0x8) abort();
            break;
        }
        if (f.opcode <= 1) {
            if ((f.opcode == 1) == was_in) abort(); /* must have been refused */
            if (f.opcode == 1) expect_len = 0;
            memcpy(expect + expect_len, p, f.payload_len);
            expect_len += f.payload_len;
            if (expect_len > max_message || m.in_message != !f.fin) abort();
            if (what != (f.fin ? MNEMO_WS_TEXT : MNEMO_WS_NONE)) abort();
        } else {
            /* only a ping (answered) and a pong (ignored) get here */
            if (f.opcode == 0x9 ? what != MNEMO_WS_PING : f.opcode != 0xA || what != MNEMO_WS_NONE)
                abort();
            if (m.in_message != was_in) abort(); /* they may come between fragments */
        }
        if (what == MNEMO_WS_TEXT && !m.text.failed &&
            (m.text.len != expect_len || (expect_len && memcmp(m.text.p, expect, expect_len) != 0)))
            abort();
        at += f.size;
    }
    mnemo__jsonw_free(&m.text);
    free(expect);
    free(buf);
    return 0;
}

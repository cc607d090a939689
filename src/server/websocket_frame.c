/*
 * websocket_frame.c — the frame layer of websocket.h: bytes in, frames and
 * messages out, no socket, so that every byte a client can send reaches it
 * the same way in the server and in the fuzzer.
 */
#include "websocket.h"

#include <string.h>

int mnemo__ws_parse_frame(const uint8_t *b, size_t len, size_t max_message, mnemo_ws_frame *f) {
    memset(f, 0, sizeof *f);
    if (len < 2) return MNEMO_WS_MORE;
    bool masked = b[1] & 0x80;
    f->fin = b[0] & 0x80;
    f->opcode = b[0] & 0x0F;
    uint64_t n = b[1] & 0x7F;
    size_t hl = 2;
    if (n == 126) {
        if (len < 4) return MNEMO_WS_MORE;
        n = (uint64_t)b[2] << 8 | b[3];
        hl = 4;
    } else if (n == 127) {
        if (len < 10) return MNEMO_WS_MORE;
        n = 0;
        for (int i = 0; i < 8; i++) n = n << 8 | b[2 + i];
        hl = 10;
    }
    if (!masked) {
        f->close_code = 1002;
        f->close_reason = "client frames must be masked (RFC 6455 5.1)";
        return MNEMO_WS_FAIL;
    }
    if (b[0] & 0x70) {
        f->close_code = 1002;
        f->close_reason = "no extension was negotiated";
        return MNEMO_WS_FAIL;
    }
    if (n > max_message || (f->opcode >= 8 && n > 125)) {
        f->close_code = 1009;
        f->close_reason = "message larger than --max-body-kb";
        return MNEMO_WS_FAIL;
    }
    /* n <= max_message, a size_t: the sums below cannot wrap for any sane limit */
    if (len < hl + 4 || len - (hl + 4) < n) return MNEMO_WS_MORE; /* wait for the rest */
    memcpy(f->mask, b + hl, 4);
    f->payload_at = hl + 4;
    f->payload_len = (size_t)n;
    f->size = f->payload_at + f->payload_len;
    return MNEMO_WS_FRAME;
}

void mnemo__ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4]) {
    for (size_t i = 0; i < n; i++) p[i] ^= mask[i & 3];
}

int mnemo__ws_take_frame(mnemo_ws_message *m, const mnemo_ws_frame *f, const uint8_t *p,
                         size_t max_message, unsigned *close_code, const char **close_reason) {
    size_t n = f->payload_len;
    switch (f->opcode) {
    case 0x0: /* continuation */
    case 0x1: /* text */
        if ((f->opcode == 0x1) == m->in_message) {
            *close_code = 1002;
            *close_reason = f->opcode ? "a new message inside a fragmented one"
                                      : "a continuation without a message";
            return MNEMO_WS_ERROR;
        }
        if (f->opcode == 0x1) mnemo__jsonw_reset(&m->text);
        if (m->text.len + n > max_message) {
            *close_code = 1009;
            *close_reason = "message larger than --max-body-kb";
            return MNEMO_WS_ERROR;
        }
        mnemo__jsonw_raw(&m->text, (const char *)p, n);
        m->in_message = !f->fin;
        return f->fin ? MNEMO_WS_TEXT : MNEMO_WS_NONE;
    case 0x2:
        *close_code = 1003;
        *close_reason = "send requests as text messages (JSON)";
        return MNEMO_WS_ERROR;
    case 0x8: return MNEMO_WS_CLOSE;
    case 0x9: return MNEMO_WS_PING;
    case 0xA: return MNEMO_WS_NONE;
    default:
        *close_code = 1002;
        *close_reason = "unknown opcode";
        return MNEMO_WS_ERROR;
    }
}

size_t mnemo__ws_frame_header(int opcode, size_t n, uint8_t h[10]) {
    h[0] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        h[1] = (uint8_t)n;
        return 2;
    }
    if (n < 65536) {
        h[1] = 126;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++) h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    return 10;
}

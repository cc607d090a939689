/*
 * websocket.h — WebSocket (RFC 6455) frames as pure functions over bytes
 * (websocket_frame.c): reading a client frame's header, unmasking its
 * payload, joining fragments into text messages, and writing a server frame's
 * header. websocket.c does the socket around them; fuzz/fuzz_websocket_frame.c
 * feeds them arbitrary bytes.
 */
#ifndef MNEMO_WEBSOCKET_H
#define MNEMO_WEBSOCKET_H

#include "../core/jsonw.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* mnemo__ws_parse_frame's answers. */
enum {
    MNEMO_WS_MORE = 0,  /* not a whole frame yet: read more bytes */
    MNEMO_WS_FRAME = 1, /* a whole frame at the start of the buffer */
    MNEMO_WS_FAIL = -1, /* a protocol error: close with close_code, close_reason */
};

typedef struct mnemo_ws_frame {
    bool fin;
    int opcode;         /* 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong, ... */
    size_t payload_at;  /* offset of the payload (after the header and the mask) */
    size_t payload_len; /* at most max_message; at most 125 for a control frame */
    size_t size;        /* the whole frame: payload_at + payload_len */
    uint8_t mask[4];
    unsigned close_code; /* MNEMO_WS_FAIL: 1002 protocol error, 1009 too big */
    const char *close_reason;
} mnemo_ws_frame;

/* Reads the client frame at the start of buf[0..n). A frame must be masked,
 * have no reserved bit set, and carry at most max_message bytes (125 for a
 * control frame); those checks are made as soon as the header is whole, so
 * an oversize frame fails before its payload arrives. */
int mnemo__ws_parse_frame(const uint8_t *buf, size_t n, size_t max_message, mnemo_ws_frame *f);

/* XORs p[0..n) with the frame's mask (in place: the payload is then clear). */
void mnemo__ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4]);

/* The text message being joined from fragments. Zeroed to start; freed
 * with mnemo__jsonw_free(&m->text). */
typedef struct mnemo_ws_message {
    mnemo_jsonw text;
    bool in_message; /* a fragmented message has begun and not ended */
} mnemo_ws_message;

/* mnemo__ws_take_frame's answers: what the connection does next. */
enum {
    MNEMO_WS_NONE,  /* nothing (a fragment, a pong) */
    MNEMO_WS_TEXT,  /* a whole text message is in m->text */
    MNEMO_WS_PING,  /* answer with a pong carrying the same payload */
    MNEMO_WS_CLOSE, /* the client closes: echo its status code (the first 2 bytes), end */
    MNEMO_WS_ERROR, /* close with *close_code, *close_reason, end */
};

/* Takes one parsed frame whose payload (unmasked) is payload[0..f->payload_len). */
int mnemo__ws_take_frame(mnemo_ws_message *m, const mnemo_ws_frame *f, const uint8_t *payload,
                         size_t max_message, unsigned *close_code, const char **close_reason);

/* Writes the header of an unmasked (server) frame with fin set into h;
 * returns its length (2, 4 or 10). */
size_t mnemo__ws_frame_header(int opcode, size_t n, uint8_t h[10]);

#endif

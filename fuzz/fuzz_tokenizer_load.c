/*
 * fuzz_tokenizer_load.c — libFuzzer target: arbitrary bytes as a
 * tokenizer.json. Loading must either succeed or fail with a status; a
 * loaded tokenizer must encode and decode without fault.
 */
#include "tokenizer/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mnemo__log_set_level(MNEMO_LOG_OFF);
    void *image = NULL;
    size_t image_size = 0;
    mnemo_error err;
    if (mnemo__tok_build_image(data, size, 0, &image, &image_size, &err) != MNEMO_OK) return 0;
    mnemo_tokenizer tok;
    if (mnemo__tok_attach(&tok, image, image_size, &err) != MNEMO_OK) abort(); /* builder bug */
    const char *text = "ab c <bos>\xE2\x96\x81x\xF0\x9F\x98\x80 zz";
    int32_t ids[256];
    size_t n;
    if (mnemo_tokenizer_encode(&tok, text, strlen(text), 0, ids, 256, &n, &err) == MNEMO_OK) {
        char *out;
        size_t len;
        if (mnemo_tokenizer_decode(&tok, ids, n, 0, &out, &len, &err) == MNEMO_OK) mnemo_free(out);
    }
    free(image);
    return 0;
}

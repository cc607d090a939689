/*
 * fuzz_store_filter.c — libFuzzer target for the memory store's metadata
 * filters: any bytes are parsed as filter JSON (mnemo__filter_parse); an
 * accepted filter is evaluated against a few metadata objects (nested, of
 * every JSON type), and the same bytes are tried as a metadata object's
 * text, so the validator and the evaluator meet every shape the parser lets
 * through. Seeds: fuzz/corpus/filter.
 *
 *   build-fuzz/fuzz/fuzz_store_filter -max_len=2048 fuzz/corpus/filter
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const metas[] = {
    "{}",
    ("{\"a\": 1, \"b\": \"x\", \"c\": true, \"d\": null, \"e\": [1, 2], \"f\": {\"g\": {\"h\": "
     "2.5}}}"),
    "{\"a\": \"1\", \"a.b\": 3, \"tags\": [\"x\", \"y\"], \"n\": -1e300}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    mnemo_filter *f = NULL;
    mnemo_error err;
    if (mnemo__filter_parse(text, &f, &err) == MNEMO_OK) {
        for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++) {
            json_t *m = json_loads(metas[i], 0, NULL);
            int r = mnemo__filter_match(f, m);
            if (r != 0 && r != 1) abort();
            json_decref(m);
        }
        /* the filter as metadata too: every accepted filter is an object */
        json_t *self = json_loads(text, 0, NULL);
        if (self && json_is_object(self)) (void)mnemo__filter_match(f, self);
        json_decref(self);
        mnemo__filter_free(f);
    } else if (strlen(err.message) == 0) {
        abort(); /* a refusal always says why */
    }
    free(text);
    return 0;
}

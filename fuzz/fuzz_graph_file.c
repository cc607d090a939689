/*
 * fuzz_graph_file.c — libFuzzer target for the store's graph file
 * (src/store/index/graph_file.c): a small index (64 memories of width 16) and its
 * graph are built and saved once; then each input becomes a file that
 * mnemo__graph_load() reads into a fresh copy of the same index. The first
 * byte picks the shape: 0, the valid file with the input's (offset, xor)
 * edits; 1, the valid header and the input as everything after it (so the
 * node, link and free-list checks see any bytes); else the input as the
 * whole file. A file that loads must then search without fault. No seeds
 * needed:
 *
 *   build-fuzz/fuzz/fuzz_graph_file -max_len=4096 CORPUS_DIR
 */
#include "store/index/index.h"
#include "store/store.h" /* mnemo__unit_vector */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { N = 64, DIM = 16 };
static float vecs[N][DIM];
static uint8_t *valid;
static size_t valid_len;
static char path[64];

static void fill(mnemo_index *ix) {
    mnemo__index_init(ix, DIM, 1, 4, 16, 16);
    for (int i = 0; i < N; i++) {
        mnemo_index_entry e = {.seq = i * 3 + 1};
        e.ns = mnemo__strndup("default", 7);
        e.meta = json_object();
        mnemo__index_add(ix, &e, vecs[i]);
    }
}

static void setup(void) {
    uint64_t r = 0x1234567;
    for (int i = 0; i < N; i++) {
        for (int d = 0; d < DIM; d++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            vecs[i][d] = (float)((double)(r >> 11) / 9007199254740992.0 - 0.5);
        }
        mnemo__unit_vector(vecs[i], DIM, vecs[i]);
    }
    snprintf(path, sizeof path, "/tmp/fuzz-graph-%d.hnsw", (int)getpid());
    mnemo_index ix;
    fill(&ix);
    mnemo__index_graph_due(&ix);
    while (mnemo__index_build_step(&ix, 1000) == 0) {}
    mnemo__index_graph_ready(&ix);
    if (mnemo__graph_save(&ix, path)) abort();
    mnemo__index_free(&ix);
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    fseek(f, 0, SEEK_END);
    valid_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    valid = malloc(valid_len);
    if (!valid || fread(valid, 1, valid_len, f) != valid_len) abort();
    fclose(f);
}

static int accept_all(void *ctx, size_t pos) {
    (void)ctx;
    (void)pos;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!valid) {
        mnemo__log_set_level(MNEMO_LOG_ERROR);
        setup();
    }
    if (size == 0) return 0;
    uint8_t *file;
    size_t len;
    enum { HEADER = MNEMO_GRAPH_FILE_HEADER };
    if (data[0] == 0) {
        file = malloc(valid_len);
        memcpy(file, valid, valid_len);
        len = valid_len;
        for (size_t i = 1; i + 3 <= size; i += 3) {
            size_t at = ((size_t)data[i] | (size_t)data[i + 1] << 8) % valid_len;
            file[at] ^= data[i + 2];
        }
    } else if (data[0] == 1) {
        len = HEADER + size - 1;
        file = malloc(len);
        memcpy(file, valid, HEADER);
        memcpy(file + HEADER, data + 1, size - 1);
    } else {
        len = size - 1;
        file = malloc(len ? len : 1);
        memcpy(file, data + 1, len);
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(file, 1, len, f);
    fclose(f);
    free(file);
    mnemo_index ix;
    fill(&ix);
    char why[200];
    if (mnemo__graph_load(&ix, path, why, sizeof why)) {
        int8_t qc[DIM];
        float qs = mnemo__quantize_i8(vecs[5], DIM, qc);
        mnemo_hnsw_hit out[10];
        size_t n;
        int complete;
        mnemo__hnsw_search(&ix.graph, mnemo__index_codes(&ix), qc, qs, 16, accept_all, NULL, out,
                           10, &n, &complete);
        for (size_t i = 0; i < n; i++)
            if (out[i].pos >= ix.n) abort();
        mnemo__index_remove(&ix, 4);
    } else if (ix.graph_state != MNEMO_GRAPH_NONE || ix.graph.n_nodes != 0) {
        abort(); /* a rejected file must leave no graph behind */
    }
    mnemo__index_free(&ix);
    return 0;
}

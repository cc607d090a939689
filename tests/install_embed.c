/*
 * install_embed.c — a program built by tests/test_install.sh against an
 * installed libmnemo, with only what `pkg-config mnemo` gives: embeds its
 * second argument (no prompt) with the model of its first, and prints the
 * vector as a JSON array, as `mnemo embed` does.
 */
#include <mnemo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL TEXT\n", argv[0]);
        return 2;
    }
    mnemo_error err;
    mnemo_model *model = NULL;
    mnemo_context *ctx = NULL;
    if (mnemo_model_open(argv[1], NULL, &model, &err) ||
        mnemo_context_create(model, NULL, &ctx, &err)) {
        fprintf(stderr, "%s\n", err.message);
        mnemo_model_close(model);
        return 1;
    }
    size_t dim = mnemo_model_dim(model), len = strlen(argv[2]);
    const char *text = argv[2];
    float *v = malloc(dim * sizeof *v);
    int rc = v ? mnemo_embed(ctx, &text, &len, 1, NULL, v, NULL, &err) : MNEMO_ENOMEM;
    if (rc) {
        fprintf(stderr, "%s\n", v ? err.message : "out of memory");
    } else {
        for (size_t i = 0; i < dim; i++) printf("%s%.9g", i ? "," : "[", (double)v[i]);
        printf("]\n");
    }
    free(v);
    mnemo_context_free(ctx);
    mnemo_model_close(model);
    return rc ? 1 : 0;
}

/*
 * engine_forward.c — the EmbeddingGemma forward pass over one packed batch
 * (the tokens of many sequences in one matrix, no padding), then pooling and
 * the sentence-transformers head. Reads like the math:
 *
 *   x = embed[ids] * sqrt(hidden)
 *   per layer:  h = x + post_attn_norm(o(attention(rope(qk_norm(qkv(input_norm(x)))))))
 *               x = h + post_ffn_norm(down(gelu_tanh(gate(n)) * up(n))), n = pre_ffn_norm(h)
 *   x = norm(x);  e = mean over each sequence;  e = Dense(Dense(e));  e /= |e|
 *
 * Linear layers run over all tokens at once, split across the pool by output
 * column blocks; attention runs per (sequence, block of 64 queries), all
 * heads in one task (one head per task when the batch is too small to keep
 * every thread busy), each sequence alone (sliding layers: |i - j| <=
 * radius; full layers: the whole sequence). All buffers come from the context: nothing is allocated
 * per batch.
 */
#include "engine_internal.h"

#include <math.h>
#include <string.h>

#define QUERY_BLOCK 64
/* q and k heads per token at most for ATTN_I16 (the configs allow 256 + 256) */
#define MNEMO_MAX_HEADS 512
/* multiply-adds below which a parallel loop costs more than it saves */
#define SMALL_WORK (1u << 18)

struct mnemo_engine_ctx {
    const mnemo_engine *e;
    mnemo_pool *pool;
    size_t max_tokens;
    /* activations, [max_tokens][width] */
    float *x, *xn, *qkv, *att, *tmp, *gu;
    size_t ld_qkv;  /* q at column 0, k at n_heads*head_dim, v after k */
    float *vp;      /* V of each sequence packed for P·V: per K/V head, panels of
                         * MNEMO_PANEL dims, each [len][MNEMO_PANEL] (kernels.h), at
                         * start * kv_heads * hd_pad */
    size_t hd_pad;  /* head_dim rounded up to a whole panel */
    float *scores;  /* per worker: [QUERY_BLOCK][max_seq_length] */
    float *kp;      /* per worker: the keys one task sees, packed (f32 or bf16 pairs) */
    size_t kp_size; /* floats per worker in kp */
    enum { ATTN_F32, ATTN_BF16, ATTN_I16 } attn; /* attention's arithmetic (ctx_create) */
    /* ATTN_I16: q and k of every token quantized per head row (by the op that
     * ropes them), [max_tokens][ld_aq], q's heads then k's; their scales
     * [head][max_tokens] (q's heads then k's), so a block's are contiguous */
    int16_t *aq;
    size_t ld_aq;
    float *aqs;
    int qk_limit;
    float *vs;         /* V's per-dim scales: per sequence and K/V head, hd_pad of them */
    int16_t *pq;       /* per worker: a block's P, [QUERY_BLOCK][ld_pq] */
    size_t ld_pq;      /* max_seq_length rounded up to even */
    float *pqs;        /* per worker: its rows' scales, [QUERY_BLOCK] */
    int32_t *pos;      /* position of each packed token in its sequence */
    size_t *seq_start; /* first packed token of each sequence */
    size_t *seq_len;
    size_t *seq_task0; /* first attention task of each sequence (set once per batch) */
    size_t attn_tasks; /* (sequence, query block, head group) tasks of the batch */
    size_t attn_heads; /* query heads per attention task: all, or one when the
                         * batch has too few query blocks to keep the pool busy */
    size_t max_seqs;
    float *pooled, *dense_a, *dense_b; /* [max_seqs][widths] */
    int16_t *xq; /* int8 precision: activations quantized per row, [max_tokens][ld_xq] */
    float *sx;
    size_t ld_xq;
    uint8_t *xu; /* ... or to u8 with zero points, [max_tokens][ld_xu] (PACK_U8) */
    int32_t *zx;
    size_t ld_xu;
    /* the 8-bit weights whose quantized input xq/xu holds for the current
     * batch (set by the per-token op that wrote it, used once by linear_run),
     * else NULL */
    const mnemo_packed *quantized_for;
    size_t dense_width;
    double t_linear, t_total; /* seconds in the linear layers and in forward passes */
    /* the current batch, for the tasks */
    size_t n_tokens, n_seqs;
};

/* ---------------------------------------------------------- parallel GEMM */

typedef struct gemm_job {
    const mnemo_kernels *k;
    size_t M, chunk, panels;
    const float *x;
    size_t ldx;
    const mnemo_packed *w;
    float *y;
    size_t ldy;
    const int16_t *xq;
    const float *sx;
    size_t ld_xq;
    const uint8_t *xu;
    const int32_t *zx;
    size_t ld_xu;
} gemm_job;

/* Rows per task when n rows are split across `threads`: at most `most`,
 * fewer when a short batch would leave a thread idle (an 18-token query on 2
 * threads: two tasks of 9). */
static size_t rows_per_task(size_t n, size_t threads, size_t most) {
    size_t rows = (n + threads - 1) / threads;
    rows = rows < most ? rows : most;
    return rows ? rows : 1;
}

static bool quantized_input(const mnemo_packed *w) {
    return w->kind == PACK_I8 || w->kind == PACK_Q4 || w->kind == PACK_U8;
}

/* Rows m0..m0+n of x (row stride ldx) quantized as the 8-bit weights w take
 * them (int16, or u8 with a zero point) into rows m0.. of the context's
 * buffers. */
static void quantize_for(mnemo_engine_ctx *c, const mnemo_packed *w, const float *x, size_t ldx,
                         size_t m0, size_t n) {
    const mnemo_kernels *k = c->e->kernels;
    if (w->kind == PACK_U8)
        k->quantize_rows_u8(x, ldx, n, w->cols, c->xu + m0 * c->ld_xu, c->ld_xu, c->sx + m0,
                            c->zx + m0);
    else
        k->quantize_rows(x, ldx, n, w->cols, mnemo__i8_x_limit(w->cols), c->xq + m0 * c->ld_xq,
                         c->ld_xq, c->sx + m0);
}

typedef struct quant_job {
    mnemo_engine_ctx *c;
    const mnemo_packed *w;
    const float *x;
    size_t ldx, M, rows; /* rows per task */
} quant_job;

#define QUANT_ROWS 32

static void quant_task(void *arg, size_t task, int worker) {
    (void)worker;
    const quant_job *q = arg;
    size_t m0 = task * q->rows, m1 = m0 + q->rows < q->M ? m0 + q->rows : q->M;
    quantize_for(q->c, q->w, q->x + m0 * q->ldx, q->ldx, m0, m1 - m0);
}

static void gemm_task(void *arg, size_t task, int worker) {
    (void)worker;
    const gemm_job *j = arg;
    size_t p0 = task * j->chunk, p1 = p0 + j->chunk < j->panels ? p0 + j->chunk : j->panels;
    if (p0 >= p1) return;
    if (j->w->kind == PACK_U8)
        j->k->gemm_packed_u8(j->M, j->w->rows, j->w->cols, j->xu, j->ld_xu, j->sx, j->zx,
                             j->w->data, j->w->scales, p0, p1, j->y, j->ldy);
    else if (j->w->kind == PACK_Q4)
        j->k->gemm_packed_q4(j->M, j->w->rows, j->w->cols, j->xq, j->ld_xq, j->sx, j->w->data,
                             j->w->scales, p0, p1, j->y, j->ldy);
    else if (j->w->kind == PACK_I8)
        j->k->gemm_packed_i8(j->M, j->w->rows, j->w->cols, j->xq, j->ld_xq, j->sx, j->w->data,
                             j->w->scales, p0, p1, j->y, j->ldy);
    else if (j->w->kind == PACK_BF16_DP)
        j->k->gemm_packed_bf16_dp(j->M, j->w->rows, j->w->cols, j->x, j->ldx, j->w->data, p0, p1,
                                  j->y, j->ldy);
    else if (j->w->kind == PACK_BF16_PAIRS)
        j->k->gemm_packed_bf16_pairs(j->M, j->w->rows, j->w->cols, j->x, j->ldx, j->w->data, p0, p1,
                                     j->y, j->ldy);
    else if (j->w->kind == PACK_BF16)
        j->k->gemm_packed_bf16(j->M, j->w->rows, j->w->cols, j->x, j->ldx, j->w->data, p0, p1, j->y,
                               j->ldy);
    else
        j->k->gemm_packed_f32(j->M, j->w->rows, j->w->cols, j->x, j->ldx, j->w->data, p0, p1, j->y,
                              j->ldy);
}

/* y[M][w.rows] (row stride ldy) = x[M][w.cols] (row stride ldx) · wᵀ, split by
 * panels of output columns across the pool; x's rows are quantized first
 * when w is 8-bit, unless the per-token op that wrote them did it for w. */
static void linear_run(mnemo_engine_ctx *c, const float *x, size_t ldx, size_t M,
                       const mnemo_packed *w, float *y, size_t ldy) {
    size_t panels = (w->rows + MNEMO_PANEL - 1) / MNEMO_PANEL;
    size_t threads = (size_t)mnemo__pool_size(c->pool);
    if (M * w->rows * w->cols < SMALL_WORK) threads = 1; /* waking workers would cost more */
    size_t tasks = threads == 1 ? 1 : threads * 2;
    size_t chunk = (panels + tasks - 1) / tasks;
    gemm_job j = {c->e->kernels, M,     chunk, panels,   x,     ldx,   w,       y,
                  ldy,           c->xq, c->sx, c->ld_xq, c->xu, c->zx, c->ld_xu};
    if (quantized_input(w) && c->quantized_for != w) {
        /* quantize the rows once for all the panels */
        quant_job q = {c, w, x, ldx, M, rows_per_task(M, threads, QUANT_ROWS)};
        size_t qt = (M + q.rows - 1) / q.rows;
        if (threads == 1)
            for (size_t t = 0; t < qt; t++) quant_task(&q, t, 0);
        else
            mnemo__pool_run(c->pool, qt, quant_task, &q);
    }
    c->quantized_for = NULL;
    size_t n_tasks = (panels + chunk - 1) / chunk;
    if (threads == 1) {
        for (size_t t = 0; t < n_tasks; t++) gemm_task(&j, t, 0);
        return;
    }
    mnemo__pool_run(c->pool, n_tasks, gemm_task, &j);
}

/* linear_run for the per-token layers, timed for mnemo_context_timing */
static void linear(mnemo_engine_ctx *c, const float *x, size_t ldx, size_t M, const mnemo_packed *w,
                   float *y, size_t ldy) {
    double t0 = mnemo__now();
    linear_run(c, x, ldx, M, w, y, ldy);
    c->t_linear += mnemo__now() - t0;
}

/* ------------------------------------------------ per-token element-wise */

/* OP_ADD_NORM adds a sublayer's normed output to the residual stream and
 * norms the sum for what reads it next: both in one pass over the tokens. */
typedef enum { OP_NORM, OP_ADD_NORM, OP_QK_NORM_ROPE, OP_GELU_MUL } token_op_kind;

typedef struct token_op {
    mnemo_engine_ctx *c;
    token_op_kind kind;
    const float *gamma;
    const float *src;
    float *dst;
    const float *gamma2;
    float *dst2;
    int layer;
    const mnemo_packed *next; /* weights the output feeds: if 8-bit, quantize it for them */
    size_t chunk;             /* tokens per task (per_token sets it) */
} token_op;

#define TOKEN_CHUNK 16 /* tokens per task at most (rows_per_task) */

static void token_task(void *arg, size_t task, int worker) {
    (void)worker;
    const token_op *op = arg;
    mnemo_engine_ctx *c = op->c;
    const mnemo_engine *e = c->e;
    const mnemo_model_config *cfg = &e->cfg;
    size_t H = (size_t)cfg->hidden, hd = (size_t)cfg->head_dim;
    size_t t0 = task * op->chunk, t1 = t0 + op->chunk < c->n_tokens ? t0 + op->chunk : c->n_tokens;
    for (size_t t = t0; t < t1; t++) {
        switch (op->kind) {
        case OP_NORM: /* dst = norm(src) */
            e->kernels->rmsnorm(op->dst + t * H, op->src + t * H, op->gamma, H, cfg->rms_eps);
            if (op->next) quantize_for(c, op->next, op->dst + t * H, H, t, 1);
            break;
        case OP_ADD_NORM: /* dst += norm(src); dst2 = norm2(dst) */
            e->kernels->add_rmsnorm(op->dst + t * H, op->src + t * H, op->gamma, op->gamma2,
                                    op->dst2 + t * H, H, cfg->rms_eps);
            if (op->next) quantize_for(c, op->next, op->dst2 + t * H, H, t, 1);
            break;
        case OP_QK_NORM_ROPE: {
            const gemma_layer *L = &e->layers[op->layer];
            bool full = cfg->layer_full[op->layer];
            size_t p = (size_t)c->pos[t], half = hd / 2;
            const float *cs = (full ? e->cos_full : e->cos_sliding) + p * half;
            const float *sn = (full ? e->sin_full : e->sin_sliding) + p * half;
            float *row = c->qkv + t * c->ld_qkv;
            for (int h = 0; h < cfg->n_heads; h++) {
                float *q = row + (size_t)h * hd;
                e->kernels->rmsnorm(q, q, L->q_norm, hd, cfg->rms_eps);
                mnemo__rope(q, hd, cs, sn);
            }
            for (int h = 0; h < cfg->n_kv_heads; h++) {
                float *k = row + (size_t)cfg->n_heads * hd + (size_t)h * hd;
                e->kernels->rmsnorm(k, k, L->k_norm, hd, cfg->rms_eps);
                mnemo__rope(k, hd, cs, sn);
            }
            if (c->attn == ATTN_I16) { /* q's and k's heads (adjacent in the row) per head */
                size_t heads = (size_t)(cfg->n_heads + cfg->n_kv_heads);
                float sc[MNEMO_MAX_HEADS];
                e->kernels->quantize_rows(row, hd, heads, hd, c->qk_limit, c->aq + t * c->ld_aq, hd,
                                          sc);
                for (size_t h = 0; h < heads; h++) c->aqs[h * c->max_tokens + t] = sc[h];
            }
            break;
        }
        case OP_GELU_MUL: { /* gate|up -> gelu(gate) * up, written over gate */
            size_t I = (size_t)cfg->intermediate;
            float *g = c->gu + t * 2 * I;
            e->kernels->gelu_tanh_mul(g, g, g + I, I);
            if (op->next) quantize_for(c, op->next, g, 2 * I, t, 1);
            break;
        }
        }
    }
}

/* Runs op over the batch's tokens; when op->next is 8-bit, its rows are
 * quantized for it as they are written (while they are in that thread's
 * cache), and the next linear_run on op->next skips its own pass. */
static void per_token(mnemo_engine_ctx *c, token_op *op) {
    op->c = c;
    if (op->next && !quantized_input(op->next)) op->next = NULL;
    size_t n = c->n_tokens;
    op->chunk = rows_per_task(n, (size_t)mnemo__pool_size(c->pool), TOKEN_CHUNK);
    mnemo__pool_run(c->pool, (n + op->chunk - 1) / op->chunk, token_task, op);
    c->quantized_for = op->next;
}

/* -------------------------------------------------------------- attention */

typedef struct attn_job {
    mnemo_engine_ctx *c;
    int layer;
} attn_job;

/* V of each sequence packed once per layer for the P·V GEMMs (the weight
 * operand there: output = head dims, reduction = keys): per K/V head, panels
 * of MNEMO_PANEL dims, each the whole sequence long, so a query block's key
 * window is a pointer offset with the panel stride. With P = MNEMO_PANEL,
 * f32: panel element (key j, dim d % P) at j * P + d % P. ATTN_BF16 and
 * ATTN_I16: the pair layout of the dot-product kernels over keys (bf16, or
 * int16 with one scale per dim), the length rounded up to even with a zero
 * key, at (j / 2) * 2P + (d % P) * 2 + j % 2; a sequence's V then starts at
 * (start + s) * kv_heads * hd_pad (one spare key per sequence fits), its
 * int16 scales at (s * kv_heads + h) * hd_pad. One task per sequence. */
static void pack_v_task(void *arg, size_t s, int worker) {
    (void)worker;
    mnemo_engine_ctx *c = arg;
    const mnemo_model_config *cfg = &c->e->cfg;
    size_t hd = (size_t)cfg->head_dim, nkv = (size_t)cfg->n_kv_heads, P = MNEMO_PANEL;
    size_t voff = (size_t)cfg->n_heads * hd + nkv * hd;
    size_t start = c->seq_start[s], len = c->seq_len[s];
    for (size_t h = 0; h < nkv; h++) {
        size_t lenp = (len + 1) & ~(size_t)1;
        const float *v = c->qkv + start * c->ld_qkv + voff + h * hd;
        if (c->attn == ATTN_BF16) {
            uint16_t *vp = (uint16_t *)c->vp + ((start + s) * nkv + h * lenp) * c->hd_pad;
            c->e->kernels->pack_pairs_cols(v, c->ld_qkv, len, hd, vp, lenp * P);
        } else if (c->attn == ATTN_I16) {
            int16_t *vp = (int16_t *)c->vp + ((start + s) * nkv + h * lenp) * c->hd_pad;
            c->e->kernels->pack_pairs_cols_i16(v, c->ld_qkv, len, hd, MNEMO_ATTN_V_LIMIT, vp,
                                               lenp * P, c->vs + (s * nkv + h) * c->hd_pad);
        } else {
            float *vp = c->vp + (start * nkv + h * len) * c->hd_pad;
            for (size_t j = 0; j < len; j++) { /* a key's dims, P at a time, into each panel */
                const float *key = v + j * c->ld_qkv;
                for (size_t d = 0; d < c->hd_pad; d += P) {
                    float *dst = vp + (d / P) * len * P + j * P;
                    size_t n = hd - d < P ? hd - d : P;
                    memcpy(dst, key + d, n * sizeof(float));
                    memset(dst + n, 0, (P - n) * sizeof(float));
                }
            }
        }
    }
}

/* The keys [key, key + kr) of K/V head kvh (packed-batch rows), as the
 * weight operand of S = Q·Kᵀ (output = keys, reduction = head dims): panel p
 * holds keys key + p * MNEMO_PANEL.., f32 k-major, or in the pair layout
 * (ATTN_BF16: rounded to bf16; ATTN_I16: the int16 rows the op that roped
 * them wrote), the keys past kr zero. */
static void pack_k(const mnemo_engine_ctx *c, size_t key, size_t kvh, size_t kr, void *out) {
    const mnemo_model_config *cfg = &c->e->cfg;
    size_t hd = (size_t)cfg->head_dim, P = MNEMO_PANEL, panels = (kr + P - 1) / P;
    size_t col = ((size_t)cfg->n_heads + kvh) * hd; /* k's heads follow q's in both */
    if (c->attn == ATTN_I16) {
        c->e->kernels->pack_pairs_rows_i16(c->aq + key * c->ld_aq + col, c->ld_aq, kr, hd, out);
        return;
    }
    const float *k = c->qkv + key * c->ld_qkv + col;
    if (c->attn == ATTN_BF16) {
        c->e->kernels->pack_pairs_rows(k, c->ld_qkv, kr, hd, out);
        return;
    }
    for (size_t p = 0; p < panels; p++) {
        size_t n = kr - p * P < P ? kr - p * P : P;
        float *panel = (float *)out + p * hd * P;
        if (n < P) memset(panel, 0, hd * P * sizeof(float));
        /* 16 dims of each key at a time: the reads stay in a few lines, the
         * writes within a 1 KB block of the panel */
        for (size_t d0 = 0; d0 < hd; d0 += 16) {
            size_t d1 = d0 + 16 < hd ? d0 + 16 : hd;
            for (size_t jj = 0; jj < n; jj++) {
                const float *row = k + (p * P + jj) * c->ld_qkv;
                for (size_t d = d0; d < d1; d++) panel[d * P + jj] = row[d];
            }
        }
    }
}

/* Task index -> (sequence, block of queries, group of attn_heads query
 * heads): blocks counted per sequence in order, groups innermost. Each task
 * packs the keys its block sees (from a panel boundary, so a whole-panel
 * window) into its worker's buffer once per K/V head, then runs its query
 * heads on them (query heads share K/V heads): S = Q·Kᵀ and O = P·V as packed
 * GEMMs, on f32, bf16 or int16 dot products (c->attn). ATTN_I16: q from the
 * int16 rows the rope op wrote, each softmax row written as int16 P
 * (softmax_window_i16), V packed per layer at int16; every sum exact in int32
 * (kernels.h's limits). */
static void attention_task(void *arg, size_t task, int worker) {
    const attn_job *j = arg;
    mnemo_engine_ctx *c = j->c;
    const mnemo_engine *e = c->e;
    const mnemo_model_config *cfg = &e->cfg;
    size_t nh = (size_t)cfg->n_heads, hd = (size_t)cfg->head_dim, nkv = (size_t)cfg->n_kv_heads;
    size_t P = MNEMO_PANEL, T = c->max_tokens;
    /* the sequence whose tasks include this one: binary search of the first tasks */
    size_t lo = 0, hi = c->n_seqs;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (c->seq_task0[mid] <= task)
            lo = mid;
        else
            hi = mid;
    }
    size_t s = lo;
    size_t groups = nh / c->attn_heads;
    size_t qb = (task - c->seq_task0[s]) / groups, g = (task - c->seq_task0[s]) % groups;
    size_t start = c->seq_start[s], len = c->seq_len[s], lenp = (len + 1) & ~(size_t)1;
    size_t i0 = qb * QUERY_BLOCK, i1 = i0 + QUERY_BLOCK < len ? i0 + QUERY_BLOCK : len;
    size_t j0 = 0, j1 = len;
    size_t radius = (size_t)cfg->sliding_radius;
    bool full = cfg->layer_full[j->layer];
    if (!full) {
        j0 = i0 > radius ? i0 - radius : 0;
        j1 = i1 - 1 + radius + 1 < len ? i1 + radius : len;
    }
    j0 -= j0 % P; /* from a panel boundary; the extra keys are masked below */
    size_t kr = j1 - j0, kpanels = (kr + P - 1) / P;
    size_t qdim = nh * hd;
    const mnemo_kernels *k = e->kernels;
    float *S = c->scores + (size_t)worker * QUERY_BLOCK * (size_t)cfg->max_seq_length;
    void *kp = c->kp + (size_t)worker * c->kp_size;
    int16_t *pq = c->pq ? c->pq + (size_t)worker * QUERY_BLOCK * c->ld_pq : NULL;
    float *pqs = c->pqs ? c->pqs + (size_t)worker * QUERY_BLOCK : NULL;
    size_t packed = SIZE_MAX;
    for (size_t h = g * c->attn_heads; h < (g + 1) * c->attn_heads; h++) {
        size_t kvh = h / (nh / nkv);
        if (kvh != packed) {
            pack_k(c, start + j0, kvh, kr, kp);
            packed = kvh;
        }
        /* S = Q_blk · K_windowᵀ */
        const float *q = c->qkv + (start + i0) * c->ld_qkv + h * hd;
        if (c->attn == ATTN_I16)
            k->gemm_packed_i16s(i1 - i0, kr, hd, c->aq + (start + i0) * c->ld_aq + h * hd, c->ld_aq,
                                c->aqs + h * T + start + i0, kp, hd * P,
                                c->aqs + (nh + kvh) * T + start + j0, 0, kpanels, S, kr);
        else if (c->attn == ATTN_BF16)
            k->gemm_packed_bf16_dps(i1 - i0, kr, hd, q, c->ld_qkv, kp, ((hd + 1) & ~(size_t)1) * P,
                                    0, kpanels, S, kr);
        else
            k->gemm_packed_f32(i1 - i0, kr, hd, q, c->ld_qkv, kp, 0, kpanels, S, kr);
        for (size_t i = i0; i < i1; i++) { /* keys outside |i - j| <= radius get weight 0 */
            size_t first = 0, end = kr;
            if (!full) {
                first = i > j0 + radius ? i - radius - j0 : 0;
                end = i + radius + 1 - j0 < kr ? i + radius + 1 - j0 : kr;
            }
            if (c->attn == ATTN_I16)
                pqs[i - i0] = k->softmax_window_i16(S + (i - i0) * kr, kr, first, end,
                                                    cfg->attn_scale, pq + (i - i0) * c->ld_pq);
            else
                k->softmax_window(S + (i - i0) * kr, kr, first, end, cfg->attn_scale);
        }
        /* O_blk = P · V_window */
        float *o = c->att + (start + i0) * qdim + h * hd;
        size_t vpair = ((start + s) * nkv + kvh * lenp) * c->hd_pad + j0 * P; /* pair layouts */
        if (c->attn == ATTN_I16)
            k->gemm_packed_i16s(i1 - i0, hd, kr, pq, c->ld_pq, pqs, (const int16_t *)c->vp + vpair,
                                lenp * P, c->vs + (s * nkv + kvh) * c->hd_pad, 0, c->hd_pad / P, o,
                                qdim);
        else if (c->attn == ATTN_BF16)
            k->gemm_packed_bf16_dps(i1 - i0, hd, kr, S, kr, (const uint16_t *)c->vp + vpair,
                                    lenp * P, 0, c->hd_pad / P, o, qdim);
        else {
            const float *vp = c->vp + (start * nkv + kvh * len) * c->hd_pad + j0 * P;
            k->gemm_packed_f32s(i1 - i0, hd, kr, S, kr, vp, len * P, 0, c->hd_pad / P, o, qdim);
        }
    }
}

static void attention(mnemo_engine_ctx *c, int layer) {
    mnemo__pool_run(c->pool, c->n_seqs, pack_v_task, c);
    attn_job j = {c, layer};
    mnemo__pool_run(c->pool, c->attn_tasks, attention_task, &j);
}

/* ---------------------------------------------------------------- context */

int mnemo__engine_ctx_create(const mnemo_engine *e, size_t max_tokens, int n_threads,
                             mnemo_engine_ctx **out, mnemo_error *err) {
    const mnemo_model_config *cfg = &e->cfg;
    if (max_tokens < (size_t)cfg->max_seq_length) max_tokens = (size_t)cfg->max_seq_length;
    mnemo_engine_ctx *c = mnemo__calloc(1, sizeof *c);
    if (!c) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    c->e = e;
    c->max_tokens = max_tokens;
    int rc = mnemo__pool_create(n_threads, &c->pool, err);
    if (rc) {
        mnemo__free(c);
        return rc;
    }
    size_t T = max_tokens, H = (size_t)cfg->hidden, hd = (size_t)cfg->head_dim;
    size_t Q = (size_t)cfg->n_heads * hd, KV = (size_t)cfg->n_kv_heads * hd,
           I = (size_t)cfg->intermediate;
    size_t workers = (size_t)mnemo__pool_size(c->pool);
    c->max_seqs = T; /* every sequence has at least one token */
    c->dense_width = (size_t)cfg->hidden;
    for (int i = 0; i < cfg->n_dense; i++)
        if ((size_t)cfg->dense[i].out_features > c->dense_width)
            c->dense_width = (size_t)cfg->dense[i].out_features;
    c->ld_qkv = Q + 2 * KV;
    c->x = mnemo__malloc_array(T * H, 4);
    c->xn = mnemo__malloc_array(T * H, 4);
    c->tmp = mnemo__malloc_array(T * H, 4);
    c->qkv = mnemo__malloc_array(T * c->ld_qkv, 4);
    c->att = mnemo__malloc_array(T * Q, 4);
    c->hd_pad = (hd + MNEMO_PANEL - 1) / MNEMO_PANEL * MNEMO_PANEL;
    /* Attention on bf16 dot products at int8 and q4 where the CPU has them:
     * Q, K, P and V rounded to bf16, sums in f32, at twice the FMA rate.
     * Not at bf16: measured on bench/compare's 256 texts of ~128 tokens, the
     * worst cosine against sentence-transformers f32 fell from 0.99989 to
     * 0.99966 with it (P·V rounded costs most: 0.99980 with Q·Kᵀ alone),
     * and bf16's aim is 0.9999; at int8 0.99895 -> 0.99849, far above
     * int8's 0.995. f32 and "file" stay f32. */
    bool low = e->precision == MNEMO_PRECISION_INT8 || e->precision == MNEMO_PRECISION_Q4;
    c->attn = ATTN_F32;
    if (low && e->kernels->gemm_packed_bf16_dps) c->attn = ATTN_BF16;
    /* Where there is no bf16 dot product (or it is slow: Intel, dispatch.c)
     * but vpdpwssd: int16 attention, at twice the FMA's rate, the sums
     * exact (docs/kernels.md, "Attention on int16") */
    else if (low && e->kernels->gemm_packed_i16s &&
             (size_t)cfg->max_seq_length <= MNEMO_ATTN_MAX_KEYS &&
             cfg->n_heads + cfg->n_kv_heads <= MNEMO_MAX_HEADS)
        c->attn = ATTN_I16;
    if (c->attn == ATTN_I16) {
        c->ld_aq = (Q + KV);
        c->aq = mnemo__malloc_array(T * c->ld_aq, sizeof(int16_t));
        c->aqs = mnemo__malloc_array(T * (size_t)(cfg->n_heads + cfg->n_kv_heads), sizeof(float));
        c->qk_limit = mnemo__attn_qk_limit(hd);
        c->vs = mnemo__malloc_array(T * (size_t)cfg->n_kv_heads * c->hd_pad, sizeof(float));
        c->ld_pq = ((size_t)cfg->max_seq_length + 1) & ~(size_t)1;
        c->pq = mnemo__malloc_array(workers * QUERY_BLOCK * c->ld_pq, sizeof(int16_t));
        c->pqs = mnemo__malloc_array(workers * QUERY_BLOCK, sizeof(float));
    }
    c->vp = mnemo__malloc_array(T * (size_t)cfg->n_kv_heads * c->hd_pad, 4);
    c->kp_size = ((size_t)cfg->max_seq_length + MNEMO_PANEL - 1) / MNEMO_PANEL * MNEMO_PANEL *
                 ((hd + 1) & ~(size_t)1);
    c->kp = mnemo__malloc_array(workers * c->kp_size, 4);
    c->gu = mnemo__malloc_array(T * 2 * I, 4);
    c->scores = mnemo__malloc_array(workers * QUERY_BLOCK * (size_t)cfg->max_seq_length, 4);
    c->pos = mnemo__malloc_array(T, sizeof(int32_t));
    c->seq_start = mnemo__malloc_array(T, sizeof(size_t));
    c->seq_len = mnemo__malloc_array(T, sizeof(size_t));
    c->seq_task0 = mnemo__malloc_array(T, sizeof(size_t));
    c->pooled = mnemo__malloc_array(T * H, 4);
    size_t kmax = H > Q ? H : Q;
    if (I > kmax) kmax = I;
    c->ld_xq = (kmax + 1) & ~(size_t)1;
    c->xq = mnemo__malloc_array(T * c->ld_xq, sizeof(int16_t));
    c->sx = mnemo__malloc_array(T, sizeof(float));
    c->ld_xu = (kmax + 3) & ~(size_t)3;
    c->xu = mnemo__malloc_array(T * c->ld_xu, 1);
    c->zx = mnemo__malloc_array(T, sizeof(int32_t));
    c->dense_a = mnemo__malloc_array(T * c->dense_width, 4);
    c->dense_b = mnemo__malloc_array(T * c->dense_width, 4);
    if (!c->x || !c->xn || !c->tmp || !c->qkv || !c->att || !c->vp || !c->kp || !c->gu ||
        !c->scores || !c->pos || !c->seq_start || !c->seq_len || !c->seq_task0 || !c->pooled ||
        !c->dense_a || !c->dense_b || !c->xq || !c->sx || !c->xu || !c->zx ||
        (c->attn == ATTN_I16 && (!c->aq || !c->aqs || !c->vs || !c->pq || !c->pqs))) {
        mnemo__engine_ctx_free(c);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory for a context of %zu tokens", T);
    }
    *out = c;
    return MNEMO_OK;
}

void mnemo__engine_ctx_free(mnemo_engine_ctx *c) {
    if (!c) return;
    mnemo__pool_destroy(c->pool);
    float *bufs[] = {c->x,  c->xn, c->tmp,    c->qkv,    c->att,     c->vp,
                     c->kp, c->gu, c->scores, c->pooled, c->dense_a, c->dense_b};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mnemo__free(bufs[i]);
    mnemo__free(c->xq);
    mnemo__free(c->sx);
    mnemo__free(c->aq);
    mnemo__free(c->aqs);
    mnemo__free(c->vs);
    mnemo__free(c->pq);
    mnemo__free(c->pqs);
    mnemo__free(c->xu);
    mnemo__free(c->zx);
    mnemo__free(c->pos);
    mnemo__free(c->seq_start);
    mnemo__free(c->seq_len);
    mnemo__free(c->seq_task0);
    mnemo__free(c);
}

size_t mnemo__engine_ctx_max_tokens(const mnemo_engine_ctx *c) { return c->max_tokens; }

void mnemo__engine_ctx_timing(const mnemo_engine_ctx *c, double *linear_s, double *total_s) {
    *linear_s = c->t_linear;
    *total_s = c->t_total;
}

/* ---------------------------------------------------------------- forward */

static void embed_tokens(mnemo_engine_ctx *c, const int32_t *const *ids) {
    const mnemo_engine *e = c->e;
    size_t H = (size_t)e->cfg.hidden;
    for (size_t s = 0; s < c->n_seqs; s++)
        for (size_t i = 0; i < c->seq_len[s]; i++) {
            size_t t = c->seq_start[s] + i, id = (size_t)ids[s][i];
            float *x = c->x + t * H;
            if (e->embed_gguf) { /* any GGUF type: decode the row (id checked by the caller) */
                mnemo__gguf_row_f32(e->embed_gguf, id, x);
                for (size_t d = 0; d < H; d++) x[d] *= e->embed_scale;
            } else if (e->embed.dtype == MNEMO_DTYPE_BF16) {
                const uint16_t *row = (const uint16_t *)e->embed.data + id * H;
                for (size_t d = 0; d < H; d++) x[d] = mnemo__bf16_to_f32(row[d]) * e->embed_scale;
            } else {
                const float *row = (const float *)e->embed.data + id * H;
                for (size_t d = 0; d < H; d++) x[d] = row[d] * e->embed_scale;
            }
        }
}

/* One layer, from c->xn = input_norm(x) (made by the layer before, or by the
 * caller for layer 0, quantized for q|k|v when they are 8-bit) to x += its
 * output and c->xn = the next norm of x (the next layer's input norm, or
 * after the last layer the final norm). */
static void layer_forward(mnemo_engine_ctx *c, int l) {
    const mnemo_engine *e = c->e;
    const gemma_layer *L = &e->layers[l];
    size_t T = c->n_tokens;
    token_op op;
    size_t H = (size_t)c->e->cfg.hidden, Q = L->o.cols, I = L->down.cols;
    linear(c, c->xn, H, T, &L->qkv, c->qkv, c->ld_qkv);
    op = (token_op){.kind = OP_QK_NORM_ROPE, .layer = l};
    per_token(c, &op);
    attention(c, l);
    linear(c, c->att, Q, T, &L->o, c->tmp, H);
    op = (token_op){.kind = OP_ADD_NORM,
                    .gamma = L->post_attn_norm,
                    .src = c->tmp,
                    .dst = c->x,
                    .gamma2 = L->pre_ffn_norm,
                    .dst2 = c->xn,
                    .next = &L->gate_up};
    per_token(c, &op);
    linear(c, c->xn, H, T, &L->gate_up, c->gu, 2 * I);
    op = (token_op){.kind = OP_GELU_MUL, .next = &L->down};
    per_token(c, &op);
    linear(c, c->gu, 2 * I, T, &L->down, c->tmp, H);
    bool last = l + 1 == e->cfg.n_layers;
    op = (token_op){.kind = OP_ADD_NORM,
                    .gamma = L->post_ffn_norm,
                    .src = c->tmp,
                    .dst = c->x,
                    .gamma2 = last ? e->final_norm : e->layers[l + 1].input_norm,
                    .dst2 = c->xn,
                    .next = last ? NULL : &e->layers[l + 1].qkv};
    per_token(c, &op);
}

int mnemo__engine_forward(mnemo_engine_ctx *c, const int32_t *const *ids, const size_t *lens,
                          size_t n_seqs, float *out, mnemo_error *err) {
    const mnemo_engine *e = c->e;
    const mnemo_model_config *cfg = &e->cfg;
    size_t total = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        if (lens[s] == 0 || lens[s] > (size_t)cfg->max_seq_length)
            return mnemo__fail(err, MNEMO_EINVAL, "sequence %zu has %zu tokens; 1..%d are allowed",
                               s, lens[s], cfg->max_seq_length);
        for (size_t i = 0; i < lens[s]; i++)
            if (ids[s][i] < 0 || ids[s][i] >= cfg->vocab_size)
                return mnemo__fail(err, MNEMO_ERANGE,
                                   "token id %d (sequence %zu, position %zu) has no embedding: the "
                                   "model's vocabulary has %d rows",
                                   ids[s][i], s, i, cfg->vocab_size);
        total += lens[s];
    }
    if (total > c->max_tokens)
        return mnemo__fail(err, MNEMO_EINVAL, "batch of %zu tokens exceeds the context's %zu",
                           total, c->max_tokens);
    if (n_seqs == 0) return MNEMO_OK;
    c->n_tokens = total;
    c->n_seqs = n_seqs;
    size_t t = 0;
    size_t blocks = 0;
    for (size_t s = 0; s < n_seqs; s++) blocks += (lens[s] + QUERY_BLOCK - 1) / QUERY_BLOCK;
    c->attn_heads = blocks >= 2 * (size_t)mnemo__pool_size(c->pool) ? (size_t)cfg->n_heads : 1;
    c->attn_tasks = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        c->seq_start[s] = t;
        c->seq_len[s] = lens[s];
        c->seq_task0[s] = c->attn_tasks;
        c->attn_tasks +=
            (lens[s] + QUERY_BLOCK - 1) / QUERY_BLOCK * (size_t)cfg->n_heads / c->attn_heads;
        for (size_t i = 0; i < lens[s]; i++) c->pos[t + i] = (int32_t)i;
        t += lens[s];
    }
    double t0 = mnemo__now();
    embed_tokens(c, ids);
    token_op op = {.kind = OP_NORM,
                   .gamma = cfg->n_layers ? e->layers[0].input_norm : e->final_norm,
                   .src = c->x,
                   .dst = c->xn,
                   .next = cfg->n_layers ? &e->layers[0].qkv : NULL};
    per_token(c, &op);
    for (int l = 0; l < cfg->n_layers; l++) layer_forward(c, l);

    /* mean pooling over every token of each sequence (prompt, <bos> and <eos> included) */
    size_t H = (size_t)cfg->hidden;
    for (size_t s = 0; s < n_seqs; s++) {
        float *p = c->pooled + s * H;
        for (size_t d = 0; d < H; d++) {
            double acc = 0.0;
            for (size_t i = 0; i < c->seq_len[s]; i++) acc += c->xn[(c->seq_start[s] + i) * H + d];
            p[d] = (float)(acc / (double)c->seq_len[s]);
        }
    }
    const float *cur = c->pooled;
    size_t width = H;
    for (int i = 0; i < cfg->n_dense; i++) {
        float *dst = (i % 2 == 0) ? c->dense_a : c->dense_b;
        size_t outw = (size_t)cfg->dense[i].out_features;
        linear_run(c, cur, width, n_seqs, &e->dense_w[i], dst, outw); /* not per token: not timed */
        for (size_t s = 0; s < n_seqs; s++) {
            float *row = dst + s * outw;
            if (e->dense_b[i])
                for (size_t d = 0; d < outw; d++) row[d] += e->dense_b[i][d];
            if (cfg->dense[i].activation == MNEMO_ACT_TANH)
                for (size_t d = 0; d < outw; d++) row[d] = tanhf(row[d]);
        }
        cur = dst;
        width = outw;
    }
    for (size_t s = 0; s < n_seqs; s++) {
        memcpy(out + s * width, cur + s * width, width * sizeof(float));
        if (cfg->normalize) mnemo__l2_normalize(out + s * width, width);
    }
    c->t_total += mnemo__now() - t0;
    return MNEMO_OK;
}

/*
 * transfer.c — export and import of memories as JSON lines
 * (docs/memories.md, "Export and import"): one memory per line with its
 * history and, on request, its vector and the identity of the model that
 * made it. An import reads the lines in batches, each one add of the
 * store (mnemo_memory_add with the inputs' id, times and history: one
 * transaction), so a bad line fails its batch and nothing of that batch is
 * written. Backend-neutral: what differs between SQLite and PostgreSQL is in
 * their files (the vector and namespace reads, the add's import fields).
 * Not the command line (src/cli/transfer.c).
 */
#include "store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_PAGE 1000
#define MAX_HISTORY 100000 /* events of one memory an import takes */

static const char *const line_fields[] = {"id",         "text",       "metadata",   "namespace",
                                          "user_id",    "agent_id",   "session_id", "prompt_name",
                                          "created_at", "updated_at", "expires_at", "history",
                                          "model",      "weights",    "vector",     NULL};
static const char *const event_fields[] = {"event", "reason", "at", "text", "metadata", NULL};

/* ------------------------------------------------------------ checks */

static int is_time(double t) { return isfinite(t) && t >= 0 && t <= 1e11; }

int mnemo__import_check(const mnemo_store *s, const mnemo_memory_input *in, const char *where,
                        mnemo_error *err) {
    if (in->id) {
        size_t n = strlen(in->id), hex = strspn(in->id, "0123456789abcdef");
        if (n != MNEMO_MEMORY_ID_SIZE - 1 || hex != n)
            return mnemo__fail(err, MNEMO_EINVAL,
                               "%sid: '%.40s' is not a memory id (32 lowercase hex digits)", where,
                               in->id);
    }
    if (!is_time(in->created_at) || !is_time(in->updated_at))
        return mnemo__fail(err, MNEMO_EINVAL, "%s%s: %g is not a Unix time", where,
                           is_time(in->created_at) ? "updated_at" : "created_at",
                           is_time(in->created_at) ? in->updated_at : in->created_at);
    if (in->n_history > MAX_HISTORY || (in->n_history && !in->history))
        return mnemo__fail(err, MNEMO_ETOOBIG, "%shistory: %zu events, at most %d", where,
                           in->n_history, MAX_HISTORY);
    char at[96];
    for (size_t k = 0; k < in->n_history; k++) {
        const mnemo_history_event *e = &in->history[k];
        snprintf(at, sizeof at, "%shistory[%zu].", where, k);
        if (!e->event || (strcmp(e->event, "added") && strcmp(e->event, "updated") &&
                          strcmp(e->event, "deleted")))
            return mnemo__fail(err, MNEMO_EINVAL,
                               "%sevent: '%.20s' is not added, updated or deleted", at,
                               e->event ? e->event : "");
        if (!is_time(e->at) || e->at == 0)
            return mnemo__fail(err, MNEMO_EINVAL, "%sat: %g is not a Unix time", at, e->at);
        int rc;
        if (e->text && (rc = mnemo__check_text(s, e->text, strlen(e->text), at, err))) return rc;
        if (e->reason && (rc = mnemo__check_text(s, e->reason, strlen(e->reason), at, err)))
            return mnemo__fail_prefix(err, "(reason)");
        json_t *meta = NULL;
        char *compact = NULL;
        if (e->metadata && (rc = mnemo__metadata_parse(s, e->metadata, at, &meta, &compact, err)))
            return rc;
        json_decref(meta);
        mnemo__free(compact);
    }
    return MNEMO_OK;
}

/* ---------------------------------------------------- model identity */

/* The lines name the store's recorded model by store.h's record_name and
 * record_weights (set at open); a store that records no fingerprint has
 * none to name. */
static int need_identity(const mnemo_store *s, mnemo_error *err) {
    return s->record_weights[0]
               ? MNEMO_OK
               : mnemo__fail(err, MNEMO_EFORMAT,
                             "the store records no fingerprint of its model (%zu values): export "
                             "without --vectors, or open it once with its model",
                             s->dim);
}

/* ------------------------------------------------------------ export */

/* What one export keeps between its lines. */
typedef struct exporter {
    mnemo_store *s;
    const mnemo_export_options *o;
    FILE *f;
    float *vec;
    unsigned char *bytes;
    char *b64;
    size_t n;
} exporter;

/* The line of one memory (new). */
static int export_line(exporter *x, const mnemo_memory *m, json_t **out, mnemo_error *err) {
    mnemo_store *s = x->s;
    float *vec = x->vec;
    unsigned char *bytes = x->bytes;
    json_t *line = mnemo__memory_json(m, 0);
    mnemo_history *h = NULL;
    int rc = mnemo_memory_history(s, m->id, &h, err);
    if (rc == MNEMO_ENOENT) rc = MNEMO_OK; /* (no events: a store of another tool's making) */
    if (!rc) json_object_set_new(line, "history", h ? mnemo__history_json(h) : json_array());
    mnemo_history_free(h);
    if (!rc && x->o->vectors) {
        rc = s->db->ops->vector(s, m->id, vec, err);
        if (!rc) {
            mnemo__f32_to_le(vec, s->dim, bytes);
            mnemo__base64_encode(bytes, s->dim * 4, x->b64);
            json_object_set_new(line, "model", json_string(s->record_name));
            json_object_set_new(line, "weights", json_string(s->record_weights));
            json_object_set_new(line, "vector", json_string(x->b64));
        }
    }
    if (rc) {
        json_decref(line);
        return rc;
    }
    *out = line;
    return MNEMO_OK;
}

/* The lines of one namespace, in list order. */
static int export_ns(exporter *x, const char *ns, mnemo_error *err) {
    mnemo_list_options lo = mnemo_list_default_options();
    lo.scope = x->o->scope;
    lo.scope.ns = ns;
    lo.filter = x->o->filter;
    lo.limit = LIST_PAGE;
    char *cursor = NULL;
    int rc = MNEMO_OK;
    while (!rc) {
        mnemo_memories *page;
        lo.cursor = cursor;
        if ((rc = mnemo_memory_list(x->s, &lo, &page, err))) break;
        for (size_t i = 0; i < page->n && !rc; i++) {
            json_t *line = NULL;
            if ((rc = export_line(x, &page->items[i], &line, err))) break;
            if (json_dumpf(line, x->f, JSON_COMPACT) || fputc('\n', x->f) == EOF)
                rc = mnemo__fail(err, MNEMO_EIO, "writing the export failed (disk full?)");
            json_decref(line);
            if (!rc) x->n++;
        }
        mnemo__free(cursor);
        cursor = NULL;
        if (!rc && page->next_cursor &&
            !(cursor = mnemo__strndup(page->next_cursor, strlen(page->next_cursor))))
            rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        mnemo_memories_free(page);
        if (!cursor) break;
    }
    mnemo__free(cursor);
    return rc;
}

int mnemo__store_export(mnemo_store *s, const mnemo_export_options *o, FILE *f, size_t *n,
                        mnemo_error *err) {
    *n = 0;
    exporter x = {.s = s, .o = o, .f = f};
    x.vec = mnemo__malloc_array(s->dim, sizeof(float));
    x.bytes = mnemo__malloc_array(s->dim, 4);
    x.b64 = mnemo__malloc_array((s->dim * 4 + 2) / 3, 4 + 1); /* 4 per 3 bytes, and the NUL */
    int rc = x.vec && x.bytes && x.b64 ? MNEMO_OK : mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    if (!rc && o->vectors) rc = need_identity(s, err);
    /* no namespace given: every one, in byte order */
    char **names = NULL;
    size_t n_names = 0;
    if (!rc && o->scope.ns)
        rc = export_ns(&x, o->scope.ns, err);
    else if (!rc)
        rc = s->db->ops->namespaces(s, &names, &n_names, err);
    for (size_t i = 0; i < n_names; i++) {
        if (!rc) rc = export_ns(&x, names[i], err);
        mnemo__free(names[i]);
    }
    mnemo__free(names);
    if (!rc && fflush(f))
        rc = mnemo__fail(err, MNEMO_EIO, "writing the export failed (disk full?)");
    *n = x.n;
    mnemo__free(x.vec);
    mnemo__free(x.bytes);
    mnemo__free(x.b64);
    return rc;
}

/* ------------------------------------------------------------ import */

/* One line read: its input for the add, and what it holds alive. */
typedef struct parsed {
    long line_no;
    json_t *root;     /* the strings the input points into */
    char *meta;       /* the metadata's compact text (free()) */
    char **hist_meta; /* each event's (free()) */
    mnemo_history_event *history;
    float *vec; /* the line's vector when it is used */
    mnemo_memory_input in;
    int expired, re_embed;
} parsed;

static void parsed_free(parsed *p) {
    for (size_t k = 0; p->hist_meta && k < p->in.n_history; k++) free(p->hist_meta[k]);
    mnemo__free(p->hist_meta);
    mnemo__free(p->history);
    mnemo__free(p->vec);
    free(p->meta);
    json_decref(p->root);
    memset(p, 0, sizeof *p);
}

/* Reads one line (without its newline) into *buf, at most max bytes; a
 * longer one is read to its end and *too_long set. Returns 0 at the end of
 * the file, -1 out of memory. */
static int read_line(FILE *f, char **buf, size_t *cap, size_t *len, size_t max, int *too_long) {
    int c;
    *len = 0;
    *too_long = 0;
    int any = 0;
    while ((c = getc(f)) != EOF) {
        any = 1;
        if (c == '\n') break;
        if (*len >= max) {
            *too_long = 1;
            continue;
        }
        if (*len + 1 >= *cap) {
            size_t nc = *cap ? *cap * 2 : 4096;
            char *nb = mnemo__realloc(*buf, nc);
            if (!nb) return -1;
            *buf = nb;
            *cap = nc;
        }
        (*buf)[(*len)++] = (char)c;
    }
    if (*buf) (*buf)[*len] = 0;
    return any;
}

/* Field key of o when it is of type want (JSON_STRING, or JSON_REAL for any
 * number), else NULL; absent or JSON null is fine (*ok stays 1), another
 * type is not (*ok 0, the message in why). */
static json_t *opt_field(json_t *o, const char *key, json_type want, int *ok, char *why,
                         size_t cap) {
    json_t *v = json_object_get(o, key);
    *ok = 1;
    if (!v || json_is_null(v)) return NULL;
    if (want == JSON_STRING ? json_is_string(v) : json_is_number(v)) return v;
    snprintf(why, cap, "%s: must be %s or null", key,
             want == JSON_STRING ? "a string" : "a number (Unix seconds)");
    *ok = 0;
    return NULL;
}

static int opt_string(json_t *o, const char *key, const char **out, char *why, size_t cap) {
    int ok;
    json_t *v = opt_field(o, key, JSON_STRING, &ok, why, cap);
    *out = v ? json_string_value(v) : NULL;
    return ok;
}

static int opt_number(json_t *o, const char *key, double *out, char *why, size_t cap) {
    int ok;
    json_t *v = opt_field(o, key, JSON_REAL, &ok, why, cap);
    *out = v ? json_number_value(v) : 0;
    return ok;
}

static int only_fields(json_t *o, const char *const *fields, const char *where, char *why,
                       size_t cap) {
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        int known = 0;
        for (size_t i = 0; fields[i] && !known; i++) known = !strcmp(fields[i], key);
        if (!known) {
            snprintf(why, cap,
                     "%sunknown field '%.40s' (remove it; the fields are those of "
                     "`mnemo memory export`)",
                     where, key);
            return 0;
        }
    }
    return 1;
}

static int parse_history(parsed *p, json_t *h, char *why, size_t cap) {
    if (!h || json_is_null(h)) return 1;
    if (!json_is_array(h)) {
        snprintf(why, cap, "history: must be an array of events");
        return 0;
    }
    size_t n = json_array_size(h);
    if (n > MAX_HISTORY) {
        snprintf(why, cap, "history: %zu events, at most %d", n, MAX_HISTORY);
        return 0;
    }
    if (!n) return 1;
    p->history = mnemo__calloc(n, sizeof *p->history);
    p->hist_meta = mnemo__calloc(n, sizeof *p->hist_meta);
    if (!p->history || !p->hist_meta) {
        snprintf(why, cap, "out of memory");
        return 0;
    }
    p->in.n_history = n;
    for (size_t k = 0; k < n; k++) {
        json_t *e = json_array_get(h, k);
        char where[48];
        snprintf(where, sizeof where, "history[%zu].", k);
        if (!json_is_object(e)) {
            snprintf(why, cap, "%s: must be an object {event, reason, at, text, metadata}", where);
            return 0;
        }
        if (!only_fields(e, event_fields, where, why, cap)) return 0;
        const char *ev, *reason, *text;
        double at;
        char sub[200];
        if (!opt_string(e, "event", &ev, sub, sizeof sub) ||
            !opt_string(e, "reason", &reason, sub, sizeof sub) ||
            !opt_string(e, "text", &text, sub, sizeof sub) ||
            !opt_number(e, "at", &at, sub, sizeof sub)) {
            snprintf(why, cap, "%s%s", where, sub);
            return 0;
        }
        json_t *m = json_object_get(e, "metadata");
        if (m && !json_is_null(m) && !json_is_object(m)) {
            snprintf(why, cap, "%smetadata: must be an object or null", where);
            return 0;
        }
        if (m && json_is_object(m) &&
            !(p->hist_meta[k] = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS))) {
            snprintf(why, cap, "out of memory");
            return 0;
        }
        /* the strings stay p->root's; the add only reads them */
        p->history[k] = (mnemo_history_event){.event = (char *)ev,
                                              .reason = (char *)reason,
                                              .at = at,
                                              .text = (char *)text,
                                              .metadata = p->hist_meta[k]};
    }
    p->in.history = p->history;
    return 1;
}

/* The line's vector, if it may be used here: its model and weights those
 * of the store (else p->re_embed). Its base64 is checked either way. */
static int parse_vector(mnemo_store *s, parsed *p, char *why, size_t cap) {
    const char *b64, *model, *weights;
    if (!opt_string(p->root, "vector", &b64, why, cap) ||
        !opt_string(p->root, "model", &model, why, cap) ||
        !opt_string(p->root, "weights", &weights, why, cap))
        return 0;
    p->re_embed = 1;
    if (!b64) return 1;
    size_t n = strlen(b64), len, bad;
    int same =
        model && weights && !strcmp(model, s->record_name) && !strcmp(weights, s->record_weights);
    if (n / 4 * 3 > s->dim * 4 + 3 && same) {
        snprintf(why, cap,
                 "vector: %zu base64 characters, more than the %zu values of the store's width", n,
                 s->dim);
        return 0;
    }
    unsigned char *bytes = mnemo__malloc(n / 4 * 3 + 1);
    if (!bytes) {
        snprintf(why, cap, "out of memory");
        return 0;
    }
    if (!mnemo__base64_decode(b64, n, bytes, n / 4 * 3 + 1, &len, &bad)) {
        mnemo__free(bytes);
        if (bad == n)
            snprintf(why, cap, "vector: %zu characters is not padded base64 (a multiple of 4)", n);
        else
            snprintf(why, cap, "vector: not base64 at character %zu ('%c')", bad, b64[bad]);
        return 0;
    }
    if (same && len != s->dim * 4) {
        mnemo__free(bytes);
        snprintf(why, cap,
                 "vector: %zu bytes, the store's width is %zu values (%zu bytes of f32): a vector "
                 "of its model has exactly that many",
                 len, s->dim, s->dim * 4);
        return 0;
    }
    if (same) {
        p->vec = mnemo__malloc_array(s->dim, sizeof(float));
        if (!p->vec) {
            mnemo__free(bytes);
            snprintf(why, cap, "out of memory");
            return 0;
        }
        mnemo__f32_from_le(bytes, s->dim, p->vec);
        p->in.vector = p->vec;
        p->in.vector_dim = s->dim;
        p->re_embed = 0;
    }
    mnemo__free(bytes);
    return 1;
}

/* One line into p (line_no set by the caller); 0 with the message in why. */
static int parse_line(mnemo_store *s, const char *text, size_t len, double now, parsed *p,
                      char *why, size_t cap) {
    json_error_t je;
    p->root = json_loadb(text, len, 0, &je);
    if (!p->root) {
        snprintf(why, cap,
                 "not valid JSON (column %d: %s); each line is one JSON object as `mnemo memory "
                 "export` writes it",
                 je.column, je.text);
        return 0;
    }
    json_t *o = p->root;
    if (!json_is_object(o)) {
        snprintf(why, cap,
                 "not a JSON object; each line is one memory as `mnemo memory export` "
                 "writes it");
        return 0;
    }
    if (!only_fields(o, line_fields, "", why, cap)) return 0;
    json_t *t = json_object_get(o, "text"), *m = json_object_get(o, "metadata");
    const char *ident_id;
    if (!opt_string(o, "id", &ident_id, why, cap)) return 0;
    if (!ident_id) {
        snprintf(why, cap, "id: missing (each memory keeps its id: give the one it had)");
        return 0;
    }
    if (!json_is_string(t)) {
        snprintf(why, cap, "text: missing or not a string");
        return 0;
    }
    if (m && !json_is_null(m) && !json_is_object(m)) {
        snprintf(why, cap, "metadata: must be an object");
        return 0;
    }
    mnemo_memory_input *in = &p->in;
    in->id = ident_id;
    in->text = json_string_value(t);
    in->text_len = json_string_length(t);
    if (m && json_is_object(m) && !(p->meta = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS))) {
        snprintf(why, cap, "out of memory");
        return 0;
    }
    in->metadata = p->meta;
    if (!opt_string(o, "namespace", &in->scope.ns, why, cap) ||
        !opt_string(o, "user_id", &in->scope.user_id, why, cap) ||
        !opt_string(o, "agent_id", &in->scope.agent_id, why, cap) ||
        !opt_string(o, "session_id", &in->scope.session_id, why, cap) ||
        !opt_string(o, "prompt_name", &in->prompt_name, why, cap) ||
        !opt_number(o, "created_at", &in->created_at, why, cap) ||
        !opt_number(o, "updated_at", &in->updated_at, why, cap) ||
        !opt_number(o, "expires_at", &in->expires_at, why, cap))
        return 0;
    /* the default by its name: the same memory, and no model needed to check it */
    if (in->prompt_name && !strcmp(in->prompt_name, "document")) in->prompt_name = NULL;
    if (in->text_len != strlen(in->text)) {
        snprintf(why, cap, "text: holds a NUL character (\\u0000), which a memory cannot");
        return 0;
    }
    if (!parse_history(p, json_object_get(o, "history"), why, cap) || !parse_vector(s, p, why, cap))
        return 0;
    p->expired = in->expires_at > 0 && in->expires_at <= now;
    if (p->re_embed && !s->model && !p->expired) {
        snprintf(why, cap,
                 "its vector cannot be used here (%s; the store's model is '%s', weights %s) and "
                 "the store was opened without a model to embed its text: pass --model DIR",
                 json_object_get(o, "vector") ? "another model's" : "none given", s->record_name,
                 s->record_weights);
        return 0;
    }
    /* every check of the add, now, so a message can name the line */
    json_t *meta = NULL;
    char *compact = NULL;
    float *vec = mnemo__malloc_array(s->dim, sizeof(float));
    double exp;
    mnemo_error err;
    int rc = vec ? mnemo__input_check(s, in, "", now, &exp, &meta, &compact, vec, &err)
                 : mnemo__fail(&err, MNEMO_ENOMEM, "out of memory");
    json_decref(meta);
    mnemo__free(compact);
    mnemo__free(vec);
    if (rc) {
        snprintf(why, cap, "%s", err.message);
        return 0;
    }
    return 1;
}

/* Adds the batch's live inputs in one transaction and counts them. A line's
 * fault fails the batch (reported, *failed set); a store's (EIO, ENOMEM) is
 * returned. */
static int add_batch(mnemo_store *s, parsed *b, size_t n, mnemo_import_report *rep,
                     const mnemo_import_options *o, mnemo_error *err) {
    mnemo_memory_input *in = mnemo__calloc(n ? n : 1, sizeof *in);
    size_t *at = mnemo__calloc(n ? n : 1, sizeof *at);
    mnemo_memory_added *out = mnemo__calloc(n ? n : 1, sizeof *out);
    int rc = in && at && out ? MNEMO_OK : mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (b[i].expired) continue;
        at[m] = i;
        in[m++] = b[i].in;
    }
    mnemo_error e;
    int st = rc || !m ? MNEMO_OK : mnemo_memory_add(s, in, m, out, &e);
    if (!rc && (st == MNEMO_EIO || st == MNEMO_ENOMEM)) {
        rc = mnemo__fail(err, st, "%s", e.message);
    } else if (!rc && st) {
        /* the add names the input as memories[i] */
        size_t k = 0;
        const char *msg = e.message;
        if (m > 1 && sscanf(msg, "memories[%zu].", &k) == 1 && k < m) msg = strchr(msg, '.') + 1;
        if (o->report) o->report(o->ctx, b[at[k < m ? k : 0]].line_no, msg);
        rep->failed += n;
        rep->failed_batches++;
    } else if (!rc) {
        for (size_t i = 0; i < n; i++) rep->expired += b[i].expired;
        for (size_t j = 0; j < m; j++) {
            if (out[j].event == MNEMO_MEMORY_DUPLICATE) {
                rep->exists++;
            } else {
                rep->imported++;
                rep->re_embedded += b[at[j]].re_embed;
            }
        }
    }
    mnemo__free(in);
    mnemo__free(at);
    mnemo__free(out);
    return rc;
}

int mnemo__store_import(mnemo_store *s, FILE *f, const mnemo_import_options *o,
                        mnemo_import_report *rep, mnemo_error *err) {
    memset(rep, 0, sizeof *rep);
    size_t batch = o->batch ? o->batch : MNEMO_IMPORT_BATCH;
    if (batch > MNEMO_IMPORT_MAX_BATCH)
        return mnemo__fail(err, MNEMO_EINVAL, "batch: %zu lines, want 1..%d", batch,
                           MNEMO_IMPORT_MAX_BATCH);
    int rc = need_identity(s, err);
    parsed *b = rc ? NULL : mnemo__calloc(batch, sizeof *b);
    if (!rc && !b) rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    char *buf = NULL, why[600];
    size_t cap = 0, len;
    long line_no = 0;
    int eof = 0;
    while (!rc && !eof) {
        size_t n = 0, bad = 0;
        double now = mnemo__store_now(s);
        while (n < batch) {
            int too_long, got = read_line(f, &buf, &cap, &len, MNEMO_IMPORT_MAX_LINE, &too_long);
            if (got < 0) rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
            if (got <= 0) {
                eof = 1;
                break;
            }
            line_no++;
            rep->lines++;
            if (!too_long && (!len || strspn(buf, " \t\r") == len)) continue; /* blank */
            parsed *p = &b[n++];
            p->line_no = line_no;
            int ok = 1;
            if (too_long) {
                snprintf(why, sizeof why,
                         "longer than %zu bytes, the longest line an import reads (is it a line "
                         "of `mnemo memory export`?)",
                         (size_t)MNEMO_IMPORT_MAX_LINE);
                ok = 0;
            } else {
                ok = parse_line(s, buf, len, now, p, why, sizeof why);
            }
            if (!ok) {
                bad++;
                if (o->report) o->report(o->ctx, line_no, why);
            }
        }
        if (!rc && bad) {
            rep->failed += n;
            rep->failed_batches++;
        } else if (!rc && n) {
            rc = add_batch(s, b, n, rep, o, err);
        }
        for (size_t i = 0; i < n; i++) parsed_free(&b[i]);
        if (ferror(f) && !rc) rc = mnemo__fail(err, MNEMO_EIO, "reading the import failed");
    }
    mnemo__free(buf);
    mnemo__free(b);
    return rc;
}

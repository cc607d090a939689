/*
 * routes_ollama.c — Ollama's routes beside `POST /api/embed` (routes_openai.c):
 * the older `POST /api/embeddings` ({model, prompt} -> {embedding}), and what
 * Ollama's clients ask a server about its models: `GET /api/tags` and
 * `GET /api/ps` (the one model served), `POST /api/show` (its details) and
 * `GET /api/version`. The shapes are those the `ollama` Python client's
 * models parse (docs/http.md, "Ollama routes"); errors are Ollama's {"error"}.
 * Not here: pulling, creating or deleting models (mnemo serves the one it
 * was started with), and generation.
 */
#include "../model/gguf.h"
#include "../model/safetensors.h"
#include "server.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ------------------------------------------------ what the model is */

/* Ollama's details.family and the model_info key prefix: the architecture
 * Ollama's converter writes for EmbeddingGemma ("gemma-embedding", as
 * llama.cpp's; docs/http.md, "Ollama routes"). mnemo runs that one architecture. */
#define FAMILY "gemma-embedding"

/* Facts about the weights, read once (the files do not change under a
 * running server): parameters from the tensor tables, bytes and time from
 * the files. */
typedef struct model_facts {
    size_t params;      /* elements of every weight tensor */
    long long bytes;    /* the weight files' sizes */
    time_t modified;    /* the newest weight file's modification time */
    const char *format; /* "safetensors" (a folder) or "gguf" */
    char digest[65];    /* 64 hex digits naming the weights as served */
} model_facts;

static pthread_mutex_t facts_lock = PTHREAD_MUTEX_INITIALIZER;
static model_facts facts;
static bool facts_read;

/* Adds one weight file: its tensors' elements, size and time, and its name,
 * size and time to the text the digest hashes. */
static void add_file(model_facts *f, const char *path, bool gguf, char *id, size_t cap) {
    struct stat sb;
    if (stat(path, &sb) || !S_ISREG(sb.st_mode)) return;
    mnemo_error err;
    if (gguf) {
        mnemo_gguf *g;
        if (mnemo__gguf_open(path, &g, &err)) return;
        for (size_t i = 0; i < mnemo__gguf_tensor_count(g); i++)
            f->params += mnemo__gguf_tensor_at(g, i)->n_elements;
        mnemo__gguf_close(g);
    } else {
        mnemo_safetensors *st;
        if (mnemo__safetensors_open(path, &st, &err)) return;
        for (size_t i = 0; i < mnemo__safetensors_count(st); i++)
            f->params += mnemo__safetensors_at(st, i)->n_elements;
        mnemo__safetensors_close(st);
    }
    f->bytes += (long long)sb.st_size;
    if (sb.st_mtime > f->modified) f->modified = sb.st_mtime;
    size_t k = strlen(id);
    const char *base = strrchr(path, '/');
    snprintf(id + k, cap - k, "|%s:%lld:%lld", base ? base + 1 : path, (long long)sb.st_size,
             (long long)sb.st_mtime);
}

static bool ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && !strcmp(s + n - k, tail);
}

/* The weights of a sentence-transformers folder: its *.safetensors and each
 * module folder's model.safetensors (2_Dense, 3_Dense); or one GGUF file. */
static void read_facts(const mnemo_request *r, model_facts *f) {
    const char *path = r->cfg->model_path;
    const mnemo_model *m = mnemo__service_model(r->svc);
    char id[2048];
    snprintf(id, sizeof id, "%s|%s", r->cfg->model_name, mnemo_model_precision(m));
    f->format = "safetensors";
    if (path && !mnemo__is_dir(path)) {
        f->format = "gguf";
        add_file(f, path, true, id, sizeof id);
    } else if (path) {
        DIR *d = opendir(path);
        struct dirent *e;
        char file[4096 + 512];
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            if (ends_with(e->d_name, ".safetensors"))
                snprintf(file, sizeof file, "%s/%s", path, e->d_name);
            else
                snprintf(file, sizeof file, "%s/%s/model.safetensors", path, e->d_name);
            add_file(f, file, false, id, sizeof id);
        }
        if (d) closedir(d);
    }
    /* Ollama's digest is a sha256 of its manifest; mnemo has no manifest, so
     * 64 hex digits of a hash of the weight files' names, sizes and times
     * and the precision: the same while the served weights are. */
    for (int i = 0; i < 4; i++)
        snprintf(
            f->digest + 16 * i, 17, "%016llx",
            (unsigned long long)mnemo__hash64(id, strlen(id), 0x6f6c6c616d61ULL + (uint64_t)i));
}

static const model_facts *model_facts_get(const mnemo_request *r) {
    pthread_mutex_lock(&facts_lock);
    if (!facts_read) {
        read_facts(r, &facts);
        facts_read = true;
    }
    pthread_mutex_unlock(&facts_lock);
    return &facts;
}

/* Ollama's quantization_level names (ggml's file types) for the precision
 * the weights run at: int8 is mnemo's per-row int8 and q4 its 4-bit blocks,
 * closest to ggml's Q8_0 and Q4_0; "mixed" (bf16 and f32 layers) has no
 * ggml name. */
static const char *quantization_level(const char *precision) {
    static const char *const map[][2] = {
        {"f32", "F32"}, {"bf16", "BF16"}, {"int8", "Q8_0"}, {"q4", "Q4_0"}, {"mixed", "MIXED"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(precision, map[i][0])) return map[i][1];
    return precision;
}

/* Ollama's format.HumanNumber: 307581696 -> "307.58M", 4300000000 -> "4.3B". */
static void human_number(size_t n, char *buf, size_t cap) {
    double v = (double)n;
    if (n >= 1000000000) {
        v /= 1e9;
        snprintf(buf, cap, v == (double)(long long)v ? "%.0fB" : "%.1fB", v);
    } else if (n >= 1000000) {
        v /= 1e6;
        snprintf(buf, cap, v == (double)(long long)v ? "%.0fM" : "%.2fM", v);
    } else if (n >= 1000) {
        snprintf(buf, cap, "%.0fK", v / 1e3);
    } else {
        snprintf(buf, cap, "%zu", n);
    }
}

static void write_str(mnemo_jsonw *w, const char *s) { mnemo__jsonw_string(w, s, strlen(s)); }

/* The served name as Ollama lists it: with a tag (":latest" unless it has
 * one), which /api/embed and the rest accept back. */
static void write_tagged_name(mnemo_jsonw *w, const char *name) {
    char tagged[300];
    snprintf(tagged, sizeof tagged, "%s%s", name, strchr(name, ':') ? "" : ":latest");
    write_str(w, tagged);
}

static void write_time(mnemo_jsonw *w, time_t t) {
    struct tm tm;
    char buf[40];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    write_str(w, buf);
}

/* {"parent_model","format","family","families","parameter_size","quantization_level"} */
static void write_details(mnemo_jsonw *w, const mnemo_request *r, const model_facts *f) {
    char size[32];
    human_number(f->params, size, sizeof size);
    MNEMO_JSONW_LIT(w, "{\"parent_model\":\"\",\"format\":");
    write_str(w, f->format);
    MNEMO_JSONW_LIT(w,
                    ",\"family\":\"" FAMILY "\",\"families\":[\"" FAMILY "\"],\"parameter_size\":");
    write_str(w, size);
    MNEMO_JSONW_LIT(w, ",\"quantization_level\":");
    write_str(w, quantization_level(mnemo_model_precision(mnemo__service_model(r->svc))));
    mnemo__jsonw_char(w, '}');
}

/* name, model, digest, size and details: what /api/tags and /api/ps share */
static void write_model_entry(mnemo_jsonw *w, const mnemo_request *r, const model_facts *f) {
    MNEMO_JSONW_LIT(w, "{\"name\":");
    write_tagged_name(w, r->cfg->model_name);
    MNEMO_JSONW_LIT(w, ",\"model\":");
    write_tagged_name(w, r->cfg->model_name);
    MNEMO_JSONW_LIT(w, ",\"digest\":");
    write_str(w, f->digest);
    MNEMO_JSONW_LIT(w, ",\"size\":");
    mnemo__jsonw_int(w, f->bytes);
    MNEMO_JSONW_LIT(w, ",\"details\":");
    write_details(w, r, f);
}

/* ------------------------------------------------------------ routes */

void mnemo__route_ollama_tags(mnemo_request *r) {
    const model_facts *f = model_facts_get(r);
    mnemo_jsonw *w = &r->out;
    MNEMO_JSONW_LIT(w, "{\"models\":[");
    write_model_entry(w, r, f);
    MNEMO_JSONW_LIT(w, ",\"modified_at\":");
    write_time(w, f->modified);
    MNEMO_JSONW_LIT(w, "}]}");
    r->status = 200;
}

void mnemo__route_ollama_ps(mnemo_request *r) {
    const model_facts *f = model_facts_get(r);
    const mnemo_model *m = mnemo__service_model(r->svc);
    mnemo_jsonw *w = &r->out;
    MNEMO_JSONW_LIT(w, "{\"models\":[");
    write_model_entry(w, r, f);
    /* loaded until the server stops (no keep_alive expiry), on the CPU */
    MNEMO_JSONW_LIT(w, ",\"expires_at\":null,\"size_vram\":0,\"context_length\":");
    mnemo__jsonw_int(w, (long long)mnemo_model_max_tokens(m));
    MNEMO_JSONW_LIT(w, "}]}");
    r->status = 200;
}

void mnemo__route_ollama_version(mnemo_request *r) {
    MNEMO_JSONW_LIT(&r->out, "{\"version\":\"" MNEMO_VERSION_STRING "\"}");
    r->status = 200;
}

void mnemo__route_ollama_show(mnemo_request *r) {
    json_t *root = mnemo__request_json(r);
    if (!root) return;
    /* Ollama's clients send "model"; older ones "name" */
    const char *param = json_object_get(root, "model") ? "model" : "name";
    json_t *model = json_object_get(root, param);
    if (!model || json_is_null(model)) {
        mnemo__reply_error(r, 400, "invalid_request_error", param, "missing_model",
                           "'model' is required: the served model's name, '%s'",
                           r->cfg->model_name);
        goto out;
    }
    if (mnemo__embed_check_model(r, model, param)) goto out;
    const model_facts *f = model_facts_get(r);
    const mnemo_model *m = mnemo__service_model(r->svc);
    mnemo_jsonw *w = &r->out;
    MNEMO_JSONW_LIT(w, "{\"license\":\"\",\"modelfile\":");
    char modelfile[400];
    snprintf(modelfile, sizeof modelfile, "# the model mnemo serves\nFROM %s\n",
             r->cfg->model_name);
    write_str(w, modelfile);
    MNEMO_JSONW_LIT(w, ",\"parameters\":\"\",\"template\":\"\",\"details\":");
    write_details(w, r, f);
    MNEMO_JSONW_LIT(w, ",\"model_info\":{\"general.architecture\":\"" FAMILY
                       "\",\"general.basename\":");
    write_str(w, r->cfg->model_name);
    MNEMO_JSONW_LIT(w, ",\"general.parameter_count\":");
    mnemo__jsonw_int(w, (long long)f->params);
    MNEMO_JSONW_LIT(w, ",\"" FAMILY ".context_length\":");
    mnemo__jsonw_int(w, (long long)mnemo_model_max_tokens(m));
    MNEMO_JSONW_LIT(w, ",\"" FAMILY ".embedding_length\":");
    mnemo__jsonw_int(w, (long long)mnemo_model_dim(m));
    /* llama.cpp's pooling type 1: mean, as the model's 1_Pooling */
    MNEMO_JSONW_LIT(w, ",\"" FAMILY
                       ".pooling_type\":1},\"capabilities\":[\"embedding\"],\"modified_at\":");
    write_time(w, f->modified);
    mnemo__jsonw_char(w, '}');
    r->status = 200;
out:
    json_decref(root);
}

/* `options` and `keep_alive` are Ollama's (runtime options, how long to keep
 * the model loaded): accepted when of Ollama's types, and ignored. */
static int check_ignored(mnemo_request *r, json_t *root) {
    json_t *options = json_object_get(root, "options"), *keep = json_object_get(root, "keep_alive");
    if (options && !json_is_null(options) && !json_is_object(options)) {
        mnemo__reply_error(
            r, 400, "invalid_request_error", "options", "invalid_type",
            "'options' must be an object (Ollama's runtime options; mnemo ignores them)");
        return -1;
    }
    if (keep && !json_is_null(keep) && !json_is_string(keep) && !json_is_number(keep)) {
        mnemo__reply_error(r, 400, "invalid_request_error", "keep_alive", "invalid_type",
                           "'keep_alive' must be a duration string or a number of seconds (mnemo "
                           "keeps the model loaded while it runs)");
        return -1;
    }
    return 0;
}

void mnemo__route_ollama_embeddings(mnemo_request *r) {
    json_t *root = mnemo__request_json(r);
    if (!root) return;
    mnemo_embed_call c;
    mnemo__embed_call_init(r, &c);
    json_t *prompt = json_object_get(root, "prompt");
    if (!json_is_string(prompt)) {
        bool missing = !prompt || json_is_null(prompt);
        mnemo__reply_error(r, 400, "invalid_request_error", "prompt",
                           missing ? "missing_input" : "invalid_input",
                           "'prompt' %s: the one text to embed (POST /api/embed takes several, "
                           "as 'input')",
                           missing ? "is required" : "must be a string");
        goto out;
    }
    if (json_string_length(prompt) == 0) {
        mnemo__reply_error(r, 400, "invalid_request_error", "prompt", "empty_input",
                           "'prompt' is an empty string: send the text to embed");
        goto out;
    }
    /* the same model check, task prompt, dimensions and truncation as
     * /api/embed; the text is `prompt` */
    if (mnemo__embed_check_model(r, json_object_get(root, "model"), "model") ||
        check_ignored(r, root) ||
        mnemo__embed_parse_dim(r, json_object_get(root, "dimensions"), "dimensions", &c) ||
        mnemo__embed_parse_prompt(r, json_object_get(root, "task"), "task", NULL, "task", &c) ||
        mnemo__embed_parse_bool(r, json_object_get(root, "truncate"), "truncate", &c.truncate) ||
        mnemo__embed_parse_input(r, prompt, "prompt", false, &c) || mnemo__embed_run(r, &c))
        goto out;
    mnemo_jsonw *w = &r->out;
    MNEMO_JSONW_LIT(w, "{\"embedding\":");
    mnemo__embed_write_vector(w, &c, 0);
    mnemo__jsonw_char(w, '}');
    r->status = 200;
out:
    mnemo__embed_call_free(&c);
    json_decref(root);
}

/*
 * settings.h — the one table of settings (one row per setting, after
 * redis' config.c). Each row: field, flag name, environment variable, type, default,
 * value name for help, help line, and the commands that take it. Flags, the
 * environment and `mnemo help CMD` are all generated from this table, so a
 * new option is one new row. Precedence: default < environment < flag.
 */
#ifndef MNEMO_SETTINGS_H
#define MNEMO_SETTINGS_H

#include "../core/core.h"

#include <stdio.h>

/* Commands, as bits, for the "applies to" column. */
enum {
    MNEMO_CMD_TOKENIZE = 1u << 0,
    MNEMO_CMD_EMBED = 1u << 1,
    MNEMO_CMD_SERVE = 1u << 2,
    MNEMO_CMD_BENCH = 1u << 3,
    MNEMO_CMD_MEMORY = 1u << 4,
    MNEMO_CMD_MCP = 1u << 5,
    MNEMO_CMD_MIGRATE = 1u << 6,
    MNEMO_CMD_ALL = 0xFFFFu
};

typedef enum { MNEMO_SETTING_STRING, MNEMO_SETTING_BOOL, MNEMO_SETTING_INT } mnemo_setting_type;

/* (one row per setting, aligned by hand: not reflowed) */
/* clang-format off */
/* X(field, flag, env, type, default, metavar, help, commands) */
#define MNEMO_SETTINGS_MAP(X)                                                                  \
    X(model, "model", "MNEMO_MODEL", STRING, NULL, "DIR",                                      \
      "model folder (sentence-transformers layout) or a .gguf file of EmbeddingGemma",         \
      MNEMO_CMD_TOKENIZE | MNEMO_CMD_EMBED | MNEMO_CMD_SERVE | MNEMO_CMD_BENCH | MNEMO_CMD_MEMORY | MNEMO_CMD_MCP)                \
    X(tokenizer, "tokenizer", "MNEMO_TOKENIZER", STRING, NULL, "PATH",                         \
      "tokenizer.json, or a folder holding one (default: the --model folder's, or beside a .gguf)", \
      MNEMO_CMD_TOKENIZE | MNEMO_CMD_EMBED | MNEMO_CMD_SERVE | MNEMO_CMD_BENCH)                \
    X(no_special, "no-special", NULL, BOOL, "0", NULL,                                         \
      "do not add the post-processor's special tokens (<bos> ... <eos>)", MNEMO_CMD_TOKENIZE)  \
    X(decode, "decode", NULL, BOOL, "0", NULL,                                                 \
      "read JSON arrays of ids and write the decoded JSON strings", MNEMO_CMD_TOKENIZE)        \
    X(keep_special, "keep-special", NULL, BOOL, "0", NULL,                                     \
      "with --decode: keep special tokens in the text (default: skip them, as HF does)",       \
      MNEMO_CMD_TOKENIZE)                                                                      \
    X(pieces, "pieces", NULL, BOOL, "0", NULL,                                                 \
      "write the token strings (JSON array of strings) instead of ids", MNEMO_CMD_TOKENIZE)    \
    X(prompt, "prompt", "MNEMO_PROMPT", STRING, NULL, "NAME",                                  \
      "task prompt by name from the model (query, document, STS, ...; default: none)",         \
      MNEMO_CMD_EMBED)                                                                         \
    X(prompt_text, "prompt-text", NULL, STRING, NULL, "TEXT",                                  \
      "custom prompt text prepended to every input (wins over --prompt)", MNEMO_CMD_EMBED)     \
    X(dim, "dim", "MNEMO_DIM", INT, "0", "N",                                                  \
      "output dimension 1..768 (Matryoshka prefix, renormalized; 0 = full)", MNEMO_CMD_EMBED)  \
    X(no_truncate, "no-truncate", NULL, BOOL, "0", NULL,                                       \
      "refuse inputs longer than the model's max tokens instead of truncating them",           \
      MNEMO_CMD_EMBED)                                                                         \
    X(precision, "precision", "MNEMO_PRECISION", STRING, "auto", "P",                          \
      "weight precision: auto (fastest here at cosine >= 0.995: int8 with AVX512-VNNI or AVX-VNNI, else file; never q4), file, f32, bf16, int8, q4 (experimental: cosine 0.92-0.94 on f32 weights)", \
      MNEMO_CMD_EMBED | MNEMO_CMD_SERVE | MNEMO_CMD_BENCH | MNEMO_CMD_MEMORY | MNEMO_CMD_MCP)                                     \
    X(threads, "threads", "MNEMO_THREADS", INT, "0", "N",                                      \
      "worker threads (0 = every CPU this process may use)", MNEMO_CMD_EMBED | MNEMO_CMD_SERVE | MNEMO_CMD_BENCH | MNEMO_CMD_MEMORY | MNEMO_CMD_MCP) \
    X(host, "host", "MNEMO_HOST", STRING, "127.0.0.1", "ADDR",                                 \
      "address to listen on (0.0.0.0 or :: for every interface)", MNEMO_CMD_SERVE)             \
    X(port, "port", "MNEMO_PORT", INT, "8080", "N", "TCP port to listen on (0: any free port)", \
      MNEMO_CMD_SERVE)                                                                         \
    X(served_model_name, "served-model-name", "MNEMO_SERVED_MODEL_NAME", STRING, NULL, "NAME", \
      "model name clients send and see (default: the model folder's name)", MNEMO_CMD_SERVE)  \
    X(max_batch_tokens, "max-batch-tokens", "MNEMO_MAX_BATCH_TOKENS", INT, "2048", "N",       \
      "tokens per forward pass, gathered across concurrent requests (at least the model's max)", \
      MNEMO_CMD_SERVE)                                                                         \
    X(batch_window_ms, "batch-window-ms", "MNEMO_BATCH_WINDOW_MS", INT, "2", "MS",             \
      "how long an idle worker waits for more requests to join a forward pass", MNEMO_CMD_SERVE) \
    X(max_queue_tokens, "max-queue-tokens", "MNEMO_MAX_QUEUE_TOKENS", INT, "16384", "N",       \
      "tokens waiting at most; more is refused at once with 429 (0 = unbounded)", MNEMO_CMD_SERVE) \
    X(timeout, "timeout", "MNEMO_TIMEOUT", INT, "30", "SECONDS",                              \
      "deadline of one request; later it gets 503 (still queued) or 504", MNEMO_CMD_SERVE)      \
    X(cache_mb, "cache-mb", "MNEMO_CACHE_MB", INT, "128", "MB",                                \
      "embedding cache size (LRU; one full vector per model, prompt, text; 0 = off)",          \
      MNEMO_CMD_SERVE)                                                                         \
    X(cache_ttl, "cache-ttl", "MNEMO_CACHE_TTL", INT, "3600", "SECONDS",                      \
      "cache entries expire this long after they were stored (0 = never)", MNEMO_CMD_SERVE)    \
    X(cache_redis, "cache-redis", "MNEMO_CACHE_REDIS", STRING, NULL, "URL",                   \
      "second cache tier shared by replicas: redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH[?db=N]", \
      MNEMO_CMD_SERVE)                                                                         \
    X(cache_redis_timeout_ms, "cache-redis-timeout-ms", "MNEMO_CACHE_REDIS_TIMEOUT_MS", INT,   \
      "50", "MS", "Redis connect and command timeout; slower counts as a miss (fail-open)",     \
      MNEMO_CMD_SERVE)                                                                         \
    X(cache_file, "cache-file", "MNEMO_CACHE_FILE", STRING, NULL, "PATH",                     \
      "keep the embedding cache in this file across restarts: loaded at start (most used first), " \
      "written in the background and at exit (default: off)", MNEMO_CMD_SERVE)                 \
    X(cache_file_mb, "cache-file-mb", "MNEMO_CACHE_FILE_MB", INT, "128", "MB",                 \
      "the cache file's size at most (the least used entries are left out)", MNEMO_CMD_SERVE)  \
    X(cache_file_interval, "cache-file-interval", "MNEMO_CACHE_FILE_INTERVAL", INT, "60",      \
      "SECONDS", "how often the cache file is rewritten when the cache changed", MNEMO_CMD_SERVE) \
    X(warm, "warm", "MNEMO_WARM", STRING, NULL, "FILE",                                        \
      "texts to embed at start, before /health is 200: JSON lines {\"text\", \"prompt_name\"} " \
      "or plain lines (no prompt)", MNEMO_CMD_SERVE)                                           \
    X(warm_budget_ms, "warm-budget-ms", "MNEMO_WARM_BUDGET_MS", INT, "5000", "MS",             \
      "time the start may spend loading --cache-file, then embedding --warm's texts",          \
      MNEMO_CMD_SERVE)                                                                         \
    X(max_inputs, "max-inputs", "MNEMO_MAX_INPUTS", INT, "128", "N", "inputs per request at most", \
      MNEMO_CMD_SERVE)                                                                         \
    X(max_input_chars, "max-input-chars", "MNEMO_MAX_INPUT_CHARS", INT, "8192", "N",          \
      "characters per input at most (longer token sequences are truncated, see truncate)",     \
      MNEMO_CMD_SERVE)                                                                         \
    X(max_body_kb, "max-body-kb", "MNEMO_MAX_BODY_KB", INT, "8192", "KB",                      \
      "request body size at most (larger gets 413)", MNEMO_CMD_SERVE)                          \
    X(max_connections, "max-connections", "MNEMO_MAX_CONNECTIONS", INT, "256", "N",            \
      "open connections at most (more are answered 503 with Retry-After, then closed)",       \
      MNEMO_CMD_SERVE)                                                                         \
    X(max_connections_per_ip, "max-connections-per-ip", "MNEMO_MAX_CONNECTIONS_PER_IP", INT,   \
      "64", "N", "open connections from one client address at most (more: 503, as above)",     \
      MNEMO_CMD_SERVE)                                                                         \
    X(connection_timeout, "connection-timeout", "MNEMO_CONNECTION_TIMEOUT", INT, "15",        \
      "SECONDS", "an idle or stalled connection is closed after this long", MNEMO_CMD_SERVE)   \
    X(api_key, "api-key", "MNEMO_API_KEY", STRING, NULL, "KEY",                                \
      "require 'Authorization: Bearer KEY' (or 'Token KEY') on every route but /health, "      \
      "/metrics, /v1/status and the console's files",                                          \
      MNEMO_CMD_SERVE)                                                                         \
    X(api_key_file, "api-key-file", "MNEMO_API_KEY_FILE", STRING, NULL, "PATH",                \
      "file of accepted API keys, one per line: KEY [name=NAME] [namespaces=NS,...|*] "          \
      "[role=embed|read|write|admin] (a plain KEY: all); read again on SIGHUP", MNEMO_CMD_SERVE) \
    X(rate_limit_rpm, "rate-limit-rpm", "MNEMO_RATE_LIMIT_RPM", INT, "0", "N",                 \
      "requests per minute per API key (per client address without keys; 0 = no limit)",      \
      MNEMO_CMD_SERVE)                                                                         \
    X(rate_limit_tpm, "rate-limit-tpm", "MNEMO_RATE_LIMIT_TPM", INT, "0", "N",                 \
      "input tokens per minute per API key (per client address without keys; 0 = no limit)",  \
      MNEMO_CMD_SERVE)                                                                         \
    X(load_delay_ms, "load-delay-ms", NULL, INT, "0", "MS",                                    \
      "test aid: wait this long before loading the model (/health answers 503 meanwhile)",    \
      MNEMO_CMD_SERVE)                                                                         \
    X(json, "json", NULL, BOOL, "0", NULL, "print the results as one JSON object",             \
      MNEMO_CMD_BENCH)                                                                         \
    X(quick, "quick", NULL, BOOL, "0", NULL, "fewer texts and runs (a smoke test, not a measurement)", \
      MNEMO_CMD_BENCH)                                                                         \
    X(data_dir, "data-dir", "MNEMO_DATA_DIR", STRING, NULL, "DIR",                             \
      "folder of the memory store (memories.db, SQLite WAL); required, never a temporary folder", \
      MNEMO_CMD_MEMORY | MNEMO_CMD_MCP | MNEMO_CMD_SERVE)                                      \
    X(backup_dir, "backup-dir", "MNEMO_BACKUP_DIR", STRING, NULL, "DIR",                       \
      "turns on POST /v1/admin/backup: each backup of the store a new folder DIR/backup-TIME",  \
      MNEMO_CMD_SERVE)                                                                         \
    X(store, "store", "MNEMO_STORE", STRING, NULL, "URL",                                      \
      "the memory store instead of --data-dir: postgres://USER@HOST:PORT/DB (pgvector; shared " \
      "by replicas) or sqlite:DIR (= --data-dir DIR)",                                         \
      MNEMO_CMD_MEMORY | MNEMO_CMD_MCP | MNEMO_CMD_SERVE)                                      \
    X(from, "from", NULL, STRING, NULL, "STORE", "the store to copy: sqlite:DIR", MNEMO_CMD_MIGRATE) \
    X(to, "to", NULL, STRING, NULL, "URL", "the store to copy into: postgres://USER@HOST:PORT/DB", \
      MNEMO_CMD_MIGRATE)                                                                       \
    X(force, "force", NULL, BOOL, "0", NULL,                                                   \
      "copy into a store that already holds memories (ids it has are skipped)", MNEMO_CMD_MIGRATE) \
    X(store_pool, "store-pool", "MNEMO_STORE_POOL", INT, "4", "N",                             \
      "PostgreSQL store: connections kept open (each request holds one while it runs)",       \
      MNEMO_CMD_MEMORY | MNEMO_CMD_MCP | MNEMO_CMD_SERVE)                                      \
    X(synchronous, "synchronous", "MNEMO_SYNCHRONOUS", STRING, "full", "MODE",                 \
      "SQLite synchronous: full (an acknowledged add survives a power cut), normal, off",      \
      MNEMO_CMD_MEMORY | MNEMO_CMD_MCP | MNEMO_CMD_SERVE)                                      \
    X(no_dedup, "no-dedup", "MNEMO_NO_DEDUP", BOOL, "0", NULL,                                 \
      "add every memory, even an exact repeat or a near-duplicate of one in its scope",        \
      MNEMO_CMD_MEMORY | MNEMO_CMD_MCP | MNEMO_CMD_SERVE)                                      \
    X(dedup_threshold, "dedup-threshold", "MNEMO_DEDUP_THRESHOLD", STRING, "0.95", "COS",      \
      "an add at or above this cosine to a memory of its scope updates that memory",           \
      MNEMO_CMD_MEMORY | MNEMO_CMD_MCP | MNEMO_CMD_SERVE)                                      \
    X(index_threshold, "index-threshold", "MNEMO_INDEX_THRESHOLD", INT, "20000", "N",          \
      "memories from which vector search walks an HNSW graph, built in the background (0 = always exact)", \
      MNEMO_CMD_MEMORY | MNEMO_CMD_MCP | MNEMO_CMD_SERVE)                                      \
    X(index_ef_search, "index-ef-search", "MNEMO_INDEX_EF_SEARCH", INT, "256", "N",            \
      "beam width of an HNSW search (at least k): higher finds more of the exact top k, slower", \
      MNEMO_CMD_MEMORY | MNEMO_CMD_MCP | MNEMO_CMD_SERVE)                                      \
    X(index_vectors, "index-vectors", "MNEMO_INDEX_VECTORS", STRING, "f32", "TYPE",            \
      "how the SQLite store's in-memory index holds vectors: f32, int8 (a quarter of the memory) or " \
      "binary (one bit per dimension, a thirty-second; a Hamming scan, no graph); int8 and binary " \
      "rescore their candidates with the f32 vectors on disk",                                  \
      MNEMO_CMD_MEMORY | MNEMO_CMD_MCP | MNEMO_CMD_SERVE)                                      \
    X(read_only, "read-only", "MNEMO_READ_ONLY", BOOL, "0", NULL,                              \
      "open the store read-only (writes are refused)", MNEMO_CMD_MEMORY | MNEMO_CMD_MCP)       \
    X(ns, "namespace", "MNEMO_NAMESPACE", STRING, NULL, "NS", "the memories' namespace (default: default)", \
      MNEMO_CMD_MEMORY)                                                                        \
    X(user_id, "user-id", NULL, STRING, NULL, "ID", "scope: the user", MNEMO_CMD_MEMORY)       \
    X(agent_id, "agent-id", NULL, STRING, NULL, "ID", "scope: the agent", MNEMO_CMD_MEMORY)    \
    X(session_id, "session-id", NULL, STRING, NULL, "ID", "scope: the session", MNEMO_CMD_MEMORY) \
    X(metadata, "metadata", NULL, STRING, NULL, "JSON", "add/update: the metadata object",     \
      MNEMO_CMD_MEMORY)                                                                        \
    X(text, "text", NULL, STRING, NULL, "TEXT", "update: the new text (embedded again)", MNEMO_CMD_MEMORY) \
    /* embed's --prompt under the same flag; no environment variable, so an    \
     * MNEMO_PROMPT meant for embed never changes how memories are embedded */  \
    X(memory_prompt, "prompt", NULL, STRING, NULL, "NAME",                                     \
      "add/update: the model's prompt to embed the text with (default: document)", MNEMO_CMD_MEMORY) \
    X(ttl, "ttl", NULL, INT, "0", "SECONDS", "add/update: forget the memory after this long (0 = never)", \
      MNEMO_CMD_MEMORY)                                                                        \
    X(filter, "filter", NULL, STRING, NULL, "JSON",                                            \
      "search/list/delete: metadata filter, e.g. {\"topic\": {\"$in\": [\"a\", \"b\"]}}", MNEMO_CMD_MEMORY) \
    X(k, "k", NULL, INT, "10", "N", "search: results wanted (1..1000)", MNEMO_CMD_MEMORY)     \
    X(mode, "mode", NULL, STRING, "vector", "MODE", "search: vector, text (FTS5 BM25) or hybrid (RRF)", \
      MNEMO_CMD_MEMORY)                                                                        \
    X(min_score, "min-score", NULL, STRING, NULL, "S", "search: drop results scoring below S", \
      MNEMO_CMD_MEMORY)                                                                        \
    X(exact, "exact", NULL, BOOL, "0", NULL, "search: scan every memory of the scope, not the HNSW graph", \
      MNEMO_CMD_MEMORY)                                                                        \
    X(limit, "limit", NULL, INT, "100", "N", "list: memories per page (1..1000)", MNEMO_CMD_MEMORY) \
    X(cursor, "cursor", NULL, STRING, NULL, "C", "list: the next_cursor of the previous page", \
      MNEMO_CMD_MEMORY)                                                                        \
    X(vectors, "vectors", NULL, BOOL, "0", NULL,                                               \
      "export: each memory's vector too (base64 of little-endian f32), with its model's name and weights", \
      MNEMO_CMD_MEMORY)                                                                        \
    X(output, "output", NULL, STRING, NULL, "FILE",                                            \
      "export: write the lines to FILE (-o FILE; - or none: stdout)", MNEMO_CMD_MEMORY)      \
    X(batch, "batch", NULL, INT, "256", "N",                                                   \
      "import: lines per transaction (1..1000); a bad line fails its batch only", MNEMO_CMD_MEMORY) \
    X(request, "request", NULL, STRING, NULL, "JSON",                                          \
      "the whole request as JSON, the HTTP body's shape (flags add to it)", MNEMO_CMD_MEMORY)  \
    X(cache_dir, "cache-dir", "MNEMO_CACHE_DIR", STRING, NULL, "DIR",                          \
      "folder for derived files such as the binary tokenizer (default ~/.cache/mnemo)",        \
      MNEMO_CMD_ALL)                                                                           \
    X(no_cache, "no-cache", "MNEMO_NO_CACHE", BOOL, "0", NULL,                                 \
      "neither read nor write derived files in the cache folder", MNEMO_CMD_ALL)              \
    X(log_level, "log-level", "MNEMO_LOG_LEVEL", STRING, "warn", "LEVEL",                      \
      "debug|info|warn|error|off (logs go to stderr, one logfmt line per event)", MNEMO_CMD_ALL)
/* clang-format on */

typedef struct mnemo_settings {
#define MNEMO_SETTING_FIELD_STRING const char *
#define MNEMO_SETTING_FIELD_BOOL int
#define MNEMO_SETTING_FIELD_INT long
#define MNEMO_SETTING_FIELD_(field, flag, env, type, def, meta, help, cmds) \
    MNEMO_SETTING_FIELD_##type field;
    MNEMO_SETTINGS_MAP(MNEMO_SETTING_FIELD_)
#undef MNEMO_SETTING_FIELD_
} mnemo_settings;

typedef struct mnemo_setting_info {
    const char *flag;
    const char *env;
    mnemo_setting_type type;
    const char *def;
    const char *metavar;
    const char *help;
    unsigned commands;
    size_t offset;
} mnemo_setting_info;

/* The table as data, for help output. *n receives the row count. */
const mnemo_setting_info *mnemo__settings_table(size_t *n);

/* Writes the whole table as a Markdown page (flag, environment variable,
 * default, commands, help; one row per setting, in table order): what
 * `mnemo help --markdown` prints and scripts/gen-options.sh keeps in
 * docs/options.md. Returns MNEMO_EIO when `f` fails. */
int mnemo__settings_markdown(FILE *f);

/*
 * Fills `s` from defaults, then the environment, then argv (flags as
 * `--name VALUE`, `--name=VALUE`, or `--name` for booleans) for command
 * `command` (one MNEMO_CMD_* bit). Arguments that are not flags are collected
 * into positional[] (which must have room for argc entries), in order; `--`
 * ends the flags. Errors: EINVAL with a message naming the flag.
 */
int mnemo__settings_parse(mnemo_settings *s, unsigned command, int argc, char **argv,
                          char **positional, int *n_positional, mnemo_error *err);

#endif /* MNEMO_SETTINGS_H */

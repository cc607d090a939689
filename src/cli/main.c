/*
 * main.c — the `mnemo` executable: the command table, --help/--version,
 * `mnemo help CMD` and `mnemo help --markdown` (generated from the settings
 * table), and dispatch. Each command lives in its own file; this one only
 * routes.
 */
#include "../core/core.h"
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const mnemo_command commands[] = {
    {"tokenize", MNEMO_CMD_TOKENIZE, "mnemo tokenize --tokenizer PATH [options] [TEXT...]",
     "text to token ids (and back), exactly as HF tokenizers",
     "Reads one JSON string per line on stdin and writes one JSON array of ids per\n"
     "line on stdout, in order (TEXT arguments, if given, are used instead of\n"
     "stdin). Like HF encode(), the post-processor's special tokens (<bos> ...\n"
     "<eos>) are added unless --no-special is given. --pieces writes the token\n"
     "strings instead of ids. --decode reads JSON arrays of ids and writes JSON\n"
     "strings. A bad line gets a message on stderr naming its line number and\n"
     "`null` on stdout (so output lines stay aligned with input lines); the other\n"
     "lines are still answered, and the exit status is 1.\n"
     "\n"
     "The first load of a tokenizer.json writes a compact binary form to the\n"
     "cache folder; later loads read it (validated against the JSON's hash).\n"
     "\n"
     "Examples:\n"
     "  echo '\"Hello world\"' | mnemo tokenize --model ./embeddinggemma-300m\n"
     "  mnemo tokenize --tokenizer tokenizer.json --pieces 'Hello world'\n"
     "  echo '[2, 9259, 1902, 1]' | mnemo tokenize --model DIR --decode\n",
     mnemo__cmd_tokenize},
    {"serve", MNEMO_CMD_SERVE, "mnemo serve --model DIR [--host ADDR] [--port N] [options]",
     "the HTTP embedding service (OpenAI, TEI and Ollama routes, metrics)",
     "Serves the model over HTTP until SIGTERM or SIGINT (then finishes the requests\n"
     "in flight and exits 0). --model defaults to $MNEMO_MODEL; --host 127.0.0.1 and\n"
     "--port 8080 by default. Routes:\n"
     "  POST /v1/embeddings   OpenAI: input (string, strings, token ids), model,\n"
     "                        encoding_format float|base64|int8|uint8|binary|ubinary,\n"
     "                        dimensions, user; mnemo's task (prompt name), prompt\n"
     "                        (prompt text) and truncate\n"
     "  GET  /v1/models       OpenAI: the served model\n"
     "  POST /embed           TEI: inputs, truncate, prompt_name, normalize, dimensions\n"
     "  POST /tokenize        TEI: inputs, add_special_tokens, prompt_name\n"
     "  POST /decode          TEI: ids, skip_special_tokens\n"
     "  GET  /info            TEI: model, limits, prompts\n"
     "  GET  /health          200 once the model is loaded and warmed, else 503\n"
     "  GET  /metrics         Prometheus text format\n"
     "  POST /                TEI: /embed, or /similarity for {source_sentence, sentences}\n"
     "  POST /similarity      TEI: inputs {source_sentence, sentences} -> cosines\n"
     "  POST /api/embed       Ollama: model, input, truncate, dimensions\n"
     "  POST /api/embeddings  Ollama (older): model, prompt -> embedding\n"
     "  GET  /api/tags, /api/ps, /api/version; POST /api/show   Ollama: the model\n"
     "  GET  /v1/status       JSON: model, precision, kernels, requests, latency, cache\n"
     "  GET  /                the web console (embeddings, memories, status)\n"
     "  GET  /docs            the API reference; /openapi.json its OpenAPI 3.1 document\n"
     "  (and /v1/embeddings/ws, /v1/memories, mem0's platform API under /v1/, /v3/,\n"
     "  /mcp and OpenMemory's /mcp/{client}/http/{user}: see docs/http.md)\n"
     "Requests from many clients share forward passes (--max-batch-tokens); vectors\n"
     "are cached (--cache-mb, --cache-ttl); --cache-redis URL adds a tier shared by\n"
     "replicas (redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH; fail-open:\n"
     "Redis down or slower than --cache-redis-timeout-ms is a miss, retried in the\n"
     "background). Limits answer 4xx saying what to change;\n"
     "overload answers 429 or 503 with Retry-After. With --api-key or --api-key-file\n"
     "every route but /health, /metrics, /v1/status and the console's files needs\n"
     "'Authorization: Bearer KEY' (the console asks for the key).\n"
     "Every response has X-Request-Id and Server-Timing; --log-level info logs one\n"
     "line per request.\n"
     "With --data-dir DIR (SQLite) or --store postgres://USER@HOST:PORT/DB\n"
     "(PostgreSQL + pgvector, shared by any number of replicas; --store-pool N\n"
     "connections) it also serves the memory routes /v1/memories... and /mcp\n"
     "(docs/memories.md); a PostgreSQL that goes away gives 503 until it is back.\n"
     "\n"
     "Examples:\n"
     "  mnemo serve --model DIR --port 8080\n"
     "  mnemo serve --model DIR --port 8081 --cache-redis redis://127.0.0.1:6379\n"
     "  mnemo serve --model DIR --store postgres://mnemo@db:5432/mnemo --store-pool 8\n"
     "  curl -s localhost:8080/v1/embeddings -H 'Content-Type: application/json' \\\n"
     "    -d '{\"input\": \"hello\", \"task\": \"query\", \"dimensions\": 256}'\n",
     mnemo__cmd_serve},
    {"embed", MNEMO_CMD_EMBED,
     "mnemo embed --model DIR [--prompt NAME | --prompt-text TEXT] [--dim N] [TEXT...]",
     "text to embedding vectors (sentence-transformers' vectors, no Python)",
     "Reads one JSON string per line on stdin and writes one JSON array of floats per\n"
     "line on stdout, in order (TEXT arguments, if given, are embedded instead).\n"
     "--model defaults to $MNEMO_MODEL. The prompt is prepended to each text as\n"
     "sentence-transformers does (EmbeddingGemma: --prompt query for queries,\n"
     "--prompt document for documents). --dim N gives the first N values,\n"
     "renormalized (Matryoshka; trained sizes 768, 512, 256, 128). Inputs longer\n"
     "than the model's max tokens (2048) are truncated keeping <eos> last, or\n"
     "refused with --no-truncate. A bad line gets a message on stderr naming its\n"
     "line number and `null` on stdout; the exit status is then 1. A progress\n"
     "line is shown on stderr when it is a terminal.\n"
     "\n"
     "Examples:\n"
     "  mnemo embed --model DIR --prompt query 'Which planet is known as the Red Planet?'\n"
     "  jq -R . docs.txt | mnemo embed --model DIR --prompt document --dim 256 > vectors.jsonl\n",
     mnemo__cmd_embed},
    {"bench", MNEMO_CMD_BENCH,
     "mnemo bench --model DIR [--precision P] [--threads N] [--json] [--quick]",
     "the built-in benchmark: throughput, latency, start time, memory",
     "Loads the model at the given precision and prints: the CPU and kernel path;\n"
     "the machine's f32 FMA peak (a register-only loop, measured here); time from\n"
     "process start to the first vector; tokens/s embedding 256 texts of ~128\n"
     "tokens and 64 of ~512; p50/p99 latency of one ~15-token query; the peak of\n"
     "each instruction the linear layers run on (f32 FMA, vdpbf16ps, vpdpwssd,\n"
     "vpdpbusd, vpmaddubsw), their weighted peak and the query's compute bound;\n"
     "the GOP/s the linear layers reach while they run, against that peak; the\n"
     "share of a forward pass outside them; and peak RSS. Texts are made\n"
     "deterministically. Run it on an idle machine. bench/compare runs the peers\n"
     "(sentence-transformers, ONNX Runtime, llama.cpp) on the same texts.\n",
     mnemo__cmd_bench},
    {"memory", MNEMO_CMD_MEMORY,
     "mnemo memory add|search|get|update|delete|list|count|history|backup|export|import --data-dir "
     "DIR | --store "
     "URL [--model DIR] [options] [ARGS]",
     "the memory store from the shell: remember, recall, forget, export, import",
     "Memories are texts with metadata and a scope (--namespace, --user-id,\n"
     "--agent-id, --session-id), embedded with the model's document prompt (or the\n"
     "one --prompt names, recorded with the memory) and kept in SQLite in\n"
     "--data-dir (WAL, synchronous full by default), or in PostgreSQL with pgvector\n"
     "at --store postgres://USER@HOST:PORT/DB (shared by replicas; see\n"
     "docs/operations.md); one of the two is required. The\n"
     "store records its model and refuses another one. --model is needed to add,\n"
     "to update a text and to search in vector or hybrid mode. Each operation\n"
     "prints one JSON line, the body the HTTP route /v1/memories answers; errors\n"
     "go to stderr (exit 2: bad input, 1: failure such as a read-only store).\n"
     "--request JSON gives the whole request (flags add to it).\n"
     "\n"
     "  add TEXT...        one memory per argument (--metadata, --ttl, --prompt apply to each)\n"
     "  search QUERY       --k, --mode vector|text|hybrid, --filter, --min-score\n"
     "  get ID | history ID\n"
     "  update ID          --text (with --prompt: embedded with that prompt), --metadata, --ttl\n"
     "  delete ID | delete --filter JSON (with the scope flags; '{}' = all of it)\n"
     "  list               --limit, --cursor (next_cursor of the previous page)\n"
     "  count              --filter\n"
     "  backup OUT         a consistent copy of the SQLite store into the new folder OUT\n"
     "                     while servers keep writing; checked by integrity_check;\n"
     "                     serve it with --data-dir OUT (PostgreSQL: pg_dump)\n"
     "  export             every memory (or the scope's, --filter's) as JSON lines with its\n"
     "                     history, to --output FILE (-o) or stdout; --vectors adds each\n"
     "                     vector and its model's identity (docs/memories.md)\n"
     "  import FILE|-      those lines into this store (SQLite or PostgreSQL): ids, times,\n"
     "                     expiry and history kept; a vector of the store's model is used,\n"
     "                     else the text embedded again (--model); --batch N lines per\n"
     "                     transaction: a bad line fails its batch only. Ids the store has\n"
     "                     and expired memories are skipped; a summary line is printed\n"
     "\n"
     "Examples:\n"
     "  mnemo memory add --data-dir ~/mem --model DIR --metadata '{\"topic\": \"food\"}' 'I like "
     "figs'\n"
     "  mnemo memory search --data-dir ~/mem --model DIR --k 3 'what fruit do I like?'\n"
     "  mnemo memory list --data-dir ~/mem --filter '{\"topic\": {\"$in\": [\"food\"]}}'\n"
     "  mnemo memory export --data-dir ~/mem --vectors -o mem.jsonl\n"
     "  mnemo memory import --store postgres://mnemo@db/mnemo --model DIR mem.jsonl\n",
     mnemo__cmd_memory},
    {"mcp", MNEMO_CMD_MCP, "mnemo mcp --data-dir DIR | --store URL --model DIR",
     "the memory tools over the Model Context Protocol (stdio)",
     "A Model Context Protocol server on stdin/stdout (JSON-RPC 2.0, one message\n"
     "per line), exposing the tools memory_add, memory_search, memory_get,\n"
     "memory_update, memory_delete and memory_list on the store in --data-dir\n"
     "(or at --store postgres://...).\n"
     "Logs go to stderr. An MCP client configuration:\n"
     "  {\"command\": \"mnemo\", \"args\": [\"mcp\", \"--data-dir\", \"/home/me/mem\", "
     "\"--model\", \"DIR\"]}\n",
     mnemo__cmd_mcp},
    {"migrate", MNEMO_CMD_MIGRATE,
     "mnemo migrate --from sqlite:DIR --to postgres://USER@HOST:PORT/DB [--force]",
     "copy a SQLite memory store into PostgreSQL (no embedding again)",
     "Copies every memory of the SQLite store in DIR (its id, text, vector,\n"
     "metadata, scope, times and expiry) and the whole history into the PostgreSQL\n"
     "store at the URL, in one transaction (all or nothing), and prints the counts\n"
     "as one JSON line. No model is needed: the vectors are copied, and the source's\n"
     "model record goes with them. A target built with another model is refused;\n"
     "so is one that already holds memories, unless --force (ids it has are then\n"
     "skipped). Stop the servers writing to the source first.\n"
     "\n"
     "Example:\n"
     "  mnemo migrate --from sqlite:$HOME/mem --to postgres://mnemo@db:5432/mnemo\n",
     mnemo__cmd_migrate},
};
static const size_t n_commands = sizeof commands / sizeof commands[0];

void mnemo__cli_error(const char *cmd, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "mnemo %s: %s\n", cmd, msg);
}

static void print_usage(FILE *f) {
    fprintf(f,
            "mnemo %s — embeddings and memory for agents, on the CPU (EmbeddingGemma-300M)\n"
            "\n"
            "usage: mnemo COMMAND [options]\n"
            "\n"
            "commands:\n",
            mnemo_version());
    for (size_t i = 0; i < n_commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-10s %s\n", "help", "help for a command: mnemo help COMMAND");
    fprintf(f, "\n"
               "options: --help, --version; each command's options: mnemo help COMMAND\n"
               "Every option can also be set by its environment variable (MNEMO_*); a flag\n"
               "wins over the environment. mnemo help --markdown prints every option of\n"
               "every command as one Markdown table (docs/options.md).\n");
}

static void print_command_help(const mnemo_command *c) {
    printf("usage: %s\n\n%s\n%s\noptions:\n", c->usage, c->summary, c->details);
    size_t n;
    const mnemo_setting_info *t = mnemo__settings_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (!(t[i].commands & c->bit)) continue;
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s%s", t[i].flag, t[i].metavar ? " " : "",
                 t[i].metavar ? t[i].metavar : "");
        printf("  %-22s %s", flag, t[i].help);
        bool show_def = t[i].def && t[i].type != MNEMO_SETTING_BOOL;
        if (t[i].env || show_def) {
            printf(" [");
            if (t[i].env) printf("env %s", t[i].env);
            if (show_def) printf("%sdefault %s", t[i].env ? ", " : "", t[i].def);
            printf("]");
        }
        printf("\n");
    }
}

static const mnemo_command *find_command(const char *name) {
    for (size_t i = 0; i < n_commands; i++)
        if (!strcmp(commands[i].name, name)) return &commands[i];
    return NULL;
}

double mnemo__cli_start;

int main(int argc, char **argv) {
    mnemo__cli_start = mnemo__now();
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        print_usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("mnemo %s\n", mnemo_version());
        return 0;
    }
    if (!strcmp(cmd, "help")) {
        if (argc < 3) {
            print_usage(stdout);
            return 0;
        }
        if (!strcmp(argv[2], "--markdown")) return mnemo__settings_markdown(stdout) ? 1 : 0;
        const mnemo_command *c = find_command(argv[2]);
        if (!c) {
            fprintf(stderr, "mnemo help: no command '%s' (see mnemo --help)\n", argv[2]);
            return 2;
        }
        print_command_help(c);
        return 0;
    }
    const mnemo_command *c = find_command(cmd);
    if (!c) {
        fprintf(stderr, "mnemo: no command '%s' (see mnemo --help)\n", cmd);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_command_help(c);
            return 0;
        }
    }
    mnemo_settings s;
    mnemo_error err;
    char **positional = calloc((size_t)argc, sizeof(char *));
    int n_pos = 0;
    if (!positional) return 1;
    if (mnemo__settings_parse(&s, c->bit, argc - 2, argv + 2, positional, &n_pos, &err)) {
        mnemo__cli_error(c->name, "%s", err.message);
        free(positional);
        return 2;
    }
    int level = mnemo__log_level_parse(s.log_level);
    if (level < 0) {
        mnemo__cli_error(c->name, "--log-level '%s' is not one of debug|info|warn|error|off",
                         s.log_level);
        free(positional);
        return 2;
    }
    mnemo__log_set_level((mnemo_log_level)level);
    int rc = c->run(&s, n_pos, positional);
    free(positional);
    return rc;
}

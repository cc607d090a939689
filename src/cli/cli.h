/*
 * cli.h — the internal header of the `mnemo` command: the command table and
 * the entry points of the subcommands, each in its own file.
 */
#ifndef MNEMO_CLI_H
#define MNEMO_CLI_H

#include "settings.h"

#include <jansson.h>
#include <stdio.h>

typedef struct mnemo_command {
    const char *name;
    unsigned bit; /* MNEMO_CMD_* for the settings table */
    const char *usage;
    const char *summary;
    const char *details; /* printed by `mnemo help NAME` */
    int (*run)(const mnemo_settings *s, int argc, char **argv);
} mnemo_command;

int mnemo__cmd_tokenize(const mnemo_settings *s, int argc, char **argv);
int mnemo__cmd_embed(const mnemo_settings *s, int argc, char **argv);
int mnemo__cmd_bench(const mnemo_settings *s, int argc, char **argv);
int mnemo__cmd_serve(const mnemo_settings *s, int argc, char **argv);
int mnemo__cmd_memory(const mnemo_settings *s, int argc, char **argv);
int mnemo__cmd_mcp(const mnemo_settings *s, int argc, char **argv);
int mnemo__cmd_migrate(const mnemo_settings *s, int argc, char **argv);

/* transfer.c: `mnemo memory export` and `mnemo memory import`. */
int mnemo__cli_memory_export(const mnemo_settings *s, int argc, char **argv);
int mnemo__cli_memory_import(const mnemo_settings *s, int argc, char **argv);

/* memory.c: opens the model (if --model) and the store from the settings;
 * prints the error and returns the exit status (2 bad usage, 1 failure). */
struct mnemo_store;
int mnemo__cli_open_store(const mnemo_settings *s, const char *cmd, mnemo_model **model,
                          struct mnemo_store **store);
/* The store of --data-dir for a model already open (recorded as `name`); the
 * same exit statuses. With `fill` (mnemo serve's service on the same model),
 * every vector the store computes goes into the service's embedding cache. */
struct mnemo_service;
int mnemo__cli_store_with(const mnemo_settings *s, const char *cmd, mnemo_model *model,
                          const char *name, struct mnemo_service *fill, struct mnemo_store **store);

/* mnemo__now() when main() started: for start-to-first-vector timings. */
extern double mnemo__cli_start;

/* lines.c: JSON lines on stdin. fn gets each line without its newline,
 * numbered from 1. */
typedef void (*mnemo_cli_line_fn)(void *ctx, long line_no, const char *line, size_t len);
void mnemo__cli_each_line(FILE *in, mnemo_cli_line_fn fn, void *ctx);
/* The line's JSON value if it is valid UTF-8 and JSON of type `want`
 * (JSON_STRING or JSON_ARRAY; the caller json_decref()s it), else NULL and a
 * message in why saying what is wrong and what is expected. */
json_t *mnemo__cli_parse_line(const char *line, size_t len, json_type want, char *why, size_t cap);

/* Prints "mnemo CMD: message" on stderr. */
void mnemo__cli_error(const char *cmd, const char *fmt, ...) MNEMO_PRINTF(2, 3);

#endif

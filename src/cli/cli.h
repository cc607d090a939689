/*
 * cli.h — the internal header of the `mnemo` command: the command table and
 * the entry points of the subcommands, each in its own file.
 */
#ifndef MNEMO_CLI_H
#define MNEMO_CLI_H

#include "../core/settings.h"

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

/* mnemo__now() when main() started: for start-to-first-vector timings. */
extern double mnemo__cli_start;

/* Prints "mnemo CMD: message" on stderr. */
void mnemo__cli_error(const char *cmd, const char *fmt, ...) MNEMO_PRINTF(2, 3);

#endif

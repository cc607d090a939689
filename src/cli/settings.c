/*
 * settings.c — applies the settings table of settings.h: defaults, the
 * environment, then command-line flags. Knows nothing about what a setting
 * means; the commands read the filled struct.
 */
#include "settings.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static const mnemo_setting_info table[] = {
#define MNEMO_SETTING_ROW_(field, flag, env, type, def, meta, help, cmds) \
    {flag, env, MNEMO_SETTING_##type, def, meta, help, cmds, offsetof(mnemo_settings, field)},
    MNEMO_SETTINGS_MAP(MNEMO_SETTING_ROW_)
#undef MNEMO_SETTING_ROW_
};

const mnemo_setting_info *mnemo__settings_table(size_t *n) {
    *n = sizeof table / sizeof table[0];
    return table;
}

static int set_value(mnemo_settings *s, const mnemo_setting_info *row, const char *value,
                     const char *source, mnemo_error *err) {
    char *field = (char *)s + row->offset;
    switch (row->type) {
    case MNEMO_SETTING_STRING: memcpy(field, &value, sizeof value); return MNEMO_OK;
    case MNEMO_SETTING_BOOL: {
        int b;
        if (!value || !strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes") ||
            !strcmp(value, "on"))
            b = 1;
        else if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no") ||
                 !strcmp(value, "off"))
            b = 0;
        else
            return mnemo__fail(err, MNEMO_EINVAL, "%s: '%s' is not a boolean (use 1/0, true/false)",
                               source, value);
        memcpy(field, &b, sizeof b);
        return MNEMO_OK;
    }
    case MNEMO_SETTING_INT: {
        char *end;
        errno = 0;
        long v = strtol(value ? value : "", &end, 10);
        if (!value || !*value || *end || errno)
            return mnemo__fail(err, MNEMO_EINVAL, "%s: '%s' is not an integer", source,
                               value ? value : "");
        memcpy(field, &v, sizeof v);
        return MNEMO_OK;
    }
    }
    return MNEMO_EINTERNAL;
}

int mnemo__settings_parse(mnemo_settings *s, unsigned command, int argc, char **argv,
                          char **positional, int *n_positional, mnemo_error *err) {
    memset(s, 0, sizeof *s);
    size_t n = sizeof table / sizeof table[0];
    for (size_t i = 0; i < n; i++) {
        if (table[i].type == MNEMO_SETTING_STRING || table[i].def) {
            int rc = set_value(s, &table[i], table[i].def, "default", err);
            if (rc) return rc;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!table[i].env || !(table[i].commands & command)) continue;
        const char *v = getenv(table[i].env);
        if (!v || !*v) continue;
        int rc = set_value(s, &table[i], v, table[i].env, err);
        if (rc) return rc;
    }
    *n_positional = 0;
    bool flags_done = false;
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        if (!flags_done && !strcmp(arg, "-o")) arg = "--output"; /* the one short flag */
        if (flags_done || arg[0] != '-' || arg[1] != '-' || arg[2] == '\0') {
            if (!flags_done && !strcmp(arg, "--")) {
                flags_done = true;
                continue;
            }
            if (!flags_done && arg[0] == '-' && arg[1] != '\0')
                return mnemo__fail(err, MNEMO_EINVAL,
                                   "unknown option '%s' (options are spelled --name; see "
                                   "mnemo help)",
                                   arg);
            positional[(*n_positional)++] = argv[a];
            continue;
        }
        if (!strcmp(arg, "--")) {
            flags_done = true;
            continue;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const mnemo_setting_info *row = NULL;
        /* one flag may have a row per command (--prompt: embed's, memory's) */
        for (size_t i = 0; i < n; i++)
            if (strlen(table[i].flag) == name_len && !strncmp(table[i].flag, name, name_len) &&
                (!row || (table[i].commands & command)))
                row = &table[i];
        if (!row || !(row->commands & command))
            return mnemo__fail(err, MNEMO_EINVAL,
                               "unknown option '--%.*s' for this command "
                               "(see mnemo help)",
                               (int)name_len, name);
        const char *value = eq ? eq + 1 : NULL;
        if (!value && row->type != MNEMO_SETTING_BOOL) {
            if (a + 1 >= argc)
                return mnemo__fail(err, MNEMO_EINVAL, "option --%s needs a value (%s)", row->flag,
                                   row->metavar ? row->metavar : "VALUE");
            value = argv[++a];
        }
        char source[96];
        snprintf(source, sizeof source, "--%s", row->flag);
        int rc = set_value(s, row, value, source, err);
        if (rc) return rc;
    }
    return MNEMO_OK;
}

/* The command names of the MNEMO_CMD_* bits, in bit order. */
static const char *const command_names[] = {"tokenize", "embed", "serve",  "bench",
                                            "memory",   "mcp",   "migrate"};
_Static_assert(1u << (sizeof command_names / sizeof command_names[0] - 1) == MNEMO_CMD_MIGRATE,
               "a command bit without a name in command_names");

/* A table cell: '|' would end the cell and '<' open an HTML tag (<bos>). */
static void md_cell(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') {
            fputs("&lt;", f);
            continue;
        }
        if (*s == '|') fputc('\\', f);
        fputc(*s, f);
    }
}

int mnemo__settings_markdown(FILE *f) {
    fputs("# Options\n"
          "\n"
          "<!-- Generated by `mnemo help --markdown` (scripts/gen-options.sh writes this\n"
          "     file); edit the settings table (settings.h), not this page. -->\n"
          "\n"
          "Every option of every `mnemo` command, from the one settings table\n"
          "(`MNEMO_SETTINGS_MAP` in `settings.h`). A setting with an environment\n"
          "variable can be given either way; a flag wins over the environment, the\n"
          "environment over the default. Flags are spelled `--name VALUE`,\n"
          "`--name=VALUE`, or `--name` alone for the on/off ones (whose variables\n"
          "take 1/0, true/false, yes/no, on/off). `mnemo help COMMAND` lists one\n"
          "command's options.\n"
          "\n"
          "| flag | environment variable | default | commands | what it does |\n"
          "| --- | --- | --- | --- | --- |\n",
          f);
    size_t n = sizeof table / sizeof table[0];
    for (size_t i = 0; i < n; i++) {
        const mnemo_setting_info *row = &table[i];
        fprintf(f, "| `--%s%s%s` | ", row->flag, row->metavar ? " " : "",
                row->metavar ? row->metavar : "");
        if (row->env) fprintf(f, "`%s`", row->env);
        fputs(" | ", f);
        if (row->type == MNEMO_SETTING_BOOL)
            fputs(row->def && strcmp(row->def, "0") ? "on" : "off", f);
        else if (row->def)
            fprintf(f, "`%s`", row->def);
        fputs(" | ", f);
        if (row->commands == MNEMO_CMD_ALL) {
            fputs("all", f);
        } else {
            bool first = true;
            for (size_t b = 0; b < sizeof command_names / sizeof command_names[0]; b++) {
                if (!(row->commands & (1u << b))) continue;
                fprintf(f, "%s%s", first ? "" : ", ", command_names[b]);
                first = false;
            }
        }
        fputs(" | ", f);
        md_cell(f, row->help);
        fputs(" |\n", f);
    }
    return ferror(f) ? MNEMO_EIO : MNEMO_OK;
}

/*
 * mem0.h — what routes_mem0.c (mem0's platform API) and mem0_filter.c (its
 * filters) share: the request context, and a filter compiled into store
 * queries. Internal to the server.
 */
#ifndef MNEMO_SERVER_MEM0_H
#define MNEMO_SERVER_MEM0_H

#include "../store/store_api.h"
#include "server.h"

#include <stdbool.h>

#define MAX_BRANCHES 32 /* store calls one request may make for an OR of entities */

typedef struct m0 {
    mnemo_request *r;
    const char *ns; /* the namespace: X-Mnemo-Namespace, else mnemo's default */
    char why[1000]; /* a filter's error, for the 400 */
} m0;

/* One store query: a scope, a metadata filter, and the row conditions. */
typedef struct branch {
    mnemo_memory_scope sc;
    char *filter; /* JSON text (free()), or NULL */
    json_t *rows; /* the row literals (owned) */
    bool entity;  /* names a user, agent, run or app */
} branch;

typedef struct plan {
    json_t *dnf;
    branch b[MAX_BRANCHES];
    size_t n;
} plan;

/* What filters may hold, for error messages. */
extern const char mnemo__mem0_supported[];
/* Compiles filters (NULL: everything) into p's branches in namespace c->ns;
 * false with c->why saying what is wrong (p then holds nothing). */
bool mnemo__mem0_plan(m0 *c, json_t *filters, plan *p);
void mnemo__mem0_plan_free(plan *p);
/* A memory against a branch's row conditions (created_at, categories, ...). */
bool mnemo__mem0_rows_match(json_t *rows, const mnemo_memory *m);
/* "YYYY-MM-DD", optionally "THH:MM:SS[.frac]" and "Z" or "+HH:MM"/"-HH:MM"
 * (no zone: UTC), as Unix seconds; date_only: the day alone. */
bool mnemo__mem0_parse_time(const char *s, double *out, bool date_only);

#endif

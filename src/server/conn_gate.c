/*
 * conn_gate.c — the connection limits (--max-connections,
 * --max-connections-per-ip), kept by the server itself rather than by
 * libmicrohttpd: over its limits libmicrohttpd closes a connection as soon as
 * it is accepted, and the client sees a reset it cannot tell from a crash.
 * Here a connection over a limit is still accepted and marked; its requests
 * get 503 with Retry-After and a JSON error naming the limit, and then the
 * connection is closed. Only the connections admitted count toward the
 * limits, so an answered-and-closed one never holds a slot.
 */
#include "server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* One client address and its admitted connections. */
typedef struct ip_count {
    char ip[INET6_ADDRSTRLEN];
    unsigned n;
} ip_count;

struct mnemo_conn_gate {
    pthread_mutex_t lock;
    unsigned max_total, max_per_ip; /* 0 per ip: no per-address limit */
    unsigned total;                 /* admitted connections */
    ip_count *ips;                  /* addresses with admitted connections */
    size_t n_ips, cap_ips;
};

/* What a connection carries from its start to its end. */
struct mnemo_conn_ticket {
    char ip[INET6_ADDRSTRLEN];
    bool admitted;
    const char *over; /* the flag of the limit it is over; NULL when admitted */
    unsigned limit;
};

int mnemo__conn_gate_create(unsigned max_total, unsigned max_per_ip, mnemo_conn_gate **out,
                            mnemo_error *err) {
    mnemo_conn_gate *g = mnemo__calloc(1, sizeof *g);
    if (!g) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    pthread_mutex_init(&g->lock, NULL);
    g->max_total = max_total;
    g->max_per_ip = max_per_ip;
    *out = g;
    return MNEMO_OK;
}

void mnemo__conn_gate_free(mnemo_conn_gate *g) {
    if (!g) return;
    pthread_mutex_destroy(&g->lock);
    mnemo__free(g->ips);
    mnemo__free(g);
}

void mnemo__client_address(const struct sockaddr *sa, char *out, size_t cap) {
    snprintf(out, cap, "?");
    if (!sa) return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

static ip_count *find_ip(mnemo_conn_gate *g, const char *ip) {
    for (size_t i = 0; i < g->n_ips; i++)
        if (!strcmp(g->ips[i].ip, ip)) return &g->ips[i];
    return NULL;
}

mnemo_conn_ticket *mnemo__conn_gate_enter(mnemo_conn_gate *g, const struct sockaddr *addr) {
    mnemo_conn_ticket *t = mnemo__calloc(1, sizeof *t);
    if (!t) return NULL; /* the caller treats it as admitted: nothing to undo */
    mnemo__client_address(addr, t->ip, sizeof t->ip);
    pthread_mutex_lock(&g->lock);
    ip_count *c = find_ip(g, t->ip);
    if (g->total >= g->max_total) {
        t->over = "--max-connections", t->limit = g->max_total;
    } else if (g->max_per_ip && c && c->n >= g->max_per_ip) {
        t->over = "--max-connections-per-ip", t->limit = g->max_per_ip;
    } else {
        if (!c && g->n_ips == g->cap_ips) {
            size_t cap = g->cap_ips ? g->cap_ips * 2 : 16;
            ip_count *p = mnemo__realloc(g->ips, cap * sizeof *p);
            if (p) g->ips = p, g->cap_ips = cap;
        }
        if (!c && g->n_ips < g->cap_ips) {
            c = &g->ips[g->n_ips++];
            snprintf(c->ip, sizeof c->ip, "%s", t->ip);
            c->n = 0;
        }
        if (c) { /* (no room to count it: admitted uncounted, never refused for memory) */
            c->n++;
            g->total++;
            t->admitted = true;
        }
    }
    pthread_mutex_unlock(&g->lock);
    return t;
}

void mnemo__conn_gate_leave(mnemo_conn_gate *g, mnemo_conn_ticket *t) {
    if (!t) return;
    if (t->admitted) {
        pthread_mutex_lock(&g->lock);
        ip_count *c = find_ip(g, t->ip);
        if (c && c->n) {
            c->n--;
            g->total--;
            if (!c->n) *c = g->ips[--g->n_ips]; /* the last one fills the hole */
        }
        pthread_mutex_unlock(&g->lock);
    }
    mnemo__free(t);
}

const char *mnemo__conn_ticket_client(const mnemo_conn_ticket *t) { return t ? t->ip : NULL; }

const char *mnemo__conn_ticket_over(const mnemo_conn_ticket *t, unsigned *limit) {
    if (!t || !t->over) return NULL;
    if (limit) *limit = t->limit;
    return t->over;
}

unsigned mnemo__conn_gate_admitted(mnemo_conn_gate *g) {
    pthread_mutex_lock(&g->lock);
    unsigned n = g->total;
    pthread_mutex_unlock(&g->lock);
    return n;
}

/* Per-node circuit breaker: active health checks and passive outlier detection in one state
 * machine, with time passed in (milliseconds on any monotonic clock) so it is deterministic.
 *
 *            active check fails 2x in a row, or
 *            5 consecutive passive failures (connect error, reset, 5xx)
 *   CLOSED ─────────────────────────────────────────────► OPEN  (ejected for
 *     ▲  ▲     (refused when it would eject more than        │    base x times ejected,
 *     │  │      max_ejected_percent of the set's nodes)      │    at most max)
 *     │  │                                                   │ ejection time over
 *     │  │ 2 active checks pass in a row, when active        ▼
 *     │  └── checks caused the ejection (OPEN/HALF_OPEN) ── HALF_OPEN: exactly one trial request
 *     │                                                   │   │
 *     └──────────────── trial succeeds ───────────────────┘   │ trial fails, or an active
 *                                       OPEN again (longer) ◄──┘ check fails
 *
 * "Times ejected" counts ejections in a row: it falls back to 0 once a node has stayed CLOSED
 * for max_ejection_ms. A node whose ejection was refused stays CLOSED with its failure counts,
 * so its next failure asks again.
 *
 * A gw_breaker_set holds the config and counts the nodes and the ejected ones (OPEN or
 * HALF_OPEN) for the "never more than half ejected" rule; each node embeds a gw_breaker and
 * joins/leaves the set. Plain structs, no allocation, no locks: every call for the nodes of
 * one set must be made under one lock (or on one thread). */
#ifndef GW_BREAKER_H
#define GW_BREAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum gw_breaker_state {
    GW_BREAKER_CLOSED = 0,
    GW_BREAKER_OPEN,
    GW_BREAKER_HALF_OPEN,
} gw_breaker_state;

typedef struct gw_breaker_config {
    uint32_t active_fails_out;    /* consecutive failed active checks that eject, default 2 */
    uint32_t active_passes_in;    /* consecutive passed active checks that close, default 2 */
    uint32_t passive_fails_out;   /* consecutive failed requests that eject, default 5 */
    uint64_t base_ejection_ms;    /* default 30 000 */
    uint64_t max_ejection_ms;     /* default 300 000 */
    uint32_t max_ejected_percent; /* of the set's nodes, default 50 */
} gw_breaker_config;

void gw_breaker_config_default(gw_breaker_config *cfg);

typedef struct gw_breaker_set {
    gw_breaker_config cfg;
    size_t nodes;   /* joined */
    size_t ejected; /* of them, OPEN or HALF_OPEN */
} gw_breaker_set;

typedef enum gw_breaker_outcome {
    GW_OUTCOME_OK = 0,     /* an answer that is not a node failure (2xx, 4xx, 503/429 too) */
    GW_OUTCOME_FAIL,       /* connect error, reset, timeout, 5xx other than 503 */
    GW_OUTCOME_CANCELLED,  /* no verdict: e.g. the losing copy of a hedge, closed by us */
} gw_breaker_outcome;

typedef struct gw_breaker {
    gw_breaker_state state;   /* as last stored; gw_breaker_state_at gives it at a time */
    uint32_t active_fails;    /* consecutive */
    uint32_t active_passes;   /* consecutive */
    uint32_t passive_fails;   /* consecutive */
    uint32_t ejections;       /* in a row (see above) */
    uint64_t ejections_total; /* ever, for /gateway/nodes */
    uint64_t refused_total;   /* ejections refused by the set rule */
    uint64_t open_until_ms;   /* OPEN: when HALF_OPEN begins */
    uint64_t closed_since_ms; /* CLOSED: since when */
    bool trial_in_flight;     /* HALF_OPEN: the one trial request is out */
    bool by_check;            /* OPEN/HALF_OPEN: active checks caused this ejection */
} gw_breaker;

/* cfg NULL = defaults. */
void gw_breaker_set_init(gw_breaker_set *set, const gw_breaker_config *cfg);

/* A node joins the set CLOSED / leaves it (its ejection no longer counts). */
void gw_breaker_join(gw_breaker *br, gw_breaker_set *set, uint64_t now_ms);
void gw_breaker_leave(gw_breaker *br, gw_breaker_set *set);

/* The state at now_ms (OPEN whose time is over reads HALF_OPEN). Pure query. */
gw_breaker_state gw_breaker_state_at(const gw_breaker *br, uint64_t now_ms);
/* Could a request go to this node now? CLOSED, or HALF_OPEN with no trial out. Pure query:
 * use it in a ring filter, then call gw_breaker_on_send for the node picked. */
bool gw_breaker_can_send(const gw_breaker *br, uint64_t now_ms);
/* A request is being sent: true if admitted (HALF_OPEN: this one becomes the trial), false if
 * the breaker does not let it (pick another node). Every admitted request must be followed by
 * exactly one gw_breaker_on_result. */
bool gw_breaker_on_send(gw_breaker *br, gw_breaker_set *set, uint64_t now_ms);
/* The outcome of an admitted request. */
void gw_breaker_on_result(gw_breaker *br, gw_breaker_set *set, uint64_t now_ms,
                          gw_breaker_outcome outcome);
/* The result of an active health check (GET /v2/health/ready answered 200 or not). */
void gw_breaker_on_check(gw_breaker *br, gw_breaker_set *set, uint64_t now_ms, bool passed);

const char *gw_breaker_state_name(gw_breaker_state state); /* "closed", "open", "half_open" */

#endif

/* The per-node circuit breaker state machine and the set's ejection limit (gw_breaker.h). */
#include "gw_breaker.h"

#include <string.h>

void gw_breaker_config_default(gw_breaker_config *cfg)
{
    cfg->active_fails_out = 2;
    cfg->active_passes_in = 2;
    cfg->passive_fails_out = 5;
    cfg->base_ejection_ms = 30000;
    cfg->max_ejection_ms = 300000;
    cfg->max_ejected_percent = 50;
}

void gw_breaker_set_init(gw_breaker_set *set, const gw_breaker_config *cfg)
{
    memset(set, 0, sizeof *set);
    if (cfg)
        set->cfg = *cfg;
    else
        gw_breaker_config_default(&set->cfg);
}

void gw_breaker_join(gw_breaker *br, gw_breaker_set *set, uint64_t now_ms)
{
    memset(br, 0, sizeof *br);
    br->state = GW_BREAKER_CLOSED;
    br->closed_since_ms = now_ms;
    set->nodes++;
}

void gw_breaker_leave(gw_breaker *br, gw_breaker_set *set)
{
    if (br->state != GW_BREAKER_CLOSED && set->ejected > 0)
        set->ejected--;
    if (set->nodes > 0)
        set->nodes--;
    br->state = GW_BREAKER_CLOSED;
}

gw_breaker_state gw_breaker_state_at(const gw_breaker *br, uint64_t now_ms)
{
    if (br->state == GW_BREAKER_OPEN && now_ms >= br->open_until_ms)
        return GW_BREAKER_HALF_OPEN;
    return br->state;
}

bool gw_breaker_can_send(const gw_breaker *br, uint64_t now_ms)
{
    switch (gw_breaker_state_at(br, now_ms)) {
    case GW_BREAKER_CLOSED:
        return true;
    case GW_BREAKER_HALF_OPEN:
        return br->state == GW_BREAKER_OPEN || !br->trial_in_flight;
    default:
        return false;
    }
}

/* Stores the lazily reached HALF_OPEN. */
static void settle(gw_breaker *br, uint64_t now_ms)
{
    if (br->state == GW_BREAKER_OPEN && now_ms >= br->open_until_ms) {
        br->state = GW_BREAKER_HALF_OPEN;
        br->trial_in_flight = false;
    }
}

static void close_breaker(gw_breaker *br, gw_breaker_set *set, uint64_t now_ms)
{
    if (br->state != GW_BREAKER_CLOSED && set->ejected > 0)
        set->ejected--;
    br->state = GW_BREAKER_CLOSED;
    br->closed_since_ms = now_ms;
    br->trial_in_flight = false;
    br->active_fails = br->passive_fails = 0;
}

static uint64_t ejection_ms(const gw_breaker_config *cfg, uint32_t times)
{
    uint64_t max = cfg->max_ejection_ms;
    if (cfg->base_ejection_ms == 0)
        return 0;
    if (times > max / cfg->base_ejection_ms)
        return max;
    uint64_t ms = cfg->base_ejection_ms * times;
    return ms < max ? ms : max;
}

/* CLOSED -> OPEN, unless that ejects more than the set allows. HALF_OPEN -> OPEN always (the
 * node is already counted as ejected). */
static void eject(gw_breaker *br, gw_breaker_set *set, uint64_t now_ms, bool by_check)
{
    if (br->state == GW_BREAKER_CLOSED) {
        /* (ejected + 1) / nodes <= percent / 100 */
        if ((uint64_t)(set->ejected + 1) * 100 > (uint64_t)set->nodes * set->cfg.max_ejected_percent) {
            br->refused_total++;
            return;
        }
        set->ejected++;
        if (now_ms - br->closed_since_ms >= set->cfg.max_ejection_ms)
            br->ejections = 0; /* healthy long enough: start the multiplier again */
    }
    if (br->ejections < UINT32_MAX)
        br->ejections++;
    br->ejections_total++;
    br->state = GW_BREAKER_OPEN;
    br->open_until_ms = now_ms + ejection_ms(&set->cfg, br->ejections);
    br->trial_in_flight = false;
    br->by_check = by_check;
    br->active_fails = br->active_passes = br->passive_fails = 0;
}

bool gw_breaker_on_send(gw_breaker *br, gw_breaker_set *set, uint64_t now_ms)
{
    (void)set;
    settle(br, now_ms);
    switch (br->state) {
    case GW_BREAKER_CLOSED:
        return true;
    case GW_BREAKER_HALF_OPEN:
        if (br->trial_in_flight)
            return false;
        br->trial_in_flight = true;
        return true;
    default:
        return false;
    }
}

void gw_breaker_on_result(gw_breaker *br, gw_breaker_set *set, uint64_t now_ms,
                          gw_breaker_outcome outcome)
{
    settle(br, now_ms);
    switch (br->state) {
    case GW_BREAKER_CLOSED:
        if (outcome == GW_OUTCOME_OK)
            br->passive_fails = 0;
        else if (outcome == GW_OUTCOME_FAIL && ++br->passive_fails >= set->cfg.passive_fails_out)
            eject(br, set, now_ms, false);
        break;
    case GW_BREAKER_HALF_OPEN:
        /* Only the trial's verdict counts; answers of requests sent before the ejection
         * (there is no trial out then) say nothing about the node now. */
        if (!br->trial_in_flight)
            break;
        if (outcome == GW_OUTCOME_OK)
            close_breaker(br, set, now_ms);
        else if (outcome == GW_OUTCOME_FAIL)
            eject(br, set, now_ms, false);
        else
            br->trial_in_flight = false; /* no verdict: the next request is the trial */
        break;
    default:
        break; /* OPEN: stragglers sent before the ejection */
    }
}

void gw_breaker_on_check(gw_breaker *br, gw_breaker_set *set, uint64_t now_ms, bool passed)
{
    settle(br, now_ms);
    if (passed) {
        br->active_fails = 0;
        if (br->active_passes < UINT32_MAX)
            br->active_passes++;
        /* Passing checks end an ejection the checks caused (the node was not ready and now
         * is); one caused by failing requests lasts its time: a node can pass /ready and still
         * fail every request. */
        if (br->state != GW_BREAKER_CLOSED && br->by_check &&
            br->active_passes >= set->cfg.active_passes_in)
            close_breaker(br, set, now_ms);
        return;
    }
    br->active_passes = 0;
    if (br->active_fails < UINT32_MAX)
        br->active_fails++;
    if (br->state == GW_BREAKER_HALF_OPEN)
        eject(br, set, now_ms, true);
    else if (br->state == GW_BREAKER_CLOSED && br->active_fails >= set->cfg.active_fails_out)
        eject(br, set, now_ms, true);
}

const char *gw_breaker_state_name(gw_breaker_state state)
{
    switch (state) {
    case GW_BREAKER_CLOSED:
        return "closed";
    case GW_BREAKER_OPEN:
        return "open";
    case GW_BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}

/* The per-stage request trace (docs/metrics.md, "Request stages"): where the time of each
 * answered infer request went, from its first byte to its answer written, as node-wide
 * histograms per stage, and a log line for each request slower than --trace-slow-ms. The
 * stamps live in the request (infer_request.trace_ns); this only adds them up. */
#ifndef NODE_REQ_TRACE_H
#define NODE_REQ_TRACE_H

#include <stdint.h>

#include "inferd/infer_request.h"
#include "inferd/scheduler.h"

/* The stages: the time between two consecutive trace points (INFER_TP_*), and the total. */
enum req_trace_stage {
    REQ_STAGE_DECODE = 0, /* first byte read -> decoded and queued */
    REQ_STAGE_QUEUE,      /* queued -> its batch dispatched */
    REQ_STAGE_WAKE,       /* dispatched -> a worker claimed it */
    REQ_STAGE_RUN,        /* claimed -> the worker completed it */
    REQ_STAGE_COMPLETE,   /* completed -> the node handled the completion */
    REQ_STAGE_DELIVER,    /* handled -> back on the connection's loop */
    REQ_STAGE_WRITE,      /* on the loop -> answer encoded and handed to the connection */
    REQ_STAGE_TOTAL,      /* first byte read -> answer handed to the connection */
    REQ_STAGE_N
};

typedef struct req_trace req_trace;

/* A trace for n_shards recording threads (each records into its own shard, no lock), logging
 * requests slower than slow_ns (0: no log). NULL if out of memory. Free with
 * req_trace_destroy. */
req_trace *req_trace_create(int n_shards, int64_t slow_ns);
void req_trace_destroy(req_trace *t);

/* Records one answered request from its stamps: only one that went through every point (a
 * worker computed it and its answer was written), else nothing. One thread per shard at a
 * time (the connection's loop); shard is taken modulo n_shards. model names it in the log. */
void req_trace_record(req_trace *t, int shard, const char *model, const int64_t stamps[INFER_TP_N]);

/* True when t logs slow requests (--trace-slow-ms): only then does req_trace_record read
 * its model name, so a caller need not copy one otherwise. */
int req_trace_logs_slow(const req_trace *t);

/* Sums every shard into out[REQ_STAGE_N], histograms of kind SCHED_HIST_STAGE (so
 * sched_hist_bounds and sched_hist_quantile read them). Any thread; a request being recorded
 * may show in some stages and not yet in others. */
void req_trace_snapshot(req_trace *t, sched_hist out[REQ_STAGE_N]);

/* "decode", "queue", ...; "unknown" out of range. Static strings. */
const char *req_trace_stage_name(int stage);

#endif

/* inferctl chaos: breaks a node, a worker or a link on purpose while closed-loop load runs
 * (POST /process, every answer checked), removes the fault after a set time, and reports the
 * errors and how long the service took to recover. The faults are src/faults (faults.h). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli.h"
#include "inferd/client.h"
#include "inferd/faults.h"

static const cli_opt_spec specs[] = {
    {"netns", "NS", "network namespace of loss, delay and partition (`ip netns` name)"},
    {"iface", "IF", "interface in it (default: every one but lo)"},
    {"fault-at", "S", "seconds of load before the fault (default 2)"},
    {"fault-for", "S", "seconds the fault lasts (default 5; kill: ignored)"},
    {"after", "S", "seconds of load after the fault ends (default 5)"},
    {"concurrency", "N", "requests in flight (default 8)"},
    {"timeout-ms", "N", "per request (default 5000)"},
    {"json", NULL, "print the report as one JSON object"},
    {NULL, NULL, NULL},
};

typedef struct {
    uint64_t sent, done; /* ns since the start */
    int ok;
} chaos_rec;

typedef struct chaos_req {
    struct chaos_run *run;
    size_t index;
    char body[96];
    char expect[96];
    size_t body_len;
} chaos_req;

typedef enum { CHAOS_KILL, CHAOS_STOP, CHAOS_SLOW, CHAOS_NET } chaos_kind;

typedef struct chaos_run {
    uv_loop_t *loop;
    inferd_client *client;
    uv_timer_t tick;
    uv_timer_t refill; /* sends the next requests outside the client's callbacks */
    uv_signal_t sigint;
    uv_work_t work;
    uint64_t t0, fault_at, fault_end, end; /* ns */
    unsigned concurrency, in_flight;
    chaos_rec *recs;
    size_t n, cap;
    size_t errors_by[12]; /* by -client error; [0] = HTTP error or wrong answer */
    chaos_kind kind;
    pid_t pid, toggler;
    faults_net_spec_t spec;
    faults_net_t *net;
    int applied, cleared, stopping, fault_failed, work_busy;
    uint64_t applied_ns, cleared_ns;
    char fault_err[512], desc[256];
} chaos_run;

#define CHAOS_MAX_RECS ((size_t)1 << 24)

static uint64_t chaos_now(const chaos_run *r)
{
    return uv_hrtime() - r->t0;
}

static void chaos_send(chaos_run *r);

static void chaos_on_refill(uv_timer_t *t)
{
    chaos_send(t->data);
}

static void chaos_on_answer(void *user, int err, const inferd_client_response *resp)
{
    chaos_req *q = user;
    chaos_run *r = q->run;
    chaos_rec *rec = &r->recs[q->index];
    rec->done = chaos_now(r);
    if (err == 0 && resp && resp->status == 200 && strstr(resp->body, q->expect)) rec->ok = 1;
    else if (err == 0 && !resp) /* seen from a connection closing: count it as broken */
        r->errors_by[-INFERD_CLIENT_E_CONN]++;
    else r->errors_by[err < 0 && -err < 12 ? -err : 0]++;
    free(q);
    r->in_flight--;
    /* not from here: a send inside the client's callback can land on the connection that is
     * failing its requests right now */
    uv_timer_start(&r->refill, chaos_on_refill, 0, 0);
}

/* Keeps `concurrency` requests outstanding until the end of the run. */
static void chaos_send(chaos_run *r)
{
    while (!r->stopping && r->in_flight < r->concurrency && chaos_now(r) < r->end) {
        if (r->n == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 4096;
            chaos_rec *p = cap <= CHAOS_MAX_RECS ? realloc(r->recs, cap * sizeof *p) : NULL;
            if (!p) {
                r->stopping = 1;
                return;
            }
            r->recs = p;
            r->cap = cap;
        }
        chaos_req *q = malloc(sizeof *q);
        if (!q) {
            r->stopping = 1;
            return;
        }
        q->run = r;
        q->index = r->n;
        /* unique message; the reverse model answers it reversed and upper-cased */
        char msg[32], rev[32];
        int len = snprintf(msg, sizeof msg, "chaos %zu", r->n);
        for (int i = 0; i < len; i++) {
            char c = msg[len - 1 - i];
            rev[i] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
        }
        rev[len] = '\0';
        q->body_len = (size_t)snprintf(q->body, sizeof q->body, "{\"message\": \"%s\"}", msg);
        snprintf(q->expect, sizeof q->expect, "WORKER_PROCESSED: %s\"", rev);
        r->recs[r->n] = (chaos_rec){chaos_now(r), 0, 0};
        if (inferd_client_send(r->client, "POST", "/process", "application/json", -1, q->body,
                               q->body_len, chaos_on_answer, q) != 0) {
            free(q);
            r->stopping = 1;
            return;
        }
        r->n++;
        r->in_flight++;
    }
}

/* Applying and removing a fault runs commands (nft, iptables): off the loop's thread, one
 * at a time, so the load does not stall. */
static void chaos_apply_work(uv_work_t *w)
{
    chaos_run *r = w->data;
    int rc = 0;
    if (r->kind == CHAOS_NET) {
        rc = faults_net_apply(&r->spec, &r->net, r->fault_err, sizeof r->fault_err);
        if (rc == 0) faults_net_describe(r->net, r->desc, sizeof r->desc);
    } else if (r->kind == CHAOS_KILL) {
        rc = faults_proc_kill(r->pid);
    } else if (r->kind == CHAOS_STOP) {
        rc = faults_proc_stop(r->pid);
    } else {
        rc = faults_proc_slow_start(r->pid, 0, &r->toggler);
    }
    if (rc != 0 && !r->fault_err[0])
        snprintf(r->fault_err, sizeof r->fault_err, "%s", strerror(errno));
    r->fault_failed = rc != 0;
}

static void chaos_clear_work(uv_work_t *w)
{
    chaos_run *r = w->data;
    if (r->net) faults_net_clear(r->net);
    r->net = NULL;
    if (r->kind == CHAOS_STOP) faults_proc_cont(r->pid);
    if (r->toggler) faults_proc_slow_end(r->toggler, r->pid);
    r->toggler = 0;
}

static void chaos_applied(uv_work_t *w, int status)
{
    chaos_run *r = w->data;
    (void)status;
    r->work_busy = 0;
    r->applied = 1;
    r->applied_ns = chaos_now(r);
    if (r->fault_failed) {
        fprintf(stderr, "inferctl chaos: the fault failed: %s\n", r->fault_err);
        r->stopping = 1;
    }
}

static void chaos_cleared(uv_work_t *w, int status)
{
    chaos_run *r = w->data;
    (void)status;
    r->work_busy = 0;
    r->cleared = 1;
    r->cleared_ns = chaos_now(r);
}

static void chaos_on_tick(uv_timer_t *t)
{
    chaos_run *r = t->data;
    uint64_t now = chaos_now(r);
    if (r->work_busy) return;
    if (!r->applied && !r->stopping && now >= r->fault_at) {
        r->work_busy = 1;
        uv_queue_work(r->loop, &r->work, chaos_apply_work, chaos_applied);
    } else if (r->applied && !r->cleared && (now >= r->fault_end || r->stopping)) {
        r->work_busy = 1;
        uv_queue_work(r->loop, &r->work, chaos_clear_work, chaos_cleared);
    } else if ((now >= r->end || r->stopping) && r->in_flight == 0 && (!r->applied || r->cleared)) {
        uv_timer_stop(&r->tick);
        uv_close((uv_handle_t *)&r->tick, NULL);
        uv_close((uv_handle_t *)&r->refill, NULL);
        uv_close((uv_handle_t *)&r->sigint, NULL);
        inferd_client_close(r->client, NULL, NULL);
    }
}

static void chaos_on_sigint(uv_signal_t *s, int sig)
{
    (void)sig;
    ((chaos_run *)s->data)->stopping = 1; /* the tick clears the fault, then ends */
}

/* Seconds from the fault until the service was well again: the send time of the first good
 * request after which no request failed. -1: still failing at the end. */
static double chaos_recovery_s(const chaos_run *r, size_t *errors_during, size_t *errors)
{
    size_t last_bad = SIZE_MAX;
    *errors = *errors_during = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->recs[i].ok) continue;
        (*errors)++;
        if (r->recs[i].sent >= r->applied_ns) (*errors_during)++;
        last_bad = i;
    }
    if (last_bad == SIZE_MAX || r->recs[last_bad].sent < r->applied_ns) return 0.0;
    if (last_bad + 1 >= r->n) return -1.0;
    return (double)(r->recs[last_bad + 1].sent - r->applied_ns) / 1e9;
}

static int chaos_seconds(const cli_args *a, const char *name, double dflt, uint64_t *ns)
{
    const char *v = cli_args_value(a, name);
    double s = dflt;
    char err[128];
    if (v && cli_parse_double(name, v, 0, 3600, &s, err, sizeof err) != 0) {
        fprintf(stderr, "inferctl chaos: %s\n", err);
        return -1;
    }
    *ns = (uint64_t)(s * 1e9);
    return 0;
}

static int chaos_parse_fault(const cli_args *a, chaos_run *r)
{
    const char *what = a->npos > 0 ? a->pos[0] : "";
    uint64_t v = 0, j = 0;
    char err[128];
    r->spec.netns = cli_args_value(a, "netns");
    r->spec.iface = cli_args_value(a, "iface");
    r->spec.dir = FAULTS_DIR_BOTH;
    int argc_ok = 0;
    if (!strcmp(what, "kill") || !strcmp(what, "stop") || !strcmp(what, "slow")) {
        r->kind = what[0] == 'k' ? CHAOS_KILL : what[1] == 't' ? CHAOS_STOP : CHAOS_SLOW;
        argc_ok =
            a->npos == 2 && cli_parse_u64("PID", a->pos[1], 1, 1u << 30, &v, err, sizeof err) == 0;
        r->pid = (pid_t)v;
        snprintf(r->desc, sizeof r->desc, "%s %llu", what, (unsigned long long)v);
    } else if (!strcmp(what, "loss")) {
        r->spec.kind = FAULTS_NET_LOSS;
        argc_ok = a->npos == 2 && cli_parse_u64("P", a->pos[1], 1, 100, &v, err, sizeof err) == 0;
        r->spec.loss_percent = (int)v;
    } else if (!strcmp(what, "delay")) {
        r->spec.kind = FAULTS_NET_DELAY;
        argc_ok = (a->npos == 2 || a->npos == 3) &&
                  cli_parse_u64("MS", a->pos[1], 0, 600000, &v, err, sizeof err) == 0 &&
                  (a->npos == 2 ||
                   cli_parse_u64("JITTER", a->pos[2], 0, 600000, &j, err, sizeof err) == 0);
        r->spec.delay_ms = (int)v;
        r->spec.jitter_ms = (int)j;
    } else if (!strcmp(what, "partition")) {
        r->spec.kind = FAULTS_NET_PARTITION;
        argc_ok = a->npos == 1;
    }
    if (!strcmp(what, "loss") || !strcmp(what, "delay") || !strcmp(what, "partition")) {
        r->kind = CHAOS_NET;
        if (!r->spec.netns) {
            fprintf(stderr, "inferctl chaos: %s needs --netns NS\n", what);
            return -1;
        }
    }
    if (!argc_ok) {
        fprintf(stderr, "inferctl chaos: bad fault (see inferctl chaos --help)\n");
        return -1;
    }
    return 0;
}

static void chaos_report(const chaos_run *r, int json)
{
    size_t errors, during;
    double rec = chaos_recovery_s(r, &during, &errors);
    double fault_s = (double)(r->cleared_ns - r->applied_ns) / 1e9;
    if (json) {
        printf("{\"fault\": \"%s\", \"fault_seconds\": %.3f, \"requests\": %zu, "
               "\"errors\": %zu, \"errors_during_fault\": %zu, \"connect_errors\": %zu, "
               "\"timeouts\": %zu, \"recovered\": %s, \"recovery_s\": %.3f}\n",
               r->desc, fault_s, r->n, errors, during, r->errors_by[-INFERD_CLIENT_E_CONNECT],
               r->errors_by[-INFERD_CLIENT_E_TIMEOUT], rec >= 0 ? "true" : "false",
               rec >= 0 ? rec : -1.0);
        return;
    }
    printf("fault:     %s for %.1f s\n", r->desc, fault_s);
    printf("requests:  %zu, errors %zu (%zu from the fault on): %zu HTTP/answer, %zu connect, "
           "%zu broken connection, %zu timeout\n",
           r->n, errors, during, r->errors_by[0], r->errors_by[-INFERD_CLIENT_E_CONNECT],
           r->errors_by[-INFERD_CLIENT_E_CONN], r->errors_by[-INFERD_CLIENT_E_TIMEOUT]);
    if (rec >= 0) printf("recovered: %.3f s after the fault began\n", rec);
    else printf("recovered: no (still failing at the end)\n");
}

int cmd_chaos(int argc, char **argv)
{
    cli_args a;
    switch (cli_args_parse_or_help(
        argc, argv,
        "FAULT [ARG...] [--netns NS] [--fault-at S] [--fault-for S] [--after S] [--json]\n"
        "  FAULT: kill PID | stop PID | slow PID | loss P | delay MS [JITTER] | partition",
        "While closed-loop load runs on the node or gateway at --url (POST /process, every "
        "answer checked), kill -9, stop or slow (stop/continue in 100 ms turns) a process (a "
        "node or a worker), or add packet loss, latency or a partition on a network "
        "namespace's link; remove the fault after --fault-for seconds; report the errors and "
        "the time until requests succeeded again. Network faults need root and inferd-netdelay "
        "beside inferctl (delay).",
        specs, &a)) {
    case 1: return CLI_EXIT_OK;
    case -1: return CLI_EXIT_USAGE;
    }
    chaos_run r = {0};
    uint64_t at, len, after, conc = 8, tmo = 5000;
    char err[512];
    if (chaos_parse_fault(&a, &r) != 0 || chaos_seconds(&a, "fault-at", 2, &at) != 0 ||
        chaos_seconds(&a, "fault-for", 5, &len) != 0 ||
        chaos_seconds(&a, "after", 5, &after) != 0 ||
        (cli_args_value(&a, "concurrency") &&
         cli_parse_u64("--concurrency", cli_args_value(&a, "concurrency"), 1, 1024, &conc, err,
                       sizeof err) != 0) ||
        (cli_args_value(&a, "timeout-ms") &&
         cli_parse_u64("--timeout-ms", cli_args_value(&a, "timeout-ms"), 1, 600000, &tmo, err,
                       sizeof err) != 0))
        return CLI_EXIT_USAGE;
    if (r.kind == CHAOS_KILL) len = 0;
    uv_loop_t loop;
    uv_loop_init(&loop);
    r.loop = &loop;
    r.concurrency = (unsigned)conc;
    inferd_client_options o = {
        .url = a.url, .connections = (unsigned)conc, .pipeline_depth = 1, .timeout_ms = tmo};
    if (inferd_client_new(&loop, &o, &r.client, err, sizeof err) != 0) {
        fprintf(stderr, "inferctl chaos: %s\n", err);
        uv_loop_close(&loop);
        return CLI_EXIT_FAIL;
    }
    r.t0 = uv_hrtime();
    r.fault_at = at;
    r.fault_end = at + len;
    r.end = at + len + after;
    r.work.data = &r;
    uv_timer_init(&loop, &r.tick);
    r.tick.data = &r;
    uv_timer_start(&r.tick, chaos_on_tick, 20, 20);
    uv_timer_init(&loop, &r.refill);
    r.refill.data = &r;
    uv_signal_init(&loop, &r.sigint);
    r.sigint.data = &r;
    uv_signal_start(&r.sigint, chaos_on_sigint, SIGINT);
    chaos_send(&r);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    int rc = CLI_EXIT_OK;
    if (r.fault_failed || !r.applied) {
        rc = CLI_EXIT_FAIL;
    } else {
        if (!r.cleared) r.cleared_ns = r.applied_ns;
        chaos_report(&r, cli_args_has(&a, "json"));
    }
    free(r.recs);
    return rc;
}

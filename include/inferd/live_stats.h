/* Live stats in shared memory: a read-only file /dev/shm/inferd-live-<http port>-<netns> in which the
 * node publishes, every 100 ms, each model's counters and each worker's state, so that tools
 * on the same host (inferctl top, inferctl diagnose, scripts) read them without a request.
 * Design and rationale: docs/live-stats.md.
 *
 * Layout (version 1). Every field is one little-endian 64-bit word; names are 64 bytes
 * (8 words, NUL-padded). Offsets are in bytes from the start of the file.
 *
 *   0            live_stats_header      512 bytes
 *   models_off   live_stats_model[model_slots]     384 bytes each
 *   workers_off  live_stats_worker[worker_slots]   128 bytes each
 *
 * Header words 0..15 are constant (written before the file gets its final name); words 16..
 * form a seqlocked block, and so does each record (its word 0 is its seq).
 *
 * Reading a record consistently (any language):
 *   1. s1 = seq (an acquire load); if s1 is odd the writer is inside: start again.
 *   2. copy the record's other words.
 *   3. s2 = seq again (after an acquire fence); if s1 != s2 start again, else the copy is
 *      one consistent snapshot. Give up after a bounded number of tries.
 * Python on x86-64: mm = mmap.mmap(fd, 0, prot=mmap.PROT_READ); struct.unpack_from("<48q",
 * mm, models_off + i * 384) gives record i, its word 0 the seq; loop as above.
 *
 * Trust: a reader checks magic, version, the record sizes and that every offset and count fits
 * the file's real size before using them (live_stats_open does); it never writes.
 * Writer: one thread of one process (the node's publisher). */
#ifndef INFERD_LIVE_STATS_H
#define INFERD_LIVE_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define LIVE_STATS_MAGIC      "INFDLIVE"
#define LIVE_STATS_VERSION    1
#define LIVE_STATS_DIR        "/dev/shm"
#define LIVE_STATS_NAME_LEN   64
#define LIVE_STATS_READ_TRIES 100000 /* a reader gives up (-EAGAIN) after this many tries */

/* The node's state in the header. */
enum live_stats_node_state {
    LIVE_NODE_STARTING = 0,
    LIVE_NODE_SERVING = 1,
    LIVE_NODE_DRAINING = 2, /* SIGTERM seen: stops intake, finishes in-flight requests */
};

typedef struct live_stats_header {
    char magic[8];               /* "INFDLIVE", no NUL */
    uint64_t version;            /* LIVE_STATS_VERSION */
    uint64_t header_size;        /* 512 */
    uint64_t model_record_size;  /* 384 */
    uint64_t model_slots;        /* records at models_off */
    uint64_t worker_record_size; /* 128 */
    uint64_t worker_slots;       /* records at workers_off */
    int64_t node_pid;
    int64_t http_port;
    int64_t start_unix_ns; /* CLOCK_REALTIME when the node started */
    int64_t period_ms;     /* publish period */
    uint64_t models_off;
    uint64_t workers_off;
    uint64_t total_size; /* the file's size */
    uint64_t reserved0[2];
    /* seqlocked, word 16 on */
    uint64_t seq;
    uint64_t publishes;        /* completed publishes since start */
    int64_t published_unix_ns; /* CLOCK_REALTIME of the last publish */
    int64_t published_mono_ns; /* CLOCK_MONOTONIC of the last publish (clock.h) */
    uint64_t models_used;      /* records 0..models_used-1 are models */
    uint64_t workers_used;     /* records 0..workers_used-1 are workers */
    int64_t node_state;        /* enum live_stats_node_state */
    uint64_t reserved1[64 - 23];
} live_stats_header;

/* One loaded model version. The counters are cumulative since the model was loaded (those of
 * sched_counters, include/inferd/scheduler.h); the rest is the state at the publish. */
typedef struct live_stats_model {
    uint64_t seq;
    char name[LIVE_STATS_NAME_LEN];
    int64_t version;
    int64_t ready; /* 1: at least one live worker */
    uint64_t requests_ok, ok_ns, requests_failed, failed_ns, requests_rejected;
    uint64_t requests_cancelled, batches, batch_rows, batches_retried;
    uint64_t queue_count, queue_ns, compute_ns;
    int64_t queue_len, queue_rows, batches_in_flight, rows_in_flight;
    int64_t workers_live, workers_starting, workers_stopping, workers_min, workers_max;
    uint64_t worker_spawns;
    int64_t restart_backoff_ms;      /* > 0: its workers are crashing and restart with backoff */
    int64_t rows_per_s_milli;        /* EWMA throughput x 1000 */
    uint64_t arena_used, arena_size; /* bytes */
    uint64_t reserved[48 - 37];
} live_stats_model;

enum live_stats_worker_state {
    LIVE_WORKER_STARTING = 1, /* forked, not attached yet */
    LIVE_WORKER_IDLE = 2,
    LIVE_WORKER_BUSY = 3,     /* holds batches */
    LIVE_WORKER_STOPPING = 4, /* asked to stop (scale down, unload, shutdown) */
};

typedef struct live_stats_worker {
    uint64_t seq;
    int64_t model; /* index of its model's record */
    int64_t index; /* worker slot in its model's region */
    int64_t pid;
    int64_t state;   /* enum live_stats_worker_state */
    int64_t in_hand; /* batches claimed and not yet completed */
    uint64_t batches_done, requests_done;
    int64_t heartbeat_age_ns; /* since its last heartbeat; -1 = none yet */
    int64_t age_ns;           /* since it was spawned */
    uint64_t reserved[16 - 10];
} live_stats_worker;

_Static_assert(sizeof(live_stats_header) == 512, "header is 64 words");
_Static_assert(offsetof(live_stats_header, seq) == 16 * 8, "seqlocked block at word 16");
_Static_assert(sizeof(live_stats_model) == 384, "model record is 48 words");
_Static_assert(sizeof(live_stats_worker) == 128, "worker record is 16 words");

const char *live_stats_worker_state_name(int64_t state); /* "starting", "idle", ... "?" */

/* The region's path for a node on HTTP port `port` in the caller's network namespace:
 * LIVE_STATS_DIR "/inferd-live-<port>-<netns>", <netns> the inode of /proc/self/ns/net in
 * decimal. /dev/shm is shared across network namespaces, where two nodes may own the same
 * port (the cluster bed): the namespace keeps their regions apart, and a reader in the node's
 * namespace (which is where its URL reaches it) finds it. Without /proc: "inferd-live-<port>".
 * 0, or -1 if buf is too small. */
int live_stats_path(int port, char *buf, size_t len);

/* Unlinks the regions (and half-made temporary files) in dir that belong to this user and
 * whose node process no longer exists (kill(pid, 0) says ESRCH): what nodes killed with
 * SIGKILL left behind. A starting node calls it on LIVE_STATS_DIR. Files of other users, of
 * live processes and anything that is not a valid region are left alone. Pids are those of
 * the caller's pid namespace. Returns how many it removed. */
int live_stats_sweep(const char *dir);

/* ---- the writer (the node) ---------------------------------------------------------------- */

typedef struct live_stats_writer {
    _Atomic uint64_t *words; /* the mapping, as words */
    size_t size;
    uint64_t model_slots, worker_slots;
    uint64_t dev, ino; /* the file's identity: close unlinks the path only while it is ours */
    int fd;            /* the file, open until close */
    char path[256];
} live_stats_writer;

/* Creates the region at path (through a temporary name and rename, mode 0644) for a node with
 * this pid and port, and maps it. 0, or a negative errno with err filled. Free with
 * live_stats_writer_close. */
int live_stats_writer_create(const char *path, int64_t pid, int port, int64_t period_ms,
                             uint32_t model_slots, uint32_t worker_slots, live_stats_writer *out,
                             char *err, size_t err_len);
/* Writes record i (ignored when out of range); rec->seq is ignored. One writer thread. */
void live_stats_write_model(live_stats_writer *w, uint32_t i, const live_stats_model *rec);
void live_stats_write_worker(live_stats_writer *w, uint32_t i, const live_stats_worker *rec);
/* Writes the header's seqlocked block (from h->publishes on; the rest is ignored). */
void live_stats_write_header(live_stats_writer *w, const live_stats_header *h);
/* Unmaps, and unlinks the file when unlink_file and the path still names our file (not one
 * another node has since put there). Safe on a zeroed struct. */
void live_stats_writer_close(live_stats_writer *w, int unlink_file);

/* ---- the reader (any process) -------------------------------------------------------------- */

typedef struct live_stats_reader {
    const _Atomic uint64_t *words;
    size_t size;
    live_stats_header constant; /* the header as validated at open (seqlocked part zero) */
} live_stats_reader;

/* Maps path read-only and validates the header against the file's size. 0, or a negative
 * errno (-ENOENT: no such region; -EPROTO: not a valid region) with err filled. Free with
 * live_stats_reader_close. */
int live_stats_reader_open(const char *path, live_stats_reader *out, char *err, size_t err_len);
/* Consistent copies (seqlock). 0, -EAGAIN (the writer kept it busy LIVE_STATS_READ_TRIES
 * times), or -EINVAL (i out of range). read_header fills the constant part from the copy taken
 * at open and clamps models_used / workers_used to the slot counts. */
int live_stats_read_header(const live_stats_reader *r, live_stats_header *out);
int live_stats_read_model(const live_stats_reader *r, uint32_t i, live_stats_model *out);
int live_stats_read_worker(const live_stats_reader *r, uint32_t i, live_stats_worker *out);
void live_stats_reader_close(live_stats_reader *r);

/* Lower level, for tests: seqlock write / read of n words at words[0..n) (words[0] is seq). */
void live_stats_seq_write(_Atomic uint64_t *words, const uint64_t *src, size_t n);
int live_stats_seq_read(const _Atomic uint64_t *words, uint64_t *dst, size_t n);

#endif

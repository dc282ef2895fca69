/* The node's side of the live stats region: creates the file (temporary name, then rename, so
 * a reader never maps a half-written header) and publishes records through the seqlock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inferd/live_stats.h"

#define HEADER_WORDS (sizeof(live_stats_header) / 8)
#define MODEL_WORDS  (sizeof(live_stats_model) / 8)
#define WORKER_WORDS (sizeof(live_stats_worker) / 8)
#define SEQ_WORD     (offsetof(live_stats_header, seq) / 8)

int live_stats_writer_create(const char *path, int64_t pid, int port, int64_t period_ms,
                             uint32_t model_slots, uint32_t worker_slots, live_stats_writer *out,
                             char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    char tmp[sizeof out->path + 32];
    if (strlen(path) >= sizeof out->path ||
        (size_t)snprintf(tmp, sizeof tmp, "%s.%lld", path, (long long)pid) >= sizeof tmp) {
        snprintf(err, err_len, "live stats path too long: %s", path);
        return -ENAMETOOLONG;
    }
    /* small counts, so no overflow: at most 2^32 records of 384 bytes in a size_t of 64 bits */
    uint64_t models_off = sizeof(live_stats_header);
    uint64_t workers_off = models_off + (uint64_t)model_slots * sizeof(live_stats_model);
    uint64_t size = workers_off + (uint64_t)worker_slots * sizeof(live_stats_worker);
    if (size > SIZE_MAX) {
        snprintf(err, err_len, "live stats region too large");
        return -EINVAL;
    }
    unlink(tmp); /* a leftover of a node with our pid, long gone */
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int e = errno;
    if (fd < 0) {
        snprintf(err, err_len, "live stats: cannot create %s: %s", tmp, strerror(e));
        return -e;
    }
    void *base = MAP_FAILED;
    if (fchmod(fd, 0644) != 0 || ftruncate(fd, (off_t)size) != 0 ||
        (base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
            MAP_FAILED) {
        e = errno;
        close(fd);
        unlink(tmp);
        snprintf(err, err_len, "live stats: cannot size or map %s: %s", tmp, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) == 0) {
        out->dev = (uint64_t)st.st_dev;
        out->ino = (uint64_t)st.st_ino;
    }
    /* kept open until live_stats_writer_close: a node creates its region while its event loops
     * accept, and a descriptor closed here would be reused by their accept4 at once */
    out->fd = fd;
    live_stats_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, LIVE_STATS_MAGIC, sizeof h.magic);
    h.version = LIVE_STATS_VERSION;
    h.header_size = sizeof(live_stats_header);
    h.model_record_size = sizeof(live_stats_model);
    h.model_slots = model_slots;
    h.worker_record_size = sizeof(live_stats_worker);
    h.worker_slots = worker_slots;
    h.node_pid = pid;
    h.http_port = port;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h.start_unix_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    h.period_ms = period_ms;
    h.models_off = models_off;
    h.workers_off = workers_off;
    h.total_size = size;
    uint64_t words[HEADER_WORDS];
    memcpy(words, &h, sizeof words);
    out->words = base;
    for (size_t i = 0; i < HEADER_WORDS; i++)
        atomic_store_explicit(&out->words[i], words[i], memory_order_relaxed);
    if (rename(tmp, path) != 0) {
        e = errno;
        munmap(base, (size_t)size);
        unlink(tmp);
        out->words = NULL;
        snprintf(err, err_len, "live stats: cannot rename %s to %s: %s", tmp, path, strerror(e));
        return -e;
    }
    out->size = (size_t)size;
    out->model_slots = model_slots;
    out->worker_slots = worker_slots;
    snprintf(out->path, sizeof out->path, "%s", path);
    return 0;
}

void live_stats_write_model(live_stats_writer *w, uint32_t i, const live_stats_model *rec)
{
    if (!w->words || i >= w->model_slots) return;
    uint64_t words[MODEL_WORDS];
    memcpy(words, rec, sizeof words);
    live_stats_seq_write(w->words + HEADER_WORDS + (size_t)i * MODEL_WORDS, words, MODEL_WORDS);
}

void live_stats_write_worker(live_stats_writer *w, uint32_t i, const live_stats_worker *rec)
{
    if (!w->words || i >= w->worker_slots) return;
    uint64_t words[WORKER_WORDS];
    memcpy(words, rec, sizeof words);
    live_stats_seq_write(w->words + HEADER_WORDS + (size_t)w->model_slots * MODEL_WORDS +
                             (size_t)i * WORKER_WORDS,
                         words, WORKER_WORDS);
}

void live_stats_write_header(live_stats_writer *w, const live_stats_header *h)
{
    if (!w->words) return;
    uint64_t words[HEADER_WORDS];
    memcpy(words, h, sizeof words);
    live_stats_seq_write(w->words + SEQ_WORD, words + SEQ_WORD, HEADER_WORDS - SEQ_WORD);
}

void live_stats_writer_close(live_stats_writer *w, int unlink_file)
{
    if (w->words) {
        munmap((void *)w->words, w->size);
        close(w->fd);
    }
    struct stat st;
    if (w->words && unlink_file && stat(w->path, &st) == 0 && (uint64_t)st.st_dev == w->dev &&
        (uint64_t)st.st_ino == w->ino)
        unlink(w->path);
    memset(w, 0, sizeof *w);
}

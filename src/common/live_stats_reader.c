/* Any process's side of the live stats region: maps it read-only, validates the header against
 * the file's real size, and copies records out through the seqlock. Trusts nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inferd/live_stats.h"

#define HEADER_WORDS (sizeof(live_stats_header) / 8)
#define MODEL_WORDS  (sizeof(live_stats_model) / 8)
#define WORKER_WORDS (sizeof(live_stats_worker) / 8)
#define SEQ_WORD     (offsetof(live_stats_header, seq) / 8)
#define MAX_SLOTS    (1u << 20)

/* 0 if the constant header describes a region that fits size bytes. */
static int header_ok(const live_stats_header *h, uint64_t size, char *err, size_t err_len)
{
    if (memcmp(h->magic, LIVE_STATS_MAGIC, sizeof h->magic) != 0) {
        snprintf(err, err_len, "not a live stats region (bad magic)");
        return -1;
    }
    if (h->version != LIVE_STATS_VERSION) {
        snprintf(err, err_len, "live stats layout version %llu, this reader knows %d",
                 (unsigned long long)h->version, LIVE_STATS_VERSION);
        return -1;
    }
    if (h->header_size != sizeof(live_stats_header) ||
        h->model_record_size != sizeof(live_stats_model) ||
        h->worker_record_size != sizeof(live_stats_worker) || h->model_slots > MAX_SLOTS ||
        h->worker_slots > MAX_SLOTS || h->models_off != sizeof(live_stats_header) ||
        h->workers_off != h->models_off + h->model_slots * sizeof(live_stats_model) ||
        h->total_size != h->workers_off + h->worker_slots * sizeof(live_stats_worker) ||
        h->total_size > size) {
        snprintf(err, err_len, "live stats region has an inconsistent header");
        return -1;
    }
    return 0;
}

int live_stats_reader_open(const char *path, live_stats_reader *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, err_len, "%s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size < sizeof(live_stats_header) || (uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        snprintf(err, err_len, "%s: not a live stats region (size)", path);
        return -EPROTO;
    }
    size_t size = (size_t)st.st_size;
    void *base = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (base == MAP_FAILED) {
        snprintf(err, err_len, "%s: mmap: %s", path, strerror(e));
        return -e;
    }
    const _Atomic uint64_t *words = base;
    uint64_t copy[HEADER_WORDS];
    for (size_t i = 0; i < SEQ_WORD; i++)
        copy[i] = atomic_load_explicit(&words[i], memory_order_relaxed);
    memset(copy + SEQ_WORD, 0, (HEADER_WORDS - SEQ_WORD) * 8);
    memcpy(&out->constant, copy, sizeof copy);
    if (header_ok(&out->constant, size, err, err_len) != 0) {
        munmap(base, size);
        memset(out, 0, sizeof *out);
        return -EPROTO;
    }
    out->words = words;
    out->size = size;
    return 0;
}

int live_stats_read_header(const live_stats_reader *r, live_stats_header *out)
{
    uint64_t words[HEADER_WORDS];
    memcpy(words, &r->constant, sizeof words);
    int rc = live_stats_seq_read(r->words + SEQ_WORD, words + SEQ_WORD, HEADER_WORDS - SEQ_WORD);
    memcpy(out, words, sizeof words);
    if (out->models_used > out->model_slots) out->models_used = out->model_slots;
    if (out->workers_used > out->worker_slots) out->workers_used = out->worker_slots;
    return rc;
}

int live_stats_read_model(const live_stats_reader *r, uint32_t i, live_stats_model *out)
{
    if (i >= r->constant.model_slots) return -EINVAL;
    uint64_t words[MODEL_WORDS];
    int rc =
        live_stats_seq_read(r->words + HEADER_WORDS + (size_t)i * MODEL_WORDS, words, MODEL_WORDS);
    memcpy(out, words, sizeof words);
    out->name[LIVE_STATS_NAME_LEN - 1] = '\0';
    return rc;
}

int live_stats_read_worker(const live_stats_reader *r, uint32_t i, live_stats_worker *out)
{
    if (i >= r->constant.worker_slots) return -EINVAL;
    uint64_t words[WORKER_WORDS];
    int rc = live_stats_seq_read(r->words + HEADER_WORDS +
                                     (size_t)r->constant.model_slots * MODEL_WORDS +
                                     (size_t)i * WORKER_WORDS,
                                 words, WORKER_WORDS);
    memcpy(out, words, sizeof words);
    return rc;
}

void live_stats_reader_close(live_stats_reader *r)
{
    if (r->words) munmap((void *)r->words, r->size);
    memset(r, 0, sizeof *r);
}

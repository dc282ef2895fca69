/* The completion doorbell (include/inferd/shm_doorbell.h): a read-only-for-workers flag page
 * and one Unix datagram socket pair per node event loop. */
#include "inferd/fence.h"
#include "inferd/shm_doorbell.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define FLAG_STRIDE 16 /* words: one flag per 64-byte cache line */
#define PAGE_BYTES  4096
_Static_assert(SHM_DOORBELL_MAX_LOOPS *FLAG_STRIDE * 4 <= PAGE_BYTES, "flags fit one page");

static int fail(int e, char *err, size_t err_len, const char *what)
{
    snprintf(err, err_len, "doorbell: %s: %s", what, strerror(e));
    return -e;
}

int shm_doorbell_create(int n_loops, shm_doorbell *db, char *err, size_t err_len)
{
    memset(db, 0, sizeof *db);
    db->flags_fd = -1;
    for (int i = 0; i < SHM_DOORBELL_MAX_LOOPS; i++) db->loop_fd[i] = db->worker_fd[i] = -1;
    if (n_loops < 1 || n_loops > SHM_DOORBELL_MAX_LOOPS) {
        snprintf(err, err_len, "doorbell: %d loops (1..%d)", n_loops, SHM_DOORBELL_MAX_LOOPS);
        return -EINVAL;
    }
    db->n_loops = n_loops;
    int rc = 0;
    db->flags_fd = memfd_create("inferd-doorbell", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (db->flags_fd < 0) rc = fail(errno, err, err_len, "memfd_create");
    if (rc == 0 && ftruncate(db->flags_fd, PAGE_BYTES) != 0)
        rc = fail(errno, err, err_len, "ftruncate");
    void *map = MAP_FAILED;
    if (rc == 0) {
        map = mmap(NULL, PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, db->flags_fd, 0);
        if (map == MAP_FAILED) rc = fail(errno, err, err_len, "mmap");
        else db->flags = map;
    }
    /* From here on nobody can map it writable or resize it; the node's mapping stays. */
    if (rc == 0 && fcntl(db->flags_fd, F_ADD_SEALS,
                         F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) != 0)
        rc = fail(errno, err, err_len, "F_ADD_SEALS");
    for (int i = 0; rc == 0 && i < n_loops; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
            rc = fail(errno, err, err_len, "socketpair");
            break;
        }
        db->loop_fd[i] = sv[0];
        db->worker_fd[i] = sv[1];
        /* Nothing is ever sent to the workers' end: shut that direction. */
        shutdown(sv[0], SHUT_WR);
    }
    if (rc != 0) shm_doorbell_close(db);
    return rc;
}

void shm_doorbell_close(shm_doorbell *db)
{
    if (db->flags) munmap((void *)db->flags, PAGE_BYTES);
    db->flags = NULL;
    if (db->flags_fd >= 0) close(db->flags_fd);
    db->flags_fd = -1;
    for (int i = 0; i < SHM_DOORBELL_MAX_LOOPS; i++) {
        if (db->loop_fd[i] >= 0) close(db->loop_fd[i]);
        if (db->worker_fd[i] >= 0) close(db->worker_fd[i]);
        db->loop_fd[i] = db->worker_fd[i] = -1;
    }
    db->n_loops = 0;
}

void shm_doorbell_arm(shm_doorbell *db, int loop)
{
    atomic_store_explicit(&db->flags[loop * FLAG_STRIDE], 1, memory_order_seq_cst);
}

void shm_doorbell_disarm(shm_doorbell *db, int loop)
{
    atomic_store_explicit(&db->flags[loop * FLAG_STRIDE], 0, memory_order_relaxed);
}

int shm_doorbell_drain(shm_doorbell *db, int loop)
{
    char buf[16];
    int n = 0;
    while (n < 64 && recv(db->loop_fd[loop], buf, sizeof buf, MSG_DONTWAIT) >= 0) n++;
    return n;
}

int shm_doorbell_home(const shm_doorbell *db, int m)
{
    return db->n_loops > 0 && m >= 0 ? m % db->n_loops : 0;
}

int shm_doorbell_attach(int flags_fd, int sock_fd, int loop, shm_doorbell_end *out, char *err,
                        size_t err_len)
{
    memset(out, 0, sizeof *out);
    out->sock_fd = -1;
    if (loop < 0 || loop >= SHM_DOORBELL_MAX_LOOPS) {
        snprintf(err, err_len, "doorbell: loop %d out of range", loop);
        return -EINVAL;
    }
    int seals = fcntl(flags_fd, F_GET_SEALS);
    struct stat st;
    if (seals < 0 || fstat(flags_fd, &st) != 0) return fail(errno, err, err_len, "flag page");
    if (!(seals & F_SEAL_SHRINK) || st.st_size < PAGE_BYTES) {
        snprintf(err, err_len, "doorbell: flag page not sealed against shrinking");
        return -EPROTO;
    }
    void *map = mmap(NULL, PAGE_BYTES, PROT_READ, MAP_SHARED, flags_fd, 0);
    if (map == MAP_FAILED) return fail(errno, err, err_len, "mmap flag page");
    out->map = map;
    out->flag = (const _Atomic uint32_t *)map + (size_t)loop * FLAG_STRIDE;
    out->sock_fd = sock_fd;
    return 0;
}

void shm_doorbell_detach(shm_doorbell_end *end)
{
    if (end->map) munmap(end->map, PAGE_BYTES);
    end->map = NULL;
    end->flag = NULL;
}

void shm_doorbell_ring(const shm_doorbell_end *end)
{
    if (!end->flag) return;
    /* Orders the completion just published before the look at the flag (store then load:
     * without the fence the store could wait in the store buffer past the load). The loop
     * arms with a seq_cst store before it looks at the rings: one side sees the other. */
    inferd_full_fence();
    if (!atomic_load_explicit(end->flag, memory_order_relaxed)) return;
    char one = 1;
    /* EAGAIN: the socket is full, so the loop has wake-ups waiting already. */
    (void)send(end->sock_fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

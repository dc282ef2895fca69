/* The completion doorbell: rings only while armed, the node's end never blocks and reads a
 * bounded number per call, workers cannot make the flag page writable, bad arguments. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "inferd/shm_doorbell.h"

static void rings_only_while_armed(void **state)
{
    (void)state;
    shm_doorbell db;
    char err[256];
    assert_int_equal(shm_doorbell_create(3, &db, err, sizeof err), 0);
    shm_doorbell_end end;
    assert_int_equal(shm_doorbell_attach(db.flags_fd, db.worker_fd[1], 1, &end, err, sizeof err),
                     0);
    shm_doorbell_ring(&end); /* not armed: nothing sent */
    assert_int_equal(shm_doorbell_drain(&db, 1), 0);
    shm_doorbell_arm(&db, 0); /* another loop's flag: still nothing */
    shm_doorbell_ring(&end);
    assert_int_equal(shm_doorbell_drain(&db, 1), 0);
    shm_doorbell_arm(&db, 1);
    shm_doorbell_ring(&end);
    shm_doorbell_ring(&end);
    assert_int_equal(shm_doorbell_drain(&db, 1), 2);
    assert_int_equal(shm_doorbell_drain(&db, 0), 0); /* each loop has its own socket */
    shm_doorbell_disarm(&db, 1);
    shm_doorbell_ring(&end);
    assert_int_equal(shm_doorbell_drain(&db, 1), 0);
    shm_doorbell_detach(&end);
    shm_doorbell_close(&db);
}

static void drain_is_bounded_and_never_blocks(void **state)
{
    (void)state;
    shm_doorbell db;
    char err[256];
    assert_int_equal(shm_doorbell_create(1, &db, err, sizeof err), 0);
    /* A flood from a worker: each drain reads at most 64, and an empty socket returns 0. */
    int sent = 0;
    char one = 1;
    for (int i = 0; i < 1000; i++)
        if (send(db.worker_fd[0], &one, 1, MSG_DONTWAIT) == 1) sent++;
    assert_true(sent > 64);
    int got = 0, n;
    while ((n = shm_doorbell_drain(&db, 0)) > 0) {
        assert_true(n <= 64);
        got += n;
    }
    assert_int_equal(got, sent);
    /* A worker clearing O_NONBLOCK on its end does not make the node's reads block. */
    int fl = fcntl(db.worker_fd[0], F_GETFL);
    assert_int_equal(fcntl(db.worker_fd[0], F_SETFL, fl & ~O_NONBLOCK), 0);
    assert_int_equal(shm_doorbell_drain(&db, 0), 0);
    shm_doorbell_close(&db);
}

static void workers_cannot_write_the_flags(void **state)
{
    (void)state;
    shm_doorbell db;
    char err[256];
    assert_int_equal(shm_doorbell_create(2, &db, err, sizeof err), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        shm_doorbell_end end;
        if (shm_doorbell_attach(db.flags_fd, db.worker_fd[0], 0, &end, err, sizeof err) != 0)
            _exit(10);
        if (mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, db.flags_fd, 0) != MAP_FAILED)
            _exit(11);
        if (mprotect(end.map, 4096, PROT_READ | PROT_WRITE) == 0) _exit(12);
        if (ftruncate(db.flags_fd, 0) == 0) _exit(13);
        if (fcntl(db.flags_fd, F_ADD_SEALS, F_SEAL_WRITE) == 0) _exit(14);
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* The node's own mapping stays writable. */
    shm_doorbell_arm(&db, 1);
    assert_int_equal(atomic_load(&db.flags[16]), 1);
    shm_doorbell_close(&db);
}

static void bad_arguments(void **state)
{
    (void)state;
    shm_doorbell db;
    char err[256];
    assert_int_equal(shm_doorbell_create(0, &db, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "loops"));
    assert_int_equal(shm_doorbell_create(SHM_DOORBELL_MAX_LOOPS + 1, &db, err, sizeof err),
                     -EINVAL);
    assert_int_equal(shm_doorbell_create(1, &db, err, sizeof err), 0);
    shm_doorbell_end end;
    assert_int_equal(shm_doorbell_attach(db.flags_fd, db.worker_fd[0], -1, &end, err, sizeof err),
                     -EINVAL);
    /* A page that is not sealed is refused. */
    int fd = memfd_create("not-sealed", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 4096), 0);
    assert_int_equal(shm_doorbell_attach(fd, db.worker_fd[0], 0, &end, err, sizeof err), -EPROTO);
    close(fd);
    shm_doorbell_close(&db);
    shm_doorbell_close(&db); /* twice is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rings_only_while_armed),
        cmocka_unit_test(drain_is_bounded_and_never_blocks),
        cmocka_unit_test(workers_cannot_write_the_flags),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

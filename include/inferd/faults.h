/* faults: break things on purpose, and put them back. Network faults inside one network
 * namespace (packet loss, partition, added latency) and process faults (kill -9, stop, slow),
 * shared by the cluster test bed (through inferd-fault) and by `inferctl chaos`.
 *
 * Network faults run `ip netns exec NS nft|iptables ...` (no netem on this kernel):
 *   loss P%    nft table inferd_fault_<id>: `numgen random mod 100 < P drop` on the interface
 *   partition  the same table with plain `drop`
 *   delay N ms iptables chain INFERD_DLY_<id> -> NFQUEUE (bypass) and an inferd-netdelay process
 *              bound to that queue in the namespace, holding each incoming packet N ms
 * Every applied fault is also on a process-wide list; faults_clear_all() (registered with
 * atexit on the first apply) removes what is left. Not thread-safe: one thread applies and
 * clears. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for setns). */
#ifndef INFERD_FAULTS_H
#define INFERD_FAULTS_H

#include <stddef.h>
#include <sys/types.h>

#define FAULTS_NETDELAY_MAX_HELD 4096
#define FAULTS_SLOW_PERIOD_MS    100

typedef enum { FAULTS_NET_LOSS, FAULTS_NET_PARTITION, FAULTS_NET_DELAY } faults_net_kind_t;

typedef enum { FAULTS_DIR_BOTH, FAULTS_DIR_IN, FAULTS_DIR_OUT } faults_dir_t;

typedef struct {
    const char *netns; /* required: `ip netns` name */
    const char *iface; /* interface in the namespace; NULL = every one but lo */
    faults_net_kind_t kind;
    faults_dir_t dir;          /* loss and partition; delay is always incoming */
    int loss_percent;          /* FAULTS_NET_LOSS: 1..100 */
    int delay_ms, jitter_ms;   /* FAULTS_NET_DELAY: 0..600000 */
    const char *netdelay_path; /* NULL = inferd-netdelay beside this program, else PATH */
} faults_net_spec_t;

typedef struct faults_net faults_net_t; /* opaque handle of one applied network fault */

/* Applies the fault; on success *out owns it until faults_net_clear. When this returns 0 the
 * fault is in effect (a delayer is bound to its queue). On failure nothing stays applied and
 * err (if errlen > 0) says why. Returns 0 or -1. */
int faults_net_apply(const faults_net_spec_t *spec, faults_net_t **out, char *err, size_t errlen);

/* Removes exactly what apply added (rule first, then the delayer, which releases every packet
 * it holds) and frees f. Returns 0, or -1 if a removal command failed (f is freed anyway). */
int faults_net_clear(faults_net_t *f);

/* Clears every fault still applied by this process. Safe to call more than once. */
void faults_clear_all(void);

/* Describes f ("loss 5% on ns1/eth0") into buf. */
void faults_net_describe(const faults_net_t *f, char *buf, size_t len);

/* Process faults. Each returns 0 or -1 (errno set by kill). */
int faults_proc_kill(pid_t pid);
int faults_proc_stop(pid_t pid);
int faults_proc_cont(pid_t pid);

/* "Slow": forks a child that stops and continues pid in turns of period_ms (0 = 100 ms) until
 * faults_proc_slow_end; it dies with its parent and leaves pid running. *toggler = its pid. */
int faults_proc_slow_start(pid_t pid, int period_ms, pid_t *toggler);
/* Ends the toggler (waits for it, bounded) and continues pid. */
int faults_proc_slow_end(pid_t toggler, pid_t pid);

/* Runs argv (argv[0] looked up in PATH) with stdin_text on its stdin (NULL = none), waiting at
 * most timeout_ms; its stderr goes into err. Returns its exit status, or -1. */
int faults_run(char *const argv[], const char *stdin_text, int timeout_ms, char *err,
               size_t errlen);

#endif

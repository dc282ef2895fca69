/* Shutdown signals for the node and the gateway: a self-pipe, so no signal mask is changed
 * (workers inherit masks) and the main thread waits for SIGINT/SIGTERM with poll. */
#ifndef INFERD_SIGNALS_H
#define INFERD_SIGNALS_H

#include <stdint.h>

/* Installs handlers for SIGINT and SIGTERM that write the signal's number to a close-on-exec
 * pipe (children never hold it), and ignores SIGPIPE. A second SIGINT/SIGTERM exits the
 * process at once with status 128 + signal. Call once, from main, before starting threads.
 * Returns 0, or -1 with errno set. */
int signals_install(void);

/* Waits up to timeout_ms (< 0: for ever) for a signal, in steps of at most 250 ms (some
 * runtimes, ThreadSanitizer's, deliver a signal only when a blocking call returns). Returns
 * the signal's number, or 0 when the time ran out. */
int signals_wait(int64_t timeout_ms);

#endif

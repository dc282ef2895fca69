/* inferctl diagnose's findings: each check prints one line with a severity and, when something
 * is wrong, what to do about it; the counts decide the exit status. */
#ifndef INFERD_CLI_DIAG_H
#define INFERD_CLI_DIAG_H

#include <stdint.h>

#include "cli_live.h"

enum diag_severity { DIAG_OK = 0, DIAG_INFO, DIAG_WARN, DIAG_CRIT };

typedef struct diag {
    int counts[4]; /* findings per severity */
} diag;

/* Prints "[SEV ] what" and, when todo is not NULL, "       -> todo". printf-style what. */
void diag_finding(diag *d, int severity, const char *todo, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Local checks of a node process on this host (pid from its live stats region): open files
 * against its limit, memory, and the host's memory. */
void diag_check_process(diag *d, int64_t pid);
/* This host's clocks, and (with a region) the node's last publish against them: a stuck
 * publisher or a wall clock that was stepped. */
void diag_check_clock(diag *d, const cli_live_snapshot *snap);

#endif

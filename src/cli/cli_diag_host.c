/* inferctl diagnose, the checks of the machine: a local node's file descriptors and memory
 * (from /proc), the host's free memory, and clock sanity. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include "cli_diag.h"
#include "inferd/clock.h"

static const char *const sev_names[] = {"OK  ", "INFO", "WARN", "CRIT"};

void diag_finding(diag *d, int severity, const char *todo, const char *fmt, ...)
{
    d->counts[severity]++;
    printf("[%s] ", sev_names[severity]);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    if (todo) printf("       -> %s\n", todo);
}

/* The number after key in a /proc file of "key value" lines; -1 when absent. */
static long long proc_value(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    long long v = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0 && sscanf(line + klen, "%lld", &v) == 1) break;
    fclose(f);
    return v;
}

void diag_check_process(diag *d, int64_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%lld/limits", (long long)pid);
    long long soft = proc_value(path, "Max open files");
    snprintf(path, sizeof path, "/proc/%lld/fd", (long long)pid);
    long long open_fds = 0;
    DIR *dir = opendir(path);
    if (dir) {
        for (struct dirent *e; (e = readdir(dir));)
            if (e->d_name[0] != '.') open_fds++;
        closedir(dir);
    }
    if (!dir || soft <= 0) {
        diag_finding(d, DIAG_INFO, "run diagnose as the node's user (or root) to check them",
                     "limits: cannot read the node's descriptors (pid %lld)", (long long)pid);
    } else if (open_fds * 10 > soft * 8) {
        diag_finding(d, DIAG_WARN,
                     "raise the node's open-file limit (LimitNOFILE= in its systemd unit, "
                     "ulimit -n) or lower --max-connections",
                     "limits: %lld of %lld open files in use", open_fds, soft);
    } else {
        diag_finding(d, DIAG_OK, NULL, "limits: %lld of %lld open files in use", open_fds, soft);
    }
    snprintf(path, sizeof path, "/proc/%lld/status", (long long)pid);
    long long rss_kb = proc_value(path, "VmRSS:");
    long long total = proc_value("/proc/meminfo", "MemTotal:");
    long long avail = proc_value("/proc/meminfo", "MemAvailable:");
    if (total > 0 && avail >= 0 && avail * 10 < total)
        diag_finding(d, DIAG_WARN,
                     "the host is short of memory: fewer workers (workers.max), a smaller "
                     "--arena-mb, or more RAM",
                     "memory: only %lld of %lld MiB available on this host (node RSS %lld MiB)",
                     avail / 1024, total / 1024, rss_kb / 1024);
    else if (total > 0)
        diag_finding(d, DIAG_OK, NULL, "memory: node RSS %lld MiB, %lld of %lld MiB available",
                     rss_kb / 1024, avail / 1024, total / 1024);
}

void diag_check_clock(diag *d, const cli_live_snapshot *snap)
{
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    if (real.tv_sec < 1704067200) /* 2024-01-01 */
        diag_finding(d, DIAG_WARN, "set the clock (NTP: chrony or systemd-timesyncd)",
                     "clock: this host's wall clock reads %lld, before 2024",
                     (long long)real.tv_sec);
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    int state = adjtimex(&tx);
    if (state == TIME_ERROR)
        diag_finding(d, DIAG_INFO,
                     "enable NTP (chrony, systemd-timesyncd) so logs of several hosts line up; "
                     "deadlines use the monotonic clock and are unaffected",
                     "clock: the kernel says the wall clock is not synchronised");
    else if (state >= 0)
        diag_finding(d, DIAG_OK, NULL, "clock: synchronised (offset %ld us)",
                     (long)(tx.offset / ((tx.status & STA_NANO) ? 1000 : 1)));
    if (!snap || snap->header.publishes == 0) return;
    const live_stats_header *h = &snap->header;
    int64_t mono_age = clock_now_ns() - h->published_mono_ns;
    int64_t real_age = ((int64_t)real.tv_sec * 1000000000 + real.tv_nsec) - h->published_unix_ns;
    int64_t skew = real_age - mono_age;
    if (skew < 0) skew = -skew;
    if (mono_age > 10 * h->period_ms * 1000000)
        diag_finding(d, DIAG_CRIT,
                     "the node's publisher thread is stuck or the node is stopped (SIGSTOP?): "
                     "check its state (ps -o stat -p PID) and its log",
                     "live stats: last published %lld ms ago (period %lld ms)",
                     (long long)(mono_age / 1000000), (long long)h->period_ms);
    else
        diag_finding(d, DIAG_OK, NULL, "live stats: published %lld ms ago, %llu publishes",
                     (long long)(mono_age / 1000000), (unsigned long long)h->publishes);
    if (skew > 1000000000LL)
        diag_finding(d, DIAG_WARN,
                     "the wall clock was stepped: timestamps in logs around now are off; "
                     "check NTP",
                     "clock: wall and monotonic clocks disagree by %.1f s since the last publish",
                     (double)skew / 1e9);
}

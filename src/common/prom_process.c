/* process_* metrics from /proc/self/stat, /proc/self/fd and getrlimit (prom_process.h). */
#include "inferd/prom_process.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Fields 14-15 (utime, stime, in ticks), 22 (starttime, ticks since boot), 23 (vsize, bytes)
 * and 24 (rss, pages) of /proc/self/stat; the command name in field 2 may hold spaces, so
 * parsing starts after its closing parenthesis. */
typedef struct proc_stat {
    unsigned long long utime, stime, starttime, vsize;
    long long rss;
} proc_stat;

static int read_proc_stat(proc_stat *out)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "re");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    /* after ") ": field 3 (state) onwards */
    int got = sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                     "%*d %llu %llu %lld",
                     &out->utime, &out->stime, &out->starttime, &out->vsize, &out->rss);
    return got == 5 ? 0 : -1;
}

static double boot_time_s(void)
{
    char line[256];
    double bt = -1;
    FILE *f = fopen("/proc/stat", "re");
    if (!f) return -1;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long v;
        if (sscanf(line, "btime %llu", &v) == 1) {
            bt = (double)v;
            break;
        }
    }
    fclose(f);
    return bt;
}

static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n > 0 ? n - 1 : n; /* not the directory's own fd */
}

static void gauge(prom_writer *w, const char *name, prom_type type, const char *help, double v)
{
    prom_family(w, name, type, help);
    prom_sample(w, NULL, 0, v);
}

void prom_process_metrics(prom_writer *w)
{
    proc_stat st;
    long ticks = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    if (read_proc_stat(&st) == 0 && ticks > 0 && page > 0) {
        gauge(w, "process_cpu_seconds_total", PROM_COUNTER,
              "Total user and system CPU time spent in seconds.",
              (double)(st.utime + st.stime) / (double)ticks);
        gauge(w, "process_resident_memory_bytes", PROM_GAUGE, "Resident memory size in bytes.",
              (double)st.rss * (double)page);
        gauge(w, "process_virtual_memory_bytes", PROM_GAUGE, "Virtual memory size in bytes.",
              (double)st.vsize);
        double bt = boot_time_s();
        if (bt >= 0)
            gauge(w, "process_start_time_seconds", PROM_GAUGE,
                  "Start time of the process since unix epoch in seconds.",
                  bt + (double)st.starttime / (double)ticks);
    }
    long fds = count_fds();
    if (fds >= 0)
        gauge(w, "process_open_fds", PROM_GAUGE, "Number of open file descriptors.", (double)fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        gauge(w, "process_max_fds", PROM_GAUGE, "Maximum number of open file descriptors.",
              (double)rl.rlim_cur);
}

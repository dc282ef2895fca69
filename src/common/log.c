/* One-line event logging to stderr in text or JSON (see include/inferd/log.h). */
#include "inferd/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inferd/clock.h"

static log_level current_level = LOG_INFO;
static log_format current_format = LOG_FORMAT_TEXT;
static char proc_name[32] = "inferd";

static const char *level_names[] = {"debug", "info", "warn", "error", "off"};

void log_init(log_level level, log_format format, const char *name)
{
    current_level = level;
    current_format = format;
    if (name) snprintf(proc_name, sizeof proc_name, "%s", name);
}

log_level log_get_level(void)
{
    return current_level;
}
log_format log_get_format(void)
{
    return current_format;
}

int log_level_parse(const char *s, log_level *out)
{
    for (int i = 0; i <= LOG_OFF; i++)
        if (s && strcmp(s, level_names[i]) == 0) {
            *out = (log_level)i;
            return 0;
        }
    return -1;
}

int log_format_parse(const char *s, log_format *out)
{
    if (s && strcmp(s, "text") == 0) *out = LOG_FORMAT_TEXT;
    else if (s && strcmp(s, "json") == 0) *out = LOG_FORMAT_JSON;
    else return -1;
    return 0;
}

/* Appends s to buf as the inside of a JSON string; returns the new length. */
static size_t append_json_escaped(char *buf, size_t len, size_t cap, const char *s)
{
    for (; *s && len + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c < 0x20) {
            len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", c);
        } else {
            buf[len++] = (char)c;
        }
    }
    return len;
}

static void write_line(log_level level, const char *msg);

static void write_formatted(log_level level, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    write_line(level, msg);
}

void log_write(log_level level, const char *fmt, ...)
{
    if (level < current_level || level >= LOG_OFF) return;
    va_list ap;
    va_start(ap, fmt);
    write_formatted(level, fmt, ap);
    va_end(ap);
}

int log_limit_allow(log_limit *lim, long long now_ns, unsigned long long *report)
{
    *report = 0;
    if (lim->window_start_ns == 0 || now_ns - lim->window_start_ns >= LOG_LIMIT_WINDOW_NS ||
        now_ns < lim->window_start_ns) {
        lim->window_start_ns = now_ns ? now_ns : 1;
        lim->lines = 0;
        *report = lim->suppressed;
        lim->suppressed = 0;
    }
    if (lim->lines >= LOG_LIMIT_LINES) {
        lim->suppressed++;
        return 0;
    }
    lim->lines++;
    return 1;
}

/* One lock for every site's counters: taken only by limited lines that pass the level filter,
 * which then cost a write(2) anyway. */
static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;

void log_write_limited(log_limit *lim, log_level level, const char *fmt, ...)
{
    if (level < current_level || level >= LOG_OFF) return;
    unsigned long long report;
    pthread_mutex_lock(&limit_lock);
    int allow = log_limit_allow(lim, clock_now_ns(), &report);
    pthread_mutex_unlock(&limit_lock);
    if (report) {
        char note[160];
        const char *site = lim->site ? lim->site : "?";
        const char *slash = strrchr(site, '/');
        snprintf(note, sizeof note, "suppressed %llu similar messages (%s)", report,
                 slash ? slash + 1 : site);
        write_line(level, note);
    }
    if (!allow) return;
    va_list ap;
    va_start(ap, fmt);
    write_formatted(level, fmt, ap);
    va_end(ap);
}

static void write_line(log_level level, const char *msg)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t w = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof when - w, ".%03ldZ", ts.tv_nsec / 1000000);

    char line[4096];
    size_t len;
    if (current_format == LOG_FORMAT_JSON) {
        len = (size_t)snprintf(
            line, sizeof line,
            "{\"ts\":\"%s\",\"level\":\"%s\",\"proc\":\"%s\",\"pid\":%d,\"msg\":\"", when,
            level_names[level], proc_name, (int)getpid());
        len = append_json_escaped(line, len, sizeof line - 3, msg);
        line[len++] = '"';
        line[len++] = '}';
    } else {
        len = (size_t)snprintf(line, sizeof line, "%s %s %s[%d]: %s", when, level_names[level],
                               proc_name, (int)getpid(), msg);
        if (len > sizeof line - 2) len = sizeof line - 2;
    }
    line[len++] = '\n';
    ssize_t rc = write(STDERR_FILENO, line, len);
    (void)rc;
}

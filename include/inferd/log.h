/* Logging: one line per event, to stderr, with a level filter and an optional JSON format.
 *
 *   log_init(LOG_INFO, LOG_FORMAT_TEXT, "inferd");
 *   log_info("worker spawned model=%s pid=%d", name, pid);
 *
 * Text lines look like `2026-11-23T10:00:00.123Z info inferd[1234]: message`; JSON lines are
 * `{"ts":"...","level":"info","proc":"inferd","pid":1234,"msg":"..."}`. Thread-safe; each
 * line is written with one write(2), so lines from several processes sharing stderr do not
 * interleave. */
#ifndef INFERD_LOG_H
#define INFERD_LOG_H

typedef enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level;
typedef enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON } log_format;

/* Sets the level filter, the format and the process name shown on each line. The name is
 * copied. May be called again (e.g. after parsing flags). */
void log_init(log_level level, log_format format, const char *proc_name);

/* Parses "debug", "info", "warn", "error", "off". Returns 0, or -1 if unknown. */
int log_level_parse(const char *s, log_level *out);
/* Parses "text" or "json". Returns 0, or -1 if unknown. */
int log_format_parse(const char *s, log_format *out);

log_level log_get_level(void);
log_format log_get_format(void);

void log_write(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- rate-limited lines, for every call site in a loop or on a per-request path ----
 *
 *   log_warn_limited("http: accept failed: %s", uv_strerror(rc));
 *
 * Each call site gets its own static log_limit: at most LOG_LIMIT_LINES lines per
 * LOG_LIMIT_WINDOW_NS window. Beyond that lines are counted, not written; the first line of the
 * next window is preceded by one "suppressed K similar messages (file:line)" line. A count
 * left when a site falls silent is reported the next time it logs. Thread-safe. */
#define LOG_LIMIT_LINES     10
#define LOG_LIMIT_WINDOW_NS 1000000000LL

typedef struct log_limit {
    const char *site;              /* "file.c:123", shown in the summary line */
    long long window_start_ns;     /* CLOCK_MONOTONIC; 0 = no window yet */
    unsigned lines;                /* written in the current window */
    unsigned long long suppressed; /* not written since the last summary */
} log_limit;

/* The policy, pure (no lock, no clock): 1 if a line at now_ns may be written, else 0 (and the
 * line is counted as suppressed). *report is set to the suppressed count to announce before
 * this line (then reset), or 0. */
int log_limit_allow(log_limit *lim, long long now_ns, unsigned long long *report);

void log_write_limited(log_limit *lim, log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_STR2(x) #x
#define LOG_STR(x)  LOG_STR2(x)
#define LOG_LIMITED(level, ...)                                                 \
    do {                                                                        \
        static log_limit log_site_ = {__FILE__ ":" LOG_STR(__LINE__), 0, 0, 0}; \
        log_write_limited(&log_site_, level, __VA_ARGS__);                      \
    } while (0)

#define log_debug_limited(...) LOG_LIMITED(LOG_DEBUG, __VA_ARGS__)
#define log_info_limited(...)  LOG_LIMITED(LOG_INFO, __VA_ARGS__)
#define log_warn_limited(...)  LOG_LIMITED(LOG_WARN, __VA_ARGS__)
#define log_error_limited(...) LOG_LIMITED(LOG_ERROR, __VA_ARGS__)

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif

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

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif

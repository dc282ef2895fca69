/* inferctl's shared pieces: the subcommand table entry, the option parser every subcommand
 * uses (--url and --help are always there), and a one-shot blocking HTTP fetch. */
#ifndef INFERD_CLI_H
#define INFERD_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_DEFAULT_URL "http://127.0.0.1:8000"
#define CLI_MAX_ARGS    64

/* Exit codes of every subcommand. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

/* One option a subcommand accepts besides --url and --help. arg == NULL: a flag; otherwise
 * it takes a value (--name VALUE or --name=VALUE) and arg names it in the help. A table of
 * these ends with an entry whose name is NULL. */
typedef struct cli_opt_spec {
    const char *name; /* without the leading "--" */
    const char *arg;
    const char *help;
} cli_opt_spec;

/* What cli_args_parse found. Strings point into argv (nothing to free). */
typedef struct cli_args {
    const char *url; /* --url, or CLI_DEFAULT_URL */
    int help;        /* --help or -h seen */
    int npos;
    const char *pos[CLI_MAX_ARGS]; /* positional arguments, argv[0] excluded */
    int nopt;
    struct {
        const char *name;  /* the spec's name */
        const char *value; /* NULL for a flag */
    } opt[CLI_MAX_ARGS];   /* in command-line order; options may repeat */
} cli_args;

/* Parses argv[1..argc-1] (argv[0] is the subcommand's name) against specs (may be NULL).
 * "--" ends the options. Returns 0, or -1 with a message in err: unknown option, missing
 * value, a value given to a flag, too many arguments. */
int cli_args_parse(int argc, char **argv, const cli_opt_spec *specs, cli_args *out, char *err,
                   size_t err_len);

/* The last value given for option name, or NULL when absent. */
const char *cli_args_value(const cli_args *a, const char *name);
/* 1 when the option (flag or valued) appears at least once. */
int cli_args_has(const cli_args *a, const char *name);

/* Parse, then print help (returns 1) or the error with a hint (returns -1), else 0.
 * A subcommand does: switch on it, exiting CLI_EXIT_OK on 1 and CLI_EXIT_USAGE on -1. */
int cli_args_parse_or_help(int argc, char **argv, const char *synopsis, const char *about,
                           const cli_opt_spec *specs, cli_args *out);

/* Numbers from the command line: the whole string must be a number within [min, max].
 * Return 0, or -1 with a message naming the option in err. */
int cli_parse_double(const char *opt, const char *s, double min, double max, double *out, char *err,
                     size_t err_len);
int cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out,
                  char *err, size_t err_len);

/* An answer of cli_request: body malloc'd (NUL-terminated), json_len as the client says. */
typedef struct cli_answer {
    int status;
    char *body;
    size_t body_len, json_len;
} cli_answer;

/* One blocking request on its own loop and connection, any body (json_len >= 0 sends
 * Inference-Header-Content-Length). Returns 0 with *out filled (free out->body), or -1 with a
 * message in err (unreachable node, timeout, bad URL). */
int cli_request(const char *url, const char *method, const char *path, const char *content_type,
                long long json_len, const void *body, size_t body_len, cli_answer *out, char *err,
                size_t err_len);

/* One blocking request on its own loop and connection (for models, stats, metadata).
 * On success returns 0 with *status, and *body (malloc'd, NUL-terminated, caller frees) of
 * *body_len bytes; else -1 with a message in err (unreachable node, timeout, bad URL). */
int cli_fetch(const char *url, const char *method, const char *path, const char *body, int *status,
              char **resp_body, size_t *resp_len, char *err, size_t err_len);

/* Subcommands: argv[0] is the subcommand's name; each returns an exit code. */
int cmd_infer(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_perf(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_diagnose(int argc, char **argv);
int cmd_chaos(int argc, char **argv);

#endif

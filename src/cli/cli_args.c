/* inferctl's option parser: --name VALUE / --name=VALUE against a subcommand's table, with
 * --url and --help common to all, and strict number parsing for option values. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_opt_spec *find_spec(const cli_opt_spec *specs, const char *name, size_t len)
{
    for (const cli_opt_spec *s = specs; s && s->name; s++)
        if (strlen(s->name) == len && memcmp(s->name, name, len) == 0)
            return s;
    return NULL;
}

int cli_args_parse(int argc, char **argv, const cli_opt_spec *specs, cli_args *out, char *err,
                   size_t err_len)
{
    memset(out, 0, sizeof *out);
    out->url = CLI_DEFAULT_URL;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (out->npos == CLI_MAX_ARGS) {
                snprintf(err, err_len, "too many arguments");
                return -1;
            }
            out->pos[out->npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            out->help = 1;
            continue;
        }
        if (a[1] != '-') {
            snprintf(err, err_len, "unknown option '%s'", a);
            return -1;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const char *value = eq ? eq + 1 : NULL;
        if (name_len == 3 && memcmp(name, "url", 3) == 0) {
            if (!value) {
                if (i + 1 >= argc) {
                    snprintf(err, err_len, "option --url needs a value (URL)");
                    return -1;
                }
                value = argv[++i];
            }
            out->url = value;
            continue;
        }
        const cli_opt_spec *s = find_spec(specs, name, name_len);
        if (!s) {
            snprintf(err, err_len, "unknown option '--%.*s'", (int)name_len, name);
            return -1;
        }
        if (!s->arg && value) {
            snprintf(err, err_len, "option --%s takes no value", s->name);
            return -1;
        }
        if (s->arg && !value) {
            if (i + 1 >= argc) {
                snprintf(err, err_len, "option --%s needs a value (%s)", s->name, s->arg);
                return -1;
            }
            value = argv[++i];
        }
        if (out->nopt == CLI_MAX_ARGS) {
            snprintf(err, err_len, "too many options");
            return -1;
        }
        out->opt[out->nopt].name = s->name;
        out->opt[out->nopt].value = value;
        out->nopt++;
    }
    return 0;
}

const char *cli_args_value(const cli_args *a, const char *name)
{
    for (int i = a->nopt - 1; i >= 0; i--)
        if (strcmp(a->opt[i].name, name) == 0)
            return a->opt[i].value;
    return NULL;
}

int cli_args_has(const cli_args *a, const char *name)
{
    for (int i = 0; i < a->nopt; i++)
        if (strcmp(a->opt[i].name, name) == 0)
            return 1;
    return 0;
}

static void print_help(const char *cmd, const char *synopsis, const char *about,
                       const cli_opt_spec *specs)
{
    printf("usage: inferctl %s %s\n\n%s\n\noptions:\n", cmd, synopsis, about);
    printf("  --%-24s %s\n", "url URL", "the node (default " CLI_DEFAULT_URL ")");
    for (const cli_opt_spec *s = specs; s && s->name; s++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", s->name, s->arg ? " " : "", s->arg ? s->arg : "");
        printf("  --%-24s %s\n", left, s->help);
    }
    printf("  --%-24s %s\n", "help", "this help");
}

int cli_args_parse_or_help(int argc, char **argv, const char *synopsis, const char *about,
                           const cli_opt_spec *specs, cli_args *out)
{
    char err[256];
    if (cli_args_parse(argc, argv, specs, out, err, sizeof err) != 0) {
        fprintf(stderr, "inferctl %s: %s (see inferctl %s --help)\n", argv[0], err, argv[0]);
        return -1;
    }
    if (out->help) {
        print_help(argv[0], synopsis, about, specs);
        return 1;
    }
    return 0;
}

int cli_parse_double(const char *opt, const char *s, double min, double max, double *out,
                     char *err, size_t err_len)
{
    char *end = NULL;
    errno = 0;
    double v = s && *s ? strtod(s, &end) : NAN;
    if (!s || !*s || errno || *end || !isfinite(v) || v < min || v > max) {
        snprintf(err, err_len, "--%s: '%s' is not a number in [%g, %g]", opt, s ? s : "", min,
                 max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out,
                  char *err, size_t err_len)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = 0;
    int ok = s && *s >= '0' && *s <= '9';
    if (ok)
        v = strtoull(s, &end, 10);
    if (!ok || errno || *end || v < min || v > max) {
        snprintf(err, err_len, "--%s: '%s' is not an integer in [%llu, %llu]", opt, s ? s : "",
                 (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

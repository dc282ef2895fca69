/* inferctl models: the repository index, one model a line. */
#include "cli_json.h"

static const cli_opt_spec specs[] = {
    {"json", NULL, "print the node's JSON answer as it is"},
    {NULL, NULL, NULL},
};

int cmd_models(int argc, char **argv)
{
    cli_args a;
    switch (cli_args_parse_or_help(argc, argv, "[--json]",
                                   "Lists every model of the node's repository: name, version, "
                                   "state and why it is not ready.",
                                   specs, &a)) {
    case 1: return CLI_EXIT_OK;
    case -1: return CLI_EXIT_USAGE;
    }
    if (a.npos > 0) {
        fprintf(stderr, "inferctl models: unexpected argument '%s'\n", a.pos[0]);
        return CLI_EXIT_USAGE;
    }
    char err[512];
    json_t *idx = cli_json_get(a.url, "POST", "/v2/repository/index", NULL, err, sizeof err);
    if (!idx) {
        fprintf(stderr, "inferctl models: %s\n", err);
        return CLI_EXIT_FAIL;
    }
    if (cli_args_has(&a, "json")) {
        json_dumpf(idx, stdout, JSON_COMPACT);
        putchar('\n');
    } else {
        printf("%-24s %-8s %-12s %s\n", "MODEL", "VERSION", "STATE", "REASON");
        size_t i;
        json_t *m;
        json_array_foreach(idx, i, m) {
            const char *v = json_string_value(json_object_get(m, "version"));
            printf("%-24s %-8s %-12s %s\n", cli_json_str(m, "name", "?"),
                   v ? v : "-", cli_json_str(m, "state", "?"),
                   cli_json_str(m, "reason", ""));
        }
    }
    json_decref(idx);
    return CLI_EXIT_OK;
}

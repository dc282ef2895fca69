/* inferctl: the operator's command-line tool. This file is only the table of subcommands and
 * the dispatch; each subcommand lives in its own file src/cli/cmd_<name>.c.
 *
 * To add a subcommand `foo`:
 *   1. write src/cli/cmd_foo.c with `int cmd_foo(int argc, char **argv)` (argv[0] is "foo"),
 *      parsing its options with cli_args_parse_or_help() so --url and --help come for free,
 *      and returning CLI_EXIT_OK / CLI_EXIT_FAIL / CLI_EXIT_USAGE;
 *   2. declare it in src/cli/cli.h next to the others;
 *   3. add one line {"foo", "one-line help", cmd_foo} to the table below.
 * src/cli/CMakeLists.txt picks up every .c file of src/cli; nothing else to change. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct cli_command {
    const char *name;
    const char *help; /* one line, shown by `inferctl --help` */
    int (*run)(int argc, char **argv);
} cli_command;

static const cli_command commands[] = {
    {"infer", "run one inference, inputs from .npy files or JSON, outputs as .npy", cmd_infer},
    {"models", "list the models of the node's repository and their state", cmd_models},
    {"stats", "print every model's statistics", cmd_stats},
    {"perf", "measure throughput and latency (closed loop or at a request rate)", cmd_perf},
    {"top", "a live view of every model and worker (shared memory on this host, else HTTP)",
     cmd_top},
    {"diagnose", "check a node end to end and say what to do about each finding", cmd_diagnose},
    {"chaos", "break a process or a link under load; report errors and recovery", cmd_chaos},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: inferctl COMMAND [--url URL] [options]   (inferctl COMMAND --help)\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nevery command talks to --url (default %s)\n", CLI_DEFAULT_URL);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a node that closes a connection is an error value, not death */
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "inferctl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}

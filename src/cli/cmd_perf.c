/* inferctl perf (being written). */
#include "cli.h"

int cmd_perf(int argc, char **argv)
{
    cli_args a;
    switch (cli_args_parse_or_help(argc, argv, "MODEL", "not written yet", NULL, &a)) {
    case 1: return CLI_EXIT_OK;
    case -1: return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_FAIL;
}

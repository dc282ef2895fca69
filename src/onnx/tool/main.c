/* inferd-onnx: command dispatch (the subcommands are info.c, run.c, bench.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static void usage(FILE *f)
{
    fprintf(
        f, "usage: inferd-onnx COMMAND [options]\n"
           "Commands:\n"
           "  info MODEL                         inputs, outputs, opset and operators of a model\n"
           "  run MODEL --input NAME=FILE.npy... run once and write each output as DIR/<name>.npy\n"
           "          [--output-dir DIR] [--threads T]\n"
           "  bench MODEL [--batch N] [--seconds S] [--threads T] [--dim NAME=V]...\n"
           "                                     throughput and latency on random inputs\n"
           "Run 'inferd-onnx COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "info")) return tool_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "run")) return tool_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return tool_bench(argc - 1, argv + 1);
    fprintf(stderr, "inferd-onnx: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}

/* The inferd-onnx subcommands (info.c, run.c, bench.c) and their shared helpers (tool_util.c). */
#ifndef ONNX_TOOL_H
#define ONNX_TOOL_H

#include "inferd/onnx.h"

int tool_info(int argc, char **argv);
int tool_run(int argc, char **argv);
int tool_bench(int argc, char **argv);

/* Loads a model, printing the error to stderr; NULL on failure. */
onnx_model *tool_load(const char *path);
/* Formats a value's type and shape, e.g. "FP32 [batch, 3, 224, 224]". */
void tool_format_info(const onnx_value_info *vi, char *buf, size_t len);
/* Parses a positive int option value; -1 if invalid. */
long tool_parse_long(const char *s, long min, long max);

/* bench --profile (profile.c): the per-op-type and top-node table of a profiled session after
 * runs runs in elapsed seconds. Returns 0, or 1 on ENOMEM. */
/* cpu: the profile counted thread CPU time (--profile-cpu), else wall time; top: how many of
 * the slowest nodes to list. */
int tool_print_profile(const onnx_session *s, const onnx_model *m, size_t runs, double elapsed,
                       int cpu, int top);

#endif

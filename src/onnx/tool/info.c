/* inferd-onnx info: what a model takes, gives, and is made of. */
#include <stdio.h>
#include <string.h>

#include "tool.h"

int tool_info(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf(
                "usage: inferd-onnx info MODEL\n"
                "Prints the model's inputs and outputs (type and shape; symbolic dims by name),\n"
                "opset, producer, and the number of nodes per operator type.\n");
            return 0;
        }
        if (argv[i][0] == '-' || path) {
            fprintf(stderr, "inferd-onnx info: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
        path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: inferd-onnx info MODEL\n");
        return 2;
    }
    onnx_model *m = tool_load(path);
    if (!m) return 1;
    char buf[512];
    printf("model: %s\n", path);
    printf("opset: %d\nir_version: %lld\nproducer: %s\n", onnx_model_opset(m),
           (long long)onnx_model_ir_version(m), onnx_model_producer(m));
    printf("inputs:\n");
    for (int i = 0; i < onnx_model_num_inputs(m); i++) {
        const onnx_value_info *vi = onnx_model_input(m, i);
        tool_format_info(vi, buf, sizeof buf);
        printf("  %s: %s\n", vi->name, buf);
    }
    printf("outputs:\n");
    for (int i = 0; i < onnx_model_num_outputs(m); i++) {
        const onnx_value_info *vi = onnx_model_output(m, i);
        tool_format_info(vi, buf, sizeof buf);
        printf("  %s: %s\n", vi->name, buf);
    }
    int total = 0;
    printf("operators:\n");
    for (int i = 0; i < onnx_model_num_op_types(m); i++) {
        int n;
        const char *t = onnx_model_op_type(m, i, &n);
        printf("  %-24s %d\n", t, n);
        total += n;
    }
    printf("nodes: %d in the file, %d after folding and fusion\n", total,
           onnx_model_num_exec_nodes(m));
    printf("weights: %zu bytes\n", onnx_model_weight_bytes(m));
    int64_t slice = onnx_model_batch_slice(m);
    if (slice > 0 && onnx_model_batch_why(m)[0])
        printf("batch slice: %lld (the first layers run this many samples at a time; the rest "
               "whole: %s)\n",
               (long long)slice, onnx_model_batch_why(m));
    else if (slice > 0)
        printf("batch slice: %lld (larger batches run this many samples at a time)\n",
               (long long)slice);
    else printf("batch slice: none (batches run whole: %s)\n", onnx_model_batch_why(m));
    int cats = 0, groups = onnx_model_concat_groups(m, &cats);
    printf("concat groups: %d (%d Concats written in place at batch 1)\n", groups, cats);
    onnx_model_free(m);
    return 0;
}

/* The control family: operators over subgraphs (If, Loop, Scan), sequences and optionals, and
 * Identity from opset 14 (it passes sequences and optionals through). These alone may take
 * values that are not tensors (exec.c checks), and they are never constant-folded. */
#include "../registry.h"
#include "control_ops.h"

static const onnx_op control_ops[] = {
    {"If", 1, NULL, ctl_run_if, NULL},
    {"Loop", 1, NULL, ctl_run_loop, NULL},
    {"Scan", 8, NULL, ctl_run_scan, NULL},
    {"Identity", 14, NULL, ctl_run_identity, NULL},
    {"SequenceEmpty", 11, NULL, seq_run_empty, NULL},
    {"SequenceConstruct", 11, NULL, seq_run_construct, NULL},
    {"SequenceAt", 11, NULL, seq_run_at, NULL},
    {"SequenceInsert", 11, NULL, seq_run_insert, NULL},
    {"SequenceErase", 11, NULL, seq_run_erase, NULL},
    {"SequenceLength", 11, NULL, seq_run_length, NULL},
    {"SplitToSequence", 11, NULL, seq_run_split_to, NULL},
    {"ConcatFromSequence", 11, NULL, seq_run_concat_from, NULL},
    {"SequenceMap", 17, NULL, seq_run_map, NULL},
    {"Optional", 15, NULL, opt_run_optional, NULL},
    {"OptionalHasElement", 15, NULL, opt_run_has_element, NULL},
    {"OptionalGetElement", 15, NULL, opt_run_get_element, NULL},
};

const onnx_op *onnx_ops_control(size_t *count)
{
    *count = sizeof control_ops / sizeof control_ops[0];
    return control_ops;
}

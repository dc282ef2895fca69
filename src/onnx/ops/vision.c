/* The vision operator family table: detection and sampling operators (NonMaxSuppression, GridSample, RoiAlign).
 * Implementations live in vision_*.c. */
#include "../registry.h"
#include "vision_ops.h"

static const onnx_op vision_ops[] = {
    {"NonMaxSuppression", 10, NULL, vision_run_nms, NULL},
    {"GridSample", 16, NULL, vision_run_grid_sample, NULL},
    {"RoiAlign", 10, NULL, vision_run_roi_align, NULL},
};

const onnx_op *onnx_ops_vision(size_t *count)
{
    *count = sizeof vision_ops / sizeof vision_ops[0];
    return vision_ops;
}

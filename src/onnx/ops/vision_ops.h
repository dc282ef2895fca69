/* Private to the vision operator family (src/onnx/ops/vision*.c): the run functions its table
 * in vision.c lists. */
#ifndef ONNX_OPS_VISION_OPS_H
#define ONNX_OPS_VISION_OPS_H

#include "../op.h"

int vision_run_nms(onnx_ctx *ctx);         /* vision_nms.c */
int vision_run_grid_sample(onnx_ctx *ctx); /* vision_gridsample.c */
int vision_run_roi_align(onnx_ctx *ctx);   /* vision_roialign.c */

#endif

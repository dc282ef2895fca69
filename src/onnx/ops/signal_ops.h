/* Private to the signal operator family (src/onnx/ops/signal*.c): the run functions its table
 * in signal.c lists. */
#ifndef ONNX_OPS_SIGNAL_OPS_H
#define ONNX_OPS_SIGNAL_OPS_H

#include "../op.h"

int signal_run_dft(onnx_ctx *ctx); /* signal_dft.c */
int signal_run_stft(onnx_ctx *ctx);

#endif

/* Private: the run/prepare/release functions of the nn family, listed in nn.c's table. Each
 * follows onnx_op (op.h): run reads its inputs from ctx and fails with onnx_ctx_fail. */
#ifndef ONNX_OPS_NN_OPS_H
#define ONNX_OPS_NN_OPS_H

#include "../op.h"

/* MatMul: a constant 2-D float32 B is packed at load into node->state (gemm.h) */
int nn_matmul_prepare(onnx_node *node, const onnx_tensor *const *consts, char *err, size_t err_len);
void nn_matmul_release(onnx_node *node);
int nn_matmul_run(onnx_ctx *ctx); /* matmul.c */
/* Gemm: a constant 2-D float32 B is packed at load into node->state (gemm.h) */
int nn_gemm_prepare(onnx_node *node, const onnx_tensor *const *consts, char *err, size_t err_len);
void nn_gemm_release(onnx_node *node);
int nn_gemm_run(onnx_ctx *ctx); /* gemm.c */
int nn_conv_run(onnx_ctx *ctx); /* conv.c */
int nn_conv_prepare(onnx_node *node, const onnx_tensor *const *consts, char *err, size_t err_len);
void nn_conv_release(onnx_node *node);
int nn_conv_transpose_run(onnx_ctx *ctx); /* conv_transpose.c */
int nn_maxpool_run(onnx_ctx *ctx);        /* pool.c */
int nn_avgpool_run(onnx_ctx *ctx);
int nn_lppool_run(onnx_ctx *ctx);
int nn_global_avgpool_run(onnx_ctx *ctx); /* pool_global.c */
int nn_squeeze_excite_run(onnx_ctx *ctx); /* squeeze_excite.c (internal, fuse_se.c) */
int nn_global_maxpool_run(onnx_ctx *ctx);
int nn_global_lppool_run(onnx_ctx *ctx);
int nn_batchnorm_run(onnx_ctx *ctx); /* norm_batch.c */
int nn_instancenorm_run(onnx_ctx *ctx);
int nn_layernorm_run(onnx_ctx *ctx); /* norm_layer.c */
int nn_mvn_run(onnx_ctx *ctx);
int nn_lrn_run(onnx_ctx *ctx);     /* norm_lrn.c */
int nn_softmax_run(onnx_ctx *ctx); /* softmax.c */
int nn_logsoftmax_run(onnx_ctx *ctx);
int nn_hardmax_run(onnx_ctx *ctx);
int nn_dropout_run(onnx_ctx *ctx);  /* nn_dropout.c */
int nn_nll_loss_run(onnx_ctx *ctx); /* nn_loss.c */
int nn_softmax_cross_entropy_run(onnx_ctx *ctx);
int nn_rnn_run(onnx_ctx *ctx); /* rnn.c */
int nn_rnn_prepare(onnx_node *node, const onnx_tensor *const *consts, char *err, size_t err_len);
void nn_rnn_release(onnx_node *node);
int nn_gru_run(onnx_ctx *ctx);
int nn_lstm_run(onnx_ctx *ctx);
int nn_det_run(onnx_ctx *ctx);          /* nn_det.c */
int nn_maxunpool_run(onnx_ctx *ctx);    /* pool_unpool.c */
int nn_max_roi_pool_run(onnx_ctx *ctx); /* pool_roi.c */
int nn_lp_norm_run(onnx_ctx *ctx);      /* norm_lp.c */

#endif

/* The nn operator family table: convolutions, pooling, matrix products, normalizations,
 * softmax, dropout, the losses and the recurrent layers. Implementations live in the files named in nn_ops.h. */
#include "../registry.h"
#include "nn_ops.h"

static const onnx_op nn_ops[] = {
    {"MatMul", 1, nn_matmul_prepare, nn_matmul_run, nn_matmul_release},
    {"Gemm", 1, nn_gemm_prepare, nn_gemm_run, nn_gemm_release},
    {"Conv", 1, nn_conv_prepare, nn_conv_run, nn_conv_release},
    {"ConvTranspose", 1, NULL, nn_conv_transpose_run, NULL},
    {"MaxPool", 1, NULL, nn_maxpool_run, NULL},
    {"AveragePool", 1, NULL, nn_avgpool_run, NULL},
    {"LpPool", 1, NULL, nn_lppool_run, NULL},
    {"GlobalAveragePool", 1, NULL, nn_global_avgpool_run, NULL},
    {"GlobalMaxPool", 1, NULL, nn_global_maxpool_run, NULL},
    {"GlobalLpPool", 1, NULL, nn_global_lppool_run, NULL},
    {"SqueezeExcite", ONNX_OPSET_INTERNAL, NULL, nn_squeeze_excite_run, NULL},
    {"BatchNormalization", 1, NULL, nn_batchnorm_run, NULL},
    {"InstanceNormalization", 1, NULL, nn_instancenorm_run, NULL},
    {"LayerNormalization", 17, NULL, nn_layernorm_run, NULL},
    {"MeanVarianceNormalization", 9, NULL, nn_mvn_run, NULL},
    {"LRN", 1, NULL, nn_lrn_run, NULL},
    /* Softmax family: the run function switches semantics at opset 13 (node->opset) */
    {"Softmax", 1, NULL, nn_softmax_run, NULL},
    {"LogSoftmax", 1, NULL, nn_logsoftmax_run, NULL},
    {"Hardmax", 1, NULL, nn_hardmax_run, NULL},
    {"Dropout", 1, NULL, nn_dropout_run, NULL},
    {"NegativeLogLikelihoodLoss", 12, NULL, nn_nll_loss_run, NULL},
    {"SoftmaxCrossEntropyLoss", 12, NULL, nn_softmax_cross_entropy_run, NULL},
    /* recurrent: versions before 7 had other attributes (output_sequence), not implemented */
    {"RNN", 7, nn_rnn_prepare, nn_rnn_run, nn_rnn_release},
    {"GRU", 7, nn_rnn_prepare, nn_gru_run, nn_rnn_release},
    {"LSTM", 7, nn_rnn_prepare, nn_lstm_run, nn_rnn_release},
    {"Det", 11, NULL, nn_det_run, NULL},
    {"MaxUnpool", 9, NULL, nn_maxunpool_run, NULL},
    {"MaxRoiPool", 1, NULL, nn_max_roi_pool_run, NULL},
    {"LpNormalization", 1, NULL, nn_lp_norm_run, NULL},
};

const onnx_op *onnx_ops_nn(size_t *count)
{
    *count = sizeof nn_ops / sizeof nn_ops[0];
    return nn_ops;
}

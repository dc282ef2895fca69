/* Private to the recurrent operators (rnn.c: inputs, attributes and outputs; rnn_cells.c: the
 * time loops of RNN, GRU and LSTM), float32. */
#ifndef ONNX_OPS_RNN_H
#define ONNX_OPS_RNN_H

#include <stdint.h>

#include "../gemm/gemm.h"
#include "../op.h"

enum { RNN_SIMPLE, RNN_GRU, RNN_LSTM };

/* The activation functions the recurrent operators name in `activations`. */
typedef enum rnn_act_kind {
    RNN_ACT_RELU,
    RNN_ACT_TANH,
    RNN_ACT_SIGMOID,
    RNN_ACT_AFFINE,
    RNN_ACT_LEAKY_RELU,
    RNN_ACT_THRESHOLDED_RELU,
    RNN_ACT_SCALED_TANH,
    RNN_ACT_HARD_SIGMOID,
    RNN_ACT_ELU,
    RNN_ACT_SOFTSIGN,
    RNN_ACT_SOFTPLUS
} rnn_act_kind;

typedef struct rnn_act {
    rnn_act_kind kind;
    float alpha, beta;
} rnn_act;

/* The node's constant weights packed at load (nn_rnn_prepare) for our GEMM, per direction d:
 * w[d] = W[d]^T (input x gates*hidden), r[d] = R[d]^T (hidden x gates*hidden; for GRU without
 * linear_before_reset only the z and r blocks, rh[d] the h block). Owned by the node. */
typedef struct rnn_packed {
    onnx_gemm_packed *w[2], *r[2], *rh[2];
} rnn_packed;

/* One node's problem in the internal layout (layout 0 of the spec): X is [seq][batch][input],
 * Y [seq][ndir][batch][hidden], states [ndir][batch][hidden]. */
typedef struct rnn_problem {
    int kind;  /* RNN_SIMPLE, RNN_GRU, RNN_LSTM */
    int gates; /* 1, 3 or 4 blocks of hidden rows in W and R */
    int64_t seq, batch, input, hidden;
    int ndir;                /* 1 or 2 */
    int reverse;             /* direction == reverse (with ndir 1) */
    float clip;              /* > 0: pre-activations are clamped to [-clip, clip] */
    int linear_before_reset; /* GRU */
    int input_forget;        /* LSTM: f = 1 - i */
    rnn_act act[2][3];       /* per direction: f, g, h as the operator uses them */
    const float *x, *w, *r;  /* w: [ndir][gates*hidden][input], r: [ndir][gates*hidden][hidden] */
    const float *b;          /* [ndir][2*gates*hidden] or NULL */
    const float *p;          /* LSTM peepholes [ndir][3*hidden] (i, o, f) or NULL */
    const float *h0, *c0;    /* [ndir][batch][hidden] or NULL */
    const int64_t *lens;     /* [batch], each in [0, seq] */
    const rnn_packed *pk;    /* packed W and R matching w and r, or NULL */
    float *y;                /* NULL if Y is not wanted; zeroed by the caller */
    float *yh, *yc;          /* final states, always written (yc for LSTM only) */
} rnn_problem;

/* Runs the time loops of problem p for every direction. Scratch comes from ctx. Returns 0, or
 * -1 with the error set (allocation). */
int rnn_compute(onnx_ctx *ctx, const rnn_problem *p);

#endif

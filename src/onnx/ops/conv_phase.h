/* Private: phase planes of a 1-D/2-D sliding window (conv_phase.c), shared by depthwise Conv and
 * the im2col of strided and padded Convs.
 *
 * Output (r, c) reads padded input (r*sh + i*dh, c*sw + j*dw). Split the padded input by row
 * mod sh and column mod sw into phase planes: then tap (i, j) is element
 * (r + (i*dh)/sh, c + (j*dw)/sw) of phase ((i*dh) mod sh, (j*dw) mod sw), so for every tap the
 * outputs of a row read one contiguous run of a plane, at a fixed offset: no bounds checks, no
 * strided loads, the padding is zeros already in the planes. Only phases some tap reads are
 * built. All planes have rows x ld floats; output row r of tap k starts at tap_off[k] + r*ld
 * of the phase set (the planes one after another, `plane` floats apart). */
#ifndef ONNX_OPS_CONV_PHASE_H
#define ONNX_OPS_CONV_PHASE_H

#include <stddef.h>
#include <stdint.h>

#include "activation.h"
#include "nn_common.h"

/* Taps per spatial dim handled with phases; larger kernels use the generic paths. */
#define NN_PHASE_MAX_K 16

typedef struct nn_phase_blk {
    int64_t a0, rows, b0, cols; /* the block of the plane that holds input */
    int64_t src;                /* offset of its first element in the input plane */
} nn_phase_blk;

typedef struct nn_phase_plan {
    int64_t oh, ow;      /* output rows and columns */
    int64_t rows, ld;    /* each phase plane: rows x ld floats */
    size_t plane, total; /* rows * ld; n_phases * plane (the phase set) */
    int n_phases;
    int64_t src_row, src_col; /* input strides of the gather: sh * in_w and sw */
    int64_t ntaps;
    nn_phase_blk blk[NN_PHASE_MAX_K * NN_PHASE_MAX_K];
    int64_t tap_off[NN_PHASE_MAX_K * NN_PHASE_MAX_K];
} nn_phase_plan;

/* Plans the phases of window geometry g (canonical 3-D with nsp <= 2). Returns 0, 1 when g is
 * outside what phases handle (3 spatial dims, a kernel dim over NN_PHASE_MAX_K), or -1 when
 * the sizes overflow. */
int nn_phase_plan_make(const nn_geom *g, nn_phase_plan *p);

/* Writes the input part of the phase set of one input plane x (in_h x in_w) into ph
 * (p->total floats), with an activation applied to each value (mode as nn_k_gather_block_act:
 * 0 none, 1 Relu, 2 Clip to [lo, hi]). The rest, the zeros, is the same for every plane:
 * clear a buffer once (memset of p->total floats) before its first gather. */
void nn_phase_gather(const nn_phase_plan *p, const float *x, float *ph, int mode, float lo,
                     float hi);

/* im2col from phase planes: rows (c, tap) of col (ld floats apart), columns the outputs of
 * output rows r0 .. r0 + nr; ph holds c_n channels' phase sets (p->total floats apart). */
void nn_phase_im2col(const float *ph, const nn_phase_plan *p, int64_t c_n, int64_t r0, int64_t nr,
                     float *col, int64_t ld);

/* What nn_phase_unfold does for c_n channels: with x, gathers channel ci's plane
 * (x + ci * x_plane) into ph + ci * ph_stride (nn_phase_gather, no activation); with col,
 * writes the im2col rows of output rows r0 .. r0 + nr of each channel's phase set (ph_stride
 * must then be p->total) into col, ld floats apart (nn_phase_im2col). */
typedef struct nn_phase_unfold_args {
    const float *x;
    int64_t x_plane;
    float *ph;
    size_t ph_stride;
    int64_t c_n, r0, nr;
    float *col;
    int64_t ld;
} nn_phase_unfold_args;

/* The gathers and im2col of a on the session's pool when the copies are large enough
 * (nn_parallel_rows): gathers alone split by rows of the phase planes, an im2col alone by its
 * output rows (the positions the Conv's GEMMs split by), both at once by channels (each task
 * gathers then unfolds its own). */
void nn_phase_unfold(onnx_ctx *ctx, const nn_phase_plan *p, const nn_phase_unfold_args *a);

/* ---- depthwise convolution over phase planes (conv_depthwise.c) ---- */

/* Gather modes (as nn_phase_gather) for a depthwise Conv's fused input activation, and for its
 * output activation when it can be applied while compacting rows (Relu/Clip, no residual; 0
 * otherwise). Returns -1 if the input activation is not Relu, Clip or none. */
int nn_dw_modes(const onnx_activation *act_in, const onnx_activation *act, int has_res,
                int *in_mode, int *out_mode);

/* A depthwise window computed straight from the input plane (conv_dw_direct.c): K x K with
 * K 3 or 5, stride s 1 or 2 (both dims), dilation 1, on a CPU with AVX-512; the input plane
 * in_h x in_w, pads pt on top and pl on the left (0 <= pad < K). */
typedef struct nn_dw_direct {
    int k, s;
    int64_t in_h, in_w, pt, pl;
} nn_dw_direct;

/* Whether geometry g is one nn_dw_direct_plane computes (then *d describes it). */
int nn_dw_direct_fits(const nn_geom *g, nn_dw_direct *d);

/* Output modes of nn_dw_direct_plane beyond nn_phase_gather's 0-2: SiLU and HardSwish in the
 * store (as the AVX-512 GEMM store rounds them). */
#define NN_DW_STORE_SILU       3
#define NN_DW_STORE_HARD_SWISH 4

/* The store mode nn_dw_direct_plane applies act in (NN_DW_STORE_*), or 0. */
int nn_dw_direct_store_mode(const onnx_activation *act);

/* y (oh x ow) = act(bias + the K x K taps w of act_in(x)), modes as nn_phase_gather's
 * (in_mode with [ilo, ihi], out_mode with [lo, hi]) or NN_DW_STORE_*; the taps summed in
 * order. */
void nn_dw_direct_plane(const nn_dw_direct *d, const float *x, float *y, int64_t oh, int64_t ow,
                        const float *w, float bias, int in_mode, float ilo, float ihi, int out_mode,
                        float lo, float hi);

/* A depthwise window computed 16 channels at a time (conv_dw_cblock.c): channel multiplier 1,
 * kernels of 25 to 49 taps (5x5 to 7x7), strides and dilations 1 or 2, an output plane of at
 * most 64 positions, on a CPU with AVX-512. The block's planes are gathered into one padded buffer of hp x wp
 * positions, 16 channels each (a vector per position, zeros around), every output is bias +
 * its taps (one multiply-add per tap for 16 channels, 8 outputs of a row at a time, in tap
 * order), and the results are scattered back to the planes; then the residual and the output
 * activation over the block's 16 planes, contiguous in Y, in one call each. The 7x7 planes
 * that the per-plane paths ran in short loops with their per-plane costs (gather, compaction,
 * activation calls) then cost what they compute plus the transposes. */
typedef struct nn_dw_cblock {
    int kh, kw, sh, sw, dh, dw;
    int64_t in_h, in_w, pt, pl, oh, ow;
    int64_t hp, wp; /* the padded input the outputs read */
    size_t floats;  /* scratch per task */
} nn_dw_cblock;

/* Whether geometry g with channel multiplier mult is one nn_dw_cblock_run computes (then *cb
 * describes it). */
int nn_dw_cblock_fits(const nn_geom *g, int64_t mult, nn_dw_cblock *cb);

struct nn_dw_io;
/* Input channels [c0, c1) of io (planes oh x ow in Y, io->y_plane == oh * ow), in blocks of
 * 16: y = act(conv(act_in(x)) + bias + res), in_mode as nn_phase_gather's; buf: cb->floats. */
void nn_dw_cblock_run(onnx_ctx *ctx, const nn_dw_cblock *cb, const struct nn_dw_io *io, int64_t c0,
                      int64_t c1, const float *w, const float *bias, int in_mode, float ilo,
                      float ihi, const onnx_activation *act, float *buf);

/* Where nn_dw_planes reads and writes: input channel ci's plane at x + ci * x_plane, output
 * channel mo's at y + mo * y_plane (the residual, if not NULL, likewise); prefetch parts
 * part0 + ci of parts (onnx_ctx_prefetch_next). With `direct` (not NULL) the planes are
 * computed by nn_dw_direct_plane instead of through phase planes (same plan p otherwise); with
 * `cblock` (multiplier 1, y_plane = oh * ow) by nn_dw_cblock_run, 16 channels at a time. */
typedef struct nn_dw_io {
    const float *x;
    int64_t x_plane;
    float *y;
    int64_t y_plane;
    const float *res;
    int64_t part0, parts;
    const nn_dw_direct *direct;
    const nn_dw_cblock *cblock;
} nn_dw_io;

/* Per-task scratch of nn_dw_planes: `tasks` copies `stride` floats apart, each the phase
 * planes (p->total floats) then one output over whole rows (p->plane floats) of the largest
 * plan it will be used with. */
typedef struct nn_dw_scratch {
    float *buf;
    size_t stride;
    int tasks;
} nn_dw_scratch;

/* Sizes and allocates s for plan p (the largest of the calls to come) and c input channels of
 * `mult` outputs each: one copy per task (onnx_tpool_tasks on the depthwise work), at least
 * min_floats each (nn_dw_cblock's). Returns 0, or -1 with the error set. */
int nn_dw_scratch_make(onnx_ctx *ctx, const nn_phase_plan *p, int64_t c, int64_t mult,
                       size_t min_floats, nn_dw_scratch *s);

/* The depthwise convolution of c input planes of one image (channel multiplier mult, weights
 * w with p->ntaps per output channel) planned by p: y = act(conv(act_in(x)) + bias + res).
 * The channels are split over s->tasks tasks on the session's pool, each with its own copy
 * of the scratch (zeroed here); every output is summed as on one thread, so the results do
 * not depend on the thread count. */
void nn_dw_planes(onnx_ctx *ctx, const nn_phase_plan *p, const nn_dw_scratch *s, const nn_dw_io *io,
                  int64_t c, int64_t mult, const float *w, const float *bias, int in_mode,
                  int out_mode, const onnx_activation *act_in, const onnx_activation *act);

#endif

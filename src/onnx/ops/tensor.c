/* The tensor operator family: shape manipulation, data movement, indexing, construction and
 * resampling. Implementations live in tensor_*.c and shape_*.c; this file is the table.
 * since_version is each operator's first version; the run functions read node->opset for
 * what changed later (attributes that became inputs, defaults). Tile-1 (tiles and axis inputs),
 * Upsample-1 (width/height_scale) and Resize before 10 do not exist here, so models using
 * them are refused as unsupported rather than mis-run. */
#include "../registry.h"
#include "tensor_ops.h"

static const onnx_op tensor_ops[] = {
    {"Reshape", 1, NULL, onnx_run_reshape, NULL},
    {"Flatten", 1, NULL, onnx_run_flatten, NULL},
    {"Squeeze", 1, NULL, onnx_run_squeeze, NULL},
    {"Unsqueeze", 1, NULL, onnx_run_unsqueeze, NULL},
    {"Identity", 1, NULL, onnx_run_identity, NULL},
    {"Shape", 1, NULL, onnx_run_shape, NULL},
    {"Size", 1, NULL, onnx_run_size, NULL},
    {"Transpose", 1, NULL, onnx_run_transpose, NULL},
    {"Concat", 1, NULL, onnx_run_concat, NULL},
    {"Split", 1, NULL, onnx_run_split, NULL},
    {"Slice", 1, NULL, onnx_run_slice, NULL},
    {"Gather", 1, NULL, onnx_run_gather, NULL},
    {"GatherElements", 11, NULL, onnx_run_gather_elements, NULL},
    {"GatherND", 11, NULL, onnx_run_gather_nd, NULL},
    {"Scatter", 9, NULL, onnx_run_scatter_elements, NULL},
    {"ScatterElements", 11, NULL, onnx_run_scatter_elements, NULL},
    {"ScatterND", 11, NULL, onnx_run_scatter_nd, NULL},
    {"Expand", 8, NULL, onnx_run_expand, NULL},
    {"Tile", 6, NULL, onnx_run_tile, NULL},
    {"Pad", 1, NULL, onnx_run_pad, NULL},
    {"Constant", 1, NULL, onnx_run_constant, NULL},
    {"ConstantOfShape", 9, NULL, onnx_run_constant_of_shape, NULL},
    {"Range", 11, NULL, onnx_run_range, NULL},
    {"EyeLike", 9, NULL, onnx_run_eye_like, NULL},
    {"OneHot", 9, NULL, onnx_run_one_hot, NULL},
    {"Resize", 10, NULL, onnx_run_resize, NULL},
    {"Upsample", 7, NULL, onnx_run_upsample, NULL},
    {"DepthToSpace", 1, NULL, onnx_run_depth_to_space, NULL},
    {"SpaceToDepth", 1, NULL, onnx_run_space_to_depth, NULL},
    {"NonZero", 9, NULL, onnx_run_non_zero, NULL},
    {"Compress", 9, NULL, onnx_run_compress, NULL},
    {"Trilu", 14, NULL, onnx_run_trilu, NULL},
    {"CumSum", 11, NULL, onnx_run_cumsum, NULL},
    {"TopK", 1, NULL, onnx_run_topk, NULL},
    {"Einsum", 12, NULL, onnx_run_einsum, NULL},
    {"ReverseSequence", 10, NULL, onnx_run_reverse_sequence, NULL},
    {"Unique", 11, NULL, onnx_run_unique, NULL},
    {"TfIdfVectorizer", 9, NULL, onnx_run_tfidf, NULL},
    {"StringNormalizer", 10, NULL, onnx_run_string_normalizer, NULL},
    {"RandomUniform", 1, NULL, onnx_run_random_uniform, NULL},
    {"RandomUniformLike", 1, NULL, onnx_run_random_uniform_like, NULL},
    {"RandomNormal", 1, NULL, onnx_run_random_normal, NULL},
    {"RandomNormalLike", 1, NULL, onnx_run_random_normal_like, NULL},
    {"Bernoulli", 15, NULL, onnx_run_bernoulli, NULL},
    {"Multinomial", 7, NULL, onnx_run_multinomial, NULL},
};

const onnx_op *onnx_ops_tensor(size_t *count)
{
    *count = sizeof tensor_ops / sizeof tensor_ops[0];
    return tensor_ops;
}
